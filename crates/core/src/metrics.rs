//! Ranking quality measures shared by the `looma eval` commands.

use std::collections::HashMap;

/// Normalized discounted cumulative gain at `k`: gains `2^grade - 1` discounted by
/// `log2(rank + 1)`, divided by the ideal ordering's. 0 when nothing is relevant.
pub fn ndcg_at<S: AsRef<str>>(ranked: &[S], relevant: &HashMap<String, u8>, k: usize) -> f64 {
    let gain = |grade: u8| f64::from((1u32 << grade.min(8)) - 1);
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, id)| {
            gain(relevant.get(id.as_ref()).copied().unwrap_or(0)) / ((i + 2) as f64).log2()
        })
        .sum();
    let mut grades: Vec<u8> = relevant.values().copied().collect();
    grades.sort_unstable_by(|a, b| b.cmp(a));
    let ideal: f64 = grades
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, grade)| gain(*grade) / ((i + 2) as f64).log2())
        .sum();
    if ideal == 0.0 { 0.0 } else { dcg / ideal }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndcg_is_one_for_the_ideal_order_and_lower_otherwise() {
        let relevant: HashMap<String, u8> = [("a".to_owned(), 3), ("b".to_owned(), 1)]
            .into_iter()
            .collect();
        assert!((ndcg_at(&["a", "b", "x"], &relevant, 10) - 1.0).abs() < 1e-12);
        let swapped = ndcg_at(&["b", "a"], &relevant, 10);
        // DCG = 1/1 + 7/log2(3); IDCG = 7 + 1/log2(3).
        let expected = (1.0 + 7.0 / 3f64.log2()) / (7.0 + 1.0 / 3f64.log2());
        assert!((swapped - expected).abs() < 1e-12, "{swapped}");
        assert_eq!(ndcg_at(&["x", "y"], &relevant, 10), 0.0);
        assert_eq!(ndcg_at(&["a"], &HashMap::new(), 10), 0.0);
        // Beyond the cutoff nothing counts.
        let late: Vec<String> = (0..10)
            .map(|i| format!("n{i}"))
            .chain(["a".to_owned()])
            .collect();
        assert_eq!(ndcg_at(&late, &relevant, 10), 0.0);
    }
}
