//! XLM-RoBERTa's SentencePiece unigram tokenizer, from the tables in the model file:
//! per-code-point normalisation, runs of spaces collapsed, spaces written as the metaspace
//! `▁` (one prepended unless the text starts with a space), then the most probable
//! segmentation into pieces (Viterbi over piece log-probabilities). A character no piece
//! covers becomes `<unk>`, scored ten below the least likely piece.

use std::collections::HashMap;

use super::file::Vocabulary;

const METASPACE: char = '\u{2581}';

pub(crate) struct Tokenizer {
    ids: HashMap<Box<[u8]>, u32>,
    scores: Vec<f32>,
    normalisation: HashMap<char, Vec<char>>,
    unk: u32,
    unk_score: f32,
    longest_piece: usize,
    pub bos: u32,
    pub eos: u32,
}

impl Tokenizer {
    pub fn new(vocabulary: Vocabulary) -> Tokenizer {
        let Vocabulary {
            pieces,
            scores,
            bos,
            eos,
            unk,
            normalisation,
        } = vocabulary;
        let lowest = scores.iter().copied().fold(f32::INFINITY, f32::min);
        let longest_piece = pieces.iter().map(|piece| piece.len()).max().unwrap_or(1);
        let mut ids = HashMap::with_capacity(pieces.len());
        for (id, piece) in pieces.into_iter().enumerate() {
            if !piece.is_empty() {
                // The first of two identical pieces wins, as a lookup in file order finds it.
                ids.entry(piece).or_insert(id as u32);
            }
        }
        Tokenizer {
            ids,
            scores,
            normalisation,
            unk,
            unk_score: lowest - 10.0,
            longest_piece: longest_piece.max(1),
            bos,
            eos,
        }
    }

    /// The piece ids of `text`, without `<s>` and `</s>`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let normalised = self.normalise(text);
        // The text as bytes, and where each character starts in them.
        let mut bytes = Vec::with_capacity(normalised.len() * 3 + 3);
        let mut starts = Vec::with_capacity(normalised.len() + 2);
        if normalised.first() != Some(&' ') {
            starts.push(0);
            push_char(&mut bytes, METASPACE);
        }
        for &c in &normalised {
            starts.push(bytes.len());
            push_char(&mut bytes, if c == ' ' { METASPACE } else { c });
        }
        let chars = starts.len();
        starts.push(bytes.len());

        // best[i]: score of the best segmentation of the first i characters.
        let mut best = vec![f32::NEG_INFINITY; chars + 1];
        let mut last_piece = vec![self.unk; chars + 1];
        let mut came_from = vec![0usize; chars + 1];
        best[0] = 0.0;
        for start in 0..chars {
            if best[start] == f32::NEG_INFINITY {
                continue;
            }
            let from = starts[start];
            for end in start + 1..=chars {
                let length = starts[end] - from;
                if length > self.longest_piece {
                    break;
                }
                if let Some(&id) = self.ids.get(&bytes[from..starts[end]])
                    && id != self.unk
                {
                    let score = best[start] + self.scores[id as usize];
                    if score > best[end] {
                        best[end] = score;
                        last_piece[end] = id;
                        came_from[end] = start;
                    }
                }
            }
            let unknown = best[start] + self.unk_score;
            if unknown > best[start + 1] {
                best[start + 1] = unknown;
                last_piece[start + 1] = self.unk;
                came_from[start + 1] = start;
            }
        }
        let mut ids = Vec::new();
        let mut at = chars;
        while at > 0 {
            ids.push(last_piece[at]);
            at = came_from[at];
        }
        ids.reverse();
        ids
    }

    /// Code points mapped through the normalisation table, runs of spaces made one.
    fn normalise(&self, text: &str) -> Vec<char> {
        let mut out: Vec<char> = Vec::with_capacity(text.len());
        for c in text.chars() {
            let mapped = self.normalisation.get(&c);
            for &m in mapped.map_or(std::slice::from_ref(&c), Vec::as_slice) {
                if m == ' ' && out.last() == Some(&' ') {
                    continue;
                }
                out.push(m);
            }
        }
        out
    }
}

fn push_char(bytes: &mut Vec<u8>, c: char) {
    let mut buffer = [0; 4];
    bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer(pieces: &[(&str, f32)]) -> Tokenizer {
        let mut all = vec![("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)];
        all.extend_from_slice(pieces);
        Tokenizer::new(Vocabulary {
            pieces: all.iter().map(|(p, _)| Box::from(p.as_bytes())).collect(),
            scores: all.iter().map(|(_, s)| *s).collect(),
            bos: 0,
            eos: 2,
            unk: 3,
            normalisation: HashMap::from([('Ａ', vec!['A']), ('\u{1}', vec![])]),
        })
    }

    #[test]
    fn the_most_probable_segmentation_wins() {
        let t = tokenizer(&[
            ("▁ab", -1.0),
            ("▁a", -1.0),
            ("b", -1.0),
            ("c", -5.0),
            ("▁", -2.0),
        ]);
        // ▁ab (−1) beats ▁a + b (−2); c follows.
        assert_eq!(t.encode("abc"), [4, 7]);
    }

    #[test]
    fn spaces_collapse_and_become_metaspaces_and_unknowns_are_single_characters() {
        let t = tokenizer(&[("▁a", -1.0), ("▁", -2.0), ("b", -1.0)]);
        // "a   \u{1}xb": control removed, spaces collapsed, x unknown.
        assert_eq!(t.encode("a   \u{1}xb"), [4, 5, 3, 6]);
        // A leading space is the metaspace itself: no second one is prepended.
        assert_eq!(t.encode(" Ａ"), [5, 3]);
    }
}
