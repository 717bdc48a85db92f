use serde::{Deserialize, Serialize};

/// The resume component's settings (`[resume]` in `looma.toml`, `LOOMA_RESUME__*`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResumeConfig {
    pub port: u16,
    /// Largest accepted file.
    pub max_upload_bytes: u64,
    /// Largest decompressed XML a DOCX may expand to (zip bombs).
    pub max_docx_decompressed_bytes: u64,
    /// Extraction + parsing of one file must finish within this.
    pub parse_timeout_ms: u64,
    /// Read images and scanned PDFs with OCR (Tesseract, when installed; otherwise they end
    /// `NEEDS_OCR`).
    pub ocr: bool,
    /// A claimed resume not finished within this is picked up again (crash recovery).
    pub lease_secs: u64,
    /// How often the worker looks for unfinished work even without a wake-up.
    pub poll_interval_ms: u64,
    /// Parse attempts before a resume is marked FAILED for good.
    pub max_attempts: i32,
    /// Run the background parser/indexer in this process (turn off for API-only replicas).
    pub worker_enabled: bool,
    /// The search subgraph's GraphQL URL; index updates wait in the outbox while unset or
    /// unreachable.
    pub search_url: Option<String>,
}

impl Default for ResumeConfig {
    fn default() -> Self {
        ResumeConfig {
            port: 8207,
            max_upload_bytes: 10 * 1024 * 1024,
            max_docx_decompressed_bytes: 50 * 1024 * 1024,
            parse_timeout_ms: 30_000,
            ocr: true,
            lease_secs: 120,
            poll_interval_ms: 2_000,
            max_attempts: 3,
            worker_enabled: true,
            search_url: None,
        }
    }
}

impl ResumeConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("resume.max_upload_bytes", self.max_upload_bytes),
            (
                "resume.max_docx_decompressed_bytes",
                self.max_docx_decompressed_bytes,
            ),
            ("resume.parse_timeout_ms", self.parse_timeout_ms),
            ("resume.lease_secs", self.lease_secs),
            ("resume.poll_interval_ms", self.poll_interval_ms),
        ] {
            if value == 0 {
                return Err(format!("config key `{key}`: must be greater than 0"));
            }
        }
        if self.max_upload_bytes > 100 * 1024 * 1024 {
            return Err("config key `resume.max_upload_bytes`: at most 100 MB".into());
        }
        if self.max_attempts < 1 {
            return Err("config key `resume.max_attempts`: at least 1".into());
        }
        if self.lease_secs.saturating_mul(1000) <= self.parse_timeout_ms {
            return Err(
                "config key `resume.lease_secs`: must exceed `resume.parse_timeout_ms`".into(),
            );
        }
        Ok(())
    }
}
