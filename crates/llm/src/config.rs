//! Provider configuration and the one place a model chain is assembled from it.
//!
//! [`ProviderConfig`] is what `looma.toml` holds for each provider; unset fields take the
//! defaults of its [`ProviderKind`]. [`build_chain`] validates the whole set (names, URLs,
//! keys, the fallback order) before anything talks to the network, then wraps every provider
//! in [`Resilient`] and, when more than one is listed, joins them in a [`FallbackChain`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use looma_core::Secret;
use serde::{Deserialize, Serialize};

use crate::anthropic::AnthropicChat;
use crate::openai::OpenAiChat;
use crate::resilience::{CircuitBreaker, FallbackChain, Resilient, RetryPolicy};
use crate::sse::StreamTimeouts;
use crate::{ChatModel, LlmError};

/// Which wire protocol (or the offline model) a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI-compatible chat completions: OpenAI, DeepSeek, Qwen, vLLM, Ollama, llama.cpp.
    #[serde(rename = "openai")]
    OpenAi,
    /// The Anthropic Messages API.
    Anthropic,
    /// SmolLM2 from a GGUF file, in process.
    Embedded,
}

/// One configured provider. Unset fields take their kind's defaults (see the accessors).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// The name used in `fallback`, logs and [`crate::Completion::provider`].
    pub name: String,
    pub kind: ProviderKind,
    /// Default: `https://api.openai.com/v1` (openai), `https://api.anthropic.com` (anthropic).
    #[serde(default)]
    pub base_url: Option<String>,
    /// The model id sent to the provider. Required for openai and anthropic.
    #[serde(default)]
    pub model: Option<String>,
    /// Bearer key (openai; optional for local servers) or `x-api-key` (anthropic; required).
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// Default 5 000 ms.
    #[serde(default)]
    pub connect_timeout_ms: Option<u64>,
    /// From sending the request to the response headers. Default 30 000 ms.
    #[serde(default)]
    pub first_byte_timeout_ms: Option<u64>,
    /// Longest silence between two chunks of a streamed answer. Default 60 000 ms.
    #[serde(default)]
    pub idle_timeout_ms: Option<u64>,
    /// Retries before the stream starts. Default 2 (remote), 0 (embedded).
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// Tokens of prompt + answer. Default 8 192 (openai: local servers are often that small;
    /// set it for your model), 200 000 (anthropic). The embedded model reports its own.
    #[serde(default)]
    pub context_window: Option<usize>,
    /// Whether tools may be offered. Default true for remote kinds; the embedded model
    /// reports its own.
    #[serde(default)]
    pub supports_tools: Option<bool>,
    /// The GGUF file (embedded only).
    #[serde(default)]
    pub path: Option<PathBuf>,
}

/// When a provider's circuit opens and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failed attempts that open the circuit. Default 5.
    pub failure_threshold: u32,
    /// How long an open circuit rejects before one trial request. Default 30 000 ms.
    pub cooldown_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            cooldown_ms: 30_000,
        }
    }
}

/// A configuration the chain cannot be built from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no language model provider is configured")]
    NoProviders,
    #[error("language model provider `{0}` is configured more than once")]
    DuplicateProvider(String),
    #[error(
        "fallback names `{name}`, which is not a configured language model provider (configured: {configured})"
    )]
    UnknownProvider { name: String, configured: String },
    #[error("fallback lists `{0}` more than once")]
    DuplicateFallback(String),
    #[error("language model provider `{provider}`: {message}")]
    Invalid { provider: String, message: String },
    #[error("language model provider `{provider}` could not be loaded: {source}")]
    Load { provider: String, source: LlmError },
}

const DEFAULT_CONNECT_MS: u64 = 5_000;
const DEFAULT_FIRST_BYTE_MS: u64 = 30_000;
const DEFAULT_IDLE_MS: u64 = 60_000;

impl ProviderConfig {
    /// A provider of `kind` with every optional field unset (their defaults apply).
    pub fn new(name: impl Into<String>, kind: ProviderKind) -> Self {
        ProviderConfig {
            name: name.into(),
            kind,
            base_url: None,
            model: None,
            api_key: None,
            connect_timeout_ms: None,
            first_byte_timeout_ms: None,
            idle_timeout_ms: None,
            max_retries: None,
            context_window: None,
            supports_tools: None,
            path: None,
        }
    }

    /// The endpoint root, without a trailing `/`.
    pub fn base_url(&self) -> Option<String> {
        let url = match (&self.base_url, self.kind) {
            (Some(url), _) => url.as_str(),
            (None, ProviderKind::OpenAi) => "https://api.openai.com/v1",
            (None, ProviderKind::Anthropic) => "https://api.anthropic.com",
            (None, ProviderKind::Embedded) => return None,
        };
        Some(url.trim_end_matches('/').to_owned())
    }

    /// Connect, first-byte and idle timeouts.
    pub fn timeouts(&self) -> (Duration, Duration, Duration) {
        let ms = |value: Option<u64>, default| Duration::from_millis(value.unwrap_or(default));
        (
            ms(self.connect_timeout_ms, DEFAULT_CONNECT_MS),
            ms(self.first_byte_timeout_ms, DEFAULT_FIRST_BYTE_MS),
            ms(self.idle_timeout_ms, DEFAULT_IDLE_MS),
        )
    }

    pub fn max_retries(&self) -> u32 {
        self.max_retries.unwrap_or(match self.kind {
            ProviderKind::Embedded => 0,
            _ => 2,
        })
    }

    pub fn context_window(&self) -> usize {
        self.context_window.unwrap_or(match self.kind {
            ProviderKind::Anthropic => 200_000,
            _ => 8_192,
        })
    }

    pub fn supports_tools(&self) -> bool {
        self.supports_tools.unwrap_or(true)
    }

    fn invalid(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            provider: self.name.clone(),
            message: message.into(),
        }
    }

    /// Checks the fields a remote provider needs and builds its HTTP client.
    pub(crate) fn remote(&self) -> Result<RemoteSettings, ConfigError> {
        if self.kind == ProviderKind::Embedded {
            return Err(self.invalid("an embedded provider has no HTTP endpoint"));
        }
        let base_url = self.base_url().unwrap_or_default();
        match reqwest::Url::parse(&base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            Ok(_) | Err(_) => {
                return Err(self.invalid(format!("base_url `{base_url}` is not an http(s) URL")));
            }
        }
        let model = match self.model.as_deref().map(str::trim) {
            Some(model) if !model.is_empty() => model.to_owned(),
            _ => return Err(self.invalid("`model` is required")),
        };
        let api_key = self.api_key.clone().filter(|key| !key.is_empty());
        if self.kind == ProviderKind::Anthropic && api_key.is_none() {
            return Err(self.invalid("`api_key` is required for anthropic"));
        }
        let (connect, first_byte, idle) = self.timeouts();
        if [connect, first_byte, idle].contains(&Duration::ZERO) {
            return Err(self.invalid("timeouts must be greater than zero"));
        }
        // `use_rustls_tls` exists only when reqwest has rustls: HTTPS support is checked at
        // compile time, not discovered at the first real request.
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(connect)
            .user_agent(concat!("looma-llm/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| self.invalid(format!("cannot build its HTTP client: {error}")))?;
        Ok(RemoteSettings {
            name: self.name.clone(),
            model,
            base_url,
            api_key,
            client,
            timeouts: StreamTimeouts { first_byte, idle },
            context_window: self.context_window(),
            supports_tools: self.supports_tools(),
        })
    }
}

/// What a remote provider runs with, resolved and checked.
#[derive(Clone, Debug)]
pub(crate) struct RemoteSettings {
    pub name: String,
    pub model: String,
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub client: reqwest::Client,
    pub timeouts: StreamTimeouts,
    pub context_window: usize,
    pub supports_tools: bool,
}

/// Builds one provider (without resilience).
pub fn build_provider(config: &ProviderConfig) -> Result<Arc<dyn ChatModel>, ConfigError> {
    if config.name.trim().is_empty() {
        return Err(config.invalid("`name` must not be empty"));
    }
    Ok(match config.kind {
        ProviderKind::OpenAi => Arc::new(OpenAiChat::from_config(config)?),
        ProviderKind::Anthropic => Arc::new(AnthropicChat::from_config(config)?),
        ProviderKind::Embedded => {
            let Some(path) = &config.path else {
                return Err(config.invalid("`path` (the GGUF file) is required for embedded"));
            };
            if !path.exists() {
                // Not installed yet: start anyway and load once `scripts/install-model` ran.
                tracing::warn!(
                    path = %path.display(),
                    "embedded chat model not installed: it answers LLM_UNAVAILABLE until `scripts/install-model` runs"
                );
                return Ok(Arc::new(crate::embedded::LazyEmbedded::new(
                    path,
                    &config.name,
                )));
            }
            let model =
                crate::embedded::EmbeddedModel::load(path, &config.name).map_err(|source| {
                    ConfigError::Load {
                        provider: config.name.clone(),
                        source,
                    }
                })?;
            Arc::new(model)
        }
    })
}

/// The model chat talks to: the providers named in `fallback`, in that order (every
/// provider in declaration order when `fallback` is empty), each with retries and a circuit
/// breaker; a [`FallbackChain`] when more than one.
pub fn build_chain(
    providers: &[ProviderConfig],
    fallback: &[String],
    breaker: &BreakerConfig,
) -> Result<Arc<dyn ChatModel>, ConfigError> {
    if providers.is_empty() {
        return Err(ConfigError::NoProviders);
    }
    for (i, provider) in providers.iter().enumerate() {
        if providers[..i]
            .iter()
            .any(|earlier| earlier.name == provider.name)
        {
            return Err(ConfigError::DuplicateProvider(provider.name.clone()));
        }
    }
    let order: Vec<&ProviderConfig> = if fallback.is_empty() {
        providers.iter().collect()
    } else {
        let mut order = Vec::with_capacity(fallback.len());
        for (i, name) in fallback.iter().enumerate() {
            if fallback[..i].contains(name) {
                return Err(ConfigError::DuplicateFallback(name.clone()));
            }
            let Some(provider) = providers.iter().find(|p| &p.name == name) else {
                return Err(ConfigError::UnknownProvider {
                    name: name.clone(),
                    configured: providers
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            };
            order.push(provider);
        }
        order
    };
    let mut members: Vec<Arc<dyn ChatModel>> = Vec::with_capacity(order.len());
    for config in order {
        let model = build_provider(config)?;
        let policy = RetryPolicy {
            max_retries: config.max_retries(),
            ..RetryPolicy::default()
        };
        let breaker = CircuitBreaker::new(
            breaker.failure_threshold,
            Duration::from_millis(breaker.cooldown_ms),
        );
        members.push(Arc::new(Resilient::new(model, policy, breaker)));
    }
    if members.len() == 1 {
        return Ok(members.remove(0));
    }
    FallbackChain::new(members)
        .map(|chain| Arc::new(chain) as Arc<dyn ChatModel>)
        .ok_or(ConfigError::NoProviders)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openai(name: &str) -> ProviderConfig {
        ProviderConfig {
            model: Some("gpt-test".into()),
            base_url: Some("http://127.0.0.1:9/v1/".into()),
            ..ProviderConfig::new(name, ProviderKind::OpenAi)
        }
    }

    #[test]
    fn deserializes_with_kind_defaults() {
        let config: ProviderConfig = serde_json::from_value(serde_json::json!({
            "name": "claude",
            "kind": "anthropic",
            "model": "claude-sonnet-4-5",
            "api_key": "sk-ant-secret"
        }))
        .expect("valid config");
        assert_eq!(
            config.base_url().as_deref(),
            Some("https://api.anthropic.com")
        );
        assert_eq!(config.context_window(), 200_000);
        assert_eq!(config.max_retries(), 2);
        assert_eq!(
            config.api_key.as_ref().map(Secret::expose),
            Some("sk-ant-secret")
        );
        let printed = serde_json::to_string(&config).expect("serializes");
        assert!(!printed.contains("sk-ant-secret"), "{printed}");
        assert_eq!(
            openai("x").base_url().as_deref(),
            Some("http://127.0.0.1:9/v1")
        );

        let typo = serde_json::from_value::<ProviderConfig>(serde_json::json!({
            "name": "x", "kind": "openai", "modle": "m"
        }));
        assert!(typo.is_err());
        let breaker: BreakerConfig = serde_json::from_str("{}").expect("defaults");
        assert_eq!(breaker, BreakerConfig::default());
    }

    #[test]
    fn chain_validates_names_and_fields() {
        let breaker = BreakerConfig::default();
        let providers = [openai("a"), openai("b")];
        let error = build_chain(&providers, &["a".into(), "c".into()], &breaker)
            .err()
            .expect("unknown name");
        assert_eq!(
            error.to_string(),
            "fallback names `c`, which is not a configured language model provider (configured: a, b)"
        );
        assert!(matches!(
            build_chain(&providers, &["a".into(), "a".into()], &breaker),
            Err(ConfigError::DuplicateFallback(name)) if name == "a"
        ));
        assert!(matches!(
            build_chain(&[openai("a"), openai("a")], &[], &breaker),
            Err(ConfigError::DuplicateProvider(name)) if name == "a"
        ));
        assert!(matches!(
            build_chain(&[], &[], &breaker),
            Err(ConfigError::NoProviders)
        ));

        let chain = build_chain(&providers, &["b".into(), "a".into()], &breaker).expect("valid");
        assert_eq!(chain.provider(), "b");

        let no_model = ProviderConfig {
            model: None,
            ..openai("a")
        };
        let error = build_chain(&[no_model], &[], &breaker)
            .err()
            .expect("no model");
        assert_eq!(
            error.to_string(),
            "language model provider `a`: `model` is required"
        );

        let keyless = ProviderConfig {
            model: Some("claude".into()),
            ..ProviderConfig::new("claude", ProviderKind::Anthropic)
        };
        assert!(build_chain(&[keyless], &[], &breaker).is_err());

        let bad_url = ProviderConfig {
            base_url: Some("ftp://x".into()),
            ..openai("a")
        };
        assert!(build_chain(&[bad_url], &[], &breaker).is_err());

        // Not installed yet: the chain builds (the platform starts) and loads it later.
        let missing_file = ProviderConfig {
            path: Some("/nonexistent/smollm2.gguf".into()),
            ..ProviderConfig::new("local", ProviderKind::Embedded)
        };
        let lazy = build_chain(&[missing_file], &[], &breaker).expect("a lazy embedded model");
        assert_eq!(lazy.provider(), "local");

        // A file that is there but is no model fails at start.
        let not_a_model =
            std::env::temp_dir().join(format!("looma-not-a-model-{}.gguf", std::process::id()));
        std::fs::write(&not_a_model, b"not a model").expect("temp file");
        let corrupt = ProviderConfig {
            path: Some(not_a_model.clone()),
            ..ProviderConfig::new("local", ProviderKind::Embedded)
        };
        let built = build_chain(&[corrupt], &[], &breaker);
        let _ = std::fs::remove_file(&not_a_model);
        assert!(matches!(built, Err(ConfigError::Load { provider, .. }) if provider == "local"));

        let no_path = ProviderConfig::new("local", ProviderKind::Embedded);
        assert!(matches!(
            build_chain(&[no_path], &[], &breaker),
            Err(ConfigError::Invalid { .. })
        ));
    }

    #[test]
    fn https_client_builds() {
        let config = ProviderConfig {
            base_url: Some("https://api.deepseek.com".into()),
            ..openai("deepseek")
        };
        let remote = config.remote().expect("https endpoint");
        assert_eq!(remote.base_url, "https://api.deepseek.com");
    }
}
