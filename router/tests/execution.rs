//! The executor against a scripted transport: fetches run as a dependency graph (an entity
//! fetch goes out as soon as the fetch it depends on has answered, without waiting for an
//! unrelated slow one), and the request bodies carry the variables and the de-duplicated
//! representations as JSON.

use bytes::Bytes;
use looma_router::compose::{SubgraphSource, compose};
use looma_router::config::RouterConfig;
use looma_router::pipeline::{self, GraphqlRequest, LoadedSupergraph};
use looma_router::supergraph::{Subgraph, Supergraph};
use looma_router::transport::{SubgraphRequest, SubgraphTransport};
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::Duration;

const LINK: &str =
    r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])"#;

fn supergraph() -> LoadedSupergraph {
    let source = |name: &str, sdl: &str| SubgraphSource {
        name: name.into(),
        url: format!("http://{name}/graphql"),
        sdl: format!("{LINK}\n{sdl}"),
    };
    let sdl = compose(&[
        source("slow", "type Query { slow: String }"),
        source(
            "items",
            r#"type Query { items(tag: String): [Item] }
               type Item @key(fields: "id") { id: ID! }"#,
        ),
        source(
            "names",
            r#"type Item @key(fields: "id") { id: ID! name: String }"#,
        ),
    ])
    .expect("composes");
    LoadedSupergraph::new(Supergraph::parse(&sdl).expect("parses"), 1 << 20)
}

/// Answers each subgraph after its own delay and records what happened, in order.
#[derive(Default)]
struct Scripted {
    events: Mutex<Vec<String>>,
    bodies: Mutex<Vec<(String, Value)>>,
}

impl Scripted {
    fn note(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }
}

#[async_trait::async_trait]
impl SubgraphTransport for Scripted {
    async fn send(
        &self,
        subgraph: &Subgraph,
        request: SubgraphRequest,
        _headers: &http::HeaderMap,
    ) -> Result<Bytes, String> {
        let name = subgraph.name.as_str();
        let body: Value = serde_json::from_slice(&request.body).expect("a JSON request body");
        self.bodies
            .lock()
            .unwrap()
            .push((name.to_owned(), body.clone()));
        self.note(format!("{name} sent"));
        let (delay, answer) = match name {
            "slow" => (300, json!({"data": {"slow": "at last"}})),
            "items" => (
                0,
                json!({"data": {"items": [
                    {"__typename": "Item", "id": "1"},
                    {"__typename": "Item", "id": "2"},
                    {"__typename": "Item", "id": "1"},
                ]}}),
            ),
            _ => {
                let representations = body["variables"]["representations"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let entities: Vec<Value> = representations
                    .iter()
                    .map(|r| json!({"__typename": "Item", "name": format!("item {}", r["id"].as_str().unwrap_or("?"))}))
                    .collect();
                (0, json!({"data": {"_entities": entities}}))
            }
        };
        tokio::time::sleep(Duration::from_millis(delay)).await;
        self.note(format!("{name} answered"));
        Ok(Bytes::from(answer.to_string()))
    }
}

#[tokio::test]
async fn a_fetch_starts_when_its_dependencies_answer_not_when_a_wave_does() {
    let loaded = supergraph();
    let transport = Scripted::default();
    let request = GraphqlRequest {
        query: Some("query ($tag: String) { slow items(tag: $tag) { id name } }".into()),
        variables: Some(json!({"tag": "rust"})),
        ..GraphqlRequest::default()
    };
    let body = pipeline::execute(
        &loaded,
        &RouterConfig::default(),
        &transport,
        &request,
        &http::HeaderMap::new(),
    )
    .await;
    let response: Value = serde_json::from_slice(&body.into_bytes()).unwrap();
    assert_eq!(
        response,
        json!({"data": {
            "slow": "at last",
            "items": [
                {"id": "1", "name": "item 1"},
                {"id": "2", "name": "item 2"},
                {"id": "1", "name": "item 1"},
            ],
        }})
    );

    let events = transport.events.lock().unwrap().clone();
    let at = |event: &str| {
        events
            .iter()
            .position(|e| e == event)
            .unwrap_or_else(|| panic!("no `{event}` in {events:?}"))
    };
    // The names fetch depends only on the items fetch: it went out and came back while the
    // unrelated slow fetch was still running.
    assert!(at("names sent") > at("items answered"), "{events:?}");
    assert!(at("names answered") < at("slow answered"), "{events:?}");

    let bodies = transport.bodies.lock().unwrap().clone();
    let items = &bodies.iter().find(|(name, _)| name == "items").unwrap().1;
    assert_eq!(items["variables"], json!({"tag": "rust"}));
    assert!(items["query"].as_str().unwrap().contains("items"));
    // Item 1 appears twice in the list but is asked for once.
    let names = &bodies.iter().find(|(name, _)| name == "names").unwrap().1;
    assert_eq!(
        names["variables"]["representations"],
        json!([
            {"id": "1", "__typename": "Item"},
            {"id": "2", "__typename": "Item"},
        ])
    );
}
