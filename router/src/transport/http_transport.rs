//! [`HttpTransport`]: subgraph requests over pooled keep-alive HTTP, JSON or (with files)
//! GraphQL multipart, through each subgraph's [`Upstream`] (replicas, load balancing, passive
//! health, circuit breaker, retries of idempotent fetches: see `traffic`); subscriptions over
//! WebSocket (`super::ws_client`).

use super::traffic::{self, Refused, TrafficConfig, Upstream};
use super::{SubgraphRequest, SubgraphTransport, UploadedFile, looks_like_json_object};
use crate::supergraph::Subgraph;
use bytes::Bytes;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Pooled keep-alive HTTP to subgraphs, with a timeout per subgraph.
pub struct HttpTransport {
    client: reqwest::Client,
    default_timeout: std::time::Duration,
    timeouts: HashMap<String, std::time::Duration>,
    traffic: TrafficConfig,
    /// Per subgraph name: its replicas' URLs and their state (rebuilt when a reloaded
    /// supergraph moves a subgraph).
    upstreams: Mutex<HashMap<String, Arc<Upstream>>>,
    /// Where the schema registry says each subgraph is served now (its healthy instances);
    /// ahead of `traffic.subgraph_urls` and the supergraph's URL for the subgraphs it names.
    routes: Routes,
}

/// Subgraph name → URLs to use instead of the supergraph's; an empty list means no instance
/// is healthy (requests fail fast with `SUBGRAPH_UNAVAILABLE`). Swapped whole.
pub type Routes = Arc<arc_swap::ArcSwap<HashMap<String, Vec<String>>>>;

impl HttpTransport {
    fn timeout_for(&self, subgraph: &Subgraph) -> std::time::Duration {
        self.timeouts
            .get(&subgraph.name)
            .copied()
            .unwrap_or(self.default_timeout)
    }

    /// `timeouts` overrides `default_timeout` for the subgraphs it names.
    pub fn new(
        default_timeout: std::time::Duration,
        timeouts: HashMap<String, std::time::Duration>,
        traffic: TrafficConfig,
    ) -> Self {
        let client = reqwest::Client::builder()
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        HttpTransport {
            client,
            default_timeout,
            timeouts,
            traffic,
            upstreams: Mutex::new(HashMap::new()),
            routes: Routes::default(),
        }
    }

    /// The route table this transport reads; the registry follower writes it.
    pub fn routes(&self) -> Routes {
        self.routes.clone()
    }

    /// The URLs to use for `subgraph`: the registry's routes, else the configured replicas,
    /// else the supergraph's URL.
    fn urls(&self, subgraph: &Subgraph) -> Vec<String> {
        if let Some(urls) = self.routes.load().get(&subgraph.name) {
            return urls.clone();
        }
        self.traffic
            .subgraph_urls
            .get(&subgraph.name)
            .cloned()
            .unwrap_or_else(|| vec![subgraph.url.clone()])
    }

    /// The subgraph's upstream over [`urls`](Self::urls); `Err` when no instance is
    /// routable.
    pub fn upstream(&self, subgraph: &Subgraph) -> Result<Arc<Upstream>, String> {
        let urls = self.urls(subgraph);
        if urls.is_empty() {
            return Err(format!(
                "no healthy instance of `{}` is registered",
                subgraph.name
            ));
        }
        let mut upstreams = self
            .upstreams
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match upstreams.get(&subgraph.name) {
            Some(upstream) if upstream.replicas.iter().map(|r| &r.url).eq(urls.iter()) => {
                Ok(upstream.clone())
            }
            _ => {
                let upstream = Arc::new(Upstream::new(urls));
                upstreams.insert(subgraph.name.clone(), upstream.clone());
                self.spawn_health_checks(&upstream);
                Ok(upstream)
            }
        }
    }

    /// Asks every replica's `/health` every `health_check_interval_ms` (while the upstream is
    /// in use) and ejects those that do not answer 200.
    fn spawn_health_checks(&self, upstream: &Arc<Upstream>) {
        let every = std::time::Duration::from_millis(self.traffic.health_check_interval_ms);
        if every.is_zero() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let eject_for = std::time::Duration::from_millis(self.traffic.eject_for_ms);
        let weak = Arc::downgrade(upstream);
        let client = self.client.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(upstream) = weak.upgrade() else {
                    return;
                };
                for replica in &upstream.replicas {
                    let healthy = client
                        .get(replica.health_url())
                        .timeout(every.min(std::time::Duration::from_secs(2)))
                        .send()
                        .await
                        .is_ok_and(|response| response.status().is_success());
                    if !healthy {
                        tracing::warn!(url = %replica.url, "replica failed its health check");
                        replica.eject_until(Instant::now() + eject_for);
                    }
                }
            }
        });
    }

    async fn post_json(
        &self,
        url: &str,
        subgraph: &Subgraph,
        body: Bytes,
        headers: &http::HeaderMap,
    ) -> Result<Bytes, String> {
        let response = self
            .client
            .post(url)
            .timeout(self.timeout_for(subgraph))
            .headers(headers.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(describe_send_error)?;
        read_graphql_response(response).await
    }
}

fn describe_send_error(error: reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else {
        "connection failed".to_owned()
    }
}

fn circuit_open(subgraph: &Subgraph) -> String {
    metrics::counter!(
        "looma_router_circuit_open_total",
        "component" => crate::http::COMPONENT,
        "subgraph" => subgraph.name.clone()
    )
    .increment(1);
    "its circuit is open after repeated failures (failing fast until a probe succeeds)".to_owned()
}

/// `looma_router_subgraph_fetches_total{subgraph, outcome}` and the fetch's duration. A
/// subgraph's name comes from the supergraph, so the label set is bounded by it.
fn observe_fetch(subgraph: &Subgraph, started: Instant, ok: bool) {
    let name = subgraph.name.clone();
    metrics::counter!(
        "looma_router_subgraph_fetches_total",
        "component" => crate::http::COMPONENT,
        "subgraph" => name.clone(),
        "outcome" => if ok { "ok" } else { "error" }
    )
    .increment(1);
    metrics::histogram!(
        "looma_router_subgraph_fetch_duration_seconds",
        "component" => crate::http::COMPONENT,
        "subgraph" => name
    )
    .record(started.elapsed().as_secs_f64());
}

#[async_trait::async_trait]
impl SubgraphTransport for HttpTransport {
    async fn send(
        &self,
        subgraph: &Subgraph,
        request: SubgraphRequest,
        headers: &http::HeaderMap,
    ) -> Result<Bytes, String> {
        let started = Instant::now();
        let upstream = match self.upstream(subgraph) {
            Ok(upstream) => upstream,
            Err(error) => {
                observe_fetch(subgraph, started, false);
                return Err(error);
            }
        };
        let config = &self.traffic;
        let retryable = request.idempotent;
        upstream.earn_retry(config);
        let mut retries = 0;
        let mut avoid: Option<String> = None;
        let outcome = loop {
            if let Err(Refused::CircuitOpen) = upstream.admit(config, Instant::now()) {
                break Err(circuit_open(subgraph));
            }
            let in_flight = upstream.pick(config, Instant::now(), avoid.as_deref());
            let url = in_flight.replica.url.clone();
            let outcome = self
                .post_json(&url, subgraph, request.body.clone(), headers)
                .await;
            upstream.record(config, in_flight.replica, outcome.is_ok(), Instant::now());
            drop(in_flight);
            match outcome {
                Err(error) if retryable && retries < config.retries && upstream.spend_retry() => {
                    retries += 1;
                    tracing::debug!(subgraph = %subgraph.name, %url, %error, retries, "retrying");
                    metrics::counter!(
                        "looma_router_subgraph_retries_total",
                        "component" => crate::http::COMPONENT,
                        "subgraph" => subgraph.name.clone()
                    )
                    .increment(1);
                    tokio::time::sleep(traffic::backoff(config, retries)).await;
                    // Another replica, when there is one.
                    avoid = Some(url);
                }
                outcome => break outcome,
            }
        };
        observe_fetch(subgraph, started, outcome.is_ok());
        outcome
    }

    async fn send_with_files(
        &self,
        subgraph: &Subgraph,
        body: Value,
        headers: &http::HeaderMap,
        files: &[(String, UploadedFile)],
    ) -> Result<Bytes, String> {
        let form = multipart_form(body, files)?;
        let started = Instant::now();
        let upstream = self.upstream(subgraph)?;
        let config = &self.traffic;
        // Uploads carry their files once: never retried.
        let outcome = match upstream.admit(config, Instant::now()) {
            Err(Refused::CircuitOpen) => Err(circuit_open(subgraph)),
            Ok(()) => {
                let in_flight = upstream.pick(config, Instant::now(), None);
                let outcome = async {
                    let response = self
                        .client
                        .post(&in_flight.replica.url)
                        .timeout(self.timeout_for(subgraph))
                        .headers(headers.clone())
                        .header("apollo-require-preflight", "true")
                        .multipart(form)
                        .send()
                        .await
                        .map_err(describe_send_error)?;
                    read_graphql_response(response).await
                }
                .await;
                upstream.record(config, in_flight.replica, outcome.is_ok(), Instant::now());
                outcome
            }
        };
        observe_fetch(subgraph, started, outcome.is_ok());
        outcome
    }

    async fn subscribe(
        &self,
        subgraph: &Subgraph,
        body: Value,
        headers: &http::HeaderMap,
    ) -> Result<super::SubgraphEvents, String> {
        let urls = self.urls(subgraph);
        let Some(url) = urls.first() else {
            return Err(format!(
                "no healthy instance of `{}` is registered",
                subgraph.name
            ));
        };
        super::ws_client::subscribe(url, headers, body, self.timeout_for(subgraph)).await
    }
}

/// The body of a subgraph's answer when it can be a GraphQL response (a JSON object, whatever
/// the status: GraphQL-over-HTTP answers errors with 4xx); otherwise why not.
async fn read_graphql_response(response: reqwest::Response) -> Result<Bytes, String> {
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("reading the response: {e}"))?;
    if looks_like_json_object(&bytes) {
        Ok(bytes)
    } else if !status.is_success() {
        Err(format!("HTTP {status}"))
    } else {
        Err("the response is not a GraphQL JSON object".to_owned())
    }
}

/// The multipart form for a subgraph: `operations`, `map`, then one part per file.
fn multipart_form(
    body: Value,
    files: &[(String, UploadedFile)],
) -> Result<reqwest::multipart::Form, String> {
    let mut map = Map::new();
    for (i, (path, _)) in files.iter().enumerate() {
        map.insert(
            i.to_string(),
            Value::Array(vec![Value::String(path.clone())]),
        );
    }
    let mut form = reqwest::multipart::Form::new()
        .text("operations", body.to_string())
        .text("map", Value::Object(map).to_string());
    for (i, (_, file)) in files.iter().enumerate() {
        let mut part = reqwest::multipart::Part::stream(reqwest::Body::from(file.bytes.clone()))
            .file_name(file.filename.clone());
        if let Some(content_type) = &file.content_type {
            part = part
                .mime_str(content_type)
                .map_err(|e| format!("bad content type: {e}"))?;
        }
        form = form.part(i.to_string(), part);
    }
    Ok(form)
}
