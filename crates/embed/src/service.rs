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
use crate::{
    DEFAULT_MODELS_DIR, E5_DIMENSION, E5Embedder, EmbedError, Embedder, MINILM_DIMENSION,
    MiniLmEmbedder, TextKind,
};

/// Which embedding model a service loads (`embed.model`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum EmbedModel {
    /// multilingual-e5-small, 4-bit: Chinese, English and ~100 more languages.
    #[default]
    #[serde(rename = "multilingual-e5-small")]
    MultilingualE5Small,
    /// all-MiniLM-L6-v2: English only, kept selectable.
    #[serde(rename = "all-MiniLM-L6-v2")]
    AllMiniLmL6V2,
}

impl EmbedModel {
    /// The model's directory under `embed.models_dir` (what `scripts/install-model` creates).
    pub fn directory_name(self) -> &'static str {
        match self {
            EmbedModel::MultilingualE5Small => "multilingual-e5-small",
            EmbedModel::AllMiniLmL6V2 => "all-MiniLM-L6-v2",
        }
    }

    /// Width of the model's vectors.
    pub fn dimension(self) -> usize {
        match self {
            EmbedModel::MultilingualE5Small => E5_DIMENSION,
            EmbedModel::AllMiniLmL6V2 => MINILM_DIMENSION,
        }
    }

    /// The files the model's directory must hold.
    fn required_files(self) -> &'static [&'static str] {
        match self {
            EmbedModel::MultilingualE5Small => &[crate::e5::WEIGHTS_FILE],
            EmbedModel::AllMiniLmL6V2 => &crate::minilm::REQUIRED_FILES,
        }
    }

    fn load(self, model_dir: &Path) -> Result<Arc<dyn Embedder>, EmbedError> {
        Ok(match self {
            EmbedModel::MultilingualE5Small => Arc::new(E5Embedder::load(model_dir)?),
            EmbedModel::AllMiniLmL6V2 => Arc::new(MiniLmEmbedder::load(model_dir)?),
        })
    }
}

/// Settings of the embedding component (`[embed]` in `looma.toml`, `LOOMA_EMBED__*` in the
/// environment).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedConfig {
    /// The model every vector of this deployment comes from. Changing it needs a reindex:
    /// the search index refuses vectors of another model.
    pub model: EmbedModel,
    /// Directory holding one directory per model, as `scripts/install-model` fills it.
    pub models_dir: PathBuf,
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
            model: EmbedModel::default(),
            models_dir: PathBuf::from(DEFAULT_MODELS_DIR),
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

impl EmbedConfig {
    /// Where the configured model's files are.
    pub fn model_dir(&self) -> PathBuf {
        self.models_dir.join(self.model.directory_name())
    }
}

/// Recent single-text vectors by kind and text.
type RecentTexts = Mutex<LruCache<(TextKind, String), Vec<f32>>>;

struct Shared {
    model: EmbedModel,
    model_dir: PathBuf,
    max_batch: usize,
    embedder: OnceCell<Arc<dyn Embedder>>,
    /// Injected embedders are always there; only the lazily loaded model can be missing.
    loads_from_disk: bool,
    inference_slots: Arc<Semaphore>,
    recent_single_texts: Option<RecentTexts>,
}

impl EmbeddingService {
    /// A service that loads `config.model` from its directory on first use.
    pub fn new(config: EmbedConfig) -> Self {
        Self::build(config.model_dir(), &config, OnceCell::new(), true)
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
    /// settings of `config` (its model and directory are ignored).
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
                model: config.model,
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
    pub async fn embed(
        &self,
        texts: Vec<String>,
        kind: TextKind,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        if let [text] = texts.as_slice()
            && let Some(vector) = self.cached(text, kind)
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
            let model = embedder.model_id().to_owned();
            let batch_texts = Arc::clone(&texts);
            let batch_indices = indices.clone();
            let started = std::time::Instant::now();
            let vectors = tokio::task::spawn_blocking(move || {
                let _slot = slot;
                let batch: Vec<&str> = batch_indices
                    .iter()
                    .map(|&index| batch_texts[index].as_str())
                    .collect();
                embedder.embed(&batch, kind)
            })
            .await
            .map_err(|error| EmbedError::Inference(format!("embedding task failed: {error}")))??;
            metrics::histogram!("looma_embed_duration_seconds", "model" => model.clone())
                .record(started.elapsed().as_secs_f64());
            metrics::counter!("looma_embed_texts_total", "model" => model)
                .increment(indices.len() as u64);
            assembler.accept(&indices, vectors)?;
        }
        let vectors = assembler.finish()?;
        if let ([text], [vector]) = (texts.as_slice(), vectors.as_slice()) {
            self.remember(text, kind, vector);
        }
        Ok(vectors)
    }

    /// The vector of one text (typically a search query; these are cached).
    pub async fn embed_one(&self, text: &str, kind: TextKind) -> Result<Vec<f32>, EmbedError> {
        self.embed(vec![text.to_owned()], kind)
            .await?
            .pop()
            .ok_or_else(|| EmbedError::Inference("no vector returned for the text".to_owned()))
    }

    /// Whether the model can be used: already loaded, or its files are present (not loaded
    /// here, so this is cheap enough for health checks).
    pub fn is_available(&self) -> bool {
        self.shared.embedder.initialized()
            || self
                .shared
                .model
                .required_files()
                .iter()
                .all(|file| self.shared.model_dir.join(file).is_file())
    }

    /// Width of the vectors this service returns.
    pub fn dimension(&self) -> usize {
        self.shared
            .embedder
            .get()
            .map_or(self.shared.model.dimension(), |embedder| {
                embedder.dimension()
            })
    }

    /// The id of the model the vectors come from (stored next to them by the indexes).
    pub fn model_id(&self) -> String {
        match self.shared.embedder.get() {
            Some(embedder) => embedder.model_id().to_owned(),
            None => match self.shared.model {
                EmbedModel::MultilingualE5Small => crate::E5_MODEL_ID.to_owned(),
                EmbedModel::AllMiniLmL6V2 => crate::minilm::MODEL_ID.to_owned(),
            },
        }
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
                let model = shared.model;
                let loaded = tokio::task::spawn_blocking(move || model.load(&model_dir))
                    .await
                    .map_err(|error| {
                        EmbedError::Inference(format!("model loading task failed: {error}"))
                    })??;
                tracing::info!(
                    model = loaded.model_id(),
                    model_dir = %shared.model_dir.display(),
                    "embedding model loaded"
                );
                Ok(loaded)
            })
            .await?;
        Ok(Arc::clone(embedder))
    }

    fn cached(&self, text: &str, kind: TextKind) -> Option<Vec<f32>> {
        let cache = self.shared.recent_single_texts.as_ref()?;
        // A panic elsewhere cannot leave an LRU of owned values inconsistent: keep using it.
        let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.get(&(kind, text.to_owned())).cloned()
    }

    fn remember(&self, text: &str, kind: TextKind, vector: &[f32]) {
        if let Some(cache) = &self.shared.recent_single_texts {
            let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
            cache.put((kind, text.to_owned()), vector.to_vec());
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

        fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.texts_seen.fetch_add(texts.len(), Ordering::SeqCst);
            self.largest_batch.fetch_max(texts.len(), Ordering::SeqCst);
            Ok(texts
                .iter()
                .map(|text| vec![text.len() as f32, f32::from(kind == TextKind::Query)])
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
        let first = service
            .embed_one("rust engineer", TextKind::Query)
            .await
            .expect("embed");
        let again = service
            .embed_one("rust engineer", TextKind::Query)
            .await
            .expect("embed");
        let as_batch = service
            .embed(vec!["rust engineer".to_owned()], TextKind::Query)
            .await
            .expect("embed");
        assert_eq!(first, again);
        assert_eq!(as_batch, vec![first.clone()]);
        assert_eq!(embedder.calls.load(Ordering::SeqCst), 1);
        // The same text as a passage is another vector, not the cached query's.
        let passage = service
            .embed_one("rust engineer", TextKind::Passage)
            .await
            .expect("embed");
        assert_ne!(passage, first);
        assert_eq!(embedder.calls.load(Ordering::SeqCst), 2);
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
            service
                .embed_one(text, TextKind::Query)
                .await
                .expect("embed");
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
        service
            .embed_one("x", TextKind::Query)
            .await
            .expect("embed");
        service
            .embed_one("x", TextKind::Query)
            .await
            .expect("embed");
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
        let vectors = service
            .embed(texts, TextKind::Passage)
            .await
            .expect("embed");
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
            models_dir: PathBuf::from("/nonexistent/models"),
            ..EmbedConfig::default()
        });
        assert_eq!(
            service
                .embed(Vec::new(), TextKind::Query)
                .await
                .expect("empty"),
            Vec::<Vec<f32>>::new()
        );
    }

    #[tokio::test]
    async fn a_missing_model_is_reported_on_every_call_with_the_fix() {
        let dir = tempfile::tempdir().expect("temp dir");
        let service = EmbeddingService::new(EmbedConfig {
            models_dir: dir.path().to_path_buf(),
            ..EmbedConfig::default()
        });
        assert!(!service.is_available());
        assert_eq!(service.dimension(), E5_DIMENSION);
        assert_eq!(
            service.model_dir(),
            dir.path().join("multilingual-e5-small")
        );
        assert_eq!(service.model_id(), crate::E5_MODEL_ID);
        for _ in 0..2 {
            let error = service
                .embed_one("query", TextKind::Query)
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
        assert_eq!(config.model, EmbedModel::MultilingualE5Small);
        assert_eq!(
            config.model_dir(),
            PathBuf::from("data/models/multilingual-e5-small")
        );
        let minilm: EmbedConfig =
            serde_json::from_str(r#"{"model": "all-MiniLM-L6-v2", "models_dir": "/m"}"#)
                .expect("parse");
        assert_eq!(minilm.model_dir(), PathBuf::from("/m/all-MiniLM-L6-v2"));
        assert!(serde_json::from_str::<EmbedConfig>(r#"{"batch": 8}"#).is_err());
        assert!(serde_json::from_str::<EmbedConfig>(r#"{"model": "bert"}"#).is_err());
    }
}
