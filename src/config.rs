//! The whole platform's configuration: one typed section per component, loaded by
//! `looma_core::config` (defaults → `looma.toml` → `LOOMA_*` environment).

use looma_cache::CacheConfig;
use looma_chat::ChatConfig;
use looma_core::Secret;
use looma_core::config::ConfigError;
use looma_core::secret::redact_url;
use looma_core::telemetry::LogConfig;
use looma_db::DatabaseConfig;
use looma_embed::EmbedConfig;
use looma_identity::IdentityConfig;
use looma_matching::MatchingConfig;
use looma_monitor::MonitorConfig;
use looma_registry::RegistryConfig;
use looma_resume::ResumeConfig;
use looma_router::RouterConfig;
use looma_search::SearchConfig;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::Path;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoomaConfig {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub cache: CacheConfig,
    pub log: LogConfig,
    pub identity: IdentityConfig,
    pub resume: ResumeConfig,
    pub search: SearchConfig,
    pub matching: MatchingConfig,
    pub chat: ChatConfig,
    pub monitor: MonitorConfig,
    /// The schema registry, and how components of this process register with it.
    pub registry: RegistryConfig,
    /// The sentence-embedding model every component of the process shares.
    pub embed: EmbedConfig,
    pub router: RouterConfig,
}

/// Settings shared by every component's HTTP server.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address every component binds; `0.0.0.0` in containers.
    pub host: IpAddr,
    /// Shared by the router and the subgraphs to sign and trust the forwarded principal
    /// header (at least 32 characters). Empty: subgraphs trust no forwarded principal; in
    /// `looma dev` a random one is generated for the single process.
    pub router_secret: Secret,
    /// How long a component reuses identity's feature flags before asking again.
    pub feature_flag_cache_ms: u64,
    /// Subgraph ports answer only requests signed with `router_secret` (the router, services)
    /// or carrying an API key; anonymous calls and user tokens sent to them directly are
    /// refused (`/health`, `/ready` and the JWKS stay open). Unset: on in `looma serve`, off
    /// in `looma dev`.
    pub require_trusted_callers: Option<bool>,
    /// Master keys that seal signing keys and uploaded resume files at rest (envelope
    /// encryption), each `id:base64 of 32 random bytes` (`openssl rand -base64 32`). The first
    /// seals new values; the others still open what they sealed. To rotate: put a new key
    /// first, run `looma admin rewrap-data-keys`, then drop the old one. Empty: stored as they
    /// are (logged at start).
    pub encryption_keys: Vec<Secret>,
    /// How often resume, search, matching and chat send the per-user usage they counted to
    /// the monitor (also once when they stop); 0: not counted at all. Needs `router_secret`
    /// (the reports are signed with it).
    pub usage_report_ms: u64,
    /// The monitor's GraphQL URL, for those reports; default: this host's monitor port.
    pub monitor_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: IpAddr::from([127, 0, 0, 1]),
            router_secret: Secret::default(),
            feature_flag_cache_ms: 2_000,
            require_trusted_callers: None,
            encryption_keys: Vec::new(),
            usage_report_ms: 60_000,
            monitor_url: None,
        }
    }
}

impl LoomaConfig {
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let config: LoomaConfig = looma_core::config::load(file)?;
        config.validate().map_err(ConfigError)?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), String> {
        self.log.validate()?;
        self.database.validate()?;
        self.identity.validate()?;
        self.resume.validate()?;
        self.search.validate()?;
        self.matching.validate()?;
        self.chat.validate()?;
        self.monitor.validate()?;
        self.registry.validate()?;
        self.router.validate()?;
        let secret = self.server.router_secret.expose();
        if !secret.is_empty() && secret.len() < looma_auth::forwarded::MIN_SECRET_LEN {
            return Err("config key `server.router_secret`: use at least 32 characters".into());
        }
        looma_core::envelope::Keyring::from_config(&self.server.encryption_keys)
            .map_err(|e| e.to_string())?;
        if self.cache.key_prefix.is_empty() {
            return Err("config key `cache.key_prefix`: must not be empty".into());
        }
        Ok(())
    }

    /// A copy safe to print: URL passwords and secrets replaced by `***`.
    pub fn redacted(&self) -> LoomaConfig {
        let mut copy = self.clone();
        copy.database.url = redact_url(&copy.database.url);
        copy.cache.redis_url = copy.cache.redis_url.as_deref().map(redact_url);
        copy.resume.search_url = copy.resume.search_url.as_deref().map(redact_url);
        copy.search.elasticsearch_url = copy.search.elasticsearch_url.as_deref().map(redact_url);
        copy.search.qdrant_url = copy.search.qdrant_url.as_deref().map(redact_url);
        for url in [
            &mut copy.matching.search_url,
            &mut copy.matching.resume_url,
            &mut copy.matching.identity_url,
            &mut copy.chat.search_url,
            &mut copy.chat.identity_url,
            &mut copy.chat.router_url,
            &mut copy.monitor.identity_url,
            &mut copy.monitor.webhook_url,
            &mut copy.registry.url,
            &mut copy.router.registry.url,
            &mut copy.log.otlp_endpoint,
        ] {
            *url = url.as_deref().map(redact_url);
        }
        for target in &mut copy.monitor.targets {
            target.url = redact_url(&target.url);
        }
        for provider in &mut copy.chat.providers {
            provider.base_url = provider.base_url.as_deref().map(redact_url);
        }
        copy
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string(&self.redacted()).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}
