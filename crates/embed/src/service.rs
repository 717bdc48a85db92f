//! What services hold: a cheap-to-clone handle that loads the model on first use, runs
//! inference on tokio's blocking pool with bounded concurrency and caches recent queries.
//!
//! It never blocks an async worker thread: loading and inference both go through
//! `spawn_blocking`.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use lru::LruCache;
use serde::{Deserialize, Serialize};
use tokio::sync::{OnceCell, Semaphore};

use crate::batching::{BatchAssembler, plan_batches};
use crate::minilm::REQUIRED_FILES;
use crate::{DEFAULT_MODEL_DIR, EmbedError, Embedder, MINILM_DIMENSION, MiniLmEmbedder};

/// Settings of the embedding component (`[embed]` in `looma.toml`, `LOOMA_EMBED__*` in the
/// environment).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedConfig {
    /// Directory holding config.json, tokenizer.json and model.safetensors.
    pub model_dir: PathBuf,
    /// Texts per inference call; larger requests are split.
    pub max_batch: usize,
    /// Inferences running at once. One is fastest on a 2-core machine: candle already spreads
    /// a single inference over the cores.
    pub max_concurrency: usize,
    /// Single-text embeddings remembered (search queries repeat); 0 turns the cache off.
    pub cache_entries: usize,
}

impl Default for EmbedConfig {
    fn default() -> Self {
        Self {
            model_dir: PathBuf::from(DEFAULT_MODEL_DIR),
            max_batch: 32,
            max_concurrency: 1,
            cache_entries: 1024,
        }
    }
}

/// Shared handle to the embedding model. Clones share the model, the limit and the cache.
#[derive(Clone)]
pub struct EmbeddingService {
    shared: Arc<Shared>,
}

struct Shared {
    model_dir: PathBuf,
    max_batch: usize,
    embedder: OnceCell<Arc<dyn Embedder>>,
    /// Injected embedders are always there; only the lazily loaded model can be missing.
    loads_from_disk: bool,
    inference_slots: Arc<Semaphore>,
    recent_single_texts: Option<Mutex<LruCache<String, Vec<f32>>>>,
}

impl EmbeddingService {
    /// A service that loads all-MiniLM-L6-v2 from `config.model_dir` on first use.
    pub fn new(config: EmbedConfig) -> Self {
        Self::build(config.model_dir.clone(), &config, OnceCell::new(), true)
    }

    /// A service around an embedder that is already loaded (tests, benches, other models).
    pub fn from_embedder(embedder: Arc<dyn Embedder>) -> Self {
        let config = EmbedConfig::default();
        Self::build(
            PathBuf::new(),
            &config,
            OnceCell::new_with(Some(embedder)),
            false,
        )
    }

    /// Like [`EmbeddingService::from_embedder`] with the batching, concurrency and cache
    /// settings of `config` (its `model_dir` is ignored).
    pub fn from_embedder_with_config(embedder: Arc<dyn Embedder>, config: EmbedConfig) -> Self {
        Self::build(
            PathBuf::new(),
            &config,
            OnceCell::new_with(Some(embedder)),
            false,
        )
    }

    fn build(
        model_dir: PathBuf,
        config: &EmbedConfig,
        embedder: OnceCell<Arc<dyn Embedder>>,
        loads_from_disk: bool,
    ) -> Self {
        let recent_single_texts =
            NonZeroUsize::new(config.cache_entries).map(|size| Mutex::new(LruCache::new(size)));
        Self {
            shared: Arc::new(Shared {
                model_dir,
                max_batch: config.max_batch.max(1),
                embedder,
                loads_from_disk,
                inference_slots: Arc::new(Semaphore::new(config.max_concurrency.max(1))),
                recent_single_texts,
            }),
        }
    }

    /// Vectors for `texts`, in order. Fails with [`EmbedError::ModelUnavailable`] while the
    /// model is not installed, and succeeds once it is, without a restart.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        if let [text] = texts.as_slice()
            && let Some(vector) = self.cached(text)
        {
            return Ok(vec![vector]);
        }
        let embedder = self.embedder().await?;
        let texts = Arc::new(texts);
        let mut assembler = BatchAssembler::new(texts.len());
        // One blocking task per batch, so a large request does not hold the only inference
        // slot while a short query waits behind all of it.
        for indices in plan_batches(&texts, self.shared.max_batch) {
            let slot = Arc::clone(&self.shared.inference_slots)
                .acquire_owned()
                .await
                .map_err(|_| EmbedError::Inference("embedding service shut down".to_owned()))?;
            let embedder = Arc::clone(&embedder);
            let batch_texts = Arc::clone(&texts);
            let batch_indices = indices.clone();
            let vectors = tokio::task::spawn_blocking(move || {
                let _slot = slot;
                let batch: Vec<&str> = batch_indices
                    .iter()
                    .map(|&index| batch_texts[index].as_str())
                    .collect();
                embedder.embed(&batch)
            })
            .await
            .map_err(|error| EmbedError::Inference(format!("embedding task failed: {error}")))??;
            assembler.accept(&indices, vectors)?;
        }
        let vectors = assembler.finish()?;
        if let ([text], [vector]) = (texts.as_slice(), vectors.as_slice()) {
            self.remember(text, vector);
        }
        Ok(vectors)
    }

    /// The vector of one text (typically a search query; these are cached).
    pub async fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.embed(vec![text.to_owned()])
            .await?
            .pop()
            .ok_or_else(|| EmbedError::Inference("no vector returned for the text".to_owned()))
    }

    /// Whether the model can be used: already loaded, or its files are present (not loaded
    /// here, so this is cheap enough for health checks).
    pub fn is_available(&self) -> bool {
        self.shared.embedder.initialized()
            || REQUIRED_FILES
                .iter()
                .all(|file| self.shared.model_dir.join(file).is_file())
    }

    /// Width of the vectors this service returns.
    pub fn dimension(&self) -> usize {
        self.shared
            .embedder
            .get()
            .map_or(MINILM_DIMENSION, |embedder| embedder.dimension())
    }

    /// Where the model is loaded from (empty for a service built around an embedder).
    pub fn model_dir(&self) -> &Path {
        &self.shared.model_dir
    }

    async fn embedder(&self) -> Result<Arc<dyn Embedder>, EmbedError> {
        let shared = &self.shared;
        let embedder = shared
            .embedder
            .get_or_try_init(|| async {
                if !shared.loads_from_disk {
                    return Err(EmbedError::Inference("no embedder configured".to_owned()));
                }
                // A failed load leaves the cell empty, so the next call looks at the disk again.
                let model_dir = shared.model_dir.clone();
                let loaded = tokio::task::spawn_blocking(move || MiniLmEmbedder::load(&model_dir))
                    .await
                    .map_err(|error| {
                        EmbedError::Inference(format!("model loading task failed: {error}"))
                    })??;
                tracing::info!(model_dir = %shared.model_dir.display(), "embedding model loaded");
                Ok(Arc::new(loaded) as Arc<dyn Embedder>)
            })
            .await?;
        Ok(Arc::clone(embedder))
    }

    fn cached(&self, text: &str) -> Option<Vec<f32>> {
        let cache = self.shared.recent_single_texts.as_ref()?;
        // A panic elsewhere cannot leave an LRU of owned values inconsistent: keep using it.
        let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.get(text).cloned()
    }

    fn remember(&self, text: &str, vector: &[f32]) {
        if let Some(cache) = &self.shared.recent_single_texts {
            let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
            cache.put(text.to_owned(), vector.to_vec());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Deterministic stand-in: the vector encodes the text's length; counts texts and calls.
    #[derive(Default)]
    struct CountingEmbedder {
        texts_seen: AtomicUsize,
        calls: AtomicUsize,
        largest_batch: AtomicUsize,
    }

    impl Embedder for CountingEmbedder {
        fn model_id(&self) -> &str {
            "counting"
        }

        fn dimension(&self) -> usize {
            2
        }

        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.texts_seen.fetch_add(texts.len(), Ordering::SeqCst);
            self.largest_batch.fetch_max(texts.len(), Ordering::SeqCst);
            Ok(texts
                .iter()
                .map(|text| vec![text.len() as f32, 1.0])
                .collect())
        }
    }

    fn service_with(embedder: &Arc<CountingEmbedder>, config: EmbedConfig) -> EmbeddingService {
        EmbeddingService::from_embedder_with_config(embedder.clone(), config)
    }

    #[tokio::test]
    async fn repeated_single_texts_are_served_from_the_cache() {
        let embedder = Arc::new(CountingEmbedder::default());
        let service = service_with(&embedder, EmbedConfig::default());
        let first = service.embed_one("rust engineer").await.expect("embed");
        let again = service.embed_one("rust engineer").await.expect("embed");
        let as_batch = service
            .embed(vec!["rust engineer".to_owned()])
            .await
            .expect("embed");
        assert_eq!(first, again);
        assert_eq!(as_batch, vec![first]);
        assert_eq!(embedder.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_cache_forgets_the_least_recently_used_text() {
        let embedder = Arc::new(CountingEmbedder::default());
        let config = EmbedConfig {
            cache_entries: 2,
            ..EmbedConfig::default()
        };
        let service = service_with(&embedder, config);
        for text in ["a", "b", "a", "c", "a", "b"] {
            service.embed_one(text).await.expect("embed");
        }
        // a, b miss; a hits; c misses and evicts b; a hits; b misses again.
        assert_eq!(embedder.calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_zero_sized_cache_disables_caching() {
        let embedder = Arc::new(CountingEmbedder::default());
        let config = EmbedConfig {
            cache_entries: 0,
            ..EmbedConfig::default()
        };
        let service = service_with(&embedder, config);
        service.embed_one("x").await.expect("embed");
        service.embed_one("x").await.expect("embed");
        assert_eq!(embedder.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn large_requests_are_split_into_max_batch_calls_in_order() {
        let embedder = Arc::new(CountingEmbedder::default());
        let config = EmbedConfig {
            max_batch: 3,
            ..EmbedConfig::default()
        };
        let service = service_with(&embedder, config);
        let texts: Vec<String> = (0..10).map(|length| "x".repeat(length)).collect();
        let vectors = service.embed(texts).await.expect("embed");
        let lengths: Vec<f32> = vectors.iter().map(|vector| vector[0]).collect();
        assert_eq!(
            lengths,
            (0..10).map(|length| length as f32).collect::<Vec<_>>()
        );
        assert_eq!(embedder.calls.load(Ordering::SeqCst), 4);
        assert_eq!(embedder.largest_batch.load(Ordering::SeqCst), 3);
        assert_eq!(embedder.texts_seen.load(Ordering::SeqCst), 10);
    }

    #[tokio::test]
    async fn an_empty_request_needs_no_model() {
        let service = EmbeddingService::new(EmbedConfig {
            model_dir: PathBuf::from("/nonexistent/model"),
            ..EmbedConfig::default()
        });
        assert_eq!(
            service.embed(Vec::new()).await.expect("empty"),
            Vec::<Vec<f32>>::new()
        );
    }

    #[tokio::test]
    async fn a_missing_model_is_reported_on_every_call_with_the_fix() {
        let dir = tempfile::tempdir().expect("temp dir");
        let service = EmbeddingService::new(EmbedConfig {
            model_dir: dir.path().to_path_buf(),
            ..EmbedConfig::default()
        });
        assert!(!service.is_available());
        assert_eq!(service.dimension(), MINILM_DIMENSION);
        assert_eq!(service.model_dir(), dir.path());
        for _ in 0..2 {
            let error = service
                .embed_one("query")
                .await
                .expect_err("no model installed");
            assert!(matches!(error, EmbedError::ModelUnavailable { .. }));
            assert!(
                error.to_string().contains("scripts/install-model"),
                "{error}"
            );
        }
    }

    #[test]
    fn config_defaults_and_unknown_fields() {
        let config: EmbedConfig = serde_json::from_str(r#"{"max_batch": 8}"#).expect("parse");
        assert_eq!(config.max_batch, 8);
        assert_eq!(config.max_concurrency, 1);
        assert_eq!(config.cache_entries, 1024);
        assert_eq!(config.model_dir, PathBuf::from(DEFAULT_MODEL_DIR));
        assert!(serde_json::from_str::<EmbedConfig>(r#"{"batch": 8}"#).is_err());
    }
}
