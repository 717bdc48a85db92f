use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The router's settings (`[router]` in `looma.toml`, `LOOMA_ROUTER__*`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouterConfig {
    pub port: u16,
    /// Supergraph SDL file; watched and reloaded when it changes. `looma dev` composes one.
    pub supergraph_path: Option<PathBuf>,
    /// How long the supergraph file must be left alone after a change before it is read again
    /// (a save in several writes is read once), and how often it is polled where the file
    /// system reports no changes.
    pub reload_interval_ms: u64,
    /// Request timeout for every subgraph...
    pub subgraph_timeout_ms: u64,
    /// ...unless overridden here by subgraph name (`[router.subgraph_timeouts_ms] search = 2000`).
    /// Default: chat 180 000 (`sendMessage` waits for the whole answer, as
    /// `chat.generation_timeout_ms` does).
    pub subgraph_timeouts_ms: std::collections::BTreeMap<String, u64>,
    /// Operation limits checked before planning.
    pub max_depth: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    /// Field selections an operation (or fragment) may amount to once every fragment spread
    /// is expanded: a few hundred bytes of nested spreads can describe billions of fields.
    pub max_expanded_selections: usize,
    /// Largest JSON (or GET) request accepted; only multipart uploads may be larger.
    pub max_request_bytes: usize,
    /// Largest file in a multipart upload (GraphQL multipart request spec); the whole
    /// multipart body may exceed it by 1 MB.
    pub max_upload_bytes: usize,
    /// Allow `__schema` / `__type` introspection of the API schema.
    pub introspection: bool,
    /// Memory for cached plans (estimated bytes of documents and plans); least used evicted.
    pub plan_cache_bytes: u64,
    /// Memory for automatic persisted queries kept by this router (bytes of query text). Only
    /// operations that validate are stored. With Redis they are also shared between routers
    /// when smaller than `apq_shared_max_bytes`.
    pub apq_cache_bytes: u64,
    pub apq_shared_max_bytes: usize,
    /// CSRF prevention: a POST whose content type a browser may send cross-site without a
    /// preflight (none, `text/plain`, `application/x-www-form-urlencoded`,
    /// `multipart/form-data`) must carry one of these headers, which force a preflight.
    /// Empty: no check (not recommended).
    pub csrf_required_headers: Vec<String>,
    /// Identity's JWKS, to verify bearer tokens at the edge. Unset: bearer tokens are refused.
    pub jwks_url: Option<String>,
    /// Identity's GraphQL endpoint, to check API keys at the edge. Unset: API keys are refused.
    pub identity_url: Option<String>,
    /// Expected `iss` and `aud` of access tokens.
    pub token_issuer: String,
    pub token_audience: String,
    /// Subscriptions (`[router.subscriptions]`).
    pub subscriptions: SubscriptionConfig,
    /// Replicas, load balancing, passive health, circuit breakers and retries
    /// (`[router.traffic]`).
    pub traffic: crate::transport::traffic::TrafficConfig,
    /// Operations per client and window (`[router.rate_limit]`); off by default.
    pub rate_limit: crate::http::rate_limit::RateLimitConfig,
    /// Entity answers kept in the shared cache, per subgraph and type
    /// (`[[router.entity_cache.entities]]`); nothing by default.
    pub entity_cache: crate::transport::entity_cache::EntityCacheConfig,
    /// Follow the schema registry instead of the supergraph file (`[router.registry]`).
    pub registry: RegistryFollowConfig,
}

/// Following the schema registry (`[router.registry]`, `LOOMA_ROUTER__REGISTRY__*`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryFollowConfig {
    /// The registry's GraphQL URL. Set: the router serves the registry's supergraph and
    /// routes (signed with `server.router_secret`), swapping them as they change; unset:
    /// `supergraph_path` (air-gapped deployments).
    pub url: Option<String>,
    /// How this router is named in the registry (which version each router serves); default:
    /// `router-` and a random suffix per process.
    pub router_id: Option<String>,
    /// How long one long poll waits for a change.
    pub poll_wait_ms: u64,
    /// Pause after a failed poll or report.
    pub retry_ms: u64,
    /// How long the router waits at start for its first supergraph.
    pub startup_timeout_ms: u64,
    /// Report which schema coordinates client operations use, per client name and version
    /// (`apollographql-client-name`/`-version` headers), for usage-aware schema checks.
    pub report_usage: bool,
    pub usage_report_interval_ms: u64,
}

impl Default for RegistryFollowConfig {
    fn default() -> Self {
        RegistryFollowConfig {
            url: None,
            router_id: None,
            poll_wait_ms: 20_000,
            retry_ms: 1_000,
            startup_timeout_ms: 60_000,
            report_usage: true,
            usage_report_interval_ms: 10_000,
        }
    }
}

/// Subscription limits and timings (`[router.subscriptions]`,
/// `LOOMA_ROUTER__SUBSCRIPTIONS__*`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubscriptionConfig {
    /// Open subscriptions per client (per principal, or per IP address when anonymous);
    /// one more is refused with `RATE_LIMITED`.
    pub max_per_client: usize,
    /// Open subscriptions on this router, all clients together.
    pub max_total: usize,
    /// How long a WebSocket may stay open without `connection_init` (then closed, 4408).
    pub init_timeout_ms: u64,
    /// Keep-alive on HTTP streams: an SSE comment or an empty multipart part this often.
    pub heartbeat_ms: u64,
}

impl Default for SubscriptionConfig {
    fn default() -> Self {
        SubscriptionConfig {
            max_per_client: 16,
            max_total: 10_000,
            init_timeout_ms: 10_000,
            heartbeat_ms: 5_000,
        }
    }
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            port: 8206,
            supergraph_path: None,
            reload_interval_ms: 2_000,
            subgraph_timeout_ms: 30_000,
            subgraph_timeouts_ms: [("chat".to_owned(), 180_000)].into_iter().collect(),
            max_depth: 32,
            max_aliases: 200,
            max_root_fields: 64,
            max_expanded_selections: 20_000,
            max_request_bytes: 2 * 1024 * 1024,
            max_upload_bytes: 10 * 1024 * 1024,
            introspection: true,
            plan_cache_bytes: 64 * 1024 * 1024,
            apq_cache_bytes: 32 * 1024 * 1024,
            apq_shared_max_bytes: 256 * 1024,
            csrf_required_headers: looma_server::CSRF_PREFLIGHT_HEADERS
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
            jwks_url: None,
            identity_url: None,
            token_issuer: "looma-identity".into(),
            token_audience: "looma".into(),
            subscriptions: SubscriptionConfig::default(),
            traffic: Default::default(),
            rate_limit: Default::default(),
            entity_cache: Default::default(),
            registry: Default::default(),
        }
    }
}

impl RouterConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("router.max_depth", self.max_depth),
            ("router.max_aliases", self.max_aliases),
            ("router.max_root_fields", self.max_root_fields),
            (
                "router.max_expanded_selections",
                self.max_expanded_selections,
            ),
            ("router.max_request_bytes", self.max_request_bytes),
            ("router.max_upload_bytes", self.max_upload_bytes),
            (
                "router.subscriptions.max_per_client",
                self.subscriptions.max_per_client,
            ),
            (
                "router.subscriptions.max_total",
                self.subscriptions.max_total,
            ),
            (
                "router.subscriptions.init_timeout_ms",
                self.subscriptions.init_timeout_ms as usize,
            ),
            (
                "router.subscriptions.heartbeat_ms",
                self.subscriptions.heartbeat_ms as usize,
            ),
            ("router.registry.retry_ms", self.registry.retry_ms as usize),
            (
                "router.registry.usage_report_interval_ms",
                self.registry.usage_report_interval_ms as usize,
            ),
        ] {
            if value == 0 {
                return Err(format!("config key `{key}`: must be greater than 0"));
            }
        }
        for (key, value) in [
            ("router.plan_cache_bytes", self.plan_cache_bytes),
            ("router.apq_cache_bytes", self.apq_cache_bytes),
        ] {
            if value < 64 * 1024 {
                return Err(format!("config key `{key}`: must be at least 65536"));
            }
        }
        if let Some(bad) = self
            .csrf_required_headers
            .iter()
            .find(|h| http::HeaderName::from_bytes(h.as_bytes()).is_err())
        {
            return Err(format!(
                "config key `router.csrf_required_headers`: `{bad}` is not a header name"
            ));
        }
        if self.subgraph_timeout_ms == 0 {
            return Err("config key `router.subgraph_timeout_ms`: must be greater than 0".into());
        }
        if self.registry.poll_wait_ms > 25_000 {
            return Err("config key `router.registry.poll_wait_ms`: at most 25000".into());
        }
        self.traffic.validate()?;
        self.rate_limit.validate()?;
        self.entity_cache.validate()?;
        if let Some((name, _)) = self.subgraph_timeouts_ms.iter().find(|(_, ms)| **ms == 0) {
            return Err(format!(
                "config key `router.subgraph_timeouts_ms.{name}`: must be greater than 0"
            ));
        }
        Ok(())
    }
}
