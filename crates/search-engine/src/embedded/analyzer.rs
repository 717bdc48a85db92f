//! The bilingual analyzer: jieba segmentation for Chinese, word splitting for Latin text,
//! lowercasing and ASCII folding, punctuation and whitespace dropped, then English stop words
//! dropped and English words stemmed (Snowball English: `running`, `runs` → `run`). Stop words
//! and stemming touch only words made of ASCII letters, so Chinese words, `c++`, `node.js` or
//! `2d` come out exactly as segmented. `it` is not a stop word: in recruiting it is `IT`. Latin
//! abbreviations (`e.g.`, `i.e.`, `etc.`, `viz.`, `cf.`) are dropped like stop words.
//!
//! English spellings jieba cuts at punctuation are put back together: a dotted abbreviation
//! (`e.g.`, `U.S.`) is one word, and a possessive's `s` (`author's`) is dropped.
//!
//! A hyphenated Latin word is indexed (and searched) both ways: `real-time` gives `real`, `time`
//! and `realtime`, so "real time", "real-time" and "realtime" find each other. A query reads the
//! two spellings as alternatives of one word ([`analyze_query_words`]), not as three words.
//!
//! Two modes share one segmentation so that documents and queries agree:
//! - [`SegmentMode::Index`] emits every word plus the dictionary sub-words of long Chinese words
//!   and the parts of connector-joined Latin words (`node.js` → `node`, `js`, `node.js`), all at
//!   the position of the word they belong to. A query for 工程 therefore finds 工程师.
//! - [`SegmentMode::Query`] emits only whole words, so a query is not widened by sub-words.
//!
//! Positions are word ordinals (punctuation does not count), which keeps phrase queries working
//! across spacing and punctuation differences ("Java, Spring" matches the phrase "java spring").
//! A dropped stop word keeps its position, so phrases still line up on both sides.
//!
//! This module never touches an index; it only turns text into tokens.

use std::sync::Arc;

use looma_taxonomy::is_cjk;
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, TextAnalyzer, Token, TokenFilter,
    TokenStream, Tokenizer,
};
use tantivy_jieba::jieba_rs::{Jieba, Token as JiebaToken};

use crate::EngineError;

/// The tokenizer name registered on every tantivy index of the embedded engine. It is part of
/// the schema, so it names the analysis too: change it whenever terms change (stemming, stop
/// words), and an index built by the old analyzer is rebuilt at open from its stored documents
/// instead of silently missing matches (see `TantivyTextIndex::open`).
pub(crate) const TEXT_TOKENIZER: &str = "looma_bilingual_v4";

/// Lucene's English stop words (what Elasticsearch's `_english_` and bm25s use), without `it`.
const ENGLISH_STOP_WORDS: [&str; 32] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "no",
    "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they",
    "this", "to", "was", "will", "with",
];

/// Latin abbreviations dropped like stop words (as the dotted-abbreviation rule spells them,
/// `e.g.` → `e.g`): they say how a sentence is built, not what it is about, and a query that
/// writes "e.g." should not rank documents by how often they do.
const LATIN_ABBREVIATIONS: [&str; 5] = ["e.g", "i.e", "etc", "viz", "cf"];

/// Tokens longer than this (in bytes) are dropped: they are base64 blobs, URLs, hashes.
const MAX_TOKEN_BYTES: usize = 80;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SegmentMode {
    Index,
    Query,
}

/// A shared jieba instance: the default dictionary plus the optional user dictionary.
#[derive(Clone)]
pub(crate) struct Segmenter {
    jieba: Arc<Jieba>,
}

impl Segmenter {
    /// `user_dictionary` uses jieba's format: one `word [frequency [tag]]` per line. Domain words
    /// (skills, titles, schools) listed there stay whole instead of being split into characters.
    pub(crate) fn new(user_dictionary: Option<&str>) -> Result<Segmenter, EngineError> {
        let mut jieba = Jieba::new();
        if let Some(dictionary) = user_dictionary {
            let mut reader = std::io::BufReader::new(dictionary.as_bytes());
            jieba.load_dict(&mut reader).map_err(|error| {
                EngineError::Internal(format!("cannot load the jieba user dictionary: {error}"))
            })?;
        }
        Ok(Segmenter {
            jieba: Arc::new(jieba),
        })
    }

    /// The words of `text` (byte ranges into it), punctuation and whitespace left out, in order,
    /// without sub-words. Used for suggestion keys.
    pub(crate) fn word_starts(&self, text: &str) -> Vec<usize> {
        self.jieba
            .cut(text, true)
            .into_iter()
            .filter_map(|token| trim_to_word(token.word).map(|(start, _)| token.byte_start + start))
            .collect()
    }

    /// Splits `text` into tokens before normalisation (lowercasing and folding happen in the
    /// filters of the [`TextAnalyzer`]).
    pub(crate) fn segment(&self, text: &str, mode: SegmentMode) -> Vec<Token> {
        let raw = match mode {
            SegmentMode::Index => self.jieba.cut_for_search(text, true),
            SegmentMode::Query => self.jieba.cut(text, true),
        };
        let spans = merge_split_latin_words(text, &raw, &main_word_flags(&raw));
        let spans = english_abbreviations_and_possessives(text, spans);
        // Hyphenated words get their parts from `hyphenated_tokens`, not from jieba (which drops
        // one-letter parts: `e-commerce` gives only `commerce`).
        let hyphenated: Vec<(usize, usize)> = spans
            .iter()
            .filter(|(_, _, is_main)| *is_main)
            .filter_map(|&(byte_start, byte_end, _)| {
                let (start, end) = trim_to_word(&text[byte_start..byte_end])?;
                is_hyphenated_word(&text[byte_start + start..byte_start + end])
                    .then_some((byte_start + start, byte_start + end))
            })
            .collect();
        let mut tokens = Vec::with_capacity(spans.len());
        let mut position = 0usize;
        // Sub-words come right before the word they belong to, so their position is the
        // position the next main word will get.
        for (byte_start, byte_end, is_main) in spans {
            let Some((start, end)) = trim_to_word(&text[byte_start..byte_end]) else {
                continue;
            };
            let (from, to) = (byte_start + start, byte_start + end);
            if !is_main
                && hyphenated
                    .iter()
                    .any(|&(word_from, word_to)| word_from <= from && to <= word_to)
            {
                continue;
            }
            if is_main && hyphenated.contains(&(from, to)) {
                tokens.extend(hyphenated_tokens(text, from, to, position));
            } else {
                tokens.push(Token {
                    offset_from: from,
                    offset_to: to,
                    position,
                    text: fold_full_width(&text[from..to]),
                    position_length: 1,
                });
            }
            if is_main {
                position += 1;
            }
        }
        // Offsets must not go backwards (tantivy's snippet generator relies on it), and sub-words
        // were emitted before the word containing them. Positions stay non-decreasing because
        // every word's sub-words lie inside it.
        tokens.sort_by_key(|token| (token.offset_from, token.offset_to));
        tokens
    }

    pub(crate) fn analyzer(&self, mode: SegmentMode) -> TextAnalyzer {
        TextAnalyzer::builder(BilingualTokenizer {
            segmenter: self.clone(),
            mode,
        })
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(EnglishWords)
        .build()
    }
}

/// A Latin word of letters and digits with inner hyphens (`real-time`, `e-commerce`, `2-d`).
fn is_hyphenated_word(word: &str) -> bool {
    word.contains('-')
        && word
            .split('-')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() && !is_cjk(c)))
}

/// `real-time` at `from..to` as its parts (`real`, `time`) and the parts joined (`realtime`),
/// all at `position` like any other sub-words.
fn hyphenated_tokens(text: &str, from: usize, to: usize, position: usize) -> Vec<Token> {
    let word = &text[from..to];
    let mut tokens = Vec::new();
    let mut part_from = from;
    for part in word.split('-') {
        tokens.push(Token {
            offset_from: part_from,
            offset_to: part_from + part.len(),
            position,
            text: fold_full_width(part),
            position_length: 1,
        });
        part_from += part.len() + 1;
    }
    tokens.push(Token {
        offset_from: from,
        offset_to: to,
        position,
        text: fold_full_width(&word.replace('-', "")),
        position_length: 1,
    });
    tokens
}

/// Drops English stop words and stems English words (Snowball English). Runs after lowercasing
/// and folding; only tokens made of ASCII letters are English words here.
#[derive(Clone, Copy)]
struct EnglishWords;

impl TokenFilter for EnglishWords {
    type Tokenizer<T: Tokenizer> = EnglishWordsTokenizer<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> EnglishWordsTokenizer<T> {
        EnglishWordsTokenizer { inner: tokenizer }
    }
}

#[derive(Clone)]
struct EnglishWordsTokenizer<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for EnglishWordsTokenizer<T> {
    type TokenStream<'a> = EnglishWordsStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        EnglishWordsStream {
            tail: self.inner.token_stream(text),
            stemmer: frostem::Stemmer::new(frostem::Algorithm::English),
        }
    }
}

struct EnglishWordsStream<S> {
    tail: S,
    stemmer: frostem::Stemmer,
}

impl<S: TokenStream> TokenStream for EnglishWordsStream<S> {
    fn advance(&mut self) -> bool {
        while self.tail.advance() {
            let token = self.tail.token_mut();
            if LATIN_ABBREVIATIONS.contains(&token.text.as_str()) {
                continue;
            }
            if !token.text.bytes().all(|b| b.is_ascii_lowercase()) {
                return true;
            }
            if ENGLISH_STOP_WORDS.contains(&token.text.as_str()) {
                continue;
            }
            let stemmed = self.stemmer.stem(&token.text).into_owned();
            token.text = stemmed;
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// Search mode emits sub-words before the word that contains them, and main words never
/// overlap: walking backwards, a token is a main word exactly when it ends at or before the start
/// of the main word after it.
fn main_word_flags(tokens: &[JiebaToken<'_>]) -> Vec<bool> {
    let mut flags = vec![false; tokens.len()];
    let mut next_main_start = usize::MAX;
    for (index, token) in tokens.iter().enumerate().rev() {
        if token.byte_end <= next_main_start {
            flags[index] = true;
            next_main_start = token.byte_start;
        }
    }
    flags
}

/// Byte spans `(start, end, is_main_word)` of the jieba tokens, with adjacent main words made
/// only of non-CJK letters and digits (`looma_taxonomy::is_cjk`: Han, kana, hangul) joined again:
/// jieba splits Latin words at letters outside ASCII (`Café` → `Caf`, `é`) and full-width
/// letters (`Ｊａｖａ`) into single characters.
fn merge_split_latin_words(
    text: &str,
    tokens: &[JiebaToken<'_>],
    main_word: &[bool],
) -> Vec<(usize, usize, bool)> {
    let is_latin_word =
        |word: &str| !word.is_empty() && word.chars().all(|c| c.is_alphanumeric() && !is_cjk(c));
    let mut spans: Vec<(usize, usize, bool)> = Vec::with_capacity(tokens.len());
    for (token, &is_main) in tokens.iter().zip(main_word) {
        if is_main
            && is_latin_word(token.word)
            && let Some(last) = spans.last_mut()
            && last.2
            && last.1 == token.byte_start
            && is_latin_word(&text[last.0..last.1])
        {
            last.1 = token.byte_end;
            continue;
        }
        spans.push((token.byte_start, token.byte_end, is_main));
    }
    spans
}

/// English spellings jieba cuts at punctuation, put back as the one word they are: a dotted
/// abbreviation of single letters (`e.g.`, `i.e.`, `U.S.`) becomes one span (searched as
/// `e.g`, not as the letters `e` and `g`, which would match every initial), and the `s` of a
/// possessive (`author's`, `author’s`) is dropped, as English analyzers drop it, instead of
/// becoming a word of its own. Spans that are not main words pass through.
fn english_abbreviations_and_possessives(
    text: &str,
    spans: Vec<(usize, usize, bool)>,
) -> Vec<(usize, usize, bool)> {
    let single_letter = |&(start, end, is_main): &(usize, usize, bool)| {
        is_main && end == start + 1 && text.as_bytes()[start].is_ascii_alphabetic()
    };
    let followed_by_dot = |end: usize| text.as_bytes().get(end) == Some(&b'.');
    let mut out: Vec<(usize, usize, bool)> = Vec::with_capacity(spans.len());
    let mut index = 0;
    while index < spans.len() {
        let span = spans[index];
        // A run `x.y.`: two letters or more, each followed by its dot, nothing in between.
        let (mut next, mut letters, mut run_end) = (index, 0, span.0);
        while next < spans.len()
            && single_letter(&spans[next])
            && followed_by_dot(spans[next].1)
            && (letters == 0 || spans[next].0 == run_end)
        {
            letters += 1;
            run_end = spans[next].1 + 1;
            next += 1;
            // The dot's own span, if jieba gave it one.
            while next < spans.len() && spans[next].0 < run_end {
                next += 1;
            }
        }
        if letters >= 2 {
            out.push((span.0, run_end, true));
            index = next;
            continue;
        }
        if single_letter(&span) && text.as_bytes()[span.0].eq_ignore_ascii_case(&b's') {
            let before = &text[..span.0];
            let apostrophe = before
                .strip_suffix('\'')
                .or_else(|| before.strip_suffix('\u{2019}'));
            if apostrophe
                .and_then(|rest| rest.chars().next_back())
                .is_some_and(|c| c.is_alphabetic() && !is_cjk(c))
            {
                index += 1;
                continue;
            }
        }
        out.push(span);
        index += 1;
    }
    out
}

/// The byte range of `word` without leading/trailing punctuation, or `None` when nothing
/// word-like remains. `+` and `#` stay at the end (`c++`, `c#`); inner connectors stay
/// (`node.js`).
fn trim_to_word(word: &str) -> Option<(usize, usize)> {
    let is_word_char = |c: char| c.is_alphanumeric();
    let start = word.find(is_word_char)?;
    let mut end = word.rfind(is_word_char)?;
    end += word[end..].chars().next().map_or(1, char::len_utf8);
    let tail = &word[end..];
    let kept_tail = tail.len() - tail.trim_start_matches(['+', '#']).len();
    Some((start, end + kept_tail))
}

/// Full-width Latin letters and digits (common in Chinese input methods) to ASCII.
fn fold_full_width(word: &str) -> String {
    word.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            other => other,
        })
        .collect()
}

#[derive(Clone)]
struct BilingualTokenizer {
    segmenter: Segmenter,
    mode: SegmentMode,
}

impl Tokenizer for BilingualTokenizer {
    type TokenStream<'a> = SegmentedTokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> SegmentedTokens {
        SegmentedTokens {
            tokens: self.segmenter.segment(text, self.mode),
            next: 0,
        }
    }
}

pub(crate) struct SegmentedTokens {
    tokens: Vec<Token>,
    /// Index of the token after the current one.
    next: usize,
}

impl TokenStream for SegmentedTokens {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// A word of a query as the analyzer reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum QueryWord {
    /// One term.
    Term(String),
    /// A hyphenated word (`computer-based`): its parts (`comput`, `base`, stop words dropped)
    /// and the same word written as one (`computerbas`), two spellings of one concept.
    Hyphenated { parts: Vec<String>, joined: String },
}

/// Runs the query `analyzer` over `text` and returns its words, a hyphenated word's parts
/// and joined form kept together (they share a position, the joined form spanning the parts;
/// see [`hyphenated_tokens`]), so the query can score them as alternatives rather than as
/// more words.
pub(crate) fn analyze_query_words(analyzer: &mut TextAnalyzer, text: &str) -> Vec<QueryWord> {
    let mut tokens: Vec<Token> = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        tokens.push(stream.token().clone());
    }
    let mut words = Vec::with_capacity(tokens.len());
    for group in tokens.chunk_by(|a, b| a.position == b.position) {
        let from = group.iter().map(|t| t.offset_from).min().unwrap_or(0);
        let to = group.iter().map(|t| t.offset_to).max().unwrap_or(0);
        let spanning: Vec<usize> = (0..group.len())
            .filter(|&i| group[i].offset_from == from && group[i].offset_to == to)
            .collect();
        match spanning[..] {
            [joined] if group.len() > 1 => words.push(QueryWord::Hyphenated {
                parts: (0..group.len())
                    .filter(|&i| i != joined)
                    .map(|i| group[i].text.clone())
                    .collect(),
                joined: group[joined].text.clone(),
            }),
            _ => words.extend(group.iter().map(|t| QueryWord::Term(t.text.clone()))),
        }
    }
    words
}

/// Runs `analyzer` over `text` and returns `(position, term text)` pairs.
pub(crate) fn analyze(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        let token = stream.token();
        out.push((token.position, token.text.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(mode: SegmentMode, text: &str) -> Vec<(usize, String)> {
        let segmenter = Segmenter::new(None).expect("default dictionary loads");
        analyze(&mut segmenter.analyzer(mode), text)
    }

    #[test]
    fn chinese_words_get_sub_words_at_the_same_position_in_index_mode() {
        let tokens = terms(SegmentMode::Index, "北京大学的工程师");
        assert!(tokens.contains(&(0, "北京".to_string())), "{tokens:?}");
        assert!(tokens.contains(&(0, "北京大学".to_string())), "{tokens:?}");
        let engineer_position = tokens
            .iter()
            .find(|(_, t)| t == "工程师")
            .map(|(p, _)| *p)
            .expect("工程师 is a word");
        assert!(
            tokens.contains(&(engineer_position, "工程".to_string())),
            "{tokens:?}"
        );
    }

    #[test]
    fn offsets_never_go_backwards() {
        let segmenter = Segmenter::new(None).expect("dictionary");
        let tokens = segmenter.segment("北京大学的机器学习工程师 node.js", SegmentMode::Index);
        for pair in tokens.windows(2) {
            assert!(pair[0].offset_from <= pair[1].offset_from, "{tokens:?}");
            assert!(pair[0].position <= pair[1].position, "{tokens:?}");
        }
    }

    #[test]
    fn query_mode_keeps_whole_words_only() {
        let tokens = terms(SegmentMode::Query, "工程师");
        assert_eq!(tokens, vec![(0, "工程师".to_string())]);
    }

    #[test]
    fn latin_is_lowercased_folded_and_punctuation_dropped() {
        let tokens = terms(SegmentMode::Query, "Café, Java。 C++ (Ｊａｖａ)");
        let texts: Vec<&str> = tokens.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, vec!["cafe", "java", "c++", "java"]);
        let positions: Vec<usize> = tokens.iter().map(|(p, _)| *p).collect();
        assert_eq!(positions, vec![0, 1, 2, 3]);
    }

    #[test]
    fn connector_joined_words_are_searchable_by_parts() {
        let tokens = terms(SegmentMode::Index, "node.js developer");
        let texts: Vec<&str> = tokens.iter().map(|(_, t)| t.as_str()).collect();
        assert!(
            texts.contains(&"node") && texts.contains(&"node.js"),
            "{texts:?}"
        );
    }

    fn texts(mode: SegmentMode, text: &str) -> Vec<String> {
        terms(mode, text).into_iter().map(|(_, t)| t).collect()
    }

    #[test]
    fn english_words_are_stemmed_the_same_way_in_both_modes() {
        for mode in [SegmentMode::Index, SegmentMode::Query] {
            assert_eq!(texts(mode, "running runs run"), vec!["run", "run", "run"]);
            assert_eq!(texts(mode, "Engineers engineering"), vec!["engin", "engin"]);
        }
    }

    #[test]
    fn stop_words_are_dropped_but_keep_their_position() {
        let tokens = terms(SegmentMode::Query, "state of the art");
        assert_eq!(
            tokens,
            vec![(0, "state".to_string()), (3, "art".to_string())]
        );
        assert!(terms(SegmentMode::Index, "to be or not").is_empty());
        // `IT` is a recruiting word, not a pronoun.
        assert_eq!(texts(SegmentMode::Query, "IT"), vec!["it"]);
    }

    #[test]
    fn hyphenated_words_give_their_parts_and_the_joined_word() {
        for mode in [SegmentMode::Index, SegmentMode::Query] {
            let mut found = texts(mode, "real-time e-commerce");
            found.sort();
            assert_eq!(
                found,
                vec!["commerc", "e", "ecommerc", "real", "realtim", "time"],
                "{mode:?}"
            );
        }
        assert_eq!(texts(SegmentMode::Query, "realtime"), vec!["realtim"]);
        let tokens = terms(SegmentMode::Index, "real-time systems");
        assert!(
            tokens.iter().all(|(p, t)| (*p == 0) != (t == "system")),
            "{tokens:?}"
        );
    }

    #[test]
    fn dotted_abbreviations_are_one_word_and_possessives_lose_their_s() {
        for mode in [SegmentMode::Index, SegmentMode::Query] {
            assert_eq!(
                texts(mode, "methods (e.g., group theory) in the U.S. i.e. here"),
                vec!["method", "group", "theori", "u.s", "here"],
                "{mode:?}"
            );
            assert_eq!(
                texts(mode, "the author's and the authors’ views"),
                vec!["author", "author", "view"],
                "{mode:?}"
            );
        }
        // One letter with a dot is an initial, not an abbreviation; other apostrophes stay.
        assert_eq!(
            texts(SegmentMode::Query, "J. Smith O'Brien it's"),
            vec!["j", "smith", "o", "brien", "it"]
        );
        // Positions still count words: the abbreviation is one, the possessive adds none.
        assert_eq!(
            terms(SegmentMode::Query, "U.S. Smith's data"),
            vec![
                (0, "u.s".to_string()),
                (1, "smith".to_string()),
                (2, "data".to_string())
            ]
        );
    }

    #[test]
    fn latin_abbreviations_are_dropped_like_stop_words() {
        for mode in [SegmentMode::Index, SegmentMode::Query] {
            assert_eq!(
                texts(
                    mode,
                    "Sorts, e.g. merge, i.e. E.G. stable; viz. heaps, cf. trees, etc."
                ),
                vec!["sort", "merg", "stabl", "heap", "tree"],
                "{mode:?}"
            );
        }
        // They keep their position, like stop words.
        assert_eq!(
            terms(SegmentMode::Index, "e.g. data"),
            vec![(1, "data".to_string())]
        );
    }

    #[test]
    fn query_words_keep_a_hyphenated_word_together() {
        let segmenter = Segmenter::new(None).expect("dictionary");
        let words = analyze_query_words(
            &mut segmenter.analyzer(SegmentMode::Query),
            "computer-based state-of-the-art systems",
        );
        assert_eq!(
            words,
            vec![
                QueryWord::Hyphenated {
                    parts: vec!["comput".into(), "base".into()],
                    joined: "computerbas".into()
                },
                QueryWord::Hyphenated {
                    parts: vec!["state".into(), "art".into()],
                    joined: "stateoftheart".into()
                },
                QueryWord::Term("system".into()),
            ]
        );
    }

    #[test]
    fn chinese_and_symbols_are_not_stemmed() {
        assert_eq!(
            texts(SegmentMode::Query, "熟悉Java和node.js的工程师 c++ 2d"),
            vec!["熟悉", "java", "和", "node.js", "的", "工程师", "c++", "2d"]
        );
    }

    #[test]
    fn user_dictionary_keeps_domain_words_whole() {
        let segmenter = Segmenter::new(Some("后端开发 1000 n\n")).expect("dictionary loads");
        let tokens = analyze(
            &mut segmenter.analyzer(SegmentMode::Query),
            "后端开发工程师",
        );
        assert_eq!(tokens[0].1, "后端开发");
    }
}
