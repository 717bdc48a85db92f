//! English analysis through the `TextIndex` trait: stemming, stop words and hyphenated words
//! behave the same in documents and queries.

use looma_search_engine::embedded::TantivyTextIndex;
use looma_search_engine::{
    Collection, Document, DocumentFields, EngineError, Filters, TextIndex, TextQuery,
};

fn doc(id: &str, title: &str, content: &str) -> Document {
    Document {
        id: id.to_string(),
        collection: Collection::Knowledge,
        title: title.to_string(),
        content: content.to_string(),
        fields: DocumentFields::default(),
        metadata: serde_json::Value::Null,
        vector: None,
    }
}

fn query(text: &str) -> TextQuery {
    TextQuery {
        collection: Collection::Knowledge,
        query: text.to_string(),
        filters: Filters::default(),
        facets: Vec::new(),
        limit: 10,
        offset: 0,
        fuzzy: false,
        highlight: false,
        only_ids: Vec::new(),
        names: false,
    }
}

async fn loaded() -> TantivyTextIndex {
    let index = TantivyTextIndex::in_memory().expect("index");
    index
        .upsert(&[
            doc(
                "runner",
                "Marathon training",
                "She was running every morning.",
            ),
            doc("realtime", "Streaming", "Builds real-time pipelines."),
            doc(
                "joined",
                "Dashboards",
                "Realtime dashboards for the ops team.",
            ),
            doc("spaced", "Clocks", "A real time clock."),
            doc("zh", "后端开发工程师", "负责后端服务开发，熟悉Java。"),
        ])
        .await
        .expect("upsert");
    index
}

async fn ids(index: &TantivyTextIndex, text: &str) -> Vec<String> {
    let mut ids: Vec<String> = index
        .search(&query(text))
        .await
        .expect("search")
        .hits
        .into_iter()
        .map(|hit| hit.id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn other_forms_of_a_word_match() {
    let index = loaded().await;
    assert_eq!(ids(&index, "runs").await, vec!["runner"]);
    assert_eq!(ids(&index, "trained").await, vec!["runner"]);
}

#[tokio::test]
async fn stop_words_alone_match_nothing() {
    let index = loaded().await;
    assert!(matches!(
        index.search(&query("the")).await,
        Err(EngineError::InvalidQuery(_))
    ));
    // Among other words they change nothing.
    assert_eq!(
        ids(&index, "the marathon").await,
        ids(&index, "marathon").await
    );
}

#[tokio::test]
async fn hyphenated_words_are_found_by_every_spelling() {
    let index = loaded().await;
    for spelling in ["real-time", "realtime"] {
        let found = ids(&index, spelling).await;
        assert!(
            found.contains(&"realtime".to_string()) && found.contains(&"joined".to_string()),
            "{spelling}: {found:?}"
        );
    }
    assert!(
        ids(&index, "\"real time\"")
            .await
            .contains(&"spaced".to_string())
    );
    assert!(
        ids(&index, "real time")
            .await
            .contains(&"realtime".to_string())
    );
}

async fn scores(index: &TantivyTextIndex, text: &str) -> std::collections::HashMap<String, f32> {
    index
        .search(&query(text))
        .await
        .expect("search")
        .hits
        .into_iter()
        .map(|hit| (hit.id, hit.score))
        .collect()
}

#[tokio::test]
async fn a_hyphenated_query_word_counts_once_by_its_better_spelling() {
    let index = loaded().await;
    let hyphenated = scores(&index, "real-time").await;
    let apart = scores(&index, "real time").await;
    let together = scores(&index, "realtime").await;
    // `Builds real-time pipelines.` holds both spellings; the word still counts once.
    for id in ["realtime", "joined", "spaced"] {
        let best = apart
            .get(id)
            .copied()
            .unwrap_or(0.0)
            .max(together.get(id).copied().unwrap_or(0.0));
        let score = hyphenated.get(id).copied().unwrap_or(0.0);
        assert!((score - best).abs() < 1e-5, "{id}: {score} against {best}");
    }
    assert!(
        hyphenated["realtime"] < apart["realtime"] + together["realtime"],
        "{hyphenated:?}"
    );
}

#[tokio::test]
async fn latin_abbreviations_are_not_indexed() {
    let index = loaded().await;
    index
        .upsert(&[doc(
            "abbreviated",
            "Notes",
            "Sorting, e.g. merge sort, i.e. divide and conquer, viz. recursion, cf. heaps, etc.",
        )])
        .await
        .expect("upsert");
    for abbreviation in ["e.g.", "i.e.", "viz.", "cf.", "etc."] {
        assert!(
            matches!(
                index.search(&query(abbreviation)).await,
                Err(EngineError::InvalidQuery(_))
            ),
            "{abbreviation}"
        );
    }
    assert_eq!(ids(&index, "recursion").await, vec!["abbreviated"]);
}

#[tokio::test]
async fn chinese_is_segmented_as_before() {
    let index = loaded().await;
    assert_eq!(ids(&index, "工程师").await, vec!["zh"]);
    assert_eq!(ids(&index, "工程").await, vec!["zh"]);
    assert_eq!(ids(&index, "后端 java").await, vec!["zh"]);
}
