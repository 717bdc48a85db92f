//! Picking the next token from the logits: greedy at temperature 0, else temperature + top-p
//! (nucleus) sampling from a seeded generator, after a repetition penalty.
//!
//! The generator is SplitMix64, written here so a seed gives the same tokens on every build
//! (no dependency whose algorithm may change between versions).

/// How the next token is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplingParams {
    /// 0 (or less, or not finite) → greedy: the most likely token.
    pub temperature: f32,
    /// Nucleus size: sample among the most likely tokens whose probabilities add up to this.
    pub top_p: f32,
    /// Logits of tokens seen in the last `repeat_last_n` tokens are divided (if positive) or
    /// multiplied (if negative) by this; 1.0 turns the penalty off.
    pub repeat_penalty: f32,
    /// How many of the latest tokens (prompt included) the penalty looks at.
    pub repeat_last_n: usize,
    /// Seed of the random generator.
    pub seed: u64,
}

/// The sampler of one generation.
#[derive(Debug)]
pub struct Sampler {
    params: SamplingParams,
    rng: SplitMix64,
}

impl Sampler {
    pub fn new(params: SamplingParams) -> Self {
        Sampler {
            params,
            rng: SplitMix64(params.seed),
        }
    }

    /// The next token id; `history` is every token so far (prompt and answer).
    pub fn next(&mut self, logits: &mut [f32], history: &[u32]) -> u32 {
        let params = self.params;
        if params.repeat_penalty != 1.0
            && params.repeat_penalty.is_finite()
            && params.repeat_penalty > 0.0
        {
            let recent = &history[history.len().saturating_sub(params.repeat_last_n)..];
            let mut seen = std::collections::HashSet::with_capacity(recent.len());
            for &id in recent {
                if !seen.insert(id) {
                    continue;
                }
                if let Some(logit) = logits.get_mut(id as usize) {
                    if *logit >= 0.0 {
                        *logit /= params.repeat_penalty;
                    } else {
                        *logit *= params.repeat_penalty;
                    }
                }
            }
        }
        if !(params.temperature.is_finite() && params.temperature > 0.0) {
            return argmax(logits);
        }
        self.sample_top_p(logits, params.temperature, params.top_p)
    }

    fn sample_top_p(&mut self, logits: &[f32], temperature: f32, top_p: f32) -> u32 {
        let max = logits
            .iter()
            .copied()
            .filter(|l| !l.is_nan())
            .fold(f32::NEG_INFINITY, f32::max);
        if !max.is_finite() {
            return argmax(logits);
        }
        let mut probs: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(id, &l)| {
                (
                    id as u32,
                    if l.is_nan() {
                        0.0
                    } else {
                        ((l - max) / temperature).exp()
                    },
                )
            })
            .filter(|(_, p)| *p > 0.0)
            .collect();
        probs.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let total: f32 = probs.iter().map(|(_, p)| p).sum();
        let top_p = if top_p.is_finite() && top_p > 0.0 {
            top_p.min(1.0)
        } else {
            1.0
        };
        let mut kept = 0usize;
        let mut mass = 0.0f32;
        for (_, p) in &probs {
            kept += 1;
            mass += p;
            if mass >= top_p * total {
                break;
            }
        }
        let nucleus = &probs[..kept.max(1)];
        let nucleus_mass: f32 = nucleus.iter().map(|(_, p)| p).sum();
        let mut target = self.rng.next_f32() * nucleus_mass;
        for &(id, p) in nucleus {
            if target < p {
                return id;
            }
            target -= p;
        }
        nucleus[nucleus.len() - 1].0
    }
}

/// The index of the largest logit (the first on ties; NaN never wins).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    let mut best_value = f32::NEG_INFINITY;
    for (i, &l) in logits.iter().enumerate() {
        if l > best_value {
            best = i;
            best_value = l;
        }
    }
    best as u32
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and fixed by its definition.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32) -> SamplingParams {
        SamplingParams {
            temperature,
            top_p: 0.9,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: 7,
        }
    }

    #[test]
    fn temperature_zero_is_argmax() {
        let mut sampler = Sampler::new(params(0.0));
        let mut logits = vec![0.1, 2.0, f32::NAN, 1.9];
        assert_eq!(sampler.next(&mut logits, &[]), 1);
    }

    #[test]
    fn repetition_penalty_can_change_the_greedy_pick() {
        let mut sampler = Sampler::new(SamplingParams {
            repeat_penalty: 1.5,
            ..params(0.0)
        });
        let mut logits = vec![0.0, 3.0, 2.5];
        assert_eq!(sampler.next(&mut logits, &[1]), 2);
        let mut negative = vec![-1.0, -2.0, -1.2];
        assert_eq!(sampler.next(&mut negative, &[0]), 2);
    }

    #[test]
    fn top_p_keeps_only_the_nucleus() {
        // Token 0 holds ~88% of the mass: with top_p 0.5 it is the whole nucleus.
        let mut sampler = Sampler::new(SamplingParams {
            top_p: 0.5,
            ..params(1.0)
        });
        for _ in 0..200 {
            let mut logits = vec![4.0, 2.0, 1.0, 0.0];
            assert_eq!(sampler.next(&mut logits, &[]), 0);
        }
    }

    #[test]
    fn same_seed_same_tokens_and_sampling_varies() {
        let logits = vec![1.0, 1.1, 0.9, 1.05, 0.95];
        let run = |seed| {
            let mut sampler = Sampler::new(SamplingParams {
                top_p: 1.0,
                seed,
                ..params(1.0)
            });
            (0..50)
                .map(|_| sampler.next(&mut logits.clone(), &[]))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        let picks = run(3);
        for id in 0..5u32 {
            assert!(picks.contains(&id), "token {id} never sampled in {picks:?}");
        }
    }
}
