//! `analyzeText`'s accuracy on the public labelled sets' test splits (README, "Text
//! analytics"), with the heads shipped in `data/`. Needs the raw files
//! (`scripts/eval-data/analyze-sets`) and the embedding model; reported skipped without them.
//! The floors sit a little under the measured accuracies, and every head must beat its
//! baselines.

use std::path::PathBuf;

use looma_analytics::eval::{EvalOptions, Report, Split, evaluate};
use looma_embed::{EmbedConfig, EmbeddingService};
use looma_testkit::report_skipped;

fn raw_dir() -> PathBuf {
    std::env::var_os("LOOMA_EVAL_RAW")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/looma-ci/eval-data/raw"))
}

fn accuracy(report: &Report, task: &str, language: &str, method: &str) -> f64 {
    report
        .scores
        .iter()
        .find(|s| {
            s.task == task && s.language == language && s.split == Split::Test && s.method == method
        })
        .unwrap_or_else(|| {
            panic!(
                "no {task}/{language}/{method} score in\n{}",
                report.render()
            )
        })
        .accuracy()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_split_accuracy_beats_baselines() {
    let raw = raw_dir();
    if !raw.join("sentiment/ChnSentiCorp_htl_all.csv").is_file() {
        report_skipped(&format!(
            "the public sets are not under {} (scripts/eval-data/analyze-sets)",
            raw.display()
        ));
        return;
    }
    let mut config = EmbedConfig::default();
    if let Some(dir) = std::env::var_os("LOOMA_EMBED__MODELS_DIR") {
        config.models_dir = dir.into();
    }
    let embedder = EmbeddingService::new(config);
    if !embedder.is_available() {
        report_skipped("the embedding model is not installed (scripts/install-model)");
        return;
    }
    let options = EvalOptions {
        raw_dir: raw.clone(),
        title_pairs: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../taxonomy/tests/fixtures/csco_title_pairs.tsv"),
        train_into: None,
        cache_dir: raw.join("../analyze-vectors"),
        test_only: true,
    };
    let report = evaluate(&embedder, &options).await.expect("evaluates");
    println!("{}", report.render());
    let head = "e5 + linear head";
    let majority = "baseline: majority class";
    for (task, language, floor, baselines) in [
        ("sentiment", "zh", FLOOR_SENTIMENT_ZH, &[majority][..]),
        ("sentiment", "en", FLOOR_SENTIMENT_EN, &[majority][..]),
        (
            "job family",
            "zh",
            FLOOR_FAMILY_ZH,
            &[majority, "baseline: CSCO title matcher"][..],
        ),
    ] {
        let ours = accuracy(&report, task, language, head);
        assert!(ours >= floor, "{task} {language}: {ours:.3} < {floor}");
        for baseline in baselines {
            let theirs = accuracy(&report, task, language, baseline);
            assert!(
                ours > theirs,
                "{task} {language}: {ours:.3} ≤ {baseline} {theirs:.3}"
            );
        }
    }
    let language = accuracy(&report, "language", "zh+en", "scripts + function words");
    assert!(language >= 0.99, "language {language:.3}");
}

/// Measured test accuracies minus two points (README, "Text analytics").
const FLOOR_SENTIMENT_ZH: f64 = 0.78;
const FLOOR_SENTIMENT_EN: f64 = 0.75;
const FLOOR_FAMILY_ZH: f64 = 0.68;
