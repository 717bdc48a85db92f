//! The search subgraph through the router: indexing with service credentials, text search in
//! Chinese and English (fuzzy, filters, facets, highlights, pages), vector / semantic / hybrid
//! search, suggestions, deletes, persistence across a restart, bad input, and a resume flowing
//! from upload to search hit with its details joined from the resume subgraph.

use crate::harness::{Auth, TestPlatform, data, error_code, error_reason};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

crate::on_each_backend_with!(&[looma::Component::Search];
    index_then_search_in_both_languages,
    filters_facets_and_pages,
    vector_semantic_and_hybrid,
    suggestions_complete_and_hide_names,
    deletes_and_restart_persistence,
    bad_input_is_refused,
    without_the_model_only_meaning_based_search_stops,
    feature_flags_turn_query_kinds_off,
    analyze_text_reads_language_keywords_sentiment_and_family,
);

mod with_resume {
    crate::on_each_backend_with!(&[looma::Component::Search, looma::Component::Resume];
        an_uploaded_resume_becomes_a_search_hit,
        reindex_rebuilds_from_the_resume_tables,
    );
    use super::*;
}

const HIT: &str = "id collection title snippet score metadata highlights { field fragment }
    textRank textScore vectorRank vectorScore distance";

fn documents() -> Vec<Value> {
    let doc = |id: &str,
               title: &str,
               content: &str,
               skills: &[&str],
               city: &str,
               degree: &str,
               years: f64| {
        json!({
            "id": id, "collection": "RESUMES", "title": title, "content": content,
            "skills": skills, "city": city, "degree": degree, "years": years,
            "status": "INDEXED", "name": format!("Name of {id}"),
            "metadata": {"source": "test", "id": id},
        })
    };
    vec![
        doc(
            "r-go",
            "Senior Backend Engineer",
            "Eight years building payment services in Go and Kubernetes; led the migration to microservices.",
            &["Go", "Kubernetes", "Microservices"],
            "上海",
            "MASTER",
            8.0,
        ),
        doc(
            "r-java-zh",
            "Java后端开发工程师",
            "五年Java后端开发经验，负责订单系统与支付系统，熟悉Spring Boot和MySQL，主导微服务拆分。",
            &["Java", "Spring Boot", "MySQL"],
            "北京",
            "BACHELOR",
            5.0,
        ),
        doc(
            "r-sre",
            "Site Reliability Engineer",
            "Runs the on-call rotation, keeps production servers healthy at night, automates Kubernetes clusters with Terraform.",
            &["Kubernetes", "Terraform", "Linux"],
            "深圳",
            "BACHELOR",
            6.0,
        ),
        doc(
            "r-ml-zh",
            "推荐算法工程师",
            "负责首页推荐系统的排序模型，熟悉深度学习与PyTorch，优化点击率预估。",
            &["PyTorch", "Deep Learning", "Python"],
            "杭州",
            "MASTER",
            4.0,
        ),
        doc(
            "r-fe",
            "Frontend Developer",
            "Builds React and TypeScript single-page applications and a shared component library.",
            &["React", "TypeScript", "JavaScript"],
            "上海",
            "BACHELOR",
            3.0,
        ),
        doc(
            "r-hr",
            "Recruiter",
            "Hires engineers, runs interviews and negotiates offers with candidates.",
            &[],
            "北京",
            "BACHELOR",
            2.0,
        ),
    ]
}

async fn indexer(p: &TestPlatform) -> Auth {
    p.api_key("search-test-indexer", &["search:index"]).await
}

async fn index(p: &TestPlatform, auth: &Auth, documents: Vec<Value>) -> Value {
    p.gql_router(
        auth,
        "mutation($d: [IndexDocumentInput!]!) { indexDocuments(documents: $d) }",
        json!({"d": documents}),
    )
    .await
}

async fn text(p: &TestPlatform, auth: &Auth, query: &str, options: Value) -> Value {
    p.gql_router(
        auth,
        &format!(
            "query($q: String!, $o: TextSearchOptions) {{ textSearch(query: $q, options: $o) {{
                total hits {{ {HIT} }} facets {{ field values {{ value count }} }}
                pageInfo {{ hasNextPage endCursor }} }} }}"
        ),
        json!({"q": query, "o": options}),
    )
    .await
}

fn ids(hits: &Value) -> Vec<String> {
    hits.as_array()
        .unwrap_or_else(|| panic!("hits expected, got {hits}"))
        .iter()
        .map(|h| h["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Real MiniLM embeddings of the test documents (the model CI installs).
async fn with_vectors(p: &TestPlatform, mut docs: Vec<Value>) -> Vec<Value> {
    let embedder = looma_embed::EmbeddingService::new(p.config.embed.clone());
    let texts: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{}. {}",
                d["title"].as_str().unwrap(),
                d["content"].as_str().unwrap()
            )
        })
        .collect();
    let vectors = embedder
        .embed(texts, looma_embed::TextKind::Passage)
        .await
        .expect("the embedding model is installed (scripts/install-model)");
    for (doc, vector) in docs.iter_mut().zip(vectors) {
        doc["vector"] = json!(vector);
        doc["vectorModel"] = json!(embedder.model_id());
    }
    docs
}

async fn index_then_search_in_both_languages(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let key = indexer(&p).await;
    let written = index(&p, &key, documents()).await;
    assert_eq!(data(&written)["indexDocuments"], 6);

    // Visible as soon as the write returns: no sleep, no refresh.
    let body = text(&p, &admin, "payment services", json!({})).await;
    let result = &data(&body)["textSearch"];
    assert_eq!(ids(&result["hits"])[0], "r-go");
    let hit = &result["hits"][0];
    assert_eq!(hit["collection"], "RESUMES");
    assert_eq!(hit["metadata"]["source"], "test");
    assert_eq!(hit["textRank"], 1);
    assert!(hit["vectorRank"].is_null());
    let fragments: Vec<&str> = hit["highlights"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["fragment"].as_str())
        .collect();
    assert!(
        fragments.iter().any(|f| f.contains("<em>payment</em>")),
        "{fragments:?}"
    );

    // Chinese is segmented into words: 支付系统 matches inside a sentence, punctuation dropped.
    let body = text(&p, &admin, "支付系统，微服务", json!({})).await;
    let hits = &data(&body)["textSearch"]["hits"];
    assert_eq!(ids(hits)[0], "r-java-zh", "{hits}");
    let body = text(&p, &admin, "推荐", json!({})).await;
    assert_eq!(ids(&data(&body)["textSearch"]["hits"]), ["r-ml-zh"]);

    // Typo tolerance for longer words, and its switch.
    let body = text(&p, &admin, "kubernetse", json!({})).await;
    let mut found = ids(&data(&body)["textSearch"]["hits"]);
    found.sort();
    assert_eq!(found, ["r-go", "r-sre"]);
    let body = text(&p, &admin, "kubernetse", json!({"fuzzy": false})).await;
    assert_eq!(data(&body)["textSearch"]["total"], 0);

    // Phrase and boolean syntax.
    let body = text(&p, &admin, "\"component library\"", json!({})).await;
    assert_eq!(ids(&data(&body)["textSearch"]["hits"]), ["r-fe"]);
    let body = text(&p, &admin, "kubernetes -terraform", json!({})).await;
    assert_eq!(ids(&data(&body)["textSearch"]["hits"]), ["r-go"]);

    // The hit's resume is a federated entity reference.
    let body = p
        .gql_router(
            &admin,
            "{ textSearch(query: \"recruiter\") { hits { id resume { id } job { id } } } }",
            json!({}),
        )
        .await;
    let hit = &data(&body)["textSearch"]["hits"][0];
    assert_eq!(hit["resume"]["id"], "r-hr");
    assert!(hit["job"].is_null());
    p
}

async fn filters_facets_and_pages(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let key = indexer(&p).await;
    data(&index(&p, &key, documents()).await);

    // Skill aliases are accepted in filters (k8s → Kubernetes); all constraints must hold.
    let body = text(
        &p,
        &admin,
        "engineer OR 工程师 OR developer",
        json!({"filter": {"skills": ["k8s"], "minYears": 7}}),
    )
    .await;
    assert_eq!(ids(&data(&body)["textSearch"]["hits"]), ["r-go"]);
    let body = text(
        &p,
        &admin,
        "engineer OR 工程师 OR developer OR recruiter",
        json!({"filter": {"cities": ["上海"], "degrees": ["bachelor"]}}),
    )
    .await;
    assert_eq!(ids(&data(&body)["textSearch"]["hits"]), ["r-fe"]);

    // Facets count over every match, not just the page.
    let body = text(
        &p,
        &admin,
        "engineer OR 工程师 OR developer OR recruiter",
        json!({"facets": ["CITY", "DEGREE"], "first": 1}),
    )
    .await;
    let result = &data(&body)["textSearch"];
    assert_eq!(result["total"], 6);
    let city = result["facets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "CITY")
        .unwrap();
    let count = |value: &str| {
        city["values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["value"] == value)
            .map(|v| v["count"].as_u64().unwrap())
    };
    assert_eq!(
        (count("上海"), count("北京"), count("深圳")),
        (Some(2), Some(2), Some(1))
    );

    // Cursor pagination walks every match once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let body = text(
            &p,
            &admin,
            "engineer OR 工程师 OR developer OR recruiter",
            json!({"first": 4, "after": after}),
        )
        .await;
        let result = &data(&body)["textSearch"];
        seen.extend(ids(&result["hits"]));
        if result["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = result["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (6, 6), "{seen:?}");

    // A cursor is bound to its search.
    let body = text(&p, &admin, "engineer", json!({"first": 1})).await;
    let cursor = data(&body)["textSearch"]["pageInfo"]["endCursor"].clone();
    let body = text(
        &p,
        &admin,
        "developer",
        json!({"first": 1, "after": cursor}),
    )
    .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    p
}

async fn vector_semantic_and_hybrid(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let key = indexer(&p).await;
    let docs = with_vectors(&p, documents()).await;
    let go_vector = docs[0]["vector"].clone();
    data(&index(&p, &key, docs).await);

    // A document's own vector is its nearest neighbour under every metric.
    for metric in ["COSINE", "DOT", "EUCLIDEAN"] {
        let body = p
            .gql_router(
                &admin,
                &format!("query($v: [Float!]!) {{ vectorSearch(vector: $v, topK: 3, metric: {metric}) {{ {HIT} }} }}"),
                json!({"v": go_vector}),
            )
            .await;
        let hits = &data(&body)["vectorSearch"];
        assert_eq!(ids(hits).len(), 3, "{metric}");
        assert_eq!(hits[0]["id"], "r-go", "{metric}");
        assert_eq!(hits[0]["vectorRank"], 1);
        if metric == "EUCLIDEAN" {
            assert!(hits[0]["distance"].as_f64().unwrap() < 1e-3, "{hits}");
            assert!(hits[1]["distance"].as_f64().unwrap() > 0.1);
        } else {
            assert!(hits[0]["distance"].is_null());
            assert!((hits[0]["score"].as_f64().unwrap() - 1.0).abs() < 1e-3);
        }
    }
    // Filters apply to vector search too.
    let body = p
        .gql_router(
            &admin,
            "query($v: [Float!]!) { vectorSearch(vector: $v, topK: 5, filter: {cities: [\"北京\"]}) { id } }",
            json!({"v": go_vector}),
        )
        .await;
    let mut found = ids(&data(&body)["vectorSearch"]);
    found.sort();
    assert_eq!(found, ["r-hr", "r-java-zh"]);

    // Search by meaning: no query word appears in the SRE document.
    let body = p
        .gql_router(
            &admin,
            &format!("{{ semanticSearch(query: \"someone to keep our servers up overnight\", topK: 3) {{ {HIT} }} }}"),
            json!({}),
        )
        .await;
    let hits = &data(&body)["semanticSearch"];
    assert_eq!(hits[0]["id"], "r-sre", "{hits}");
    assert!(
        hits[0]["snippet"]
            .as_str()
            .unwrap()
            .starts_with("Runs the on-call")
    );

    // Hybrid: both rankings visible; a document both rank well comes first.
    let body = p
        .gql_router(
            &admin,
            &format!(
                "{{ hybridSearch(query: \"Kubernetes on-call engineer\", topK: 6) {{ {HIT} }} }}"
            ),
            json!({}),
        )
        .await;
    let hits = data(&body)["hybridSearch"].as_array().unwrap().clone();
    assert_eq!(hits[0]["id"], "r-sre", "{hits:?}");
    assert!(hits[0]["textRank"].as_i64().is_some() && hits[0]["vectorRank"].as_i64().is_some());
    assert!(
        hits.iter().any(|h| h["textRank"].is_null()),
        "vector-only hits are fused in too"
    );
    // Highlights are made for the returned hits the text search found, after fusion.
    let marked = |hit: &Value| {
        hit["highlights"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["fragment"].as_str().unwrap().contains("<em>"))
    };
    assert!(marked(&hits[0]), "{:?}", hits[0]);
    assert!(
        hits.iter()
            .filter(|h| h["textRank"].is_null())
            .all(|h| h["highlights"].as_array().unwrap().is_empty()),
        "{hits:?}"
    );
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");

    // Reciprocal rank fusion on request: the score is the RRF formula of the two ranks.
    let body = p
        .gql_router(
            &admin,
            &format!(
                "{{ hybridSearch(query: \"Kubernetes on-call engineer\", topK: 6, fusion: RRF, \
                 vectorWeight: 1) {{ {HIT} }} }}"
            ),
            json!({}),
        )
        .await;
    let rrf = data(&body)["hybridSearch"].as_array().unwrap().clone();
    let both = rrf
        .iter()
        .find(|h| h["textRank"].is_i64() && h["vectorRank"].is_i64())
        .expect("a hit both lists rank");
    let expected = 1.0 / (60.0 + both["textRank"].as_f64().unwrap())
        + 1.0 / (60.0 + both["vectorRank"].as_f64().unwrap());
    assert!(
        (both["score"].as_f64().unwrap() - expected).abs() < 1e-9,
        "{both}"
    );
    // rrfK belongs to RRF: asking for it with score fusion is a clear error.
    let body = p
        .gql_router(
            &admin,
            "{ hybridSearch(query: \"Kubernetes\", fusion: SCORES, rrfK: 10) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    p
}

async fn suggestions_complete_and_hide_names(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let key = indexer(&p).await;
    data(&index(&p, &key, documents()).await);
    let suggest = |auth: Auth, prefix: &'static str| {
        let p = &p;
        async move {
            p.gql_router(
                &auth,
                "query($p: String!) { suggest(prefix: $p) { text kind count } }",
                json!({"p": prefix}),
            )
            .await
        }
    };
    let body = suggest(admin.clone(), "kube").await;
    let first = &data(&body)["suggest"][0];
    assert_eq!(
        (first["text"].as_str(), first["kind"].as_str()),
        (Some("Kubernetes"), Some("SKILL"))
    );
    assert_eq!(first["count"], 2);
    // Typo tolerant for longer prefixes.
    let body = suggest(admin.clone(), "kubernets").await;
    assert_eq!(data(&body)["suggest"][0]["text"], "Kubernetes");
    // Titles, in Chinese too.
    let body = suggest(admin.clone(), "推荐").await;
    assert!(
        data(&body)["suggest"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["text"] == "推荐算法工程师" && s["kind"] == "TITLE"),
        "{body}"
    );
    // Candidate names only for callers allowed to see contacts.
    let body = suggest(admin.clone(), "name").await;
    assert!(
        data(&body)["suggest"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["kind"] == "NAME")
    );
    let (_, viewer) = p.user_with_roles("viewer@example.com", &["viewer"]).await;
    let body = suggest(viewer.clone(), "name").await;
    assert!(
        data(&body)["suggest"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["kind"] != "NAME"),
        "{body}"
    );
    // Nor can a candidate be found by name (text or hybrid) without `resume:pii`.
    let body = text(&p, &admin, "name", json!({})).await;
    assert_eq!(data(&body)["textSearch"]["total"], 6);
    let body = text(&p, &viewer, "name", json!({})).await;
    assert_eq!(data(&body)["textSearch"]["total"], 0, "{body}");
    let body = text(&p, &viewer, "name:\"Name of r-go\"", json!({})).await;
    assert_eq!(data(&body)["textSearch"]["total"], 0, "{body}");
    p
}

async fn deletes_and_restart_persistence(mut p: TestPlatform) -> TestPlatform {
    let key = indexer(&p).await;
    let docs = with_vectors(&p, documents()).await;
    let sre_vector = docs[2]["vector"].clone();
    data(&index(&p, &key, docs).await);
    let removed = p
        .gql_router(
            &key,
            "mutation { removeDocuments(collection: RESUMES, ids: [\"r-go\", \"unknown\"]) }",
            json!({}),
        )
        .await;
    assert_eq!(data(&removed)["removeDocuments"], 2);

    // An update replaces the document (and its vector).
    let mut updated = documents()[1].clone();
    updated["title"] = json!("Java架构师");
    data(&index(&p, &key, vec![updated]).await);

    p.restart_extra().await;
    let admin = p.admin().await;
    let body = text(&p, &admin, "kubernetes", json!({})).await;
    assert_eq!(
        ids(&data(&body)["textSearch"]["hits"]),
        ["r-sre"],
        "the delete survived"
    );
    let body = text(&p, &admin, "架构师", json!({})).await;
    assert_eq!(
        ids(&data(&body)["textSearch"]["hits"]),
        ["r-java-zh"],
        "the update survived"
    );
    let body = p
        .gql_router(
            &admin,
            "query($v: [Float!]!) { vectorSearch(vector: $v, topK: 10) { id } }",
            json!({"v": sre_vector}),
        )
        .await;
    let found = ids(&data(&body)["vectorSearch"]);
    assert_eq!(found[0], "r-sre", "vectors survived");
    assert!(!found.contains(&"r-go".to_owned()));
    assert!(
        !found.contains(&"r-java-zh".to_owned()),
        "an update without a vector drops the old one"
    );
    let body = p
        .gql_router(&admin, "{ searchBackends { text vector dimension vectorModel collections { collection documents vectors } } }", json!({}))
        .await;
    let backends = &data(&body)["searchBackends"];
    assert_eq!(
        (backends["text"].as_str(), backends["vector"].as_str()),
        (Some("tantivy"), Some("usearch"))
    );
    assert_eq!(backends["dimension"], 384);
    assert_eq!(backends["vectorModel"], "multilingual-e5-small-q4");
    assert_eq!(
        backends["collections"][0],
        json!({"collection": "RESUMES", "documents": 5, "vectors": 4})
    );
    p
}

async fn bad_input_is_refused(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let key = indexer(&p).await;
    data(&index(&p, &key, documents()).await);
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "{ textSearch(query: \"   \") { total } }",
            json!({}),
            "query",
        ),
        (
            "{ textSearch(query: \"x\", options: {first: 0}) { total } }",
            json!({}),
            "first",
        ),
        (
            "{ textSearch(query: \"x\", options: {first: 1000}) { total } }",
            json!({}),
            "first",
        ),
        (
            "{ textSearch(query: \"x\", options: {after: \"garbage\"}) { total } }",
            json!({}),
            "after",
        ),
        (
            "{ textSearch(query: \"x\", options: {filter: {minYears: 5, maxYears: 2}}) { total } }",
            json!({}),
            "filter.minYears",
        ),
        (
            "{ textSearch(query: \"x\", options: {filter: {degrees: [\"WIZARD\"]}}) { total } }",
            json!({}),
            "filter.degrees",
        ),
        (
            "{ textSearch(query: \"x\", options: {filter: {salaryMin: -5}}) { total } }",
            json!({}),
            "filter.salaryMin",
        ),
        (
            "{ semanticSearch(query: \"x\", topK: 100000) { id } }",
            json!({}),
            "topK",
        ),
        (
            "{ hybridSearch(query: \"x\", topK: -1) { id } }",
            json!({}),
            "topK",
        ),
        (
            "{ vectorSearch(vector: [0.1, 0.2, 0.3]) { id } }",
            json!({}),
            "vector",
        ),
        ("{ suggest(prefix: \"\") { text } }", json!({}), "prefix"),
        (
            "{ suggest(prefix: \"ja\", limit: 500) { text } }",
            json!({}),
            "limit",
        ),
    ];
    for (query, variables, field) in cases {
        let body = p.gql_router(&admin, query, variables).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{query}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{field}`")),
            "{query}: {message}"
        );
    }
    let body = p
        .gql_router(
            &admin,
            "{ vectorSearch(vector: [0.1, 0.2, 0.3]) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_reason(&body), "DIMENSION_MISMATCH");

    // Cursors are not signed: an edited offset is refused, never overflowed.
    let body = text(&p, &admin, "engineer OR developer", json!({"first": 1})).await;
    let cursor = data(&body)["textSearch"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decoded = String::from_utf8(engine.decode(&cursor).unwrap()).unwrap();
    let print = decoded.rsplit(':').next().unwrap();
    for offset in ["18446744073709551610", "10000"] {
        let forged = engine.encode(format!("text:{offset}:{print}"));
        let body = text(
            &p,
            &admin,
            "engineer OR developer",
            json!({"first": 1, "after": forged}),
        )
        .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{offset}: {body}");
    }

    // Bad documents are refused whole; what was stored stays.
    let mut bad = documents();
    bad[0]["title"] = json!("replaced");
    bad[1]["vector"] = json!([1.0, 2.0]);
    bad[1]["vectorModel"] = json!("multilingual-e5-small-q4");
    let body = index(&p, &key, bad).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("documents[1].vector")
    );
    // A vector of another model, or one that does not say its model, is refused: an index
    // never mixes two models' vectors.
    for (model, expected) in [
        (json!("all-MiniLM-L6-v2"), "comes from `all-MiniLM-L6-v2`"),
        (Value::Null, "required with a vector"),
    ] {
        let mut bad = documents();
        bad[0]["title"] = json!("replaced");
        bad[0]["vector"] = json!(vec![0.05f32; 384]);
        bad[0]["vectorModel"] = model;
        let body = index(&p, &key, bad).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("documents[0].vectorModel"), "{message}");
        assert!(message.contains(expected), "{message}");
    }
    let body = text(&p, &admin, "payment", json!({})).await;
    assert_eq!(
        data(&body)["textSearch"]["hits"][0]["title"],
        "Senior Backend Engineer"
    );

    // Index writes: service credentials only, never a person (not even an admin).
    let body = index(&p, &admin, documents()).await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    assert_eq!(error_reason(&body), "SERVICE_CREDENTIALS_REQUIRED");
    let reader_key = p.api_key("reader", &["search:read"]).await;
    assert_eq!(
        error_code(&index(&p, &reader_key, documents()).await),
        "FORBIDDEN"
    );
    // Reindexes: service credentials only; an unknown or finished reindex is NOT_FOUND; a
    // reindex takes its own collection's documents only.
    let begin = "mutation($c: SearchCollection!) { beginReindex(collection: $c) { id } }";
    let body = p.gql_router(&admin, begin, json!({"c": "JOBS"})).await;
    assert_eq!(error_reason(&body), "SERVICE_CREDENTIALS_REQUIRED");
    let commit = "mutation($id: ID!) { commitReindex(reindexId: $id) { documents } }";
    for id in ["jobs-0000", "garbage", ""] {
        let body = p.gql_router(&key, commit, json!({"id": id})).await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{id}: {body}");
        assert_eq!(error_reason(&body), "REINDEX_NOT_FOUND");
    }
    let body = p.gql_router(&key, begin, json!({"c": "JOBS"})).await;
    let reindex = data(&body)["beginReindex"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = p
        .gql_router(
            &key,
            "mutation($d: [IndexDocumentInput!]!, $id: ID) { indexDocuments(documents: $d, reindexId: $id) }",
            json!({"d": documents(), "id": reindex}),
        )
        .await;
    assert_eq!(
        error_code(&body),
        "BAD_USER_INPUT",
        "resumes into a JOBS reindex: {body}"
    );
    let abort = "mutation($id: ID!) { abortReindex(reindexId: $id) }";
    assert_eq!(
        data(&p.gql_router(&key, abort, json!({"id": reindex})).await)["abortReindex"],
        true
    );
    let body = p.gql_router(&key, commit, json!({"id": reindex})).await;
    assert_eq!(error_code(&body), "NOT_FOUND", "aborted: {body}");
    // Reading: search:read plus the collection's read permission.
    let body = text(&p, &Auth::None, "payment", json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    let body = text(&p, &reader_key, "payment", json!({})).await;
    assert_eq!(
        error_code(&body),
        "FORBIDDEN",
        "resumes also need resume:read"
    );
    let body = text(
        &p,
        &reader_key,
        "payment",
        json!({"collection": "KNOWLEDGE"}),
    )
    .await;
    assert_eq!(data(&body)["textSearch"]["total"], 0);
    p
}

const ANALYSIS: &str = "query($t: String!) { analyzeText(text: $t) {
    language { code confidence } keywords(first: 5) { term weight }
    sentiment { label score } jobFamily { code name majorGroup majorGroupName score method } } }";

async fn analyze_text_reads_language_keywords_sentiment_and_family(
    p: TestPlatform,
) -> TestPlatform {
    let admin = p.admin().await;
    let analyze = |text: &'static str| {
        let (p, admin) = (&p, &admin);
        async move { p.gql_router(admin, ANALYSIS, json!({"t": text})).await }
    };
    let body = analyze("招聘Java后端开发工程师，负责支付系统的微服务架构设计与性能优化").await;
    let a = &data(&body)["analyzeText"];
    assert_eq!(a["language"]["code"], "zh", "{body}");
    let terms: Vec<&str> = a["keywords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["term"].as_str().unwrap())
        .collect();
    assert!(terms.contains(&"微服务"), "{body}");
    assert!(!terms.contains(&"负责"), "{body}");
    assert_eq!(a["keywords"][0]["weight"], 1.0);
    // The job family of a title (a whole post may read as CSCO's software services, 4-04).
    let body = analyze("Java后端开发工程师").await;
    let a = &data(&body)["analyzeText"];
    assert_eq!(a["jobFamily"]["code"], "2-02", "{body}");
    assert_eq!(a["jobFamily"]["name"], "工程技术人员");
    assert_eq!(a["jobFamily"]["majorGroup"], "2");
    assert_eq!(a["jobFamily"]["method"], "EMBEDDING");

    let body = analyze("面试官非常专业，流程安排得很顺利，整体体验很好，推荐大家来这家公司").await;
    let a = &data(&body)["analyzeText"];
    assert_eq!(a["sentiment"]["label"], "POSITIVE", "{body}");
    assert!(a["sentiment"]["score"].as_f64().unwrap() > 0.2);

    let body = analyze(
        "A waste of time: the recruiter never called back, and the interview was rude and chaotic.",
    )
    .await;
    let a = &data(&body)["analyzeText"];
    assert_eq!(a["language"]["code"], "en", "{body}");
    assert_eq!(a["sentiment"]["label"], "NEGATIVE", "{body}");
    assert!(a["sentiment"]["score"].as_f64().unwrap() < -0.2);

    // Bad input and missing permissions.
    for (query, code) in [
        (
            "{ analyzeText(text: \"  \") { language { code } } }",
            "BAD_USER_INPUT",
        ),
        (
            "{ analyzeText(text: \"Go\") { keywords(first: 0) { term } } }",
            "BAD_USER_INPUT",
        ),
        (
            "{ analyzeText(text: \"Go\") { keywords(first: 51) { term } } }",
            "BAD_USER_INPUT",
        ),
    ] {
        let body = p.gql_router(&admin, query, json!({})).await;
        assert_eq!(error_code(&body), code, "{query}: {body}");
    }
    let long = "很".repeat(20_001);
    let body = p.gql_router(&admin, ANALYSIS, json!({"t": long})).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let body = p
        .gql_router(&Auth::None, ANALYSIS, json!({"t": "hello"}))
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    p
}

async fn without_the_model_only_meaning_based_search_stops(mut p: TestPlatform) -> TestPlatform {
    let missing = tempfile::tempdir().unwrap();
    p.config.embed.models_dir = missing.path().join("no-model");
    p.restart_extra().await;
    let admin = p.admin().await;
    let key = indexer(&p).await;
    data(&index(&p, &key, documents()).await);
    for query in [
        "{ semanticSearch(query: \"servers\") { id } }",
        "{ hybridSearch(query: \"servers\") { id } }",
    ] {
        let body = p.gql_router(&admin, query, json!({})).await;
        assert_eq!(error_code(&body), "MODEL_UNAVAILABLE", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("scripts/install-model")
        );
    }
    // A hybrid search that gives meaning no weight needs no model: it is the text ranking.
    let body = p
        .gql_router(
            &admin,
            "{ hybridSearch(query: \"payment\", vectorWeight: 0) { id textRank vectorRank } }",
            json!({}),
        )
        .await;
    let hits = &data(&body)["hybridSearch"];
    assert_eq!(ids(hits), ["r-go"], "{body}");
    assert_eq!(hits[0]["textRank"], 1);
    assert!(hits[0]["vectorRank"].is_null());
    let body = text(&p, &admin, "payment", json!({})).await;
    assert_eq!(ids(&data(&body)["textSearch"]["hits"]), ["r-go"]);
    // Text analysis keeps what needs no model: language, keywords, and the job family from
    // the title matcher; sentiment says which model is missing.
    let body = p
        .gql_router(
            &admin,
            "{ analyzeText(text: \"高级后端开发工程师\") { language { code }
                keywords { term } jobFamily { code method } } }",
            json!({}),
        )
        .await;
    let a = &data(&body)["analyzeText"];
    assert_eq!(a["language"]["code"], "zh");
    assert_eq!(a["jobFamily"]["code"], "2-02", "{body}");
    assert_eq!(a["jobFamily"]["method"], "KEYWORDS");
    let body = p
        .gql_router(
            &admin,
            "{ analyzeText(text: \"great\") { sentiment { label } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "MODEL_UNAVAILABLE", "{body}");
    p
}

/// Uploads a fixture resume through the router and waits until search has it.
pub(crate) async fn upload_and_wait_indexed(
    p: &TestPlatform,
    admin: &Auth,
    fixture: &str,
) -> String {
    let file = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/resumes")
            .join(fixture),
    )
    .unwrap();
    use base64::Engine;
    let body = p
        .gql_router(
            admin,
            "mutation($f: String!, $c: String!) { uploadResumeBase64(filename: $f, contentBase64: $c) { resume { id } } }",
            json!({"f": "qa.txt", "c": base64::engine::general_purpose::STANDARD.encode(file)}),
        )
        .await;
    let id = data(&body)["uploadResumeBase64"]["resume"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = p
            .gql_router(
                admin,
                "query($id: ID!) { resume(id: $id) { status } }",
                json!({"id": id}),
            )
            .await;
        let status = data(&body)["resume"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if status == "INDEXED" {
            break;
        }
        assert!(Instant::now() < deadline, "still {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    id
}

async fn an_uploaded_resume_becomes_a_search_hit(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let id = upload_and_wait_indexed(&p, &admin, "en-05-qa-engineer.txt").await;
    // One operation: the hit from search, its details from the resume subgraph.
    let body = p
        .gql_router(
            &admin,
            "{ textSearch(query: \"selenium test automation\") { total hits { id title resume { id status skills profile { name contactMasked } } } } }",
            json!({}),
        )
        .await;
    let hit = &data(&body)["textSearch"]["hits"][0];
    assert_eq!(hit["id"], id.as_str());
    assert_eq!(hit["resume"]["status"], "INDEXED");
    assert!(
        hit["resume"]["skills"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "Selenium"),
        "{hit}"
    );
    assert_eq!(hit["resume"]["profile"]["contactMasked"], false);
    // The index never holds contacts in clear text.
    let body = p
        .gql_router(
            &admin,
            "query($id: ID!) { resume(id: $id) { profile { email } } }",
            json!({"id": id}),
        )
        .await;
    let email = data(&body)["resume"]["profile"]["email"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = text(&p, &admin, &format!("\"{email}\""), json!({})).await;
    assert_eq!(data(&body)["textSearch"]["total"], 0, "{body}");
    // Text analytics on parse: the headline's job family and the keywords become filters and
    // facets.
    let body = p
        .gql_router(
            &admin,
            "query($id: ID!) { resume(id: $id) { profile { jobFamily jobFamilyName keywords } } }",
            json!({"id": id}),
        )
        .await;
    let profile = &data(&body)["resume"]["profile"];
    let family = profile["jobFamily"]
        .as_str()
        .expect("a job family")
        .to_owned();
    assert!(profile["jobFamilyName"].is_string(), "{body}");
    // (A keyword naming the candidate is kept out of the index; take one that does not.)
    let keyword = profile["keywords"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|k| !k.contains("Michael") && !k.contains("Brown"))
        .expect("keywords")
        .to_owned();
    let body = text(
        &p,
        &admin,
        "selenium",
        json!({"filter": {"jobFamilies": [family], "anyKeywords": [keyword]},
               "facets": ["JOB_FAMILY", "KEYWORDS"]}),
    )
    .await;
    let result = &data(&body)["textSearch"];
    assert_eq!(ids(&result["hits"]), [id.as_str()], "{body}");
    let facet = |field: &str| {
        result["facets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == field)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        facet("JOB_FAMILY")["values"][0]["value"],
        family.as_str(),
        "{body}"
    );
    assert_eq!(facet("JOB_FAMILY")["values"][0]["count"], 1);
    assert!(
        facet("KEYWORDS")["values"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["value"] == keyword.as_str()),
        "{body}"
    );
    let body = text(
        &p,
        &admin,
        "selenium",
        json!({"filter": {"jobFamilies": ["9-99"]}}),
    )
    .await;
    assert_eq!(data(&body)["textSearch"]["total"], 0, "{body}");
    p
}

async fn reindex_rebuilds_from_the_resume_tables(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let id = upload_and_wait_indexed(&p, &admin, "zh-07-qa-engineer.txt").await;
    let key = p.api_key("reindexer", &["search:index"]).await;
    let Auth::ApiKey(secret) = &key else {
        unreachable!()
    };
    // The index loses the document (an index wiped by an operator, a lost volume...).
    data(
        &p.gql_router(
            &key,
            "mutation($ids: [ID!]!) { removeDocuments(collection: RESUMES, ids: $ids) }",
            json!({"ids": [id]}),
        )
        .await,
    );
    assert!(!qa_hits(&p, &admin).await.contains(&id));

    // The upload recorded which model made the résumé's vector. Pretend an older deployment
    // embedded it with MiniLM: the reindex must re-embed it, never send MiniLM's vector.
    let model_of = |body: Value| data(&body)["resume"]["embeddingModel"].clone();
    let query = "query($id: ID!) { resume(id: $id) { embeddingModel } }";
    let current = model_of(p.gql_router(&admin, query, json!({"id": id})).await);
    assert_eq!(current, "multilingual-e5-small-q4");
    {
        use sea_orm::{ConnectionTrait, Statement};
        let db = p.db();
        db.execute_raw(Statement::from_string(
            db.get_database_backend(),
            format!("UPDATE resume_resumes SET embedding_model = NULL WHERE id = '{id}'"),
        ))
        .await
        .expect("mark the vector as MiniLM's");
    }
    let legacy = model_of(p.gql_router(&admin, query, json!({"id": id})).await);
    assert_eq!(legacy, "all-MiniLM-L6-v2");

    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_looma"))
        .args(["search", "reindex", "resumes", "--search-url"])
        .arg(format!("{}/graphql", p.url(looma::Component::Search)))
        .current_dir(dir.path())
        .env("DATABASE_URL", &p.config.database.url)
        .env("LOOMA_API_KEY", secret)
        .env("LOOMA_LOG__LEVEL", "warn")
        .output()
        .expect("looma runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("resumes: 1 documents indexed"), "{stdout}");
    assert!(qa_hits(&p, &admin).await.contains(&id));
    // Re-embedded by the current model, and its vector is back in the index.
    let after = model_of(p.gql_router(&admin, query, json!({"id": id})).await);
    assert_eq!(after, "multilingual-e5-small-q4");
    let body = p
        .gql_router(
            &admin,
            "{ searchBackends { collections { collection vectors } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&body)["searchBackends"]["collections"][0],
        json!({"collection": "RESUMES", "vectors": 1})
    );

    // Without credentials it refuses before touching anything.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_looma"))
        .args(["search", "reindex", "resumes"])
        .current_dir(dir.path())
        .env("DATABASE_URL", &p.config.database.url)
        .env_remove("LOOMA_API_KEY")
        .env_remove("LOOMA_SERVER__ROUTER_SECRET")
        .output()
        .expect("looma runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--api-key"));
    p
}

async fn qa_hits(p: &TestPlatform, auth: &Auth) -> Vec<String> {
    let body = p
        .gql_router(
            auth,
            "{ textSearch(query: \"测试\", options: {first: 50}) { hits { id } } }",
            json!({}),
        )
        .await;
    ids(&data(&body)["textSearch"]["hits"])
}

async fn set_flag(p: &TestPlatform, admin: &Auth, name: &str, enabled: bool) {
    data(
        &p.gql_router(
            admin,
            "mutation($n: String!, $e: Boolean!) { setFeatureFlag(name: $n, enabled: $e) { enabled } }",
            json!({"n": name, "e": enabled}),
        )
        .await,
    );
}

/// Polls `query` until its first error code is `code` (`None`: no error); flags are cached
/// for `search.feature_flag_cache_ms`.
async fn eventually(p: &TestPlatform, auth: &Auth, query: &str, code: Option<&str>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body = p.gql_router(auth, query, json!({})).await;
        let got = body["errors"][0]["extensions"]["code"].as_str();
        if got == code {
            return body;
        }
        assert!(Instant::now() < deadline, "expected {code:?}, got {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn feature_flags_turn_query_kinds_off(p: TestPlatform) -> TestPlatform {
    let admin = p.admin().await;
    let key = indexer(&p).await;
    data(&index(&p, &key, with_vectors(&p, documents()).await).await);
    let text_query = "{ textSearch(query: \"payment\") { total } }";
    let suggest_query = "{ suggest(prefix: \"kube\") { text } }";
    let semantic_query = "{ semanticSearch(query: \"servers at night\") { id } }";
    let hybrid_query = "{ hybridSearch(query: \"servers at night\") { id } }";

    set_flag(&p, &admin, "text_search", false).await;
    let body = eventually(&p, &admin, text_query, Some("FEATURE_DISABLED")).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("text_search")
    );
    eventually(&p, &admin, suggest_query, Some("FEATURE_DISABLED")).await;
    eventually(&p, &admin, hybrid_query, Some("FEATURE_DISABLED")).await;
    eventually(&p, &admin, semantic_query, None).await;
    // Index writes go on: owners must not lose updates while a query kind is off.
    data(&index(&p, &key, documents()).await);
    set_flag(&p, &admin, "text_search", true).await;
    eventually(&p, &admin, text_query, None).await;

    set_flag(&p, &admin, "vector_search", false).await;
    eventually(&p, &admin, semantic_query, Some("FEATURE_DISABLED")).await;
    eventually(&p, &admin, text_query, None).await;
    set_flag(&p, &admin, "vector_search", true).await;
    eventually(&p, &admin, semantic_query, None).await;
    p
}
