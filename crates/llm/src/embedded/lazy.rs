//! The embedded model when its file is not installed yet: the platform starts anyway (as it
//! does without the embedding model), answers `LLM_UNAVAILABLE` naming `scripts/install-model`
//! (so a fallback chain moves on to the next provider), and loads the model on the first
//! request after it has been installed — no restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::{EmbeddedModel, EmbeddedOptions};
use crate::{ChatModel, ChatRequest, EventStream, LlmError, estimate_tokens};

/// Loads [`EmbeddedModel`] on first use; until then counts tokens by estimate.
pub struct LazyEmbedded {
    path: PathBuf,
    provider: String,
    model_name: String,
    loaded: OnceLock<Arc<EmbeddedModel>>,
    /// One load at a time; others wait for it.
    loading: tokio::sync::Mutex<()>,
}

impl LazyEmbedded {
    pub fn new(path: &Path, provider: &str) -> Self {
        let model_name = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| "embedded".to_owned());
        LazyEmbedded {
            path: path.to_owned(),
            provider: provider.to_owned(),
            model_name,
            loaded: OnceLock::new(),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// The model once loaded.
    pub fn loaded(&self) -> Option<&Arc<EmbeddedModel>> {
        self.loaded.get()
    }

    async fn get(&self) -> Result<Arc<EmbeddedModel>, LlmError> {
        if let Some(model) = self.loaded.get() {
            return Ok(model.clone());
        }
        let _turn = self.loading.lock().await;
        if let Some(model) = self.loaded.get() {
            return Ok(model.clone());
        }
        let path = self.path.clone();
        let provider = self.provider.clone();
        let model = tokio::task::spawn_blocking(move || EmbeddedModel::load(&path, &provider))
            .await
            .map_err(|error| LlmError::Unavailable {
                provider: self.provider.clone(),
                reason: format!("loading the model failed: {error}"),
            })??;
        let model = Arc::new(model);
        let _ = self.loaded.set(model.clone());
        tracing::info!(path = %self.path.display(), "embedded chat model loaded");
        Ok(model)
    }
}

#[async_trait::async_trait]
impl ChatModel for LazyEmbedded {
    fn provider(&self) -> &str {
        &self.provider
    }

    fn health(&self) -> Vec<crate::ProviderHealth> {
        let unavailable = (self.loaded.get().is_none() && !self.path.is_file()).then(|| {
            format!(
                "model not installed at {} (run scripts/install-model)",
                self.path.display()
            )
        });
        vec![crate::ProviderHealth {
            provider: self.provider.clone(),
            model: self.model().to_owned(),
            unavailable,
        }]
    }

    fn model(&self) -> &str {
        match self.loaded.get() {
            Some(model) => model.model(),
            None => &self.model_name,
        }
    }

    fn supports_tools(&self) -> bool {
        false
    }

    fn context_window(&self) -> usize {
        match self.loaded.get() {
            Some(model) => model.context_window(),
            None => EmbeddedOptions::default().context_window,
        }
    }

    fn count_tokens(&self, text: &str) -> usize {
        match self.loaded.get() {
            Some(model) => model.count_tokens(text),
            None => estimate_tokens(text),
        }
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream, LlmError> {
        self.get().await?.stream(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChatMessage, ChatRequest};
    use looma_core::{CodedError, ErrorCode};

    #[tokio::test]
    async fn a_missing_model_answers_unavailable_naming_the_installer() {
        let dir = std::env::temp_dir().join("looma-no-such-model-dir");
        let lazy = LazyEmbedded::new(&dir.join("model.gguf"), "embedded");
        assert_eq!(lazy.model(), "model");
        assert!(lazy.count_tokens("hello world") > 0);
        let request = ChatRequest {
            messages: vec![ChatMessage::user("hi")],
            tools: Vec::new(),
            max_tokens: 4,
            temperature: 0.0,
        };
        let error = match lazy.stream(request).await {
            Ok(_) => panic!("a missing model cannot answer"),
            Err(error) => error,
        };
        assert_eq!(error.code(), ErrorCode::LlmUnavailable);
        assert!(
            error.to_string().contains("scripts/install-model"),
            "{error}"
        );
        assert!(lazy.loaded().is_none());
    }
}
