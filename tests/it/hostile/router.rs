//! The router against anonymous attackers: fragment bombs, memory held by distinct large
//! queries (plain and persisted), oversized JSON bodies, mutations smuggled into GET, and
//! cross-site "simple" POSTs. Memory is measured on a separate `looma serve router` process,
//! so that the other tests of this binary do not move the numbers.

use crate::harness::{self, Auth, TestPlatform, data, error_code};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `query{...Fn}` where every fragment spreads the previous one twice: 2^n copies of F0.
fn fragment_bomb(levels: usize) -> String {
    let mut text = format!("query{{...F{levels}}} fragment F0 on Query{{__typename me{{id}}}}");
    for level in 1..=levels {
        let previous = level - 1;
        text.push_str(&format!(
            " fragment F{level} on Query{{...F{previous} ...F{previous}}}"
        ));
    }
    text
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `looma serve router` as its own process, in front of the committed supergraph (no
/// subgraph is needed: every operation here is answered or refused by the router itself).
struct RouterProcess {
    child: Child,
    url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl RouterProcess {
    async fn start(settings: &[(&str, &str)]) -> RouterProcess {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let supergraph = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/supergraph.graphql");
        let mut command = Command::new(env!("CARGO_BIN_EXE_looma"));
        command
            .args(["serve", "router", "--supergraph", supergraph])
            .current_dir(dir.path())
            .env_remove("REDIS_URL")
            .env_remove("DATABASE_URL")
            .env("LOOMA_SERVER__HOST", "127.0.0.1")
            .env("LOOMA_ROUTER__PORT", port.to_string())
            .env("LOOMA_LOG__LEVEL", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in settings {
            command.env(key, value);
        }
        let child = command.spawn().expect("looma serve router starts");
        let router = RouterProcess {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let health = router
                .http
                .get(format!("{}/health", router.url))
                .send()
                .await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return router;
            }
            assert!(
                Instant::now() < deadline,
                "the router process never answered"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Resident set size of the router process, in bytes.
    fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the router process is alive");
        let kb: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status");
        kb * 1024
    }

    async fn post(&self, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/graphql", self.url))
            .json(body)
            .send()
            .await
            .expect("router answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }
}

impl Drop for RouterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const MIB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragment_bomb_is_refused_in_milliseconds_without_memory_growth() {
    let router = RouterProcess::start(&[]).await;
    let bomb = fragment_bomb(30);
    assert!(
        bomb.len() < 2_000,
        "the bomb is small: {} bytes",
        bomb.len()
    );
    // Warm the connection and the allocator with a harmless request first.
    let (_, warm) = router.post(&json!({"query": "{ __typename }"})).await;
    assert_eq!(data(&warm)["__typename"], "Query");
    let before = router.rss_bytes();
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let started = Instant::now();
        let (status, body) = router.post(&json!({ "query": bomb })).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(status, 200);
        assert_eq!(error_code(&body), "OPERATION_LIMIT", "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("fragments"), "{message}");
        assert!(body.get("data").is_none(), "nothing was executed: {body}");
    }
    let grown = router.rss_bytes().saturating_sub(before);
    assert!(
        slowest < Duration::from_millis(50),
        "refused in {slowest:?}"
    );
    assert!(grown < 20 * MIB, "RSS grew by {} MiB", grown / MIB);
}

/// 1000 distinct 2 MB operations, half sent plainly and half registered as persisted
/// queries, all valid (so each is planned, cached and stored): what stays resident is bounded
/// by the configured cache bytes plus a fixed margin, not by the traffic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_large_queries_leave_memory_within_the_cache_bounds() {
    const CACHE_BYTES: u64 = 16 * MIB;
    /// The allocator's retained pages and the buffers of two 2 MB requests in flight (body,
    /// decoded text, parse tree): measured here at 50–85 MiB, depending on how busy the
    /// machine is (mimalloc keeps freed pages of each thread's heap for reuse). Unbounded
    /// caches would hold the 2 GB of text sent.
    const MARGIN: u64 = 96 * MIB;
    /// Growth allowed over the second 500 queries (1 GB of text), once the caches are full:
    /// the allocator's working set still settling, measured at 6–37 MiB.
    const SETTLING: u64 = 48 * MIB;
    let cache_bytes = CACHE_BYTES.to_string();
    let router = RouterProcess::start(&[
        ("LOOMA_ROUTER__PLAN_CACHE_BYTES", cache_bytes.as_str()),
        ("LOOMA_ROUTER__APQ_CACHE_BYTES", cache_bytes.as_str()),
    ])
    .await;
    let padding = format!("#{}\n", "x".repeat(2_000_000 - 64));
    let query = |i: usize| format!("query Q{i} {{ __typename }}\n{padding}");
    let send = |i: usize| {
        let text = query(i);
        let body = if i.is_multiple_of(2) {
            json!({ "query": text })
        } else {
            let hash = sha256_hex(&text);
            json!({ "query": text, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}} })
        };
        let router = &router;
        async move {
            let (status, body) = router.post(&body).await;
            assert_eq!(status, 200);
            assert_eq!(data(&body)["__typename"], "Query", "query {i}");
        }
    };
    // Warm-up: the first large requests size the allocator's arenas and buffers.
    for i in 1_000_000..1_000_004 {
        send(i).await;
    }
    let before = router.rss_bytes();
    let started = Instant::now();
    let mut halfway = 0;
    for (n, pair) in (0..1000).collect::<Vec<_>>().chunks(2).enumerate() {
        futures::future::join_all(pair.iter().map(|&i| send(i))).await;
        if n == 249 {
            halfway = router.rss_bytes();
        }
    }
    let after = router.rss_bytes();
    let grown = after.saturating_sub(before);
    eprintln!(
        "1000 distinct 2 MB queries in {:?}: RSS {} → {} (after 500) → {} MiB",
        started.elapsed(),
        before / MIB,
        halfway / MIB,
        after / MIB
    );
    assert!(
        grown <= 2 * CACHE_BYTES + MARGIN,
        "RSS grew by {} MiB; bound {} MiB",
        grown / MIB,
        (2 * CACHE_BYTES + MARGIN) / MIB
    );
    // Bounded means flat once the caches are full: the second 500 queries add (almost) nothing.
    let second_half = after.saturating_sub(halfway);
    assert!(
        second_half <= SETTLING,
        "RSS grew by {} MiB over the second 500 queries",
        second_half / MIB
    );
    // The persisted queries that are still cached answer by hash alone; an evicted one asks
    // for its text again (never an error of another kind).
    let last = query(999);
    let (_, by_hash) = router
        .post(&json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(&last)}}}))
        .await;
    match by_hash.get("errors") {
        None => assert_eq!(by_hash["data"]["__typename"], "Query"),
        Some(_) => assert_eq!(error_code(&by_hash), "PERSISTED_QUERY_NOT_FOUND"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persisted_queries_are_stored_only_when_they_validate() {
    let router = RouterProcess::start(&[]).await;
    let invalid = "{ noSuchField }";
    let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(invalid)}});
    let (_, registered) = router
        .post(&json!({"query": invalid, "extensions": extensions}))
        .await;
    assert_eq!(error_code(&registered), "GRAPHQL_VALIDATION_FAILED");
    let (_, by_hash) = router.post(&json!({"extensions": extensions})).await;
    assert_eq!(error_code(&by_hash), "PERSISTED_QUERY_NOT_FOUND");
    let valid = "{ __typename }";
    let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(valid)}});
    router
        .post(&json!({"query": valid, "extensions": extensions}))
        .await;
    let (_, by_hash) = router.post(&json!({"extensions": extensions})).await;
    assert_eq!(data(&by_hash)["__typename"], "Query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_bodies_are_held_to_max_request_bytes() {
    let router = RouterProcess::start(&[]).await;
    for megabytes in [3, 12] {
        let text = format!("{{ __typename }} #{}", "x".repeat(megabytes * 1024 * 1024));
        let (status, body) = router.post(&json!({ "query": text })).await;
        assert_eq!(status, 413, "{megabytes} MB");
        assert_eq!(error_code(&body), "BAD_USER_INPUT");
        assert_eq!(harness::error_reason(&body), "PAYLOAD_TOO_LARGE");
    }
    // Just under the limit is executed.
    let text = format!("{{ __typename }} #{}", "x".repeat(2_000_000));
    let (status, body) = router.post(&json!({ "query": text })).await;
    assert_eq!(status, 200);
    assert_eq!(data(&body)["__typename"], "Query");
}

/// Logs the admin in (through identity) and returns a refresh token.
async fn refresh_token(p: &TestPlatform) -> String {
    let login = p.login(harness::ADMIN_EMAIL, harness::ADMIN_PASSWORD).await;
    login["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("login failed: {login}"))
        .to_owned()
}

/// The refresh token still works, so no `logout` ran with it.
async fn assert_not_logged_out(p: &TestPlatform, token: &str) -> String {
    let body = p
        .gql_router(
            &Auth::None,
            "mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }",
            json!({ "t": token }),
        )
        .await;
    data(&body)["refreshToken"]["refreshToken"]
        .as_str()
        .expect("a rotated refresh token")
        .to_owned()
}

async fn graphql_get(p: &TestPlatform, params: &[(&str, String)]) -> (u16, Value) {
    let url = format!("{}/graphql", p.router_url.as_deref().unwrap());
    let response = p.http.get(url).query(params).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

async fn mutations_are_never_run_over_get(p: TestPlatform) -> TestPlatform {
    let mut token = refresh_token(&p).await;
    let logout = |t: &str| format!("mutation {{ logout(refreshToken: \"{t}\") }}");
    let attempts = [
        vec![("query", format!("# a comment first\n{}", logout(&token)))],
        vec![("query", format!(",{}", logout(&token)))],
        vec![
            (
                "query",
                format!(
                    "query Q {{ __typename }} {}",
                    logout(&token).replacen("mutation", "mutation M", 1)
                ),
            ),
            ("operationName", "M".to_owned()),
        ],
    ];
    for params in attempts {
        let (status, body) = graphql_get(&p, &params).await;
        assert_eq!(status, 405, "{params:?}: {body}");
        assert_eq!(error_code(&body), "BAD_REQUEST");
        token = assert_not_logged_out(&p, &token).await;
    }
    // The same two-operation document may still run its query over GET.
    let (status, body) = graphql_get(
        &p,
        &[
            (
                "query",
                format!(
                    "query Q {{ __typename }} {}",
                    logout(&token).replacen("mutation", "mutation M", 1)
                ),
            ),
            ("operationName", "Q".to_owned()),
        ],
    )
    .await;
    assert_eq!(
        (status, data(&body)["__typename"].clone()),
        (200, json!("Query"))
    );

    // A persisted mutation registered by POST (its own, throwaway session) and replayed by GET.
    let text = "mutation($t: String!) { logout(refreshToken: $t) }";
    let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(text)}});
    let throwaway = refresh_token(&p).await;
    let url = format!("{}/graphql", p.router_url.as_deref().unwrap());
    let registered: Value = p
        .http
        .post(&url)
        .json(&json!({"query": text, "variables": {"t": throwaway}, "extensions": extensions}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(data(&registered)["logout"], true);
    let (status, body) = graphql_get(
        &p,
        &[
            ("extensions", extensions.to_string()),
            ("variables", json!({ "t": token }).to_string()),
        ],
    )
    .await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(error_code(&body), "BAD_REQUEST");
    assert_not_logged_out(&p, &token).await;
    p
}

async fn simple_cross_site_posts_need_a_preflight_header(p: TestPlatform) -> TestPlatform {
    let token = refresh_token(&p).await;
    let url = format!("{}/graphql", p.router_url.as_deref().unwrap());
    let body =
        json!({"query": format!("mutation {{ logout(refreshToken: \"{token}\") }}")}).to_string();
    for content_type in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = p.http.post(&url).body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400, "{content_type:?}");
        let refused: Value = response.json().await.unwrap();
        assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{content_type:?}");
        assert_eq!(harness::error_reason(&refused), "CSRF_PREFLIGHT_REQUIRED");
    }
    let token = assert_not_logged_out(&p, &token).await;
    // A header only a preflighted request can carry lets the same body through.
    let allowed: Value = p
        .http
        .post(&url)
        .header("content-type", "text/plain")
        .header("apollo-require-preflight", "true")
        .body(
            json!({"query": format!("mutation {{ logout(refreshToken: \"{token}\") }}")})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(data(&allowed)["logout"], true);
    p
}

async fn moderate_fragment_fan_out_is_merged_and_executed(p: TestPlatform) -> TestPlatform {
    // 2^12 copies of `__typename me { id }`: within the expansion limit, merged to one copy
    // before identity sees it (unmerged, identity refused the subgraph query as too large).
    let admin = p.admin().await;
    let body = p.gql_router(&admin, &fragment_bomb(12), json!({})).await;
    assert_eq!(data(&body)["__typename"], "Query");
    assert!(data(&body)["me"]["id"].is_string(), "{body}");
    let body = p.gql_router(&admin, &fragment_bomb(30), json!({})).await;
    assert_eq!(error_code(&body), "OPERATION_LIMIT");
    p
}

crate::on_each_backend_with!(&[looma::platform::Component::Router];
    mutations_are_never_run_over_get,
    simple_cross_site_posts_need_a_preflight_header,
    moderate_fragment_fan_out_is_merged_and_executed,
);
