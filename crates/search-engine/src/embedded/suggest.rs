//! In-memory completion dictionary for one collection: titles, skills and names with the number
//! of documents carrying each, looked up by the start of any of their words.
//!
//! Every suggestion text is entered under one key per word start (lowercased text from that
//! word on), so "Senior Backend Engineer" is found by `sen`, `back` and `eng`, and 机器学习工程师 by
//! 机器 and 工程. Keys live in a sorted set: an exact prefix lookup is a range scan, and the typo
//! tolerant lookup walks the same set with a Levenshtein automaton, skipping every branch the
//! automaton has rejected.
//!
//! The table is rebuilt from the stored documents when an index opens and kept current by the
//! writer; it does no I/O.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::sync::LazyLock;

use levenshtein_automata::{Distance, LevenshteinAutomatonBuilder, SINK_STATE};

use crate::embedded::analyzer::Segmenter;
use crate::{Suggestion, SuggestionKind};

/// Keys are cut to this many bytes: longer prefixes are not typed into a search box.
const MAX_KEY_BYTES: usize = 64;
/// Suggestion texts longer than this are not suggested (a title that long is content).
const MAX_SUGGESTION_CHARS: usize = 120;
/// Prefixes of at least this many characters also match at edit distance 1.
pub(crate) const TYPO_TOLERANT_PREFIX_CHARS: usize = 4;

static ONE_TYPO: LazyLock<LevenshteinAutomatonBuilder> =
    LazyLock::new(|| LevenshteinAutomatonBuilder::new(1, true));

/// The suggestion texts one document contributes, remembered so that replacing or deleting the
/// document can take its contribution back.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SuggestionSource {
    pub(crate) texts: Vec<(SuggestionKind, String)>,
}

impl SuggestionSource {
    pub(crate) fn new(title: &str, skills: &[String], name: Option<&str>) -> SuggestionSource {
        let mut texts: Vec<(SuggestionKind, String)> = Vec::new();
        let mut push = |kind: SuggestionKind, text: &str| {
            let text = text.trim();
            if !text.is_empty() && text.chars().count() <= MAX_SUGGESTION_CHARS {
                let entry = (kind, text.to_string());
                if !texts.contains(&entry) {
                    texts.push(entry);
                }
            }
        };
        push(SuggestionKind::Title, title);
        for skill in skills {
            push(SuggestionKind::Skill, skill);
        }
        if let Some(name) = name {
            push(SuggestionKind::Name, name);
        }
        SuggestionSource { texts }
    }
}

struct Entry {
    kind: SuggestionKind,
    text: String,
    count: u64,
}

/// Completion dictionary of one collection.
pub(crate) struct SuggestionTable {
    segmenter: Segmenter,
    entries: Vec<Entry>,
    by_text: HashMap<(SuggestionKind, String), u32>,
    free_slots: Vec<u32>,
    keys: BTreeSet<(Vec<u8>, u32)>,
    /// What each document contributed, by document id.
    sources: HashMap<String, SuggestionSource>,
}

impl SuggestionTable {
    pub(crate) fn new(segmenter: Segmenter) -> SuggestionTable {
        SuggestionTable {
            segmenter,
            entries: Vec::new(),
            by_text: HashMap::new(),
            free_slots: Vec::new(),
            keys: BTreeSet::new(),
            sources: HashMap::new(),
        }
    }

    pub(crate) fn clear(&mut self) {
        *self = SuggestionTable::new(self.segmenter.clone());
    }

    /// Records `source` as the contribution of document `id`, replacing what it contributed before.
    pub(crate) fn put(&mut self, id: &str, source: SuggestionSource) {
        self.remove(id);
        for (kind, text) in &source.texts {
            self.increment(*kind, text);
        }
        self.sources.insert(id.to_string(), source);
    }

    pub(crate) fn remove(&mut self, id: &str) {
        if let Some(previous) = self.sources.remove(id) {
            for (kind, text) in &previous.texts {
                self.decrement(*kind, text);
            }
        }
    }

    fn increment(&mut self, kind: SuggestionKind, text: &str) {
        if let Some(&slot) = self.by_text.get(&(kind, text.to_string())) {
            self.entries[slot as usize].count += 1;
            return;
        }
        let entry = Entry {
            kind,
            text: text.to_string(),
            count: 1,
        };
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.entries[slot as usize] = entry;
                slot
            }
            None => {
                self.entries.push(entry);
                (self.entries.len() - 1) as u32
            }
        };
        self.by_text.insert((kind, text.to_string()), slot);
        for key in self.keys_of(text) {
            self.keys.insert((key, slot));
        }
    }

    fn decrement(&mut self, kind: SuggestionKind, text: &str) {
        let Some(&slot) = self.by_text.get(&(kind, text.to_string())) else {
            return;
        };
        let entry = &mut self.entries[slot as usize];
        entry.count = entry.count.saturating_sub(1);
        if entry.count == 0 {
            entry.text.clear();
            self.by_text.remove(&(kind, text.to_string()));
            for key in self.keys_of(text) {
                self.keys.remove(&(key, slot));
            }
            self.free_slots.push(slot);
        }
    }

    fn keys_of(&self, text: &str) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = self
            .segmenter
            .word_starts(text)
            .into_iter()
            .map(|start| normalize_key(&text[start..]))
            .filter(|key| !key.is_empty())
            .collect();
        keys.dedup();
        keys
    }

    /// Completions for `prefix`: exact prefix matches first, then (for prefixes of
    /// [`TYPO_TOLERANT_PREFIX_CHARS`]+ characters) matches at edit distance 1; each group most
    /// frequent first, ties by text.
    pub(crate) fn suggest(
        &self,
        prefix: &str,
        kinds: &[SuggestionKind],
        limit: usize,
    ) -> Vec<Suggestion> {
        let prefix = normalize_key(prefix);
        if prefix.is_empty() || limit == 0 {
            return Vec::new();
        }
        let wanted = |slot: u32| {
            let entry = &self.entries[slot as usize];
            entry.count > 0 && (kinds.is_empty() || kinds.contains(&entry.kind))
        };
        let mut exact: HashSet<u32> = HashSet::new();
        let start = (prefix.clone(), 0u32);
        for (key, slot) in self.keys.range((Bound::Included(start), Bound::Unbounded)) {
            if !key.starts_with(&prefix) {
                break;
            }
            if wanted(*slot) {
                exact.insert(*slot);
            }
        }
        let mut ranked = self.rank(exact.iter().copied(), limit);
        let prefix_chars = String::from_utf8_lossy(&prefix).chars().count();
        if ranked.len() < limit && prefix_chars >= TYPO_TOLERANT_PREFIX_CHARS {
            let typo: Vec<u32> = self
                .typo_matches(&prefix)
                .into_iter()
                .filter(|slot| !exact.contains(slot) && wanted(*slot))
                .collect();
            ranked.extend(self.rank(typo.into_iter(), limit - ranked.len()));
        }
        ranked
    }

    fn rank(&self, slots: impl Iterator<Item = u32>, limit: usize) -> Vec<Suggestion> {
        let mut found: Vec<&Entry> = slots.map(|slot| &self.entries[slot as usize]).collect();
        found.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.text.cmp(&b.text)));
        found
            .into_iter()
            .take(limit)
            .map(|entry| Suggestion {
                text: entry.text.clone(),
                kind: entry.kind,
                count: entry.count,
            })
            .collect()
    }

    /// Entries with a key that starts with something within edit distance 1 of `prefix`.
    fn typo_matches(&self, prefix: &[u8]) -> HashSet<u32> {
        let Ok(prefix_text) = std::str::from_utf8(prefix) else {
            return HashSet::new();
        };
        let automaton = ONE_TYPO.build_prefix_dfa(prefix_text);
        let mut found = HashSet::new();
        let mut lower: Bound<(Vec<u8>, u32)> = Bound::Unbounded;
        while let Some((key, slot)) = self.keys.range((lower.clone(), Bound::Unbounded)).next() {
            let mut state = automaton.initial_state();
            let mut rejected_at = None;
            for (index, byte) in key.iter().enumerate() {
                state = automaton.transition(state, *byte);
                if state == SINK_STATE {
                    rejected_at = Some(index);
                    break;
                }
            }
            match rejected_at {
                Some(index) => match successor(&key[..=index]) {
                    // Every key sharing the rejected bytes is rejected too: jump past them.
                    Some(next) => lower = Bound::Included((next, 0)),
                    None => break,
                },
                None => {
                    if matches!(automaton.distance(state), Distance::Exact(_)) {
                        found.insert(*slot);
                    }
                    lower = Bound::Excluded((key.clone(), *slot));
                }
            }
        }
        found
    }
}

fn normalize_key(text: &str) -> Vec<u8> {
    let lowered = text.trim().to_lowercase();
    let mut end = lowered.len().min(MAX_KEY_BYTES);
    while !lowered.is_char_boundary(end) {
        end -= 1;
    }
    lowered.as_bytes()[..end].to_vec()
}

/// The smallest byte string greater than every string starting with `prefix`.
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut next = prefix.to_vec();
    while let Some(last) = next.pop() {
        if last < u8::MAX {
            next.push(last + 1);
            return Some(next);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> SuggestionTable {
        let mut table = SuggestionTable::new(Segmenter::new(None).expect("dictionary"));
        let skills = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        table.put(
            "1",
            SuggestionSource::new(
                "Senior Backend Engineer",
                &skills(&["Kubernetes", "Java"]),
                Some("Li Lei"),
            ),
        );
        table.put(
            "2",
            SuggestionSource::new(
                "机器学习工程师",
                &skills(&["机器学习", "Python"]),
                Some("韩梅梅"),
            ),
        );
        table.put(
            "3",
            SuggestionSource::new("Backend Developer", &skills(&["Java", "Kafka"]), None),
        );
        table
    }

    fn texts(found: &[Suggestion]) -> Vec<&str> {
        found.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn prefix_of_any_word_matches_and_most_frequent_ranks_first() {
        let table = table();
        let found = table.suggest("ja", &[], 10);
        assert_eq!(texts(&found), vec!["Java"]);
        assert_eq!(found[0].count, 2);
        let found = table.suggest("back", &[SuggestionKind::Title], 10);
        assert_eq!(
            texts(&found),
            vec!["Backend Developer", "Senior Backend Engineer"]
        );
    }

    #[test]
    fn chinese_prefix_and_kinds() {
        let table = table();
        let found = table.suggest("机器", &[SuggestionKind::Skill], 10);
        assert_eq!(texts(&found), vec!["机器学习"]);
        let found = table.suggest("机器", &[], 10);
        assert_eq!(found.len(), 2);
        assert!(table.suggest("li", &[SuggestionKind::Skill], 10).is_empty());
        assert_eq!(
            texts(&table.suggest("li", &[SuggestionKind::Name], 10)),
            vec!["Li Lei"]
        );
    }

    #[test]
    fn typo_in_long_prefix_is_tolerated_after_exact_matches() {
        let table = table();
        assert_eq!(texts(&table.suggest("kuber", &[], 10)), vec!["Kubernetes"]);
        assert_eq!(texts(&table.suggest("kubre", &[], 10)), vec!["Kubernetes"]);
        assert_eq!(
            texts(&table.suggest("kibernetes", &[], 10)),
            vec!["Kubernetes"]
        );
        assert!(table.suggest("kbe", &[], 10).is_empty());
    }

    #[test]
    fn replacing_and_removing_documents_updates_counts() {
        let mut table = table();
        table.put("3", SuggestionSource::new("Data Engineer", &[], None));
        assert_eq!(table.suggest("java", &[], 10)[0].count, 1);
        assert!(table.suggest("kafka", &[], 10).is_empty());
        table.remove("1");
        assert!(table.suggest("java", &[], 10).is_empty());
        assert_eq!(texts(&table.suggest("eng", &[], 10)), vec!["Data Engineer"]);
    }
}
