//! Reciprocal rank fusion: each list contributes `1 / (k + rank)` for every document it ranks,
//! so a document both lists like rises above one that only one list likes, and raw scores of
//! different scales (BM25, cosine) never have to be compared.

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

/// Fuses a text ranking and a vector ranking (each best first): a document scores
/// `1/(k + text rank) + vector_weight/(k + vector rank)`. Ties are broken by the better
/// single-list rank, then by id, so the order is deterministic.
pub fn reciprocal_rank_fusion(
    text: &[Ranked],
    vector: &[Ranked],
    k: f64,
    vector_weight: f64,
) -> Vec<Fused> {
    let mut fused: Vec<Fused> = Vec::with_capacity(text.len() + vector.len());
    let mut position: HashMap<&str, usize> = HashMap::new();
    for (index, hit) in text.iter().enumerate() {
        if position.contains_key(hit.id.as_str()) {
            continue;
        }
        position.insert(&hit.id, fused.len());
        fused.push(Fused {
            id: hit.id.clone(),
            score: 1.0 / (k + (index + 1) as f64),
            text_rank: Some(index + 1),
            text_score: Some(hit.score),
            vector_rank: None,
            vector_score: None,
        });
    }
    for (index, hit) in vector.iter().enumerate() {
        let contribution = vector_weight / (k + (index + 1) as f64);
        match position.get(hit.id.as_str()) {
            Some(&at) => {
                let entry = &mut fused[at];
                if entry.vector_rank.is_none() {
                    entry.score += contribution;
                    entry.vector_rank = Some(index + 1);
                    entry.vector_score = Some(hit.score);
                }
            }
            None => {
                position.insert(&hit.id, fused.len());
                fused.push(Fused {
                    id: hit.id.clone(),
                    score: contribution,
                    text_rank: None,
                    text_score: None,
                    vector_rank: Some(index + 1),
                    vector_score: Some(hit.score),
                });
            }
        }
    }
    fused.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.best_rank().cmp(&b.best_rank()))
            .then_with(|| a.id.cmp(&b.id))
    });
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
