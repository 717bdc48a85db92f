//! Our BM25 term query: tantivy's `TermQuery` with the constants we chose.
//!
//! tantivy scores a term with a hard-coded k1 = 1.2 and offers no setting for it. Every word of
//! a text query (`TextQueryBuilder::term_query`) is scored here instead, with [`K1`] and [`B`],
//! by the textbook formula over tantivy's own statistics, so the scores stay comparable with
//! the phrase queries tantivy scores itself:
//!
//! ```text
//! score(term, doc) = idf · tf · (k1 + 1) / (tf + k1 · (1 − b + b · dl / avgdl))
//! idf             = ln(1 + (N − n + 0.5) / (n + 0.5))
//! ```
//!
//! with `tf` the term's frequency in the document's field, `dl` the field's length in the
//! document as the index records it (tantivy's fieldnorm, exact up to 40 tokens and rounded
//! down beyond), `avgdl` the field's total token count over `N`, `N` the searcher's document
//! count (deleted documents not yet merged away included, as tantivy counts) and `n` the
//! term's document frequency. The statistics come from the searcher or from the statistics
//! provider a caller hands to `EnableScoring`, so a search over several indexes can share them.
//!
//! What is lost against tantivy's `TermQuery`: its block-max WAND, which skips blocks of
//! postings that cannot reach the current top-k when a union holds only tantivy term scorers.
//! A union of these scorers visits every posting (README, "Search quality", for the cost).
//!
//! This module only scores; which words are searched is `text_query`'s business.

use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::{Postings, SegmentPostings};
use tantivy::query::{
    Bm25StatisticsProvider, EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TantivyError, Term};

/// BM25's term-frequency saturation. 1.5 rather than tantivy's 1.2: a second and third
/// occurrence of a word count a little more. Chosen on the dev splits of CISI and Cranfield
/// (k1 1.0, 1.2, 1.5, 1.8, 2.0 tried; 1.5 is also what the reference BM25 in
/// `tests/fixtures/search-public/REFERENCE.md` uses).
pub(crate) const K1: Score = 1.5;
/// BM25's length normalisation: how much a long field's matches are discounted. The usual
/// 0.75 (tantivy's, Lucene's and the reference's); not tuned.
pub(crate) const B: Score = 0.75;

/// One term in one field, scored by BM25 with [`K1`] and [`B`]. Matches the documents whose
/// field holds the term, as tantivy's `TermQuery` does.
#[derive(Clone, Debug)]
pub(crate) struct Bm25TermQuery {
    term: Term,
}

impl Bm25TermQuery {
    pub(crate) fn new(term: Term) -> Bm25TermQuery {
        Bm25TermQuery { term }
    }
}

impl Query for Bm25TermQuery {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let statistics = match enable_scoring {
            EnableScoring::Enabled {
                statistics_provider,
                ..
            } => Some(TermStatistics::read(statistics_provider, &self.term)?),
            EnableScoring::Disabled { .. } => None,
        };
        Ok(Box::new(Bm25TermWeight {
            term: self.term.clone(),
            statistics,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        // Highlighting reads the terms through this; `false`: positions are not needed.
        visitor(&self.term, false);
    }
}

/// What BM25 needs to know about the whole index for one term.
#[derive(Clone, Copy, Debug, PartialEq)]
struct TermStatistics {
    /// `N`: documents in the index.
    documents: u64,
    /// `n`: documents whose field holds the term.
    documents_with_term: u64,
    /// `avgdl`: tokens of the field per document.
    average_length: Score,
}

impl TermStatistics {
    fn read(provider: &dyn Bm25StatisticsProvider, term: &Term) -> tantivy::Result<Self> {
        let documents = provider.total_num_docs()?;
        let tokens = provider.total_num_tokens(term.field())?;
        let documents_with_term = provider.doc_freq(term)?.min(documents);
        let average_length = if documents == 0 {
            1.0
        } else {
            (tokens as Score / documents as Score).max(Score::MIN_POSITIVE)
        };
        Ok(TermStatistics {
            documents,
            documents_with_term,
            average_length,
        })
    }

    /// Rarer terms weigh more; never negative (unlike the original Robertson–Spärck Jones idf).
    fn idf(&self) -> Score {
        let (total, with_term) = (self.documents as Score, self.documents_with_term as Score);
        (1.0 + (total - with_term + 0.5) / (with_term + 0.5)).ln()
    }
}

/// The BM25 score of a term occurring `term_frequency` times in a field of `length` tokens,
/// its weight `idf · boost` computed once per query.
fn bm25(weight: Score, term_frequency: u32, length: u32, average_length: Score) -> Score {
    let tf = term_frequency as Score;
    let length_norm = 1.0 - B + B * length as Score / average_length;
    weight * tf * (K1 + 1.0) / (tf + K1 * length_norm)
}

struct Bm25TermWeight {
    term: Term,
    /// `None` when the caller does not need scores (counting, filtering).
    statistics: Option<TermStatistics>,
}

impl Bm25TermWeight {
    /// The term's postings in `reader` with what scoring them needs, or `None` when the segment
    /// does not hold the term.
    fn term_scorer(
        &self,
        reader: &SegmentReader,
        boost: Score,
    ) -> tantivy::Result<Option<Bm25TermScorer>> {
        let inverted_index = reader.inverted_index(self.term.field())?;
        let Some(term_info) = inverted_index.get_term_info(&self.term)? else {
            return Ok(None);
        };
        let (postings, lengths, weight, average_length) = match &self.statistics {
            Some(statistics) => (
                inverted_index
                    .read_postings_from_terminfo(&term_info, IndexRecordOption::WithFreqs)?,
                reader.get_fieldnorms_reader(self.term.field())?,
                statistics.idf() * boost,
                statistics.average_length,
            ),
            None => (
                inverted_index.read_postings_from_terminfo(&term_info, IndexRecordOption::Basic)?,
                FieldNormReader::constant(reader.max_doc(), 1),
                0.0,
                1.0,
            ),
        };
        Ok(Some(Bm25TermScorer {
            postings,
            lengths,
            weight,
            average_length,
        }))
    }
}

impl Weight for Bm25TermWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(match self.term_scorer(reader, boost)? {
            Some(scorer) => Box::new(scorer),
            None => Box::new(EmptyScorer),
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let does_not_match = || {
            TantivyError::InvalidArgument(format!(
                "document {doc} does not match the term {:?}",
                self.term
            ))
        };
        let Some(mut scorer) = self.term_scorer(reader, 1.0)? else {
            return Err(does_not_match());
        };
        if scorer.doc() > doc || scorer.seek(doc) != doc {
            return Err(does_not_match());
        }
        let Some(statistics) = self.statistics else {
            return Ok(Explanation::new("matches (scoring disabled)", 0.0));
        };
        let term_frequency = scorer.postings.term_freq();
        let length = scorer.lengths.fieldnorm(doc);
        let mut explanation = Explanation::new_with_string(
            format!(
                "BM25 of {:?}: idf · tf · (k1 + 1) / (tf + k1 · (1 − b + b · dl / avgdl))",
                self.term
            ),
            scorer.score(),
        );
        let mut idf = Explanation::new("idf = ln(1 + (N − n + 0.5) / (n + 0.5))", statistics.idf());
        idf.add_const("N, documents", statistics.documents as Score);
        idf.add_const(
            "n, documents with the term",
            statistics.documents_with_term as Score,
        );
        explanation.add_detail(idf);
        explanation.add_const("tf, occurrences in the document", term_frequency as Score);
        explanation.add_const("dl, field length (as indexed)", length as Score);
        explanation.add_const("avgdl, average field length", statistics.average_length);
        explanation.add_const("k1", K1);
        explanation.add_const("b", B);
        Ok(explanation)
    }
}

struct Bm25TermScorer {
    postings: SegmentPostings,
    lengths: FieldNormReader,
    /// `idf · boost`.
    weight: Score,
    average_length: Score,
}

impl DocSet for Bm25TermScorer {
    fn advance(&mut self) -> DocId {
        self.postings.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.postings.seek(target)
    }

    fn doc(&self) -> DocId {
        self.postings.doc()
    }

    fn size_hint(&self) -> u32 {
        self.postings.size_hint()
    }
}

impl Scorer for Bm25TermScorer {
    fn score(&mut self) -> Score {
        let doc = self.postings.doc();
        bm25(
            self.weight,
            self.postings.term_freq(),
            self.lengths.fieldnorm(doc),
            self.average_length,
        )
    }
}

#[cfg(test)]
mod tests {
    use tantivy::collector::TopDocs;
    use tantivy::query::Query;
    use tantivy::schema::{Schema, TEXT};
    use tantivy::{DocAddress, Index, IndexWriter, Score, TantivyDocument, Term};

    use super::{B, Bm25TermQuery, K1};

    /// An index of `texts` in one field `body` (tantivy's default tokenizer), one segment.
    fn index_of(texts: &[&str]) -> (Index, tantivy::schema::Field) {
        let mut schema = Schema::builder();
        let body = schema.add_text_field("body", TEXT);
        let index = Index::create_in_ram(schema.build());
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 20_000_000).unwrap();
        for text in texts {
            let mut doc = TantivyDocument::default();
            doc.add_text(body, text);
            writer.add_document(doc).unwrap();
        }
        writer.commit().unwrap();
        (index, body)
    }

    fn scores(texts: &[&str], word: &str) -> Vec<(DocAddress, Score)> {
        let (index, body) = index_of(texts);
        let searcher = index.reader().unwrap().searcher();
        let query = Bm25TermQuery::new(Term::from_field_text(body, word));
        let mut top = searcher
            .search(&query, &TopDocs::with_limit(10).order_by_score())
            .unwrap()
            .into_iter()
            .map(|(score, address)| (address, score))
            .collect::<Vec<_>>();
        top.sort_by_key(|(address, _)| address.doc_id);
        top
    }

    #[test]
    fn scores_the_formula_with_k1_and_b() {
        // Lengths 4, 2, 3 (9 tokens over 3 documents: avgdl 3); "data" in two of them.
        let found = scores(
            &["data data data model", "data base", "query plan x"],
            "data",
        );
        assert_eq!(found.len(), 2);
        let idf = (1.0f32 + (3.0 - 2.0 + 0.5) / (2.0 + 0.5)).ln();
        let by_hand =
            |tf: f32, dl: f32| idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * dl / 3.0));
        assert!((found[0].1 - by_hand(3.0, 4.0)).abs() < 1e-5, "{found:?}");
        assert!((found[1].1 - by_hand(1.0, 2.0)).abs() < 1e-5, "{found:?}");
        // With k1 1.5: idf = ln(1.6) = 0.470004; 3 · 2.5 / (3 + 1.5 · 1.25) = 1.538462.
        assert!((found[0].1 - 0.723083).abs() < 1e-4, "{found:?}");
    }

    #[test]
    fn more_occurrences_and_shorter_fields_rank_higher() {
        let more = scores(
            &["data data other", "data other other", "unrelated"],
            "data",
        );
        assert!(more[0].1 > more[1].1, "{more:?}");
        let shorter = scores(&["data x", "data x y z w v", "unrelated"], "data");
        assert!(shorter[0].1 > shorter[1].1, "{shorter:?}");
        // k1 1.5 lets a term's frequency count for more than tantivy's 1.2 does.
        let (index, body) = index_of(&["data data data other", "data other", "x y", "z w"]);
        let searcher = index.reader().unwrap().searcher();
        let term = Term::from_field_text(body, "data");
        let ours = scores(
            &["data data data other", "data other", "x y", "z w"],
            "data",
        );
        let theirs = searcher
            .search(
                &tantivy::query::TermQuery::new(
                    term,
                    tantivy::schema::IndexRecordOption::WithFreqs,
                ),
                &TopDocs::with_limit(10).order_by_score(),
            )
            .unwrap();
        let their_ratio = theirs[0].0 / theirs[1].0;
        assert!(ours[0].1 / ours[1].1 > their_ratio, "{ours:?} {theirs:?}");
    }

    #[test]
    fn explains_its_score_and_counts_without_scoring() {
        let (index, body) = index_of(&["data data model", "model", "data"]);
        let searcher = index.reader().unwrap().searcher();
        let query = Bm25TermQuery::new(Term::from_field_text(body, "data"));
        let top = searcher
            .search(&query, &TopDocs::with_limit(10).order_by_score())
            .unwrap();
        let (score, address) = top[0];
        let explanation = query.explain(&searcher, address).unwrap();
        assert!((explanation.value() - score).abs() < 1e-6);
        assert!(explanation.to_pretty_json().contains("k1"));
        assert!(query.explain(&searcher, DocAddress::new(0, 1)).is_err());
        assert_eq!(query.count(&searcher).unwrap(), 2);
    }
}
