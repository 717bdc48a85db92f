//! The model's own tokenizer, rebuilt from the GGUF metadata: GPT-2 style byte-level BPE
//! (`tokenizer.ggml.tokens` + `tokenizer.ggml.merges`) behind SmolLM's pre-tokenizer (every
//! digit alone, then the GPT-2 split regex — llama.cpp's `smollm` pre-tokenizer type).
//!
//! Text is always encoded as plain text: a control token such as `<|im_end|>` typed by a user
//! becomes ordinary pieces (`<|`, `im`, `_`, `end`, `|>`), never the control id. Only the prompt
//! renderer ([`super::prompt`]) places control ids, where the chat template puts them.

use std::collections::HashMap;
use std::path::Path;

use candle_core::quantized::gguf_file;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;

/// GGUF `tokenizer.ggml.token_type` of a control token (`<|im_start|>`, `<|endoftext|>`, ...).
const TOKEN_TYPE_CONTROL: i32 = 3;

/// The ids of the control tokens the chat template and the generation loop use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecialTokens {
    /// `<|im_start|>`: opens a turn.
    pub im_start: u32,
    /// `<|im_end|>`: closes a turn; the model's end of answer.
    pub im_end: u32,
    /// `<|endoftext|>`: end of document.
    pub end_of_text: u32,
    /// `tokenizer.ggml.eos_token_id` (the same as `im_end` in SmolLM2-Instruct).
    pub eos: u32,
}

/// The byte-level BPE tokenizer of a GGUF chat model.
pub struct ChatTokenizer {
    bpe: tokenizers::Tokenizer,
    /// Each id's bytes (the byte-level alphabet mapped back); empty for control tokens.
    token_bytes: Vec<Vec<u8>>,
    control: Vec<bool>,
    special: SpecialTokens,
}

impl std::fmt::Debug for ChatTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTokenizer")
            .field("vocab_size", &self.token_bytes.len())
            .field("special", &self.special)
            .finish()
    }
}

impl ChatTokenizer {
    /// Reads only the metadata of the GGUF file at `path` (not the weights).
    pub fn from_gguf_file(path: &Path) -> Result<Self, String> {
        let mut file = std::fs::File::open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let content = gguf_file::Content::read(&mut file)
            .map_err(|e| format!("{} is not a readable GGUF file: {e}", path.display()))?;
        Self::from_metadata(&content.metadata)
    }

    /// Builds the tokenizer from GGUF metadata (`tokenizer.ggml.*`).
    pub fn from_metadata(metadata: &HashMap<String, gguf_file::Value>) -> Result<Self, String> {
        let get = |key: &str| {
            metadata
                .get(key)
                .ok_or_else(|| format!("GGUF metadata lacks `{key}`"))
        };
        let model = get("tokenizer.ggml.model")?
            .to_string()
            .map_err(|e| format!("tokenizer.ggml.model: {e}"))?;
        if model != "gpt2" {
            return Err(format!(
                "tokenizer `{model}` is not supported (only byte-level BPE, `gpt2`)"
            ));
        }
        let tokens = string_array(get("tokenizer.ggml.tokens")?, "tokenizer.ggml.tokens")?;
        let merges = string_array(get("tokenizer.ggml.merges")?, "tokenizer.ggml.merges")?;
        let types: Vec<i32> = match metadata.get("tokenizer.ggml.token_type") {
            Some(value) => value
                .to_vec()
                .map_err(|e| format!("tokenizer.ggml.token_type: {e}"))?
                .iter()
                .map(|v| v.to_i32().unwrap_or(1))
                .collect(),
            None => Vec::new(),
        };

        let unicode_to_byte = unicode_to_byte();
        let mut token_bytes = Vec::with_capacity(tokens.len());
        let mut control = Vec::with_capacity(tokens.len());
        for (id, token) in tokens.iter().enumerate() {
            let is_control = types.get(id) == Some(&TOKEN_TYPE_CONTROL);
            control.push(is_control);
            if is_control {
                token_bytes.push(Vec::new());
                continue;
            }
            let bytes: Option<Vec<u8>> = token
                .chars()
                .map(|c| unicode_to_byte.get(&c).copied())
                .collect();
            // A token outside the byte alphabet cannot be produced by the BPE; keep its UTF-8.
            token_bytes.push(bytes.unwrap_or_else(|| token.as_bytes().to_vec()));
        }

        let id_of = |text: &str| -> Result<u32, String> {
            tokens
                .iter()
                .position(|t| t == text)
                .map(|i| i as u32)
                .ok_or_else(|| format!("the vocabulary has no `{text}` token"))
        };
        let im_start = id_of("<|im_start|>")?;
        let im_end = id_of("<|im_end|>")?;
        let end_of_text = id_of("<|endoftext|>")?;
        let eos = match metadata.get("tokenizer.ggml.eos_token_id") {
            Some(value) => value
                .to_u32()
                .map_err(|e| format!("tokenizer.ggml.eos_token_id: {e}"))?,
            None => im_end,
        };
        if eos as usize >= tokens.len() {
            return Err(format!("eos token id {eos} is outside the vocabulary"));
        }
        let special = SpecialTokens {
            im_start,
            im_end,
            end_of_text,
            eos,
        };

        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .filter(|(id, _)| !control.get(*id).copied().unwrap_or(false))
            .map(|(id, token)| (token.clone(), id as u32))
            .collect();
        let merges = merges
            .iter()
            .map(|merge| {
                merge
                    .split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| format!("malformed merge `{merge}`"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| format!("cannot build the BPE model: {e}"))?;
        let mut tokenizer = tokenizers::Tokenizer::new(bpe);
        tokenizer.with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(Sequence::new(vec![
            PreTokenizerWrapper::Digits(Digits::new(true)),
            PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true)),
        ]))));
        Ok(ChatTokenizer {
            bpe: tokenizer,
            token_bytes,
            control,
            special,
        })
    }

    /// The token ids of `text`, encoded as plain text (control tokens are never produced).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        self.bpe
            .encode_fast(text, false)
            .map(|encoding| encoding.get_ids().to_vec())
            .map_err(|e| format!("cannot tokenize: {e}"))
    }

    /// The bytes a token stands for; empty for control tokens and unknown ids.
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.token_bytes
            .get(id as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Whether `id` is a control token (`<|im_start|>`, `<|endoftext|>`, `<file_sep>`, ...).
    pub fn is_control(&self, id: u32) -> bool {
        self.control.get(id as usize).copied().unwrap_or(false)
    }

    /// The text of `ids` (control tokens skipped; invalid UTF-8 replaced by U+FFFD).
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|&id| self.token_bytes(id).iter().copied())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The control tokens of the chat template.
    pub fn special(&self) -> SpecialTokens {
        self.special
    }

    /// The number of ids, control tokens included.
    pub fn vocab_size(&self) -> usize {
        self.token_bytes.len()
    }
}

fn string_array(value: &gguf_file::Value, key: &str) -> Result<Vec<String>, String> {
    value
        .to_vec()
        .map_err(|e| format!("{key}: {e}"))?
        .iter()
        .map(|v| v.to_string().cloned().map_err(|e| format!("{key}: {e}")))
        .collect()
}

/// GPT-2's byte-level alphabet, reversed: printable Latin-1 bytes stand for themselves, the
/// other 68 bytes for the code points from U+0100 on, in byte order.
fn unicode_to_byte() -> HashMap<char, u8> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut map = HashMap::with_capacity(256);
    let mut shifted = 0u32;
    for byte in 0..=255u8 {
        let c = if printable(byte) {
            char::from(byte)
        } else {
            let c = char::from_u32(256 + shifted).unwrap_or(char::REPLACEMENT_CHARACTER);
            shifted += 1;
            c
        };
        map.insert(c, byte);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_alphabet_covers_every_byte_once() {
        let map = unicode_to_byte();
        assert_eq!(map.len(), 256);
        assert_eq!(map[&'Ġ'], b' ');
        assert_eq!(map[&'Ċ'], b'\n');
        assert_eq!(map[&'!'], b'!');
        assert_eq!(map[&'ÿ'], 0xFF);
        let mut bytes: Vec<u8> = map.values().copied().collect();
        bytes.sort_unstable();
        bytes.dedup();
        assert_eq!(bytes.len(), 256);
    }
}
