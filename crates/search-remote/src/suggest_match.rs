//! Decides whether a counted value (a title, a skill, a name) is a completion of the typed
//! prefix: one of its words starts with the prefix (case-insensitively), or, for prefixes of
//! 5+ characters, nearly does (edit distance 1; 2 from 9 characters). Text in CJK scripts has
//! no spaces, so every CJK character starts a "word" there.

use crate::query_syntax::{FUZZY_MIN_CHARS, FUZZY_TWO_EDITS_CHARS};
use looma_taxonomy::is_cjk;

pub fn value_matches_prefix(value: &str, prefix: &str) -> bool {
    let prefix: Vec<char> = prefix.trim().to_lowercase().chars().collect();
    if prefix.is_empty() {
        return false;
    }
    let value: Vec<char> = value.to_lowercase().chars().collect();
    let allowed_edits = if prefix.len() >= FUZZY_TWO_EDITS_CHARS {
        2
    } else if prefix.len() >= FUZZY_MIN_CHARS {
        1
    } else {
        0
    };
    word_starts(&value).any(|start| {
        let rest = &value[start..];
        if rest.starts_with(&prefix) {
            return true;
        }
        allowed_edits > 0 && prefix_distance(&prefix, rest) <= allowed_edits
    })
}

fn word_starts(value: &[char]) -> impl Iterator<Item = usize> + '_ {
    (0..value.len()).filter(move |&i| {
        let c = value[i];
        if !c.is_alphanumeric() {
            return false;
        }
        i == 0 || is_cjk(c) || !value[i - 1].is_alphanumeric() || is_cjk(value[i - 1])
    })
}

/// The smallest edit distance between `prefix` and any prefix of `text`.
fn prefix_distance(prefix: &[char], text: &[char]) -> usize {
    // Levenshtein rows over `text`; the answer is the minimum of the last row.
    let mut previous: Vec<usize> = (0..=text.len()).collect();
    for (i, &p) in prefix.iter().enumerate() {
        let mut current = Vec::with_capacity(text.len() + 1);
        current.push(i + 1);
        for (j, &t) in text.iter().enumerate() {
            let substitution = previous[j] + usize::from(p != t);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous.into_iter().min().unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_word_may_start_with_the_prefix() {
        assert!(value_matches_prefix("Senior Rust Engineer", "rust"));
        assert!(value_matches_prefix("Senior Rust Engineer", "Senior Ru"));
        assert!(!value_matches_prefix("Trusty", "rust"));
        assert!(!value_matches_prefix("Python", "ru"));
        assert!(!value_matches_prefix("Rust", "  "));
    }

    #[test]
    fn chinese_matches_at_any_character() {
        assert!(value_matches_prefix("高级后端工程师", "工程"));
        assert!(value_matches_prefix("Java开发工程师", "开发"));
        assert!(!value_matches_prefix("产品经理", "工程"));
    }

    #[test]
    fn long_prefixes_tolerate_typos() {
        assert!(value_matches_prefix("Kubernetes", "kubrn"));
        assert!(value_matches_prefix("Kubernetes", "kuberntes"));
        assert!(!value_matches_prefix("Kubernetes", "kbrn"));
        assert!(!value_matches_prefix("Elasticsearch", "elxxtic"));
    }
}
