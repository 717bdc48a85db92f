//! Router load benchmark, shaped like The Guild's graphql-gateways-benchmark: the router in
//! front of four subgraphs (accounts, products, inventory, reviews), a seven-level nested
//! query, N concurrent connections for a fixed time, everything on 127.0.0.1.
//!
//!     cargo bench -p looma-router --bench router_load
//!     LOOMA_BENCH_CONNECTIONS=50 LOOMA_BENCH_SECONDS=30 cargo bench -p looma-router --bench router_load
//!     LOOMA_BENCH_FEATURES=off,traffic,rate_limit,entity_cache,all cargo bench -p looma-router --bench router_load
//!     HIVE_ROUTER_BIN=/path/to/hive_router cargo bench -p looma-router --bench router_load
//!     LOOMA_BENCH_HIVE_DEDUPE=0 LOOMA_BENCH_FEATURES=off HIVE_ROUTER_BIN=… cargo bench …   # both without de-duplication
//!     LOOMA_BENCH_APOLLO_GATEWAY=/dir/with/node_modules cargo bench -p looma-router --bench router_load
//!
//! Routers under test, one after another against the same subgraph process and supergraph:
//! ours always (once per `LOOMA_BENCH_FEATURES` entry); Hive Router when `HIVE_ROUTER_BIN`
//! names its binary; Apollo's Node gateway when `LOOMA_BENCH_APOLLO_GATEWAY` names a directory
//! where `@apollo/gateway` and `@apollo/server` are installed. `LOOMA_BENCH_ROUTERS`
//! (`looma,hive,apollo`) picks among them.
//!
//! `LOOMA_BENCH_FEATURES` runs our router once per listed setup, to show what each feature
//! costs: `off` (no retries, breaker, health checks, de-duplication or rate limit), `traffic`
//! (the defaults of `[router.traffic]`: least-outstanding balancing, breaker, retries, active
//! health checks, in-flight de-duplication), `rate_limit` (limits counted in the in-process
//! cache, set high enough never to refuse), `entity_cache` (`traffic` and every entity type of
//! the four subgraphs cached in the in-process cache for a minute: after the first requests
//! every entity fetch is a hit, the best case), `all`. Default: `traffic` alone (the shipped
//! defaults).
//!
//! The subgraphs, the router and the load generator run as three processes (this binary
//! re-executed in different roles, or the other router's binary), so the router's own CPU time
//! per request and its peak RSS can be read from /proc and reported next to the end-to-end
//! requests/s. A response counts (in requests/s and the latencies) only when it is HTTP 200 and
//! its answer is the reference answer: the first answer of our router, compared as JSON; every
//! router's first answer is checked against it before its load starts. With
//! `LOOMA_BENCH_REFERENCE=<file>` the reference answer is read from that file (written there
//! when the file does not exist yet), so a changed router is held to an earlier router's
//! answer. GraphQL errors, other
//! answers, other statuses and transport errors are reported on their own line. No thresholds:
//! numbers are reported, not asserted.

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
    /// HTTP 200 and the reference answer.
    Success,
    /// HTTP 200, but the body carries `errors` (a failed fetch, a partial result).
    GraphqlErrors,
    /// HTTP 200 and a GraphQL response without errors, but not the reference answer.
    WrongAnswer,
    /// Any status other than 200.
    HttpStatus,
    /// HTTP 200 with a body that is not a GraphQL JSON response.
    InvalidBody,
    /// The connection failed or the body could not be read.
    Transport,
}

/// The answer a router must give: the reference (the first router's first answer) as JSON,
/// and this router's own first answer as bytes. A router that writes the same bytes every
/// time is checked by one comparison; any other body is parsed and compared as JSON.
struct Expected {
    reference: std::sync::Arc<serde_json::Value>,
    bytes: Vec<u8>,
}

impl Outcome {
    fn of(status: reqwest::StatusCode, body: &[u8], expected: &Expected) -> Outcome {
        if status != reqwest::StatusCode::OK {
            return Outcome::HttpStatus;
        }
        if !expected.bytes.is_empty() && body == expected.bytes.as_slice() {
            return Outcome::Success;
        }
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(answer) if answer == *expected.reference => Outcome::Success,
            Ok(answer) if answer.get("errors").is_some() => Outcome::GraphqlErrors,
            Ok(answer) if answer.is_object() => Outcome::WrongAnswer,
            _ => Outcome::InvalidBody,
        }
    }
}

/// Requests that did not succeed, by kind; reported next to the successes, never mixed in.
#[derive(Default)]
struct Failures {
    graphql_errors: usize,
    wrong_answer: usize,
    http_status: usize,
    invalid_body: usize,
    transport: usize,
}

impl Failures {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Success => {}
            Outcome::GraphqlErrors => self.graphql_errors += 1,
            Outcome::WrongAnswer => self.wrong_answer += 1,
            Outcome::HttpStatus => self.http_status += 1,
            Outcome::InvalidBody => self.invalid_body += 1,
            Outcome::Transport => self.transport += 1,
        }
    }

    fn add(&mut self, other: &Failures) {
        self.graphql_errors += other.graphql_errors;
        self.wrong_answer += other.wrong_answer;
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
    let entity_cache = matches!(features, "entity_cache" | "all");
    let traffic = traffic || entity_cache;
    if entity_cache {
        for subgraph in ["accounts", "products", "inventory", "reviews"] {
            for typename in ["User", "Product", "Review"] {
                config.entity_cache.entities.push(
                    looma_router::transport::entity_cache::CachedEntity {
                        subgraph: subgraph.into(),
                        typename: typename.into(),
                        ttl_ms: 60_000,
                        scope: Default::default(),
                    },
                );
            }
        }
    }
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

/// A process's peak resident set size in MB (`VmHWM` in /proc; 0 when unreadable).
fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A free loopback port for a router that takes its port from configuration.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// A router process under test and the URL of its GraphQL endpoint.
struct RouterProcess {
    label: String,
    child: Child,
    url: String,
}

impl RouterProcess {
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Hive Router (`bin`) on the supergraph with a configuration file written in `dir`.
fn start_hive(bin: &str, supergraph: &std::path::Path, dir: &std::path::Path) -> RouterProcess {
    let port = free_port();
    let config = dir.join("router.config.yaml");
    std::fs::write(
        &config,
        format!(
            "supergraph:\n  source: file\n  path: {}\nhttp:\n  host: 127.0.0.1\n  port: {port}\nlog:\n  level: error\n{}",
            supergraph.display(),
            // Its in-flight de-duplication of subgraph fetches is on by default, as ours is;
            // `LOOMA_BENCH_HIVE_DEDUPE=0` turns it off (to set beside our `off` setup).
            if std::env::var("LOOMA_BENCH_HIVE_DEDUPE").as_deref() == Ok("0") {
                "traffic_shaping:\n  all:\n    dedupe_enabled: false\n"
            } else {
                ""
            }
        ),
    )
    .expect("write the Hive Router configuration");
    let child = Command::new(bin)
        .current_dir(dir)
        .env("ROUTER_CONFIG_FILE_PATH", &config)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start Hive Router");
    RouterProcess {
        label: if std::env::var("LOOMA_BENCH_HIVE_DEDUPE").as_deref() == Ok("0") {
            "hive-router [no dedupe]".into()
        } else {
            "hive-router".into()
        },
        child,
        url: format!("http://127.0.0.1:{port}/graphql"),
    }
}

/// The Node gateway: `@apollo/gateway` behind `@apollo/server`, loaded from `modules`.
const APOLLO_GATEWAY_JS: &str = r#"
const fs = require('fs');
const { ApolloServer } = require('@apollo/server');
const { startStandaloneServer } = require('@apollo/server/standalone');
const { ApolloGateway } = require('@apollo/gateway');
const gateway = new ApolloGateway({ supergraphSdl: fs.readFileSync(process.env.SUPERGRAPH, 'utf8') });
const server = new ApolloServer({ gateway });
startStandaloneServer(server, { listen: { host: '127.0.0.1', port: Number(process.env.PORT) } });
"#;

/// Starts Apollo's Node gateway with the packages installed under `modules`.
fn start_apollo_gateway(
    modules: &str,
    supergraph: &std::path::Path,
    dir: &std::path::Path,
) -> RouterProcess {
    let port = free_port();
    let script = dir.join("gateway.js");
    std::fs::write(&script, APOLLO_GATEWAY_JS).expect("write the gateway script");
    let child = Command::new("node")
        .arg(&script)
        .env(
            "NODE_PATH",
            std::path::Path::new(modules).join("node_modules"),
        )
        .env("SUPERGRAPH", supergraph)
        .env("PORT", port.to_string())
        .env("NODE_ENV", "production")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start node");
    RouterProcess {
        label: "apollo-gateway".into(),
        child,
        url: format!("http://127.0.0.1:{port}/"),
    }
}

/// What one router measured.
struct Measured {
    label: String,
    requests_per_second: f64,
    p50: Duration,
    p95: Duration,
    p99: Duration,
    cpu_ms_per_request: f64,
    peak_rss_mb: f64,
    failures: Failures,
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
    let hive_bin = std::env::var("HIVE_ROUTER_BIN")
        .ok()
        .filter(|b| !b.is_empty());
    let apollo_modules = std::env::var("LOOMA_BENCH_APOLLO_GATEWAY")
        .ok()
        .filter(|d| !d.is_empty());
    let routers =
        std::env::var("LOOMA_BENCH_ROUTERS").unwrap_or_else(|_| "looma,hive,apollo".into());
    let routers: Vec<&str> = routers.split(',').map(str::trim).collect();

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

    let mut starts: Vec<Box<dyn Fn() -> RouterProcess>> = Vec::new();
    if routers.contains(&"looma") {
        let features = std::env::var("LOOMA_BENCH_FEATURES").unwrap_or_else(|_| "traffic".into());
        for feature in features.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            let feature = feature.to_owned();
            let supergraph = supergraph_path.clone();
            starts.push(Box::new(move || {
                let (child, url) = spawn_role(
                    "router",
                    &[
                        (
                            "LOOMA_BENCH_SUPERGRAPH",
                            supergraph.to_str().unwrap_or_default(),
                        ),
                        ("LOOMA_BENCH_FEATURES", &feature),
                    ],
                );
                RouterProcess {
                    label: format!("looma [{feature}]"),
                    child,
                    url,
                }
            }));
        }
    }
    if let Some(bin) = hive_bin.filter(|_| routers.contains(&"hive")) {
        let (supergraph, dir) = (supergraph_path.clone(), dir.clone());
        starts.push(Box::new(move || start_hive(&bin, &supergraph, &dir)));
    }
    if let Some(modules) = apollo_modules.filter(|_| routers.contains(&"apollo")) {
        let (supergraph, dir) = (supergraph_path.clone(), dir.clone());
        starts.push(Box::new(move || {
            start_apollo_gateway(&modules, &supergraph, &dir)
        }));
    }

    let reference_file = std::env::var("LOOMA_BENCH_REFERENCE")
        .ok()
        .filter(|f| !f.is_empty());
    let mut reference: Option<std::sync::Arc<serde_json::Value>> = reference_file
        .as_ref()
        .and_then(|file| std::fs::read(file).ok())
        .map(|bytes| {
            std::sync::Arc::new(
                serde_json::from_slice(&bytes).expect("the reference answer is JSON"),
            )
        });
    let had_reference = reference.is_some();
    let mut results = Vec::new();
    for start in starts {
        let router = start();
        let measured = measure(&router, &mut reference, connections, seconds);
        router.stop();
        results.extend(measured);
    }
    if let (Some(file), Some(answer), false) = (&reference_file, &reference, had_reference) {
        std::fs::write(file, answer.to_string()).expect("write the reference answer");
    }
    let mut subgraphs = subgraphs;
    drop(subgraphs.stdin.take());
    let _ = subgraphs.kill();
    let _ = subgraphs.wait();
    let _ = std::fs::remove_dir_all(&dir);

    println!();
    println!(
        "| router | req/s | p50 / p95 / p99 ms | router CPU per request | peak RSS | not counted |"
    );
    println!("|---|---|---|---|---|---|");
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for m in &results {
        let f = &m.failures;
        let not_counted =
            f.graphql_errors + f.wrong_answer + f.http_status + f.invalid_body + f.transport;
        println!(
            "| {} | {:.0} | {:.0} / {:.0} / {:.0} | {:.2} ms | {:.0} MB | {} |",
            m.label,
            m.requests_per_second,
            ms(m.p50),
            ms(m.p95),
            ms(m.p99),
            m.cpu_ms_per_request,
            m.peak_rss_mb,
            not_counted
        );
    }
}

/// Sends the query once; `None` when the router is not answering yet.
async fn ask(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> Option<(reqwest::StatusCode, Vec<u8>)> {
    let response = client.post(url).json(body).send().await.ok()?;
    let status = response.status();
    Some((status, response.bytes().await.ok()?.to_vec()))
}

/// Loads `router` and prints its numbers. Its first answer must be the reference answer
/// (the first router's first answer, set here when `reference` is empty); a router that
/// gives another answer is reported and not measured.
fn measure(
    router: &RouterProcess,
    reference: &mut Option<std::sync::Arc<serde_json::Value>>,
    connections: usize,
    seconds: u64,
) -> Option<Measured> {
    let url = router.url.clone();
    let label = router.label.clone();
    let router_pid = router.child.id();
    runtime().block_on(async move {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .build()
            .expect("client");
        let body = serde_json::json!({ "query": QUERY });
        // A router that takes its port from configuration is up once it answers.
        let ready_by = Instant::now() + Duration::from_secs(60);
        let (status, first) = loop {
            match ask(&client, &url, &body).await {
                Some(answer) => break answer,
                None if Instant::now() < ready_by => tokio::time::sleep(Duration::from_millis(200)).await,
                None => {
                    println!("router_load [{label}]: did not answer within 60 s; not measured");
                    return None;
                }
            }
        };
        let answer: serde_json::Value = serde_json::from_slice(&first).unwrap_or_default();
        if status != reqwest::StatusCode::OK || answer.get("errors").is_some() || !answer.is_object() {
            println!("router_load [{label}]: benchmark query failed: HTTP {status}, {}; not measured", String::from_utf8_lossy(&first));
            return None;
        }
        let reference = reference.get_or_insert_with(|| std::sync::Arc::new(answer.clone())).clone();
        if answer != *reference {
            println!("router_load [{label}]: its answer differs from the reference answer; not measured");
            return None;
        }
        let expected = std::sync::Arc::new(Expected { reference, bytes: first.clone() });
        let bytes = first.len();

        let warmup_end = Instant::now() + Duration::from_secs(2);
        while Instant::now() < warmup_end {
            let _ = ask(&client, &url, &body).await;
        }

        let router_cpu_before = cpu_seconds(router_pid);
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..connections {
            let client = client.clone();
            let url = url.clone();
            let body = body.clone();
            let expected = expected.clone();
            workers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = Failures::default();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match ask(&client, &url, &body).await {
                        Some((status, answer)) => match Outcome::of(status, &answer, &expected) {
                            Outcome::Success => latencies.push(sent.elapsed()),
                            failure => failures.count(failure),
                        },
                        None => failures.count(Outcome::Transport),
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
        let measured = Measured {
            label: label.clone(),
            requests_per_second: latencies.len() as f64 / elapsed,
            p50: percentile(&latencies, 0.50),
            p95: percentile(&latencies, 0.95),
            p99: percentile(&latencies, 0.99),
            cpu_ms_per_request,
            peak_rss_mb: peak_rss_mb(router_pid),
            failures,
        };
        println!("router_load [{label}]: {connections} connections, {seconds} s, response {bytes} bytes, 3 processes on one machine");
        println!(
            "router_load [{label}]: {} successful requests (HTTP 200, the reference answer), {:.0} req/s, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
            latencies.len(),
            measured.requests_per_second,
            ms(measured.p50),
            ms(measured.p95),
            ms(measured.p99),
        );
        let f = &measured.failures;
        println!(
            "router_load [{label}]: not counted: {} GraphQL error responses, {} other answers, {} other HTTP statuses, {} unreadable bodies, {} transport errors",
            f.graphql_errors, f.wrong_answer, f.http_status, f.invalid_body, f.transport
        );
        println!(
            "router_load [{label}]: router CPU {cpu_ms_per_request:.2} ms/request (≈ {:.0} req/s on 2 dedicated cores), peak RSS {:.0} MB",
            2000.0 / cpu_ms_per_request.max(0.001),
            measured.peak_rss_mb
        );
        Some(measured)
    })
}
