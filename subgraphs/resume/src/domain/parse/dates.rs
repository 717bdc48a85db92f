//! Dates and date ranges in resume lines, in the forms recruiters see:
//! `2019.03 - 至今`, `2019年3月-2021年5月`, `2019/03-2021/05`, `Mar 2019 - Present`,
//! `03/2019 - 06/2021`, `2016 - 2020`. Input is already NFKC-normalised with dashes unified.
//!
//! A hand-written scanner rather than one regex: a month is only a month when its digit run
//! ends (so `2019-2021` is two years, not 2019-02).

use crate::domain::profile::YearMonth;
use regex::Regex;
use std::sync::LazyLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateRange {
    pub start: Option<YearMonth>,
    pub end: Option<YearMonth>,
    /// The range runs to the present (`至今`, `Present`).
    pub current: bool,
    /// Byte span of the whole range in the line.
    pub span: (usize, usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Date(YearMonth),
    Present,
}

const MONTHS: &[(&str, u32)] = &[
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("sept", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];

const PRESENT: &[&str] = &[
    "至今",
    "今",
    "现在",
    "目前",
    "present",
    "now",
    "currently",
    "current",
    "today",
    "ongoing",
];

fn digit_run(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count()
}

/// `10/15-5/16`, `2/15 - present`: months with two-digit years, read only as the two ends of
/// a range (alone, `3/15` may be a fraction or a day).
static SHORT_YEAR_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:^|[^\d/.])((\d{1,2})/(\d{2}))\s*[-–—~]\s*(?:((\d{1,2})/(\d{2}))|(present|now|current))(?:[^\d/.]|$)",
    )
    .expect("static regex")
});

fn short_year_month(month: &str, year: &str) -> Option<YearMonth> {
    let month: u32 = month.parse().ok()?;
    let yy: i32 = year.parse().ok()?;
    (1..=12)
        .contains(&month)
        .then(|| YearMonth::new(if yy < 50 { 2000 + yy } else { 1900 + yy }, Some(month)))
}

/// The two tokens of each `M/YY` range in a line, with their byte spans.
fn short_year_ranges(line: &str) -> Vec<[(Token, usize, usize); 2]> {
    let mut found = Vec::new();
    // Most lines have no slash; the regex is not run on them (this runs for every date lookup).
    if !line.contains('/') {
        return found;
    }
    for c in SHORT_YEAR_RANGE.captures_iter(line) {
        let (Some(from), Some(start)) = (c.get(1), short_year_month(&c[2], &c[3])) else {
            continue;
        };
        let end = match (c.get(4), c.get(7)) {
            (Some(to), _) => match short_year_month(&c[5], &c[6]) {
                Some(end) if end >= start => (Token::Date(end), to.start(), to.end()),
                _ => continue,
            },
            (None, Some(present)) => (Token::Present, present.start(), present.end()),
            (None, None) => continue,
        };
        found.push([(Token::Date(start), from.start(), from.end()), end]);
    }
    found
}

/// All dates and present-markers of a line, in order, with their byte spans.
fn tokens(line: &str) -> Vec<(Token, usize, usize)> {
    let bytes = line.as_bytes();
    let lower = line.to_ascii_lowercase();
    let short = short_year_ranges(line);
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if let Some(pair) = short.iter().find(|pair| pair[0].1 == i) {
            found.extend_from_slice(pair);
            i = pair[1].2;
            continue;
        }
        let b = bytes[i];
        if b.is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit()) {
            let len = digit_run(bytes, i);
            let run = &line[i..i + len];
            if len == 4 && (run.starts_with("19") || run.starts_with("20")) {
                let year: i32 = run.parse().unwrap_or(0);
                let mut end = i + len;
                let mut month = None;
                // YYYY[./-年]MM[月]([./-]DD[日])?
                // `2018 年 6 月`: spaces around 年 and 月 (typeset Chinese) are allowed.
                let spaced = line[end..].len() - line[end..].trim_start_matches(' ').len();
                // `2018 / 12` (a spaced slash or dot) is a month too; a spaced dash is a range.
                let spaced_month = spaced > 0
                    && line[end + spaced..].starts_with(['/', '.'])
                    && line[end + spaced + 1..]
                        .trim_start_matches(' ')
                        .bytes()
                        .take_while(u8::is_ascii_digit)
                        .count()
                        <= 2;
                if line[end + spaced..].starts_with('年') || spaced_month {
                    end += spaced;
                }
                let rest = &line[end..];
                let sep_len = rest
                    .chars()
                    .next()
                    .filter(|c| matches!(c, '.' | '/' | '-' | '年'))
                    .map_or(0, char::len_utf8);
                if sep_len > 0 {
                    let mut j = end + sep_len;
                    while j < bytes.len() && bytes[j] == b' ' {
                        j += 1;
                    }
                    let mlen = digit_run(bytes, j);
                    // `5/2017-6/2020`: after a `M/YYYY` date, `-6/2020` starts the next date.
                    let next_is_month_year = i >= 2
                        && bytes[i - 1] == b'/'
                        && bytes[i - 2].is_ascii_digit()
                        && line[end..].starts_with('-')
                        && line[j + mlen..].starts_with('/')
                        && digit_run(bytes, j + mlen + 1) == 4;
                    if (1..=2).contains(&mlen) && !next_is_month_year {
                        let m: u32 = line[j..j + mlen].parse().unwrap_or(0);
                        if (1..=12).contains(&m) {
                            month = Some(m);
                            end = j + mlen;
                            let spaced =
                                line[end..].len() - line[end..].trim_start_matches(' ').len();
                            if line[end + spaced..].starts_with('月') {
                                end += spaced + '月'.len_utf8();
                            } else if let Some(c) = line[end..].chars().next()
                                && matches!(c, '.' | '/' | '-')
                            {
                                let dlen = digit_run(bytes, end + 1);
                                if (1..=2).contains(&dlen) {
                                    end += 1 + dlen;
                                }
                            }
                            if line[end..].starts_with('日') {
                                end += '日'.len_utf8();
                            }
                        }
                    } else if sep_len == '年'.len_utf8() {
                        end += sep_len;
                    }
                }
                let mut start = i;
                // MM/YYYY
                if month.is_none() && i >= 2 && matches!(bytes[i - 1], b'/' | b'.' | b'-') {
                    let mut k = i - 1;
                    let mut digits = 0;
                    while k > 0 && bytes[k - 1].is_ascii_digit() && digits < 3 {
                        k -= 1;
                        digits += 1;
                    }
                    if (1..=2).contains(&digits) && (k == 0 || !bytes[k - 1].is_ascii_digit()) {
                        let m: u32 = line[k..i - 1].parse().unwrap_or(0);
                        if (1..=12).contains(&m) {
                            month = Some(m);
                            start = k;
                        }
                    }
                }
                // Month name before the year: "Mar 2019", "March, 2019", "Mar. 2019".
                if month.is_none() {
                    let before = lower[..i].trim_end_matches([' ', ',', '.']);
                    for &(name, m) in MONTHS {
                        if before.ends_with(name) {
                            let k = before.len() - name.len();
                            if k == 0 || !lower.as_bytes()[k - 1].is_ascii_alphabetic() {
                                month = Some(m);
                                start = k;
                                break;
                            }
                        }
                    }
                }
                found.push((Token::Date(YearMonth::new(year, month)), start, end));
                i = end.max(i + len);
                continue;
            }
            // A month name and a two-digit year: `Sep’14`, `Jun '16`, `April'24`.
            if len == 2 && i >= 2 {
                let before = line[..i].trim_end_matches(' ');
                if let Some(apostrophe) = before
                    .chars()
                    .next_back()
                    .filter(|c| matches!(c, '\'' | '’' | '‘'))
                {
                    let head =
                        lower[..before.len() - apostrophe.len_utf8()].trim_end_matches([' ', '.']);
                    let month = MONTHS.iter().find(|(name, _)| {
                        head.ends_with(name)
                            && (head.len() == name.len()
                                || !head.as_bytes()[head.len() - name.len() - 1]
                                    .is_ascii_alphabetic())
                    });
                    if let Some(&(name, m)) = month {
                        let yy: i32 = run.parse().unwrap_or(0);
                        let year = if yy < 50 { 2000 + yy } else { 1900 + yy };
                        found.push((
                            Token::Date(YearMonth::new(year, Some(m))),
                            head.len() - name.len(),
                            i + len,
                        ));
                        i += len;
                        continue;
                    }
                }
            }
            i += len;
            continue;
        }
        if b.is_ascii_alphabetic() || b >= 0x80 {
            let word_start = i == 0 || !bytes[i - 1].is_ascii_alphabetic();
            if word_start {
                let matched = PRESENT.iter().find(|p| {
                    lower[i..].starts_with(*p)
                        && (!p.is_ascii()
                            || !lower
                                .as_bytes()
                                .get(i + p.len())
                                .is_some_and(u8::is_ascii_alphabetic))
                });
                if let Some(p) = matched {
                    found.push((Token::Present, i, i + p.len()));
                    i += p.len();
                    continue;
                }
            }
        }
        i += line[i..].chars().next().map_or(1, char::len_utf8);
    }
    found
}

/// Where `… --` ends when a range separator after a date closes the line: the date opens a
/// range that has not ended.
fn open_end_after(line: &str, date_end: usize) -> Option<usize> {
    let rest = line.get(date_end..)?;
    let trimmed = rest.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ')' | '）'));
    let separator = trimmed.trim_start();
    (!separator.is_empty()
        && separator
            .chars()
            .all(|c| matches!(c, '-' | '–' | '—' | '~' | '－'))
        && separator.chars().count() <= 2)
        .then_some(date_end + trimmed.len())
}

fn is_range_separator(between: &str) -> bool {
    let t = between.trim().to_lowercase();
    matches!(
        t.as_str(),
        "-" | "--" | "~" | "至" | "到" | "to" | "until" | "till" | "—" | "–" | "－" | "~~"
    )
}

/// Date ranges in a line, in order. A lone date becomes a range with only an end (a
/// graduation date) unless `lone_is_start`.
pub fn date_ranges(line: &str) -> Vec<DateRange> {
    let mut found = tokens(line);
    // `Jun - Sep 2020`, `June – Aug 2019`: a bare month before the range takes the end's year.
    let lower = line.to_ascii_lowercase();
    for k in 0..found.len() {
        let (Token::Date(end_date), start, _) = found[k] else {
            continue;
        };
        if end_date.month.is_none() || (k > 0 && found[k - 1].2 > start.saturating_sub(12)) {
            continue;
        }
        let before = lower[..start].trim_end();
        let Some(before) = ["-", "–", "—", "~", "to"]
            .iter()
            .find_map(|sep| before.strip_suffix(sep))
            .map(str::trim_end)
        else {
            continue;
        };
        if let Some(&(name, month)) = MONTHS.iter().find(|(name, _)| {
            before.ends_with(name)
                && (before.len() == name.len()
                    || !before.as_bytes()[before.len() - name.len() - 1].is_ascii_alphabetic())
        }) {
            let at = before.len() - name.len();
            found.insert(
                k,
                (
                    Token::Date(YearMonth::new(end_date.year, Some(month))),
                    at,
                    at + name.len(),
                ),
            );
            break;
        }
    }
    let mut ranges = Vec::new();
    let mut k = 0;
    while k < found.len() {
        let (token, start, end) = found[k];
        if let Token::Date(first) = token
            && let Some(&(next, nstart, nend)) = found.get(k + 1)
            // Tokens found by different patterns may overlap (`2026. 06/2017`): then there is
            // no text between them and they are not a range.
            && let Some(between) = line.get(end..nstart)
            && (is_range_separator(between)
                || (next == Token::Present && between.trim().is_empty()))
        {
            let (second, current) = match next {
                Token::Date(d) => (Some(d), false),
                Token::Present => (None, true),
            };
            ranges.push(DateRange {
                start: Some(first),
                end: second,
                current,
                span: (start, nend),
            });
            k += 2;
            continue;
        }
        if let Token::Date(only) = token
            && found.get(k + 1).is_none()
            && let Some(open_end) = open_end_after(line, end)
        {
            // `2025/05 --` ending the line: a range still running.
            ranges.push(DateRange {
                start: Some(only),
                end: None,
                current: true,
                span: (start, open_end),
            });
        } else if let Token::Date(only) = token {
            // `Summer 2023`: a season is a span of its own, not a graduation date.
            let before = line[..start].trim_end().to_ascii_lowercase();
            let season = ["summer", "fall", "autumn", "winter", "spring"]
                .into_iter()
                .find(|s| before.ends_with(s));
            ranges.push(DateRange {
                start: season.is_some().then_some(only),
                end: Some(only),
                current: false,
                // The season word is part of the date (`before` keeps byte offsets).
                span: (season.map_or(start, |s| before.len() - s.len()), end),
            });
        }
        k += 1;
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_with_two_digit_years_as_a_range() {
        let range = first(": 10/15-5/16 Namely, Site Reliability Engineer");
        assert_eq!((range.start, range.end), (ym(2015, 10), ym(2016, 5)));
        let range = first("2/15 - Present  Google");
        assert_eq!(range.start, ym(2015, 2));
        assert!(range.current);
        // Alone, or running backwards, it is not a date.
        assert!(date_ranges("mixed 3/15 of the flour").is_empty());
        assert!(date_ranges("scored 9/10-3/10 over two rounds").is_empty());
        // Four-digit years keep their reading.
        let range = first("6/2020-11/2020");
        assert_eq!((range.start, range.end), (ym(2020, 6), ym(2020, 11)));
    }

    #[test]
    fn overlapping_date_tokens_are_not_a_panic() {
        // Found by the resume_text fuzzer: two patterns matched overlapping spans.
        for line in [
            "研究实习生 2025.\u{FFFD}09 - 2026. 06/2017",
            "2025.09 - 2026. 06/2017",
            "2026. 06/2017 - 2018.1",
        ] {
            for range in date_ranges(line) {
                assert!(
                    range.span.0 <= range.span.1 && range.span.1 <= line.len(),
                    "{line}"
                );
            }
        }
    }

    fn ym(year: i32, month: u32) -> Option<YearMonth> {
        Some(YearMonth::new(year, Some(month)))
    }

    fn first(line: &str) -> DateRange {
        date_ranges(line)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no range in {line}"))
    }

    #[test]
    fn chinese_forms() {
        let r = first("2019.03 - 至今 阿里巴巴");
        assert_eq!((r.start, r.end, r.current), (ym(2019, 3), None, true));
        let r = first("2019年3月-2021年5月");
        assert_eq!((r.start, r.end), (ym(2019, 3), ym(2021, 5)));
        let r = first("2019/03-2021/05");
        assert_eq!((r.start, r.end), (ym(2019, 3), ym(2021, 5)));
        let r = first("2012.09.01-2016.06.30");
        assert_eq!((r.start, r.end), (ym(2012, 9), ym(2016, 6)));
        let r = first("2019年3月至今");
        assert_eq!((r.start, r.current), (ym(2019, 3), true));
        // Typeset with spaces, a one-digit month, a full-width bracket around the range.
        let r = first("绿盟科技成都 2018 年 6 月 - 2020 年 3 月");
        assert_eq!((r.start, r.end), (ym(2018, 6), ym(2020, 3)));
        let r = first("2016.6 — 2017.10 公司 职位");
        assert_eq!((r.start, r.end), (ym(2016, 6), ym(2017, 10)));
        let r = first("字节跳动（北京）（ 2021年3月 ~ 至今 ）");
        assert_eq!((r.start, r.current), (ym(2021, 3), true));
        let r = first("Sep’14 - Jun’16 MSc, Computer Science");
        assert_eq!((r.start, r.end), (ym(2014, 9), ym(2016, 6)));
        let r = first("April'24 - Now Member of Technical Staff: Udio");
        assert_eq!((r.start, r.current), (ym(2024, 4), true));
        let r = first("• Summer 2022: Quantitative Research Intern");
        assert_eq!(
            (r.start, r.end),
            (
                Some(YearMonth::new(2022, None)),
                Some(YearMonth::new(2022, None))
            )
        );
        let r = first("Jun - Sep 2020 | Cupertino, CA (remote)");
        assert_eq!((r.start, r.end), (ym(2020, 6), ym(2020, 9)));
        let r = first("June – Aug 2019 | Burlingame, CA");
        assert_eq!((r.start, r.end), (ym(2019, 6), ym(2019, 8)));
        let r = first("Perch Research - 安娜堡,美国 2018 / 12 - 至今");
        assert_eq!((r.start, r.current), (ym(2018, 12), true));
        let r = first("5/2017-6/2020");
        assert_eq!((r.start, r.end), (ym(2017, 5), ym(2020, 6)));
        let r = first("Upwork, 后端研发 2025/05 --");
        assert_eq!((r.start, r.end, r.current), (ym(2025, 5), None, true));
        let r = first("May, 2022 - Currently");
        assert_eq!((r.start, r.end, r.current), (ym(2022, 5), None, true));
        let r = first("2023 至今 某公司");
        assert_eq!(
            (r.start, r.current),
            (Some(YearMonth::new(2023, None)), true)
        );
    }

    #[test]
    fn english_forms() {
        let r = first("Senior Engineer, Google  Mar 2019 - Present");
        assert_eq!((r.start, r.end, r.current), (ym(2019, 3), None, true));
        let r = first("03/2019 - 06/2021");
        assert_eq!((r.start, r.end), (ym(2019, 3), ym(2021, 6)));
        let r = first("September 2015 to June 2019");
        assert_eq!((r.start, r.end), (ym(2015, 9), ym(2019, 6)));
        let r = first("2016 - 2020");
        assert_eq!(
            (r.start, r.end),
            (
                Some(YearMonth::new(2016, None)),
                Some(YearMonth::new(2020, None))
            )
        );
        let r = first("2019-2021");
        assert_eq!(
            (r.start, r.end),
            (
                Some(YearMonth::new(2019, None)),
                Some(YearMonth::new(2021, None))
            )
        );
    }

    #[test]
    fn phones_and_lone_dates() {
        assert!(date_ranges("电话：13812345678").is_empty());
        let r = first("Graduated 2016");
        assert_eq!((r.start, r.end), (None, Some(YearMonth::new(2016, None))));
        assert!(date_ranges("Nowhere near").is_empty());
    }
}
