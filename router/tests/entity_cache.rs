//! The entity cache between the executor and a scripted subgraph: repeated entity fetches are
//! answered from the cache (the subgraph is asked only for what was missed, and the answer
//! keeps the order asked), answers never cross caller scopes, a change reported by the owning
//! subgraph is seen at once, and entities that came back with errors are not kept.

use bytes::Bytes;
use looma_auth::{ForwardedPrincipalCodec, Principal, PrincipalKind};
use looma_cache::{Cache, LocalCache};
use looma_router::compose::{SubgraphSource, compose};
use looma_router::config::RouterConfig;
use looma_router::pipeline::{self, GraphqlRequest, LoadedSupergraph};
use looma_router::supergraph::{Subgraph, Supergraph};
use looma_router::transport::entity_cache::{CacheScope, CachedEntity, EntityCacheConfig};
use looma_router::transport::{EntityCacheTransport, SubgraphRequest, SubgraphTransport};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LINK: &str =
    r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])"#;
const SECRET: &[u8] = b"entity-cache-test-secret-of-32-bytes!";
const SECRET_PERMISSION: &str = "item:secret";

fn supergraph() -> LoadedSupergraph {
    let source = |name: &str, sdl: &str| SubgraphSource {
        name: name.into(),
        url: format!("http://{name}/graphql"),
        sdl: format!("{LINK}\n{sdl}"),
    };
    let sdl = compose(&[
        source(
            "items",
            r#"type Query { items(ids: [ID!]!): [Item] }
               type Item @key(fields: "id") { id: ID! }"#,
        ),
        source(
            "details",
            r#"type Item @key(fields: "id") { id: ID! name: String secret: String }"#,
        ),
    ])
    .expect("composes");
    LoadedSupergraph::new(Supergraph::parse(&sdl).expect("parses"), 1 << 20)
}

/// `items` lists the ids asked for; `details` names each item with the current version and
/// shows its secret only to callers holding `item:secret`; item `bad` fails.
struct Subgraphs {
    codec: ForwardedPrincipalCodec,
    version: AtomicU64,
    /// The representations of every `details` request, in order.
    details_requests: Mutex<Vec<Vec<Value>>>,
}

impl Subgraphs {
    fn details_requests(&self) -> Vec<Vec<Value>> {
        self.details_requests.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl SubgraphTransport for Subgraphs {
    async fn send(
        &self,
        subgraph: &Subgraph,
        request: SubgraphRequest,
        headers: &http::HeaderMap,
    ) -> Result<Bytes, String> {
        let body: Value = serde_json::from_slice(&request.body).expect("a JSON request body");
        let answer = match subgraph.name.as_str() {
            "items" => {
                let items: Vec<Value> = body["variables"]["ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|id| json!({"__typename": "Item", "id": id}))
                    .collect();
                json!({"data": {"items": items}})
            }
            _ => {
                let representations = body["variables"]["representations"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                self.details_requests
                    .lock()
                    .unwrap()
                    .push(representations.clone());
                let may_see_secret = headers
                    .get(looma_auth::FORWARDED_PRINCIPAL_HEADER)
                    .and_then(|v| self.codec.decode(v.to_str().unwrap()).ok())
                    .is_some_and(|p| p.has(SECRET_PERMISSION));
                let version = self.version.load(Ordering::SeqCst);
                let mut errors = Vec::new();
                let entities: Vec<Value> = representations
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        let id = r["id"].as_str().unwrap();
                        if id == "bad" {
                            errors.push(
                                json!({"message": "no name", "path": ["_entities", i, "name"]}),
                            );
                            return json!({"__typename": "Item", "name": null, "secret": null});
                        }
                        json!({
                            "__typename": "Item",
                            "name": format!("{id} v{version}"),
                            "secret": may_see_secret.then(|| format!("secret of {id}")),
                        })
                    })
                    .collect();
                if errors.is_empty() {
                    json!({"data": {"_entities": entities}})
                } else {
                    json!({"data": {"_entities": entities}, "errors": errors})
                }
            }
        };
        Ok(Bytes::from(answer.to_string()))
    }
}

struct Setup {
    loaded: LoadedSupergraph,
    subgraphs: Arc<Subgraphs>,
    cache: Arc<dyn Cache>,
    router: EntityCacheTransport,
    codec: ForwardedPrincipalCodec,
}

fn setup(scope: CacheScope) -> Setup {
    let codec = ForwardedPrincipalCodec::new(SECRET).expect("a long enough secret");
    let subgraphs = Arc::new(Subgraphs {
        codec: codec.clone(),
        version: AtomicU64::new(1),
        details_requests: Mutex::new(Vec::new()),
    });
    let cache: Arc<dyn Cache> = Arc::new(LocalCache::new("entity-cache-test:", 1 << 20));
    let config = EntityCacheConfig {
        entities: vec![CachedEntity {
            subgraph: "details".into(),
            typename: "Item".into(),
            ttl_ms: 60_000,
            scope,
        }],
    };
    let router = EntityCacheTransport::wrap(
        subgraphs.clone(),
        cache.clone(),
        &config,
        Some(codec.clone()),
    )
    .expect("something is cached");
    Setup {
        loaded: supergraph(),
        subgraphs,
        cache,
        router,
        codec,
    }
}

fn principal(subject: &str, permissions: &[&str]) -> Principal {
    Principal {
        subject: subject.into(),
        kind: PrincipalKind::User,
        email: None,
        roles: vec![],
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
    }
}

impl Setup {
    /// `{ items(ids) { id name secret } }` as `caller`, then a moment for the cache to store.
    async fn items(&self, caller: Option<&Principal>, ids: &[&str]) -> Value {
        let mut headers = http::HeaderMap::new();
        if let Some(caller) = caller {
            headers.insert(
                looma_auth::FORWARDED_PRINCIPAL_HEADER,
                self.codec.encode(caller).parse().unwrap(),
            );
        }
        let request = GraphqlRequest {
            query: Some("query ($ids: [ID!]!) { items(ids: $ids) { id name secret } }".into()),
            variables: Some(json!({ "ids": ids })),
            ..GraphqlRequest::default()
        };
        let body = pipeline::execute(
            &self.loaded,
            &RouterConfig::default(),
            &self.router,
            &request,
            &headers,
        )
        .await;
        // Fetched entities are stored in the background.
        tokio::time::sleep(Duration::from_millis(50)).await;
        serde_json::from_slice(&body.into_bytes()).unwrap()
    }

    fn details_count(&self) -> usize {
        self.subgraphs.details_requests().len()
    }

    fn last_details_ids(&self) -> Vec<String> {
        self.subgraphs
            .details_requests()
            .last()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn item(id: &str, version: u64, secret: bool) -> Value {
    json!({
        "id": id,
        "name": format!("{id} v{version}"),
        "secret": if secret { Value::from(format!("secret of {id}")) } else { Value::Null },
    })
}

#[tokio::test]
async fn repeated_entity_fetches_are_answered_from_the_cache_in_the_order_asked() {
    let s = setup(CacheScope::Permissions);
    let kim = principal("kim", &["item:read", SECRET_PERMISSION]);

    let first = s.items(Some(&kim), &["1", "2"]).await;
    assert_eq!(
        first,
        json!({"data": {"items": [item("1", 1, true), item("2", 1, true)]}})
    );
    assert_eq!(s.details_count(), 1);

    let again = s.items(Some(&kim), &["1", "2"]).await;
    assert_eq!(again, first);
    assert_eq!(s.details_count(), 1, "every entity came from the cache");

    // Only the missing item goes to the subgraph, and the answer keeps the order asked.
    let more = s.items(Some(&kim), &["3", "1", "2"]).await;
    assert_eq!(
        more,
        json!({"data": {"items": [item("3", 1, true), item("1", 1, true), item("2", 1, true)]}})
    );
    assert_eq!(s.details_count(), 2);
    assert_eq!(s.last_details_ids(), vec!["3"]);
}

#[tokio::test]
async fn answers_never_cross_permission_scopes() {
    let s = setup(CacheScope::Permissions);
    let kim = principal("kim", &["item:read", SECRET_PERMISSION]);
    let lee = principal("lee", &["item:read", SECRET_PERMISSION]);
    let ann = principal("ann", &["item:read"]);

    s.items(Some(&kim), &["1"]).await;
    assert_eq!(s.details_count(), 1);
    let for_lee = s.items(Some(&lee), &["1"]).await;
    assert_eq!(for_lee["data"]["items"][0], item("1", 1, true));
    assert_eq!(s.details_count(), 1, "same permissions share the answer");

    let for_ann = s.items(Some(&ann), &["1"]).await;
    assert_eq!(
        for_ann["data"]["items"][0],
        item("1", 1, false),
        "a caller without the permission never reads the secret another fetched"
    );
    assert_eq!(s.details_count(), 2);
    let anonymous = s.items(None, &["1"]).await;
    assert_eq!(anonymous["data"]["items"][0], item("1", 1, false));
    assert_eq!(
        s.details_count(),
        3,
        "anonymous callers have a scope of their own"
    );

    let for_kim = s.items(Some(&kim), &["1"]).await;
    assert_eq!(for_kim["data"]["items"][0], item("1", 1, true));
    assert_eq!(s.details_count(), 3);
}

#[tokio::test]
async fn with_the_caller_scope_even_equal_permissions_do_not_share() {
    let s = setup(CacheScope::Caller);
    let kim = principal("kim", &["item:read", SECRET_PERMISSION]);
    let lee = principal("lee", &["item:read", SECRET_PERMISSION]);
    s.items(Some(&kim), &["1"]).await;
    s.items(Some(&lee), &["1"]).await;
    assert_eq!(s.details_count(), 2);
    s.items(Some(&kim), &["1"]).await;
    s.items(Some(&lee), &["1"]).await;
    assert_eq!(s.details_count(), 2, "each caller reads their own");
}

#[tokio::test]
async fn a_reported_change_is_seen_at_once() {
    let s = setup(CacheScope::Permissions);
    let kim = principal("kim", &["item:read"]);
    s.items(Some(&kim), &["1", "2"]).await;
    assert_eq!(s.details_count(), 1);

    // The owning subgraph changes item 2 and says so.
    s.subgraphs.version.store(2, Ordering::SeqCst);
    looma_cache::entities::invalidate(s.cache.as_ref(), "Item", &json!({"id": "2"}))
        .await
        .unwrap();
    let after = s.items(Some(&kim), &["1", "2"]).await;
    assert_eq!(
        after,
        json!({"data": {"items": [item("1", 1, false), item("2", 2, false)]}}),
        "item 1 is still cached (unchanged), item 2 is fetched afresh"
    );
    assert_eq!(s.details_count(), 2);
    assert_eq!(s.last_details_ids(), vec!["2"]);
}

#[tokio::test]
async fn entities_that_failed_are_not_kept_and_errors_point_at_them() {
    let s = setup(CacheScope::Permissions);
    let kim = principal("kim", &["item:read"]);
    s.items(Some(&kim), &["1"]).await;
    let mixed = s.items(Some(&kim), &["1", "bad"]).await;
    assert_eq!(mixed["data"]["items"][0], item("1", 1, false));
    assert_eq!(mixed["data"]["items"][1]["name"], Value::Null);
    assert_eq!(
        mixed["errors"][0]["path"],
        json!(["items", 1, "name"]),
        "the error names the item it is about, not its place in the smaller fetch: {mixed}"
    );
    assert_eq!(s.last_details_ids(), vec!["bad"]);
    s.items(Some(&kim), &["bad"]).await;
    assert_eq!(s.details_count(), 3, "the failed entity is asked for again");
}
