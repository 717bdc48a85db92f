use serde::{Deserialize, Serialize};

/// The schema registry's settings (`[registry]` in `looma.toml`, `LOOMA_REGISTRY__*`): the
/// registry component itself, and how a component started with `--register` reaches it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    pub port: u16,
    /// The registry's GraphQL URL, for components that register and routers that follow it;
    /// default: this host's registry port.
    pub url: Option<String>,
    /// How often a registered instance says it is alive.
    pub heartbeat_interval_ms: u64,
    /// An instance silent this long is unhealthy: routers stop sending it requests.
    pub unhealthy_after_ms: u64,
    /// An instance silent this long is removed; a live subgraph with no instance left leaves
    /// the supergraph.
    pub remove_after_ms: u64,
    /// How often silent instances are looked for.
    pub sweep_interval_ms: u64,
    /// A breaking change is reported safe when no operation used what it changes within this
    /// many days (usage reported by routers).
    pub usage_window_days: u32,
    /// Longest a router's long poll for a new supergraph waits before answering "unchanged".
    pub max_poll_wait_ms: u64,
    /// Remove instances and recompose from this process (one registry replica should).
    pub worker_enabled: bool,
    /// Subgraphs of this process register with the registry at start (their SDL and URL)
    /// and heartbeat; `looma serve <component> --register` sets it.
    pub register: bool,
    /// The host other components reach this process at, for the registered URLs
    /// (`http://<host>:<port>/graphql`); default: `server.host` (127.0.0.1 when it is
    /// 0.0.0.0).
    pub advertise_host: Option<String>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            port: 8213,
            url: None,
            heartbeat_interval_ms: 1_000,
            unhealthy_after_ms: 3_000,
            remove_after_ms: 30_000,
            sweep_interval_ms: 500,
            usage_window_days: 30,
            max_poll_wait_ms: 20_000,
            worker_enabled: true,
            register: false,
            advertise_host: None,
        }
    }
}

impl RegistryConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("registry.heartbeat_interval_ms", self.heartbeat_interval_ms),
            ("registry.unhealthy_after_ms", self.unhealthy_after_ms),
            ("registry.remove_after_ms", self.remove_after_ms),
            ("registry.sweep_interval_ms", self.sweep_interval_ms),
            ("registry.max_poll_wait_ms", self.max_poll_wait_ms),
        ] {
            if value == 0 {
                return Err(format!("config key `{key}`: must be greater than 0"));
            }
        }
        if self.unhealthy_after_ms <= self.heartbeat_interval_ms {
            return Err(
                "config key `registry.unhealthy_after_ms`: must be longer than \
                 `registry.heartbeat_interval_ms` (one late heartbeat would mark an instance \
                 unhealthy)"
                    .into(),
            );
        }
        if self.remove_after_ms < self.unhealthy_after_ms {
            return Err(
                "config key `registry.remove_after_ms`: must not be shorter than \
                 `registry.unhealthy_after_ms`"
                    .into(),
            );
        }
        if self.max_poll_wait_ms > 25_000 {
            return Err("config key `registry.max_poll_wait_ms`: at most 25000 (service calls time out after 30 s)".into());
        }
        if self.usage_window_days == 0 {
            return Err("config key `registry.usage_window_days`: must be greater than 0".into());
        }
        Ok(())
    }
}
