//! Turns a user's query string and [`Filters`] into tantivy queries.
//!
//! The syntax is parsed by tantivy's query grammar (words, `"phrases"`, `+must`, `-mustnot`,
//! `AND`/`OR`/`NOT`, parentheses, `field:word` for title/content/name/skills), but the leaves
//! are built here so that the bilingual analyzer, field boosts and the fuzzy rules of
//! [`TextQuery::fuzzy`](crate::TextQuery::fuzzy) apply the same way everywhere. Words are
//! scored by our own BM25 term query ([`Bm25TermQuery`], for its k1); phrases by tantivy's.
//!
//! A query is read as plain text first ([`plain_reading`]): only what is clearly an operator
//! stays one — `+word`/`-word` attached at the start of a word, `"quotes"`, `AND`/`OR`/`NOT`,
//! parentheses and `field:word` for the known fields. The rest of tantivy's syntax (a spaced
//! dash, `/regex/`, `[ranges]`, `^boost`, `~`, `*`, `'`) is read as the separator it is in
//! natural-language text, so a pasted sentence or job title is searched, never refused or
//! turned into an exclusion. Malformed syntax (an unclosed quote or parenthesis, a dangling
//! operator) is not an error either: the grammar's lenient mode recovers what it can and the
//! rest is searched as plain words. Only a query with nothing searchable left (empty, only
//! punctuation) is an [`EngineError::InvalidQuery`].
//!
//! Filters become tantivy queries with a constant zero score, so they restrict matches without
//! changing the ranking, and totals and facets are computed over exactly the filtered set.

use std::ops::Bound;

use std::collections::BTreeMap;

use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, FuzzyTermQuery,
    Occur, PhraseQuery, Query, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::query_grammar::{self, Delimiter, UserInputAst, UserInputLeaf, UserInputLiteral};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Searcher, Term};

use crate::embedded::analyzer::{QueryWord, analyze, analyze_query_words};
use crate::embedded::bm25::Bm25TermQuery;
use crate::embedded::text_schema::SchemaFields;
use crate::{EngineError, Filters};

/// What a title match adds on top of its match in the whole text (title and content as one
/// field), when [`TantivyTextIndex::with_title_boost`](super::TantivyTextIndex::with_title_boost)
/// does not say otherwise. Tuned on the dev splits of Cranfield and CISI
/// (`examples/bm25_eval.rs`).
pub(crate) const DEFAULT_TITLE_BOOST: f32 = 0.5;
/// What a typo's stand-in (the best-scoring indexed word within its edit distance) weighs
/// against the word itself: the guess may be wrong, so it counts less than a typed word.
const FUZZY_BOOST: f32 = 0.3;
const FUZZY_ONE_EDIT_FROM_CHARS: usize = 5;
const FUZZY_TWO_EDITS_FROM_CHARS: usize = 9;
/// Words of one query that get typo tolerance, in order: a typo matters in a short query,
/// and a pasted paragraph has enough exact words. Bounds a long query's cost (each fuzzy word
/// walks the term dictionary of every field).
const MAX_FUZZY_WORDS: usize = 16;
/// Indexed words a typo may stand for, the most frequent first.
const MAX_TYPO_VARIANTS: usize = 8;

pub(crate) struct TextQueryBuilder<'a> {
    pub(crate) fields: &'a SchemaFields,
    /// The index the query will run on: typo tolerance looks up which words it holds.
    pub(crate) searcher: &'a Searcher,
    pub(crate) analyzer: TextAnalyzer,
    pub(crate) fuzzy: bool,
    /// Search the `name` field too.
    pub(crate) names: bool,
    /// The title's weight on top of the whole text's (which weighs 1, like skills and name).
    pub(crate) title_boost: f32,
    /// Words given typo tolerance so far (at most [`MAX_FUZZY_WORDS`] per query).
    pub(crate) fuzzy_words: std::cell::Cell<usize>,
}

impl TextQueryBuilder<'_> {
    /// The tantivy query for `text`, or `InvalidQuery` when nothing searchable remains.
    pub(crate) fn build(&mut self, text: &str) -> Result<Box<dyn Query>, EngineError> {
        if text.trim().is_empty() {
            return Err(EngineError::InvalidQuery(
                "the search query is empty".into(),
            ));
        }
        let text = plain_reading(text);
        let ast = match flat_clauses(&text) {
            Some(ast) => ast,
            None => match query_grammar::parse_query(&text) {
                Ok(ast) => ast,
                Err(_) => query_grammar::parse_query_lenient(&text).0,
            },
        };
        match self.build_ast(ast)? {
            Some(query) => Ok(query),
            None => Err(EngineError::InvalidQuery(format!(
                "the search query {text:?} has no searchable words"
            ))),
        }
    }

    fn build_ast(&mut self, ast: UserInputAst) -> Result<Option<Box<dyn Query>>, EngineError> {
        match ast {
            UserInputAst::Clause(children) => {
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for (occur, child) in children {
                    if let Some(query) = self.build_ast(child)? {
                        clauses.push((to_tantivy_occur(occur), query));
                    }
                }
                if clauses.is_empty() {
                    return Ok(None);
                }
                if clauses.iter().all(|(occur, _)| *occur == Occur::MustNot) {
                    // "-java" alone means "everything but java".
                    clauses.push((Occur::Should, Box::new(AllQuery)));
                }
                Ok(Some(Box::new(BooleanQuery::new(clauses))))
            }
            UserInputAst::Boost(child, boost) => Ok(self
                .build_ast(*child)?
                .map(|query| Box::new(BoostQuery::new(query, boost.0 as f32)) as Box<dyn Query>)),
            UserInputAst::Leaf(leaf) => self.build_leaf(*leaf),
        }
    }

    fn build_leaf(&mut self, leaf: UserInputLeaf) -> Result<Option<Box<dyn Query>>, EngineError> {
        match leaf {
            UserInputLeaf::Literal(literal) => self.build_literal(literal),
            UserInputLeaf::All => Ok(Some(Box::new(AllQuery))),
            UserInputLeaf::Set { elements, .. } => {
                let mut words: Vec<Box<dyn Query>> = Vec::new();
                for element in &elements {
                    words.extend(self.words_query(element, &self.default_fields())?);
                }
                Ok(any_of(words))
            }
            UserInputLeaf::Range { .. } | UserInputLeaf::Regex { .. } => {
                Err(EngineError::InvalidQuery(
                    "ranges and regular expressions are not supported in search queries; use \
                     words, \"phrases\", +must, -mustnot, AND, OR, NOT and parentheses (and the \
                     filters for years and salaries)"
                        .into(),
                ))
            }
            UserInputLeaf::Exists { field } => Err(EngineError::InvalidQuery(format!(
                "`{field}:*` is not supported in search queries"
            ))),
        }
    }

    fn default_fields(&self) -> Vec<(Field, f32)> {
        // Content is scored through `text`; it stays in the query at weight 0 so that the
        // highlighter, which reads the query's terms per field, still marks content matches.
        let mut fields = vec![
            (self.fields.text, 1.0),
            (self.fields.title, self.title_boost),
            (self.fields.content, 0.0),
            (self.fields.skills_text, 1.0),
        ];
        if self.names {
            fields.push((self.fields.name, 1.0));
        }
        fields
    }

    fn build_literal(
        &mut self,
        literal: UserInputLiteral,
    ) -> Result<Option<Box<dyn Query>>, EngineError> {
        let (fields, text) = match literal.field_name.as_deref() {
            None => (self.default_fields(), literal.phrase.clone()),
            Some(name) => match self.named_field(name) {
                Some(field) => (vec![field], literal.phrase.clone()),
                // `foo:bar` with an unknown `foo` is just text (a URL, a time, "c:...").
                None => (self.default_fields(), format!("{name}:{}", literal.phrase)),
            },
        };
        let quoted = !matches!(literal.delimiter, Delimiter::None);
        if quoted {
            Ok(self.phrase_query(&text, literal.slop, &fields))
        } else {
            self.words_query(&text, &fields)
        }
    }

    fn named_field(&self, name: &str) -> Option<(Field, f32)> {
        match name.to_ascii_lowercase().as_str() {
            "title" => Some((self.fields.title, self.title_boost)),
            "content" => Some((self.fields.content, 1.0)),
            "name" if self.names => Some((self.fields.name, 1.0)),
            "skill" | "skills" => Some((self.fields.skills_text, 1.0)),
            _ => None,
        }
    }

    /// A quoted phrase: the words in order (within `slop`) in any one of `fields`.
    fn phrase_query(
        &mut self,
        text: &str,
        slop: u32,
        fields: &[(Field, f32)],
    ) -> Option<Box<dyn Query>> {
        let tokens = analyze(&mut self.analyzer, text);
        if tokens.len() < 2 {
            let (_, word) = tokens.into_iter().next()?;
            return any_of(
                fields
                    .iter()
                    .map(|(f, b)| self.term_query(*f, *b, &word))
                    .collect(),
            );
        }
        let per_field = fields
            .iter()
            .map(|(field, boost)| {
                let terms: Vec<(usize, Term)> = tokens
                    .iter()
                    .map(|(position, word)| (*position, Term::from_field_text(*field, word)))
                    .collect();
                boosted(
                    Box::new(PhraseQuery::new_with_offset_and_slop(terms, slop)),
                    *boost,
                )
            })
            .collect();
        any_of(per_field)
    }

    /// Unquoted text: each word in any field. A bare word the analyzer splits further (a Chinese
    /// compound, `node.js`) becomes its words ORed, ranked by how many match. A hyphenated word
    /// counts as one word spelled two ways: its parts (`computer based`) or the parts joined
    /// (`computerbased`), whichever scores more, so the concept is not scored twice.
    fn words_query(
        &self,
        text: &str,
        fields: &[(Field, f32)],
    ) -> Result<Option<Box<dyn Query>>, EngineError> {
        let query_words = analyze_query_words(&mut self.analyzer.clone(), text);
        let mut words: Vec<Box<dyn Query>> = Vec::with_capacity(query_words.len());
        for query_word in &query_words {
            match query_word {
                QueryWord::Term(word) => words.extend(self.word_query(word, fields)?),
                QueryWord::Hyphenated { parts, joined } => {
                    let mut apart: Vec<Box<dyn Query>> = Vec::with_capacity(parts.len());
                    for part in parts {
                        apart.extend(self.word_query(part, fields)?);
                    }
                    // No typo tolerance for the joined form: that no document writes it is no
                    // sign of a typo.
                    let together = any_of(
                        fields
                            .iter()
                            .map(|(f, b)| self.term_query(*f, *b, joined))
                            .collect(),
                    );
                    let spellings: Vec<Box<dyn Query>> =
                        any_of(apart).into_iter().chain(together).collect();
                    words.push(Box::new(DisjunctionMaxQuery::new(spellings)));
                }
            }
        }
        Ok(any_of(words))
    }

    /// One word in any of `fields`. With typo tolerance on, a word the index does not hold is
    /// read as a typo (see [`Self::typo_query`]).
    fn word_query(
        &self,
        word: &str,
        fields: &[(Field, f32)],
    ) -> Result<Option<Box<dyn Query>>, EngineError> {
        let mut alternatives: Vec<Box<dyn Query>> = fields
            .iter()
            .map(|(f, b)| self.term_query(*f, *b, word))
            .collect();
        if self.fuzzy
            && self.fuzzy_words.get() < MAX_FUZZY_WORDS
            && typo_distance(word).is_some()
            && !self.is_indexed(word, fields)?
        {
            self.fuzzy_words.set(self.fuzzy_words.get() + 1);
            alternatives.extend(self.typo_query(word, fields)?);
        }
        Ok(any_of(alternatives))
    }

    /// Whether any of `fields` holds `word` (in a document not deleted or not yet merged away:
    /// a false "yes" only costs the typo tolerance of one word).
    fn is_indexed(&self, word: &str, fields: &[(Field, f32)]) -> Result<bool, EngineError> {
        for (field, _) in fields {
            let frequency = self
                .searcher
                .doc_freq(&Term::from_field_text(*field, word))
                .map_err(|error| {
                    EngineError::Internal(format!("cannot read the index: {error}"))
                })?;
            if frequency > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A word no document holds, read as a typo: the indexed words within its edit distance
    /// (the [`MAX_TYPO_VARIANTS`] most frequent), each scored by BM25 as the typed word would
    /// be, of which a document counts only its best, weighed by [`FUZZY_BOOST`]. Scoring the
    /// stand-ins by BM25 keeps a rare word's typo worth more than a common word's; a flat score
    /// per match would let long queries pile up constants that outweigh the real matches.
    fn typo_query(
        &self,
        word: &str,
        fields: &[(Field, f32)],
    ) -> Result<Option<Box<dyn Query>>, EngineError> {
        let Some(distance) = typo_distance(word) else {
            return Ok(None);
        };
        let failed = |error: &dyn std::fmt::Display| {
            EngineError::Internal(format!("cannot read the term dictionary: {error}"))
        };
        let mut frequencies: BTreeMap<String, u64> = BTreeMap::new();
        for (field, boost) in fields {
            if *boost <= 0.0 {
                continue;
            }
            let pattern = FuzzyTermQuery::new(Term::from_field_text(*field, word), distance, true);
            for segment in self.searcher.segment_readers() {
                let inverted = segment.inverted_index(*field).map_err(|e| failed(&e))?;
                let automaton = pattern.automaton().map_err(|e| failed(&e))?;
                let mut terms = inverted
                    .terms()
                    .search(automaton)
                    .into_stream()
                    .map_err(|e| failed(&e))?;
                while terms.advance() {
                    if let Ok(variant) = std::str::from_utf8(terms.key()) {
                        *frequencies.entry(variant.to_owned()).or_default() +=
                            u64::from(terms.value().doc_freq);
                    }
                }
            }
        }
        let mut variants: Vec<(String, u64)> = frequencies.into_iter().collect();
        variants.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let stand_ins: Vec<Box<dyn Query>> = variants
            .into_iter()
            .take(MAX_TYPO_VARIANTS)
            .filter_map(|(variant, _)| {
                any_of(
                    fields
                        .iter()
                        .map(|(f, b)| self.term_query(*f, *b, &variant))
                        .collect(),
                )
            })
            .collect();
        Ok(match stand_ins.len() {
            0 => None,
            _ => Some(Box::new(BoostQuery::new(
                Box::new(DisjunctionMaxQuery::new(stand_ins)),
                FUZZY_BOOST,
            ))),
        })
    }

    /// `word` in `field`, scored by our BM25 ([`Bm25TermQuery`]: k1 and b of our choosing).
    fn term_query(&self, field: Field, boost: f32, word: &str) -> Box<dyn Query> {
        let term = Term::from_field_text(field, word);
        boosted(Box::new(Bm25TermQuery::new(term)), boost)
    }
}

/// The edit distance a typo of `word` may have: Latin words of 5+ letters 1, of 9+ letters 2;
/// other words (Chinese, short, with digits or symbols) have none, they match only exactly.
fn typo_distance(word: &str) -> Option<u8> {
    if !word.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let length = word.chars().count();
    if length >= FUZZY_TWO_EDITS_FROM_CHARS {
        Some(2)
    } else if length >= FUZZY_ONE_EDIT_FROM_CHARS {
        Some(1)
    } else {
        None
    }
}

/// Field names `field:word` may use (the rest of a `x:y` is text).
const QUERY_FIELDS: [&str; 5] = ["title", "content", "name", "skill", "skills"];

/// `text` with every character tantivy's grammar would read as syntax, but which is not
/// clearly meant as an operator, turned into a space (see the module comment).
pub(crate) fn plain_reading(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut in_quotes = false;
    // Where the current word started in `out` (to read a field name before `:`).
    let mut word_start = 0;
    for (i, &c) in chars.iter().enumerate() {
        if in_quotes {
            out.push(c);
            if c == '"' {
                in_quotes = false;
            }
            continue;
        }
        let at_word_start = i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == '(';
        let next = chars.get(i + 1).copied();
        let starts_word =
            |n: Option<char>| n.is_some_and(|n| n.is_alphanumeric() || n == '"' || n == '(');
        match c {
            '"' => {
                in_quotes = true;
                out.push(c);
            }
            '(' | ')' => out.push(c),
            '+' | '-' if at_word_start => {
                // An operator only when attached to what it applies to: `-java`, `+"a b"`.
                out.push(if starts_word(next) { c } else { ' ' });
            }
            '+' | '-' | '#' | '.' | '&' | '@' | '_' => out.push(c),
            ':' => {
                let name = out[word_start..].trim_start_matches(['+', '-', '(']);
                let known = QUERY_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name));
                out.push(if known && starts_word(next) { ':' } else { ' ' });
            }
            c if c.is_whitespace() => out.push(' '),
            c if c.is_ascii_punctuation() => out.push(' '),
            c => out.push(c),
        }
        if out.ends_with(' ') || out.ends_with('(') {
            word_start = out.len();
        }
    }
    out
}

/// A query without grouping (no `AND`/`OR`/`NOT`, no `+(`, `-(` or `field:(`, quotes
/// balanced) as the clause of its space-separated items, each parsed on its own, every repeat
/// kept. Parentheses in such a query are prose (`schemes (e.g. DDC)`) and separate words like
/// spaces. The grammar, given the whole text, drops a clause equal to an earlier one at each
/// level, so a word repeated with the same spelling would count once while `Relational …
/// relational` counts twice; here a word counts as often as it is written, as BM25 counts
/// query terms. `None` leaves the query to the grammar.
fn flat_clauses(text: &str) -> Option<UserInputAst> {
    if text.matches('"').count() % 2 == 1 {
        return None;
    }
    let ungrouped;
    let text = if !text.contains(['(', ')']) {
        text
    } else if ["+(", "-(", ":("].iter().any(|group| text.contains(group)) {
        return None;
    } else {
        ungrouped = parentheses_as_spaces(text);
        ungrouped.as_str()
    };
    let mut items: Vec<String> = Vec::new();
    let mut in_quotes = false;
    let mut current = String::new();
    for c in text.chars() {
        if c == '"' {
            in_quotes = !in_quotes;
        }
        if c == ' ' && !in_quotes {
            if !current.is_empty() {
                items.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        items.push(current);
    }
    if items
        .iter()
        .any(|item| matches!(item.as_str(), "AND" | "OR" | "NOT" | "IN" | "&&" | "||"))
    {
        return None;
    }
    let mut clauses = Vec::with_capacity(items.len());
    for item in &items {
        // The grammar reads a lone `+word` as just `word`: the operator is read here.
        let (occur, rest) = match item.as_bytes()[0] {
            b'+' => (Some(query_grammar::Occur::Must), &item[1..]),
            b'-' => (Some(query_grammar::Occur::MustNot), &item[1..]),
            _ => (None, item.as_str()),
        };
        if rest.is_empty() {
            continue;
        }
        match query_grammar::parse_query(rest).ok()? {
            UserInputAst::Clause(children) if children.is_empty() => {}
            UserInputAst::Clause(mut children) if children.len() == 1 && occur.is_none() => {
                clauses.extend(children.pop())
            }
            ast => clauses.push((occur, ast)),
        }
    }
    Some(UserInputAst::Clause(clauses))
}

/// `text` with its parentheses outside quotes read as spaces: a query without operators uses
/// them as prose does (`(e.g. DDC)`), not to group. The caller has ruled out `+(`, `-(` and
/// `field:(`; `AND`/`OR`/`NOT` inside are found on the result.
fn parentheses_as_spaces(text: &str) -> String {
    let mut in_quotes = false;
    text.chars()
        .map(|c| {
            if c == '"' {
                in_quotes = !in_quotes;
            }
            if !in_quotes && matches!(c, '(' | ')') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn boosted(query: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    if (boost - 1.0).abs() < f32::EPSILON {
        query
    } else {
        Box::new(BoostQuery::new(query, boost))
    }
}

fn any_of(mut queries: Vec<Box<dyn Query>>) -> Option<Box<dyn Query>> {
    match queries.len() {
        0 => None,
        1 => queries.pop(),
        _ => Some(Box::new(BooleanQuery::new(
            queries.into_iter().map(|q| (Occur::Should, q)).collect(),
        ))),
    }
}

fn to_tantivy_occur(occur: Option<query_grammar::Occur>) -> Occur {
    match occur {
        Some(query_grammar::Occur::Must) => Occur::Must,
        Some(query_grammar::Occur::MustNot) => Occur::MustNot,
        Some(query_grammar::Occur::Should) | None => Occur::Should,
    }
}

/// `filters` and the `only_ids` restriction (empty: none) as one query (all constraints
/// ANDed), or `None` when there is no constraint. Mirrors [`Filters::matches`]: a document
/// without a value never passes a constraint on it.
pub(crate) fn filter_query(
    filters: &Filters,
    only_ids: &[String],
    fields: &SchemaFields,
) -> Option<Box<dyn Query>> {
    let mut musts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let exact = |field: Field, value: &str| -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, value),
            IndexRecordOption::Basic,
        ))
    };
    let one_of = |field: Field, values: &[String]| -> Box<dyn Query> {
        Box::new(TermSetQuery::new(
            values.iter().map(|v| Term::from_field_text(field, v)),
        ))
    };
    for skill in &filters.skills_all {
        musts.push((Occur::Must, exact(fields.skills, skill)));
    }
    for (field, values) in [
        (fields.id, only_ids),
        (fields.skills, filters.skills_any.as_slice()),
        (fields.city, &filters.cities),
        (fields.degree, &filters.degrees),
        (fields.status, &filters.statuses),
        (fields.job_family, &filters.job_families),
        (fields.keywords, &filters.keywords_any),
    ] {
        if !values.is_empty() {
            musts.push((Occur::Must, one_of(field, values)));
        }
    }
    if filters.min_years.is_some() || filters.max_years.is_some() {
        musts.push((
            Occur::Must,
            f64_range(fields.years, filters.min_years, filters.max_years),
        ));
    }
    // The document's range [low, high] must overlap the wanted [min, max].
    if let Some(min) = filters.salary_min {
        musts.push((Occur::Must, f64_range(fields.salary_high, Some(min), None)));
    }
    if let Some(max) = filters.salary_max {
        musts.push((Occur::Must, f64_range(fields.salary_low, None, Some(max))));
    }
    if musts.is_empty() {
        return None;
    }
    Some(Box::new(ConstScoreQuery::new(
        Box::new(BooleanQuery::new(musts)),
        0.0,
    )))
}

/// Values in `[min, max]`; documents without a value never match, even with one side open.
fn f64_range(field: Field, min: Option<f64>, max: Option<f64>) -> Box<dyn Query> {
    let bound = |value: Option<f64>| match value {
        Some(value) => Bound::Included(Term::from_field_f64(field, value)),
        None => Bound::Unbounded,
    };
    let (lower, upper) = match (min, max) {
        (None, None) => (
            Bound::Included(Term::from_field_f64(field, f64::MIN)),
            Bound::Unbounded,
        ),
        _ => (bound(min), bound(max)),
    };
    Box::new(RangeQuery::new(lower, upper))
}

#[cfg(test)]
mod tests {
    use super::{flat_clauses, plain_reading};
    use tantivy::query_grammar::{self, UserInputAst};

    #[test]
    fn a_repeated_word_is_a_clause_each_time_whatever_its_case() {
        let count = |text: &str, word: &str| match flat_clauses(&plain_reading(text)) {
            Some(UserInputAst::Clause(clauses)) => clauses
                .iter()
                .filter(|(_, ast)| format!("{ast:?}") == word)
                .count(),
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(count("relational model relational", "relational"), 2);
        assert_eq!(count("relational relational Relational", "relational"), 2);
        assert_eq!(count("+java -php \"data lake\" java title:rust", "java"), 2);
        // Grouping and boolean operators are the grammar's to read.
        assert!(flat_clauses("(java OR go) java").is_none());
        assert!(flat_clauses("java AND go").is_none());
        assert!(flat_clauses("\"unclosed java").is_none());
        assert!(flat_clauses("+(java go) rust").is_none());
        assert!(flat_clauses("rust -(java go)").is_none());
        assert!(flat_clauses("title:(java go)").is_none());
    }

    #[test]
    fn parentheses_without_operators_are_prose_and_keep_repeats() {
        let clauses = |text: &str| match flat_clauses(&plain_reading(text)) {
            Some(UserInputAst::Clause(clauses)) => clauses
                .iter()
                .map(|(_, ast)| format!("{ast:?}"))
                .collect::<Vec<_>>(),
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            clauses("classification (e.g. classification schemes) classification"),
            vec![
                "classification",
                "e.g.",
                "classification",
                "schemes",
                "classification"
            ]
        );
        assert_eq!(
            clauses("retrieval (\"(quoted)\" text)"),
            vec!["retrieval", "\"(quoted)\"", "text"]
        );
    }

    #[test]
    fn flat_queries_keep_their_operators() {
        let Some(UserInputAst::Clause(clauses)) = flat_clauses("+java -php go") else {
            panic!("a flat query");
        };
        let occurs: Vec<Option<query_grammar::Occur>> = clauses.iter().map(|(o, _)| *o).collect();
        assert_eq!(
            occurs,
            vec![
                Some(query_grammar::Occur::Must),
                Some(query_grammar::Occur::MustNot),
                None
            ]
        );
        // A spaced dash is a separator, not an exclusion.
        let Some(UserInputAst::Clause(clauses)) =
            flat_clauses(&plain_reading("schemes - DDC, UDC - in retrieval"))
        else {
            panic!("a flat query");
        };
        assert!(
            clauses.iter().all(|(occur, _)| occur.is_none()),
            "{clauses:?}"
        );
    }

    #[test]
    fn natural_language_stays_text_and_operators_stay_operators() {
        // A spaced dash separates; an attached one excludes.
        assert_eq!(
            plain_reading("algorithms - concurrent"),
            "algorithms   concurrent"
        );
        assert_eq!(plain_reading("python -spark"), "python -spark");
        assert_eq!(
            plain_reading("+python +\"data lake\""),
            "+python +\"data lake\""
        );
        // Regex slashes, ranges, boosts, wildcards and single quotes are separators.
        assert_eq!(plain_reading("/word/ and/or"), " word  and or");
        assert_eq!(plain_reading("years:[1 TO 5]"), "years  1 TO 5 ");
        assert_eq!(
            plain_reading("rust^2 go~ java* o'brien"),
            "rust 2 go  java  o brien"
        );
        // Known fields keep their colon; other colons are text.
        assert_eq!(
            plain_reading("title:rust skills:go"),
            "title:rust skills:go"
        );
        assert_eq!(plain_reading("-Title:php"), "-Title:php");
        assert_eq!(
            plain_reading("time: 10:30 http://x"),
            "time  10 30 http   x"
        );
        assert_eq!(plain_reading("title:"), "title ");
        // Words with inner symbols, quotes and operators are kept as written.
        assert_eq!(
            plain_reading("C++ C# node.js e-commerce"),
            "C++ C# node.js e-commerce"
        );
        assert_eq!(
            plain_reading("\"a/b: [c]\" (x OR y)"),
            "\"a/b: [c]\" (x OR y)"
        );
        assert_eq!(plain_reading("高级-后端 工程师"), "高级-后端 工程师");
    }
}
