//! Operations: every component's `/metrics`, the monitor subgraph through the router
//! (`systemHealth`, alert rules from identity's versioned config, an error burst and a stopped
//! subgraph firing alerts, the signed webhook, usage), and Debian's real Prometheus scraping
//! the platform with the shipped configuration and rules.

use crate::harness::{Auth, Backend, TestPlatform, data, error_code};
use looma::Component;
use looma_monitor::domain::webhook;
use looma_testkit::report_skipped;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const COMPONENTS: &[Component] = &[Component::Search, Component::Resume, Component::Monitor];
const WEBHOOK_SECRET: &str = "monitor-webhook-test-secret";

/// One request the webhook received: its signature header and body.
type Delivery = (String, Vec<u8>);

/// A loopback webhook receiver: every request it got.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Delivery>>>);

impl Received {
    async fn serve(&self) -> String {
        let received = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let received = received.clone();
                    async move {
                        let signature = headers
                            .get(webhook::SIGNATURE_HEADER)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned();
                        received.0.lock().unwrap().push((signature, body.to_vec()));
                        "ok"
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/hook")
    }

    /// Verified notifications received so far.
    fn notifications(&self) -> Vec<Value> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(signature, body)| {
                webhook::verify(WEBHOOK_SECRET.as_bytes(), signature, body, now, 600)
                    .unwrap_or_else(|e| panic!("bad signature {signature:?}: {e}"));
                serde_json::from_slice(body).expect("JSON notification")
            })
            .collect()
    }
}

async fn start(backend: Backend, hook: Option<String>) -> Option<TestPlatform> {
    TestPlatform::start_configured(backend, COMPONENTS, move |config| {
        config.monitor.scrape_interval_ms = 300;
        config.monitor.scrape_timeout_ms = 1_000;
        config.monitor.rules_refresh_ms = 200;
        if let Some(hook) = hook {
            config.monitor.webhook_url = Some(hook);
            config.monitor.webhook_secret = looma_core::Secret::new(WEBHOOK_SECRET);
        }
    })
    .await
}

async fn gql(p: &TestPlatform, auth: &Auth, query: &str, variables: Value) -> Value {
    p.gql_router(auth, query, variables).await
}

/// Polls `query` (with `variables`) through the router until `done` holds for its data (or
/// panics after `within`), returning that data.
async fn wait_for(
    p: &TestPlatform,
    auth: &Auth,
    query: &str,
    variables: Value,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let body = gql(p, auth, query, variables.clone()).await;
        let data = data(&body).clone();
        if done(&data) {
            return data;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {data}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn firing(data: &Value, rule: &str, subject: &str) -> bool {
    data["alerts"].as_array().is_some_and(|alerts| {
        alerts
            .iter()
            .any(|a| a["rule"] == rule && a["subject"] == subject && a["state"] == "FIRING")
    })
}

const ALERTS: &str = "{ alerts(state: FIRING) { rule subject state severity value threshold startedAt resolvedAt } }";

#[tokio::test]
async fn monitor_through_the_router_sqlite() {
    monitor_through_the_router(Backend::Sqlite).await;
}

#[tokio::test]
async fn monitor_through_the_router_postgres() {
    monitor_through_the_router(Backend::PostgresRedis).await;
}

async fn monitor_through_the_router(backend: Backend) {
    let received = Received::default();
    let hook = received.serve().await;
    let Some(mut p) = start(backend, Some(hook)).await else {
        return;
    };
    let admin = p.admin().await;

    // Health: every watched component up, with its version and what its /ready checked.
    let body = gql(
        &p,
        &admin,
        "{ systemHealth { status components { name status version uptimeSeconds readyLatencyMs
            dependencies { name status } } } }",
        json!({}),
    )
    .await;
    let health = &data(&body)["systemHealth"];
    assert_eq!(health["status"], "UP", "{health}");
    let names: Vec<&str> = health["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["identity", "search", "resume"], "{health}");
    for component in health["components"].as_array().unwrap() {
        assert_eq!(
            component["version"],
            env!("CARGO_PKG_VERSION"),
            "{component}"
        );
        assert!(component["uptimeSeconds"].as_f64().unwrap() >= 0.0);
        assert!(component["readyLatencyMs"].as_f64().is_some());
    }
    let mut identity_checks: Vec<(String, String)> = health["components"][0]["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().into(),
                d["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    identity_checks.sort();
    assert_eq!(
        identity_checks,
        [
            ("cache".into(), "UP".into()),
            ("database".into(), "UP".into())
        ]
    );

    // Only `monitor:read` sees any of it.
    let (_, viewer) = p.user_with_roles("viewer@monitor.test", &["viewer"]).await;
    let refused = gql(&p, &viewer, "{ systemHealth { status } }", json!({})).await;
    assert_eq!(error_code(&refused), "FORBIDDEN");
    let refused = gql(&p, &Auth::None, ALERTS, json!({})).await;
    assert_eq!(error_code(&refused), "UNAUTHENTICATED");

    // The built-in rules until identity's versioned config names others; a rule set missing
    // a field is refused by identity.
    let rules = gql(
        &p,
        &admin,
        "{ alertRules { source rules { name } } }",
        json!({}),
    )
    .await;
    assert_eq!(data(&rules)["alertRules"]["source"], "defaults");
    assert_eq!(
        data(&rules)["alertRules"]["rules"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    let set_rules = "mutation($input: SetConfigInput!) { setConfig(input: $input) { version } }";
    let broken = gql(
        &p,
        &admin,
        set_rules,
        json!({"input": {"key": "monitor.alert_rules", "value": [{"name": "X"}]}}),
    )
    .await;
    assert_eq!(error_code(&broken), "BAD_USER_INPUT", "{broken}");
    let rules = json!([
        {"name": "SearchDown", "kind": "componentDown", "threshold": 0, "forSeconds": 1,
         "severity": "critical", "summary": "search is not ready", "component": "search"},
        {"name": "SearchErrors", "kind": "highErrorRate", "threshold": 0.5, "forSeconds": 0,
         "severity": "warning", "summary": "search answers with errors", "component": "search"}
    ]);
    let set = gql(
        &p,
        &admin,
        set_rules,
        json!({"input": {"key": "monitor.alert_rules", "value": rules}}),
    )
    .await;
    assert_eq!(data(&set)["setConfig"]["version"], 1, "{set}");
    wait_for(
        &p,
        &admin,
        "{ alertRules { source rules { name kind forSeconds severity component } } }",
        json!({}),
        Duration::from_secs(10),
        |d| d["alertRules"]["source"] == "identity config v1",
    )
    .await;

    // Usage: successful searches are counted in the hour's bucket.
    let search = "query($q: String!) { textSearch(query: $q) { total } }";
    let baseline = usage_total(&p, &admin).await;
    for q in ["java", "rust", "go"] {
        let body = gql(&p, &admin, search, json!({"q": q})).await;
        data(&body);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while usage_total(&p, &admin).await < baseline + 3.0 {
        assert!(
            Instant::now() < deadline,
            "usage never counted the searches"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let unknown = gql(
        &p,
        &admin,
        "query($f: String!) { usage(feature: $f, from: \"2026-01-01T00:00:00Z\", to: \"2026-01-02T00:00:00Z\") { total } }",
        json!({"f": "teleportation"}),
    )
    .await;
    assert_eq!(error_code(&unknown), "BAD_USER_INPUT");

    // An error burst: every search refused (an empty query) fires `SearchErrors`.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for _ in 0..10 {
            let body = gql(&p, &admin, search, json!({"q": "   "})).await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        }
        let alerts = gql(&p, &admin, ALERTS, json!({})).await;
        if firing(data(&alerts), "SearchErrors", "search") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "SearchErrors never fired: {alerts}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Search stops: `SearchDown` fires after its second; health shows it down.
    p.stop_component(Component::Search).await;
    let alerts = wait_for(
        &p,
        &admin,
        ALERTS,
        json!({}),
        Duration::from_secs(20),
        |d| firing(d, "SearchDown", "search"),
    )
    .await;
    let down = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule"] == "SearchDown")
        .unwrap();
    assert_eq!(down["severity"], "CRITICAL");
    assert_eq!(down["value"], 0.0, "{down}");
    assert!(down["resolvedAt"].is_null());
    let body = gql(
        &p,
        &admin,
        "{ systemHealth { status components { name status error } } }",
        json!({}),
    )
    .await;
    let health = &data(&body)["systemHealth"];
    assert_eq!(health["status"], "DEGRADED", "{health}");
    let search_health = health["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "search")
        .unwrap();
    assert_eq!(search_health["status"], "DOWN", "{search_health}");
    assert!(search_health["error"].as_str().is_some());

    // Both firings reached the webhook, signed, once each.
    let deadline = Instant::now() + Duration::from_secs(10);
    let notifications = loop {
        let notifications = received.notifications();
        let has = |alert: &str| {
            notifications
                .iter()
                .any(|n| n["alert"] == alert && n["event"] == "firing")
        };
        if has("SearchDown") && has("SearchErrors") {
            break notifications;
        }
        assert!(Instant::now() < deadline, "webhook got {notifications:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let down_notices: Vec<&Value> = notifications
        .iter()
        .filter(|n| n["alert"] == "SearchDown" && n["event"] == "firing")
        .collect();
    assert_eq!(down_notices.len(), 1, "{notifications:?}");
    assert_eq!(down_notices[0]["subject"], "search");
    assert_eq!(down_notices[0]["severity"], "critical");
    assert_eq!(down_notices[0]["dedupKey"].as_str().unwrap().len(), 64);
    p.stop().await;
}

async fn usage_total(p: &TestPlatform, auth: &Auth) -> f64 {
    let now = chrono::Utc::now();
    let body = gql(
        p,
        auth,
        "query($from: DateTime!, $to: DateTime!) { usage(feature: \"search.text\", from: $from, to: $to, bucket: DAY) { total points { start value } } }",
        json!({
            "from": (now - chrono::TimeDelta::days(1)).to_rfc3339(),
            "to": (now + chrono::TimeDelta::days(1)).to_rfc3339(),
        }),
    )
    .await;
    data(&body)["usage"]["total"].as_f64().expect("a total")
}

/// The series each component exports, after traffic through the router.
#[tokio::test]
async fn every_component_exports_prometheus_metrics() {
    let Some(p) = start(Backend::Sqlite, None).await else {
        return;
    };
    let admin = p.admin().await;
    for _ in 0..2 {
        let body = gql(
            &p,
            &admin,
            "query Candidates { textSearch(query: \"java\") { total } }",
            json!({}),
        )
        .await;
        data(&body);
    }
    let refused = gql(&p, &admin, "{ nope }", json!({})).await;
    assert_eq!(error_code(&refused), "GRAPHQL_VALIDATION_FAILED");
    let router = scrape(&p, p.router_url.as_deref().unwrap()).await;
    for series in [
        "looma_http_requests_total{component=\"router\",route=\"/graphql\",status=\"2xx\"}",
        "looma_graphql_requests_total{component=\"router\",operation=\"Candidates\",outcome=\"ok\"}",
        "looma_graphql_errors_total{component=\"router\",code=\"GRAPHQL_VALIDATION_FAILED\"}",
        "looma_router_subgraph_fetches_total{component=\"router\",subgraph=\"search\",outcome=\"ok\"}",
        "looma_router_subgraph_fetch_duration_seconds_bucket{component=\"router\",subgraph=\"search\",le=\"0.005\"}",
        "looma_router_plan_cache_total{component=\"router\",result=\"hit\"}",
        "looma_router_plan_cache_total{component=\"router\",result=\"miss\"}",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "looma_build_info{version=",
    ] {
        assert!(router.contains(series), "router /metrics lacks {series}");
    }
    assert!(
        value(
            &router,
            "looma_router_plan_cache_total{component=\"router\",result=\"hit\"}"
        ) >= 1.0
    );
    let search = scrape(&p, &p.url(Component::Search)).await;
    for series in [
        "looma_search_duration_seconds_bucket{component=\"search\",mode=\"text\",le=\"0.005\"}",
        "looma_search_index_documents{component=\"search\",collection=\"resumes\",kind=\"text\"}",
        "looma_search_index_documents{component=\"search\",collection=\"resumes\",kind=\"vector\"}",
        "looma_graphql_request_duration_seconds_count{component=\"search\",operation=",
    ] {
        assert!(search.contains(series), "search /metrics lacks {series}");
    }
    let resume = scrape(&p, &p.url(Component::Resume)).await;
    for series in [
        "looma_outbox_pending{component=\"resume\"}",
        "looma_outbox_lag_seconds{component=\"resume\"}",
        "looma_db_pool_connections{component=\"resume\",state=\"open\"}",
        "looma_resume_sql_statements_total{component=\"resume\"}",
    ] {
        assert!(resume.contains(series), "resume /metrics lacks {series}");
    }
    // Scrapers send no credentials; the lock-down layer lets them through.
    let identity = scrape(&p, &p.identity_url).await;
    assert!(identity.contains("looma_db_pool_connections{component=\"identity\",state=\"idle\"}"));
    p.stop().await;
}

async fn scrape(p: &TestPlatform, base: &str) -> String {
    let response = p
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("/metrics answers");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    response.text().await.unwrap()
}

fn value(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{series} not exported"))
}

// ---- Debian's Prometheus with the shipped configuration ---------------------------------

/// Prometheus, started on a free loopback port with a copy of `docker/prometheus/` whose
/// only addition is a targets file naming this test's components; stopped on drop.
struct Prometheus {
    child: tokio::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    async fn start(targets: &[(&str, String)]) -> Option<Prometheus> {
        let binary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
            .into_iter()
            .map(PathBuf::from)
            .find(|path| path.is_file())?;
        let dir = tempfile::tempdir().unwrap();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/prometheus");
        std::fs::copy(
            shipped.join("prometheus.yml"),
            dir.path().join("prometheus.yml"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        for rule in std::fs::read_dir(shipped.join("rules")).unwrap() {
            let rule = rule.unwrap().path();
            std::fs::copy(
                &rule,
                dir.path().join("rules").join(rule.file_name().unwrap()),
            )
            .unwrap();
        }
        std::fs::create_dir(dir.path().join("targets")).unwrap();
        let groups: Vec<Value> = targets
            .iter()
            .map(|(component, addr)| json!({"targets": [addr], "labels": {"component": component}}))
            .collect();
        std::fs::write(
            dir.path().join("targets/test.json"),
            serde_json::to_vec(&groups).unwrap(),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(binary)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("prometheus starts");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !http
            .get(format!("{url}/-/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "prometheus never became ready");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Some(Prometheus {
            child,
            url,
            _dir: dir,
        })
    }

    async fn query(&self, promql: &str) -> Vec<Value> {
        let body: Value = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", promql)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["status"], "success", "{promql}: {body}");
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    async fn alerts(&self) -> Vec<Value> {
        let body: Value = reqwest::Client::new()
            .get(format!("{}/api/v1/alerts", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["data"]["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

#[tokio::test]
async fn prometheus_scrapes_the_platform_and_fires_the_shipped_alerts() {
    let Some(mut p) = start(Backend::Sqlite, None).await else {
        return;
    };
    let admin = p.admin().await;
    let host = |url: &str| url.trim_start_matches("http://").to_owned();
    let router = p.router_url.clone().unwrap();
    let targets = [
        ("router", host(&router)),
        ("identity", host(&p.identity_url)),
        ("search", host(&p.url(Component::Search))),
        ("resume", host(&p.url(Component::Resume))),
        ("monitor", host(&p.url(Component::Monitor))),
    ];
    let Some(prometheus) = Prometheus::start(&targets).await else {
        report_skipped("Debian's `prometheus` is not installed (scripts/install-test-tools)");
        p.stop().await;
        return;
    };
    let body = gql(
        &p,
        &admin,
        "{ textSearch(query: \"java\") { total } }",
        json!({}),
    )
    .await;
    data(&body);

    // The key series arrive, from every target.
    let deadline = Instant::now() + Duration::from_secs(60);
    for promql in [
        "up{job=\"looma\"} == 1",
        "looma_http_requests_total{component=\"router\"}",
        "looma_graphql_requests_total{component=\"search\"}",
        "looma_router_subgraph_fetches_total{subgraph=\"search\"}",
        "looma_search_index_documents{collection=\"resumes\"}",
        "process_resident_memory_bytes{component=\"monitor\"}",
        "looma_db_pool_connections{component=\"identity\"}",
    ] {
        while prometheus.query(promql).await.is_empty() {
            assert!(Instant::now() < deadline, "prometheus never had {promql}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    // Every target scraped (they are scraped at different offsets within the interval).
    loop {
        let up = prometheus.query("up{job=\"looma\"} == 1").await;
        if up.len() == targets.len() {
            break;
        }
        assert!(Instant::now() < deadline, "not every target is up: {up:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Search stops: the shipped LoomaComponentDown fires in Prometheus, and the monitor's
    // own rule of the same name fires too.
    p.stop_component(Component::Search).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let alerts = prometheus.alerts().await;
        let fired = alerts.iter().any(|a| {
            a["labels"]["alertname"] == "LoomaComponentDown"
                && a["labels"]["component"] == "search"
                && a["state"] == "firing"
        });
        if fired {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "LoomaComponentDown never fired in Prometheus: {alerts:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    wait_for(
        &p,
        &admin,
        ALERTS,
        json!({}),
        Duration::from_secs(30),
        |d| firing(d, "LoomaComponentDown", "search"),
    )
    .await;
    drop(prometheus);
    p.stop().await;
}

/// `scripts/check-deploy`: the shipped Prometheus config and rules pass `promtool check`, the
/// rules' own unit tests (`promtool test rules`) pass, the dashboards are JSON and the compose
/// file validates.
#[test]
fn the_shipped_deployment_files_check() {
    if std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_err()
    {
        report_skipped("promtool is not installed (scripts/install-packages ops)");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = std::process::Command::new("bash")
        .arg(root.join("scripts/check-deploy"))
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ok: promtool test rules"), "{stdout}");
}

// ---- per-user usage ----------------------------------------------------------------------

#[tokio::test]
async fn per_user_usage_through_the_router_sqlite() {
    per_user_usage_through_the_router(Backend::Sqlite).await;
}

#[tokio::test]
async fn per_user_usage_through_the_router_postgres() {
    per_user_usage_through_the_router(Backend::PostgresRedis).await;
}

const USER_USAGE: &str = "query($f: String!, $from: DateTime!, $to: DateTime!, $user: ID) {
  usage(feature: $f, from: $from, to: $to, bucket: DAY, userId: $user) { userId total }
}";
const TOP_USERS: &str = "query($f: String!, $from: DateTime!, $to: DateTime!) {
  usageByUser(feature: $f, from: $from, to: $to, first: 5) { userId total }
}";

fn period(feature: &str, user: Option<&str>) -> Value {
    let now = chrono::Utc::now();
    json!({
        "f": feature,
        "from": (now - chrono::TimeDelta::days(1)).to_rfc3339(),
        "to": (now + chrono::TimeDelta::days(1)).to_rfc3339(),
        "user": user,
    })
}

/// Two users search through the router; search counts each search for its user and reports
/// to the monitor, which answers per user (`monitor:read` sees everyone, a user only
/// themselves) and ranks them.
async fn per_user_usage_through_the_router(backend: Backend) {
    let Some(p) = start(backend, None).await else {
        return;
    };
    let admin = p.admin().await;
    let (ann_id, ann) = p.user_with_roles("ann@looma.test", &["recruiter"]).await;
    let (bob_id, bob) = p.user_with_roles("bob@looma.test", &["recruiter"]).await;
    let search = "query($q: String!) { textSearch(query: $q) { total } }";
    for (auth, queries) in [(&ann, &["java", "rust"][..]), (&bob, &["go"][..])] {
        for q in queries {
            data(&gql(&p, auth, search, json!({"q": q})).await);
        }
    }
    let semantic = "{ hybridSearch(query: \"python\") { id } }";
    let hybrid = gql(&p, &bob, semantic, json!({})).await;

    let top = wait_for(
        &p,
        &admin,
        TOP_USERS,
        period("search.text", None),
        Duration::from_secs(15),
        |d| d["usageByUser"].as_array().is_some_and(|u| u.len() == 2),
    )
    .await;
    assert_eq!(
        top["usageByUser"],
        json!([{"userId": &ann_id, "total": 2.0}, {"userId": &bob_id, "total": 1.0}])
    );
    // The admin's own searches (none here) and services are not users: only these two.
    let body = gql(&p, &admin, USER_USAGE, period("search.text", Some(&ann_id))).await;
    assert_eq!(
        data(&body)["usage"],
        json!({"userId": &ann_id, "total": 2.0})
    );
    let counted = |feature: &'static str, user: &str| {
        wait_for(
            &p,
            &admin,
            USER_USAGE,
            period(feature, Some(user)),
            Duration::from_secs(10),
            |d| d["usage"]["total"] == 1.0,
        )
    };
    // Hybrid searches are counted apart, when the model answered them.
    if hybrid.get("errors").is_none() {
        counted("search.hybrid", &bob_id).await;
    }

    // Uploads are counted by resume, for the uploader.
    use base64::Engine;
    let upload = "mutation($c: String!) { uploadResumeBase64(filename: \"cv.txt\", contentBase64: $c) { resume { id } } }";
    let file =
        b"Ann Example\nRust engineer, five years of backend work\nSkills: Rust, Go, Kubernetes";
    let uploaded = gql(
        &p,
        &ann,
        upload,
        json!({"c": base64::engine::general_purpose::STANDARD.encode(file)}),
    )
    .await;
    data(&uploaded);
    counted("resume.uploads", &ann_id).await;
    let bob_uploads = gql(
        &p,
        &admin,
        USER_USAGE,
        period("resume.uploads", Some(&bob_id)),
    )
    .await;
    assert_eq!(data(&bob_uploads)["usage"]["total"], 0.0, "{bob_uploads}");

    // Without `monitor:read`: one's own usage only.
    let own = gql(&p, &bob, USER_USAGE, period("search.text", Some(&bob_id))).await;
    assert_eq!(data(&own)["usage"]["total"], 1.0, "{own}");
    let others = gql(&p, &bob, USER_USAGE, period("search.text", Some(&ann_id))).await;
    assert_eq!(error_code(&others), "FORBIDDEN", "{others}");
    let platform = gql(&p, &bob, USER_USAGE, period("search.text", None)).await;
    assert_eq!(error_code(&platform), "FORBIDDEN", "{platform}");
    let ranking = gql(&p, &bob, TOP_USERS, period("search.text", None)).await;
    assert_eq!(error_code(&ranking), "FORBIDDEN", "{ranking}");
    // A platform-only feature has no per-user answer.
    let unknown = gql(
        &p,
        &admin,
        USER_USAGE,
        period("graphql.requests", Some(&ann_id)),
    )
    .await;
    assert_eq!(error_code(&unknown), "BAD_USER_INPUT", "{unknown}");
    // People cannot report usage, not even admins (a service credential's permission).
    let report = "mutation { reportUserUsage(entries: [{feature: \"search.text\", userId: \"x\", hour: \"2026-01-01T00:00:00Z\", value: 1000}]) }";
    let forged = gql(&p, &admin, report, json!({})).await;
    assert_eq!(error_code(&forged), "FORBIDDEN", "{forged}");
    p.stop().await;
}

crate::on_each_backend!(user_usage_store_ranks_sums_and_folds);

/// The per-user table on both databases: adds land in their hour, ranking, sums across
/// users, and folding old hours into days without changing any total.
async fn user_usage_store_ranks_sums_and_folds(p: TestPlatform) -> TestPlatform {
    use chrono::{DateTime, TimeDelta, Utc};
    let store = looma_monitor::store::MonitorStore::new(p.db().clone());
    let day: DateTime<Utc> = "2026-03-01T00:00:00Z".parse().unwrap();
    let hour = |h: i64| day + TimeDelta::hours(h);
    for (user, h, value) in [
        ("ann", 1, 2.0),
        ("ann", 1, 1.0),
        ("ann", 5, 4.0),
        ("ann", 26, 1.0),
        ("bob", 1, 5.0),
        ("cid", 3, 0.5),
    ] {
        store
            .add_user_usage("search.text", user, hour(h), value)
            .await
            .unwrap();
    }
    store
        .add_user_usage("chat.tokens", "cid", hour(1), 900.0)
        .await
        .unwrap();
    let end = day + TimeDelta::days(3);
    assert_eq!(
        store
            .user_usage("search.text", "ann", day, end)
            .await
            .unwrap(),
        vec![(hour(1), 3.0), (hour(5), 4.0), (hour(26), 1.0)]
    );
    assert_eq!(
        store.top_users("search.text", day, end, 2).await.unwrap(),
        vec![("ann".to_owned(), 8.0), ("bob".to_owned(), 5.0)]
    );
    assert_eq!(
        store
            .user_usage_summed("search.text", day, end)
            .await
            .unwrap(),
        vec![
            (hour(1), 8.0),
            (hour(3), 0.5),
            (hour(5), 4.0),
            (hour(26), 1.0)
        ]
    );

    // Everything before the second day is folded into that day's midnight row.
    let folded = store
        .fold_user_usage("search.text", day + TimeDelta::days(1))
        .await
        .unwrap();
    assert_eq!(folded, 4, "ann's two hours, bob's and cid's");
    assert_eq!(
        store
            .user_usage("search.text", "ann", day, end)
            .await
            .unwrap(),
        vec![(day, 7.0), (hour(26), 1.0)]
    );
    assert_eq!(
        store.top_users("search.text", day, end, 5).await.unwrap(),
        vec![
            ("ann".to_owned(), 8.0),
            ("bob".to_owned(), 5.0),
            ("cid".to_owned(), 0.5)
        ]
    );
    // A late report for a folded day lands in the day's row; folding again changes nothing.
    store
        .add_user_usage("search.text", "ann", hour(9), 1.0)
        .await
        .unwrap();
    assert_eq!(
        store
            .fold_user_usage("search.text", day + TimeDelta::days(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .user_usage("search.text", "ann", day, end)
            .await
            .unwrap(),
        vec![(day, 8.0), (hour(26), 1.0)]
    );
    // Other features are untouched.
    assert_eq!(
        store
            .user_usage("chat.tokens", "cid", day, end)
            .await
            .unwrap(),
        vec![(hour(1), 900.0)]
    );
    p
}
