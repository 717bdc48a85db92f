use looma_core::Secret;
use serde::{Deserialize, Serialize};

/// The monitor component's settings (`[monitor]` in `looma.toml`, `LOOMA_MONITOR__*`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    pub port: u16,
    /// The components watched, by name and base URL (`http://resume:8207`); `/ready` and
    /// `/metrics` are read under it. Empty: every component on this host's configured ports.
    pub targets: Vec<MonitorTarget>,
    /// How often every target is probed and scraped, and the alert rules evaluated.
    pub scrape_interval_ms: u64,
    /// How long one probe or scrape may take.
    pub scrape_timeout_ms: u64,
    /// Identity's GraphQL URL, for the alert rules (`monitor.alert_rules` in its versioned
    /// config); default: this host's identity port.
    pub identity_url: Option<String>,
    /// How often the alert rules are read again from identity.
    pub rules_refresh_ms: u64,
    /// Where alert notifications are POSTed (JSON, signed with `webhook_secret` in the
    /// `x-looma-signature` header); none when unset.
    pub webhook_url: Option<String>,
    pub webhook_secret: Secret,
    /// Evaluate rules and keep history from this process (one monitor replica should).
    pub worker_enabled: bool,
    /// Days per-user usage is kept in hourly rows; older hours are folded into one row per
    /// day (UTC) by the worker, so a user's year of a feature is at most
    /// `24 × user_usage_hourly_days + 365` rows.
    pub user_usage_hourly_days: u32,
}

/// One watched component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorTarget {
    pub component: String,
    /// Base URL, without a path (`http://127.0.0.1:8207`).
    pub url: String,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            port: 8212,
            targets: Vec::new(),
            scrape_interval_ms: 5_000,
            scrape_timeout_ms: 2_000,
            identity_url: None,
            rules_refresh_ms: 30_000,
            webhook_url: None,
            webhook_secret: Secret::default(),
            worker_enabled: true,
            user_usage_hourly_days: 7,
        }
    }
}

impl MonitorConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(100..=3_600_000).contains(&self.scrape_interval_ms) {
            return Err("config key `monitor.scrape_interval_ms`: between 100 and 3600000".into());
        }
        if self.scrape_timeout_ms == 0
            || self.scrape_timeout_ms > self.scrape_interval_ms.max(1_000)
        {
            return Err(
                "config key `monitor.scrape_timeout_ms`: above 0 and at most the scrape interval"
                    .into(),
            );
        }
        for target in &self.targets {
            if target.component.is_empty() || !target.url.starts_with("http") {
                return Err(format!(
                    "config key `monitor.targets`: `{}` needs a component name and an http(s) URL",
                    target.component
                ));
            }
        }
        if !(1..=366).contains(&self.user_usage_hourly_days) {
            return Err("config key `monitor.user_usage_hourly_days`: between 1 and 366".into());
        }
        if self.webhook_url.is_some() && self.webhook_secret.expose().is_empty() {
            return Err(
                "config key `monitor.webhook_secret`: set a secret to sign webhook notifications"
                    .into(),
            );
        }
        Ok(())
    }
}
