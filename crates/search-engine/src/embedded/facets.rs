//! A tantivy collector that counts the values of string fast fields (skills, city, degree,
//! status, job family, keywords) over every matching document, not only the page being returned.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::{Facet, FacetCount, FacetField};

pub(crate) fn fast_field_name(field: FacetField) -> &'static str {
    match field {
        FacetField::Skills => "skills",
        FacetField::City => "city",
        FacetField::Degree => "degree",
        FacetField::Status => "status",
        FacetField::JobFamily => "job_family",
        FacetField::Keywords => "keywords",
    }
}

pub(crate) struct FacetCounter {
    pub(crate) fields: Vec<FacetField>,
}

pub(crate) struct SegmentFacetCounter {
    columns: Vec<Option<(StrColumn, Vec<u64>)>>,
}

type ValueCounts = Vec<HashMap<String, u64>>;

impl Collector for FacetCounter {
    type Fruit = Vec<Facet>;
    type Child = SegmentFacetCounter;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentFacetCounter> {
        let mut columns = Vec::with_capacity(self.fields.len());
        for field in &self.fields {
            let column = segment.fast_fields().str(fast_field_name(*field))?;
            columns.push(column.map(|column| {
                let distinct = column.num_terms();
                (column, vec![0u64; distinct])
            }));
        }
        Ok(SegmentFacetCounter { columns })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segment_fruits: Vec<ValueCounts>) -> tantivy::Result<Vec<Facet>> {
        let mut merged: ValueCounts = vec![HashMap::new(); self.fields.len()];
        for fruit in segment_fruits {
            for (total, counts) in merged.iter_mut().zip(fruit) {
                for (value, count) in counts {
                    *total.entry(value).or_insert(0) += count;
                }
            }
        }
        Ok(self
            .fields
            .iter()
            .zip(merged)
            .map(|(field, counts)| {
                let mut values: Vec<FacetCount> = counts
                    .into_iter()
                    .map(|(value, count)| FacetCount { value, count })
                    .collect();
                values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
                Facet {
                    field: *field,
                    values,
                }
            })
            .collect())
    }
}

impl SegmentCollector for SegmentFacetCounter {
    type Fruit = ValueCounts;

    fn collect(&mut self, doc: DocId, _score: Score) {
        for (column, counts) in self.columns.iter_mut().flatten() {
            for ordinal in column.term_ords(doc) {
                if let Some(count) = counts.get_mut(ordinal as usize) {
                    *count += 1;
                }
            }
        }
    }

    fn harvest(self) -> ValueCounts {
        self.columns
            .into_iter()
            .map(|column| {
                let mut values = HashMap::new();
                let Some((column, counts)) = column else {
                    return values;
                };
                let mut text = String::new();
                for (ordinal, count) in counts.into_iter().enumerate() {
                    if count == 0 {
                        continue;
                    }
                    text.clear();
                    if column
                        .ord_to_str(ordinal as u64, &mut text)
                        .unwrap_or(false)
                    {
                        values.insert(text.clone(), count);
                    }
                }
                values
            })
            .collect()
    }
}
