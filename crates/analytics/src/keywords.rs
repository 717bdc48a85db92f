//! Keywords of a text: TF-IDF over jieba for Chinese (the taxonomy's `Segmenter`, which keeps
//! skills, titles and schools whole), and for other text phrases of content words scored by
//! how they co-occur (RAKE: a word's degree over its frequency, summed over the phrase).

use std::collections::HashMap;

use looma_taxonomy::Segmenter;

use crate::language::ENGLISH_FUNCTION_WORDS;

/// A keyword and its weight, the best of a text weighing 1.0.
#[derive(Clone, Debug, PartialEq)]
pub struct Keyword {
    pub term: String,
    pub weight: f32,
}

/// Longest phrase kept, in words.
const MAX_PHRASE_WORDS: usize = 3;

/// The top `k` keywords of `text` written in `language` (an ISO 639-1 code).
pub fn keywords(text: &str, language: &str, k: usize) -> Vec<Keyword> {
    if k == 0 {
        return Vec::new();
    }
    let scored: Vec<(String, f64)> = if language == "zh" {
        Segmenter::builtin().keywords(text, k)
    } else {
        phrase_keywords(text, k)
    };
    let top = scored.first().map_or(1.0, |(_, w)| *w).max(f64::EPSILON);
    scored
        .into_iter()
        .map(|(term, weight)| Keyword {
            term,
            weight: (weight / top) as f32,
        })
        .collect()
}

fn phrase_keywords(text: &str, k: usize) -> Vec<(String, f64)> {
    let boilerplate = Segmenter::builtin().stopwords();
    let is_stop = |word: &str| ENGLISH_FUNCTION_WORDS.contains(&word) || boilerplate.contains(word);
    // Phrases: runs of content words inside one clause (punctuation ends a phrase).
    let mut phrases: Vec<Vec<String>> = Vec::new();
    for clause in text.split(|c: char| ".,;:!?()[]{}\"|/\n\t•·–—".contains(c)) {
        let mut current: Vec<String> = Vec::new();
        for raw in clause.split_whitespace() {
            let word = raw
                .trim_matches(|c: char| !c.is_alphanumeric() && c != '+' && c != '#')
                .to_lowercase();
            let content = word.chars().count() >= 2
                && word.chars().any(char::is_alphabetic)
                && !is_stop(&word);
            if content && current.len() < MAX_PHRASE_WORDS {
                current.push(word);
            } else {
                if !current.is_empty() {
                    phrases.push(std::mem::take(&mut current));
                }
                if content {
                    current.push(word);
                }
            }
        }
        if !current.is_empty() {
            phrases.push(current);
        }
    }
    let mut frequency: HashMap<&str, f64> = HashMap::new();
    let mut degree: HashMap<&str, f64> = HashMap::new();
    for phrase in &phrases {
        for word in phrase {
            *frequency.entry(word).or_default() += 1.0;
            *degree.entry(word).or_default() += phrase.len() as f64;
        }
    }
    let mut scores: HashMap<String, f64> = HashMap::new();
    for phrase in &phrases {
        let score: f64 = phrase
            .iter()
            .map(|w| degree[w.as_str()] / frequency[w.as_str()])
            .sum();
        // A phrase seen several times counts more, but not linearly.
        *scores.entry(phrase.join(" ")).or_default() += score;
    }
    let mut ranked: Vec<(String, f64)> = scores.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(k);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str, language: &str) -> Vec<String> {
        keywords(text, language, 5)
            .into_iter()
            .map(|k| k.term)
            .collect()
    }

    #[test]
    fn english_phrases_skip_function_words_and_boilerplate() {
        let found = terms(
            "Responsible for the payment platform. Built the payment platform with Rust and \
             Kafka; led the migration to Kubernetes.",
            "en",
        );
        assert_eq!(found[0], "payment platform", "{found:?}");
        assert!(found.iter().any(|t| t.contains("kubernetes")), "{found:?}");
        assert!(
            !found.iter().any(|t| t == "the" || t == "responsible"),
            "{found:?}"
        );
    }

    #[test]
    fn chinese_keywords_keep_domain_words_whole() {
        let found = terms(
            "负责高级后端开发工程师团队的微服务架构设计，使用Kubernetes部署微服务",
            "zh",
        );
        assert!(found.iter().any(|t| t == "微服务"), "{found:?}");
        assert!(!found.iter().any(|t| t == "负责"), "{found:?}");
    }

    #[test]
    fn weights_are_relative_to_the_best() {
        let found = keywords(
            "Rust compilers, Rust tooling and compiler testing",
            "en",
            10,
        );
        assert_eq!(found[0].weight, 1.0);
        assert!(found.iter().all(|k| k.weight > 0.0 && k.weight <= 1.0));
        assert!(keywords("", "en", 10).is_empty());
        assert!(keywords("text", "en", 0).is_empty());
    }
}
