//! The in-process path `looma eval chat` retrieves through: documents as the search client
//! sends them, indexed into their collection, and knowledge questions answered by hybrid
//! search with the real embedding model.

use looma_embed::{EmbedConfig, EmbeddingService, TextKind};
use looma_search::{Engines, SearchConfig, SearchError, SearchService};
use looma_search_client::{Collection, SearchDocument};
use std::path::Path;

fn embedder() -> Option<EmbeddingService> {
    let models_dir = std::env::var("LOOMA_EMBED__MODELS_DIR")
        .map(Into::into)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(looma_embed::DEFAULT_MODELS_DIR)
        });
    let embedder = EmbeddingService::new(EmbedConfig {
        models_dir,
        ..Default::default()
    });
    embedder.is_available().then_some(embedder)
}

#[tokio::test]
async fn client_documents_are_indexed_and_knowledge_is_retrieved() {
    let Some(embedder) = embedder() else {
        looma_testkit::report_skipped(
            "the embedding model is not installed (scripts/install-model)",
        );
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let engines = Engines::ephemeral(work.path(), embedder.dimension()).unwrap();
    let search = SearchService::new(engines, embedder.clone(), SearchConfig::default());
    let mut documents = Vec::new();
    for (id, collection, text) in [
        (
            "leave:0",
            Collection::Knowledge,
            "New employees receive fifteen days of paid annual leave.",
        ),
        (
            "probation:0",
            Collection::Knowledge,
            "The probation period lasts three months for full-time roles.",
        ),
        (
            "salary:0",
            Collection::Knowledge,
            "工资于每月十日通过银行转账发放。",
        ),
        (
            "resume-1",
            Collection::Resumes,
            "Annual leave planning specialist, paid leave policies.",
        ),
    ] {
        let mut doc = SearchDocument::new(id.into(), collection, id.into(), text.into());
        doc.vector = Some(embedder.embed_one(text, TextKind::Passage).await.unwrap());
        doc.vector_model = Some(embedder.model_id());
        documents.push(doc);
    }
    search.index_client_documents(&documents).await.unwrap();

    let hits = search
        .knowledge_hits("How many days of paid leave do new employees get?", 3)
        .await
        .unwrap();
    assert_eq!(
        hits.first().map(String::as_str),
        Some("leave:0"),
        "{hits:?}"
    );
    assert!(
        !hits.iter().any(|id| id == "resume-1"),
        "resumes stay in their own collection: {hits:?}"
    );
    let hits = search.knowledge_hits("工资什么时候发？", 3).await.unwrap();
    assert_eq!(
        hits.first().map(String::as_str),
        Some("salary:0"),
        "{hits:?}"
    );

    // A vector of another model is refused, as indexDocuments refuses it.
    let mut foreign = documents[0].clone();
    foreign.vector_model = Some("some-other-model".into());
    assert!(matches!(
        search.index_client_documents(&[foreign]).await,
        Err(SearchError::InvalidInput { .. })
    ));
}
