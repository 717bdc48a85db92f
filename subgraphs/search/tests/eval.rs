//! Ranking quality floors on the judged set in `tests/fixtures/search/` (what `looma eval
//! search` prints). Needs the embedding model (`scripts/install-model`; CI installs it).

use looma_search::SearchConfig;
use looma_search::eval::{EvalOptions, Mode, evaluate};
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn judged_queries_rank_relevant_documents_first() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let models_dir = std::env::var("LOOMA_EMBED__MODELS_DIR")
        .map(Into::into)
        .unwrap_or_else(|_| root.join(looma_embed::DEFAULT_MODELS_DIR));
    let embedder = looma_embed::EmbeddingService::new(looma_embed::EmbedConfig {
        models_dir,
        ..Default::default()
    });
    let work = tempfile::tempdir().expect("temp dir");
    let report = evaluate(
        &root.join("tests/fixtures/search"),
        embedder,
        SearchConfig::default(),
        work.path(),
        &EvalOptions::default(),
    )
    .await
    .expect("the judged set evaluates");
    assert!(
        report.skipped.is_empty(),
        "model missing: {:?}",
        report.skipped
    );
    println!("{}", report.render(false));
    // Weights were chosen on the dev split: judge the test split.
    let test = |mode| report.split_mean(mode, "test").expect("scored");
    assert!(test(Mode::Text) >= 0.65, "text {}", test(Mode::Text));
    assert!(
        test(Mode::Semantic) >= 0.72,
        "semantic {}",
        test(Mode::Semantic)
    );
    assert!(
        test(Mode::Hybrid) >= test(Mode::Text),
        "hybrid {} below text {}",
        test(Mode::Hybrid),
        test(Mode::Text)
    );
    // The multilingual model reads Chinese: semantic search of Chinese queries works (it was
    // 0.25 on a public Chinese set with the English-only model).
    let chinese = report
        .mean_where(Mode::Semantic, |q| q.language == "zh")
        .expect("Chinese queries");
    assert!(chinese >= 0.70, "semantic on Chinese queries {chinese}");
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

/// A judged set larger than one indexing call and a query the service refuses: the eval
/// batches its own indexing, scores the refused query 0 with its reason, and carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_queries_score_zero_and_large_sets_are_indexed_in_batches() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fixtures = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        root.join("tests/fixtures/search/documents.json"),
        fixtures.path().join("documents.json"),
    )
    .expect("documents copied");
    let mut queries: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/fixtures/search/queries.json"))
            .expect("queries read"),
    )
    .expect("queries parse");
    let judged = queries.len();
    let mut refused = queries[0].clone();
    refused["id"] = "refused".into();
    refused["query"] = "!!! ，。".into();
    queries.push(refused);
    std::fs::write(
        fixtures.path().join("queries.json"),
        serde_json::to_string(&queries).expect("queries serialise"),
    )
    .expect("queries written");

    // No model directory: the text mode alone runs, which is all this test needs.
    let embedder = looma_embed::EmbeddingService::new(looma_embed::EmbedConfig {
        models_dir: fixtures.path().join("no-model"),
        ..Default::default()
    });
    let work = tempfile::tempdir().expect("temp dir");
    let config = SearchConfig {
        max_batch: 7,
        ..SearchConfig::default()
    };
    let report = evaluate(
        fixtures.path(),
        embedder,
        config,
        work.path(),
        &EvalOptions::default(),
    )
    .await
    .expect("the eval carries on past a refused query");
    let text = &report.scores[&Mode::Text];
    assert_eq!(text.len(), judged + 1, "every query is scored");
    assert_eq!(text[judged], 0.0);
    assert_eq!(report.refused.len(), 1, "{:?}", report.refused);
    assert_eq!(report.refused[0].0, judged);
    assert!(
        report.refused[0].2.contains("no searchable words"),
        "{:?}",
        report.refused
    );
    assert!(report.render(false).contains("refused query runs scored 0"));
    // Every batch was indexed: the judged queries score as they do with one call.
    let judged_mean = text[..judged].iter().sum::<f64>() / judged as f64;
    assert!(judged_mean >= 0.64, "text {judged_mean}");
}
