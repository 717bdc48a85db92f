//! Router load benchmark, shaped like The Guild's graphql-gateways-benchmark: the router in
//! front of four subgraphs (accounts, products, inventory, reviews), a seven-level nested
//! query, N concurrent connections for a fixed time, everything on 127.0.0.1.
//!
//!     cargo bench --bench router_load
//!     LOOMA_BENCH_CONNECTIONS=50 LOOMA_BENCH_SECONDS=30 cargo bench --bench router_load
//!     LOOMA_BENCH_FEATURES=off,traffic,rate_limit,all cargo bench --bench router_load
//!
//! `LOOMA_BENCH_FEATURES` runs the benchmark once per listed router setup, to show what each
//! feature costs: `off` (no retries, breaker, health checks, de-duplication or rate limit),
//! `traffic` (the defaults of `[router.traffic]`: least-outstanding balancing, breaker,
//! retries, active health checks, in-flight de-duplication), `rate_limit` (limits counted in the in-process cache, set high enough
//! never to refuse), `all`. Default: `traffic` alone (the shipped defaults).
//!
//! The subgraphs, the router and the load generator run as three processes (this binary
//! re-executed in different roles), so the router's own CPU time per request can be read
//! from /proc and reported next to the end-to-end requests/s. Only HTTP 200 responses whose
//! JSON has no `errors` count as requests (and in the latencies); GraphQL errors, other statuses
//! and transport errors are reported on their own line. No thresholds: numbers are reported, not
//! asserted.

use looma_router::compose::{SubgraphSource, compose};
use looma_router::{RouterConfig, RouterService};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const QUERY: &str = r#"
fragment User on User { id username name }
fragment Review on Review { id body }
fragment Product on Product { inStock name price shippingEstimate upc weight }
query TestQuery {
  users {
    ...User
    reviews {
      ...Review
      product {
        ...Product
        reviews { ...Review author { ...User reviews { ...Review product { ...Product } } } }
      }
    }
  }
  topProducts {
    ...Product
    reviews { ...Review author { ...User reviews { ...Review product { ...Product } } } }
  }
}
"#;

const ROLE: &str = "LOOMA_BENCH_ROLE";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// How one timed request ended. Only a `Success` counts towards requests/s and latencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// HTTP 200 and a JSON body without `errors`.
    Success,
    /// HTTP 200, but the body carries `errors` (a failed fetch, a partial result).
    GraphqlErrors,
    /// Any status other than 200.
    HttpStatus,
    /// HTTP 200 with a body that is not a GraphQL JSON response.
    InvalidBody,
    /// The connection failed or the body could not be read.
    Transport,
}

/// Only whether `errors` is present is decoded; `data` is skipped without being built.
#[derive(serde::Deserialize)]
struct ResponseEnvelope {
    #[serde(default)]
    errors: Option<serde::de::IgnoredAny>,
}

impl Outcome {
    fn of(status: reqwest::StatusCode, body: &[u8]) -> Outcome {
        if status != reqwest::StatusCode::OK {
            return Outcome::HttpStatus;
        }
        match serde_json::from_slice::<ResponseEnvelope>(body) {
            Ok(ResponseEnvelope { errors: None }) => Outcome::Success,
            Ok(_) => Outcome::GraphqlErrors,
            Err(_) => Outcome::InvalidBody,
        }
    }
}

/// Requests that did not succeed, by kind; reported next to the successes, never mixed in.
#[derive(Default)]
struct Failures {
    graphql_errors: usize,
    http_status: usize,
    invalid_body: usize,
    transport: usize,
}

impl Failures {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Success => {}
            Outcome::GraphqlErrors => self.graphql_errors += 1,
            Outcome::HttpStatus => self.http_status += 1,
            Outcome::InvalidBody => self.invalid_body += 1,
            Outcome::Transport => self.transport += 1,
        }
    }

    fn add(&mut self, other: &Failures) {
        self.graphql_errors += other.graphql_errors;
        self.http_status += other.http_status;
        self.invalid_body += other.invalid_body;
        self.transport += other.transport;
    }
}

/// Role `subgraphs`: serve the four fixtures, print them as one JSON line, wait for stdin to close.
fn run_subgraphs() {
    runtime().block_on(async {
        let subgraphs = looma_testkit::start_all(0).await.expect("subgraphs");
        let listing: Vec<serde_json::Value> = subgraphs
            .iter()
            .map(|s| serde_json::json!({"name": s.name, "url": s.url(), "sdl": s.sdl}))
            .collect();
        println!("{}", serde_json::Value::Array(listing));
        wait_for_parent().await;
    });
}

/// The router's configuration for one `LOOMA_BENCH_FEATURES` entry.
fn router_config(features: &str) -> RouterConfig {
    let mut config = RouterConfig::default();
    let traffic = matches!(features, "traffic" | "all");
    let rate_limit = matches!(features, "rate_limit" | "all");
    if !traffic {
        config.traffic.retries = 0;
        config.traffic.breaker_failures = 0;
        config.traffic.health_check_interval_ms = 0;
        config.traffic.deduplicate = false;
    }
    if rate_limit {
        config.rate_limit.enabled = true;
        config.rate_limit.queries = u64::MAX / 2;
    }
    config
}

/// Role `router`: serve the supergraph file on a free port, print the URL, wait.
fn run_router(supergraph_path: &str) {
    runtime().block_on(async {
        let sdl = std::fs::read_to_string(supergraph_path).expect("supergraph file");
        let supergraph = looma_router::supergraph::Supergraph::parse(&sdl).expect("supergraph");
        let cache = std::sync::Arc::new(looma_cache::LocalCache::new("bench:", 16 * 1024 * 1024));
        let features = std::env::var("LOOMA_BENCH_FEATURES").unwrap_or_default();
        let service = RouterService::new(supergraph, router_config(&features), None, cache);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("http://{}/graphql", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, looma_router::router(service)).await;
        });
        wait_for_parent().await;
    });
}

/// Children stop when the parent closes their stdin (or dies).
async fn wait_for_parent() {
    let _ = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    })
    .await;
}

fn spawn_role(role: &str, extra: &[(&str, &str)]) -> (Child, String) {
    let mut command = Command::new(std::env::current_exe().expect("own path"));
    command
        .env(ROLE, role)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (key, value) in extra {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("spawn role");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("role announces itself");
    (child, line.trim().to_owned())
}

/// User + system CPU seconds a process has used (Linux /proc; 100 ticks per second).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("subgraphs") => return run_subgraphs(),
        Ok("router") => {
            return run_router(&std::env::var("LOOMA_BENCH_SUPERGRAPH").unwrap_or_default());
        }
        _ => {}
    }
    let connections = env_number("LOOMA_BENCH_CONNECTIONS", 50) as usize;
    let seconds = env_number("LOOMA_BENCH_SECONDS", 20);

    let (subgraphs, listing) = spawn_role("subgraphs", &[]);
    let listing: Vec<serde_json::Value> = serde_json::from_str(&listing).expect("subgraph listing");
    let sources: Vec<SubgraphSource> = listing
        .iter()
        .map(|s| SubgraphSource {
            name: s["name"].as_str().unwrap_or_default().to_owned(),
            url: s["url"].as_str().unwrap_or_default().to_owned(),
            sdl: s["sdl"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("looma-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let supergraph_path = dir.join("supergraph.graphql");
    std::fs::write(&supergraph_path, compose(&sources).expect("compose"))
        .expect("write supergraph");
    let features = std::env::var("LOOMA_BENCH_FEATURES").unwrap_or_else(|_| "traffic".into());
    for feature in features.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let (mut router, url) = spawn_role(
            "router",
            &[
                (
                    "LOOMA_BENCH_SUPERGRAPH",
                    supergraph_path.to_str().unwrap_or_default(),
                ),
                ("LOOMA_BENCH_FEATURES", feature),
            ],
        );
        measure(&url, router.id(), connections, seconds, feature);
        drop(router.stdin.take());
        let _ = router.kill();
        let _ = router.wait();
    }
    let mut subgraphs = subgraphs;
    drop(subgraphs.stdin.take());
    let _ = subgraphs.kill();
    let _ = subgraphs.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Loads the router at `url` (process `router_pid`) and prints the numbers, labelled with the
/// router setup.
fn measure(url: &str, router_pid: u32, connections: usize, seconds: u64, label: &str) {
    let url = url.to_owned();
    runtime().block_on(async move {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .build()
            .expect("client");
        let body = serde_json::json!({ "query": QUERY });
        let response = client.post(&url).json(&body).send().await.expect("router");
        let status = response.status();
        let check: serde_json::Value = response.json().await.expect("json");
        assert!(
            status == reqwest::StatusCode::OK && check.get("errors").is_none(),
            "benchmark query failed: HTTP {status}, {check}"
        );
        let bytes = check.to_string().len();

        let warmup_end = Instant::now() + Duration::from_secs(2);
        while Instant::now() < warmup_end {
            let _ = client.post(&url).json(&body).send().await.map(|r| r.bytes());
        }

        let router_cpu_before = cpu_seconds(router_pid);
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..connections {
            let client = client.clone();
            let url = url.clone();
            let body = body.clone();
            workers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = Failures::default();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match client.post(&url).json(&body).send().await {
                        Ok(response) => {
                            let status = response.status();
                            match response.bytes().await {
                                Ok(bytes) => match Outcome::of(status, &bytes) {
                                    Outcome::Success => latencies.push(sent.elapsed()),
                                    failure => failures.count(failure),
                                },
                                Err(_) => failures.count(Outcome::Transport),
                            }
                        }
                        Err(_) => failures.count(Outcome::Transport),
                    }
                }
                (latencies, failures)
            }));
        }
        let mut latencies = Vec::new();
        let mut failures = Failures::default();
        for worker in workers {
            if let Ok((mut l, f)) = worker.await {
                latencies.append(&mut l);
                failures.add(&f);
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let router_cpu = cpu_seconds(router_pid) - router_cpu_before;
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let requests = latencies.len().max(1) as f64;
        let cpu_ms_per_request = router_cpu * 1000.0 / requests;
        println!("router_load [{label}]: {connections} connections, {seconds} s, response {bytes} bytes, 3 processes on one machine");
        println!(
            "router_load [{label}]: {} successful requests (HTTP 200, no GraphQL errors), {:.0} req/s, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
            latencies.len(),
            latencies.len() as f64 / elapsed,
            ms(percentile(&latencies, 0.50)),
            ms(percentile(&latencies, 0.95)),
            ms(percentile(&latencies, 0.99)),
        );
        println!(
            "router_load [{label}]: not counted: {} GraphQL error responses, {} other HTTP statuses, {} unreadable bodies, {} transport errors",
            failures.graphql_errors, failures.http_status, failures.invalid_body, failures.transport
        );
        println!(
            "router_load [{label}]: router CPU {cpu_ms_per_request:.2} ms/request (≈ {:.0} req/s on 2 dedicated cores)",
            2000.0 / cpu_ms_per_request.max(0.001)
        );
    });
}
