//! Personal data, the one home of its rules: 18-digit resident ID numbers are masked before
//! anything is stored; a caller without `resume:pii` learns of a candidate no more than
//! [`mask_name`], [`mask_email`] and [`mask_phone`] show, wherever the data surfaces.
//!
//! What a caller without `resume:pii` gets, field by field (the exposure audit):
//!
//! | Where | Field | Treatment |
//! |---|---|---|
//! | resume | `profile.name`, `email`, `phone` | [`mask_name`] (`Jane D.`, `张*`), [`mask_email`], [`mask_phone`]; `contactMasked: true` |
//! | resume | `file.filename` | [`masked_filename`]: `resume-<last 8 of id>.<ext>`. Clients name files after the candidate, and the name exists before any parse knows whose it is |
//! | resume | `text` | [`mask_contacts`]: emails, phone numbers and the parsed name (each of its words, any case, any order) masked |
//! | resume | `profile.summary`, `headline`, `experience.title`, `experience.description` | [`mask_contacts`] |
//! | resume | `profile.keywords` | keywords that name the candidate or are contacts dropped ([`NameMask::reveals`]) |
//! | resume | `skills`, `city`, `education`, companies, dates, `totalYears`, `sha256`, `embedding`, `status`, `failureReason` | as stored: none names a person (failure reasons come from the extractors, never from the text) |
//! | search | `title`, `snippet`, `highlights`, `metadata` of `textSearch`, `vectorSearch`, `semanticSearch`, `hybridSearch` | built from the document resume sends (`service::index_document`): `content` through [`mask_contacts`] for every reader, `title` the masked headline or `Resume <short id>` (never the file name), `metadata.headline` masked. The name travels only in the `name` field, which search matches, highlights and suggests only for `resume:pii` |
//! | search | `suggest` | titles and skills of the masked documents; names (kind `NAME`) only for `resume:pii` |
//! | matching | explanations, skill gaps, run history | skills, years, degree, city and salary only; `CandidateMatch.resume` is resolved here, with the caller's permissions |
//! | all | error messages, logs | resume ids, statuses and reasons only; never file names, names or text |
//!
//! Limits: the name is masked where the parser found it. A name the parser missed, or written
//! differently (a transliteration, a nickname), stays in `text` and `content` as written.

use regex::Regex;
use std::sync::LazyLock;

static ID_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(^|[^0-9])([1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx])([^0-9]|$)")
        .expect("static regex")
});
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").expect("static regex")
});
static PHONE_LIKE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+?[0-9][0-9 ()\-]{7,}[0-9]").expect("static regex"));

/// Replaces every resident ID number with asterisks, keeping its last four characters.
pub fn mask_id_numbers(text: &str) -> String {
    ID_NUMBER
        .replace_all(text, |caps: &regex::Captures| {
            let number = &caps[2];
            format!(
                "{}{}{}{}",
                &caps[1],
                "*".repeat(14),
                &number[14..],
                &caps[3]
            )
        })
        .into_owned()
}

pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

/// `+8613812345678` → `+86138****5678`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let keep_tail = 4;
    let keep_head = (chars.len() - keep_tail).saturating_sub(4).min(6);
    let mut out: String = chars[..keep_head].iter().collect();
    out.push_str(&"*".repeat(chars.len() - keep_head - keep_tail));
    out.extend(&chars[chars.len() - keep_tail..]);
    out
}

/// `张伟` → `张*`; `Jane Doe` → `Jane D.`
pub fn mask_name(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    if words.len() >= 2 {
        let last = words[words.len() - 1].chars().next().unwrap_or('*');
        return format!("{} {last}.", words[0]);
    }
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count().max(1))),
        None => String::new(),
    }
}

/// The last 8 letters and digits of a resume id: its random part (ids are UUIDv7, whose first
/// digits are the upload time), enough to tell a list of resumes apart.
pub fn short_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().filter(char::is_ascii_alphanumeric).collect();
    chars[chars.len().saturating_sub(8)..].iter().collect()
}

/// The file name a caller without `resume:pii` sees: `resume-<last 8 characters of the id>`
/// with the extension of the stored name (when it is a plain 1–5 character one).
pub fn masked_filename(id: &str, filename: &str) -> String {
    let tail = short_id(id);
    let extension = filename.rsplit_once('.').map(|(_, ext)| ext).filter(|ext| {
        (1..=5).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphanumeric())
    });
    match extension {
        Some(ext) => format!("resume-{tail}.{}", ext.to_ascii_lowercase()),
        None => format!("resume-{tail}"),
    }
}

/// The document text with emails, phone numbers and the name masked.
pub fn mask_contacts(text: &str, name: Option<&str>) -> String {
    let text = EMAIL.replace_all(text, |caps: &regex::Captures| mask_email(&caps[0]));
    let text = PHONE_LIKE.replace_all(&text, |caps: &regex::Captures| {
        let digits = caps[0].chars().filter(char::is_ascii_digit).count();
        // Date ranges (2019-2021) are not phone numbers.
        if digits >= 8 && !looks_like_date_range(&caps[0]) {
            mask_phone(&caps[0])
        } else {
            caps[0].to_owned()
        }
    });
    match name.map(NameMask::new) {
        Some(mask) => mask.apply(&text),
        None => text.into_owned(),
    }
}

static LETTER_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\p{L}\p{N}--\p{Han}]+").expect("static regex"));
static HAN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\p{Han}").expect("static regex"));

/// Masks one known name in free text so that it reveals what [`mask_name`] shows and no more.
///
/// A name in Chinese characters (`张伟`) is replaced wherever it occurs, spaced or not, by
/// `mask_name`'s form (`张*`), and its given name (two characters or more) by asterisks. A name
/// in words (`Janet Probeington`) keeps its first word, as `mask_name` does, and every other
/// word becomes its initial and a dot, in any case and order (`PROBEINGTON, Janet` →
/// `P., Janet`); a one-word name becomes `mask_name`'s form. Words of five letters or more are
/// masked inside longer words too (`jprobeington@…`, `JanetProbeington-CV`), shorter ones only
/// where they stand alone, so that `Li` does not mangle `client`.
pub struct NameMask {
    /// Hidden words (lowercase) and what replaces each.
    words: Vec<(String, String)>,
    /// The hidden words long enough to be masked inside other words.
    inside: Option<Regex>,
    /// Chinese forms, as patterns, and what replaces each.
    phrases: Vec<(Regex, String)>,
}

/// Hidden words this long are masked inside other words as well.
const MASK_INSIDE_WORDS_FROM: usize = 5;

impl NameMask {
    pub fn new(name: &str) -> Self {
        let name = name.trim();
        let mut mask = NameMask {
            words: Vec::new(),
            inside: None,
            phrases: Vec::new(),
        };
        if name.is_empty() {
            return mask;
        }
        if HAN.is_match(name) {
            let chars: Vec<char> = name.chars().filter(|c| !c.is_whitespace()).collect();
            let spaced = |chars: &[char]| {
                chars
                    .iter()
                    .map(|c| regex::escape(&c.to_string()))
                    .collect::<Vec<_>>()
                    .join(r"\s*")
            };
            let full: String = chars.iter().collect();
            if let Ok(pattern) = Regex::new(&spaced(&chars)) {
                mask.phrases.push((pattern, mask_name(&full)));
            }
            if chars.len() >= 3
                && let Ok(pattern) = Regex::new(&spaced(&chars[1..]))
            {
                mask.phrases.push((pattern, "*".repeat(chars.len() - 1)));
            }
            return mask;
        }
        let words_of = |text: &str| -> Vec<String> {
            LETTER_WORD
                .find_iter(text)
                .map(|m| m.as_str().to_owned())
                .collect()
        };
        let spoken: Vec<&str> = name.split_whitespace().collect();
        if spoken.len() == 1 {
            for word in words_of(name) {
                let masked = mask_name(&word);
                mask.hide(&word, masked);
            }
        } else {
            let kept: Vec<String> = words_of(spoken[0])
                .iter()
                .map(|w| w.to_lowercase())
                .collect();
            for word in spoken[1..].iter().flat_map(|w| words_of(w)) {
                // A lone initial says no more than the masked form does.
                if word.chars().count() < 2 || kept.contains(&word.to_lowercase()) {
                    continue;
                }
                let initial: String = word.chars().take(1).flat_map(char::to_uppercase).collect();
                mask.hide(&word, format!("{initial}."));
            }
        }
        let mut long: Vec<&str> = mask
            .words
            .iter()
            .map(|(word, _)| word.as_str())
            .filter(|word| word.chars().count() >= MASK_INSIDE_WORDS_FROM)
            .collect();
        long.sort_by_key(|word| std::cmp::Reverse(word.len()));
        if !long.is_empty() {
            let alternatives: Vec<String> = long.iter().map(|w| regex::escape(w)).collect();
            mask.inside = Regex::new(&format!("(?i){}", alternatives.join("|"))).ok();
        }
        mask
    }

    fn hide(&mut self, word: &str, masked: String) {
        let word = word.to_lowercase();
        if !self.words.iter().any(|(hidden, _)| *hidden == word) {
            self.words.push((word, masked));
        }
    }

    fn replacement(&self, word: &str) -> Option<&str> {
        let word = word.to_lowercase();
        self.words
            .iter()
            .find(|(hidden, _)| *hidden == word)
            .map(|(_, masked)| masked.as_str())
    }

    /// `text` with the name masked.
    pub fn apply(&self, text: &str) -> String {
        let mut text = match &self.inside {
            Some(inside) => inside
                .replace_all(text, |caps: &regex::Captures| {
                    self.replacement(&caps[0]).unwrap_or(&caps[0]).to_owned()
                })
                .into_owned(),
            None => text.to_owned(),
        };
        if !self.words.is_empty() {
            text = LETTER_WORD
                .replace_all(&text, |caps: &regex::Captures| {
                    self.replacement(&caps[0]).unwrap_or(&caps[0]).to_owned()
                })
                .into_owned();
        }
        for (pattern, masked) in &self.phrases {
            text = pattern.replace_all(&text, masked.as_str()).into_owned();
        }
        text
    }

    /// Whether `text` shows more of the name than masking would leave.
    pub fn reveals(&self, text: &str) -> bool {
        self.apply(text) != text
    }
}

fn looks_like_date_range(text: &str) -> bool {
    let digits: String = text
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    let parts: Vec<&str> = digits.split('-').filter(|p| !p.is_empty()).collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| p.len() <= 4 && (p.len() != 4 || p.starts_with("19") || p.starts_with("20")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_are_masked() {
        let text = "身份证号：11010519491231002X 电话 13812345678";
        let masked = mask_id_numbers(text);
        assert_eq!(masked, "身份证号：**************002X 电话 13812345678");
        assert_eq!(
            mask_id_numbers("订单 1234567890123456789012"),
            "订单 1234567890123456789012"
        );
    }

    #[test]
    fn contact_masks() {
        assert_eq!(mask_email("zhangwei@example.com"), "z***@example.com");
        assert_eq!(mask_phone("+8613812345678"), "+86138****5678");
        assert_eq!(mask_name("张伟"), "张*");
        assert_eq!(mask_name("Jane Doe"), "Jane D.");
        let masked = mask_contacts("张伟 138-1234-5678 zw@example.com 2019-2021", Some("张伟"));
        assert!(!masked.contains("1234-5678"), "{masked}");
        assert!(!masked.contains("zw@"), "{masked}");
        assert!(masked.contains("2019-2021"), "{masked}");
        assert!(!masked.contains("张伟"), "{masked}");
    }

    #[test]
    fn every_word_of_a_name_is_masked_in_any_case_and_order() {
        let name = Some("Janet Probeington");
        let text = "JANET PROBEINGTON\nProbeington, Janet — janet.probeington@example.com\n\
                    Janet-Probeington-CV; Probeingtonian stays";
        let masked = mask_contacts(text, name);
        assert!(!masked.to_lowercase().contains("probeington,"), "{masked}");
        assert!(!masked.contains("PROBEINGTON"), "{masked}");
        assert!(!masked.contains("Janet-Probeington"), "{masked}");
        assert!(masked.contains("JANET P."), "{masked}");
        assert!(masked.contains("P., Janet"), "{masked}");
        assert!(masked.contains("j***@example.com"), "{masked}");
        assert!(
            masked.contains("P.ian stays"),
            "long words are masked inside other words: {masked}"
        );
        assert_eq!(
            mask_contacts("see jprobeington.dev and JanetProbeington", name),
            "see jP..dev and JanetP."
        );
        assert_eq!(
            mask_contacts("Li Wu works with a client in Wuhan", Some("Li Wu")),
            "Li W. works with a client in Wuhan",
            "short words only where they stand alone"
        );
        assert_eq!(
            mask_contacts("Madonna sings", Some("Madonna")),
            "M****** sings"
        );
        assert_eq!(mask_contacts("张 伟，小明", Some("张伟")), "张*，小明");
        assert_eq!(
            mask_contacts("欧阳娜娜；娜娜", Some("欧阳娜娜")),
            "欧***；娜娜"
        );
        assert_eq!(mask_contacts("王小明与小明", Some("王小明")), "王**与**");
        let mask = NameMask::new("Janet Probeington");
        assert!(mask.reveals("probeington"));
        assert!(!mask.reveals("rust"));
        assert!(
            !mask.reveals("Janet"),
            "the first name is what `mask_name` shows"
        );
    }

    #[test]
    fn file_names_do_not_carry_the_candidate() {
        assert_eq!(
            masked_filename(
                "0192f0c4-7a1e-7b3c-9d2e-5f6a7b8c9d0e",
                "Janet-Probeington-CV.TXT"
            ),
            "resume-7b8c9d0e.txt"
        );
        assert_eq!(masked_filename("abc", "简历"), "resume-abc");
        assert_eq!(masked_filename("abc", "x.tar.gz"), "resume-abc.gz");
        assert_eq!(masked_filename("abc", "a.longextension"), "resume-abc");
    }
}
