//! How hybrid search merges its text (BM25) and vector (cosine) rankings. Two rules:
//!
//! - **Score fusion** (the default): each list's scores are standardised over that list
//!   (z-scores: minus the list's mean, over its standard deviation), so BM25's open scale and
//!   the embedding's narrow band of cosines become comparable; a document gets
//!   `(z_text + w · z_vector) / (1 + w)`, and a list that did not return it counts as its
//!   lowest z-score. Unlike ranks, scores keep how far ahead a list's leader is: a question
//!   that shares a rare phrase with one passage keeps that passage on top even when the
//!   embedding prefers another by a hair. Chosen over RRF and min-max on the dev splits of the
//!   public sets (README, "Search quality").
//! - **Reciprocal rank fusion**: each list contributes `w / (k + rank)`; only ranks count.

use std::collections::HashMap;

use looma_taxonomy::cjk_ideograph_share;

/// One input list's entry: a document id and the score that list gave it.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    pub id: String,
    pub score: f32,
}

/// A fused result with where it came from. Ranks are 1-based.
#[derive(Clone, Debug, PartialEq)]
pub struct Fused {
    pub id: String,
    pub score: f64,
    pub text_rank: Option<usize>,
    pub text_score: Option<f32>,
    pub vector_rank: Option<usize>,
    pub vector_score: Option<f32>,
}

impl Fused {
    fn best_rank(&self) -> usize {
        self.text_rank
            .into_iter()
            .chain(self.vector_rank)
            .min()
            .unwrap_or(usize::MAX)
    }
}

/// Which rule [`fuse`] applies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fusion {
    /// Standardised scores, combined with the vector weight.
    Scores,
    /// Reciprocal ranks with this k.
    Rrf { k: f64 },
}

/// Fuses a text ranking and a vector ranking (each best first) by `fusion`, the vector list
/// weighted `vector_weight` against the text list's 1.
pub fn fuse(text: &[Ranked], vector: &[Ranked], fusion: Fusion, vector_weight: f64) -> Vec<Fused> {
    match fusion {
        Fusion::Scores => score_fusion(text, vector, vector_weight),
        Fusion::Rrf { k } => reciprocal_rank_fusion(text, vector, k, vector_weight),
    }
}

/// Every listed document's z-score within its list (first listing of an id only), and the
/// lowest of them: what an unlisted document counts as. A list whose scores are all equal
/// gives every document 0.
fn standardised(list: &[Ranked]) -> (HashMap<&str, f64>, f64) {
    let mut seen: HashMap<&str, f64> = HashMap::with_capacity(list.len());
    for hit in list {
        seen.entry(hit.id.as_str()).or_insert(f64::from(hit.score));
    }
    if seen.is_empty() {
        return (seen, 0.0);
    }
    let n = seen.len() as f64;
    let mean = seen.values().sum::<f64>() / n;
    let deviation = (seen.values().map(|s| (s - mean).powi(2)).sum::<f64>() / n).sqrt();
    let mut lowest = f64::INFINITY;
    for score in seen.values_mut() {
        *score = if deviation > 0.0 {
            (*score - mean) / deviation
        } else {
            0.0
        };
        lowest = lowest.min(*score);
    }
    (seen, lowest)
}

/// Score fusion (module docs): `(z_text + w · z_vector) / (1 + w)`.
pub fn score_fusion(text: &[Ranked], vector: &[Ranked], vector_weight: f64) -> Vec<Fused> {
    let (text_z, text_floor) = standardised(text);
    let (vector_z, vector_floor) = standardised(vector);
    // Ranks and raw scores as the lists gave them, for the hit's provenance.
    let mut fused = merged(text, vector);
    for entry in &mut fused {
        let t = text_z.get(entry.id.as_str()).copied().unwrap_or(text_floor);
        let v = vector_z
            .get(entry.id.as_str())
            .copied()
            .unwrap_or(vector_floor);
        entry.score = (t + vector_weight * v) / (1.0 + vector_weight);
    }
    sort_fused(&mut fused);
    fused
}

/// One entry per document either list holds (its first listing in each), score 0.
fn merged(text: &[Ranked], vector: &[Ranked]) -> Vec<Fused> {
    let mut fused: Vec<Fused> = Vec::with_capacity(text.len() + vector.len());
    let mut position: HashMap<&str, usize> = HashMap::new();
    for (index, hit) in text.iter().enumerate() {
        if position.contains_key(hit.id.as_str()) {
            continue;
        }
        position.insert(&hit.id, fused.len());
        fused.push(Fused {
            id: hit.id.clone(),
            score: 0.0,
            text_rank: Some(index + 1),
            text_score: Some(hit.score),
            vector_rank: None,
            vector_score: None,
        });
    }
    for (index, hit) in vector.iter().enumerate() {
        match position.get(hit.id.as_str()) {
            Some(&at) => {
                let entry = &mut fused[at];
                if entry.vector_rank.is_none() {
                    entry.vector_rank = Some(index + 1);
                    entry.vector_score = Some(hit.score);
                }
            }
            None => {
                position.insert(&hit.id, fused.len());
                fused.push(Fused {
                    id: hit.id.clone(),
                    score: 0.0,
                    text_rank: None,
                    text_score: None,
                    vector_rank: Some(index + 1),
                    vector_score: Some(hit.score),
                });
            }
        }
    }
    fused
}

/// Best score first; ties by the better single-list rank, then by id (deterministic).
fn sort_fused(fused: &mut [Fused]) {
    fused.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.best_rank().cmp(&b.best_rank()))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// Fuses a text ranking and a vector ranking (each best first): a document scores
/// `1/(k + text rank) + vector_weight/(k + vector rank)`. Ties are broken by the better
/// single-list rank, then by id, so the order is deterministic.
pub fn reciprocal_rank_fusion(
    text: &[Ranked],
    vector: &[Ranked],
    k: f64,
    vector_weight: f64,
) -> Vec<Fused> {
    let mut fused = merged(text, vector);
    for entry in &mut fused {
        let reciprocal = |rank: Option<usize>| rank.map_or(0.0, |r| 1.0 / (k + r as f64));
        entry.score = reciprocal(entry.text_rank) + vector_weight * reciprocal(entry.vector_rank);
    }
    sort_fused(&mut fused);
    fused
}

/// The vector list's weight for a query: `english` for Latin-script queries, sliding to
/// `chinese` as the share of Chinese characters grows (the embedding model reads English far
/// better than Chinese). Kana and hangul count as non-Chinese letters.
pub fn vector_weight_for(query: &str, english: f64, chinese: f64) -> f64 {
    let share = cjk_ideograph_share(query);
    english + (chinese - english) * share
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ids: &[&str]) -> Vec<Ranked> {
        ids.iter()
            .enumerate()
            .map(|(i, id)| Ranked {
                id: (*id).to_owned(),
                score: 10.0 - i as f32,
            })
            .collect()
    }

    #[test]
    fn a_document_both_lists_rank_beats_single_list_leaders() {
        let fused =
            reciprocal_rank_fusion(&list(&["a", "b", "c"]), &list(&["d", "c", "a"]), 60.0, 1.0);
        let ids: Vec<&str> = fused.iter().map(|f| f.id.as_str()).collect();
        // a: 1/61 + 1/63, c: 1/63 + 1/62, d: 1/61, b: 1/62
        assert_eq!(ids, ["a", "c", "d", "b"]);
        let a = &fused[0];
        assert_eq!((a.text_rank, a.vector_rank), (Some(1), Some(3)));
        assert_eq!((a.text_score, a.vector_score), (Some(10.0), Some(8.0)));
        assert!((a.score - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-12);
        let d = &fused[2];
        assert_eq!((d.text_rank, d.vector_rank), (None, Some(1)));
    }

    #[test]
    fn ties_prefer_the_better_single_rank_then_the_id() {
        // x is text #1 only, y is vector #1 only: equal scores, equal best rank → by id.
        let fused = reciprocal_rank_fusion(&list(&["y"]), &list(&["x"]), 60.0, 1.0);
        assert_eq!(fused[0].id, "x");
        assert_eq!(fused[0].score, fused[1].score);
    }

    #[test]
    fn empty_and_duplicate_inputs() {
        assert!(reciprocal_rank_fusion(&[], &[], 60.0, 1.0).is_empty());
        let fused = reciprocal_rank_fusion(&list(&["a", "a"]), &[], 60.0, 1.0);
        assert_eq!(fused.len(), 1);
        assert_eq!(fused[0].text_rank, Some(1));
    }

    fn scored(pairs: &[(&str, f32)]) -> Vec<Ranked> {
        pairs
            .iter()
            .map(|(id, score)| Ranked {
                id: (*id).to_owned(),
                score: *score,
            })
            .collect()
    }

    #[test]
    fn score_fusion_keeps_a_clear_text_leader_that_rrf_gives_away() {
        // The text search is sure (one passage far ahead); the embedding barely prefers
        // another passage.
        let text = scored(&[("a", 30.0), ("b", 9.0), ("c", 8.0), ("d", 7.5)]);
        let vector = scored(&[("b", 0.86), ("a", 0.85), ("c", 0.80), ("d", 0.79)]);
        assert_eq!(score_fusion(&text, &vector, 1.0)[0].id, "a");
        // Ranks alone tie a (1st, 2nd) with b (2nd, 1st), and the tie goes to the id, not to
        // the evidence; with a heavier vector list b wins outright.
        assert_eq!(reciprocal_rank_fusion(&text, &vector, 60.0, 1.5)[0].id, "b");
        assert_eq!(score_fusion(&text, &vector, 1.5)[0].id, "a");
    }

    #[test]
    fn score_fusion_counts_an_unlisted_document_as_the_lists_lowest() {
        let text = scored(&[("a", 3.0), ("b", 2.0), ("c", 1.0)]);
        let vector = scored(&[("c", 0.9), ("x", 0.5), ("y", 0.1)]);
        let fused = score_fusion(&text, &vector, 1.0);
        let score = |id: &str| fused.iter().find(|f| f.id == id).unwrap().score;
        // z-scores of 3, 2, 1 are √1.5 · (1, 0, -1); of 0.9, 0.5, 0.1 the same.
        let z = 1.5f64.sqrt();
        assert!(
            (score("a") - (z - z) / 2.0).abs() < 1e-6,
            "a is not in the vector list"
        );
        assert!((score("c") - (-z + z) / 2.0).abs() < 1e-6);
        assert!((score("y") - (-z - z) / 2.0).abs() < 1e-6);
        assert_eq!(fused.len(), 5);
        let c = fused.iter().find(|f| f.id == "c").unwrap();
        assert_eq!((c.text_rank, c.vector_rank), (Some(3), Some(1)));
        assert_eq!((c.text_score, c.vector_score), (Some(1.0), Some(0.9)));
    }

    #[test]
    fn score_fusion_with_weight_zero_is_the_text_order_and_handles_flat_lists() {
        let text = scored(&[("a", 5.0), ("b", 4.0), ("c", 1.0)]);
        let vector = scored(&[("c", 0.9), ("z", 0.8)]);
        let ids: Vec<String> = score_fusion(&text, &vector, 0.0)
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(ids[..3], ["a", "b", "c"]);
        // Equal scores carry no information: every listed document gets 0, nothing is NaN.
        let flat = score_fusion(&scored(&[("a", 2.0), ("b", 2.0)]), &[], 1.0);
        assert!(flat.iter().all(|f| f.score == 0.0));
        assert!(score_fusion(&[], &[], 1.0).is_empty());
        let one = score_fusion(&scored(&[("a", 2.0), ("a", 1.0)]), &[], 1.0);
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn fuse_applies_the_rule_it_is_given() {
        let text = scored(&[("a", 30.0), ("b", 9.0), ("c", 8.0)]);
        let vector = scored(&[("b", 0.86), ("a", 0.85), ("c", 0.1)]);
        assert_eq!(
            fuse(&text, &vector, Fusion::Scores, 1.0),
            score_fusion(&text, &vector, 1.0)
        );
        assert_eq!(
            fuse(&text, &vector, Fusion::Rrf { k: 60.0 }, 1.0),
            reciprocal_rank_fusion(&text, &vector, 60.0, 1.0)
        );
    }

    #[test]
    fn weights_follow_the_query_script() {
        assert_eq!(vector_weight_for("kubernetes", 1.0, 0.2), 1.0);
        assert!((vector_weight_for("运维", 1.0, 0.2) - 0.2).abs() < 1e-12);
        assert!((vector_weight_for("Go 后端", 1.0, 0.2) - 0.6).abs() < 1e-12);
    }

    #[test]
    fn the_vector_weight_scales_the_vector_list() {
        let text = list(&["a"]);
        let vector = list(&["b"]);
        assert_eq!(reciprocal_rank_fusion(&text, &vector, 60.0, 0.5)[0].id, "a");
        assert_eq!(reciprocal_rank_fusion(&text, &vector, 60.0, 2.0)[0].id, "b");
        let fused = reciprocal_rank_fusion(&text, &vector, 60.0, 0.0);
        assert_eq!(fused[1].score, 0.0);
    }

    #[test]
    fn smaller_k_favours_top_ranks_larger_k_favours_agreement() {
        let text = list(&["a", "m1", "m2", "b"]);
        let vector = list(&["c", "n1", "n2", "b"]);
        // k=1: a = 1/2 beats b = 1/5 + 1/5; k=60: b = 2/64 beats a = 1/61.
        assert_eq!(reciprocal_rank_fusion(&text, &vector, 1.0, 1.0)[0].id, "a");
        assert_eq!(reciprocal_rank_fusion(&text, &vector, 60.0, 1.0)[0].id, "b");
    }
}
