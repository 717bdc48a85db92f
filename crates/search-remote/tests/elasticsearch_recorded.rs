//! `ElasticsearchTextIndex` against replayed Elasticsearch exchanges (wiremock serving the JSON
//! bodies in `tests/recorded/elasticsearch/`): what the adapter sends (method, path, the parts of
//! the body that carry meaning) and how it reads the answers, including failures.

use std::path::PathBuf;

use looma_search_engine::{
    Collection, Document, DocumentFields, EngineError, Facet, FacetCount, FacetField, Filters,
    Highlight, SuggestQuery, SuggestionKind, TextIndex, TextQuery,
};
use looma_search_remote::{ChineseAnalysis, ElasticsearchTextIndex};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const INDEX: &str = "/looma-test-resumes";

fn recorded(name: &str) -> Value {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/recorded/elasticsearch")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file:?}: {e}"))
}

fn reply(status: u16, name: &str) -> ResponseTemplate {
    // Elasticsearch marks every response with its product header.
    ResponseTemplate::new(status)
        .insert_header("X-elastic-product", "Elasticsearch")
        .set_body_json(recorded(name))
}

/// A mock server that acknowledges the index creation, plus the index under test.
async fn server_with_index() -> (MockServer, ElasticsearchTextIndex) {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(INDEX))
        .respond_with(reply(200, "create_index_ack"))
        .expect(1)
        .mount(&server)
        .await;
    let index = ElasticsearchTextIndex::connect(&server.uri(), "looma-test").expect("connect");
    (server, index)
}

async fn requests_to(server: &MockServer, wanted_path: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == wanted_path)
        .collect()
}

fn json_body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("JSON request body")
}

fn ndjson_body(request: &Request) -> Vec<Value> {
    String::from_utf8_lossy(&request.body)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("NDJSON line"))
        .collect()
}

fn resume(id: &str, title: &str) -> Document {
    Document {
        id: id.into(),
        collection: Collection::Resumes,
        title: title.into(),
        content: "负责后端开发 Rust".into(),
        fields: DocumentFields {
            skills: vec!["Rust".into(), "Go".into()],
            city: Some("上海".into()),
            degree: Some("BACHELOR".into()),
            years: Some(6.0),
            salary_min: Some(30000.0),
            salary_max: None,
            status: Some("INDEXED".into()),
            name: Some("张伟".into()),
            ..DocumentFields::default()
        },
        metadata: json!({ "resume_id": id }),
        vector: Some(vec![0.1, 0.2]),
    }
}

fn text_query(query: &str) -> TextQuery {
    TextQuery {
        collection: Collection::Resumes,
        query: query.into(),
        filters: Filters::default(),
        facets: vec![],
        limit: 10,
        offset: 0,
        fuzzy: false,
        highlight: false,
        only_ids: Vec::new(),
        names: true,
    }
}

#[tokio::test]
async fn upsert_creates_the_index_once_with_its_mapping_then_bulk_indexes() {
    let (server, index) = server_with_index().await;
    Mock::given(method("POST"))
        .and(path("/_bulk"))
        .respond_with(reply(200, "bulk_index_ok"))
        .expect(2)
        .mount(&server)
        .await;

    let docs = [
        resume("r1", "高级后端工程师"),
        resume("r2", "Rust Engineer"),
    ];
    index.upsert(&docs).await.expect("first upsert");
    index.upsert(&docs[..1]).await.expect("second upsert");

    let created = requests_to(&server, INDEX).await;
    assert_eq!(created.len(), 1, "the index is created on first use only");
    let definition = json_body(&created[0]);
    assert_eq!(definition["settings"]["index"]["refresh_interval"], "1s");
    let analyzers = &definition["settings"]["analysis"]["analyzer"];
    assert_eq!(
        analyzers["looma_cjk_index"]["filter"],
        json!(["cjk_width", "lowercase", "looma_cjk_bigram_with_unigrams"])
    );
    let properties = &definition["mappings"]["properties"];
    assert_eq!(definition["mappings"]["dynamic"], "strict");
    assert_eq!(properties["id"]["type"], "keyword");
    assert_eq!(properties["title"]["analyzer"], "looma_cjk_index");
    assert_eq!(properties["title"]["search_analyzer"], "looma_cjk_search");
    assert_eq!(properties["skills"]["type"], "keyword");
    assert_eq!(properties["skills"]["fields"]["text"]["type"], "text");
    assert_eq!(properties["city"]["type"], "keyword");
    assert_eq!(properties["salary_max"]["type"], "double");
    assert_eq!(
        properties["metadata"],
        json!({ "type": "object", "enabled": false })
    );

    let bulks = requests_to(&server, "/_bulk").await;
    assert_eq!(bulks[0].method.as_str(), "POST");
    assert_eq!(
        bulks[0].url.query(),
        None,
        "no refresh=wait_for: the 1 s refresh applies"
    );
    let lines = ndjson_body(&bulks[0]);
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[0],
        json!({ "index": { "_index": "looma-test-resumes", "_id": "r1" } })
    );
    assert_eq!(lines[1]["title"], "高级后端工程师");
    assert_eq!(lines[1]["skills"], json!(["Rust", "Go"]));
    assert_eq!(lines[1]["salary_max"], Value::Null);
    assert_eq!(lines[1]["metadata"], json!({ "resume_id": "r1" }));
    assert!(
        lines[1].get("vector").is_none(),
        "vectors belong to the vector index"
    );
}

#[tokio::test]
async fn an_existing_index_is_used_as_is() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(INDEX))
        .respond_with(reply(400, "create_index_already_exists"))
        .mount(&server)
        .await;
    Mock::given(path(format!("{INDEX}/_count")))
        .respond_with(reply(200, "count_response"))
        .mount(&server)
        .await;
    let index = ElasticsearchTextIndex::connect(&server.uri(), "looma-test").expect("connect");
    assert_eq!(index.count(Collection::Resumes).await.expect("count"), 42);
}

#[tokio::test]
async fn ik_analysis_names_the_plugin_analyzers() {
    let (server, index) = server_with_index().await;
    let index = index.with_chinese_analysis(ChineseAnalysis::Ik);
    Mock::given(path(format!("{INDEX}/_count")))
        .respond_with(reply(200, "count_response"))
        .mount(&server)
        .await;
    index.count(Collection::Resumes).await.expect("count");
    let definition = json_body(&requests_to(&server, INDEX).await[0]);
    assert!(definition["settings"].get("analysis").is_none());
    let title = &definition["mappings"]["properties"]["title"];
    assert_eq!(title["analyzer"], "ik_max_word");
    assert_eq!(title["search_analyzer"], "ik_smart");
}

#[tokio::test]
async fn search_sends_filters_facets_highlight_and_fuzziness_and_reads_the_hits() {
    let (server, index) = server_with_index().await;
    Mock::given(method("POST"))
        .and(path(format!("{INDEX}/_search")))
        .respond_with(reply(200, "search_resumes"))
        .expect(1)
        .mount(&server)
        .await;

    let query = TextQuery {
        filters: Filters {
            skills_all: vec!["Rust".into()],
            cities: vec!["上海".into()],
            min_years: Some(3.0),
            salary_max: Some(50000.0),
            ..Filters::default()
        },
        facets: vec![FacetField::Skills, FacetField::City],
        limit: 2,
        offset: 20,
        fuzzy: true,
        highlight: true,
        names: true,
        ..text_query("rust backend -java")
    };
    let results = index.search(&query).await.expect("search");

    let sent = json_body(&requests_to(&server, &format!("{INDEX}/_search")).await[0]);
    assert_eq!(sent["from"], 20);
    assert_eq!(sent["size"], 2);
    assert_eq!(sent["track_total_hits"], true);
    let query_string = &sent["query"]["bool"]["must"][0]["query_string"];
    assert_eq!(query_string["query"], "rust backend~ -java");
    assert_eq!(query_string["fuzziness"], "AUTO:5,9");
    assert_eq!(
        sent["query"]["bool"]["filter"],
        json!([
            { "term": { "skills": "Rust" } },
            { "terms": { "city": ["上海"] } },
            { "range": { "years": { "gte": 3.0 } } },
            { "bool": {
                "should": [
                    { "range": { "salary_min": { "lte": 50000.0 } } },
                    { "bool": {
                        "must_not": [{ "exists": { "field": "salary_min" } }],
                        "filter": [{ "range": { "salary_max": { "lte": 50000.0 } } }],
                    } },
                ],
                "minimum_should_match": 1,
            } },
        ])
    );
    assert_eq!(
        sent["aggs"]["facet_skills"]["terms"],
        json!({ "field": "skills", "size": 100, "order": [{ "_count": "desc" }, { "_key": "asc" }] })
    );
    assert_eq!(sent["aggs"]["facet_city"]["terms"]["field"], "city");
    let highlight = &sent["highlight"];
    assert_eq!(highlight["encoder"], "html");
    assert_eq!(highlight["pre_tags"], json!(["<em>"]));
    assert_eq!(highlight["post_tags"], json!(["</em>"]));
    assert!(highlight["fields"].get("title").is_some());
    assert!(highlight["fields"].get("skills.text").is_some());

    assert_eq!(results.total, 27);
    assert_eq!(results.hits.len(), 2);
    let first = &results.hits[0];
    assert_eq!(first.id, "r1");
    assert!((first.score - 7.234_154_7).abs() < 1e-5);
    assert_eq!(first.title, "高级后端工程师 Rust");
    assert_eq!(
        first.snippet,
        "负责交易系统的后端开发，使用 Rust & Go 编写高并发服务。"
    );
    assert_eq!(
        first.highlights,
        vec![
            Highlight {
                field: "title".into(),
                fragment: "高级后端工程师 <em>Rust</em>".into()
            },
            Highlight {
                field: "content".into(),
                fragment: "负责交易系统的后端开发，使用 <em>Rust</em> &amp; Go 编写高并发服务。"
                    .into()
            },
            Highlight {
                field: "skills".into(),
                fragment: "<em>Rust</em>".into()
            },
        ]
    );
    assert_eq!(first.metadata, json!({ "resume_id": "r1", "owner": "u7" }));
    let second = &results.hits[1];
    assert_eq!(second.snippet, "Builds services in Go.");
    assert!(
        second.highlights.is_empty(),
        "a no-match excerpt is not a highlight"
    );
    assert_eq!(second.metadata, Value::Null);
    let count = |value: &str, count| FacetCount {
        value: value.into(),
        count,
    };
    assert_eq!(
        results.facets,
        vec![
            Facet {
                field: FacetField::Skills,
                values: vec![count("Go", 19), count("Kafka", 11), count("Rust", 11)],
            },
            Facet {
                field: FacetField::City,
                values: vec![count("上海", 27)],
            },
        ]
    );
}

#[tokio::test]
async fn a_query_the_server_cannot_parse_is_invalid_query() {
    let (server, index) = server_with_index().await;
    Mock::given(path(format!("{INDEX}/_search")))
        .respond_with(reply(400, "search_parse_error"))
        .mount(&server)
        .await;
    match index.search(&text_query("rust AND")).await {
        Err(EngineError::InvalidQuery(reason)) => {
            assert_eq!(reason, "Failed to parse query [rust AND]")
        }
        other => panic!("expected InvalidQuery, got {other:?}"),
    }
}

#[tokio::test]
async fn server_errors_are_unavailable() {
    let (server, index) = server_with_index().await;
    Mock::given(path(format!("{INDEX}/_search")))
        .respond_with(reply(503, "search_all_shards_failed_503"))
        .mount(&server)
        .await;
    let result = index.search(&text_query("rust")).await;
    assert!(
        matches!(&result, Err(EngineError::Unavailable(m)) if m.contains("all shards failed")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let index = ElasticsearchTextIndex::connect(&format!("http://127.0.0.1:{port}"), "looma-test")
        .expect("connect is lazy");
    let result = index.count(Collection::Jobs).await;
    assert!(
        matches!(result, Err(EngineError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_rejected_bulk_item_fails_the_upsert() {
    let (server, index) = server_with_index().await;
    Mock::given(path("/_bulk"))
        .respond_with(reply(200, "bulk_index_item_failed"))
        .mount(&server)
        .await;
    let result = index.upsert(&[resume("r1", "a"), resume("r2", "b")]).await;
    assert!(
        matches!(&result, Err(EngineError::Internal(m)) if m.contains("r2") && m.contains("document_parsing_exception")),
        "{result:?}"
    );
}

#[tokio::test]
async fn delete_sends_bulk_deletes_and_ignores_unknown_ids() {
    let (server, index) = server_with_index().await;
    Mock::given(path("/_bulk"))
        .respond_with(reply(200, "bulk_delete"))
        .mount(&server)
        .await;
    index
        .delete(Collection::Resumes, &["r1".into(), "gone".into()])
        .await
        .expect("delete");
    let lines = ndjson_body(&requests_to(&server, "/_bulk").await[0]);
    assert_eq!(
        lines,
        vec![
            json!({ "delete": { "_index": "looma-test-resumes", "_id": "r1" } }),
            json!({ "delete": { "_index": "looma-test-resumes", "_id": "gone" } }),
        ]
    );
}

#[tokio::test]
async fn clear_deletes_by_query_everything() {
    let (server, index) = server_with_index().await;
    Mock::given(method("POST"))
        .and(path(format!("{INDEX}/_delete_by_query")))
        .respond_with(reply(200, "delete_by_query_response"))
        .expect(1)
        .mount(&server)
        .await;
    index.clear(Collection::Resumes).await.expect("clear");
    let request = &requests_to(&server, &format!("{INDEX}/_delete_by_query")).await[0];
    let query = request.url.query().unwrap_or_default();
    assert!(query.contains("conflicts=proceed"), "{query}");
    assert_eq!(json_body(request), json!({ "query": { "match_all": {} } }));
}

#[tokio::test]
async fn get_reads_mget_in_the_order_asked_and_skips_missing_documents() {
    let (server, index) = server_with_index().await;
    Mock::given(path(format!("{INDEX}/_mget")))
        .respond_with(reply(200, "mget_response"))
        .mount(&server)
        .await;
    let ids = ["r2".to_string(), "missing".into(), "r1".into()];
    let docs = index.get(Collection::Resumes, &ids).await.expect("get");
    let sent = json_body(&requests_to(&server, &format!("{INDEX}/_mget")).await[0]);
    assert_eq!(sent, json!({ "ids": ["r2", "missing", "r1"] }));
    assert_eq!(
        docs.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["r2", "r1"]
    );
    assert_eq!(docs[0].fields.city.as_deref(), Some("北京"));
    assert_eq!(docs[0].fields.years, Some(3.5));
    assert_eq!(docs[0].fields.salary_max, None);
    assert_eq!(docs[0].fields.skills, ["Spark", "Flink"]);
    assert_eq!(docs[0].metadata, json!({ "resume_id": "r2" }));
}

#[tokio::test]
async fn suggest_counts_values_per_kind_and_keeps_real_completions() {
    let (server, index) = server_with_index().await;
    Mock::given(path(format!("{INDEX}/_search")))
        .respond_with(reply(200, "suggest_response"))
        .mount(&server)
        .await;
    let query = SuggestQuery {
        collection: Collection::Resumes,
        prefix: "ru".into(),
        limit: 3,
        kinds: vec![SuggestionKind::Title, SuggestionKind::Skill],
    };
    let suggestions = index.suggest(&query).await.expect("suggest");
    let sent = json_body(&requests_to(&server, &format!("{INDEX}/_search")).await[0]);
    assert_eq!(sent["size"], 0);
    assert!(
        sent["aggs"].get("suggest_name").is_none(),
        "names only when asked"
    );
    assert_eq!(
        sent["aggs"]["suggest_skill"]["filter"]["bool"]["should"][0],
        json!({ "match_phrase_prefix": { "skills.text": { "query": "ru" } } })
    );
    assert_eq!(
        sent["aggs"]["suggest_skill"]["aggs"]["values"]["terms"]["field"],
        "skills"
    );
    assert_eq!(
        sent["aggs"]["suggest_title"]["aggs"]["values"]["terms"]["field"],
        "title.raw"
    );
    let got: Vec<_> = suggestions
        .iter()
        .map(|s| (s.text.as_str(), s.kind, s.count))
        .collect();
    assert_eq!(
        got,
        [
            ("Rust", SuggestionKind::Skill, 9),
            ("Rust Engineer", SuggestionKind::Title, 4),
            ("Rust Async", SuggestionKind::Skill, 1),
        ]
    );
}

async fn mount(server: &MockServer, verb: &str, at: &str, status: u16, name: &str) {
    Mock::given(method(verb))
        .and(path(at))
        .respond_with(reply(status, name))
        .mount(server)
        .await;
}

fn paths_in_order(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

#[tokio::test]
async fn a_reindex_fills_a_new_index_and_moves_the_alias_in_one_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(
            r"^/looma-test-resumes_v(\*|%2A)/_alias$",
        ))
        .respond_with(reply(200, "get_alias_versions"))
        .mount(&server)
        .await;
    mount(
        &server,
        "DELETE",
        "/looma-test-resumes_v2",
        200,
        "acknowledged",
    )
    .await;
    mount(
        &server,
        "PUT",
        "/looma-test-resumes_v3",
        200,
        "create_index_ack",
    )
    .await;
    mount(&server, "POST", "/_bulk", 200, "bulk_index_ok").await;
    mount(
        &server,
        "GET",
        "/looma-test-resumes_v3/_refresh",
        200,
        "refresh_response",
    )
    .await;
    mount(
        &server,
        "GET",
        "/looma-test-resumes/_alias",
        200,
        "get_alias_live",
    )
    .await;
    mount(&server, "POST", "/_aliases", 200, "acknowledged").await;
    mount(
        &server,
        "DELETE",
        "/looma-test-resumes_v1",
        200,
        "acknowledged",
    )
    .await;
    let index = ElasticsearchTextIndex::connect(&server.uri(), "looma-test").expect("connect");

    let version = index
        .begin_version(Collection::Resumes)
        .await
        .expect("begin");
    assert_eq!(version, 3, "above every version present");
    index
        .upsert_version(Collection::Resumes, 3, &[resume("r1", "Rust 工程师")])
        .await
        .expect("staged upsert");
    index
        .commit_version(Collection::Resumes, 3)
        .await
        .expect("commit");

    let requests = server.received_requests().await.unwrap_or_default();
    let bulk = requests
        .iter()
        .find(|r| r.url.path() == "/_bulk")
        .expect("a bulk request");
    assert_eq!(
        ndjson_body(bulk)[0]["index"]["_index"],
        "looma-test-resumes_v3",
        "staged writes go to the new index, never through the alias"
    );
    let aliases = requests
        .iter()
        .filter(|r| r.url.path() == "/_aliases")
        .collect::<Vec<_>>();
    assert_eq!(aliases.len(), 1, "one atomic alias request");
    assert_eq!(
        json_body(aliases[0]),
        json!({ "actions": [
            { "add": { "index": "looma-test-resumes_v3", "alias": "looma-test-resumes" } },
            { "remove": { "index": "looma-test-resumes_v1", "alias": "looma-test-resumes" } }
        ] })
    );
    let order = paths_in_order(&requests);
    let position = |wanted: &str| {
        order
            .iter()
            .position(|p| p == wanted)
            .unwrap_or_else(|| panic!("{wanted} not in {order:?}"))
    };
    assert!(position("DELETE /looma-test-resumes_v2") < position("PUT /looma-test-resumes_v3"));
    assert!(position("GET /looma-test-resumes_v3/_refresh") < position("POST /_aliases"));
    assert!(
        position("POST /_aliases") < position("DELETE /looma-test-resumes_v1"),
        "the old version is deleted only after the swap: {order:?}"
    );
}

#[tokio::test]
async fn the_first_reindex_of_an_index_from_before_versions_removes_it_in_the_swap() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GET",
        "/looma-test-jobs_v1/_refresh",
        200,
        "refresh_response",
    )
    .await;
    mount(
        &server,
        "GET",
        "/looma-test-jobs/_alias",
        200,
        "get_alias_concrete_index",
    )
    .await;
    mount(&server, "POST", "/_aliases", 200, "acknowledged").await;
    let index = ElasticsearchTextIndex::connect(&server.uri(), "looma-test").expect("connect");
    index
        .commit_version(Collection::Jobs, 1)
        .await
        .expect("commit");
    let aliases = requests_to(&server, "/_aliases").await;
    assert_eq!(
        json_body(&aliases[0]),
        json!({ "actions": [
            { "add": { "index": "looma-test-jobs_v1", "alias": "looma-test-jobs" } },
            { "remove_index": { "index": "looma-test-jobs" } }
        ] })
    );
    let deletes = server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .count();
    assert_eq!(deletes, 0, "remove_index already removed it, atomically");
}

#[tokio::test]
async fn after_a_reindex_the_collection_name_is_an_alias_and_searches_go_through_it() {
    let server = MockServer::start().await;
    mount(&server, "PUT", INDEX, 400, "create_index_alias_exists").await;
    mount(
        &server,
        "GET",
        "/looma-test-resumes/_count",
        200,
        "count_response",
    )
    .await;
    let index = ElasticsearchTextIndex::connect(&server.uri(), "looma-test").expect("connect");
    assert_eq!(index.count(Collection::Resumes).await.expect("count"), 42);

    // A commit of a version that does not exist is refused, and names the version.
    mount(
        &server,
        "GET",
        "/looma-test-resumes_v9/_refresh",
        404,
        "create_index_alias_exists",
    )
    .await;
    let error = index
        .commit_version(Collection::Resumes, 9)
        .await
        .expect_err("unknown version");
    assert!(
        matches!(&error, EngineError::InvalidQuery(m) if m.contains("version 9")),
        "{error:?}"
    );
    assert!(requests_to(&server, "/_aliases").await.is_empty());
}
