//! Personal data: 18-digit resident ID numbers are masked before anything is stored; contact
//! fields are masked for callers without `resume:pii`.

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
    match name.filter(|n| !n.trim().is_empty()) {
        Some(name) => text.replace(name, &mask_name(name)),
        None => text.into_owned(),
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
}
