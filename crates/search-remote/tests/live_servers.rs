//! Round trips against real servers, run only when `LOOMA_TEST_ELASTICSEARCH_URL` (e.g.
//! `http://localhost:9200`) or `LOOMA_TEST_QDRANT_URL` (gRPC, e.g. `http://localhost:6334`) is
//! set; otherwise each test prints that it was skipped. Every run uses a unique prefix and
//! removes what it created.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use looma_search_engine::{
    Collection, Document, DocumentFields, FacetField, Filters, Metric, SuggestQuery,
    SuggestionKind, TextIndex, TextQuery, VectorIndex, VectorPoint, VectorQuery,
};
use looma_search_remote::{ElasticsearchTextIndex, QdrantVectorIndex};
use serde_json::json;

fn unique_prefix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("looma-it-{nanos}")
}

fn fields(skills: &[&str], city: &str, years: f64) -> DocumentFields {
    DocumentFields {
        skills: skills.iter().map(|s| s.to_string()).collect(),
        city: Some(city.into()),
        years: Some(years),
        status: Some("INDEXED".into()),
        ..DocumentFields::default()
    }
}

/// Straight to stderr, past libtest's output capture: `scripts/test` counts the line as a
/// skipped test (the same line as `tests/it/harness.rs::report_skipped`).
fn report_skipped(test: &str, reason: &str) {
    use std::io::Write;
    let line = format!("[looma-test] skipped {test}: {reason}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

#[tokio::test]
async fn elasticsearch_round_trip_on_a_live_server() {
    let Ok(url) = std::env::var("LOOMA_TEST_ELASTICSEARCH_URL") else {
        report_skipped(
            "elasticsearch_round_trip_on_a_live_server",
            "LOOMA_TEST_ELASTICSEARCH_URL is not set",
        );
        return;
    };
    let prefix = unique_prefix();
    let index = ElasticsearchTextIndex::connect(&url, &prefix).expect("connect");
    let doc = |id: &str, title: &str, content: &str, f| Document {
        id: id.into(),
        collection: Collection::Jobs,
        title: title.into(),
        content: content.into(),
        fields: f,
        metadata: json!({ "job_id": id }),
        vector: None,
    };
    index
        .upsert(&[
            doc(
                "j1",
                "高级后端工程师",
                "使用 Rust 开发交易系统",
                fields(&["Rust", "Kafka"], "上海", 5.0),
            ),
            doc(
                "j2",
                "Backend Engineer",
                "Go microservices",
                fields(&["Go"], "北京", 3.0),
            ),
            doc(
                "j3",
                "数据工程师",
                "Spark 数据仓库",
                fields(&["Spark"], "上海", 2.0),
            ),
        ])
        .await
        .expect("upsert");
    // Visible within the 1 s refresh interval.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let query = TextQuery {
        collection: Collection::Jobs,
        query: "工程师".into(),
        filters: Filters {
            cities: vec!["上海".into()],
            ..Filters::default()
        },
        facets: vec![FacetField::Skills],
        limit: 10,
        offset: 0,
        fuzzy: false,
        highlight: true,
        only_ids: Vec::new(),
        names: true,
    };
    let results = index.search(&query).await.expect("search");
    let mut ids: Vec<_> = results.hits.iter().map(|h| h.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["j1", "j3"]);
    assert_eq!(results.total, 2);
    assert!(
        results.hits[0]
            .highlights
            .iter()
            .any(|h| h.fragment.contains("<em>"))
    );
    assert_eq!(results.facets[0].values.len(), 3);

    let fuzzy = TextQuery {
        query: "microservies".into(),
        fuzzy: true,
        filters: Filters::default(),
        ..query.clone()
    };
    assert_eq!(index.search(&fuzzy).await.expect("fuzzy").hits[0].id, "j2");

    let suggestions = index
        .suggest(&SuggestQuery {
            collection: Collection::Jobs,
            prefix: "ka".into(),
            limit: 5,
            kinds: vec![SuggestionKind::Skill],
        })
        .await
        .expect("suggest");
    assert_eq!(suggestions[0].text, "Kafka");

    let got = index
        .get(Collection::Jobs, &["j3".into(), "nope".into(), "j1".into()])
        .await
        .expect("get");
    assert_eq!(
        got.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["j3", "j1"]
    );

    index
        .delete(Collection::Jobs, &["j1".into()])
        .await
        .expect("delete");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(index.count(Collection::Jobs).await.expect("count"), 2);
    index.clear(Collection::Jobs).await.expect("clear");
    assert_eq!(index.count(Collection::Jobs).await.expect("count"), 0);

    // Clean up with a plain HTTP call: the adapter has no "drop index" operation on purpose.
    let cleanup = reqwest::Client::new()
        .delete(format!(
            "{}/{}",
            url.trim_end_matches('/'),
            index.index_name(Collection::Jobs)
        ))
        .send()
        .await;
    assert!(cleanup.is_ok_and(|r| r.status().is_success()));
}

#[tokio::test]
async fn qdrant_round_trip_on_a_live_server() {
    let Ok(url) = std::env::var("LOOMA_TEST_QDRANT_URL") else {
        report_skipped(
            "qdrant_round_trip_on_a_live_server",
            "LOOMA_TEST_QDRANT_URL is not set",
        );
        return;
    };
    let prefix = unique_prefix();
    let index = QdrantVectorIndex::connect(&url, &prefix, 3).expect("connect");
    let point = |id: &str, vector: Vec<f32>, f| VectorPoint {
        id: id.into(),
        vector,
        fields: f,
    };
    index
        .upsert(
            Collection::Resumes,
            &[
                point("r1", vec![1.0, 0.0, 0.0], fields(&["Rust"], "上海", 5.0)),
                point("r2", vec![0.8, 0.6, 0.0], fields(&["Go"], "北京", 3.0)),
                point(
                    "r3",
                    vec![0.0, 0.0, 1.0],
                    fields(&["Rust", "Go"], "上海", 1.0),
                ),
            ],
        )
        .await
        .expect("upsert");
    let query = VectorQuery {
        collection: Collection::Resumes,
        vector: vec![1.0, 0.1, 0.0],
        top_k: 2,
        filters: Filters::default(),
        metric: Metric::Cosine,
    };
    let hits = index.search(&query).await.expect("search");
    assert_eq!(
        hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["r1", "r2"]
    );
    let filtered = VectorQuery {
        filters: Filters {
            skills_all: vec!["Rust".into()],
            min_years: Some(2.0),
            ..Filters::default()
        },
        ..query.clone()
    };
    let hits = index.search(&filtered).await.expect("filtered search");
    assert_eq!(
        hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["r1"]
    );
    let euclid = index
        .search(&VectorQuery {
            metric: Metric::Euclidean,
            ..query.clone()
        })
        .await
        .expect("euclid");
    assert!(euclid[0].distance.is_some_and(|d| (d - 0.1).abs() < 1e-4));

    index
        .delete(Collection::Resumes, &["r1".into()])
        .await
        .expect("delete");
    assert_eq!(index.count(Collection::Resumes).await.expect("count"), 2);
    index.clear(Collection::Resumes).await.expect("clear");
    assert_eq!(index.count(Collection::Resumes).await.expect("count"), 0);

    let client = qdrant_client::Qdrant::from_url(&url)
        .skip_compatibility_check()
        .build()
        .expect("client");
    client
        .delete_collection(index.collection_name(Collection::Resumes))
        .await
        .expect("drop the test collection");
}

/// A reindex on a real Qdrant: the new version fills beside the live one and the alias swap
/// happens while searches keep running; every search answers, first from the old points, at
/// the end from the new, and nothing of the old version is left behind.
#[tokio::test]
async fn qdrant_reindex_swaps_the_alias_while_searches_run() {
    let Ok(url) = std::env::var("LOOMA_TEST_QDRANT_URL") else {
        report_skipped(
            "qdrant_reindex_swaps_the_alias_while_searches_run",
            "LOOMA_TEST_QDRANT_URL is not set",
        );
        return;
    };
    let prefix = unique_prefix();
    let index = std::sync::Arc::new(QdrantVectorIndex::connect(&url, &prefix, 3).expect("connect"));
    let point = |id: &str, vector: Vec<f32>| VectorPoint {
        id: id.into(),
        vector,
        fields: fields(&["Rust"], "上海", 4.0),
    };
    // The first generation, written the ordinary way (a concrete collection, no alias yet).
    index
        .upsert(
            Collection::Jobs,
            &[
                point("old-1", vec![1.0, 0.0, 0.0]),
                point("old-2", vec![0.9, 0.1, 0.0]),
            ],
        )
        .await
        .expect("upsert");
    let query = VectorQuery {
        collection: Collection::Jobs,
        vector: vec![1.0, 0.05, 0.0],
        top_k: 2,
        filters: Filters::default(),
        metric: Metric::Cosine,
    };
    // Two reindexes: the first turns the concrete collection into an alias target, the second
    // is a pure alias swap, which must never leave a search without an answer.
    for (round, new_ids) in [["v1-1", "v1-2"], ["v2-1", "v2-2"]].into_iter().enumerate() {
        let version = index.begin_version(Collection::Jobs).await.expect("begin");
        index
            .upsert_version(
                Collection::Jobs,
                version,
                &[
                    point(new_ids[0], vec![1.0, 0.0, 0.0]),
                    point(new_ids[1], vec![0.9, 0.1, 0.0]),
                ],
            )
            .await
            .expect("upsert into the staged version");
        let before = index.search(&query).await.expect("search before the swap");
        assert!(
            before.iter().all(|h| !new_ids.contains(&h.id.as_str())),
            "a staged version is invisible: {before:?}"
        );
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let searcher = {
            let index = index.clone();
            let query = query.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let (mut answered, mut failed) = (0usize, Vec::new());
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match index.search(&query).await {
                        Ok(hits) if hits.len() == 2 => answered += 1,
                        other => failed.push(format!("{other:?}")),
                    }
                }
                (answered, failed)
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        index
            .commit_version(Collection::Jobs, version)
            .await
            .expect("commit");
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (answered, failed) = searcher.await.expect("searcher");
        assert!(answered > 0);
        // The first commit replaces a pre-version collection (documented gap); after that,
        // the swap is one atomic alias change.
        if round == 1 {
            assert!(
                failed.is_empty(),
                "searches failed during the swap: {failed:?}"
            );
        }
        let after = index.search(&query).await.expect("search after the swap");
        let mut ids: Vec<&str> = after.iter().map(|h| h.id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, new_ids);
    }

    let client = qdrant_client::Qdrant::from_url(&url)
        .skip_compatibility_check()
        .build()
        .expect("client");
    let left: Vec<String> = client
        .list_collections()
        .await
        .expect("list")
        .collections
        .into_iter()
        .map(|c| c.name)
        .filter(|name| name.starts_with(&prefix))
        .collect();
    assert_eq!(left.len(), 1, "only the live version is kept: {left:?}");
    // Deleting the collection deletes its alias too.
    for name in left {
        client
            .delete_collection(name)
            .await
            .expect("drop the test version");
    }
}
