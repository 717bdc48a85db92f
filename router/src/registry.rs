//! Following the schema registry: the router long-polls the registry's `routerConfig` for the
//! supergraph and each subgraph's healthy URLs, puts a new supergraph in force atomically
//! (requests in flight keep the one they started with; one that does not load is logged and
//! the old one keeps serving), and reports the operations it ran for usage-aware checks.
//! The file mode (`router.supergraph_path`) stays for air-gapped deployments.

use crate::config::RegistryFollowConfig;
use crate::http::RouterService;
use crate::supergraph::Supergraph;
use looma_server::ServiceClient;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

const POLL: &str =
    "query RouterPoll($routerId: String, $serving: Int, $known: String, $waitMs: Int!) {
  routerConfig(routerId: $routerId, serving: $serving, known: $known, waitMs: $waitMs) {
    etag changed supergraphVersion supergraphSdl routes { subgraph urls }
  }
}";

const REPORT: &str = "mutation RouterUsage($operations: [OperationUsageInput!]!) {
  reportSchemaUsage(operations: $operations)
}";

/// One answer of the registry's long poll.
#[derive(Debug)]
pub struct RegistryView {
    pub etag: String,
    pub changed: bool,
    pub version: i64,
    pub sdl: Option<String>,
    pub routes: HashMap<String, Vec<String>>,
}

/// The registry as a router calls it (a signed service principal holding `schema:read` and
/// `schema:publish`, for usage reports).
#[derive(Clone)]
pub struct RegistryClient {
    client: ServiceClient,
    router_id: String,
    config: RegistryFollowConfig,
}

impl RegistryClient {
    pub fn new(client: ServiceClient, config: RegistryFollowConfig) -> Self {
        let router_id = config.router_id.clone().unwrap_or_else(|| {
            format!(
                "router-{}-{:08x}",
                std::process::id(),
                rand::random::<u32>()
            )
        });
        RegistryClient {
            client,
            router_id,
            config,
        }
    }

    pub fn router_id(&self) -> &str {
        &self.router_id
    }

    /// One long poll: the current view when it differs from `known`, else (after up to
    /// `wait`) `changed: false`.
    pub async fn poll(
        &self,
        serving: Option<i64>,
        known: Option<&str>,
        wait: Duration,
    ) -> Result<RegistryView, String> {
        let data = self
            .client
            .query(
                POLL,
                json!({
                    "routerId": self.router_id,
                    "serving": serving,
                    "known": known,
                    "waitMs": wait.as_millis() as u64,
                }),
            )
            .await
            .map_err(|e| e.to_string())?;
        let view = &data["routerConfig"];
        let routes = view["routes"]
            .as_array()
            .map(|routes| {
                routes
                    .iter()
                    .filter_map(|route| {
                        let name = route["subgraph"].as_str()?.to_owned();
                        let urls = route["urls"]
                            .as_array()?
                            .iter()
                            .filter_map(|u| u.as_str().map(str::to_owned))
                            .collect();
                        Some((name, urls))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(RegistryView {
            etag: view["etag"]
                .as_str()
                .ok_or("the registry's answer has no etag")?
                .to_owned(),
            changed: view["changed"].as_bool().unwrap_or(false),
            version: view["supergraphVersion"].as_i64().unwrap_or(0),
            sdl: view["supergraphSdl"].as_str().map(str::to_owned),
            routes,
        })
    }

    /// The registry's current supergraph, waiting (and retrying) up to
    /// `startup_timeout_ms` for one to exist and load.
    pub async fn first_supergraph(&self) -> Result<(Supergraph, RegistryView), String> {
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(self.config.startup_timeout_ms);
        loop {
            let last_error = match self.poll(None, None, Duration::ZERO).await {
                Ok(view) => match view.sdl.as_deref().map(Supergraph::parse) {
                    Some(Ok(supergraph)) => {
                        metrics::gauge!(
                            "looma_router_supergraph_version",
                            "component" => crate::http::COMPONENT
                        )
                        .set(view.version as f64);
                        return Ok((supergraph, view));
                    }
                    Some(Err(error)) => {
                        format!("supergraph version {} does not load: {error}", view.version)
                    }
                    None => "the registry has no supergraph yet".to_owned(),
                },
                Err(error) => error,
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "no supergraph from the registry at {} within {} ms: {last_error}",
                    self.client.url(),
                    self.config.startup_timeout_ms
                ));
            }
            tracing::info!(reason = %last_error, "waiting for the registry's supergraph");
            tokio::time::sleep(Duration::from_millis(self.config.retry_ms)).await;
        }
    }

    async fn report(
        &self,
        batch: &[crate::usage::UsageCount],
    ) -> Result<(), looma_server::ServiceCallError> {
        let operations: Vec<Value> = batch
            .iter()
            .map(|entry| {
                // The registry's bounds: a longer coordinate list is cut (the operation is
                // still counted), counts are capped.
                let coordinates: Vec<&String> = entry
                    .usage
                    .coordinates
                    .iter()
                    .filter(|c| c.len() <= 300)
                    .take(5_000)
                    .collect();
                json!({
                    "signature": entry.usage.signature,
                    "name": entry.usage.name,
                    "coordinates": coordinates,
                    "clientName": entry.client_name,
                    "clientVersion": entry.client_version,
                    "count": entry.count.min(1_000_000_000),
                })
            })
            .collect();
        self.client
            .query(REPORT, json!({ "operations": operations }))
            .await
            .map(|_| ())
    }
}

/// Entries per usage report: well inside the registry's request body limit.
const REPORT_CHUNK: usize = 200;

/// Puts a view in force and returns the version now served. A new supergraph that loads is
/// swapped in after the routes are extended with the view's (a subgraph it adds is reachable
/// before a plan uses it; the routes of one it drops stay for requests still running on the
/// old plans, until the next view); one that does not load changes nothing. A view of the
/// same version replaces the routes (instances that turned healthy or silent).
pub fn apply_view(service: &RouterService, view: &RegistryView, serving: i64) -> i64 {
    let Some(sdl) = view.sdl.as_deref().filter(|_| view.version != serving) else {
        service.set_routes(view.routes.clone());
        return serving;
    };
    match Supergraph::parse(sdl) {
        Ok(supergraph) => {
            let mut routes = service.routes();
            routes.extend(view.routes.clone());
            service.set_routes(routes);
            service.replace(supergraph);
            metrics::gauge!(
                "looma_router_supergraph_version",
                "component" => crate::http::COMPONENT
            )
            .set(view.version as f64);
            tracing::info!(
                version = view.version,
                "supergraph from the registry in force"
            );
            view.version
        }
        Err(error) => {
            tracing::error!(version = view.version, %error, "the registry's supergraph does not load; keeping the current one and its routes");
            serving
        }
    }
}

/// Follows the registry for as long as the router lives: each change is applied as it comes.
/// `etag` and `serving` are what the router started with.
pub fn spawn_follower(
    service: &Arc<RouterService>,
    registry: RegistryClient,
    etag: String,
    serving: i64,
) -> tokio::task::JoinHandle<()> {
    let weak: Weak<RouterService> = Arc::downgrade(service);
    let wait = Duration::from_millis(registry.config.poll_wait_ms);
    let retry = Duration::from_millis(registry.config.retry_ms);
    tokio::spawn(async move {
        let mut etag = etag;
        let mut serving = serving;
        loop {
            if weak.strong_count() == 0 {
                return;
            }
            match registry.poll(Some(serving), Some(&etag), wait).await {
                Ok(view) => {
                    let Some(service) = weak.upgrade() else {
                        return;
                    };
                    if view.changed {
                        serving = apply_view(&service, &view, serving);
                        etag = view.etag;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "polling the schema registry; keeping the current supergraph");
                    tokio::time::sleep(retry).await;
                }
            }
        }
    })
}

/// Sends the usage counted since the last report every `usage_report_interval_ms` (a failed
/// report is kept for the next).
pub fn spawn_usage_reporter(
    service: &Arc<RouterService>,
    registry: RegistryClient,
) -> Option<tokio::task::JoinHandle<()>> {
    let recorder = service.usage()?.clone();
    let weak: Weak<RouterService> = Arc::downgrade(service);
    let every = Duration::from_millis(registry.config.usage_report_interval_ms);
    Some(tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if weak.strong_count() == 0 {
                return;
            }
            let batch = recorder.drain();
            let mut chunks = batch.chunks(REPORT_CHUNK);
            while let Some(chunk) = chunks.next() {
                match registry.report(chunk).await {
                    Ok(()) => {}
                    // Unreachable: kept for the next report, with the rest of the batch.
                    Err(error @ looma_server::ServiceCallError::Unreachable { .. }) => {
                        tracing::warn!(%error, "reporting operation usage to the registry; kept for the next report");
                        recorder.restore(chunk.to_vec());
                        for rest in chunks.by_ref() {
                            recorder.restore(rest.to_vec());
                        }
                        break;
                    }
                    // Refused: sending it again would be refused again.
                    Err(error) => {
                        tracing::error!(%error, operations = chunk.len(), "the registry refused a usage report; dropped");
                    }
                }
            }
        }
    }))
}
