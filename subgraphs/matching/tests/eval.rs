//! Ranking quality on the judged jobs × resumes in `tests/fixtures/matching/` (what `looma
//! eval matching` prints): our explained score against a plain keyword-overlap baseline.
//! Needs the embedding model (`scripts/install-model`; CI installs it).

use looma_matching::domain::weights::Weights;
use looma_matching::eval::evaluate;
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_ranking_beats_keyword_overlap_both_ways() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let models_dir = std::env::var("LOOMA_EMBED__MODELS_DIR")
        .map(Into::into)
        .unwrap_or_else(|_| root.join(looma_embed::DEFAULT_MODELS_DIR));
    let embedder = looma_embed::EmbeddingService::new(looma_embed::EmbedConfig {
        models_dir,
        ..Default::default()
    });
    let report = evaluate(
        &root.join("tests/fixtures/matching"),
        &embedder,
        &Weights::defaults(),
    )
    .await
    .expect("the judged set evaluates");
    println!("{}", report.render());
    assert!(
        report.semantic_skipped.is_none(),
        "model missing: {:?}",
        report.semantic_skipped
    );
    for (name, d) in [
        ("candidates for a job", &report.candidates_for_jobs),
        ("jobs for a resume", &report.jobs_for_resumes),
    ] {
        assert!(d.queries >= 20, "{name}: {} judged subjects", d.queries);
        assert!(d.ours >= 0.90, "{name}: NDCG@10 {}", d.ours);
        assert!(
            d.ours >= d.baseline + 0.15,
            "{name}: ours {} vs baseline {}",
            d.ours,
            d.baseline
        );
    }
}
