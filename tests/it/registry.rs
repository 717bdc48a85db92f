//! The schema registry (8213): publish, check (with usage), history and diffs through its
//! GraphQL API; routers that follow it swap supergraphs under load without failing a request;
//! a subgraph started with `--register` joins a running router and leaves it when killed.

use crate::harness::{self, Auth, Backend, ROUTER_SECRET, TestPlatform, data, error_code};
use looma::platform::{Component, Platform};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub(crate) async fn registry(
    platform: &TestPlatform,
    auth: &Auth,
    query: &str,
    variables: Value,
) -> Value {
    let request = platform
        .http
        .post(format!("{}/graphql", platform.url(Component::Registry)))
        .json(&json!({ "query": query, "variables": variables }));
    harness::with_auth(request, auth)
        .send()
        .await
        .expect("registry answers")
        .json()
        .await
        .expect("JSON body")
}

const PUBLISH: &str = "mutation($input: PublishSchemaInput!) {
  publishSchema(input: $input) {
    unchanged supergraphVersion
    schemaVersion { id subgraph publishedBy commit }
    changes { severity path }
  }
}";

const CHECK: &str = "query($subgraph: String!, $sdl: String!) {
  schemaCheck(subgraph: $subgraph, sdl: $sdl) {
    verdict compositionErrors
    changes { severity originalSeverity path affectedOperations affectedClients { name version } usageCount }
  }
}";

async fn publish(
    platform: &TestPlatform,
    auth: &Auth,
    subgraph: &str,
    sdl: &str,
    url: &str,
) -> Value {
    registry(
        platform,
        auth,
        PUBLISH,
        json!({ "input": { "subgraph": subgraph, "sdl": sdl, "url": url, "commit": "abc123" } }),
    )
    .await
}

fn fixture<'a>(
    fixtures: &'a [looma_testkit::FixtureSubgraph],
    name: &str,
) -> &'a looma_testkit::FixtureSubgraph {
    fixtures.iter().find(|f| f.name == name).expect("fixture")
}

async fn publish_check_history_and_permissions(platform: TestPlatform) -> TestPlatform {
    let fixtures = looma_testkit::start_all(0).await.unwrap();
    let products = fixture(&fixtures, "products");
    let accounts = fixture(&fixtures, "accounts");
    let admin = platform.admin().await;

    let first = publish(
        &platform,
        &admin,
        "products",
        &products.sdl,
        &products.url(),
    )
    .await;
    let first = &data(&first)["publishSchema"];
    assert_eq!(first["unchanged"], false);
    assert_eq!(first["schemaVersion"]["commit"], "abc123");
    let v1_id = first["schemaVersion"]["id"].as_str().unwrap().to_owned();
    let version1 = first["supergraphVersion"].as_i64().unwrap();
    let again = publish(
        &platform,
        &admin,
        "products",
        &products.sdl,
        &products.url(),
    )
    .await;
    assert_eq!(data(&again)["publishSchema"]["unchanged"], true);
    assert_eq!(data(&again)["publishSchema"]["supergraphVersion"], version1);
    let added = publish(
        &platform,
        &admin,
        "accounts",
        &accounts.sdl,
        &accounts.url(),
    )
    .await;
    assert_eq!(
        data(&added)["publishSchema"]["supergraphVersion"],
        version1 + 1
    );

    // A subgraph that redefines what products owns does not compose: refused, every error
    // named, nothing stored.
    let clash = publish(
        &platform,
        &admin,
        "clash",
        &products.sdl,
        "http://127.0.0.1:9/graphql",
    )
    .await;
    assert_eq!(error_code(&clash), "COMPOSITION_FAILED", "{clash}");
    let message = clash["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("topProducts"), "{message}");
    let versions = registry(
        &platform,
        &admin,
        "{ supergraphVersions { version reason createdBy subgraphs { subgraph } } }",
        json!({}),
    )
    .await;
    let versions = data(&versions)["supergraphVersions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert_eq!(versions[0]["reason"], "accounts added");
    assert_eq!(versions[0]["subgraphs"].as_array().unwrap().len(), 2);
    let history = registry(
        &platform,
        &admin,
        "{ schemaHistory(subgraph: \"clash\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(data(&history)["schemaHistory"], json!([]));

    // Removing `Product.weight` is breaking, but no operation used it yet: safe.
    let without_weight = products.sdl.replace("\tweight: Int!\n", "");
    assert_ne!(
        without_weight, products.sdl,
        "the fixture has a weight field"
    );
    let check = |sdl: String| {
        let platform = &platform;
        let admin = &admin;
        async move {
            let body = registry(
                platform,
                admin,
                CHECK,
                json!({ "subgraph": "products", "sdl": sdl }),
            )
            .await;
            data(&body)["schemaCheck"].clone()
        }
    };
    let unused = check(without_weight.clone()).await;
    assert_eq!(unused["verdict"], "SAFE", "{unused}");
    assert_eq!(unused["changes"][0]["path"], "Product.weight");
    assert_eq!(unused["changes"][0]["severity"], "SAFE");
    assert_eq!(unused["changes"][0]["originalSeverity"], "BREAKING");

    // A router reports an operation that reads it: now breaking, naming who would break.
    let reported = registry(
        &platform,
        &admin,
        "mutation($ops: [OperationUsageInput!]!) { reportSchemaUsage(operations: $ops) }",
        json!({ "ops": [{
            "signature": "a".repeat(64), "name": "ProductWeights",
            "coordinates": ["Query.topProducts", "Product.weight"],
            "clientName": "crm-web", "clientVersion": "2.1.0", "count": 3,
        }]}),
    )
    .await;
    assert_eq!(data(&reported)["reportSchemaUsage"], 1);
    let used = check(without_weight.clone()).await;
    assert_eq!(used["verdict"], "BREAKING", "{used}");
    let change = &used["changes"][0];
    assert_eq!(change["affectedOperations"], json!(["ProductWeights"]));
    assert_eq!(
        change["affectedClients"],
        json!([{"name": "crm-web", "version": "2.1.0"}])
    );
    assert_eq!(change["usageCount"], 3);
    // A field nobody used stays safe to remove beside it.
    let without_price = products.sdl.replace("\tprice: Int!\n", "");
    assert_eq!(check(without_price).await["verdict"], "SAFE");
    // Accounts redefining what products owns does not compose.
    let body = registry(
        &platform,
        &admin,
        CHECK,
        json!({ "subgraph": "accounts", "sdl": products.sdl }),
    )
    .await;
    let broken = data(&body)["schemaCheck"].clone();
    assert_eq!(broken["verdict"], "COMPOSITION_ERROR", "{broken}");
    assert!(!broken["compositionErrors"].as_array().unwrap().is_empty());

    // Publishing it is refused while a client uses the field, naming them; `force` publishes.
    let refused = publish(
        &platform,
        &admin,
        "products",
        &without_weight,
        &products.url(),
    )
    .await;
    assert_eq!(error_code(&refused), "CONFLICT", "{refused}");
    assert_eq!(harness::error_reason(&refused), "BREAKING_CHANGE");
    let message = refused["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("crm-web 2.1.0") && message.contains("ProductWeights"),
        "{message}"
    );
    let v2 = registry(
        &platform,
        &admin,
        PUBLISH,
        json!({ "input": { "subgraph": "products", "sdl": without_weight, "url": products.url(), "force": true } }),
    )
    .await;
    let v2 = &data(&v2)["publishSchema"];
    assert_eq!(
        v2["changes"],
        json!([{"severity": "BREAKING", "path": "Product.weight"}])
    );
    let v2_id = v2["schemaVersion"]["id"].as_str().unwrap().to_owned();
    let history = registry(
        &platform,
        &admin,
        "{ schemaHistory(subgraph: \"products\") { id publishedBy } }",
        json!({}),
    )
    .await;
    let ids: Vec<&str> = data(&history)["schemaHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![v2_id.as_str(), v1_id.as_str()]);
    let diff = registry(&platform, &admin, "query($from: ID!, $to: ID!) { schemaDiff(from: $from, to: $to) { severity path message } }", json!({"from": v1_id, "to": v2_id})).await;
    assert_eq!(data(&diff)["schemaDiff"][0]["path"], "Product.weight");
    let latest = registry(
        &platform,
        &admin,
        "{ supergraphVersion { version sdl } }",
        json!({}),
    )
    .await;
    let sdl = data(&latest)["supergraphVersion"]["sdl"].as_str().unwrap();
    assert!(
        sdl.contains("topProducts") && !sdl.contains("weight"),
        "{sdl}"
    );
    let old = registry(
        &platform,
        &admin,
        "query($v: Int) { supergraphVersion(version: $v) { sdl } }",
        json!({"v": version1}),
    )
    .await;
    assert!(
        data(&old)["supergraphVersion"]["sdl"]
            .as_str()
            .unwrap()
            .contains("weight")
    );

    // The registry's API is part of the platform's supergraph.
    let through_router = platform
        .gql_router(
            &admin,
            "{ registeredSubgraphs { name live routingUrl schema { subgraph } } }",
            json!({}),
        )
        .await;
    let names: Vec<&str> = data(&through_router)["registeredSubgraphs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["accounts", "products"]);

    // A live instance (registered by an admin here): a planned stop takes it out of the
    // routes at once but keeps the subgraph for the removal grace.
    let reviews = fixture(&fixtures, "reviews");
    let registered = registry(
        &platform,
        &admin,
        "mutation($input: RegisterInstanceInput!) { registerInstance(input: $input) { instanceId supergraphVersion } }",
        json!({ "input": { "subgraph": "reviews", "url": reviews.url(), "sdl": reviews.sdl, "instanceId": "reviews-a" } }),
    )
    .await;
    assert_eq!(
        data(&registered)["registerInstance"]["instanceId"],
        "reviews-a"
    );
    let stopped = registry(
        &platform,
        &admin,
        "mutation { deregisterInstance(instanceId: \"reviews-a\") }",
        json!({}),
    )
    .await;
    assert_eq!(data(&stopped)["deregisterInstance"], true);
    let after = registry(
        &platform,
        &admin,
        "{ registeredSubgraphs { name instances { id healthy } } }",
        json!({}),
    )
    .await;
    let reviews_now = data(&after)["registeredSubgraphs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "reviews")
        .cloned()
        .expect("still in the composition");
    assert_eq!(
        reviews_now["instances"],
        json!([{"id": "reviews-a", "healthy": false}])
    );
    // A service may register only the subgraph it is named after.
    let codec = looma_auth::ForwardedPrincipalCodec::new(ROUTER_SECRET.as_bytes()).unwrap();
    let as_search = looma_server::ServiceClient::signed(
        "registry",
        format!("{}/graphql", platform.url(Component::Registry)),
        codec,
        "search",
        &[looma_auth::permission::SCHEMA_PUBLISH],
    );
    let hijack = as_search
        .query(
            "mutation($input: RegisterInstanceInput!) { registerInstance(input: $input) { instanceId } }",
            json!({ "input": { "subgraph": "reviews", "url": "http://127.0.0.1:9/graphql", "sdl": reviews.sdl, "instanceId": "evil" } }),
        )
        .await
        .unwrap_err();
    assert_eq!(hijack.code(), Some("FORBIDDEN"), "{hijack}");
    let beat = as_search
        .query(
            "mutation { heartbeat(instanceId: \"reviews-a\") }",
            json!({}),
        )
        .await
        .unwrap_err();
    assert_eq!(beat.code(), Some("FORBIDDEN"), "{beat}");
    // A usage entry out of bounds is skipped, not the whole report.
    let mixed = registry(
        &platform,
        &admin,
        "mutation($ops: [OperationUsageInput!]!) { reportSchemaUsage(operations: $ops) }",
        json!({ "ops": [
            { "signature": "c".repeat(64), "name": "x".repeat(201), "coordinates": ["Query.topProducts"],
              "clientName": "crm-web", "clientVersion": "2.1.0", "count": 1 },
            { "signature": "d".repeat(64), "name": "Top", "coordinates": ["Query.topProducts"],
              "clientName": "crm-web", "clientVersion": "2.1.0", "count": 1 },
        ]}),
    )
    .await;
    assert_eq!(data(&mixed)["reportSchemaUsage"], 1);

    // Retention: usage older than the cut-off is forgotten with its operations; a breaking
    // change it alone made breaking is safe again.
    let without_name = products.sdl.replace("\tname: String!\n", "");
    registry(
        &platform,
        &admin,
        "mutation($ops: [OperationUsageInput!]!) { reportSchemaUsage(operations: $ops) }",
        json!({ "ops": [{ "signature": "e".repeat(64), "name": "Names", "coordinates": ["Product.name"],
                          "clientName": "crm-web", "clientVersion": "2.1.0", "count": 1 }]}),
    )
    .await;
    assert_eq!(check(without_name.clone()).await["verdict"], "BREAKING");
    let store = looma_registry::store::RegistryStore::new(platform.db().clone());
    let far_future = chrono::Utc::now() + chrono::Duration::days(1);
    let removed = store
        .prune(far_future, chrono::Utc::now() - chrono::Duration::days(7))
        .await
        .unwrap();
    assert!(removed >= 3, "{removed}");
    assert!(
        store
            .used_since(chrono::Utc::now() - chrono::Duration::days(30))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(check(without_name).await["verdict"], "SAFE");

    // Permissions and bad input.
    let (_, viewer) = platform
        .user_with_roles("viewer@looma.test", &["viewer"])
        .await;
    let forbidden = registry(
        &platform,
        &viewer,
        "{ schemaHistory(subgraph: \"products\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&forbidden), "FORBIDDEN");
    let anonymous = registry(
        &platform,
        &Auth::None,
        "{ supergraphVersions { version } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
    let denied = publish(
        &platform,
        &viewer,
        "products",
        &products.sdl,
        &products.url(),
    )
    .await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
    let bad_name = publish(&platform, &admin, "9lives", &products.sdl, &products.url()).await;
    assert_eq!(error_code(&bad_name), "BAD_USER_INPUT");
    let bad_url = publish(&platform, &admin, "products", &products.sdl, "ftp://x").await;
    assert_eq!(error_code(&bad_url), "BAD_USER_INPUT");
    let bad_limit = registry(
        &platform,
        &admin,
        "{ schemaHistory(subgraph: \"products\", limit: 0) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&bad_limit), "BAD_USER_INPUT");
    let missing = registry(
        &platform,
        &admin,
        "mutation { deleteSubgraph(subgraph: \"nope\") }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&missing), "NOT_FOUND");
    platform
}

crate::on_each_backend_with!(&[looma::platform::Component::Registry]; publish_check_history_and_permissions);

/// A router following the platform's registry (long polls of 2 s, usage every 200 ms).
async fn following_router(platform: &TestPlatform) -> (Platform, String) {
    let mut config = platform.config.clone();
    config.router.registry.url = Some(format!("{}/graphql", platform.url(Component::Registry)));
    config.router.registry.poll_wait_ms = 2_000;
    config.router.registry.retry_ms = 100;
    config.router.registry.startup_timeout_ms = 10_000;
    config.router.registry.usage_report_interval_ms = 200;
    config.router.registry.router_id = Some("router-under-test".into());
    config.router.supergraph_path = None;
    let router = Platform::start(&config, &[Component::Router], true)
        .await
        .expect("the router starts from the registry");
    let url = format!("http://{}", router.addr(Component::Router).unwrap());
    (router, url)
}

/// Waits until the following router reports serving the registry's newest supergraph.
async fn wait_served(platform: &TestPlatform, admin: &Auth, version: i64) -> Duration {
    let started = Instant::now();
    loop {
        let routers = registry(
            platform,
            admin,
            "{ schemaRouters { id supergraphVersion } }",
            json!({}),
        )
        .await;
        let served = data(&routers)["schemaRouters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "router-under-test" && r["supergraphVersion"] == version);
        if served {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "version {version} never served"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ten supergraph swaps (subgraphs added, a field added and removed, subgraphs removed), then
/// a replica registered and stopped, while 200 requests per second go through the router: not
/// one fails.
async fn supergraph_swaps_under_load_fail_no_request(platform: TestPlatform) -> TestPlatform {
    let fixtures = looma_testkit::start_all(0).await.unwrap();
    let admin = platform.admin().await;
    let products = fixture(&fixtures, "products");
    publish(
        &platform,
        &admin,
        "products",
        &products.sdl,
        &products.url(),
    )
    .await;
    let (router, router_url) = following_router(&platform).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        let http = reqwest::Client::new();
        tokio::spawn(async move {
            let mut sent = 0u64;
            let mut tasks = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(5));
            let started = Instant::now();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                tick.tick().await;
                sent += 1;
                let http = http.clone();
                let url = format!("{router_url}/graphql");
                tasks.push(tokio::spawn(async move {
                    let response = http
                        .post(url)
                        .json(&json!({ "query": "{ topProducts { upc name price } }" }))
                        .send()
                        .await;
                    match response {
                        Ok(response) if response.status() == 200 => {
                            let body: Value = response.json().await.unwrap_or_default();
                            if body.get("errors").is_none()
                                && body["data"]["topProducts"]
                                    .as_array()
                                    .is_some_and(|p| p.len() == 5)
                            {
                                None
                            } else {
                                Some(body.to_string())
                            }
                        }
                        Ok(response) => Some(format!("HTTP {}", response.status())),
                        Err(error) => Some(error.to_string()),
                    }
                }));
            }
            let elapsed = started.elapsed();
            let mut failures = Vec::new();
            for task in tasks {
                if let Some(failure) = task.await.unwrap() {
                    failures.push(failure);
                }
            }
            (sent, elapsed, failures)
        })
    };

    let mut products_with_color = products.sdl.clone();
    products_with_color =
        products_with_color.replacen("\tweight: Int!\n", "\tweight: Int!\n\tcolor: String\n", 1);
    // Reviews' `User.username` is external: accounts is there whenever reviews is.
    let steps: Vec<(&str, Option<String>)> = vec![
        ("accounts", None),
        ("products", Some(products_with_color)),
        ("reviews", None),
        ("inventory", None),
        ("-reviews", None),
        ("products", Some(products.sdl.clone())),
        ("-inventory", None),
        ("reviews", None),
        ("-reviews", None),
        ("-accounts", None),
    ];
    let mut swap_times = Vec::new();
    for (step, sdl) in steps {
        tokio::time::sleep(Duration::from_millis(800)).await;
        let version = if let Some(name) = step.strip_prefix('-') {
            let body = registry(
                &platform,
                &admin,
                "mutation($s: String!) { deleteSubgraph(subgraph: $s) }",
                json!({"s": name}),
            )
            .await;
            data(&body)["deleteSubgraph"].as_i64().unwrap()
        } else {
            let subgraph = fixture(&fixtures, step);
            let sdl = sdl.unwrap_or_else(|| subgraph.sdl.clone());
            let body = publish(&platform, &admin, step, &sdl, &subgraph.url()).await;
            data(&body)["publishSchema"]["supergraphVersion"]
                .as_i64()
                .unwrap()
        };
        swap_times.push(wait_served(&platform, &admin, version).await);
    }
    // Routes change under load too: a second products instance registers beside the
    // published URL, takes a share of the requests, then stops (deregistered).
    let replicas = looma_testkit::start_all(0).await.unwrap();
    let second = fixture(&replicas, "products");
    let registered = registry(
        &platform,
        &admin,
        "mutation($input: RegisterInstanceInput!) { registerInstance(input: $input) { instanceId } }",
        json!({ "input": { "subgraph": "products", "url": second.url(), "sdl": products.sdl, "instanceId": "products-b" } }),
    )
    .await;
    data(&registered);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let stopped = registry(
        &platform,
        &admin,
        "mutation { deregisterInstance(instanceId: \"products-b\") }",
        json!({}),
    )
    .await;
    assert_eq!(data(&stopped)["deregisterInstance"], true);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let served_by_second = second.requests();
    assert!(
        served_by_second > 0,
        "the registered replica got no requests"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        second.requests(),
        served_by_second,
        "requests still reached the stopped replica"
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (sent, elapsed, failures) = load.await.unwrap();
    let rate = sent as f64 / elapsed.as_secs_f64();
    let slowest = swap_times.iter().max().unwrap();
    eprintln!(
        "[looma-measure] supergraph swaps under load: {} swaps and a replica added and stopped, {sent} requests at {rate:.0} req/s, {} failed; slowest swap served after {} ms; the replica answered {served_by_second}",
        swap_times.len(),
        failures.len(),
        slowest.as_millis()
    );
    assert!(
        failures.is_empty(),
        "{} of {sent} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert!(
        sent > 1_000,
        "only {sent} requests were sent during the swaps"
    );
    assert_eq!(swap_times.len(), 10);
    router.shutdown().await.unwrap();
    platform
}

/// `looma serve search --register`: queryable through a following router within 2 s of
/// registering, `SUBGRAPH_UNAVAILABLE` once killed, gone from the supergraph after the
/// removal time. The router's usage reports make a check name the client that used it.
async fn registered_subgraph_joins_and_leaves_a_running_router(
    platform: TestPlatform,
) -> TestPlatform {
    let admin = platform.admin().await;
    let registry_url = format!("{}/graphql", platform.url(Component::Registry));
    // Identity is published (static), so the registry has a supergraph before search joins.
    publish(
        &platform,
        &admin,
        "identity",
        &looma_identity::sdl(),
        &format!("{}/graphql", platform.identity_url),
    )
    .await;
    let (router, router_url) = following_router(&platform).await;
    let search_query = "query Backends { searchBackends { text vector } }";
    let through_router = |client: &'static str| {
        let http = platform.http.clone();
        let url = format!("{router_url}/graphql");
        let admin = admin.clone();
        async move {
            let request = http
                .post(url)
                .header("apollographql-client-name", client)
                .header("apollographql-client-version", "7.0")
                .json(&json!({ "query": search_query }));
            harness::with_auth(request, &admin)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let before = through_router("crm-web").await;
    assert_eq!(error_code(&before), "GRAPHQL_VALIDATION_FAILED", "{before}");

    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_looma"))
        .args([
            "serve",
            "search",
            "--register",
            "--registry-url",
            &registry_url,
            "--advertise-host",
            "127.0.0.1",
        ])
        .current_dir(dir.path())
        .env("LOOMA_SERVER__ROUTER_SECRET", ROUTER_SECRET)
        .env("LOOMA_SEARCH__PORT", "0")
        .env("LOOMA_SEARCH__DATA_DIR", dir.path().join("search"))
        .env("LOOMA_REGISTRY__HEARTBEAT_INTERVAL_MS", "200")
        .env("LOOMA_REGISTRY__UNHEALTHY_AFTER_MS", "800")
        .env("LOOMA_LOG__LEVEL", "warn")
        .env(
            "LOOMA_ROUTER__JWKS_URL",
            format!("{}/.well-known/jwks.json", platform.identity_url),
        )
        .env(
            "LOOMA_ROUTER__IDENTITY_URL",
            format!("{}/graphql", platform.identity_url),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("looma serve search starts");

    // Registered: the registry lists its live instance.
    let started = Instant::now();
    let registered_at = loop {
        let subgraphs = registry(
            &platform,
            &admin,
            "{ registeredSubgraphs { name live instances { url healthy } } }",
            json!({}),
        )
        .await;
        let search = data(&subgraphs)["registeredSubgraphs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "search")
            .cloned();
        if let Some(search) = search {
            assert_eq!(search["live"], true);
            assert_eq!(search["instances"][0]["healthy"], true);
            break Instant::now();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "search never registered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Queryable through the router, which was not restarted.
    let queryable_after = loop {
        let body = through_router("crm-web").await;
        if body.get("errors").is_none() {
            assert_eq!(data(&body)["searchBackends"]["text"], "tantivy", "{body}");
            break registered_at.elapsed();
        }
        assert!(
            registered_at.elapsed() < Duration::from_secs(10),
            "never queryable: {body}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    eprintln!(
        "[looma-measure] registered subgraph queryable through the router {} ms after registering",
        queryable_after.as_millis()
    );
    assert!(
        queryable_after < Duration::from_secs(2),
        "{queryable_after:?}"
    );

    // The router reported that crm-web used `Query.searchBackends`: removing it is breaking.
    let without = looma_search::sdl().replace(
        "\t\"\"\"\n\tWhich backends serve search and how many documents each collection holds.\n\t\"\"\"\n\tsearchBackends: SearchBackends!\n",
        "",
    );
    assert!(
        !without.contains("searchBackends:"),
        "the field's text changed"
    );
    let checked = loop {
        let body = registry(
            &platform,
            &admin,
            CHECK,
            json!({ "subgraph": "search", "sdl": without }),
        )
        .await;
        let check = data(&body)["schemaCheck"].clone();
        if check["verdict"] == "BREAKING" || registered_at.elapsed() > Duration::from_secs(10) {
            break check;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(checked["verdict"], "BREAKING", "{checked}");
    let change = checked["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "Query.searchBackends")
        .expect("the removal is reported")
        .clone();
    assert_eq!(change["affectedOperations"], json!(["Backends"]));
    assert_eq!(
        change["affectedClients"],
        json!([{"name": "crm-web", "version": "7.0"}])
    );

    // Killed (no deregistration): SUBGRAPH_UNAVAILABLE for its fields, then gone.
    child.kill().unwrap();
    let _ = child.wait();
    let killed = Instant::now();
    let unavailable_after = loop {
        let body = through_router("crm-web").await;
        if body.get("errors").is_some() {
            assert_eq!(error_code(&body), "SUBGRAPH_UNAVAILABLE", "{body}");
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(5),
            "still answered after the kill: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let removed_after = loop {
        let body = through_router("crm-web").await;
        if body.get("errors").is_some() && error_code(&body) == "GRAPHQL_VALIDATION_FAILED" {
            break killed.elapsed();
        }
        assert_eq!(error_code(&body), "SUBGRAPH_UNAVAILABLE", "{body}");
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "search never left the supergraph"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!(
        "[looma-measure] killed subgraph: SUBGRAPH_UNAVAILABLE after {} ms, removed from the supergraph after {} ms",
        unavailable_after.as_millis(),
        removed_after.as_millis()
    );
    let latest = registry(
        &platform,
        &admin,
        "{ supergraphVersion { reason } }",
        json!({}),
    )
    .await;
    assert_eq!(
        data(&latest)["supergraphVersion"]["reason"],
        "search removed: no live instance left"
    );
    router.shutdown().await.unwrap();
    platform
}

fn short_registry_timings(config: &mut looma::LoomaConfig) {
    config.registry.heartbeat_interval_ms = 200;
    config.registry.unhealthy_after_ms = 800;
    config.registry.remove_after_ms = 3_000;
    config.registry.sweep_interval_ms = 100;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_supergraph_swaps_under_load_fail_no_request() {
    harness::run_configured(
        supergraph_swaps_under_load_fail_no_request,
        Backend::Sqlite,
        &[Component::Registry],
        short_registry_timings,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_registered_subgraph_joins_and_leaves_a_running_router() {
    harness::run_configured(
        registered_subgraph_joins_and_leaves_a_running_router,
        Backend::PostgresRedis,
        &[Component::Registry],
        short_registry_timings,
    )
    .await;
}
