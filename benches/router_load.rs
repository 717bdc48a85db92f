//! Router load benchmark, shaped like The Guild's graphql-gateways-benchmark: the router in
//! front of four subgraphs (accounts, products, inventory, reviews), a seven-level nested
//! query, N concurrent connections for a fixed time. Everything runs on 127.0.0.1 in this
//! process and stops by itself.
//!
//!     cargo bench --bench router_load
//!     LOOMA_BENCH_CONNECTIONS=50 LOOMA_BENCH_SECONDS=30 cargo bench --bench router_load
//!
//! Prints requests per second and latency percentiles. No thresholds: numbers are reported,
//! not asserted.

use looma_router::compose::{SubgraphSource, compose};
use looma_router::{RouterConfig, RouterService};
use std::time::{Duration, Instant};

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

fn main() {
    let connections = env_number("LOOMA_BENCH_CONNECTIONS", 50) as usize;
    let seconds = env_number("LOOMA_BENCH_SECONDS", 20);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let subgraphs = looma_testkit::start_all(0).await.expect("subgraphs");
        let sources: Vec<SubgraphSource> = subgraphs
            .iter()
            .map(|s| SubgraphSource {
                name: s.name.to_owned(),
                url: s.url(),
                sdl: s.sdl.clone(),
            })
            .collect();
        let supergraph = looma_router::supergraph::Supergraph::parse(&compose(&sources).expect("compose"))
            .expect("supergraph");
        let service = RouterService::new(supergraph, RouterConfig::default(), None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, looma_router::router(service)).await;
        });
        let url = format!("http://{addr}/graphql");
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .build()
            .expect("client");
        let body = serde_json::json!({ "query": QUERY });

        // Correctness first: the response must be complete and error-free.
        let check: serde_json::Value = client.post(&url).json(&body).send().await.expect("router").json().await.expect("json");
        assert!(check.get("errors").is_none(), "benchmark query failed: {check}");
        let bytes = check.to_string().len();

        let warmup_end = Instant::now() + Duration::from_secs(2);
        while Instant::now() < warmup_end {
            let _ = client.post(&url).json(&body).send().await.map(|r| r.bytes());
        }

        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..connections {
            let client = client.clone();
            let url = url.clone();
            let body = body.clone();
            workers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = 0usize;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match client.post(&url).json(&body).send().await {
                        Ok(response) if response.status().is_success() => match response.bytes().await {
                            Ok(_) => latencies.push(sent.elapsed()),
                            Err(_) => failures += 1,
                        },
                        _ => failures += 1,
                    }
                }
                (latencies, failures)
            }));
        }
        let mut latencies = Vec::new();
        let mut failures = 0;
        for worker in workers {
            if let Ok((mut l, f)) = worker.await {
                latencies.append(&mut l);
                failures += f;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!("router_load: {connections} connections, {seconds} s, response {bytes} bytes");
        println!(
            "router_load: {} requests, {:.0} req/s, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, failures {failures}",
            latencies.len(),
            latencies.len() as f64 / elapsed,
            ms(percentile(&latencies, 0.50)),
            ms(percentile(&latencies, 0.95)),
            ms(percentile(&latencies, 0.99)),
        );
        let counts: Vec<String> = subgraphs.iter().map(|s| format!("{}={}", s.name, s.requests())).collect();
        println!("router_load: subgraph requests {}", counts.join(" "));
    });
}
