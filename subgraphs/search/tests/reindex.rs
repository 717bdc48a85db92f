//! Reindex without downtime, through the search service on the embedded engines on disk (the
//! default deployment): the rule for writes that arrive during a reindex, what a crash leaves,
//! and searches under load while a full reindex and a vector compaction run.

use looma_embed::{EmbedConfig, EmbeddingService};
use looma_search::service::{RankedRequest, TextRequest};
use looma_search::{Engines, SearchConfig, SearchError, SearchService};
use looma_search_engine::{Collection, Document, DocumentFields, Metric};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const DIMENSION: usize = 16;

fn config(data_dir: &Path) -> SearchConfig {
    SearchConfig {
        data_dir: data_dir.to_path_buf(),
        ..SearchConfig::default()
    }
}

/// Text and vector searches need no model here (vectors are given), so none is installed.
fn service(data_dir: &Path) -> SearchService {
    let engines = Engines::open(&config(data_dir), DIMENSION, "test-model").expect("engines");
    let embedder = EmbeddingService::new(EmbedConfig {
        models_dir: data_dir.join("no-models"),
        ..EmbedConfig::default()
    });
    SearchService::new(engines, embedder, config(data_dir))
}

fn vector_of(n: usize) -> Vec<f32> {
    (0..DIMENSION)
        .map(|i| ((n * 31 + i * 7) % 17) as f32 + 1.0)
        .collect()
}

fn resume(id: &str, title: &str, n: usize) -> Document {
    Document {
        id: id.into(),
        collection: Collection::Resumes,
        title: title.into(),
        content: format!("engineer number {n} 工程师"),
        fields: DocumentFields::default(),
        metadata: serde_json::Value::Null,
        vector: Some(vector_of(n)),
    }
}

async fn title_of(search: &SearchService, id: &str) -> Option<String> {
    search
        .engines()
        .text
        .get(Collection::Resumes, &[id.to_owned()])
        .await
        .expect("get")
        .pop()
        .map(|doc| doc.title)
}

fn text_request(first: usize) -> TextRequest {
    TextRequest {
        collection: Collection::Resumes,
        query: "engineer".into(),
        filters: Default::default(),
        facets: Vec::new(),
        first,
        after: None,
        fuzzy: false,
        highlight: false,
        names: false,
    }
}

fn ranked(top_k: usize) -> RankedRequest {
    RankedRequest {
        collection: Collection::Resumes,
        top_k,
        filters: Default::default(),
        names: false,
    }
}

#[tokio::test]
async fn writes_during_a_reindex_reach_the_new_version_and_stale_reindex_writes_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let search = service(dir.path());
    search
        .index(vec![
            resume("a", "a v0", 1),
            resume("b", "b v0", 2),
            resume("c", "c v0", 3),
        ])
        .await
        .unwrap();

    let reindex = search.begin_reindex(Collection::Resumes).await.unwrap();
    // The owner's outbox keeps delivering: a changes, b is removed, e is new.
    search
        .index(vec![resume("a", "a v2", 1), resume("e", "e v1", 5)])
        .await
        .unwrap();
    search
        .remove(Collection::Resumes, vec!["b".into()])
        .await
        .unwrap();
    // The reindex sends what it read before those writes, and d, which only it knows.
    let accepted = search
        .index_into(
            &reindex.id,
            vec![
                resume("a", "a v1", 1),
                resume("b", "b v1", 2),
                resume("c", "c v1", 3),
                resume("d", "d v1", 4),
            ],
        )
        .await
        .unwrap();
    assert_eq!(accepted, 4);

    // Until the commit, searches read the live version, which got every ordinary write.
    assert_eq!(title_of(&search, "a").await.as_deref(), Some("a v2"));
    assert_eq!(title_of(&search, "b").await, None);
    assert_eq!(title_of(&search, "c").await.as_deref(), Some("c v0"));
    assert_eq!(title_of(&search, "d").await, None, "staged only");

    let stats = search.commit_reindex(&reindex.id).await.unwrap();
    assert_eq!((stats.documents, stats.vectors), (4, 4), "a, c, d, e");
    assert_eq!(
        title_of(&search, "a").await.as_deref(),
        Some("a v2"),
        "the newer ordinary write wins over the reindex's read"
    );
    assert_eq!(
        title_of(&search, "b").await,
        None,
        "a removal is not undone"
    );
    assert_eq!(title_of(&search, "c").await.as_deref(), Some("c v1"));
    assert_eq!(title_of(&search, "d").await.as_deref(), Some("d v1"));
    assert_eq!(title_of(&search, "e").await.as_deref(), Some("e v1"));
    let nearest = search
        .vector_search(ranked(10), vector_of(4), Metric::Cosine)
        .await
        .unwrap();
    assert_eq!(nearest.first().map(|h| h.id.as_str()), Some("d"));
    assert!(!nearest.iter().any(|h| h.id == "b"));

    // The reindex is over: its id is refused, with NOT_FOUND.
    let error = search
        .index_into(&reindex.id, vec![resume("f", "f", 6)])
        .await
        .unwrap_err();
    assert!(
        matches!(error, SearchError::ReindexNotFound(_)),
        "{error:?}"
    );
    use looma_core::CodedError;
    assert_eq!(error.code(), looma_core::ErrorCode::NotFound);
    assert!(matches!(
        search.commit_reindex(&reindex.id).await,
        Err(SearchError::ReindexNotFound(_))
    ));
    assert!(matches!(
        search.abort_reindex("not-an-id").await,
        Err(SearchError::ReindexNotFound(_))
    ));

    // A reindex takes its own collection's documents only.
    let jobs = search.begin_reindex(Collection::Jobs).await.unwrap();
    let error = search
        .index_into(&jobs.id, vec![resume("x", "x", 7)])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, SearchError::InvalidInput { field, .. } if field == "documents[0].collection"),
        "{error:?}"
    );
    // An aborted reindex leaves the live version as it was.
    search.abort_reindex(&jobs.id).await.unwrap();
    assert_eq!(
        search.engines().text.count(Collection::Jobs).await.unwrap(),
        0
    );
    assert_eq!(
        search
            .engines()
            .text
            .count(Collection::Resumes)
            .await
            .unwrap(),
        4
    );
}

#[tokio::test]
async fn a_crash_mid_reindex_leaves_the_live_version_serving_and_the_staged_one_removed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let search = service(dir.path());
        search
            .index(vec![resume("a", "a live", 1), resume("b", "b live", 2)])
            .await
            .unwrap();
        let reindex = search.begin_reindex(Collection::Resumes).await.unwrap();
        search
            .index_into(&reindex.id, vec![resume("a", "a staged", 1)])
            .await
            .unwrap();
        assert!(dir.path().join("text/resumes/v2").is_dir());
        assert!(dir.path().join("vectors/resumes/v2").is_dir());
        // The process ends without commit or abort.
    }
    let search = service(dir.path());
    assert_eq!(title_of(&search, "a").await.as_deref(), Some("a live"));
    assert_eq!(title_of(&search, "b").await.as_deref(), Some("b live"));
    assert_eq!(
        search
            .engines()
            .vector
            .count(Collection::Resumes)
            .await
            .unwrap(),
        2
    );
    for engine in ["text", "vectors"] {
        let root = dir.path().join(engine).join("resumes");
        assert!(
            !root.join("v2").exists(),
            "{engine}: the staged version is removed"
        );
        assert!(root.join("v1").is_dir(), "{engine}: the live version stays");
    }

    // A committed reindex survives a restart, and its old version is gone.
    let reindex = search.begin_reindex(Collection::Resumes).await.unwrap();
    search
        .index_into(&reindex.id, vec![resume("c", "c new", 3)])
        .await
        .unwrap();
    search.commit_reindex(&reindex.id).await.unwrap();
    drop(search);
    let search = service(dir.path());
    assert_eq!(title_of(&search, "c").await.as_deref(), Some("c new"));
    assert_eq!(title_of(&search, "a").await, None);
    assert_eq!(
        search
            .engines()
            .vector
            .count(Collection::Resumes)
            .await
            .unwrap(),
        1
    );
    for engine in ["text", "vectors"] {
        let root = dir.path().join(engine).join("resumes");
        assert!(
            !root.join("v1").exists(),
            "{engine}: the old version is removed"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("LIVE")).unwrap().trim(),
            reindex.text_version.max(reindex.vector_version).to_string()
        );
    }
}

/// Searches running continuously while a full reindex (with the owner's writes arriving
/// meanwhile) and a vector compaction run: every search answers, and none sees fewer hits
/// than the fully populated collection holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_search_answers_in_full_during_a_reindex_and_a_compaction() {
    const DOCUMENTS: usize = 400;
    const SEARCHERS: usize = 6;
    const TOP_K: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let search = service(dir.path());
    let all: Vec<Document> = (0..DOCUMENTS)
        .map(|n| resume(&format!("r{n}"), &format!("engineer {n} v0"), n))
        .collect();
    for batch in all.chunks(100) {
        search.index(batch.to_vec()).await.unwrap();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut searchers = Vec::new();
    for worker in 0..SEARCHERS {
        let search = search.clone();
        let stop = Arc::clone(&stop);
        let answered = Arc::clone(&answered);
        searchers.push(tokio::spawn(async move {
            let mut round = 0usize;
            while !stop.load(Ordering::Acquire) {
                round += 1;
                if (worker + round).is_multiple_of(2) {
                    let page = search
                        .text_search(text_request(10))
                        .await
                        .unwrap_or_else(|e| panic!("a text search failed: {e}"));
                    assert_eq!(
                        page.total, DOCUMENTS as u64,
                        "a text search saw a partial collection"
                    );
                    assert_eq!(page.hits.len(), 10);
                } else {
                    let hits = search
                        .vector_search(ranked(TOP_K), vector_of(worker + round), Metric::Cosine)
                        .await
                        .unwrap_or_else(|e| panic!("a vector search failed: {e}"));
                    assert_eq!(
                        hits.len(),
                        TOP_K,
                        "a vector search saw a partial collection"
                    );
                }
                answered.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }));
    }

    // The full reindex, in small batches so searches interleave with it; the owner's outbox
    // updates every tenth document meanwhile.
    let reindex = search.begin_reindex(Collection::Resumes).await.unwrap();
    let before_reindex = answered.load(Ordering::Relaxed);
    let stale: Vec<Document> = (0..DOCUMENTS)
        .map(|n| resume(&format!("r{n}"), &format!("engineer {n} reindexed"), n))
        .collect();
    for (at, batch) in stale.chunks(20).enumerate() {
        if at % 2 == 0 {
            let n = at * 10;
            search
                .index(vec![resume(
                    &format!("r{n}"),
                    &format!("engineer {n} updated"),
                    n,
                )])
                .await
                .unwrap();
        }
        search
            .index_into(&reindex.id, batch.to_vec())
            .await
            .unwrap();
        tokio::task::yield_now().await;
    }
    let stats = search.commit_reindex(&reindex.id).await.unwrap();
    assert_eq!(stats.documents, DOCUMENTS as u64);
    assert_eq!(stats.vectors, DOCUMENTS as u64);
    let during_reindex = answered.load(Ordering::Relaxed) - before_reindex;
    // The outbox's writes made during the reindex survived it; the rest is the reindex's.
    for (id, title) in [
        ("r0", "engineer 0 updated"),
        ("r20", "engineer 20 updated"),
        ("r1", "engineer 1 reindexed"),
    ] {
        assert_eq!(title_of(&search, id).await.as_deref(), Some(title));
    }

    // Updates leave tombstones in the graph; a compaction rebuilds it while searches go on.
    for batch in all.chunks(100) {
        search.index(batch.to_vec()).await.unwrap();
    }
    let before_compaction = answered.load(Ordering::Relaxed);
    let compacted = search
        .engines()
        .vector
        .compact(Collection::Resumes)
        .await
        .unwrap()
        .expect("the embedded vector index compacts");
    assert_eq!(compacted.points, DOCUMENTS as u64);
    assert!(
        compacted.removed_tombstones >= DOCUMENTS as u64,
        "{compacted:?}"
    );
    let during_compaction = answered.load(Ordering::Relaxed) - before_compaction;

    stop.store(true, Ordering::Release);
    for searcher in searchers {
        searcher.await.expect("a searcher failed");
    }
    assert!(
        during_reindex >= SEARCHERS,
        "searches ran during the reindex ({during_reindex})"
    );
    eprintln!(
        "searches answered: {during_reindex} during the reindex, {during_compaction} during the compaction"
    );
}
