//! Text normalisation shared by every matcher in this crate: NFKC (full-width to ASCII), one
//! dash for date ranges, tidy whitespace. Also the one home of "is this character Chinese /
//! CJK?" for the whole workspace. Pure functions, no allocation beyond the output.

use unicode_normalization::UnicodeNormalization;

/// Unicode NFKC (full-width digits/letters/colons → ASCII), plus: unify dashes/tildes used in
/// date ranges (–—~～ → -), collapse runs of spaces/tabs (keep newlines) — a run of two or
/// more (a wide gap, a tab: a column or field boundary in laid-out text) becomes two spaces,
/// a single space stays one — trim line ends.
pub fn normalize_text(text: &str) -> String {
    // NFKC leaves ASCII unchanged, and most data and resume lines are ASCII or plain CJK.
    if text.is_ascii() {
        tidy(text, text.chars())
    } else {
        tidy(text, text.nfkc())
    }
}

fn tidy(text: &str, chars: impl Iterator<Item = char>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut line = String::new();
    // Spaces owed before the next character: 0, 1, or 2 for a wide gap.
    let mut pending = 0u8;
    let flush = |line: &mut String, out: &mut String| {
        out.push_str(line.trim_end());
        line.clear();
    };
    for ch in chars {
        let ch = unify_dash(ch);
        match ch {
            '\n' => {
                pending = 0;
                flush(&mut line, &mut out);
                out.push('\n');
            }
            '\r' => {}
            c if c == ' ' || c == '\t' || (c.is_whitespace() && c != '\n') => {
                if !line.is_empty() {
                    pending = if c == '\t' { 2 } else { (pending + 1).min(2) };
                }
            }
            c => {
                for _ in 0..pending {
                    line.push(' ');
                }
                pending = 0;
                line.push(c);
            }
        }
    }
    flush(&mut line, &mut out);
    out
}

/// Maps the dash and tilde look-alikes that resumes use in ranges ("2019.03–2021.06") to '-'.
pub(crate) fn unify_dash(ch: char) -> char {
    match ch {
        '\u{2010}'..='\u{2015}'
        | '\u{2212}'
        | '\u{FE58}'
        | '\u{FE63}'
        | '\u{FF0D}'
        | '~'
        | '\u{301C}'
        | '\u{FF5E}'
        | '\u{223C}' => '-',
        c => c,
    }
}

/// Text normalised character by character, remembering for every byte of the normalised text
/// the byte offset in the original it came from, so matches can be reported on the caller's text.
pub(crate) struct MappedText {
    pub(crate) text: String,
    /// `origin[i]` = original byte offset of normalised byte `i`; one extra entry = original length.
    origin: Vec<usize>,
}

impl MappedText {
    pub(crate) fn new(original: &str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut origin = Vec::with_capacity(original.len() + 1);
        for (offset, ch) in original.char_indices() {
            if ch.is_ascii() || is_cjk_ideograph(ch) {
                text.push(ch);
                origin.resize(origin.len() + ch.len_utf8(), offset);
                continue;
            }
            let before = text.len();
            for n in std::iter::once(ch).nfkc() {
                text.push(unify_dash(n));
            }
            origin.resize(origin.len() + (text.len() - before), offset);
        }
        origin.push(original.len());
        MappedText { text, origin }
    }

    /// Original byte range of the normalised range `start..end` (`original` is the text given to `new`).
    pub(crate) fn original_range(
        &self,
        original: &str,
        start: usize,
        end: usize,
    ) -> (usize, usize) {
        let original_start = self.origin[start];
        let last_char_start = self.origin[end.saturating_sub(1).max(start)];
        let last_char_len = original[last_char_start..]
            .chars()
            .next()
            .map_or(0, char::len_utf8);
        (original_start, last_char_start + last_char_len)
    }
}

/// Is `ch` a CJK ideograph (a Han character: Chinese hanzi, Japanese kanji, Korean hanja)?
///
/// Counts the CJK Unified Ideographs (U+4E00–9FFF), Extension A (U+3400–4DBF), the
/// Compatibility Ideographs (U+F900–FAFF) and the Supplementary Ideographic Plane up to the
/// Compatibility Supplement (Extensions B–F, U+20000–2FA1F). Not kana, not hangul, not CJK
/// punctuation or full-width forms. The one definition of "Chinese character" in Looma: the
/// resume parser, the skill and city matchers and the hybrid search weighting all use it.
pub fn is_cjk_ideograph(ch: char) -> bool {
    matches!(ch,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FA1F}')
}

/// Is `ch` written in a CJK script: an ideograph ([`is_cjk_ideograph`]), kana (Hiragana and
/// Katakana, U+3040–30FF) or a Hangul syllable (U+AC00–D7AF)?
///
/// What the search analyzers treat as "not a Latin word": such characters go to the dictionary
/// segmenter (jieba) instead of being glued into Latin words, and never get typo tolerance (a
/// fuzzy term query cannot span several segmented tokens).
pub fn is_cjk(ch: char) -> bool {
    is_cjk_ideograph(ch) || matches!(ch, '\u{3040}'..='\u{30FF}' | '\u{AC00}'..='\u{D7AF}')
}

/// The share of a text's letters and digits that are CJK ideographs: 0.0 for none (or no
/// letters at all), 1.0 for all. `"Go 后端"` → 0.5.
pub fn cjk_ideograph_share(text: &str) -> f64 {
    let mut letters = 0usize;
    let mut ideographs = 0usize;
    for ch in text.chars().filter(|c| c.is_alphanumeric()) {
        letters += 1;
        if is_cjk_ideograph(ch) {
            ideographs += 1;
        }
    }
    if letters == 0 {
        0.0
    } else {
        ideographs as f64 / letters as f64
    }
}

/// Normalised lookup key: NFKC, whitespace collapsed, ASCII lowercase.
pub(crate) fn lookup_key(text: &str) -> String {
    let normalized = normalize_text(text);
    normalized
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_digits_and_colon_become_ascii() {
        assert_eq!(
            normalize_text("电话：１３８００１３８０００"),
            "电话:13800138000"
        );
    }

    #[test]
    fn date_ranges_get_one_dash() {
        assert_eq!(normalize_text("２０１９．０３－至今"), "2019.03-至今");
        assert_eq!(normalize_text("2019.03–2021.06"), "2019.03-2021.06");
        assert_eq!(normalize_text("2019.03 ~ 2021.06"), "2019.03 - 2021.06");
        assert_eq!(
            normalize_text("2019年3月～2020年5月"),
            "2019年3月-2020年5月"
        );
        assert_eq!(normalize_text("2018—2020"), "2018-2020");
    }

    #[test]
    fn whitespace_is_collapsed_but_newlines_kept() {
        // A wide gap stays wider than a word space: laid-out text separates fields by it.
        assert_eq!(
            normalize_text("  Java \t\t Python  \r\n  Go  \n\n"),
            "Java  Python\nGo\n\n"
        );
        assert_eq!(normalize_text("Java Python"), "Java Python");
        assert_eq!(normalize_text("姓名\u{3000}\u{3000}张三"), "姓名  张三");
    }

    #[test]
    fn cjk_ranges() {
        for ch in ['中', '㐀', '鿿', '豈', '𠀀', '𪚥'] {
            assert!(is_cjk_ideograph(ch) && is_cjk(ch), "{ch}");
        }
        for ch in ['か', 'カ', '한'] {
            assert!(!is_cjk_ideograph(ch) && is_cjk(ch), "{ch}");
        }
        for ch in ['a', 'é', '1', '，', '。', 'Ａ', '\u{3000}'] {
            assert!(!is_cjk_ideograph(ch) && !is_cjk(ch), "{ch:?}");
        }
    }

    #[test]
    fn ideograph_share_counts_letters_only() {
        assert_eq!(cjk_ideograph_share("java backend"), 0.0);
        assert_eq!(cjk_ideograph_share("后端开发"), 1.0);
        assert_eq!(cjk_ideograph_share("Go 后端"), 0.5);
        assert_eq!(cjk_ideograph_share("  ,, "), 0.0);
        assert_eq!(cjk_ideograph_share("カタカナ"), 0.0);
    }

    #[test]
    fn mapped_text_reports_original_offsets() {
        let original = "熟悉Ｊａｖａ开发";
        let mapped = MappedText::new(original);
        assert_eq!(mapped.text, "熟悉Java开发");
        let start = mapped.text.find("Java").unwrap_or_default();
        let (s, e) = mapped.original_range(original, start, start + 4);
        assert_eq!(&original[s..e], "Ｊａｖａ");
    }
}
