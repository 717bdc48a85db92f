//! all-MiniLM-L6-v2 on candle (CPU): tokenisation, the BERT forward pass, mean pooling and
//! normalisation. Blocking and CPU-bound: async callers go through `EmbeddingService`.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::batching::embed_in_batches;
use crate::{EmbedError, Embedder, MINILM_DIMENSION, TextKind, model_unavailable};

/// Tokens per text the model sees, [CLS] and [SEP] included; the rest is dropped
/// (sentence-transformers' `max_seq_length` for this model).
pub const MAX_SEQUENCE_TOKENS: usize = 256;

/// Texts per forward pass; larger requests are split. Bounds the activation memory.
const MAX_BATCH: usize = 32;

/// Bytes of a text that reach the tokenizer. Any realistic text reaches
/// [`MAX_SEQUENCE_TOKENS`] long before this, so cutting here changes no vector; it only keeps
/// a multi-megabyte paste from costing seconds of tokenisation.
const MAX_TEXT_BYTES: usize = 64 * 1024;

pub(crate) const MODEL_ID: &str = "all-MiniLM-L6-v2";
const CONFIG_FILE: &str = "config.json";
const TOKENIZER_FILE: &str = "tokenizer.json";
const WEIGHTS_FILE: &str = "model.safetensors";

/// The files a model directory must hold for [`MiniLmEmbedder::load`] to succeed.
pub(crate) const REQUIRED_FILES: [&str; 3] = [CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE];

/// all-MiniLM-L6-v2 loaded into memory (about 90 MB of f32 weights).
pub struct MiniLmEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

/// How a batch of texts was tokenised: what the model would see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizedBatch {
    /// Length every sequence in the batch is padded to (the longest one's).
    pub padded_length: usize,
    /// Real tokens per text, [CLS] and [SEP] included, after truncation.
    pub token_counts: Vec<usize>,
}

impl MiniLmEmbedder {
    /// Loads the model from a directory filled by `scripts/install-model`.
    pub fn load(model_dir: &Path) -> Result<Self, EmbedError> {
        for file in REQUIRED_FILES {
            if !model_dir.join(file).is_file() {
                return Err(model_unavailable(model_dir, format!("{file} is missing")));
            }
        }
        let config = read_config(model_dir)?;
        if config.hidden_size != MINILM_DIMENSION {
            return Err(model_unavailable(
                model_dir,
                format!(
                    "{CONFIG_FILE} describes a {}-dimensional model, expected {MINILM_DIMENSION}",
                    config.hidden_size
                ),
            ));
        }
        let tokenizer = read_tokenizer(model_dir)?;
        let device = Device::Cpu;
        let weights_path = model_dir.join(WEIGHTS_FILE);
        // SAFETY: the mapping is only read while the weights are copied into tensors during
        // `BertModel::load`, and is dropped with `weights` at the end of this function.
        // `scripts/install-model` replaces files by renaming new ones over them, so a
        // concurrent reinstall leaves the mapped (old) file intact.
        let weights =
            unsafe { VarBuilder::from_mmaped_safetensors(&[&weights_path], DType::F32, &device) }
                .map_err(|error| unreadable(model_dir, WEIGHTS_FILE, error))?;
        let model = BertModel::load(weights, &config)
            .map_err(|error| unreadable(model_dir, WEIGHTS_FILE, error))?;
        Ok(Self {
            model,
            tokenizer,
            device,
        })
    }

    /// Tokenises `texts` as one batch the way [`Embedder::embed`] would, without running the
    /// model. For diagnostics and tests of the padding and truncation rules.
    pub fn tokenize(&self, texts: &[&str]) -> Result<TokenizedBatch, EmbedError> {
        let encodings = self.encode(texts)?;
        Ok(TokenizedBatch {
            padded_length: encodings.first().map_or(0, |encoding| encoding.len()),
            token_counts: encodings
                .iter()
                .map(|encoding| encoding.get_attention_mask().iter().sum::<u32>() as usize)
                .collect(),
        })
    }

    fn encode(&self, texts: &[&str]) -> Result<Vec<tokenizers::Encoding>, EmbedError> {
        let inputs: Vec<&str> = texts
            .iter()
            .map(|text| cut_at_char_boundary(text))
            .collect();
        self.tokenizer
            .encode_batch(inputs, true)
            .map_err(|error| EmbedError::InvalidInput(format!("tokenizer rejected text: {error}")))
    }

    /// One forward pass over a batch small enough to run at once.
    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self.encode(texts)?;
        let batch_size = encodings.len();
        let padded_length = encodings.first().map_or(0, |encoding| encoding.len());
        let mut token_ids = Vec::with_capacity(batch_size * padded_length);
        let mut attention_mask = Vec::with_capacity(batch_size * padded_length);
        for encoding in &encodings {
            token_ids.extend_from_slice(encoding.get_ids());
            attention_mask.extend_from_slice(encoding.get_attention_mask());
        }
        self.run_model(token_ids, attention_mask, (batch_size, padded_length))
            .map_err(|error| EmbedError::Inference(error.to_string()))
    }

    fn run_model(
        &self,
        token_ids: Vec<u32>,
        attention_mask: Vec<u32>,
        shape: (usize, usize),
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let token_ids = Tensor::from_vec(token_ids, shape, &self.device)?;
        let token_type_ids = token_ids.zeros_like()?;
        let attention_mask = Tensor::from_vec(attention_mask, shape, &self.device)?;
        let hidden = self
            .model
            .forward(&token_ids, &token_type_ids, Some(&attention_mask))?;
        // Mean over real tokens only: padding must not pull the average.
        let mask = attention_mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        mean.broadcast_div(&norms)?.to_vec2::<f32>()
    }
}

impl Embedder for MiniLmEmbedder {
    fn model_id(&self) -> &str {
        MODEL_ID
    }

    fn dimension(&self) -> usize {
        MINILM_DIMENSION
    }

    /// Queries and passages read alike (the model has no prefixes).
    fn embed(&self, texts: &[&str], _kind: TextKind) -> Result<Vec<Vec<f32>>, EmbedError> {
        embed_in_batches(texts, MAX_BATCH, |batch| self.embed_batch(batch))
    }
}

fn read_config(model_dir: &Path) -> Result<BertConfig, EmbedError> {
    let text = std::fs::read_to_string(model_dir.join(CONFIG_FILE))
        .map_err(|error| unreadable(model_dir, CONFIG_FILE, error))?;
    serde_json::from_str(&text).map_err(|error| unreadable(model_dir, CONFIG_FILE, error))
}

/// The shipped tokenizer pads every text to 128 tokens and cuts at 128; sentence-transformers
/// pads to the longest text in the batch and cuts at 256. Use the latter.
fn read_tokenizer(model_dir: &Path) -> Result<Tokenizer, EmbedError> {
    let mut tokenizer = Tokenizer::from_file(model_dir.join(TOKENIZER_FILE))
        .map_err(|error| unreadable(model_dir, TOKENIZER_FILE, error))?;
    let padding = PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..tokenizer.get_padding().cloned().unwrap_or_default()
    };
    tokenizer.with_padding(Some(padding));
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: MAX_SEQUENCE_TOKENS,
            ..TruncationParams::default()
        }))
        .map_err(|error| unreadable(model_dir, TOKENIZER_FILE, error))?;
    Ok(tokenizer)
}

fn unreadable(model_dir: &Path, file: &str, error: impl std::fmt::Display) -> EmbedError {
    model_unavailable(
        PathBuf::from(model_dir),
        format!("{file} unreadable: {error}"),
    )
}

fn cut_at_char_boundary(text: &str) -> &str {
    if text.len() <= MAX_TEXT_BYTES {
        return text;
    }
    let mut end = MAX_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_directory_is_reported_with_the_fix() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = MiniLmEmbedder::load(dir.path())
            .err()
            .expect("loading from an empty directory must fail");
        assert!(matches!(error, EmbedError::ModelUnavailable { .. }));
        let message = error.to_string();
        assert!(
            message.contains("embedding model not installed at"),
            "{message}"
        );
        assert!(message.contains("config.json is missing"), "{message}");
        assert!(
            message.contains(&format!(
                "run `scripts/install-model {}`",
                dir.path().display()
            )),
            "{message}"
        );
    }

    #[test]
    fn a_corrupt_config_is_reported_as_unavailable() {
        let dir = tempfile::tempdir().expect("temp dir");
        for file in REQUIRED_FILES {
            std::fs::write(dir.path().join(file), b"not json").expect("write fixture");
        }
        let error = MiniLmEmbedder::load(dir.path())
            .err()
            .expect("a corrupt model must not load");
        assert!(
            error.to_string().contains("config.json unreadable"),
            "{error}"
        );
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let text = "工".repeat(MAX_TEXT_BYTES); // three bytes per character
        let cut = cut_at_char_boundary(&text);
        assert!(cut.len() <= MAX_TEXT_BYTES);
        assert!(cut.len() > MAX_TEXT_BYTES - 3);
        assert_eq!(cut_at_char_boundary("short"), "short");
    }
}
