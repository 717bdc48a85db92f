//! Which language a text is written in, from its scripts and, for Latin-script text, the
//! function words it uses. Good enough to route a text (segmenter, classifier scheme, reply
//! language); not a general 100-language identifier.

use looma_taxonomy::is_cjk_ideograph;

/// A detected language: an ISO 639-1 code (`und` when nothing tells) and how sure we are, 0–1.
#[derive(Clone, Debug, PartialEq)]
pub struct Language {
    pub code: &'static str,
    pub confidence: f32,
}

/// Han characters above this share of the letters make a text Chinese: a Chinese sentence with
/// a few English product names ("负责Java和Python开发") is still Chinese.
const HAN_SHARE_FOR_CHINESE: f32 = 0.3;

/// Common function words per Latin-script language (lowercase). English's list is also what
/// the keyword extractor drops.
pub(crate) const ENGLISH_FUNCTION_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his",
    "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most",
    "my", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our",
    "ours", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that",
    "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to",
    "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
];
const FRENCH: &[&str] = &[
    "le", "la", "les", "des", "du", "un", "une", "et", "est", "pour", "dans", "avec", "sur", "pas",
    "que", "qui", "nous", "vous", "au", "aux", "ce", "cette", "sont", "ont", "je",
];
const GERMAN: &[&str] = &[
    "der", "die", "das", "und", "ist", "nicht", "mit", "für", "auf", "ein", "eine", "den", "dem",
    "des", "sich", "auch", "wir", "sie", "ich", "zu", "von", "bei", "oder", "wird", "sind",
];
const SPANISH: &[&str] = &[
    "el", "la", "los", "las", "de", "del", "y", "en", "que", "por", "para", "con", "una", "es",
    "son", "se", "su", "sus", "al", "lo", "como", "pero", "más", "muy", "yo",
];
const PORTUGUESE: &[&str] = &[
    "o", "os", "as", "da", "do", "das", "dos", "e", "em", "que", "para", "com", "uma", "um", "não",
    "é", "na", "no", "nos", "ao", "pelo", "pela", "mais", "seu", "sua",
];

/// Detects the language of `text`. Empty or symbol-only text is `und` with confidence 0.
pub fn detect_language(text: &str) -> Language {
    let mut counts = ScriptCounts::default();
    for ch in text.chars().filter(|c| c.is_alphabetic()) {
        counts.add(ch);
    }
    let letters = counts.total();
    if letters == 0 {
        return Language {
            code: "und",
            confidence: 0.0,
        };
    }
    let share = |n: usize| n as f32 / letters as f32;
    // Kana or Hangul mark Japanese and Korean even beside Han characters.
    if counts.kana > 0 && share(counts.kana + counts.han) >= 0.3 {
        return Language {
            code: "ja",
            confidence: share(counts.kana + counts.han),
        };
    }
    if share(counts.hangul) >= 0.3 {
        return Language {
            code: "ko",
            confidence: share(counts.hangul),
        };
    }
    if share(counts.han) >= HAN_SHARE_FOR_CHINESE {
        return Language {
            code: "zh",
            confidence: (share(counts.han) / 0.6).min(1.0),
        };
    }
    for (n, code) in [
        (counts.cyrillic, "ru"),
        (counts.arabic, "ar"),
        (counts.greek, "el"),
        (counts.hebrew, "he"),
        (counts.devanagari, "hi"),
        (counts.thai, "th"),
    ] {
        if share(n) >= 0.5 {
            return Language {
                code,
                confidence: share(n),
            };
        }
    }
    if share(counts.latin) >= 0.5 {
        return latin_language(text, share(counts.latin));
    }
    Language {
        code: "und",
        confidence: 0.0,
    }
}

/// English or another Latin-script language, by function words; text with none (a job title, a
/// list of skills) is taken for English, less surely.
fn latin_language(text: &str, script_share: f32) -> Language {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .collect();
    let hits = |list: &[&str]| words.iter().filter(|w| list.contains(w)).count();
    let candidates = [
        ("en", hits(ENGLISH_FUNCTION_WORDS)),
        ("fr", hits(FRENCH)),
        ("de", hits(GERMAN)),
        ("es", hits(SPANISH)),
        ("pt", hits(PORTUGUESE)),
    ];
    let total: usize = candidates.iter().map(|(_, n)| n).sum();
    let (code, best) = candidates
        .iter()
        .copied()
        .max_by_key(|(_, n)| *n)
        .unwrap_or(("en", 0));
    if best == 0 {
        // Letters outside ASCII (é, ñ, ü) without any function word: some other language.
        let accented = lower.chars().any(|c| c.is_alphabetic() && !c.is_ascii());
        return Language {
            code: if accented { "und" } else { "en" },
            confidence: if accented { 0.0 } else { 0.5 * script_share },
        };
    }
    Language {
        code,
        confidence: script_share * best as f32 / total as f32,
    }
}

#[derive(Default)]
struct ScriptCounts {
    han: usize,
    kana: usize,
    hangul: usize,
    latin: usize,
    cyrillic: usize,
    arabic: usize,
    greek: usize,
    hebrew: usize,
    devanagari: usize,
    thai: usize,
    other: usize,
}

impl ScriptCounts {
    fn add(&mut self, ch: char) {
        let slot = if is_cjk_ideograph(ch) {
            &mut self.han
        } else {
            match ch {
                '\u{3040}'..='\u{30FF}' => &mut self.kana,
                '\u{AC00}'..='\u{D7AF}' | '\u{1100}'..='\u{11FF}' => &mut self.hangul,
                'a'..='z' | 'A'..='Z' | '\u{C0}'..='\u{24F}' => &mut self.latin,
                '\u{400}'..='\u{4FF}' => &mut self.cyrillic,
                '\u{600}'..='\u{6FF}' => &mut self.arabic,
                '\u{370}'..='\u{3FF}' => &mut self.greek,
                '\u{590}'..='\u{5FF}' => &mut self.hebrew,
                '\u{900}'..='\u{97F}' => &mut self.devanagari,
                '\u{E00}'..='\u{E7F}' => &mut self.thai,
                _ => &mut self.other,
            }
        };
        *slot += 1;
    }

    fn total(&self) -> usize {
        self.han
            + self.kana
            + self.hangul
            + self.latin
            + self.cyrillic
            + self.arabic
            + self.greek
            + self.hebrew
            + self.devanagari
            + self.thai
            + self.other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> &'static str {
        detect_language(text).code
    }

    #[test]
    fn chinese_with_english_product_names_is_chinese() {
        assert_eq!(code("负责Java和Python后端开发，熟悉Kubernetes"), "zh");
        assert_eq!(code("高级产品经理"), "zh");
    }

    #[test]
    fn english_with_a_chinese_city_is_english() {
        assert_eq!(
            code("Senior backend engineer based in 上海, five years of Go"),
            "en"
        );
    }

    #[test]
    fn a_title_without_function_words_is_english_but_less_sure() {
        let title = detect_language("Registered Nurse");
        let sentence = detect_language("She has worked as a nurse for ten years in the city");
        assert_eq!(title.code, "en");
        assert_eq!(sentence.code, "en");
        assert!(title.confidence < sentence.confidence);
    }

    #[test]
    fn other_scripts_and_latin_languages() {
        assert_eq!(code("東京で働くソフトウェアエンジニア"), "ja");
        assert_eq!(code("백엔드 개발자"), "ko");
        assert_eq!(code("Разработчик программного обеспечения"), "ru");
        assert_eq!(
            code("Nous cherchons un développeur pour notre équipe"),
            "fr"
        );
        assert_eq!(code("Wir suchen eine Entwicklerin für unser Team"), "de");
        assert_eq!(
            code("Buscamos un desarrollador para el equipo de datos"),
            "es"
        );
    }

    #[test]
    fn nothing_to_read_is_undetermined() {
        let language = detect_language("  123 — !!! ");
        assert_eq!(language.code, "und");
        assert_eq!(language.confidence, 0.0);
    }
}
