//! The BERT encoder of multilingual-e5-small over the packed 4-bit weights.
//!
//! The model was quantised for a kernel that multiplies 4-bit weights with activations
//! quantised per block of 32 to 8 bits (scale = block maximum / 127, round half to even). The
//! same arithmetic is reproduced here in floating point: weights are dequantised once at load
//! time, activations are rounded to their 8-bit grid before every weight multiplication, and
//! the products run through candle's f32 matrix multiply. The result equals the integer kernel's
//! up to f32 summation order, which is what makes our vectors match the package's.
//!
//! Several texts run as one batch: their tokens are stacked into one matrix, so each weight
//! matrix is read once per batch, and attention stays within each text's own tokens.

use candle_core::{Device, Tensor};

use super::file::{BLOCK, ModelFile, Shape};

/// One text's tokens within a batch: rows `start..end` of the stacked activations.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segment {
    pub start: usize,
    pub end: usize,
}

pub(crate) struct Encoder {
    shape: Shape,
    word_embeddings: Vec<u8>,
    positions: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    device: Device,
}

struct Layer {
    /// Query, key and value projections side by side: they read the same input.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    feed_forward_in: Linear,
    feed_forward_out: Linear,
    output_norm: Norm,
}

struct Linear {
    /// `[inputs, outputs]`, dequantised.
    weight: Tensor,
    /// `[1, outputs]`.
    bias: Tensor,
}

struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Encoder {
    pub fn load(file: &ModelFile) -> Result<Encoder, String> {
        let shape = file.shape;
        let h = shape.hidden;
        let device = Device::Cpu;
        let word = file.q4("emb.word", shape.vocabulary, h)?;
        let mut layers = Vec::with_capacity(shape.layers);
        for layer in 0..shape.layers {
            let name = |part: &str| format!("l{layer}.{part}");
            let linear = |parts: &[&str], rows: usize, columns: usize| {
                linear(
                    file,
                    &parts.iter().map(|p| name(p)).collect::<Vec<_>>(),
                    rows,
                    columns,
                    &device,
                )
            };
            layers.push(Layer {
                qkv: linear(&["q", "k", "v"], h, h)?,
                attention_out: linear(&["ao"], h, h)?,
                attention_norm: norm(file, &name("aln"), h)?,
                feed_forward_in: linear(&["fi"], shape.feed_forward, h)?,
                feed_forward_out: linear(&["fo"], h, shape.feed_forward)?,
                output_norm: norm(file, &name("oln"), h)?,
            });
        }
        Ok(Encoder {
            shape,
            word_embeddings: word.bytes.to_vec(),
            positions: file.f32s("emb.pos", shape.positions * h)?,
            // Every token is of type 0: the first row.
            token_type: file.f32s("emb.type", shape.token_types * h)?[..h].to_vec(),
            embedding_norm: norm(file, "emb.ln", h)?,
            layers,
            device,
        })
    }

    /// Longest sequence a segment may have, `<s>` and `</s>` included.
    pub fn max_positions(&self) -> usize {
        self.shape.positions
    }

    /// Mean of the last hidden states over each segment's tokens (not normalised).
    /// `ids` holds every segment's tokens back to back; positions restart at each segment.
    pub fn mean_pooled(
        &self,
        ids: &[u32],
        segments: &[Segment],
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let h = self.shape.hidden;
        let mut x = self.embed(ids, segments);
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x, &self.device)?;
            let context = self.attention(&qkv, segments)?;
            let attended = layer.attention_out.forward(&context, &self.device)?;
            layer
                .attention_norm
                .add_and_normalise(&mut x, &attended, self.shape.epsilon);
            let inner = layer
                .feed_forward_in
                .forward_tensor(&x, &self.device)?
                .gelu_erf()?;
            let inner = inner.flatten_all()?.to_vec1::<f32>()?;
            let outer = layer.feed_forward_out.forward(&inner, &self.device)?;
            layer
                .output_norm
                .add_and_normalise(&mut x, &outer, self.shape.epsilon);
        }
        Ok(segments
            .iter()
            .map(|segment| {
                let mut mean = vec![0.0f32; h];
                for row in x[segment.start * h..segment.end * h].chunks_exact(h) {
                    for (m, v) in mean.iter_mut().zip(row) {
                        *m += v;
                    }
                }
                let inverse = 1.0 / (segment.end - segment.start) as f32;
                mean.iter_mut().for_each(|m| *m *= inverse);
                mean
            })
            .collect())
    }

    /// Word + position + token-type embeddings, layer-normalised.
    fn embed(&self, ids: &[u32], segments: &[Segment]) -> Vec<f32> {
        let h = self.shape.hidden;
        let row_bytes = h / BLOCK * super::file::BLOCK_BYTES;
        let mut x = Vec::with_capacity(ids.len() * h);
        for segment in segments {
            for (position, &id) in ids[segment.start..segment.end].iter().enumerate() {
                let start = x.len();
                let row = id as usize * row_bytes;
                super::file::dequantize_blocks(&self.word_embeddings[row..row + row_bytes], &mut x);
                let position = &self.positions[position * h..(position + 1) * h];
                for ((v, p), t) in x[start..].iter_mut().zip(position).zip(&self.token_type) {
                    *v += p + t;
                }
            }
        }
        self.embedding_norm.normalise(&mut x, self.shape.epsilon);
        x
    }

    /// Scaled dot-product attention of every head, each segment attending to itself only.
    fn attention(&self, qkv: &[f32], segments: &[Segment]) -> candle_core::Result<Vec<f32>> {
        let Shape {
            hidden: h, heads, ..
        } = self.shape;
        let head_width = h / heads;
        let scale = 1.0 / (head_width as f64).sqrt();
        let tokens = qkv.len() / (3 * h);
        let all = Tensor::from_slice(qkv, (tokens, 3, heads, head_width), &self.device)?;
        let mut context = Vec::with_capacity(tokens * h);
        for segment in segments {
            let length = segment.end - segment.start;
            let rows = all.narrow(0, segment.start, length)?;
            // [heads, length, head_width] for each of query, key and value.
            let part = |index: usize| {
                rows.narrow(1, index, 1)?
                    .squeeze(1)?
                    .transpose(0, 1)?
                    .contiguous()
            };
            let (query, key, value) = (part(0)?, part(1)?, part(2)?);
            let scores = (query.matmul(&key.t()?)? * scale)?;
            let weights = candle_nn::ops::softmax_last_dim(&scores)?;
            let attended = weights.matmul(&value)?.transpose(0, 1)?.contiguous()?;
            context.extend(attended.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(context)
    }
}

impl Linear {
    /// `x · W + b` with `x` on its 8-bit grid; `x` is row-major `[tokens, inputs]`.
    fn forward(&self, x: &[f32], device: &Device) -> candle_core::Result<Vec<f32>> {
        self.forward_tensor(x, device)?.flatten_all()?.to_vec1()
    }

    fn forward_tensor(&self, x: &[f32], device: &Device) -> candle_core::Result<Tensor> {
        let inputs = self.weight.dim(0)?;
        let tokens = x.len() / inputs;
        let quantised = Tensor::from_vec(quantise_activations(x), (tokens, inputs), device)?;
        quantised.matmul(&self.weight)?.broadcast_add(&self.bias)
    }
}

impl Norm {
    /// `x = LayerNorm(x + residual)`, row by row.
    fn add_and_normalise(&self, x: &mut [f32], residual: &[f32], epsilon: f32) {
        for (v, r) in x.iter_mut().zip(residual) {
            *v += r;
        }
        self.normalise(x, epsilon);
    }

    fn normalise(&self, x: &mut [f32], epsilon: f32) {
        let width = self.weight.len();
        for row in x.chunks_exact_mut(width) {
            let mean = row.iter().sum::<f32>() / width as f32;
            let variance = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / width as f32;
            let inverse = 1.0 / (variance + epsilon).sqrt();
            for ((v, w), b) in row.iter_mut().zip(&self.weight).zip(&self.bias) {
                *v = (*v - mean) * inverse * w + b;
            }
        }
    }
}

/// Each block of 32 activations rounded to 8 bits: `round(x / d) · d` with `d = max|x| / 127`.
fn quantise_activations(x: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len());
    for block in x.chunks_exact(BLOCK) {
        let largest = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let step = largest / 127.0;
        let inverse = if step > 0.0 { 1.0 / step } else { 0.0 };
        out.extend(
            block
                .iter()
                .map(|&v| (v * inverse).round_ties_even().clamp(-128.0, 127.0) * step),
        );
    }
    out
}

/// Several 4-bit matrices of `rows × columns` (PyTorch's `[out, in]`), dequantised and placed
/// side by side as one `[columns, rows · parts]` weight with their biases concatenated.
fn linear(
    file: &ModelFile,
    parts: &[String],
    rows: usize,
    columns: usize,
    device: &Device,
) -> Result<Linear, String> {
    let mut weights = Vec::with_capacity(parts.len() * rows * columns);
    let mut bias = Vec::with_capacity(parts.len() * rows);
    for part in parts {
        let tensor = file.q4(&format!("{part}.w"), rows, columns)?;
        for row in 0..rows {
            tensor.dequantize_row_into(row, &mut weights);
        }
        bias.extend(file.f32s(&format!("{part}.b"), rows)?);
    }
    let weight = Tensor::from_vec(weights, (parts.len() * rows, columns), device)
        .and_then(|w| w.t()?.contiguous())
        .map_err(|error| error.to_string())?;
    let outputs = bias.len();
    let bias = Tensor::from_vec(bias, (1, outputs), device).map_err(|error| error.to_string())?;
    Ok(Linear { weight, bias })
}

fn norm(file: &ModelFile, name: &str, width: usize) -> Result<Norm, String> {
    Ok(Norm {
        weight: file.f32s(&format!("{name}.w"), width)?,
        bias: file.f32s(&format!("{name}.b"), width)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activations_land_on_the_eight_bit_grid_of_their_block() {
        let mut x: Vec<f32> = (0..32).map(|i| i as f32 / 10.0 - 1.0).collect();
        x[5] = 2.54; // the block's maximum: step 0.02
        let q = quantise_activations(&x);
        assert!((q[5] - 2.54).abs() < 1e-6);
        for v in &q {
            let steps = v / 0.02;
            assert!((steps - steps.round()).abs() < 1e-3, "{v} is off the grid");
        }
        // With a largest value of 127 the step is 1: halves round to even, as lrintf does.
        let mut y = vec![0.0f32; 32];
        y[0] = 127.0;
        y[1] = 2.5;
        y[2] = 3.5;
        y[3] = -300.0 / 1000.0;
        let q = quantise_activations(&y);
        assert_eq!((q[1], q[2], q[3]), (2.0, 4.0, 0.0));
        // An all-zero block stays zero.
        assert!(quantise_activations(&[0.0; 32]).iter().all(|v| *v == 0.0));
    }
}
