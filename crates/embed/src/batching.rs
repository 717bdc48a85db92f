//! Splitting a request into model-sized batches and putting the answers back in order.
//!
//! Batches pad every text to the longest one in the batch, so texts are grouped by length
//! (longest first, as sentence-transformers does) before they are cut into batches.

use crate::EmbedError;

/// Indices into the caller's texts, one list per batch of at most `max_batch` texts.
pub(crate) fn plan_batches<T: AsRef<str>>(texts: &[T], max_batch: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    // Stable sort: equal lengths keep the caller's order, which keeps results reproducible.
    order.sort_by_key(|&index| std::cmp::Reverse(texts[index].as_ref().len()));
    order
        .chunks(max_batch.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

/// Collects the vectors of every batch into the caller's order.
pub(crate) struct BatchAssembler {
    slots: Vec<Option<Vec<f32>>>,
}

impl BatchAssembler {
    pub(crate) fn new(text_count: usize) -> Self {
        Self {
            slots: vec![None; text_count],
        }
    }

    /// Stores the vectors an embedder returned for the texts at `indices`.
    pub(crate) fn accept(
        &mut self,
        indices: &[usize],
        vectors: Vec<Vec<f32>>,
    ) -> Result<(), EmbedError> {
        if vectors.len() != indices.len() {
            return Err(EmbedError::Inference(format!(
                "embedder returned {} vectors for {} texts",
                vectors.len(),
                indices.len()
            )));
        }
        for (&index, vector) in indices.iter().zip(vectors) {
            self.slots[index] = Some(vector);
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.slots
            .into_iter()
            .map(|slot| {
                slot.ok_or_else(|| {
                    EmbedError::Inference("a text was left out of every batch".to_owned())
                })
            })
            .collect()
    }
}

/// Runs `embed_batch` over length-grouped batches and returns vectors in the order of `texts`.
pub(crate) fn embed_in_batches(
    texts: &[&str],
    max_batch: usize,
    mut embed_batch: impl FnMut(&[&str]) -> Result<Vec<Vec<f32>>, EmbedError>,
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let mut assembler = BatchAssembler::new(texts.len());
    for indices in plan_batches(texts, max_batch) {
        let batch: Vec<&str> = indices.iter().map(|&index| texts[index]).collect();
        assembler.accept(&indices, embed_batch(&batch)?)?;
    }
    assembler.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_the_limit_and_group_long_texts_first() {
        let texts = ["a", "ccc", "bb", "dddd", "e"];
        let plan = plan_batches(&texts, 2);
        assert_eq!(plan, vec![vec![3, 1], vec![2, 0], vec![4]]);
    }

    #[test]
    fn a_zero_limit_still_makes_progress() {
        let plan = plan_batches(&["x", "y"], 0);
        assert_eq!(plan, vec![vec![0], vec![1]]);
    }

    #[test]
    fn vectors_come_back_in_the_callers_order() {
        let texts = ["one", "three", "to"];
        let vectors = embed_in_batches(&texts, 2, |batch| {
            Ok(batch.iter().map(|text| vec![text.len() as f32]).collect())
        })
        .expect("fake embedder never fails");
        assert_eq!(vectors, vec![vec![3.0], vec![5.0], vec![2.0]]);
    }

    #[test]
    fn a_short_answer_from_the_embedder_is_an_error() {
        let result = embed_in_batches(&["a", "b"], 2, |_| Ok(vec![vec![1.0]]));
        assert!(matches!(result, Err(EmbedError::Inference(_))));
    }
}
