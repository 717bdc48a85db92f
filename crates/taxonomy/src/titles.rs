//! Job-title normalisation onto the Chinese Standard Classification of Occupations (CSCO 2022).
//!
//! Titles in job posts are noisy ("江川右餐饮服务中心招聘服务员", "算法工程师（青岛）"). The matcher
//! cleans the title (brackets, recruiting boilerplate), splits it into parts, and scores every
//! known name or alias found inside a part, preferring exact matches, then long aliases at the end
//! of the part (Chinese titles are head-final: 高级模具工程师 → 模具工程师). Pure lookup, no I/O.

use std::collections::HashMap;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::text::lookup_key;

const CSCO_TSV: &str = include_str!("../data/csco_titles.tsv");
const CURATED_TITLES_TSV: &str = include_str!("../data/titles_curated.tsv");

/// A CSCO occupation chosen for a title. `score` is 1.0 for an exact name/alias match and lower
/// for partial matches.
#[derive(Clone, Debug, PartialEq)]
pub struct TitleMatch {
    pub code: String,
    pub name: String,
    pub score: f32,
}

/// Below this the title is considered unrecognised.
const MIN_SCORE: f32 = 0.2;

/// Words that say something about the offer, not the occupation.
const NOISE: &[&str] = &[
    "急招",
    "直招",
    "急聘",
    "诚聘",
    "高薪",
    "包吃住",
    "包住",
    "包吃",
    "五险一金",
    "五险",
    "六险一金",
    "双休",
    "单休",
    "底薪",
    "提成",
    "月薪",
    "年薪",
    "过万",
    "不限经验",
    "无经验",
    "可实习",
    "应届生",
    "应届",
    "长期",
    "短期",
    "周结",
    "日结",
    "月结",
    "兼职",
    "全职",
    "实习生",
    "实习",
    "储备",
    "方向",
    "岗位",
    "职位",
];
/// Seniority words that do not change the occupation.
const SENIORITY: &[&str] = &[
    "资深",
    "高级",
    "中级",
    "初级",
    "首席",
    "senior",
    "junior",
    "sr.",
    "jr.",
    "lead",
    "staff",
    "principal",
];

pub(crate) struct Occupation {
    pub(crate) code: String,
    pub(crate) name: String,
    pub(crate) aliases: Vec<String>,
}

struct TitleIndex {
    occupations: Vec<Occupation>,
    exact: HashMap<String, usize>,
    keys: Vec<(String, usize)>,
    matcher: AhoCorasick,
}

/// CSCO marks some names with S (digital) / L (green) suffixes; they are not part of the name.
fn strip_marks(name: &str) -> &str {
    let trimmed = name.trim();
    for mark in ["L/S", "S", "L"] {
        if let Some(rest) = trimmed.strip_suffix(mark)
            && rest.chars().last().is_some_and(|c| !c.is_ascii())
        {
            return rest;
        }
    }
    trimmed
}

pub(crate) fn occupations() -> &'static [Occupation] {
    &index().occupations
}

/// Every CSCO 2022 entry as (code, standard name, aliases), in the table's order: major
/// groups (`2-00-00-00`), middle groups (`2-02-00-00`), minor groups and occupations.
pub fn csco_entries() -> impl Iterator<Item = (&'static str, &'static str, &'static [String])> {
    occupations()
        .iter()
        .map(|o| (o.code.as_str(), o.name.as_str(), o.aliases.as_slice()))
}

/// The standard name of a CSCO code (`2-02-10-03`), if the table has it.
pub fn csco_name(code: &str) -> Option<&'static str> {
    occupations()
        .iter()
        .find(|o| o.code == code)
        .map(|o| o.name.as_str())
}

fn index() -> &'static TitleIndex {
    static INDEX: OnceLock<TitleIndex> = OnceLock::new();
    INDEX.get_or_init(build_index)
}

fn build_index() -> TitleIndex {
    let mut occupations = Vec::new();
    let mut by_code: HashMap<String, usize> = HashMap::new();
    for line in CSCO_TSV.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [code, _level, name, aliases] = cols[..] else {
            continue;
        };
        by_code.insert(code.to_string(), occupations.len());
        occupations.push(Occupation {
            code: code.to_string(),
            name: strip_marks(name).to_string(),
            aliases: aliases
                .split('|')
                .map(strip_marks)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect(),
        });
    }

    let mut exact: HashMap<String, usize> = HashMap::new();
    // Hand-written titles first: they are the most specific.
    for line in CURATED_TITLES_TSV.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some((title, code)) = line.split_once('\t')
            && let Some(&occ) = by_code.get(code.trim())
        {
            exact.entry(lookup_key(title)).or_insert(occ);
        }
    }
    // Then standard names, then aliases (an alias listed under several codes keeps the first).
    for (i, occ) in occupations.iter().enumerate() {
        exact.entry(lookup_key(&occ.name)).or_insert(i);
    }
    for (i, occ) in occupations.iter().enumerate() {
        for alias in &occ.aliases {
            exact.entry(lookup_key(alias)).or_insert(i);
        }
    }

    // Parts of slash-joined aliases ("店员/营业员", "招聘专员/助理") as weaker keys.
    for (i, occ) in occupations.iter().enumerate() {
        for alias in &occ.aliases {
            for piece in alias.split(['/', '、']).filter(|p| p.chars().count() >= 2) {
                exact.entry(lookup_key(piece)).or_insert(i);
            }
        }
    }

    let keys: Vec<(String, usize)> = exact
        .iter()
        .filter(|(k, _)| k.chars().count() >= 2)
        .map(|(k, &v)| (k.clone(), v))
        .collect();
    // Sorted so ties between equally good keys resolve the same way on every run.
    let mut keys = keys;
    keys.sort();
    let matcher = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(keys.iter().map(|(k, _)| k.as_str()))
        .unwrap_or_else(|e| panic!("the embedded title patterns must build: {e}"));
    TitleIndex {
        occupations,
        exact,
        keys,
        matcher,
    }
}

/// Removes bracketed remarks, recruiting boilerplate and anything before "招聘".
fn clean_title(title: &str) -> String {
    let key = lookup_key(title);
    let mut without_brackets = String::with_capacity(key.len());
    let mut depth = 0usize;
    let mut inside = String::new();
    for ch in key.chars() {
        match ch {
            '(' | '[' | '【' | '<' | '《' | '{' => depth += 1,
            ')' | ']' | '】' | '>' | '》' | '}' => depth = depth.saturating_sub(1),
            c if depth > 0 => inside.push(c),
            c => without_brackets.push(c),
        }
    }
    let mut text = if without_brackets.trim().is_empty() {
        inside
    } else {
        without_brackets
    };
    for verb in ["招聘", "诚聘", "急聘", "急招", "直招", "聘"] {
        if let Some(pos) = text.rfind(verb) {
            let after = &text[pos + verb.len()..];
            if after.chars().count() >= 2 {
                text = after.to_string();
                break;
            }
        }
    }
    for noise in NOISE {
        text = text.replace(noise, " ");
    }
    text
}

fn strip_seniority(part: &str) -> &str {
    let mut part = part.trim();
    loop {
        let before = part;
        for word in SENIORITY {
            if let Some(rest) = part.strip_prefix(word) {
                part = rest.trim_start();
            }
        }
        if before == part {
            return part;
        }
    }
}

/// Job-title normalisation onto CSCO 2022 (code + standard name), from exact/alias/fuzzy keyword
/// match; None when nothing fits.
pub fn normalize_title(title: &str) -> Option<TitleMatch> {
    let index = index();
    let occupation_match = |occ: usize, score: f32| {
        let o = &index.occupations[occ];
        TitleMatch {
            code: o.code.clone(),
            name: o.name.clone(),
            score,
        }
    };

    let raw_key = lookup_key(title);
    if let Some(&occ) = index.exact.get(&raw_key) {
        return Some(occupation_match(occ, 1.0));
    }

    let cleaned = clean_title(title);
    let mut parts: Vec<&str> = cleaned
        .split(|c: char| {
            matches!(
                c,
                '/' | '、' | '|' | ',' | '，' | '+' | ';' | '&' | '-' | '_'
            ) || c.is_whitespace()
        })
        .map(strip_seniority)
        .filter(|p| !p.is_empty())
        .collect();
    let whole = cleaned.split_whitespace().collect::<String>();
    parts.push(strip_seniority(&whole));

    let mut best: Option<(f32, usize, usize)> = None; // (score, key chars, occupation)
    for part in &parts {
        if let Some(&occ) = index.exact.get(*part) {
            return Some(occupation_match(occ, 1.0));
        }
        let part_chars = part.chars().count().max(1) as f32;
        for m in index.matcher.find_overlapping_iter(*part) {
            let (_, occ) = index.keys[m.pattern().as_usize()];
            let key_chars = part[m.start()..m.end()].chars().count();
            let coverage = key_chars as f32 / part_chars;
            let at_end = m.end() == part.len();
            let score = 0.95 * coverage.min(1.0) * if at_end { 1.0 } else { 0.75 };
            let better = match best {
                None => true,
                Some((s, k, _)) => score > s + 1e-6 || ((score - s).abs() <= 1e-6 && key_chars > k),
            };
            if better {
                best = Some((score, key_chars, occ));
            }
        }
    }
    match best {
        Some((score, _, occ)) if score >= MIN_SCORE => Some(occupation_match(occ, score)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_and_aliases_score_one() {
        let m = normalize_title("算法工程师").expect("known title");
        assert_eq!(m.code, "2-02-38-01");
        assert_eq!(m.name, "人工智能工程技术人员");
        assert_eq!(m.score, 1.0);
        assert_eq!(
            normalize_title("焊工").map(|m| m.code),
            Some("6-18-02-04".to_string())
        );
    }

    #[test]
    fn noisy_titles_find_their_occupation() {
        assert_eq!(
            normalize_title("算法工程师（青岛）").map(|m| m.code),
            Some("2-02-38-01".to_string())
        );
        assert_eq!(
            normalize_title("江川右餐饮服务中心招聘服务员").map(|m| m.code),
            Some("4-03-02-05".to_string())
        );
        assert_eq!(
            normalize_title("高级后端开发工程师").map(|m| m.code),
            Some("2-02-10-03".to_string())
        );
        assert_eq!(
            normalize_title("Senior 产品经理").map(|m| m.code),
            Some("2-02-34-01".to_string())
        );
    }

    #[test]
    fn nonsense_is_not_matched() {
        assert_eq!(normalize_title(""), None);
        assert_eq!(normalize_title("！！！"), None);
        assert_eq!(normalize_title("zzzz qqqq"), None);
    }

    #[test]
    fn marks_are_stripped_from_names() {
        assert_eq!(strip_marks("人工智能工程技术人员S"), "人工智能工程技术人员");
        assert_eq!(strip_marks("物流工程技术人员L/S"), "物流工程技术人员");
        assert_eq!(strip_marks("SRE"), "SRE");
    }
}
