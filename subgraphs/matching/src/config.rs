use serde::{Deserialize, Serialize};

/// The matching component's settings (`[matching]` in `looma.toml`, `LOOMA_MATCHING__*`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchingConfig {
    pub port: u16,
    /// Search's GraphQL URL (candidate generation, job indexing); default: this host's port.
    pub search_url: Option<String>,
    /// Resume's GraphQL URL (profiles for `matchJobs`); default: this host's port.
    pub resume_url: Option<String>,
    /// Identity's GraphQL URL (weights, feature flag); default: this host's port.
    pub identity_url: Option<String>,
    /// Nearest neighbours taken from vector search before exact scoring.
    pub vector_candidates: usize,
    /// Text-search hits added to the shortlist.
    pub text_candidates: usize,
    /// Largest `limit` of a match.
    pub max_limit: usize,
    /// Deliver job index updates from this process.
    pub worker_enabled: bool,
    pub poll_interval_ms: u64,
}

impl Default for MatchingConfig {
    fn default() -> Self {
        MatchingConfig {
            port: 8208,
            search_url: None,
            resume_url: None,
            identity_url: None,
            vector_candidates: 200,
            text_candidates: 100,
            max_limit: 100,
            worker_enabled: true,
            poll_interval_ms: 1_000,
        }
    }
}

impl MatchingConfig {
    pub fn validate(&self) -> Result<(), String> {
        // Search serves at most 500 nearest neighbours and 100 text hits per request.
        for (key, value, max) in [
            ("matching.vector_candidates", self.vector_candidates, 500),
            ("matching.text_candidates", self.text_candidates, 100),
            ("matching.max_limit", self.max_limit, 1000),
        ] {
            if value == 0 || value > max {
                return Err(format!("config key `{key}`: between 1 and {max}"));
            }
        }
        if self.poll_interval_ms == 0 {
            return Err("config key `matching.poll_interval_ms`: must be greater than 0".into());
        }
        Ok(())
    }
}
