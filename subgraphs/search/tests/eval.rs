//! Ranking quality floors on the judged set in `tests/fixtures/search/` (what `looma eval
//! search` prints). Needs the embedding model (`scripts/install-model`; CI installs it).

use looma_search::SearchConfig;
use looma_search::eval::{Mode, evaluate};
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn judged_queries_rank_relevant_documents_first() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let model_dir = std::env::var("LOOMA_EMBED__MODEL_DIR")
        .map(Into::into)
        .unwrap_or_else(|_| root.join(looma_embed::DEFAULT_MODEL_DIR));
    let embedder = looma_embed::EmbeddingService::new(looma_embed::EmbedConfig {
        model_dir,
        ..Default::default()
    });
    let work = tempfile::tempdir().expect("temp dir");
    let report = evaluate(
        &root.join("tests/fixtures/search"),
        embedder,
        SearchConfig::default(),
        work.path(),
    )
    .await
    .expect("the judged set evaluates");
    assert!(
        report.skipped.is_empty(),
        "model missing: {:?}",
        report.skipped
    );
    println!("{}", report.render(false));
    let mean = |mode| report.mean(mode).expect("scored");
    assert!(mean(Mode::Text) >= 0.64, "text {}", mean(Mode::Text));
    assert!(
        mean(Mode::Semantic) >= 0.52,
        "semantic {}",
        mean(Mode::Semantic)
    );
    assert!(mean(Mode::Hybrid) >= 0.66, "hybrid {}", mean(Mode::Hybrid));
    // Meaning helps where the words differ: on English paraphrases the embedding beats BM25.
    let english_paraphrase =
        |mode| report.mean_where(mode, |q| q.language == "en" && q.kind == "paraphrase");
    assert!(
        english_paraphrase(Mode::Semantic) > english_paraphrase(Mode::Text),
        "semantic {:?} vs text {:?} on English paraphrases",
        english_paraphrase(Mode::Semantic),
        english_paraphrase(Mode::Text)
    );
}
