//! The router in front of four fixture subgraphs (accounts, products, inventory, reviews),
//! over HTTP: planning across subgraphs, batching (request counts), `@requires`,
//! `@provides`, `@inaccessible`, partial failure, limits, APQ, edge authentication, hot
//! reload and composition errors.

use looma::LoomaConfig;
use looma::platform::{Component, Platform};
use looma_router::compose::{SubgraphSource, compose};
use looma_testkit::FixtureSubgraph;
use serde_json::{Value, json};
use std::time::Duration;

struct RouterFixture {
    subgraphs: Vec<FixtureSubgraph>,
    platform: Option<Platform>,
    url: String,
    supergraph_path: std::path::PathBuf,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn sources(subgraphs: &[FixtureSubgraph]) -> Vec<SubgraphSource> {
    subgraphs
        .iter()
        .map(|s| SubgraphSource {
            name: s.name.to_owned(),
            url: s.url(),
            sdl: s.sdl.clone(),
        })
        .collect()
}

impl RouterFixture {
    async fn start() -> RouterFixture {
        Self::start_with(|_| {}).await
    }

    async fn start_with(adjust: impl FnOnce(&mut LoomaConfig)) -> RouterFixture {
        let subgraphs = looma_testkit::start_all(0)
            .await
            .expect("fixture subgraphs start");
        let supergraph = compose(&sources(&subgraphs)).expect("fixtures compose");
        let dir = tempfile::tempdir().expect("temp dir");
        let supergraph_path = dir.path().join("supergraph.graphql");
        std::fs::write(&supergraph_path, supergraph).expect("write supergraph");
        let mut config = LoomaConfig::default();
        config.router.supergraph_path = Some(supergraph_path.clone());
        config.router.reload_interval_ms = 100;
        config.log.level = "warn".into();
        adjust(&mut config);
        let platform = Platform::start(&config, &[Component::Router], true)
            .await
            .expect("router starts");
        let url = format!(
            "http://{}/graphql",
            platform.addr(Component::Router).expect("router")
        );
        RouterFixture {
            subgraphs,
            platform: Some(platform),
            url,
            supergraph_path,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    fn subgraph(&self, name: &str) -> &FixtureSubgraph {
        self.subgraphs
            .iter()
            .find(|s| s.name == name)
            .expect("known subgraph")
    }

    fn counts(&self) -> Vec<(&'static str, usize)> {
        self.subgraphs
            .iter()
            .map(|s| (s.name, s.requests()))
            .collect()
    }

    async fn post(&self, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .expect("router answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    async fn query(&self, query: &str, variables: Value) -> Value {
        self.post(json!({"query": query, "variables": variables}))
            .await
            .1
    }

    async fn stop(mut self) {
        if let Some(platform) = self.platform.take() {
            platform.shutdown().await.expect("clean shutdown");
        }
    }
}

/// The APQ `extensions` naming `query` by its SHA-256.
fn apq_extensions(query: &str) -> Value {
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(query.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({"persistedQuery": {"version": 1, "sha256Hash": hash}})
}

fn data(body: &Value) -> &Value {
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    &body["data"]
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected a coded error: {body}"))
}

const NESTED: &str = "query Top($first: Int) {
  topProducts(first: $first) {
    upc name price inStock shippingEstimate
    reviews { body author { username name } }
  }
}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_query_spans_four_subgraphs_with_one_request_each() {
    let router = RouterFixture::start().await;
    let echoed = router
        .http
        .post(&router.url)
        .header("x-request-id", "req-42")
        .json(&json!({"query": "{ me { id } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        echoed.headers()["x-request-id"],
        "req-42",
        "request ids are echoed"
    );
    let generated = router
        .http
        .post(&router.url)
        .json(&json!({"query": "{ me { id } }"}))
        .send()
        .await
        .unwrap();
    assert!(
        generated.headers().contains_key("x-request-id"),
        "and generated when absent"
    );
    let before = router.counts();
    let body = router.query(NESTED, json!({"first": 3})).await;
    let products = data(&body)["topProducts"].as_array().expect("list").clone();
    assert_eq!(products.len(), 3);
    let first = &products[0];
    assert_eq!(first["upc"], "p0");
    assert_eq!(first["name"], "Product 0");
    assert_eq!(first["inStock"], true);
    assert_eq!(
        first["shippingEstimate"], 5,
        "@requires sent price and weight to inventory"
    );
    assert_eq!(products[1]["inStock"], false);
    let reviews = first["reviews"].as_array().expect("reviews");
    assert_eq!(reviews.len(), looma_testkit::REVIEWS_PER_PRODUCT);
    assert_eq!(
        reviews[0]["author"],
        json!({"username": "user0", "name": "User 0"})
    );
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys.len(),
        6,
        "no planner fields (keys, requirements) leak: {keys:?}"
    );
    // products: root; inventory: one batch for all products; reviews: one batch; accounts:
    // one batch for every author (de-duplicated representations).
    let after: Vec<(&str, usize)> = router
        .counts()
        .iter()
        .zip(&before)
        .map(|((name, now), (_, then))| (*name, now - then))
        .collect();
    assert_eq!(
        after,
        [
            ("accounts", 1),
            ("products", 1),
            ("inventory", 1),
            ("reviews", 1)
        ]
    );
    // Field order is checked on the raw text (parsed JSON maps do not keep it).
    let raw = router
        .http
        .post(&router.url)
        .json(&json!({"query": NESTED, "variables": {"first": 1}}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let product = &raw[raw.find("\"topProducts\"").unwrap()..];
    let positions: Vec<usize> = [
        "\"upc\"",
        "\"name\"",
        "\"price\"",
        "\"inStock\"",
        "\"shippingEstimate\"",
        "\"reviews\"",
    ]
    .iter()
    .map(|key| {
        product
            .find(key)
            .unwrap_or_else(|| panic!("{key} in {product}"))
    })
    .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "fields come in request order: {product}"
    );
    assert!(
        !raw.contains("weight") && !raw.contains("__typename"),
        "no planner fields: {raw}"
    );
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provides_and_aliases_fragments_directives() {
    let router = RouterFixture::start().await;
    let body = router
        .query(
            "query($withName: Boolean!) {
               first: topProducts(first: 1) {
                 __typename
                 ...Parts
                 cost: price
                 reviews { author { username } }
               }
               second: topProducts(first: 2) { upc }
             }
             fragment Parts on Product { upc name @include(if: $withName) inStock @skip(if: true) }",
            json!({"withName": false}),
        )
        .await;
    let body = data(&body);
    assert_eq!(
        body["first"][0],
        json!({
            "__typename": "Product",
            "upc": "p0",
            "cost": 100,
            "reviews": [{"author": {"username": "user0"}}, {"author": {"username": "user1"}}, {"author": {"username": "user2"}}]
        })
    );
    assert_eq!(body["second"], json!([{"upc": "p0"}, {"upc": "p1"}]));
    assert_eq!(
        router.subgraph("accounts").requests(),
        0,
        "@provides: username came with the review"
    );
    assert_eq!(
        router.subgraph("inventory").requests(),
        0,
        "a literal @skip(if: true) field is never fetched"
    );
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inaccessible_and_internals_are_hidden() {
    let router = RouterFixture::start().await;
    let body = router
        .query(
            "{ __schema { types { name } } __type(name: \"User\") { fields { name } } }",
            json!({}),
        )
        .await;
    let types: Vec<String> = data(&body)["__schema"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(types.contains(&"Product".to_owned()));
    assert!(
        !types
            .iter()
            .any(|t| t.starts_with("join__") || t.starts_with("link__")),
        "{types:?}"
    );
    let fields: Vec<&str> = data(&body)["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"username") && !fields.contains(&"internalScore"),
        "{fields:?}"
    );
    let hidden = router.query("{ me { internalScore } }", json!({})).await;
    assert_eq!(code(&hidden), "GRAPHQL_VALIDATION_FAILED");
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subgraph_down_gives_partial_data_and_names_it() {
    let router = RouterFixture::start().await;
    let ready_url = router.url.replace("/graphql", "/ready");
    let ready = router.http.get(&ready_url).send().await.unwrap();
    assert_eq!(ready.status(), 200, "all subgraphs answer");
    router.subgraph("inventory").stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let body = router
        .query("{ topProducts(first: 2) { upc inStock } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["topProducts"],
        json!([{"upc": "p0", "inStock": null}, {"upc": "p1", "inStock": null}])
    );
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "SUBGRAPH_UNAVAILABLE");
    assert_eq!(error["extensions"]["serviceName"], "inventory");
    let ready = router.http.get(&ready_url).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert!(
        ready["checks"]["subgraphs"]
            .as_str()
            .unwrap()
            .contains("inventory"),
        "{ready}"
    );
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_bad_requests_have_codes() {
    let router = RouterFixture::start_with(|config| {
        config.router.max_depth = 4;
        config.router.max_aliases = 3;
        config.router.max_root_fields = 2;
    })
    .await;
    let deep = router
        .query(
            "{ topProducts { reviews { author { reviews { body } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&deep), "OPERATION_LIMIT");
    let aliases = router
        .query(
            "{ a: me { id } b: me { id } c: me { x: id y: id } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&aliases), "OPERATION_LIMIT");
    let roots = router
        .query("{ me { id } users { id } topProducts { upc } }", json!({}))
        .await;
    assert_eq!(code(&roots), "OPERATION_LIMIT");
    assert_eq!(
        code(&router.query("{ me { id ", json!({})).await),
        "GRAPHQL_PARSE_FAILED"
    );
    assert_eq!(
        code(&router.query("{ nope }", json!({})).await),
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert_eq!(
        code(&router.query(NESTED, json!({"first": "three"})).await),
        "BAD_USER_INPUT"
    );
    let (status, body) = router.post(json!("not a request")).await;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"));
    assert!(
        router.counts().iter().all(|(_, n)| *n == 0),
        "nothing reached a subgraph: {:?}",
        router.counts()
    );
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_persisted_queries() {
    let router = RouterFixture::start().await;
    let query = "{ me { username } }";
    let extensions = apq_extensions(query);
    let (_, unknown) = router.post(json!({"extensions": extensions})).await;
    assert_eq!(code(&unknown), "PERSISTED_QUERY_NOT_FOUND");
    let (_, registered) = router
        .post(json!({"query": query, "extensions": extensions}))
        .await;
    assert_eq!(data(&registered)["me"]["username"], "user1");
    let (_, by_hash) = router.post(json!({"extensions": extensions})).await;
    assert_eq!(data(&by_hash)["me"]["username"], "user1");
    let wrong = json!({"persistedQuery": {"version": 1, "sha256Hash": "00"}});
    let (_, mismatch) = router
        .post(json!({"query": query, "extensions": wrong}))
        .await;
    assert_eq!(code(&mismatch), "PERSISTED_QUERY_HASH_MISMATCH");
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_never_reach_a_subgraph() {
    let router = RouterFixture::start().await;
    for (name, value) in [
        ("authorization", "Bearer not-a-jwt"),
        (
            "authorization",
            "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        ),
        (
            "x-api-key",
            "lk_nope_0000000000000000000000000000000000000000",
        ),
        ("x-looma-principal", "forged.value"),
    ] {
        let response = router
            .http
            .post(&router.url)
            .header(name, value)
            .json(&json!({"query": "{ me { id } }"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{name}: {value}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body), "UNAUTHENTICATED");
    }
    assert!(
        router.counts().iter().all(|(_, n)| *n == 0),
        "{:?}",
        router.counts()
    );
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supergraph_hot_reload_keeps_serving_on_a_broken_file() {
    let router = RouterFixture::start().await;
    let before = router
        .query("{ topProducts(first: 1) { reviews { id } } }", json!({}))
        .await;
    assert!(data(&before)["topProducts"][0]["reviews"].is_array());

    let without_reviews: Vec<SubgraphSource> = sources(&router.subgraphs)
        .into_iter()
        .filter(|s| s.name != "reviews")
        .collect();
    std::fs::write(&router.supergraph_path, compose(&without_reviews).unwrap()).unwrap();
    let mut reloaded = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let body = router
            .query("{ topProducts(first: 1) { reviews { id } } }", json!({}))
            .await;
        if body.get("errors").is_some() {
            assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED");
            reloaded = true;
            break;
        }
    }
    assert!(
        reloaded,
        "the new supergraph (without reviews) was picked up"
    );

    std::fs::write(&router.supergraph_path, "this is not a supergraph").unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still = router
        .query("{ topProducts(first: 1) { upc } }", json!({}))
        .await;
    assert_eq!(
        data(&still)["topProducts"][0]["upc"],
        "p0",
        "the last good supergraph keeps serving"
    );
    router.stop().await;
}

#[test]
fn composition_errors_name_subgraph_type_and_field() {
    let source = |name: &str, sdl: &str| SubgraphSource {
        name: name.into(),
        url: format!("http://{name}"),
        sdl: sdl.into(),
    };
    let link = "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@key\", \"@shareable\"])\n";
    let conflict = compose(&[
        source(
            "a",
            &format!("{link}type Query {{ price: Int @shareable }}"),
        ),
        source(
            "b",
            &format!("{link}type Query {{ price: String @shareable }}"),
        ),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        conflict.contains("Query.price") && conflict.contains("[a]") && conflict.contains("[b]"),
        "{conflict}"
    );

    let unshared = compose(&[
        source("a", &format!("{link}type Query {{ me: User }} type User @key(fields: \"id\") {{ id: ID! name: String }}")),
        source("b", &format!("{link}type User @key(fields: \"id\") {{ id: ID! name: String }}")),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        unshared.contains("User.name") && unshared.contains("@shareable"),
        "{unshared}"
    );

    let unknown_key = compose(&[source(
        "a",
        &format!("{link}type Query {{ me: User }} type User @key(fields: \"uuid\") {{ id: ID! }}"),
    )])
    .unwrap_err()
    .to_string();
    assert!(
        unknown_key.contains("[a]") && unknown_key.contains("User") && unknown_key.contains("uuid"),
        "{unknown_key}"
    );

    let unreachable = compose(&[
        source(
            "a",
            &format!("{link}type Query {{ me: User }} type User {{ id: ID! }}"),
        ),
        source(
            "b",
            &format!("{link}type User {{ id: ID! @shareable nickname: String }}"),
        ),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        unreachable.contains("User.nickname") && unreachable.contains("[a]"),
        "{unreachable}"
    );
}

/// `looma dev`'s shape: identity behind the router, tokens verified at the edge against
/// identity's JWKS and the principal forwarded to identity with the router secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_through_the_router_with_edge_auth() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = LoomaConfig::default();
    config.database.url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("looma.db").display()
    );
    config.server.router_secret =
        looma_core::Secret::new("router-secret-for-tests-0123456789abcdef");
    config.log.level = "warn".into();
    // Identity must be listening before its URL goes into the supergraph.
    let identity = Platform::start(&config, &[Component::Identity], true)
        .await
        .unwrap();
    let identity_addr = identity.addr(Component::Identity).unwrap();
    let service = looma_identity::IdentityService::start(
        looma_identity::store::IdentityStore::new(identity.shared.as_ref().unwrap().db.clone()),
        identity.shared.as_ref().unwrap().cache.clone(),
        config.identity.clone(),
    )
    .await
    .unwrap();
    service
        .create_user(looma_identity::service::NewUser {
            email: "edge@looma.test".into(),
            password: "Gateway-Passw0rd-77".into(),
            display_name: "Edge".into(),
            roles: vec!["admin".into()],
        })
        .await
        .unwrap();
    let supergraph = compose(&[SubgraphSource {
        name: "identity".into(),
        url: format!("http://{identity_addr}/graphql"),
        sdl: looma_identity::sdl(),
    }])
    .unwrap();
    let path = dir.path().join("supergraph.graphql");
    std::fs::write(&path, supergraph).unwrap();
    config.router.supergraph_path = Some(path);
    config.router.jwks_url = Some(format!("http://{identity_addr}/.well-known/jwks.json"));
    config.router.identity_url = Some(format!("http://{identity_addr}/graphql"));
    let router = Platform::start(&config, &[Component::Router], true)
        .await
        .unwrap();
    let url = format!("http://{}/graphql", router.addr(Component::Router).unwrap());
    let http = reqwest::Client::new();
    let post = |body: Value, header: Option<(&'static str, String)>| {
        let mut request = http.post(&url).json(&body);
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };

    let login = post(
        json!({"query": "mutation { login(email: \"edge@looma.test\", password: \"Gateway-Passw0rd-77\") { accessToken } }"}),
        None,
    )
    .await;
    let token = data(&login)["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = post(
        json!({"query": "{ me { email roles } caller { kind } }"}),
        Some(("authorization", format!("Bearer {token}"))),
    )
    .await;
    assert_eq!(
        data(&me)["me"],
        json!({"email": "edge@looma.test", "roles": ["admin"]})
    );

    let key = post(
        json!({"query": "mutation { createApiKey(input: {name: \"crm\", permissions: [\"config:read\"]}) { secret } }"}),
        Some(("authorization", format!("Bearer {token}"))),
    )
    .await;
    let secret = data(&key)["createApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let service_call = post(
        json!({"query": "{ caller { kind permissions } }"}),
        Some(("x-api-key", secret)),
    )
    .await;
    assert_eq!(
        data(&service_call)["caller"],
        json!({"kind": "SERVICE", "permissions": ["config:read"]})
    );

    let anonymous = post(json!({"query": "{ me { email } }"}), None).await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    router.shutdown().await.unwrap();
    identity.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_is_served_from_the_binary() {
    let router = RouterFixture::start().await;
    let base = router.url.trim_end_matches("/graphql").to_owned();
    let page = router.http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("https://") && !html.contains("http://"),
        "no other host is referenced"
    );
    let browser = router
        .http
        .get(&router.url)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(
        browser.text().await.unwrap().contains("<html"),
        "browsers get the playground on /graphql too"
    );
    if looma_router::graphiql::assets_embedded() {
        for asset in [
            "graphiql.min.js",
            "graphiql.min.css",
            "react.production.min.js",
            "react-dom.production.min.js",
        ] {
            assert!(
                html.contains(&format!("/graphiql/{asset}")),
                "{asset} referenced"
            );
            let response = router
                .http
                .get(format!("{base}/graphiql/{asset}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{asset}");
            assert!(
                response.bytes().await.unwrap().len() > 1_000,
                "{asset} has content"
            );
        }
    } else {
        assert!(
            html.contains("scripts/vendor-graphiql"),
            "the page says how to install the assets"
        );
    }
    let missing = router
        .http
        .get(format!("{base}/graphiql/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    router.stop().await;
}

/// With Redis configured, a query persisted through one router replica is known to another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persisted_queries_are_shared_through_redis_needs_redis_server() {
    let Ok(redis_url) = std::env::var("LOOMA_TEST_REDIS_URL") else {
        crate::harness::report_skipped("LOOMA_TEST_REDIS_URL is not set");
        return;
    };
    let prefix = format!("looma-test:{}:", uuid::Uuid::new_v4().simple());
    let with_redis = |config: &mut LoomaConfig| {
        config.cache.redis_url = Some(redis_url.clone());
        config.cache.key_prefix = prefix.clone();
    };
    let first = RouterFixture::start_with(with_redis).await;
    let second = RouterFixture::start_with(with_redis).await;
    let query = "{ users { id } }";
    let extensions = apq_extensions(query);
    let (_, unknown) = second.post(json!({"extensions": extensions})).await;
    assert_eq!(code(&unknown), "PERSISTED_QUERY_NOT_FOUND");
    let (_, registered) = first
        .post(json!({"query": query, "extensions": extensions}))
        .await;
    assert!(data(&registered)["users"].is_array());
    let (_, by_hash) = second.post(json!({"extensions": extensions})).await;
    assert_eq!(
        data(&by_hash)["users"].as_array().unwrap().len(),
        looma_testkit::USERS
    );
    first.stop().await;
    second.stop().await;
    let cache = looma_cache::RedisCache::connect(&redis_url, &prefix, Duration::from_secs(2))
        .await
        .unwrap();
    assert!(
        cache.clear_prefix().await.unwrap() >= 1,
        "the persisted query was stored in Redis"
    );
}
