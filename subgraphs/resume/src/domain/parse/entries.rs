//! Education and experience entries inside their sections.
//!
//! An entry is anchored on a line with a date range; its header (school / company / title /
//! degree / major) is the rest of that line plus short neighbouring lines that are not
//! description bullets. Everything until the next anchor is the entry's description.

use super::dates::{DateRange, date_ranges};
use super::lexicon::{degree_level, is_city, is_company, is_title, mentions_any, school_in};
use crate::domain::profile::{Education, Experience};
use looma_taxonomy::{find_city_in, is_cjk_ideograph};

/// Bullets, long sentences and lines ending like prose are descriptions, not headers.
fn is_description(line: &str) -> bool {
    let t = line.trim();
    t.starts_with(['•', '-', '*', '·', '●', '▪', '◦', '○', '■', '➢', '>', '√'])
        || t.chars().next().is_some_and(|c| c.is_ascii_digit())
            && t.contains(['、', '.'])
            && date_ranges(t).is_empty()
        || t.chars().count() > 90
        || (t.chars().count() > 60
            && !(t.contains([',', '|', '·', '，']) || t.contains(" - ") || t.contains(" — ")))
        || t.ends_with(['。', ';', '；'])
        || ends_like_prose(t)
        || continues_a_sentence(t)
        // `负责…` (in charge of) opens a duty; `负责人` (the person in charge) is a title.
        || t.replace("负责人", "").contains("负责")
        || t.starts_with("职责")
        || t.starts_with("工作内容")
        || t.starts_with("主要")
}

/// `statistical methods for trials.`, `and`: a Latin line opening with a lower-case word is
/// the rest of a wrapped sentence (`iOS Developer`, `eBay` have a capital inside).
fn continues_a_sentence(line: &str) -> bool {
    let first = line.split_whitespace().next().unwrap_or("");
    let word: String = first.chars().filter(|c| c.is_alphabetic()).collect();
    first.starts_with(|c: char| c.is_ascii_lowercase())
        && word.chars().all(|c| c.is_ascii_lowercase())
        && !first.contains(['.', '@', '/'])
}

/// `… deployment and testing practices.`: a sentence's end, not an abbreviation (`Inc.`,
/// `Co., Ltd.`, `Lab.`).
fn ends_like_prose(line: &str) -> bool {
    let Some(body) = line.strip_suffix('.') else {
        return false;
    };
    let last = body.rsplit(' ').next().unwrap_or("");
    last.chars().count() > 3 && last.chars().all(|c| c.is_lowercase())
        || body.split_whitespace().count() >= 6
}

/// Splits at whitespace next to a Han character (`阿里巴巴 高级工程师`, `美团 Java开发`), keeping
/// Latin phrases (`Senior Software Engineer`) whole.
fn split_han_spaces(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let before = current.chars().next_back();
            let after = chars.get(j).copied();
            let han = |c: Option<char>| c.is_some_and(is_cjk_ideograph);
            // `嵌入式 linux 软件开发`: a lower-case Latin word set between Chinese words with
            // single spaces is part of the phrase, not a field boundary.
            let word_end = chars[j..]
                .iter()
                .position(|c| c.is_whitespace())
                .map_or(chars.len(), |n| j + n);
            let latin_inside = j - i == 1
                && han(before)
                && chars[j..word_end].iter().all(|c| c.is_ascii_lowercase())
                && chars.get(word_end) == Some(&' ')
                && han(chars.get(word_end + 1).copied());
            let after_latin_inside = j - i == 1
                && han(after)
                && current.ends_with(|c: char| c.is_ascii_lowercase())
                && {
                    let word: String = current
                        .chars()
                        .rev()
                        .take_while(|c| !c.is_whitespace())
                        .collect();
                    word.chars().all(|c| c.is_ascii_lowercase())
                        && current
                            .chars()
                            .rev()
                            .nth(word.chars().count() + 1)
                            .is_some_and(is_cjk_ideograph)
                };
            // `CTO & 技术合伙人`, `前端 / 后端`: a connector joins, it does not separate.
            let connector = |c: Option<char>| c.is_some_and(|c| matches!(c, '&' | '/' | '+'));
            let joined_by_connector = j - i == 1 && (connector(before) || connector(after));
            if latin_inside || after_latin_inside || joined_by_connector {
                current.push(' ');
            } else if han(before) || han(after) || j - i >= 2 {
                pieces.push(std::mem::take(&mut current));
            } else {
                current.push(' ');
            }
            i = j;
            continue;
        }
        current.push(chars[i]);
        i += 1;
    }
    pieces.push(current);
    pieces
}

/// Splits a header line into fields at separators recruiters use.
fn fields(text: &str) -> Vec<String> {
    // An emptied icon (`( )`) separates too.
    let pieces_source = text.replace("( )", "  ").replace("（ ）", "  ");
    // `Atom Logistics LLC -Route Driver -Marietta`: a dash glued to the next field separates.
    let pieces_source = glued_dashes_spaced(&pieces_source);
    let pieces_source = bracketed_city_kept(&pieces_source);
    let mut pieces: Vec<String> = split_han_spaces(&pieces_source)
        .into_iter()
        .map(|p| p.replace(KEPT_SPACE, " "))
        .collect();
    for sep in [
        "|", "｜", "\t", "  ", " · ", "·", " - ", " — ", ",", "，", " at ", " @ ", "@", ": ",
    ] {
        pieces = pieces
            .iter()
            .flat_map(|p| p.split(sep).map(str::to_owned).collect::<Vec<_>>())
            .collect();
    }
    pieces
        .into_iter()
        .map(|p| balanced(p.trim()))
        .filter(|p| p.chars().any(char::is_alphanumeric))
        .collect()
}

/// Stands for a space that must not split a field (see [`bracketed_city_kept`]).
const KEPT_SPACE: char = '\u{E000}';

/// `亿贝软件工程 (上海) 有限公司`: the spaces around a bracketed place inside a Chinese employer's
/// name do not split it.
fn bracketed_city_kept(text: &str) -> String {
    const SUFFIXES: &[&str] = &["有限", "股份", "公司", "集团"];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(" (") {
        let (before, from_open) = rest.split_at(open);
        let inner_start = 2;
        let close = from_open[inner_start..]
            .find(')')
            .map(|at| at + inner_start);
        let glued = close.and_then(|close| {
            let inner = &from_open[inner_start..close];
            let after = &from_open[close + 1..];
            let tail = after.strip_prefix(' ').unwrap_or(after);
            let fits = before.ends_with(is_cjk_ideograph)
                && (1..=6).contains(&inner.chars().count())
                && inner.chars().all(is_cjk_ideograph)
                && SUFFIXES.iter().any(|s| tail.starts_with(s));
            fits.then(|| {
                let spaced = after.starts_with(' ');
                let space = if spaced {
                    KEPT_SPACE.to_string()
                } else {
                    String::new()
                };
                (
                    format!("{KEPT_SPACE}({inner}){space}"),
                    close + 1 + usize::from(spaced),
                )
            })
        });
        out.push_str(before);
        match glued {
            Some((replacement, consumed)) => {
                out.push_str(&replacement);
                rest = &from_open[consumed..];
            }
            None => {
                out.push_str(" (");
                rest = &from_open[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A field without the decoration around it, keeping the brackets it closes or opens itself:
/// `Medco (Express Scripts)` and `Engineer (Co-Op)` stay whole, `(Remote)` loses its brackets.
fn balanced(field: &str) -> String {
    let trim = |s: &str| {
        s.trim_matches(|c: char| matches!(c, ':' | '-' | '—') || c.is_whitespace())
            .to_owned()
    };
    let is_open = |c: char| matches!(c, '(' | '（');
    let is_close = |c: char| matches!(c, ')' | '）');
    let mut value = trim(field);
    loop {
        let opens = value.chars().filter(|c| is_open(*c)).count();
        let closes = value.chars().filter(|c| is_close(*c)).count();
        let first = value.chars().next().unwrap_or(' ');
        let last = value.chars().next_back().unwrap_or(' ');
        let wrapped = is_open(first) && is_close(last) && opens == 1 && closes == 1;
        let next = if wrapped {
            value[first.len_utf8()..value.len() - last.len_utf8()].to_owned()
        } else if is_open(first) && closes == 0 {
            value[first.len_utf8()..].to_owned()
        } else if is_close(last) && closes > opens {
            value[..value.len() - last.len_utf8()].to_owned()
        } else if opens > closes && !is_open(last) {
            // The separator split inside the brackets: close them again.
            let close = if value.contains('（') { '）' } else { ')' };
            format!("{value}{close}")
        } else if is_open(last) {
            value[..value.len() - last.len_utf8()].to_owned()
        } else {
            break;
        };
        let next = trim(&next);
        if next == value {
            break;
        }
        value = next;
    }
    value
}

/// ` -Word` → ` - Word`: a dash written against the next field is a separator, not a hyphen.
fn glued_dashes_spaced(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '-' && previous == ' ' && chars.peek().is_some_and(|next| next.is_uppercase()) {
            out.push(' ');
        }
        previous = c;
    }
    out
}

fn without_span(line: &str, span: (usize, usize)) -> String {
    format!("{} {}", &line[..span.0], &line[span.1..])
}

struct Anchor {
    line: usize,
    range: DateRange,
}

fn anchors(lines: &[String], experience: bool) -> Vec<Anchor> {
    let mut anchors = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let ranges = date_ranges(line);
        let chosen = ranges
            .iter()
            .find(|r| r.start.is_some())
            .or_else(|| if experience { None } else { ranges.first() });
        let bullet = line
            .trim_start()
            .starts_with(['•', '-', '*', '·', '●', '▪', '◦', '○', '■', '➢', '>', '√']);
        // `• Feb 2022 - May 2023: Mechanical Engineer, Acme`: a bullet that opens with its
        // dates is an entry, however long.
        let opens_with_dates = chosen.is_some_and(|r| {
            line[..r.span.0]
                .trim_matches(|c: char| c.is_whitespace() || "•-*·●▪◦○■➢>√".contains(c))
                .is_empty()
        });
        // `• Also was Product Lead for BGP from Jan 2022 to Nov 2023`: a sentence about dates.
        let in_prose = chosen.is_some_and(|r| {
            let before = line[..r.span.0].trim_end().to_lowercase();
            ["from", "since", "between"]
                .iter()
                .any(|w| before.ends_with(&format!(" {w}")))
        });
        if let Some(range) = chosen
            && !in_prose
            && !(bullet && line.chars().count() > 60 && !opens_with_dates)
            && line.chars().count() <= 160
        {
            anchors.push(Anchor {
                line: i,
                range: *range,
            });
        }
    }
    anchors
}

/// Header context for each anchor: the anchor line's remaining text, plus up to two short
/// non-description lines above it (not claimed by the previous entry) and, when still needed,
/// up to two below it.
fn header_lines(
    lines: &[String],
    anchors: &[Anchor],
    k: usize,
    look_above: bool,
) -> (Vec<String>, usize) {
    let anchor = &anchors[k];
    let floor = if !look_above {
        anchor.line
    } else if k == 0 {
        0
    } else {
        let previous = &anchors[k - 1];
        // `圣彼得堡国立大学  2025.12 - 至今` over `助理教授  俄罗斯，圣彼得堡`: a title right under
        // an employer's dates completes that entry; it is not the next entry's header.
        let previous_rest = without_span(&lines[previous.line], previous.range.span);
        let next_line = (previous.line + 1..anchor.line).find(|&j| !lines[j].is_empty());
        match next_line {
            Some(j)
                if matches!(
                    fields_to_company_and_title(&[previous_rest], false),
                    (Some(_), None)
                ) && fields(&lines[j]).first().is_some_and(|f| is_title(f)) =>
            {
                j + 1
            }
            _ => previous.line + 1,
        }
    };
    let mut header = Vec::new();
    let mut above = Vec::new();
    let mut i = anchor.line;
    while i > floor && above.len() < 2 {
        let line = &lines[i - 1];
        // A blank line (kept in entry sections) above the dates ends the previous entry: the
        // wrapped end of its last sentence (`Gottfried (Major League Hacking).`) is not ours.
        if is_description(line) || !line.chars().any(char::is_alphanumeric) {
            break;
        }
        above.push(line.clone());
        i -= 1;
    }
    above.reverse();
    header.extend(above);
    header.push(without_span(&lines[anchor.line], anchor.range.span));
    let next_anchor = anchors.get(k + 1).map_or(lines.len(), |a| a.line);
    // Lines above the next anchor that belong to the next entry's header.
    let mut below_end = anchor.line + 1;
    let mut taken = 0;
    while below_end < next_anchor && taken < 2 {
        let line = &lines[below_end];
        // Below the dates, a blank line is passed over while the header names at most one
        // thing (`2006 - present`, the title, a blank, the employer); after a full header
        // (`Process Engineer, Total E&P Dunga`) it ends the header.
        if line.is_empty() {
            let so_far = std::iter::once(without_span(&lines[anchor.line], anchor.range.span))
                .chain(lines[anchor.line + 1..below_end].iter().cloned())
                .collect::<Vec<_>>()
                .join("  ");
            let named = fields(&so_far).iter().filter(|f| !is_place(f)).count();
            if named > 1 {
                break;
            }
            below_end += 1;
            continue;
        }
        if is_description(line) || !line.chars().any(char::is_alphanumeric) {
            break;
        }
        below_end += 1;
        taken += 1;
    }
    for line in &lines[anchor.line + 1..below_end] {
        if !line.is_empty() {
            header.push(line.clone());
        }
    }
    (header, below_end)
}

pub fn education(lines: &[String]) -> Vec<Education> {
    let lines = &join_wrapped_school_names(&join_column_ranges(lines));
    let anchors = education_anchors(lines);
    let mut entries: Vec<Education> = Vec::new();
    if anchors.is_empty() {
        // No dates: one entry per school line.
        for line in lines {
            if let Some(school) = school_in(line) {
                entries.push(education_from(std::slice::from_ref(line), None, school));
            }
        }
        return entries;
    }
    // `2016-2019` over `Høgskulen på Vestlandet` over `• Bachelor in …`, `2012  Doctor of
    // Philosophy` over `University of Sydney`: when no school comes before the first entry's
    // dates, each entry opens with its dates and reads downwards.
    let date_first = lines[..=anchors[0].line]
        .iter()
        .all(|l| school_in(l).is_none());
    let looks_above = |a: &Anchor| school_in(&lines[a.line]).is_none() && !date_first;
    for k in 0..anchors.len() {
        let look_above = looks_above(&anchors[k]);
        // The lines between this entry and the next belong to the next one when it reads
        // upwards from its dates.
        let next_reads_up = anchors.get(k + 1).is_some_and(&looks_above);
        let header = education_header(lines, &anchors, k, look_above, !next_reads_up);
        let joined = header.join("  ");
        let school = match school_in(&joined) {
            Some(school) => school,
            // `BS in Computer Engineering` over `December 2015`, under an entry of the same
            // school: a second degree there.
            None if look_above
                && degree_level(&joined).is_some()
                && only_place_beside(&lines[anchors[k].line], anchors[k].range.span)
                && !entries.is_empty() =>
            {
                entries[entries.len() - 1]
                    .school
                    .clone()
                    .unwrap_or_default()
            }
            // A date line without a school (an award, a course) is not an education entry.
            None => continue,
        };
        entries.push(education_from(&header, Some(anchors[k].range), school));
    }
    entries
}

/// Dated lines of an education section, except a lone date right under an entry's range
/// (`2018.9 - 至今` over `在读硕士研究生 计算机系统结构，预计于 2021 年 7 月毕业`): that date is
/// part of the entry above, not one of its own.
fn education_anchors(lines: &[String]) -> Vec<Anchor> {
    let mut anchors = anchors(lines, false);
    let mut k = 1;
    while k < anchors.len() {
        let (above, this) = (&anchors[k - 1], &anchors[k]);
        // `圣彼得堡国立大学  2021.09 - 2025.06` over the degree over `论文题目：…  2025 年 4 月答辩`.
        let same_entry = this.line <= above.line + 2
            && school_in(&lines[above.line]).is_some()
            && lines[above.line + 1..this.line]
                .iter()
                .all(|l| school_in(l).is_none());
        if (this.line == above.line + 1 || same_entry)
            && this.range.start.is_none()
            && above.range.start.is_some()
            && school_in(&lines[this.line]).is_none()
        {
            anchors.remove(k);
        } else {
            k += 1;
        }
    }
    anchors
}

/// `December 2015 | Edwardsville, IL`, `May 2020`: a line holding its dates and at most a
/// place.
fn only_place_beside(line: &str, span: (usize, usize)) -> bool {
    let rest = without_span(line, span);
    let rest = rest.trim_matches(|c: char| !c.is_alphanumeric());
    rest.is_empty()
        || is_place(rest)
        || find_city_in(rest).is_some()
        || without_comma_locations(rest, true).is_empty()
}

/// An education entry's header: like [`header_lines`], and below the dates (when `below`)
/// also the lines naming a degree or a school however they are set (`• B.S. in Food
/// Science`, `:  BEng, Computer Engineering. Stevens Institute of Technology.`) and a short
/// bullet right under them (`• 计算机技术`), up to a line naming another school.
fn education_header(
    lines: &[String],
    anchors: &[Anchor],
    k: usize,
    look_above: bool,
    below: bool,
) -> Vec<String> {
    let (mut header, below_end) = header_lines(lines, anchors, k, look_above);
    // The lines `header_lines` took below the dates are read again here.
    let anchor = &anchors[k];
    let taken_below = lines[anchor.line + 1..below_end]
        .iter()
        .filter(|l| !l.is_empty())
        .count();
    header.truncate(header.len() - taken_below);
    if !below {
        return header;
    }
    let next_anchor = anchors.get(k + 1).map_or(lines.len(), |a| a.line);
    let mut has_school = school_in(&header.join("  ")).is_some();
    let mut took_bullet = false;
    for line in &lines[anchor.line + 1..next_anchor.min(anchor.line + 3)] {
        let text = line
            .trim()
            .trim_start_matches([
                '•', '-', '*', '·', '●', '▪', '◦', '○', '■', '➢', '>', '√', ':',
            ])
            .trim();
        if text.is_empty() || text.chars().count() > 160 {
            break;
        }
        // A faculty (`国家示范性软件学院`) under the school does not open another entry.
        let school = school_in(text).is_some_and(|school| !is_faculty(&school));
        if school && has_school {
            break;
        }
        let bullet = text.len() < line.trim().len();
        let short = text.chars().count() <= 30
            && !text.contains([':', '：', '.', '。'])
            && !text.chars().any(|c| c.is_ascii_digit());
        if school
            || degree_level(text).is_some()
            || !is_description(line)
            || (bullet && short && !took_bullet)
        {
            has_school |= school;
            took_bullet |= bullet;
            header.push(text.to_owned());
        } else {
            break;
        }
    }
    header
}

fn education_from(header: &[String], range: Option<DateRange>, school: String) -> Education {
    let joined = header.join("  ");
    let degree = degree_level(&joined).map(|d| d.code().to_owned());
    let major = major(header, &school);
    Education {
        school: Some(school),
        degree,
        major,
        start: range.and_then(|r| r.start),
        end: range.and_then(|r| r.end),
    }
}

const DEGREE_WORDS: &[&str] = &[
    "学硕",
    "专硕",
    "本科",
    "学士",
    "硕士",
    "研究生",
    "博士",
    "大专",
    "专科",
    "高中",
    "中专",
    "统招",
    "全日制",
    "在读",
    "毕业",
    "学位",
    "双学位",
    "硕士研究生",
    "博士研究生",
    "高职",
    "工学学士",
    "理学学士",
    "文学学士",
    "工学硕士",
    "理学硕士",
    "工学博士",
    "理学博士",
];

/// [`DEGREE_WORDS`] with compounds (`工学学士`, `硕士研究生`) before their parts.
static DEGREE_WORDS_LONGEST_FIRST: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| {
        let mut words = DEGREE_WORDS.to_vec();
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        words
    });

/// `计算机科学与技术本科`, `自动化专业工学学士`, `光通信技术专业`: the field of study without the
/// degree words and `专业` glued after it.
fn without_degree_suffix(value: &str) -> String {
    let mut value = value.trim().to_owned();
    loop {
        let longest = DEGREE_WORDS
            .iter()
            .chain(&["专业"])
            .filter(|w| value.ends_with(**w) && value.len() > w.len())
            .max_by_key(|w| w.len());
        match longest {
            Some(word) => value = value[..value.len() - word.len()].trim().to_owned(),
            None => return value,
        }
    }
}

fn is_degree_word(piece: &str) -> bool {
    let lower = piece.to_lowercase();
    let lower = lower.trim_matches(|c: char| !c.is_alphanumeric());
    if piece.chars().any(is_cjk_ideograph) {
        // `在读硕士研究生`, `统招非全日制`, `硕士学位`: nothing left once the degree words are
        // gone (`应用数学与控制过程博士` names a field).
        let mut rest = piece.to_owned();
        for word in DEGREE_WORDS_LONGEST_FIRST.iter() {
            rest = rest.replace(word, "");
        }
        return rest
            .trim_matches(|c: char| !c.is_alphanumeric())
            .chars()
            .count()
            <= 1;
    }
    DEGREE_WORDS.contains(&piece)
        || (degree_level(piece).is_some()
            && piece.chars().count() <= 12
            && !lower.contains(" in ")
            && !lower.contains(" of "))
        || matches!(lower, "gpa" | "major" | "minor")
}

fn major(header: &[String], school: &str) -> Option<String> {
    major_raw(header, school)
        .map(|value| major_part(&value))
        .map(|value| without_degree_name(&value))
        .filter(|value| !value.is_empty() && !is_place(value) && !is_score_or_number(value))
        .filter(|value| {
            let lower = value.to_lowercase();
            !lower.contains("graduation") && !lower.starts_with("expected")
        })
}

/// `IN COMPUTER SCIENCE`, `(Physics)`, `Master of Science in Statistics`, `Doctor of
/// Philosophy`: the field without the degree's name around it (nothing when only the degree
/// is named).
fn without_degree_name(value: &str) -> String {
    let mut value = value.trim().to_owned();
    if value.is_ascii() && degree_level(&value).is_some() {
        let lower = value.to_lowercase();
        value = match (value.find('('), lower.find(" in ")) {
            (Some(open), _) if degree_level(&value[..open]).is_some() => {
                value[open + 1..].trim_end_matches(')').trim().to_owned()
            }
            (_, Some(at)) => value[at + 4..].trim().to_owned(),
            _ if !value.contains(',') => String::new(),
            _ => value,
        };
    }
    let mut value = value
        .trim_matches(|c: char| matches!(c, '(' | ')' | '（' | '）') || c.is_whitespace())
        .to_owned();
    if let Some(rest) = value
        .strip_prefix("in ")
        .or_else(|| value.strip_prefix("IN "))
    {
        value = rest.trim().to_owned();
    }
    value
}

/// `3.9 / 4.0`, `+46 721 750 990`, `($105)`: a score, phone or amount, not a field of study.
fn is_score_or_number(value: &str) -> bool {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let letters = value.chars().filter(|c| c.is_alphabetic()).count();
    digits > 0 && digits >= letters
}

fn major_raw(header: &[String], school: &str) -> Option<String> {
    let joined = header.join("  ");
    // Labelled: 专业：X / Major: X
    for label in ["专业:", "专业 ", "Major:", "Major in "] {
        if let Some(at) = joined.find(label) {
            let rest = &joined[at + label.len()..];
            if let Some(value) = fields(rest).into_iter().next() {
                return Some(value);
            }
        }
    }
    // English: "Bachelor of Science in Computer Science", "B.S. in Economics", "MSc, Finance".
    for field in fields(&joined) {
        if let Some(at) = field.find(" in ") {
            let (before, after) = field.split_at(at);
            if degree_level(before).is_some() {
                let value = after[4..].trim();
                if !value.is_empty() {
                    return Some(value.to_owned());
                }
            }
        }
    }
    // "School - B.S., Computer Science": the field right after the degree.
    let all = fields(&joined);
    if !joined.chars().any(is_cjk_ideograph)
        && let Some(at) = all
            .iter()
            .position(|f| !school.contains(f.as_str()) && degree_level(f).is_some())
    {
        // `B.S. Computer Science`, `BS COMPUTER SCIENCE`: the words after the degree.
        let words: Vec<&str> = all[at].split_whitespace().collect();
        let mut skip = words
            .iter()
            .take_while(|w| degree_level(w).is_some())
            .count();
        // The rest of the degree's name: `(Mod.)`, `(Hons)`, `of Commerce`, then `in`.
        while skip > 0 && words.get(skip).is_some_and(|w| w.starts_with('(')) {
            skip += 1;
        }
        let word_is =
            |at: usize, word: &str| words.get(at).is_some_and(|w| w.eq_ignore_ascii_case(word));
        if skip > 0 && word_is(skip, "of") {
            skip += 2;
        }
        if skip > 0 && word_is(skip, "in") {
            skip += 1;
        }
        // `Ph.D. Stanford University, Statistics`: the school after the degree is not its field.
        if skip > 0 && skip < words.len() && !school.contains(&words[skip..].join(" ")) {
            return Some(words[skip..].join(" "));
        }
    }
    if !joined.chars().any(is_cjk_ideograph)
        && let Some(at) = all
            .iter()
            .position(|f| !school.contains(f.as_str()) && degree_level(f).is_some())
        && let Some(next) = all.get(at + 1)
        && !school.contains(next.as_str())
        && date_ranges(next).is_empty()
        && degree_level(next).is_none()
    {
        return Some(next.clone());
    }
    // `De Pere, WI`: a town before its state's code, and the code itself, are places.
    let state_code = |field: &str| {
        (2..=3).contains(&field.len()) && field.chars().all(|c| c.is_ascii_uppercase())
    };
    let all = fields(&joined);
    for (i, field) in all.iter().enumerate() {
        if state_code(field) || all.get(i + 1).is_some_and(|next| state_code(next)) {
            continue;
        }
        let field = field.replace(school, "");
        let field = major_part(&field);
        let field = field.as_str();
        if field.is_empty()
            || school.contains(field)
            || is_degree_word(field)
            || field.starts_with("GPA")
            || is_place(field)
            || is_faculty(field)
            || ["绩点", "排名", "统招", "GPA", "ACM", "导师", "方向", "课程"]
                .iter()
                .any(|w| field.contains(w))
        {
            continue;
        }
        if date_ranges(field).is_empty() && !field.chars().all(|c| c.is_ascii_digit() || c == '.') {
            let value = without_degree_suffix(field);
            if !value.is_empty() && value.chars().count() <= 40 {
                return Some(value);
            }
        }
    }
    None
}

/// A range typeset down a date column: `2013.03` over `至今`, or the end over the start
/// (`2019.05 全栈开发 @ 志御` over `2018.10 前端 …`) becomes one line with the range.
/// A school name wrapped in a narrow column: `SOUTHERN ILLINOIS` over `UNIVERSITY EDWARDSVILLE`,
/// `WASHINGTON UNIVERSITY` over `IN ST. LOUIS`: the two lines are one name.
fn join_wrapped_school_names(lines: &[String]) -> Vec<String> {
    const MARKERS: &[&str] = &["university", "college", "institute", "school", "academy"];
    const JOINERS: &[&str] = &["of", "in", "at", "for"];
    let words = |line: &str| -> Vec<String> {
        line.split_whitespace()
            .map(|w| {
                w.trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase()
            })
            .collect()
    };
    // A short line of capitalised words: no digits, no separators, no sentence.
    let name_part = |line: &str| {
        let count = line.split_whitespace().count();
        (1..=4).contains(&count)
            && !line.contains(|c: char| c.is_ascii_digit() || matches!(c, '|' | ',' | ':'))
            && line.split_whitespace().all(|w| {
                w.starts_with(char::is_uppercase) || JOINERS.contains(&w.to_lowercase().as_str())
            })
    };
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        // Both halves in the same case: `Shingling` over `UNIVERSITY OF VICTORIA` is a title
        // over a school.
        let all_caps = |text: &str| !text.chars().any(char::is_lowercase);
        if let Some(next) = lines.get(i + 1).map(|n| n.trim())
            && name_part(line)
            && all_caps(line) == all_caps(next)
            && school_in(&format!("{line} {next}")).is_some()
        {
            let (these, following) = (words(line), words(next));
            let opens_with_marker = following
                .first()
                .is_some_and(|w| MARKERS.contains(&w.as_str()));
            let ends_with_marker = these.last().is_some_and(|w| MARKERS.contains(&w.as_str()));
            let continues = following
                .first()
                .is_some_and(|w| JOINERS.contains(&w.as_str()))
                && name_part(next);
            // `NORTHWEST MISSOURI` over `STATE UNIVERSITY`: in capitals, the marker may come
            // later on the second line.
            let caps_marker_later = all_caps(line)
                && name_part(next)
                && following.iter().any(|w| MARKERS.contains(&w.as_str()));
            if !these.iter().any(|w| MARKERS.contains(&w.as_str()))
                && (opens_with_marker || caps_marker_later)
                || ends_with_marker && continues
            {
                out.push(format!("{line} {next}"));
                i += 2;
                continue;
            }
        }
        out.push(lines[i].clone());
        i += 1;
    }
    out
}

fn join_column_ranges(lines: &[String]) -> Vec<String> {
    let leading = |line: &str| -> Option<(DateRange, String)> {
        let ranges = date_ranges(line);
        let [only] = ranges.as_slice() else {
            return None;
        };
        let rest = line[only.span.1..].trim();
        (only.span.0 == 0 && only.start.is_none()).then(|| (*only, rest.to_owned()))
    };
    let present = |line: &str| -> Option<String> {
        ["至今", "今", "Present", "present", "Now", "now"]
            .iter()
            .find_map(|p| line.strip_prefix(p))
            .map(|rest| rest.trim().to_owned())
    };
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        if let (Some((first, rest)), Some(next)) = (leading(&lines[i]), lines.get(i + 1)) {
            let first_date = first.end.expect("a lone date is an end");
            if let Some(after) = present(next) {
                out.push(format!("{first_date} - 至今 {rest}").trim().to_owned());
                if !after.is_empty() {
                    out.push(after);
                }
                i += 2;
                continue;
            }
            if let Some((second, after)) = leading(next) {
                let second_date = second.end.expect("a lone date is an end");
                let months = first_date.month.is_some() && second_date.month.is_some();
                if months || rest.is_empty() {
                    let (start, end) = if second_date < first_date {
                        (second_date, first_date)
                    } else {
                        (first_date, second_date)
                    };
                    out.push(format!("{start} - {end} {rest}").trim().to_owned());
                    if !after.is_empty() {
                        out.push(after);
                    }
                    i += 2;
                    continue;
                }
            }
        }
        out.push(lines[i].clone());
        i += 1;
    }
    out
}

/// The field of study in a header field: what precedes `;`, a `Minor:`, a parenthesised
/// GPA or a trailing city (`Computer Science Tempe`, `Physics; Minor: CS`).
fn major_part(field: &str) -> String {
    let mut value = field.trim();
    for cut in [
        ";",
        "；",
        "。",
        "Minor",
        "minor",
        "(GPA",
        "（GPA",
        "(gpa",
        "GPA",
        "(Double",
        " with Distinction",
        " with distinction",
        " with Honors",
        " with honors",
    ] {
        if let Some(at) = value.find(cut)
            && at > 0
        {
            value = value[..at].trim();
        }
    }
    // `Computer Engineering. Stevens Institute of Technology`: the field ends with its sentence.
    if let Some(at) = value.find(". ")
        && value[..at]
            .rsplit(' ')
            .next()
            .is_some_and(|w| w.chars().filter(|c| c.is_alphabetic()).count() > 3)
    {
        value = value[..at].trim();
    }
    // `软件学院/软件工程`: the faculty beside the field is neither.
    if let Some((left, right)) = value.split_once('/')
        && (is_faculty(left.trim()) || is_faculty(right.trim()))
    {
        value = if is_faculty(left.trim()) { right } else { left }.trim();
    }
    // `信息工程(光电系)`, `数学与应用数学(软工方向)`: a department or a focus in brackets.
    let mut value = match value.strip_suffix("专业") {
        Some(field) if !field.trim().is_empty() => field.trim().to_owned(),
        _ => value.to_owned(),
    };
    if let Some(open) = value.find(['(', '（'])
        && value.ends_with([')', '）'])
    {
        let inner = value[open..].trim_matches(['(', ')', '（', '）']);
        if is_faculty(inner) || inner.ends_with("方向") {
            value = value[..open].trim().to_owned();
        }
    }
    if !value.chars().any(is_cjk_ideograph)
        && let Some(city) = find_city_in(&value)
        && city.end == value.len()
        && city.start > 0
    {
        value = value[..city.start].trim_end_matches([' ', ',']).to_owned();
    }
    value
}

/// A city, province or country (`云南`, `浙江杭州`, `中国香港`, `俄罗斯`), not a major.
fn is_place(field: &str) -> bool {
    const REGIONS: &[&str] = &[
        "中国",
        "美国",
        "英国",
        "俄罗斯",
        "加拿大",
        "澳大利亚",
        "新加坡",
        "日本",
        "德国",
        "法国",
        "香港",
        "澳门",
        "台湾",
        "北京",
        "天津",
        "上海",
        "重庆",
        "河北",
        "山西",
        "辽宁",
        "吉林",
        "黑龙江",
        "江苏",
        "浙江",
        "安徽",
        "福建",
        "江西",
        "山东",
        "河南",
        "湖北",
        "湖南",
        "广东",
        "海南",
        "四川",
        "贵州",
        "云南",
        "陕西",
        "甘肃",
        "青海",
        "内蒙古",
        "广西",
        "西藏",
        "宁夏",
        "新疆",
    ];
    if is_city(field) {
        return true;
    }
    let mut rest = field.trim().to_owned();
    for region in REGIONS {
        rest = rest.replace(region, "");
    }
    if let Some(city) = find_city_in(&rest) {
        rest.replace_range(city.start..city.end, "");
    }
    let rest =
        rest.trim_matches(|c: char| c.is_whitespace() || matches!(c, '省' | '市' | ',' | '·'));
    rest.is_empty() && field.chars().any(is_cjk_ideograph)
}

/// A faculty or department of the school (`软件学院`, `计算机科学技术系`, `School of
/// Business`), which is neither the school nor the major.
fn is_faculty(field: &str) -> bool {
    let lower = field.to_lowercase();
    ["学院", "系", "学部", "研究院", "研究所"]
        .iter()
        .any(|end| field.ends_with(end))
        || ["school of", "college of", "faculty of", "department of"]
            .iter()
            .any(|start| lower.starts_with(start))
}

/// Which dated entries of a section are jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobReading {
    /// A job section: every dated entry.
    All,
    /// A section of jobs and projects (`工作/项目经历`, `Experience and Projects`): entries that
    /// name a project or contest and no employer are left out.
    SkipProjects,
    /// A research or projects section: only positions, an employer with a job title
    /// (`Research Assistant, Stanford University`, `香港大学 暑期实习生`).
    PositionsOnly,
}

pub fn experience(lines: &[String]) -> Vec<Experience> {
    experience_as(lines, JobReading::All)
}

pub fn experience_as(lines: &[String], reading: JobReading) -> Vec<Experience> {
    let lines = &join_column_ranges(lines);
    let anchors = anchors(lines, true);
    let mut entries = Vec::new();
    for k in 0..anchors.len() {
        let (header, description_start) = header_lines(lines, &anchors, k, true);
        let description_end = anchors.get(k + 1).map_or(lines.len(), |next| {
            // The next entry's header lines above its anchor are not our description.
            let mut end = next.line;
            let mut taken = 0;
            while end > description_start
                && taken < 2
                && !lines[end - 1].is_empty()
                && !is_description(&lines[end - 1])
            {
                end -= 1;
                taken += 1;
            }
            end
        });
        let range = anchors[k].range;
        // `2010.9-2014.7  学士  西南交通大学  电子信息工程` among jobs is a degree, not a job.
        let joined = header.join("  ");
        if school_in(&joined).is_some()
            && fields(&joined)
                .iter()
                .any(|f| degree_level(f).is_some() && !is_title(f))
        {
            continue;
        }
        let (mut company, mut title) = company_and_title(&header);
        let description: Vec<String> = lines
            [description_start.min(description_end)..description_end]
            .iter()
            .filter(|l| !l.is_empty())
            .cloned()
            .collect();
        if company.is_some() && title.is_none() {
            title = title_in_first_bullet(&description);
        }
        // A freelancer's bullets name clients, not an employer.
        let freelance = title.as_deref().is_some_and(|t| {
            let t = t.to_lowercase();
            ["freelance", "self-employed", "自由职业"]
                .iter()
                .any(|w| t.contains(w))
        });
        if title.is_some() && company.is_none() && !freelance {
            company = employer_in_first_bullet(&description);
        }
        let employer = company.as_deref().is_some_and(is_employer);
        let titled = title.as_deref().is_some_and(is_title);
        let keep = match reading {
            JobReading::All => true,
            JobReading::SkipProjects => employer || titled && !names_a_project(&joined),
            JobReading::PositionsOnly => employer && titled && !names_a_project(&joined),
        };
        if !keep {
            continue;
        }
        entries.push(Experience {
            company,
            title,
            start: range.start,
            end: range.end,
            current: range.current,
            description: description.join("\n"),
        });
    }
    roles_under_one_employer(entries)
}

/// `• Senior Network Specialist, Full time` under `Marin IT AS`: an entry's title written as
/// its first bullet.
fn title_in_first_bullet(description: &[String]) -> Option<String> {
    let content = short_first_bullet(description)?;
    if content.ends_with('。') {
        return None;
    }
    let field = fields(content).into_iter().next()?;
    (is_title(&field) && !is_company(&field) && field.split_whitespace().count() <= 6)
        .then_some(field)
}

/// The text of an entry's first description line when it is a bullet short enough to name a
/// title or an employer rather than tell what was done.
fn short_first_bullet(description: &[String]) -> Option<&str> {
    let first = description.first()?.trim();
    let content = first.strip_prefix(['•', '-', '*', '·', '●', '▪'])?.trim();
    (content.chars().count() <= 60 && !ends_like_prose(content)).then_some(content)
}

/// `• Summer 2021: Audit Intern` over `• PwC`: an entry's employer written as its first bullet,
/// a short name rather than a sentence.
fn employer_in_first_bullet(description: &[String]) -> Option<String> {
    let content = short_first_bullet(description)?;
    if content.ends_with(['.', '。']) {
        return None;
    }
    let fields = fields(content);
    let field = fields.first()?;
    let words = field.split_whitespace().count();
    (fields.len() <= 2
        && words <= 6
        && (is_company(field)
            || field.chars().next().is_some_and(char::is_uppercase)
                && reads_like_a_name(field)
                && field
                    .split_whitespace()
                    .all(|w| !w.chars().next().is_some_and(char::is_lowercase)))
        && !is_title(field)
        && !is_place(field)
        && date_ranges(field).is_empty()
        && looma_taxonomy::SkillTaxonomy::builtin()
            .get(field)
            .is_none())
    .then(|| without_trailing_city(field))
}

/// `Rackspace Hosting  Jul 2010 - Oct 2014` over `Systems Engineer III  May 2014 - Oct 2014`
/// and earlier roles: an employer entry without a title whose span holds the next entries,
/// which name no employer (or only a team), is their employer, not a job of its own.
fn roles_under_one_employer(entries: Vec<Experience>) -> Vec<Experience> {
    let mut out: Vec<Experience> = Vec::with_capacity(entries.len());
    let mut umbrella: Option<(Experience, usize)> = None;
    for entry in entries {
        if let Some((employer, roles)) = umbrella.as_mut() {
            let inside = entry.start.is_some()
                && entry.start >= employer.start
                && (employer.current || entry.end.is_some() && entry.end <= employer.end);
            let unnamed = entry.company.as_deref().is_none_or(|c| !is_employer(c));
            if inside && unnamed && (entry.title.is_some() || entry.company.is_some()) {
                let mut role = entry;
                // A lone field under the employer is the role's title.
                if role.title.is_none() {
                    role.title = role.company.take();
                }
                role.company = employer.company.clone();
                out.push(role);
                *roles += 1;
                continue;
            }
            let (employer, roles) = umbrella.take().expect("checked above");
            if roles == 0 {
                out.push(employer);
            }
        }
        if entry.company.is_some() && entry.title.is_none() && entry.start.is_some() {
            umbrella = Some((entry, 0));
        } else {
            out.push(entry);
        }
    }
    if let Some((employer, 0)) = umbrella {
        out.push(employer);
    }
    out
}

/// An organisation that employs: a company, a school, a lab or an institute.
fn is_employer(name: &str) -> bool {
    const ORGANISATION_WORDS: &[&str] = &[
        "实验室",
        "研究院",
        "研究所",
        "研究中心",
        "医院",
        "大学",
        "学院",
        "laboratory",
        "lab",
        "labs",
        "institute",
        "university",
        "college",
        "hospital",
        "centre",
        "center",
        "agency",
        "foundation",
    ];
    is_company(name) || school_in(name).is_some() || mentions_any(name, ORGANISATION_WORDS)
}

/// A header that names a project, a thesis or a contest rather than a job.
fn names_a_project(header: &str) -> bool {
    const PROJECT_WORDS: &[&str] = &[
        "项目",
        "课题",
        "毕业设计",
        "大赛",
        "比赛",
        "竞赛",
        "project",
        "projects",
        "thesis",
        "competition",
        "hackathon",
    ];
    mentions_any(header, PROJECT_WORDS)
}

fn company_and_title(header: &[String]) -> (Option<String>, Option<String>) {
    if let Some((company, title)) = company_line_and_title_line(header) {
        return (Some(without_trailing_city(&company)), Some(title));
    }
    // `TCL 销售代表` with no other employer: the Latin word is the employer after all.
    match fields_to_company_and_title(header, true) {
        (None, title) => {
            let separate = fields_to_company_and_title(header, false);
            if separate.0.is_some() {
                separate
            } else {
                (None, title)
            }
        }
        found => found,
    }
}

fn fields_to_company_and_title(
    header: &[String],
    join_latin_words: bool,
) -> (Option<String>, Option<String>) {
    let mut company = None;
    let mut title = None;
    let mut unknown = Vec::new();
    let mut departments = Vec::new();
    for line in header {
        // `Dallas, TX (and other locations)` on a line of its own: where, not who.
        let one_column = !line.trim().contains("  ") && !line.contains('\t');
        if one_column
            && line.chars().any(char::is_alphanumeric)
            && without_trailing_location(line).is_empty()
        {
            continue;
        }
        let line_fields = if join_latin_words {
            latin_word_joined_to_han(fields(line))
        } else {
            fields(line)
        };
        for field in line_fields {
            if field.chars().count() > 50 || !date_ranges(&field).is_empty() {
                continue;
            }
            // A city, perhaps with a district: "上海 浦东", "Berlin, DE" (not `香港大学`).
            if find_city_in(&field)
                .is_some_and(|c| c.start == 0 && field[c.end..].chars().count() <= 4)
                && !is_employer(&field)
            {
                continue;
            }
            let lower = field.to_lowercase();
            if matches!(
                lower.as_str(),
                "remote" | "full-time" | "part-time" | "全职" | "兼职" | "远程" | "工作"
            ) {
                continue;
            }
            // A team or department (`视频产品技术部`, `容器云开发组`) is neither employer nor
            // title.
            if field.chars().any(is_cjk_ideograph)
                && (["部", "组", "团队", "事业群", "部门", "小组"]
                    .iter()
                    .any(|end| field.ends_with(end))
                    // `技术中心`, `研发中心`: a department; `某某研究中心` is an employer.
                    || field.ends_with("中心") && field.chars().count() <= 4)
            {
                continue;
            }
            // `Department of Public Health`, `Biomarker team`: a unit of the employer, the
            // employer only when nothing else names one.
            if is_department(&field) {
                departments.push(field);
                continue;
            }
            // `实习 (已转正) 后台开发`: the kind of position gives way to the role.
            let only_a_kind = title.as_deref() == Some("实习");
            if company.is_none() && is_company(&field) {
                company = Some(field);
            } else if (title.is_none() || only_a_kind) && is_title(&field) {
                if let Some(kind) = title.replace(field) {
                    unknown.push(kind);
                }
            } else {
                unknown.push(field);
            }
        }
    }
    // What nothing above named fills the gaps, but never a place (`Dallas`, `TX (and other
    // locations)`) or a line of prose.
    let mut unknown = unknown
        .into_iter()
        .chain(departments)
        .filter(|field| !is_place(field) && reads_like_a_name(field));
    if company.is_none() {
        company = unknown.next();
    }
    if title.is_none() {
        title = unknown.next();
    }
    (company.map(|c| without_trailing_city(&c)), title)
}

/// `Department of Public Health`, `Dept. of Physics`, `Biomarker team`, `School of Business`.
fn is_department(field: &str) -> bool {
    let lower = field.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    matches!(
        words.as_slice(),
        [
            "department" | "dept" | "faculty" | "division" | "school",
            "of",
            ..
        ]
    ) || words.len() <= 4
        && words
            .last()
            .is_some_and(|w| matches!(*w, "team" | "department"))
}

/// `C++ 工程师`, `BSP 驱动工程师`, `AMARIS 摩芮思科技咨询有限公司`: a single Latin word set before
/// a Chinese title or employer belongs to it; `Google 软件工程师` stays two fields.
fn latin_word_joined_to_han(fields: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(fields.len());
    for field in fields {
        let joins = out.last().is_some_and(|previous| {
            let latin_word = !previous.contains(char::is_whitespace)
                && previous.chars().any(|c| c.is_ascii_alphabetic())
                && previous
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '.' | '-'));
            latin_word
                && field.starts_with(is_cjk_ideograph)
                && !is_company(previous)
                && !is_title(previous)
                && !is_city(previous)
                && (is_title(&field) || is_company(&field))
        });
        match out.last_mut() {
            Some(previous) if joins => {
                previous.push(' ');
                previous.push_str(&field);
            }
            _ => out.push(field),
        }
    }
    out
}

/// `Mozilla` over `Senior Product Manager, Network Security   Jul 2020 - Jan 2022`: a header of
/// one employer line and one title line (in either order) keeps each line whole, commas and
/// all, once the locations at their ends are cut.
fn company_line_and_title_line(header: &[String]) -> Option<(String, String)> {
    let lines: Vec<String> = header
        .iter()
        .map(|line| without_trailing_location(line))
        .filter(|line| line.chars().any(char::is_alphanumeric))
        // `: New York, NY` under `: Namely, Site Reliability Engineer`: a place line.
        .filter(|line| !is_place(&trim_separators(line)))
        .collect();
    let [first, second] = lines.as_slice() else {
        return None;
    };
    // Chinese headers are split at spaces by `fields`; a line with separators is several fields.
    let one_field = |line: &str| {
        !line.chars().any(is_cjk_ideograph)
            && !line.contains(['|', '｜', '\t', '@'])
            && !line.contains("  ")
            && !line.contains(" — ")
            && !glued_dashes_spaced(line).contains(" - ")
            && !line.contains(" at ")
            && line.chars().count() <= 60
            && date_ranges(line).is_empty()
    };
    if !one_field(first) || !one_field(second) {
        return None;
    }
    let title_only = |line: &str| is_title(line) && !is_company(line);
    match (title_only(first), title_only(second)) {
        (false, true) if reads_like_a_name(first) => Some((first.clone(), second.clone())),
        (true, false) if reads_like_a_name(second) => Some((second.clone(), first.clone())),
        _ => None,
    }
}

/// Whether Latin text is written like a name (an employer's, a title's): at least half of its
/// words of four letters or more are capitalised. `Department of Energy's Idaho National
/// Laboratory` is; a line of a duty or an achievement (`Exceeded sales goal of 9 cars per
/// month`) is not. Text with Han characters always reads like a name here.
fn reads_like_a_name(text: &str) -> bool {
    if text.chars().any(is_cjk_ideograph) {
        return true;
    }
    let long: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 4)
        .collect();
    let capitalised = long
        .iter()
        .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
        .count();
    long.is_empty() || capitalised * 2 >= long.len()
}

/// A header line without what ends it besides the name: dangling separators and locations
/// after a comma or a wide gap (`Austin, TX`, `Mountain View, CA`, `Berlin`, `Remote`).
fn without_trailing_location(line: &str) -> String {
    let mut value = trim_separators(line);
    // `Houston, TX (and other locations)`, `Berlin (Remote)`: a place with a remark is a place.
    if let Some(open) = value.rfind('(')
        && value.ends_with(')')
        && without_comma_locations(&value[..open], true).is_empty()
    {
        return String::new();
    }
    // `Google   Mountain View, CA`: a location in its own column.
    while let Some(at) = value.rfind(['\t']).or_else(|| value.rfind("  ")) {
        let tail = &value[at..];
        let rest = without_comma_locations(tail, true);
        if rest.is_empty() || is_city(&rest) {
            value = trim_separators(&value[..at]);
        } else {
            break;
        }
    }
    without_comma_locations(&value, false)
}

fn trim_separators(text: &str) -> String {
    text.trim_matches(|c: char| {
        c.is_whitespace() || matches!(c, ',' | '|' | '-' | '—' | '–' | ':' | '·' | '，')
    })
    .to_owned()
}

/// Drops `, Berlin`, `, TX`, `, Remote` from the end; with `town_alone` a bare town before a
/// state (`Mountain View, CA`) goes too, leaving nothing.
fn without_comma_locations(text: &str, town_alone: bool) -> String {
    let is_town = |town: &str| {
        let words: Vec<&str> = town.split_whitespace().collect();
        !words.is_empty()
            && words.len() <= 3
            && words
                .iter()
                .all(|w| w.chars().next().is_some_and(char::is_uppercase))
    };
    let mut value = trim_separators(text);
    while let Some((head, last)) = value.rsplit_once(',') {
        let last = last.trim();
        let state = last.len() == 2 && last.chars().all(|c| c.is_ascii_uppercase());
        let place = state
            || is_city(last)
            || matches!(
                last.to_lowercase().as_str(),
                "remote" | "hybrid" | "usa" | "us" | "uk"
            );
        if !place {
            break;
        }
        let mut head = trim_separators(head);
        if state {
            // `…, Glade Spring, VA`: the town before a state goes with it.
            if let Some((rest, town)) = head.rsplit_once(',')
                && is_town(town)
            {
                head = trim_separators(rest);
            } else if town_alone && is_town(&head) {
                head.clear();
            }
        }
        value = head;
    }
    value
}

/// `绿盟科技成都`, `Magic Leap, London` → the employer without the city it is followed by.
fn without_trailing_city(company: &str) -> String {
    let mut at = 0;
    while let Some(found) = company.get(at..).and_then(find_city_in) {
        let (start, end) = (at + found.start, at + found.end);
        if end == company.len() && start > 0 {
            let kept = company[..start]
                .trim_end_matches([' ', ',', '·', '-', '(', '（', '|'])
                .trim();
            if kept.chars().count() >= 2 {
                return kept.to_owned();
            }
        }
        at = end;
    }
    company.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::profile::YearMonth;

    fn school_degree_major(
        entries: &[Education],
    ) -> Vec<(Option<&str>, Option<&str>, Option<&str>)> {
        entries
            .iter()
            .map(|e| (e.school.as_deref(), e.degree.as_deref(), e.major.as_deref()))
            .collect()
    }

    fn lines(text: &str) -> Vec<String> {
        text.lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    }

    #[test]
    fn chinese_education_line() {
        let entries = education(&lines("2012.09-2016.06  浙江大学  计算机科学与技术  本科"));
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(e.school.as_deref(), Some("浙江大学"));
        assert_eq!(e.degree.as_deref(), Some("BACHELOR"));
        assert_eq!(e.major.as_deref(), Some("计算机科学与技术"));
        assert_eq!(e.start, Some(YearMonth::new(2012, Some(9))));
    }

    #[test]
    fn majors_are_not_places_faculties_or_scores() {
        let entries = education(&lines(
            "西南林业大学, 昆明, 云南 2014 - 2018\n学士 计算机科学与技术\n香港大学 中国香港 2015.09 - 至今\n计算机学院 计算机科学 博士\n2008.09-2012.06 河北大学 统招 本科 绩点 3.8 信息与计算科学",
        ));
        let majors: Vec<Option<&str>> = entries.iter().map(|e| e.major.as_deref()).collect();
        assert_eq!(
            majors,
            [
                Some("计算机科学与技术"),
                Some("计算机科学"),
                Some("信息与计算科学")
            ]
        );
        let entries = education(&lines(
            "Boston University, B.S. Computer Science Boston, MA Aug 2014 - Dec 2017\nRowan University Sep 2008 - Jun 2012\nBSc, Physics; Minor: Computer Science",
        ));
        let majors: Vec<Option<&str>> = entries.iter().map(|e| e.major.as_deref()).collect();
        assert_eq!(majors, [Some("Computer Science"), Some("Physics")]);
    }

    #[test]
    fn school_names_wrapped_in_a_narrow_column() {
        let entries = education(&lines(
            "WASHINGTON UNIVERSITY\nIN ST. LOUIS\nMS in Computer Engineering\nMay 2022| St. Louis, MO\n\
             SOUTHERN ILLINOIS\nUNIVERSITY EDWARDSVILLE\nMS in Electrical Engineering\n\
             August 2018 | Edwardsville, IL",
        ));
        let schools: Vec<_> = entries.iter().map(|e| e.school.as_deref()).collect();
        assert_eq!(
            schools,
            [
                Some("WASHINGTON UNIVERSITY IN ST. LOUIS"),
                Some("SOUTHERN ILLINOIS UNIVERSITY EDWARDSVILLE")
            ]
        );
        // The marker later on the second line; a second degree of the same school under it.
        let entries = education(&lines(
            "EASTERN KENTUCKY\nSTATE UNIVERSITY\nMS in Applied Physics\nMay 2019 | Richmond, KY\n\
             BS in Physics\nDecember 2016 | Richmond, KY",
        ));
        let found = school_degree_major(&entries);
        assert_eq!(
            found,
            [
                (
                    Some("EASTERN KENTUCKY STATE UNIVERSITY"),
                    Some("MASTER"),
                    Some("Applied Physics")
                ),
                (
                    Some("EASTERN KENTUCKY STATE UNIVERSITY"),
                    Some("BACHELOR"),
                    Some("Physics")
                )
            ]
        );
    }

    #[test]
    fn entries_that_open_with_their_dates_read_downwards() {
        let entries = education(&lines(
            "2015 - 2019\nUniversity of Bergen\n• Bachelor in Information Science\n\
             2012 - 2015\nBergen Cathedral School, Bergen, NO\n• General studies",
        ));
        let found: Vec<_> = entries
            .iter()
            .map(|e| {
                (
                    e.school.as_deref(),
                    e.degree.as_deref(),
                    e.major.as_deref(),
                    e.end,
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (
                    Some("University of Bergen"),
                    Some("BACHELOR"),
                    Some("Information Science"),
                    Some(YearMonth::new(2019, None))
                ),
                (
                    Some("Bergen Cathedral School"),
                    None,
                    Some("General studies"),
                    Some(YearMonth::new(2015, None))
                )
            ]
        );
        // The degree on the dates' line, the school below it, a thesis under that.
        let entries = education(&lines(
            "2011  Doctor of Philosophy (Chemistry)\nUniversity of Leeds\nThesis: Catalysis in flow\n\
             2006  Bachelor of Science\nUniversity of York,\nThesis: Wavelets",
        ));
        let found = school_degree_major(&entries);
        assert_eq!(
            found,
            [
                (
                    Some("University of Leeds"),
                    Some("DOCTORATE"),
                    Some("Chemistry")
                ),
                (Some("University of York"), Some("BACHELOR"), None)
            ]
        );
        // A definition list: the degree and school in one sentence under the dates.
        let entries = education(&lines(
            "2006-2010\n:  BEng, Mechanical Engineering. Lehigh University (Bethlehem, PA).",
        ));
        assert_eq!(entries[0].school.as_deref(), Some("Lehigh University"));
        assert_eq!(entries[0].major.as_deref(), Some("Mechanical Engineering"));
        // `Ph.D. School, Field`: the school after the degree is not the field.
        let entries = education(&lines("2001\nPh.D. Yale University, Economics"));
        assert_eq!(entries[0].school.as_deref(), Some("Yale University"));
        assert_eq!(entries[0].major.as_deref(), Some("Economics"));
    }

    #[test]
    fn a_graduation_date_under_the_range_stays_in_its_entry() {
        let entries = education(&lines(
            "复旦大学  软件学院  2019.9 - 至今\n在读硕士研究生 软件工程,预计于 2022 年 7 月毕业\n\
             武汉大学  2015.9 - 2019.6\n学士 信息安全",
        ));
        let found = school_degree_major(&entries);
        assert_eq!(
            found,
            [
                (Some("复旦大学"), Some("MASTER"), Some("软件工程")),
                (Some("武汉大学"), Some("BACHELOR"), Some("信息安全"))
            ]
        );
        // Two lines down, with the degree between.
        let entries = education(&lines(
            "莫斯科国立大学  2020.09 - 2024.06\n理论物理博士  俄罗斯,莫斯科\n论文题目:“Lattice models”  2024 年 5 月答辩",
        ));
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].degree.as_deref(), Some("DOCTORATE"));
        assert_eq!(entries[0].major.as_deref(), Some("理论物理"));
    }

    #[test]
    fn chinese_majors_without_the_words_around_them() {
        for (text, major) in [
            (
                "四川大学  2016.09 - 2019.06\n硕士学位,统招全日制 工商管理。主要课程:战略管理、会计学",
                "工商管理",
            ),
            (
                "厦门大学, 硕士  2020/09 - 2023/06\n• 电子信息\n• 发表论文两篇",
                "电子信息",
            ),
            (
                "东南大学 - 自动化学院 - 自动化专业工学学士\n2016.9 - 2020.6",
                "自动化",
            ),
            (
                "浙江大学, 浙江杭州  2005 - 2009\n学士 信息工程(光电系)专业",
                "信息工程",
            ),
            ("南开大学  软件学院/软件工程,本科  2012 - 2016", "软件工程"),
            (
                "暨南大学 (本科) 数学与应用数学(软工方向)  2006.09 - 2010.06",
                "数学与应用数学",
            ),
        ] {
            let entries = education(&lines(text));
            assert_eq!(entries.len(), 1, "{text}");
            assert_eq!(entries[0].major.as_deref(), Some(major), "{text}");
        }
        // 学硕 is a master's, even with a bachelor's line near it.
        let entries = education(&lines(
            "华中科技大学 - 计算机学院 - 软件工程学硕\n2024.9 - 至今\n华中科技大学 - 计算机学院 - 计算机专业工学学士\n2020.9 - 2024.6",
        ));
        let degrees: Vec<_> = entries.iter().map(|e| e.degree.as_deref()).collect();
        assert_eq!(degrees, [Some("MASTER"), Some("BACHELOR")]);
        assert_eq!(entries[0].major.as_deref(), Some("软件工程"));
    }

    #[test]
    fn english_education_block() {
        let entries = education(&lines(
            "Stanford University\nM.S. in Computer Science, 2014 - 2016\nUniversity of Michigan\nBachelor of Science in Mathematics | Sep 2010 - May 2014",
        ));
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].school.as_deref(), Some("Stanford University"));
        assert_eq!(entries[0].degree.as_deref(), Some("MASTER"));
        assert_eq!(entries[0].major.as_deref(), Some("Computer Science"));
        assert_eq!(entries[1].school.as_deref(), Some("University of Michigan"));
        assert_eq!(entries[1].major.as_deref(), Some("Mathematics"));
    }

    #[test]
    fn experience_entries() {
        let entries = experience(&lines(
            "2019.03 - 至今  阿里巴巴  高级后端开发工程师\n• 负责交易系统\n• 设计缓存\n2016.07-2019.02 | 上海某某网络科技有限公司 | Java开发工程师\n负责订单服务",
        ));
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].company.as_deref(), Some("阿里巴巴"));
        assert_eq!(entries[0].title.as_deref(), Some("高级后端开发工程师"));
        assert!(entries[0].current);
        assert_eq!(
            entries[1].company.as_deref(),
            Some("上海某某网络科技有限公司")
        );
        assert_eq!(entries[1].title.as_deref(), Some("Java开发工程师"));
    }

    #[test]
    fn ranges_typeset_down_a_date_column() {
        let entries = experience(&lines(
            "2013.03\n至今\n百度上海\n资深研发工程师\n2019.05 全栈开发 @ 志御 (初创公司)\n2018.10 前端 (React): 负责 Web 前端",
        ));
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(entries[0].start, Some(YearMonth::new(2013, Some(3))));
        assert!(entries[0].current);
        assert_eq!(entries[1].start, Some(YearMonth::new(2018, Some(10))));
        assert_eq!(entries[1].end, Some(YearMonth::new(2019, Some(5))));
    }

    #[test]
    fn a_latin_word_inside_a_chinese_title_and_departments() {
        let entries = experience(&lines(
            "浙江大华股份有限公司  嵌入式 linux 软件开发  2019.5 - 今\n腾讯 | 视频产品技术部 | 后台开发 2018.07 - 2018.09",
        ));
        assert_eq!(entries[0].title.as_deref(), Some("嵌入式 linux 软件开发"));
        assert_eq!(entries[1].company.as_deref(), Some("腾讯"));
        assert_eq!(entries[1].title.as_deref(), Some("后台开发"));
    }

    #[test]
    fn title_colon_company_and_dated_bullets() {
        let entries = experience(&lines(
            "April'24 - Now Member of Technical Staff: Udio\n• Feb 2022 - May 2023: Mechanical Engineer, O'Connell Robertson Architects Inc\n• I was responsible for designing HVAC and piping systems.",
        ));
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(entries[0].company.as_deref(), Some("Udio"));
        assert_eq!(
            entries[0].title.as_deref(),
            Some("Member of Technical Staff")
        );
        assert_eq!(entries[1].title.as_deref(), Some("Mechanical Engineer"));
    }

    #[test]
    fn a_place_line_under_an_employer_and_title_line() {
        let entries = experience(&lines(
            "10/15-5/16\n: Namely, Site Reliability Engineer\n: New York, NY\n\n• Kept payroll up.",
        ));
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0].company.as_deref(), Some("Namely"));
        assert_eq!(
            entries[0].title.as_deref(),
            Some("Site Reliability Engineer")
        );
    }

    #[test]
    fn an_employer_written_as_the_first_bullet() {
        let entries = experience(&lines(
            "• Summer 2021: Audit Intern\n• Deloitte\n• Audited the client's internal controls and prepared its IPO filing.\n\n• Summer 2020: Research Intern\n• Python\n• Built a liquidity database.\n\n• Summer 2019: Analyst\n• Analysed loans for the credit team.",
        ));
        assert_eq!(entries.len(), 3, "{entries:?}");
        assert_eq!(entries[0].company.as_deref(), Some("Deloitte"));
        assert_eq!(entries[0].title.as_deref(), Some("Audit Intern"));
        // A skill or a sentence is not an employer.
        assert_eq!(entries[1].company, None);
        assert_eq!(entries[2].company, None);
        // A freelancer's first bullet is a client.
        let entries = experience(&lines(
            "Freelance Web Developer\n2000-2002\n• Prism Retail, Lincoln NE\n• HomeHunters.net, Fair Lawn, NJ",
        ));
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0].company, None);
    }

    #[test]
    fn patterns_from_real_resumes() {
        // `Company — Position` with the dates after.
        let entries = experience(&lines("Stripe — Staff Engineer  Jan 2023 - Present"));
        assert_eq!(entries[0].company.as_deref(), Some("Stripe"));
        assert_eq!(entries[0].title.as_deref(), Some("Staff Engineer"));
        // The title line under the company line: `Title, Jan 2023 - Present`.
        let entries = experience(&lines(
            "Acme Robotics Inc.\nSenior Software Engineer, Jan 2023 - Present\n• Built the scheduler",
        ));
        assert_eq!(entries[0].company.as_deref(), Some("Acme Robotics Inc."));
        assert_eq!(
            entries[0].title.as_deref(),
            Some("Senior Software Engineer")
        );
        // Date-first Chinese entry with a one-digit month.
        let entries = experience(&lines("2016.6 — 2017.10 上海某某科技有限公司 测试工程师"));
        assert_eq!(entries[0].start, Some(YearMonth::new(2016, Some(6))));
        assert_eq!(entries[0].title.as_deref(), Some("测试工程师"));
        // Degree words, Chinese and English.
        for (line, degree) in [
            ("2012.09-2016.06 浙江大学 计算机科学与技术 本科", "BACHELOR"),
            ("2016.09-2019.06 复旦大学 统计学 硕士", "MASTER"),
            (
                "2010.09-2013.06 深圳职业技术学院 软件技术 大专",
                "ASSOCIATE",
            ),
            ("University of Toronto, MBA, 2015 - 2017", "MASTER"),
            (
                "Boston University, B.S., Nursing (BSN), 2011 - 2015",
                "BACHELOR",
            ),
        ] {
            let entries = education(&lines(line));
            assert_eq!(entries[0].degree.as_deref(), Some(degree), "{line}");
        }
    }

    #[test]
    fn bare_degree_abbreviations_but_not_states() {
        for (line, degree, major) in [
            (
                "Ohio State University | BS Mechanical Engineering | 2012 - 2016",
                "BACHELOR",
                "Mechanical Engineering",
            ),
            (
                "Rutgers University, MS, Statistics, 2017 - 2019",
                "MASTER",
                "Statistics",
            ),
            (
                "Lakeview Community College, AS, Nursing 2008 - 2010",
                "ASSOCIATE",
                "Nursing",
            ),
        ] {
            let entries = education(&lines(line));
            assert_eq!(entries[0].degree.as_deref(), Some(degree), "{line}");
            assert_eq!(entries[0].major.as_deref(), Some(major), "{line}");
        }
        let entries = education(&lines("Tufts University, Medford, MA  2010 - 2014"));
        assert_eq!(entries[0].degree, None);
    }

    #[test]
    fn an_employer_line_and_a_title_line_stay_whole() {
        let entries = experience(&lines(
            "Northwind Traders\nProduct Lead, Partner Integrations\t\tJan 2021 - Present\n* Drove the partner programme\nField Technician\n2015 - 2019\nBlue Ridge Cable Co., Abingdon, VA\n- Installed fibre to the home",
        ));
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(entries[0].company.as_deref(), Some("Northwind Traders"));
        assert_eq!(
            entries[0].title.as_deref(),
            Some("Product Lead, Partner Integrations")
        );
        assert_eq!(entries[1].company.as_deref(), Some("Blue Ridge Cable Co."));
        assert_eq!(entries[1].title.as_deref(), Some("Field Technician"));
        assert_eq!(
            without_trailing_location("Contoso Labs   Mountain View, CA"),
            "Contoso Labs"
        );
    }

    #[test]
    fn a_degree_line_among_jobs_is_not_a_job() {
        let entries = experience(&lines(
            "2016.7-至今  工作  华西电子  研发中心\n2012.9-2016.7  学士  成都理工大学  通信工程\n2015.7 - 2015.9 四川大学 | 本科科研助理, 成都",
        ));
        let companies: Vec<Option<&str>> = entries.iter().map(|e| e.company.as_deref()).collect();
        assert_eq!(companies, [Some("华西电子"), Some("四川大学")]);
    }

    #[test]
    fn majors_are_not_degree_names_scores_or_dates() {
        let entries = education(&lines(
            "B.S. Lakeshore State University  2011 - 2015\nBachelor of Science in Chemistry\nHARBOR STATE UNIVERSITY  2015 - 2017\nMASTER OF SCIENCE IN APPLIED PHYSICS\nGPA 3.8 / 4.0\nRiverside College 2008 - 2011\nDoctor of Philosophy (Linguistics)",
        ));
        let got: Vec<(Option<&str>, Option<&str>)> = entries
            .iter()
            .map(|e| (e.school.as_deref(), e.major.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (Some("Lakeshore State University"), Some("Chemistry")),
                (Some("HARBOR STATE UNIVERSITY"), Some("APPLIED PHYSICS")),
                (Some("Riverside College"), Some("Linguistics")),
            ]
        );
        let entries = education(&lines("2022.09 - 至今 华南理工大学 软件工程 学硕"));
        assert_eq!(entries[0].degree.as_deref(), Some("MASTER"));
        assert_eq!(entries[0].major.as_deref(), Some("软件工程"));
    }

    #[test]
    fn a_city_after_the_employer_is_not_part_of_it() {
        assert_eq!(without_trailing_city("绿盟科技成都"), "绿盟科技");
        assert_eq!(without_trailing_city("Monzo, London"), "Monzo");
        assert_eq!(without_trailing_city("北京字节跳动"), "北京字节跳动");
        assert_eq!(without_trailing_city("Shanghai"), "Shanghai");
    }

    #[test]
    fn english_experience_layouts() {
        let entries = experience(&lines(
            "Senior Software Engineer\nGoogle, Mountain View\nMar 2019 – Present\n- Built things\nStripe | Software Engineer | 06/2016 - 02/2019\n- Payments",
        ));
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].company.as_deref(), Some("Google"));
        assert_eq!(
            entries[0].title.as_deref(),
            Some("Senior Software Engineer")
        );
        assert_eq!(entries[1].company.as_deref(), Some("Stripe"));
        assert_eq!(entries[1].title.as_deref(), Some("Software Engineer"));
    }

    #[test]
    fn a_line_of_prose_under_the_header_is_not_the_employer() {
        let entries = experience(&[
            "Harbor Ford Lincoln -Sales Associate  -  Mar 2016 - Jan 2017".to_owned(),
            "Closed an average of 12 vehicles per month".to_owned(),
        ]);
        assert_eq!(entries[0].company.as_deref(), Some("Harbor Ford Lincoln"));
        assert_eq!(entries[0].title.as_deref(), Some("Sales Associate"));
        assert!(reads_like_a_name(
            "Department of Energy's Idaho National Laboratory"
        ));
        assert!(reads_like_a_name("ANTTECH REPAIR CENTER"));
        assert!(!reads_like_a_name(
            "Recently sold the app to another company"
        ));
    }

    #[test]
    fn a_location_line_names_neither_employer_nor_title() {
        let entries = experience(&lines(
            "Jun 2019 - Nov 2019\n: Bluepeak Analytics\n: Austin, TX (and other locations)",
        ));
        assert_eq!(entries[0].company.as_deref(), Some("Bluepeak Analytics"));
        assert_eq!(entries[0].title, None);
        // A location in a column beside the employer is cut, the employer kept.
        let entries = experience(&lines(
            "Data Engineer   Feb 2020 - Present\nNorthwind  Boise, ID (Hybrid)",
        ));
        assert_eq!(entries[0].company.as_deref(), Some("Northwind"));
        assert_eq!(entries[0].title.as_deref(), Some("Data Engineer"));
    }
}
