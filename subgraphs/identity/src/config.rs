use serde::{Deserialize, Serialize};

/// The identity component's settings (`[identity]` in `looma.toml`, `LOOMA_IDENTITY__*`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    pub port: u16,
    /// `iss` of every access token.
    pub issuer: String,
    /// `aud` of every access token; verifiers require it.
    pub audience: String,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// Password checks per email within the window; further attempts get `RATE_LIMITED`
    /// without a check, even with the right password. A successful login resets the count.
    pub login_max_failures: u64,
    pub login_failure_window_secs: u64,
    /// How often signing keys are re-read, to pick up another replica's rotation.
    pub key_reload_secs: u64,
    /// How often the revocation list is re-read from the database, to pick up another
    /// replica's revocations (verifiers poll identity every second on top of this).
    pub revocation_reload_ms: u64,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            port: 8211,
            issuer: "looma-identity".into(),
            audience: "looma".into(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            login_max_failures: 10,
            login_failure_window_secs: 15 * 60,
            key_reload_secs: 60,
            revocation_reload_ms: 1_000,
        }
    }
}

impl IdentityConfig {
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("identity.access_token_ttl_secs", self.access_token_ttl_secs),
            (
                "identity.refresh_token_ttl_secs",
                self.refresh_token_ttl_secs,
            ),
            ("identity.login_max_failures", self.login_max_failures),
            (
                "identity.login_failure_window_secs",
                self.login_failure_window_secs,
            ),
            ("identity.key_reload_secs", self.key_reload_secs),
            ("identity.revocation_reload_ms", self.revocation_reload_ms),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(format!("config key `{key}`: must be greater than 0"));
            }
        }
        if self.access_token_ttl_secs > 24 * 3600 {
            return Err(
                "config key `identity.access_token_ttl_secs`: at most 86400 (a day)".into(),
            );
        }
        if self.refresh_token_ttl_secs <= self.access_token_ttl_secs {
            return Err(
                "config key `identity.refresh_token_ttl_secs`: must exceed the access token lifetime"
                    .into(),
            );
        }
        for (key, value) in [
            ("identity.issuer", &self.issuer),
            ("identity.audience", &self.audience),
        ] {
            if value.trim().is_empty() {
                return Err(format!("config key `{key}`: must not be empty"));
            }
        }
        Ok(())
    }
}
