//! Contact details: name, email, phone (normalised to E.164), city.

use super::lexicon::city_in;
use looma_taxonomy::is_cjk_ideograph;
use regex::Regex;
use std::sync::LazyLock;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
        .expect("static regex")
});
/// `jane@{ uni.edu | gmail.com }`: one name at several domains (LaTeX résumés); the first
/// domain is taken.
static EMAIL_DOMAINS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"([A-Za-z0-9][A-Za-z0-9._%+-]*)@\{\s*([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})",
    )
    .expect("static regex")
});
/// An address written to dodge harvesters: `jane[at]example.org`, `work [[at]] example [[dot]]
/// me`, `jane (at) example (dot) org`. The `at` must be bracketed: a bare one is prose.
static OBFUSCATED_EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    let at = r"\s*(?:\[\[at\]\]|\[at\]|\(at\)|\{at\}|<at>)\s*";
    let dot = format!("(?:{BRACKETED_DOT}|\\.)");
    Regex::new(&format!(
        r"(?i)([A-Za-z0-9][A-Za-z0-9._%+-]*){at}([A-Za-z0-9-]+(?:{dot}[A-Za-z0-9-]+)*{dot}[A-Za-z]{{2,}})\b"
    ))
    .expect("static regex")
});
/// `[dot]`, `[[dot]]`, `(dot)`, `{dot}`, `<dot>` with the spaces around it.
const BRACKETED_DOT: &str = r"\s*(?:\[\[dot\]\]|\[dot\]|\(dot\)|\{dot\}|<dot>)\s*";
static EMAIL_DOT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("(?i){BRACKETED_DOT}")).expect("static regex"));
/// Mainland mobile numbers (eleven digits from 13x–19x), optionally with +86 (`+(86)`, `0086`)
/// and a space or dash between any two digits (`138 0013 8000`, `1800-1212-101`).
static MAINLAND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^0-9+])(?:(?:\+|00)?\(?86\)?[ \-]?)?(1[3-9](?:[ \-]?[0-9]){9})(?:[^0-9]|$)")
        .expect("static regex")
});
/// International numbers written with a leading +country code.
static INTERNATIONAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\+([1-9][0-9]{0,2})[ \-.]?(?:\(0\))?[ \-.]?(\(?[0-9]{1,4}\)?(?:[ \-.]?[0-9]{2,5}){1,4})",
    )
    .expect("static regex")
});
static NAME_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:姓\s*名\s*[:：]?|^(?i:name)\s*[:：])\s*([\p{Han}·]{2,5}|[A-Z][A-Za-z'.-]+(?:\s+[A-Z][A-Za-z'.-]+){1,3})")
        .expect("static regex")
});
/// A labelled place: Chinese labels with or without a colon; English ones as whole words,
/// `Location:`-style with a colon (so `capacity`, `electricity` or `city of` in prose is not
/// one), `based in` / `lives in` without.
/// A town with its state and ZIP code (`Lakewood, CO 80227`): a postal address, the
/// candidate's own (employers are not given ZIP codes on a résumé).
static US_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b([A-Z][a-z]+(?: [A-Z][a-z]+){0,2}),? ([A-Z]{2}),? \d{5}\b")
        .expect("static regex")
});
/// `Saratoga, CA`, `Petah Tikva, Israel`, `1855 Frederiksberg, Danmark`: a town before its
/// state or country (a postal code may come first), read from the header only.
static TOWN_AND_REGION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\p{L}\s,]\s*|\d{4,5}\s+)([A-Z][\p{L}'-]+(?: [A-Z][\p{L}'-]+){0,2}), ([A-Z]{2}|[A-Z][a-z]+(?: [A-Z][a-z]+)?)\b")
        .expect("static regex")
});
/// Postal abbreviations of the US states and DC.
const US_STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY",
];
/// Countries as résumés write them after a town (English and own-language names).
const COUNTRIES: &[&str] = &[
    "Australia",
    "Austria",
    "Belgium",
    "Brazil",
    "Canada",
    "China",
    "Danmark",
    "Denmark",
    "Deutschland",
    "England",
    "Finland",
    "France",
    "Germany",
    "Greece",
    "India",
    "Ireland",
    "Israel",
    "Italy",
    "Japan",
    "Kazakhstan",
    "Mexico",
    "Netherlands",
    "New Zealand",
    "Norge",
    "Norway",
    "Philippines",
    "Poland",
    "Portugal",
    "Scotland",
    "Singapore",
    "Spain",
    "Sverige",
    "Sweden",
    "Switzerland",
    "Turkey",
    "United Kingdom",
    "United States",
    "USA",
    "UK",
];

/// The town of the candidate's postal address, or of a `Town, ST` / `Town, Country` in the
/// header.
fn town_of_address(header: &[String], text: &str) -> Option<String> {
    if let Some(c) = US_ADDRESS
        .captures_iter(text)
        .find(|c| US_STATES.contains(&&c[2]))
    {
        return Some(c[1].to_owned());
    }
    header.iter().take(8).find_map(|line| {
        TOWN_AND_REGION.captures_iter(line.trim()).find_map(|c| {
            let region = &c[2];
            (US_STATES.contains(&region) || COUNTRIES.contains(&region)).then(|| c[1].to_owned())
        })
    })
}

static CITY_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(现居住?地?|居住地|所在地|所在城市|现居城市|目前所在地|城市|地址|家庭住址|现居|\b(?:location|city|address|residence)\s*:|\bbased in\b|\blives in\b)\s*:?\s*([^\n|,;，；]{2,40})")
        .expect("static regex")
});
/// North American numbers without a country code: `(408) 797-4107`, `408-797-4107`,
/// `408.797.4107`.
static NORTH_AMERICAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:^|[^0-9+\-.])\(?([2-9][0-9]{2})\)?[ \-.]?([2-9][0-9]{2})[ \-.]([0-9]{4})(?:[^0-9]|$)",
    )
    .expect("static regex")
});

pub fn email(text: &str) -> Option<String> {
    let plain = EMAIL
        .find(text)
        .map(|m| (m.start(), m.as_str().trim_end_matches('.').to_lowercase()));
    let braced = EMAIL_DOMAINS.captures(text).map(|c| {
        let start = c.get(0).map_or(0, |m| m.start());
        (start, format!("{}@{}", &c[1], &c[2]).to_lowercase())
    });
    match (plain, braced) {
        (Some(p), Some(b)) => Some(if b.0 < p.0 { b.1 } else { p.1 }),
        (None, None) => OBFUSCATED_EMAIL.captures(text).map(|c| {
            let domain = EMAIL_DOT.replace_all(&c[2], ".");
            format!("{}@{domain}", &c[1]).to_lowercase()
        }),
        (p, b) => p.or(b).map(|(_, email)| email),
    }
}

/// The first phone number, in E.164.
pub fn phone(text: &str) -> Option<String> {
    let mainland = MAINLAND.captures(text).map(|c| {
        let digits: String = c[1].chars().filter(char::is_ascii_digit).collect();
        (c.get(1).map_or(0, |m| m.start()), format!("+86{digits}"))
    });
    let international = INTERNATIONAL.captures_iter(text).find_map(|c| {
        let country = &c[1];
        let rest: String = c[2].chars().filter(char::is_ascii_digit).collect();
        let digits = country.len() + rest.len();
        if !(8..=15).contains(&digits) {
            return None;
        }
        Some((
            c.get(0).map_or(0, |m| m.start()),
            format!("+{country}{rest}"),
        ))
    });
    match (mainland, international) {
        (Some(m), Some(i)) => Some(if i.0 < m.0 && !i.1.starts_with("+86") {
            i.1
        } else {
            m.1
        }),
        (Some(m), None) => Some(m.1),
        (None, Some(i)) => Some(i.1),
        (None, None) => NORTH_AMERICAN
            .captures(text)
            .map(|c| format!("+1{}{}{}", &c[1], &c[2], &c[3])),
    }
}

const NOT_NAMES: &[&str] = &[
    "个人简历",
    "简历",
    "求职简历",
    "个人履历",
    "resume",
    "curriculum vitae",
    "cv",
    "简 历",
];

fn is_han_name(s: &str) -> bool {
    let chars: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
    (2..=4).contains(&chars.len())
        && chars.iter().all(|c| is_cjk_ideograph(*c) || *c == '·')
        && !super::lexicon::looks_like_heading_word(s)
}

fn is_latin_name(s: &str) -> bool {
    let words: Vec<&str> = s.split_whitespace().collect();
    (2..=4).contains(&words.len())
        && words.iter().all(|w| {
            w.chars().next().is_some_and(|c| c.is_uppercase())
                && w.chars()
                    .all(|c| c.is_alphabetic() || matches!(c, '\'' | '-' | '.'))
        })
        && !words.iter().any(|w| {
            let lower = w.to_lowercase();
            matches!(
                lower.as_str(),
                "resume"
                    | "curriculum"
                    | "vitae"
                    | "engineer"
                    | "developer"
                    | "manager"
                    | "senior"
                    | "analyst"
                    | "designer"
                    | "summary"
                    | "profile"
                    | "skills"
                    | "experience"
                    | "education"
                    | "contact"
                    | "street"
                    | "road"
            )
        })
        && looma_taxonomy::find_city_in(s).is_none()
}

/// Title-cases an all-caps Latin name (`JANE DOE` → `Jane Doe`).
fn tidy_name(name: &str) -> String {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.chars().any(is_cjk_ideograph) {
        return name.replace(' ', "");
    }
    let name = without_honorific_and_glue(&name);
    if name
        .chars()
        .filter(|c| c.is_alphabetic())
        .all(char::is_uppercase)
    {
        return name
            .split(' ')
            .map(|w| {
                let mut chars = w.chars();
                match chars.next() {
                    Some(first) => first.to_string() + &chars.as_str().to_lowercase(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    name
}

/// `Dr KevinAquino` → `Kevin Aquino`: a title before the name is not part of it, and a name
/// whose space a PDF lost is split where a capital follows a small letter (not after `Mc`,
/// `Mac`, `De`, … : `McDonald` stays whole).
fn without_honorific_and_glue(name: &str) -> String {
    const HONORIFICS: &[&str] = &["dr", "prof", "mr", "mrs", "ms", "mx"];
    const PREFIXES: &[&str] = &[
        "mc", "mac", "de", "di", "da", "du", "le", "la", "van", "von", "fitz", "o'",
    ];
    let mut words: Vec<&str> = name.split(' ').collect();
    while words.len() > 1
        && HONORIFICS.contains(&words[0].trim_end_matches('.').to_lowercase().as_str())
    {
        words.remove(0);
    }
    if let [only] = words.as_slice() {
        let chars: Vec<char> = only.chars().collect();
        let split =
            (1..chars.len()).find(|&i| chars[i].is_uppercase() && chars[i - 1].is_lowercase());
        if let Some(at) = split {
            let (first, rest): (String, String) =
                (chars[..at].iter().collect(), chars[at..].iter().collect());
            if first.chars().count() >= 3
                && rest.chars().count() >= 3
                && !PREFIXES.contains(&first.to_lowercase().as_str())
            {
                return format!("{first} {rest}");
            }
        }
    }
    words.join(" ")
}

/// The candidate's name: a labelled `姓名：` / `Name:` first, else the first line of the
/// header that looks like a name.
pub fn name(header: &[String], text: &str) -> Option<String> {
    if let Some(c) = text
        .lines()
        .find_map(|line| NAME_LABEL.captures(line.trim()))
    {
        return Some(tidy_name(&c[1]));
    }
    for line in header.iter().take(6) {
        let lower = line.to_lowercase();
        if NOT_NAMES.contains(&lower.trim()) {
            continue;
        }
        for segment in line.split(['|', '/', ',', '，', '·', '—']).take(1) {
            let segment = segment.trim();
            // A centred name between a place and an address (`London  Roland Meertens
            // roland@…`): each part set apart by a wide gap is a candidate.
            let parts = segment.split("  ").map(str::trim).take(3);
            for candidate in std::iter::once(segment).chain(parts) {
                if is_han_name(candidate) || is_latin_name(candidate) {
                    return Some(tidy_name(candidate));
                }
            }
            // `GustavLundberg` alone on its line: a name whose space the PDF lost (but not a
            // product written in one word, `GitHub`, `JavaScript`).
            if segment == line.trim() && !segment.contains(char::is_whitespace) {
                let split = without_honorific_and_glue(segment);
                if split != segment
                    && is_latin_name(&split)
                    && looma_taxonomy::SkillTaxonomy::builtin()
                        .get(segment)
                        .is_none()
                {
                    return Some(tidy_name(&split));
                }
            }
            // "张伟 高级工程师": a Han name followed by a headline.
            if let Some(first) = segment.split_whitespace().next()
                && first.chars().any(is_cjk_ideograph)
                && is_han_name(first)
            {
                return Some(tidy_name(first));
            }
        }
    }
    None
}

/// The city the candidate lives in: a labelled line first, else a known city in the header.
pub fn city(header: &[String], text: &str) -> Option<String> {
    for c in CITY_LABEL.captures_iter(text) {
        let label = c[1].to_lowercase();
        // `期望城市`, `Preferred location:`: where the candidate would like to work.
        let start = c.get(0).map_or(0, |m| m.start());
        let part_start = text[..start]
            .char_indices()
            .rev()
            .find(|(_, ch)| *ch == '\n' || HEADER_PART_SEPARATORS.contains(ch))
            .map_or(0, |(i, ch)| i + ch.len_utf8());
        if WISH.is_match(&label) || WISH.is_match(&text[part_start..start]) {
            continue;
        }
        if let Some(city) = city_in(&c[2]) {
            return Some(city);
        }
        let value = c[2].trim();
        if label.starts_with("based") || label.starts_with("location") || label == "city" {
            let first = value.split(',').next().unwrap_or(value).trim();
            if !first.is_empty() && first.chars().all(|ch| ch.is_alphabetic() || ch == ' ') {
                return Some(first.to_owned());
            }
        }
    }
    header
        .iter()
        .take(8)
        .find_map(|line| {
            if EMAIL.is_match(line) && line.split_whitespace().count() <= 1 {
                return None;
            }
            // A school or job line that lost its heading names the school's or employer's
            // city, not the candidate's.
            if super::dates::date_ranges(line)
                .iter()
                .any(|range| range.start.is_some())
            {
                return None;
            }
            city_in(&without_wishes(line))
        })
        .or_else(|| town_of_address(header, text))
}

static WISH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)期望|意向|\b(?:desired|preferred|target)\b|\brelocat").expect("static regex")
});

/// What separates the parts of a header line (`语言: Go · 期望工作地点: 杭州 | 138…`).
const HEADER_PART_SEPARATORS: &[char] = &['·', '|', '｜', ';', '；', '•'];

/// A header line without its wishes: `期望工作地点: 杭州`, `Preferred location: Austin` name
/// where the candidate would like to work. The line's parts are split at
/// [`HEADER_PART_SEPARATORS`], and a part holding such a label is dropped.
fn without_wishes(line: &str) -> String {
    if !WISH.is_match(line) {
        return line.to_owned();
    }
    line.split(HEADER_PART_SEPARATORS)
        .filter(|part| !WISH.is_match(part))
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn towns_of_addresses_the_city_table_lacks() {
        // A postal address anywhere (here at the end of the document).
        let text = "Ana Ruiz\nExperience\n…\n8254 W. Main St • Golden, CO 80401";
        assert_eq!(city(&header(&["Ana Ruiz"]), text), Some("Golden".into()));
        // A town before a state or a country in the header; a postal code may come first.
        for (line, town) in [
            (
                "Los Gatos, CA | ana@example.org | (408) 555-0100",
                "Los Gatos",
            ),
            ("Ramat Gan, Israel", "Ramat Gan"),
            ("2100 Hellerup, Danmark", "Hellerup"),
            // After an icon the PDF kept as a private-use character.
            ("\u{f041} Los Gatos, CA |  ana@example.org", "Los Gatos"),
        ] {
            assert_eq!(
                city(&header(&["Ana Ruiz", line]), line),
                Some(town.into()),
                "{line}"
            );
        }
        // A company with a state-like word is not a town; nothing is guessed without a region.
        assert_eq!(
            city(&header(&["Ana Ruiz", "Data Engineer at Acme"]), "Ana Ruiz"),
            None
        );
        let line = "Software Engineer, Acme, CA";
        assert_eq!(city(&header(&["Ana Ruiz", line]), line), None);
    }

    #[test]
    fn a_name_label_is_a_whole_word_with_its_colon() {
        assert_eq!(
            name(
                &header(&["Ana Ruiz"]),
                "Ana Ruiz\nNamely Payroll with Powershell, Ansible"
            ),
            Some("Ana Ruiz".into())
        );
        assert_eq!(name(&[], "Name: Ana Ruiz\nSkills"), Some("Ana Ruiz".into()));
        assert_eq!(name(&[], "姓名 王小明\n电话"), Some("王小明".into()));
    }

    #[test]
    fn names_without_titles_and_with_their_space() {
        assert_eq!(tidy_name("Dr JaneOkafor"), "Jane Okafor");
        assert_eq!(tidy_name("Prof. Li Wei"), "Li Wei");
        assert_eq!(tidy_name("Ronald McDonald"), "Ronald McDonald");
        assert_eq!(tidy_name("Dr McDonald"), "McDonald");
        assert_eq!(tidy_name("DR JANE OKAFOR"), "Jane Okafor");
        // A name alone on its line whose space the PDF lost; a product in one word is no name.
        let glued = header(&["MarenHolm", "Data engineering, analytics"]);
        assert_eq!(name(&glued, ""), Some("Maren Holm".into()));
        let product = header(&["GitHub", "Maren Holm"]);
        assert_eq!(name(&product, ""), Some("Maren Holm".into()));
    }

    #[test]
    fn emails_plain_and_at_several_domains() {
        assert_eq!(
            email("Mail: Jane.Doe@Example.org."),
            Some("jane.doe@example.org".into())
        );
        assert_eq!(
            email("jdoe@{ cs.uni.edu | gmail.com } | 555.010.2000"),
            Some("jdoe@cs.uni.edu".into())
        );
        // The first address in the text wins, whichever form it has.
        assert_eq!(
            email("a@b.io then c@{ d.org | e.org }"),
            Some("a@b.io".into())
        );
        assert_eq!(email("no address here @ all"), None);
        // Written to dodge harvesters; a bare `at` is prose, not an address.
        assert_eq!(
            email("Ana.Ruiz[at]clinic.ca | ORCID 0000-0001"),
            Some("ana.ruiz@clinic.ca".into())
        );
        assert_eq!(
            email("write to work [[at]] anaruiz [[dot]] me"),
            Some("work@anaruiz.me".into())
        );
        assert_eq!(
            email("ana (at) mail (dot) example (dot) org"),
            Some("ana@mail.example.org".into())
        );
        assert_eq!(email("Ana works at example.org"), None);
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(phone("电话：138-1234-5678"), Some("+8613812345678".into()));
        assert_eq!(phone("+86 138 1234 5678"), Some("+8613812345678".into()));
        assert_eq!(phone("Tel: 13812345678;"), Some("+8613812345678".into()));
        assert_eq!(
            phone("Phone: +1 (415) 555-0132"),
            Some("+14155550132".into())
        );
        assert_eq!(phone("+44 20 7946 0958"), Some("+442079460958".into()));
        assert_eq!(phone("2019.03-2021.05"), None);
        // A US number without +1 (most US resumes).
        assert_eq!(
            phone("Saratoga, CA | (408) 797-4107"),
            Some("+14087974107".into())
        );
        assert_eq!(phone("cell 646-771-8131"), Some("+16467718131".into()));
        assert_eq!(phone("Sep 2019 - 2020 1234"), None);
        assert_eq!(phone("ID 110105194912310021"), None);
        // A bracketed country code and 4-4-3 grouping.
        assert_eq!(
            phone("ana@example.cn ·  +(86) 1800-1212-101 ·  blog"),
            Some("+8618001212101".into())
        );
        assert_eq!(phone("0086 186 1234 5678"), Some("+8618612345678".into()));
    }

    #[test]
    fn the_city_is_neither_a_wish_nor_a_school_s() {
        let line = "语言: C++;Python · 期望职位: 音视频开发 · 期望工作地点: 杭州";
        assert_eq!(city(&header(&["李瑶", line]), line), None);
        let line = "Preferred location: Austin | Houston, TX";
        assert_eq!(
            city(&header(&["Ana Ruiz", line]), line),
            Some("Houston".into())
        );
        // An education line whose heading was lost names the school's city.
        let line = "南京大学, 南京  2013 - 2016";
        assert_eq!(city(&header(&["董宇辰", line]), line), None);
        // A birth month beside the city is not an entry.
        let line = "男 | 1995.06 | 北京";
        assert_eq!(city(&header(&["王磊", line]), line), Some("北京".into()));
    }

    #[test]
    fn names() {
        assert_eq!(
            name(&header(&["个人简历", "张伟"]), ""),
            Some("张伟".into())
        );
        assert_eq!(
            name(&header(&["张 伟 | 高级工程师"]), ""),
            Some("张伟".into())
        );
        assert_eq!(
            name(&header(&["JANE DOE", "Senior Engineer"]), ""),
            Some("Jane Doe".into())
        );
        assert_eq!(name(&[], "姓名:李娜  性别:女"), Some("李娜".into()));
        assert_eq!(name(&header(&["Senior Software Engineer"]), ""), None);
    }

    #[test]
    fn cities() {
        assert_eq!(city(&[], "现居:上海市浦东新区"), Some("上海".into()));
        assert_eq!(city(&[], "所在地:广东省深圳市"), Some("深圳".into()));
        assert_eq!(
            city(&[], "Location: Shanghai, China"),
            Some("Shanghai".into())
        );
        assert_eq!(city(&[], "Based in London, UK"), Some("London".into()));
        assert_eq!(
            city(&["Jane Doe".into(), "Berlin · jane@example.com".into()], ""),
            Some("Berlin".into())
        );
        // `city`, `location` inside prose words or sentences are not labels.
        assert_eq!(
            city(&[], "Improved capacity planning for Cloud Agent PoPs"),
            None
        );
        assert_eq!(
            city(&[], "the location of negative effects on growth"),
            None
        );
        assert_eq!(city(&[], "地址：上海市徐汇区"), Some("上海".into()));
    }
}
