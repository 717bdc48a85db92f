//! Chinese/English word segmentation for resumes and job posts: jieba with a user dictionary of
//! skills, job titles and schools, so domain words stay whole (高级/后端开发工程师), dates and
//! phone numbers stay single tokens, and TF-IDF keywords skip resume boilerplate.
//!
//! Built lazily once; the search engine reuses the same `Jieba` through [`Segmenter::jieba`].

use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

use jieba_rs::{Jieba, KeywordExtract, KeywordExtractConfig, TfIdf};

use crate::skills::SkillTaxonomy;
use crate::text::{lookup_key, normalize_text};
use crate::titles::occupations;

const CURATED_TITLES_TSV: &str = include_str!("../data/titles_curated.tsv");
const SCHOOLS_TXT: &str = include_str!("../data/schools.txt");
const STOPWORDS_TXT: &str = include_str!("../data/stopwords.txt");

/// Frequencies given to user-dictionary words: high enough to beat a split into common words
/// (后端 + 开发 + 工程师), low enough not to swallow ordinary text.
const TITLE_FREQ: usize = 30_000;
const SKILL_FREQ: usize = 20_000;
const SCHOOL_FREQ: usize = 20_000;

/// Common titles beyond CSCO that resumes use, with their most frequent seniority-free forms.
const EXTRA_TITLES: &[&str] = &[
    "后端开发工程师",
    "前端开发工程师",
    "算法工程师",
    "机器学习算法工程师",
    "深度学习算法工程师",
    "产品经理",
    "项目经理",
    "测试开发工程师",
    "数据开发工程师",
    "大数据开发工程师",
    "运维开发工程师",
    "全栈工程师",
    "架构师",
    "技术总监",
    "技术经理",
];

fn school_lines() -> impl Iterator<Item = &'static str> {
    SCHOOLS_TXT
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
}

/// Word for the jieba dictionary: no spaces (the format is space-separated), at least 2 characters.
fn dictionary_word(word: &str) -> Option<String> {
    let word = normalize_text(word);
    let word = word.trim();
    (word.chars().count() >= 2 && !word.contains(char::is_whitespace)).then(|| word.to_string())
}

/// The user dictionary in jieba's format ("word freq tag" lines), for engines that build their own jieba.
pub fn user_dictionary() -> &'static str {
    static DICT: OnceLock<String> = OnceLock::new();
    DICT.get_or_init(|| {
        let mut seen = HashSet::new();
        let mut out = String::new();
        let mut push = |word: &str, freq: usize, tag: &str| {
            if let Some(word) = dictionary_word(word)
                && seen.insert(word.clone())
            {
                out.push_str(&format!("{word} {freq} {tag}\n"));
            }
        };
        for title in EXTRA_TITLES {
            push(title, TITLE_FREQ, "n");
        }
        for line in CURATED_TITLES_TSV.lines().filter(|l| !l.starts_with('#')) {
            if let Some((title, _)) = line.split_once('\t') {
                push(title, TITLE_FREQ, "n");
            }
        }
        for occupation in occupations() {
            push(&occupation.name, TITLE_FREQ, "n");
            for alias in &occupation.aliases {
                // Aliases like "Java" or "C/C++" are skills, not titles; keep Chinese ones.
                if !alias.is_ascii() && !alias.contains(['/', '(', '（']) {
                    push(alias, TITLE_FREQ, "n");
                }
            }
        }
        for skill in SkillTaxonomy::builtin().skills() {
            for name in std::iter::once(&skill.name)
                .chain(skill.name_zh.iter())
                .chain(skill.aliases.iter())
            {
                push(name, SKILL_FREQ, "nz");
            }
        }
        for line in school_lines() {
            for name in line.split('|') {
                push(name, SCHOOL_FREQ, "nt");
            }
        }
        out
    })
}

/// Known schools (for resume parsing: is this line a school name?).
pub fn is_known_school(name: &str) -> bool {
    static SCHOOLS: OnceLock<HashSet<String>> = OnceLock::new();
    let schools = SCHOOLS.get_or_init(|| {
        school_lines()
            .flat_map(|line| line.split('|'))
            .map(lookup_key)
            .filter(|k| !k.is_empty())
            .collect()
    });
    let key = lookup_key(name);
    schools.contains(&key) || schools.contains(key.trim_end_matches(['.', ',', '，', '。']))
}

pub struct Segmenter {
    jieba: Jieba,
    tfidf: TfIdf,
    stopwords: HashSet<String>,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segmenter")
            .field("stopwords", &self.stopwords.len())
            .finish()
    }
}

impl Segmenter {
    pub fn builtin() -> &'static Segmenter {
        static BUILTIN: OnceLock<Segmenter> = OnceLock::new();
        BUILTIN.get_or_init(Segmenter::build)
    }

    fn build() -> Segmenter {
        let mut jieba = Jieba::new();
        for line in user_dictionary().lines() {
            let mut fields = line.split(' ');
            if let (Some(word), Some(freq), tag) = (fields.next(), fields.next(), fields.next()) {
                jieba.add_word(word, freq.parse().ok(), tag);
            }
        }
        let stopwords: HashSet<String> = STOPWORDS_TXT
            .lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(str::split_whitespace)
            .map(str::to_lowercase)
            .collect();
        let mut tfidf = TfIdf::default();
        let mut config = KeywordExtractConfig::builder();
        for word in &stopwords {
            config = config.add_stop_word(word.clone());
        }
        *tfidf.config_mut() = config.build();
        Segmenter {
            jieba,
            tfidf,
            stopwords,
        }
    }

    /// Words, punctuation/whitespace dropped.
    pub fn cut(&self, text: &str) -> Vec<String> {
        self.segment(text, false)
    }

    /// Search mode: also the sub-words of long words (工程师 inside 后端开发工程师).
    pub fn cut_for_search(&self, text: &str) -> Vec<String> {
        self.segment(text, true)
    }

    fn segment(&self, text: &str, search: bool) -> Vec<String> {
        let text = normalize_text(text);
        let mut out = Vec::new();
        for piece in split_numeric_spans(&text) {
            match piece {
                Piece::Numeric(token) => out.push(token.to_string()),
                Piece::Text(segment) => {
                    let tokens = if search {
                        self.jieba.cut_for_search(segment, true)
                    } else {
                        self.jieba.cut(segment, true)
                    };
                    out.extend(
                        tokens
                            .into_iter()
                            .map(|t| t.word.trim())
                            .filter(|w| is_word(w))
                            .map(str::to_string),
                    );
                }
            }
        }
        out
    }

    /// TF-IDF keywords with resume boilerplate (负责, 参与, 熟悉, responsible, experience...) removed,
    /// top `k` with weights, highest first.
    pub fn keywords(&self, text: &str, k: usize) -> Vec<(String, f64)> {
        if k == 0 {
            return Vec::new();
        }
        let text = normalize_text(text);
        self.tfidf
            .extract_keywords(
                &self.jieba,
                &text,
                k.saturating_mul(2).saturating_add(10),
                Vec::new(),
            )
            .into_iter()
            .filter(|kw| is_word(&kw.keyword))
            .filter(|kw| !self.stopwords.contains(&kw.keyword.to_lowercase()))
            .filter(|kw| {
                !kw.keyword
                    .chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_punctuation())
            })
            .take(k)
            .map(|kw| (kw.keyword, kw.weight))
            .collect()
    }

    pub fn jieba(&self) -> &Jieba {
        &self.jieba
    }

    /// The stopword list used by [`Segmenter::keywords`] (lowercase).
    pub fn stopwords(&self) -> BTreeSet<&str> {
        self.stopwords.iter().map(String::as_str).collect()
    }
}

fn is_word(token: &str) -> bool {
    token.chars().any(char::is_alphanumeric)
}

enum Piece<'a> {
    Text(&'a str),
    Numeric(&'a str),
}

/// Splits out dates, date ranges and phone numbers ("2019.03-至今", "2019年3月", "138-0013-8000",
/// "+86 13800138000" keeps "+86" apart) so jieba does not cut them digit by digit.
fn split_numeric_spans(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < text.len() {
        let starts_number = bytes[i].is_ascii_digit()
            || (bytes[i] == b'+' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        let glued_to_word =
            i > 0 && (bytes[i - 1].is_ascii_alphabetic() || bytes[i - 1].is_ascii_digit());
        if starts_number && !glued_to_word {
            let end = numeric_span_end(text, i);
            let span = &text[i..end];
            if span.chars().filter(char::is_ascii_digit).count() >= 4 {
                if text_start < i {
                    pieces.push(Piece::Text(&text[text_start..i]));
                }
                pieces.push(Piece::Numeric(span));
                text_start = end;
                i = end;
                continue;
            }
            i = end.max(i + 1);
            continue;
        }
        i += text[i..].chars().next().map_or(1, char::len_utf8);
    }
    if text_start < text.len() {
        pieces.push(Piece::Text(&text[text_start..]));
    }
    pieces
}

/// End of a run of digits joined by date/phone punctuation, with 年/月/日 units and a trailing
/// "至今"/"今"/"present" after a range dash.
fn numeric_span_end(text: &str, start: usize) -> usize {
    let mut end = start;
    let chars = text[start..].char_indices().peekable();
    let mut last_was_digit = false;
    for (offset, ch) in chars {
        let at = start + offset;
        if ch.is_ascii_digit() || (ch == '+' && offset == 0) {
            last_was_digit = ch.is_ascii_digit();
            end = at + ch.len_utf8();
        } else if matches!(ch, '年' | '月' | '日') && last_was_digit {
            last_was_digit = false;
            end = at + ch.len_utf8();
        } else if matches!(ch, '.' | '-' | '/') {
            let rest = &text[at + 1..];
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                last_was_digit = false;
                continue;
            }
            if ch == '-' {
                for word in ["至今", "今", "present", "Present", "now", "Now"] {
                    if rest.starts_with(word) {
                        return at + 1 + word.len();
                    }
                }
            }
            break;
        } else {
            break;
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_spans_stay_whole() {
        let spans: Vec<&str> =
            split_numeric_spans("2019.03-至今 在 2018年3月-2019年5月, 电话13800138000 共3年")
                .into_iter()
                .filter_map(|p| match p {
                    Piece::Numeric(s) => Some(s),
                    Piece::Text(_) => None,
                })
                .collect();
        assert_eq!(
            spans,
            vec!["2019.03-至今", "2018年3月-2019年5月", "13800138000"]
        );
    }

    #[test]
    fn schools_are_known_by_any_name() {
        assert!(is_known_school("清华大学"));
        assert!(is_known_school("Tsinghua University"));
        assert!(is_known_school("  tsinghua university "));
        assert!(is_known_school("ＭＩＴ"));
        assert!(is_known_school("香港中文大学（深圳）"));
        assert!(!is_known_school("某某培训中心"));
        assert!(!is_known_school(""));
    }

    #[test]
    fn dictionary_has_titles_skills_and_schools() {
        let dict = user_dictionary();
        assert!(dict.lines().any(|l| l.starts_with("后端开发工程师 ")));
        assert!(dict.lines().any(|l| l.starts_with("机器学习 ")));
        assert!(dict.lines().any(|l| l.starts_with("北京航空航天大学 ")));
        assert!(dict.lines().all(|l| l.split(' ').count() == 3));
    }
}
