//! The offline chat model: SmolLM2-135M-Instruct (Q4_1 GGUF) on candle's quantized llama, CPU.
//!
//! [`EmbeddedModel::load`] reads the GGUF once: the weights, and the tokenizer and chat template
//! from its metadata ([`ChatTokenizer`], [`prompt`]). Every [`ChatModel::stream`] call renders
//! the ChatML prompt, waits its turn for the one model instance (generations run one at a time;
//! the KV cache belongs to the running generation and is cleared before the next), then runs
//! prefill and decoding on a blocking thread, sending text deltas through a bounded channel.
//! Dropping the stream (or the `stream()` future) stops the generation at the next token.
//!
//! What it does not do: trim conversations (a prompt that does not fit the window is
//! [`LlmError::Rejected`]; trimming is the caller's job), call tools (`supports_tools` is false),
//! or promise quality — it is a small English-leaning model, a real offline default.
//!
//! Generation details: temperature 0 is greedy; otherwise temperature + top-p
//! ([`EmbeddedOptions::top_p`]) from a seeded generator. A mild repetition penalty (1.1 over the
//! last 64 tokens, as llama.cpp's default) applies in both modes: without it this small model
//! loops on greedy decoding. Generation stops at `<|im_end|>`, `<|endoftext|>`, the GGUF's EOS
//! or a new `<|im_start|>` ([`FinishReason::Stop`]; the stop token is not counted as a
//! completion token), or after `max_tokens` tokens or at the end of the context window
//! ([`FinishReason::Length`]). Deltas are always whole UTF-8 ([`utf8`]).

pub mod lazy;
pub mod prompt;
pub mod sampling;
pub mod tokenizer;
pub mod utf8;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor};
use candle_transformers::models::quantized_llama::{self, ModelWeights};
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};

pub use lazy::LazyEmbedded;
pub use prompt::{DEFAULT_SYSTEM_PROMPT, render_chatml};
pub use sampling::SamplingParams;
pub use tokenizer::{ChatTokenizer, SpecialTokens};

use crate::{
    ChatMessage, ChatModel, ChatRequest, Completion, EventStream, FinishReason, LlmError,
    StreamEvent, Usage, estimate_tokens,
};

/// The directory `scripts/install-model` puts the model in, under the models directory.
pub const MODEL_DIR_NAME: &str = "smollm2-135m-instruct";
/// The GGUF file inside [`MODEL_DIR_NAME`].
pub const MODEL_FILE_NAME: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// Prompt tokens fed to the model per forward pass: bounds the attention matrix of a long
/// prompt (9 heads × chunk × window floats) and lets a cancelled prefill stop between chunks.
const PREFILL_CHUNK: usize = 256;
/// Deltas that may wait in the channel before generation pauses for the reader.
const CHANNEL_CAPACITY: usize = 16;

/// The default context window. Prompts are read at about 200 tokens/s on two CPU cores (20
/// without [`EmbeddedOptions::dequantize`]; see `benches/embedded_generation.rs`), so a full
/// window costs about 10 s before the first token.
pub const DEFAULT_CONTEXT_WINDOW: usize = 2048;

/// Where the model is installed under `models_dir` (`$LOOMA_EMBED__MODELS_DIR`).
pub fn model_path(models_dir: &Path) -> PathBuf {
    models_dir.join(MODEL_DIR_NAME).join(MODEL_FILE_NAME)
}

/// Tuning of the embedded model.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbeddedOptions {
    /// Tokens of prompt + answer; default [`DEFAULT_CONTEXT_WINDOW`]. Clamped to what the
    /// model and candle support: the GGUF says 8192, but candle's quantized llama precomputes
    /// RoPE for 4096 positions only. Prefill on CPU runs at tens of tokens per second, so the
    /// window bounds the time to first token of a long conversation.
    pub context_window: usize,
    /// Nucleus size when the temperature is above 0.
    pub top_p: f32,
    /// Repetition penalty (1.0 = off) over the last [`Self::repeat_last_n`] tokens.
    pub repeat_penalty: f32,
    /// How far back the repetition penalty looks (prompt tokens included).
    pub repeat_last_n: usize,
    /// Expand the 4-bit weights to f32 at load (default): prompts are then read with batched
    /// f32 matrix products, about 10× faster than candle's Q4_1 kernels (measured: 254-token
    /// prompt in 1.2 s instead of 12 s, decoding 19–22 instead of 17 tokens/s), for ~540 MB
    /// of weights in memory instead of ~100 MB (1.3 GB peak while loading). Turn off where
    /// memory matters more than latency.
    pub dequantize: bool,
    /// Seed of the sampler; `None` draws a new one per generation. Fix it for reproducible
    /// sampled output (greedy output is reproducible anyway).
    pub seed: Option<u64>,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            context_window: DEFAULT_CONTEXT_WINDOW,
            top_p: 0.9,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            dequantize: true,
            seed: None,
        }
    }
}

/// Counters since load, for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmbeddedStats {
    /// Generations that got the model (started prefill).
    pub generations: u64,
    /// Generations stopped because their stream (or `stream()` future) was dropped.
    pub cancelled: u64,
    /// Tokens decoded, over all generations (stop tokens included).
    pub decoded_tokens: u64,
}

#[derive(Debug, Default)]
struct Counters {
    generations: AtomicU64,
    cancelled: AtomicU64,
    decoded_tokens: AtomicU64,
}

/// SmolLM2-135M-Instruct run in-process. One instance serves all requests, one generation at
/// a time (in arrival order).
pub struct EmbeddedModel {
    provider: String,
    model: String,
    tokenizer: Arc<ChatTokenizer>,
    weights: Arc<Mutex<ModelWeights>>,
    options: EmbeddedOptions,
    context_window: usize,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for EmbeddedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedModel")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("context_window", &self.context_window)
            .field("options", &self.options)
            .finish()
    }
}

impl EmbeddedModel {
    /// Loads the GGUF at `gguf_path` with the default [`EmbeddedOptions`]. A missing or
    /// unreadable file is [`LlmError::Unavailable`] naming `scripts/install-model`.
    pub fn load(gguf_path: &Path, provider: &str) -> Result<EmbeddedModel, LlmError> {
        Self::load_with(gguf_path, provider, EmbeddedOptions::default())
    }

    /// Loads the GGUF at `gguf_path` with `options`.
    pub fn load_with(
        gguf_path: &Path,
        provider: &str,
        options: EmbeddedOptions,
    ) -> Result<EmbeddedModel, LlmError> {
        let unavailable = |reason: String| LlmError::Unavailable {
            provider: provider.to_string(),
            reason: format!(
                "{reason} (install the model with `scripts/install-model`, which puts it at \
                 <models dir>/{MODEL_DIR_NAME}/{MODEL_FILE_NAME})"
            ),
        };
        let mut file = std::fs::File::open(gguf_path)
            .map_err(|e| unavailable(format!("cannot open {}: {e}", gguf_path.display())))?;
        // candle checks lengths against the file size, but a corrupt file must never take the
        // process down: any panic while parsing becomes an error too.
        let loaded = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let content = gguf_file::Content::read(&mut file)
                .map_err(|e| format!("{} is not a readable GGUF file: {e}", gguf_path.display()))?;
            let architecture = content
                .metadata
                .get("general.architecture")
                .and_then(|v| v.to_string().ok())
                .cloned()
                .unwrap_or_default();
            if architecture != "llama" {
                return Err(format!(
                    "{} holds a `{architecture}` model, not a llama one",
                    gguf_path.display()
                ));
            }
            let trained_context = content
                .metadata
                .get("llama.context_length")
                .and_then(|v| v.to_u32().ok())
                .map(|n| n as usize)
                .unwrap_or(quantized_llama::MAX_SEQ_LEN);
            let tokenizer = ChatTokenizer::from_metadata(&content.metadata)
                .map_err(|e| format!("{}: {e}", gguf_path.display()))?;
            let weights = if options.dequantize {
                let (content, mut data) = dequantized(content, &mut file).map_err(|e| {
                    format!("cannot read the weights of {}: {e}", gguf_path.display())
                })?;
                ModelWeights::from_gguf(content, &mut data, &Device::Cpu)
            } else {
                ModelWeights::from_gguf(content, &mut file, &Device::Cpu)
            }
            .map_err(|e| format!("cannot load the weights of {}: {e}", gguf_path.display()))?;
            Ok((tokenizer, weights, trained_context))
        }))
        .map_err(|_| {
            unavailable(format!(
                "{} is corrupt (the loader panicked)",
                gguf_path.display()
            ))
        })?
        .map_err(unavailable)?;
        let (tokenizer, weights, trained_context) = loaded;

        let supported = trained_context.clamp(2, quantized_llama::MAX_SEQ_LEN);
        let context_window = options.context_window.clamp(2, supported);
        let model = gguf_path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| "SmolLM2-135M-Instruct".to_string());
        tracing::info!(path = %gguf_path.display(), %model, context_window, "embedded chat model loaded");
        Ok(EmbeddedModel {
            provider: provider.to_string(),
            model,
            tokenizer: Arc::new(tokenizer),
            weights: Arc::new(Mutex::new(weights)),
            options,
            context_window,
            counters: Arc::new(Counters::default()),
        })
    }

    /// The tokenizer read from the GGUF.
    pub fn tokenizer(&self) -> &ChatTokenizer {
        &self.tokenizer
    }

    /// The options in force (the context window as asked; see [`ChatModel::context_window`]
    /// for the one applied).
    pub fn options(&self) -> &EmbeddedOptions {
        &self.options
    }

    /// The token ids of the ChatML prompt for `messages` (what `stream` feeds the model).
    pub fn prompt_token_ids(&self, messages: &[ChatMessage]) -> Result<Vec<u32>, LlmError> {
        prompt::chat_prompt_ids(&self.tokenizer, messages).map_err(|reason| self.rejected(reason))
    }

    /// Counters since load.
    pub fn stats(&self) -> EmbeddedStats {
        EmbeddedStats {
            generations: self.counters.generations.load(Ordering::Relaxed),
            cancelled: self.counters.cancelled.load(Ordering::Relaxed),
            decoded_tokens: self.counters.decoded_tokens.load(Ordering::Relaxed),
        }
    }

    fn rejected(&self, reason: impl Into<String>) -> LlmError {
        LlmError::Rejected {
            provider: self.provider.clone(),
            reason: reason.into(),
        }
    }
}

#[async_trait::async_trait]
impl ChatModel for EmbeddedModel {
    fn provider(&self) -> &str {
        &self.provider
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn supports_tools(&self) -> bool {
        false
    }

    fn context_window(&self) -> usize {
        self.context_window
    }

    fn count_tokens(&self, text: &str) -> usize {
        match self.tokenizer.encode(text) {
            Ok(ids) => ids.len(),
            Err(_) => estimate_tokens(text),
        }
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream, LlmError> {
        if request.max_tokens == 0 {
            return Err(self.rejected("max_tokens must be at least 1"));
        }
        if !request.temperature.is_finite() || request.temperature < 0.0 {
            return Err(self.rejected(format!(
                "temperature must be a number ≥ 0, got {}",
                request.temperature
            )));
        }
        let prompt = self.prompt_token_ids(&request.messages)?;
        if prompt.len() >= self.context_window {
            return Err(self.rejected(format!(
                "the prompt takes {} tokens but the context window of {} is {} tokens, and at \
                 least one must be left for the answer: trim the conversation",
                prompt.len(),
                self.model,
                self.context_window
            )));
        }
        let budget = (request.max_tokens as usize).min(self.context_window - prompt.len());
        let seed = self.options.seed.unwrap_or_else(fresh_seed);
        let job = Job {
            sampling: SamplingParams {
                temperature: request.temperature,
                top_p: self.options.top_p,
                repeat_penalty: self.options.repeat_penalty,
                repeat_last_n: self.options.repeat_last_n,
                seed,
            },
            prompt,
            budget,
            completion: Completion {
                provider: self.provider.clone(),
                model: self.model.clone(),
                usage: Usage::default(),
                finish: FinishReason::Stop,
            },
        };

        // Waiting for the model is cancellable: dropping this future leaves the queue.
        let weights = self.weights.clone().lock_owned().await;
        let (started_tx, started_rx) = oneshot::channel();
        let (events_tx, events_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let tokenizer = self.tokenizer.clone();
        let counters = self.counters.clone();
        tokio::task::spawn_blocking(move || {
            let mut channels = Channels {
                started: Some(started_tx),
                events: events_tx,
            };
            run_generation(weights, &tokenizer, job, &mut channels, &counters);
        });
        match started_rx.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(error),
            Err(_) => {
                return Err(LlmError::Unavailable {
                    provider: self.provider.clone(),
                    reason: "the generation thread ended before the prompt was read".into(),
                });
            }
        }
        let events = futures::stream::unfold(events_rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(Box::pin(events))
    }
}

/// The same GGUF content with every tensor expanded to f32, in memory. candle turns f32
/// tensors into plain (gemm) matrix products when it builds the model.
fn dequantized(
    content: gguf_file::Content,
    file: &mut std::fs::File,
) -> candle_core::Result<(gguf_file::Content, std::io::Cursor<Vec<u8>>)> {
    let mut data = Vec::new();
    let mut tensor_infos = std::collections::HashMap::with_capacity(content.tensor_infos.len());
    for (name, info) in &content.tensor_infos {
        let values = info
            .read(file, content.tensor_data_offset, &Device::Cpu)?
            .dequantize(&Device::Cpu)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let offset = data.len() as u64;
        data.reserve(values.len() * 4);
        for value in values {
            data.extend_from_slice(&value.to_le_bytes());
        }
        tensor_infos.insert(
            name.clone(),
            gguf_file::TensorInfo {
                ggml_dtype: candle_core::quantized::GgmlDType::F32,
                shape: info.shape.clone(),
                offset,
            },
        );
    }
    let content = gguf_file::Content {
        magic: content.magic,
        metadata: content.metadata,
        tensor_infos,
        tensor_data_offset: 0,
    };
    Ok((content, std::io::Cursor::new(data)))
}

fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

/// One generation's inputs.
struct Job {
    sampling: SamplingParams,
    prompt: Vec<u32>,
    /// Tokens that may be generated: `max_tokens`, or less where the window ends first.
    budget: usize,
    /// Provider and model filled in; usage and finish set at the end.
    completion: Completion,
}

/// Where a generation reports: `started` until the prompt is read (errors then go back to
/// the `stream()` caller), the event channel afterwards.
struct Channels {
    started: Option<oneshot::Sender<Result<(), LlmError>>>,
    events: mpsc::Sender<Result<StreamEvent, LlmError>>,
}

impl Channels {
    fn is_closed(&self) -> bool {
        match &self.started {
            Some(started) => started.is_closed(),
            None => self.events.is_closed(),
        }
    }

    /// Reports a failure; `reason` becomes `Unavailable` before the first event and
    /// `Interrupted` after it.
    fn fail(&mut self, provider: &str, reason: String) {
        match self.started.take() {
            Some(started) => {
                let _ = started.send(Err(LlmError::Unavailable {
                    provider: provider.into(),
                    reason,
                }));
            }
            None => {
                let _ = self.events.blocking_send(Err(LlmError::Interrupted {
                    provider: provider.into(),
                    reason,
                }));
            }
        }
    }
}

/// Why a generation ended early.
enum Halt {
    /// The reader went away.
    Cancelled,
    /// candle failed.
    Failed(String),
}

fn run_generation(
    mut weights: OwnedMutexGuard<ModelWeights>,
    tokenizer: &ChatTokenizer,
    job: Job,
    channels: &mut Channels,
    counters: &Counters,
) {
    counters.generations.fetch_add(1, Ordering::Relaxed);
    let provider = job.completion.provider.clone();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        generate(&mut weights, tokenizer, job, channels, counters)
    }));
    // The next generation starts from an empty cache whatever happened here.
    weights.clear_kv_cache();
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(Halt::Cancelled)) => {
            counters.cancelled.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("embedded generation cancelled: the reader went away");
        }
        Ok(Err(Halt::Failed(reason))) => {
            tracing::warn!(%reason, "embedded generation failed");
            channels.fail(&provider, reason);
        }
        Err(_) => {
            tracing::error!("embedded generation panicked");
            channels.fail(
                &provider,
                "the embedded model panicked while generating".into(),
            );
        }
    }
}

fn generate(
    weights: &mut ModelWeights,
    tokenizer: &ChatTokenizer,
    job: Job,
    channels: &mut Channels,
    counters: &Counters,
) -> Result<(), Halt> {
    let failed = |e: candle_core::Error| Halt::Failed(format!("the model failed: {e}"));
    let forward = |weights: &mut ModelWeights, ids: &[u32], position: usize| {
        let input = Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?;
        weights
            .forward(&input, position)?
            .squeeze(0)?
            .to_dtype(DType::F32)?
            .to_vec1::<f32>()
    };

    weights.clear_kv_cache();
    let mut logits = Vec::new();
    for (index, chunk) in job.prompt.chunks(PREFILL_CHUNK).enumerate() {
        if channels.is_closed() {
            return Err(Halt::Cancelled);
        }
        logits = forward(weights, chunk, index * PREFILL_CHUNK).map_err(failed)?;
    }
    match channels.started.take() {
        Some(started) => started.send(Ok(())).map_err(|_| Halt::Cancelled)?,
        None => return Err(Halt::Failed("generation started twice".into())),
    }

    let special = tokenizer.special();
    let is_stop = |id: u32| {
        id == special.im_end
            || id == special.eos
            || id == special.end_of_text
            || id == special.im_start
    };
    let mut sampler = sampling::Sampler::new(job.sampling);
    let mut history = job.prompt.clone();
    let mut text = utf8::Utf8Stream::default();
    let mut completion_tokens = 0usize;
    let mut finish = FinishReason::Length;
    while completion_tokens < job.budget {
        let token = sampler.next(&mut logits, &history);
        counters.decoded_tokens.fetch_add(1, Ordering::Relaxed);
        if is_stop(token) {
            finish = FinishReason::Stop;
            break;
        }
        completion_tokens += 1;
        history.push(token);
        let piece = text.push(tokenizer.token_bytes(token));
        if !piece.is_empty() {
            channels
                .events
                .blocking_send(Ok(StreamEvent::Delta(piece)))
                .map_err(|_| Halt::Cancelled)?;
        }
        if completion_tokens == job.budget {
            break;
        }
        if channels.events.is_closed() {
            return Err(Halt::Cancelled);
        }
        logits = forward(weights, &[token], history.len() - 1).map_err(failed)?;
    }
    let rest = text.finish();
    if !rest.is_empty() {
        channels
            .events
            .blocking_send(Ok(StreamEvent::Delta(rest)))
            .map_err(|_| Halt::Cancelled)?;
    }
    let completion = Completion {
        usage: Usage {
            prompt_tokens: job.prompt.len() as u32,
            completion_tokens: completion_tokens as u32,
        },
        finish,
        ..job.completion
    };
    channels
        .events
        .blocking_send(Ok(StreamEvent::Done(completion)))
        .map_err(|_| Halt::Cancelled)
}
