//! Reading order from glyph positions: PDF text as a person reads it.
//!
//! A PDF's content stream may draw text in any order (right-aligned dates before the entry they
//! date, a sidebar interleaved with the main column). Here each glyph carries its position and
//! size; lines are rebuilt from baselines, a line is cut into segments at wide gaps (a
//! right-aligned date stays on its entry's line, after it), a page with a clear gutter is read
//! column by column between full-width lines, page numbers are dropped and words hyphenated at a
//! line end are joined again.

/// One drawn character (or ligature), in page space with y growing downwards.
#[derive(Clone, Debug)]
pub(crate) struct Glyph {
    pub x: f64,
    pub y: f64,
    /// Advance width in page units.
    pub width: f64,
    /// Font size in page units.
    pub size: f64,
    pub text: String,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Page {
    pub width: f64,
    pub height: f64,
    pub glyphs: Vec<Glyph>,
}

/// A run of glyphs on one line with no wide gap inside.
#[derive(Clone, Debug)]
struct Segment {
    x0: f64,
    x1: f64,
    text: String,
}

#[derive(Clone, Debug)]
struct Line {
    y: f64,
    size: f64,
    segments: Vec<Segment>,
}

impl Line {
    fn x0(&self) -> f64 {
        self.segments.first().map_or(0.0, |s| s.x0)
    }
    fn x1(&self) -> f64 {
        self.segments.last().map_or(0.0, |s| s.x1)
    }
    fn text(&self) -> String {
        let parts: Vec<&str> = self.segments.iter().map(|s| s.text.as_str()).collect();
        parts.join("  ")
    }
}

/// Gap (in font sizes) above which two glyphs on a line belong to different segments.
const SEGMENT_GAP: f64 = 1.2;
/// Gap (in font sizes) above which a space separates two glyphs.
const SPACE_GAP: f64 = 0.15;

/// The text of every page in reading order, pages separated by a blank line.
pub(crate) fn reading_order(pages: &[Page]) -> String {
    let mut lines: Vec<String> = Vec::new();
    for (number, page) in pages.iter().enumerate() {
        let page_lines = page_lines(page, number == 0);
        if page_lines.is_empty() {
            continue;
        }
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.extend(page_lines);
    }
    join_hyphenated(&lines)
}

fn page_lines(page: &Page, first: bool) -> Vec<String> {
    let lines = build_lines(&page.glyphs);
    let lines: Vec<Line> = lines
        .into_iter()
        .filter(|line| !is_page_number(line, page.height))
        .collect();
    let mut ordered: Vec<(f64, f64, String)> = match find_gutter(&lines, page.width) {
        Some(gutter) => by_columns(&lines, gutter),
        None => lines.iter().map(|l| (l.y, l.size, l.text())).collect(),
    };
    if first {
        title_first(&mut ordered);
    }
    let mut out = Vec::with_capacity(ordered.len());
    let mut previous: Option<(f64, f64)> = None;
    for (y, size, text) in ordered {
        if let Some((prev_y, prev_size)) = previous {
            // A paragraph gap (or a jump back up: the next column) becomes a blank line.
            let gap = y - prev_y;
            if gap > 1.9 * prev_size.max(size) || gap < -prev_size {
                out.push(String::new());
            }
        }
        previous = Some((y, size));
        out.push(text);
    }
    out
}

/// The document's title — the one line on the first page set clearly larger than the rest, in
/// the top third, usually the candidate's name — is read first, wherever a column layout put
/// it (a name above the main column comes after the sidebar otherwise).
fn title_first(ordered: &mut Vec<(f64, f64, String)>) {
    let mut sizes: Vec<f64> = ordered.iter().map(|(_, size, _)| *size).collect();
    sizes.sort_by(f64::total_cmp);
    let Some(&median) = sizes.get(sizes.len() / 2) else {
        return;
    };
    let largest = sizes.last().copied().unwrap_or(median);
    let top = ordered
        .iter()
        .map(|(y, ..)| *y)
        .fold(f64::INFINITY, f64::min);
    let bottom = ordered
        .iter()
        .map(|(y, ..)| *y)
        .fold(f64::NEG_INFINITY, f64::max);
    let titles: Vec<usize> = ordered
        .iter()
        .enumerate()
        .filter(|(_, (_, size, _))| *size >= largest - 0.01)
        .map(|(at, _)| at)
        .collect();
    if let [at] = titles[..]
        && largest >= 1.3 * median
        && ordered[at].0 <= top + (bottom - top) / 3.0
        && at > 0
    {
        let title = ordered.remove(at);
        ordered.insert(0, title);
    }
}

/// Groups glyphs into lines by baseline, then each line into segments by x.
fn build_lines(glyphs: &[Glyph]) -> Vec<Line> {
    let mut sorted: Vec<&Glyph> = glyphs
        .iter()
        // A glyph without text (an unmapped code) is not a space.
        .filter(|g| !g.text.is_empty() && g.size > 0.0 && g.x.is_finite() && g.y.is_finite())
        .collect();
    sorted.sort_by(|a, b| a.y.total_cmp(&b.y).then(a.x.total_cmp(&b.x)));
    // A line's baseline is that of its largest glyph: raised or lowered letters (the `A` and
    // `E` of the LaTeX logo, superscripts) stay on their line.
    let mut groups: Vec<(f64, f64, Vec<&Glyph>)> = Vec::new();
    for glyph in sorted {
        match groups.last_mut() {
            Some((y, size, members)) if (glyph.y - *y).abs() <= 0.45 * size.min(glyph.size) => {
                members.push(glyph);
                if glyph.size > *size {
                    *y = glyph.y;
                    *size = glyph.size;
                }
            }
            _ => groups.push((glyph.y, glyph.size, vec![glyph])),
        }
    }
    groups
        .into_iter()
        .filter_map(|(y, size, mut members)| {
            members.sort_by(|a, b| a.x.total_cmp(&b.x));
            let segments = segments(&members);
            (!segments.is_empty()).then_some(Line { y, size, segments })
        })
        .collect()
}

fn segments(glyphs: &[&Glyph]) -> Vec<Segment> {
    let mut segments: Vec<Segment> = Vec::new();
    let mut end = f64::NEG_INFINITY;
    let mut pending_space = false;
    for glyph in glyphs {
        if glyph.text.trim().is_empty() {
            // Explicit spaces: a word break, never a segment of their own.
            pending_space = true;
            end = end.max(glyph.x + glyph.width);
            continue;
        }
        let gap = glyph.x - end;
        match segments.last_mut() {
            Some(segment) if gap <= SEGMENT_GAP * glyph.size => {
                if (pending_space || gap > SPACE_GAP * glyph.size) && !segment.text.ends_with(' ') {
                    segment.text.push(' ');
                }
                segment.text.push_str(&glyph.text);
                segment.x1 = glyph.x + glyph.width;
            }
            _ => segments.push(Segment {
                x0: glyph.x,
                x1: glyph.x + glyph.width,
                text: glyph.text.clone(),
            }),
        }
        pending_space = false;
        end = end.max(glyph.x + glyph.width);
    }
    for segment in &mut segments {
        let trimmed = segment.text.trim_end().len();
        segment.text.truncate(trimmed);
    }
    segments.retain(|s| !s.text.is_empty());
    segments
}

/// A line near the top or bottom edge that is only a page number (`3`, `2/3`, `Page 2 of 3`,
/// `- 2 -`, `第 2 页`).
fn is_page_number(line: &Line, height: f64) -> bool {
    if height > 0.0 && line.y > 0.1 * height && line.y < 0.9 * height {
        return false;
    }
    let text = line.text().to_lowercase();
    let text = text.trim();
    let stripped = text
        .trim_start_matches("page")
        .trim_start_matches('第')
        .trim_end_matches('页')
        .trim_matches(|c: char| c == '-' || c == '–' || c.is_whitespace());
    !stripped.is_empty()
        && stripped.chars().any(|c| c.is_ascii_digit())
        && stripped
            .split([' ', '/'])
            .all(|word| word.is_empty() || word == "of" || word.chars().all(|c| c.is_ascii_digit()))
}

/// The x of a vertical gutter splitting the page into two columns of text, if there is one.
///
/// A gutter is an x no line's segment crosses (a few full-width lines may: a header), with
/// enough lines on either side, and with the right side's segments starting at one aligned x —
/// a column, not a run of right-aligned dates or locations.
fn find_gutter(lines: &[Line], width: f64) -> Option<f64> {
    if lines.len() < 8 || width <= 0.0 {
        return None;
    }
    let n = lines.len() as f64;
    let mut best: Option<(f64, usize, usize)> = None;
    // At most ~300 candidate positions, whatever the page's stated width (a hostile MediaBox).
    let step = (0.6 * width / 300.0).max(2.0);
    let mut x = 0.15 * width;
    while x <= 0.75 * width {
        let mut crossing = 0usize;
        let mut left = 0usize;
        let mut right_starts: Vec<f64> = Vec::new();
        let mut right_ends: Vec<f64> = Vec::new();
        for line in lines {
            if line.segments.iter().any(|s| s.x0 < x && s.x1 > x) {
                crossing += 1;
                continue;
            }
            if line.segments.iter().any(|s| s.x1 <= x) {
                left += 1;
            }
            if let Some(first_right) = line.segments.iter().find(|s| s.x0 >= x) {
                right_starts.push(first_right.x0);
                right_ends.push(line.x1());
            }
        }
        let right = right_starts.len();
        let balanced = left as f64 >= 0.15 * n && right as f64 >= 0.15 * n && left.min(right) >= 4;
        // Right-aligned dates or places share their end, and are narrow; a column shares
        // its start, and its lines end where they end.
        let widest = right_starts
            .iter()
            .zip(&right_ends)
            .map(|(start, end)| end - start)
            .fold(0.0, f64::max);
        let column = near_left_edge(&right_starts, 0.05 * width)
            && (!aligned(&right_ends) || widest >= 0.25 * width);
        if balanced && (crossing as f64) <= 0.12 * n && column {
            let better = match best {
                None => true,
                Some((_, best_crossing, best_min)) => {
                    crossing < best_crossing
                        || (crossing == best_crossing && left.min(right) > best_min)
                }
            };
            if better {
                best = Some((x, crossing, left.min(right)));
            }
        }
        x += step;
    }
    best.map(|(x, _, _)| x)
}

/// Whether most lines start at the leftmost start or just right of it (bullets, indents).
fn near_left_edge(starts: &[f64], indent: f64) -> bool {
    let edge = starts.iter().copied().fold(f64::INFINITY, f64::min);
    let near = starts.iter().filter(|x| **x <= edge + indent).count();
    !starts.is_empty() && near * 2 >= starts.len()
}

/// Whether most of these x positions are one (within 3 units either side of some x).
fn aligned(xs: &[f64]) -> bool {
    if xs.is_empty() {
        return false;
    }
    // Sorted, the widest window of width 6 is found in one pass (no quadratic scan).
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut best = 0;
    let mut low = 0;
    for high in 0..sorted.len() {
        while sorted[high] - sorted[low] > 6.0 {
            low += 1;
        }
        best = best.max(high - low + 1);
    }
    best * 2 >= xs.len()
}

/// Lines ordered column by column: between two full-width lines (crossing the gutter), the
/// left column's parts first, then the right column's.
fn by_columns(lines: &[Line], gutter: f64) -> Vec<(f64, f64, String)> {
    let mut out = Vec::new();
    let mut left: Vec<(f64, f64, String)> = Vec::new();
    let mut right: Vec<(f64, f64, String)> = Vec::new();
    let flush = |out: &mut Vec<(f64, f64, String)>,
                 left: &mut Vec<(f64, f64, String)>,
                 right: &mut Vec<(f64, f64, String)>| {
        out.append(left);
        out.append(right);
    };
    for line in lines {
        let crosses = line.segments.iter().any(|s| s.x0 < gutter && s.x1 > gutter);
        if crosses || (line.x0() >= gutter && line.x1() <= gutter) {
            flush(&mut out, &mut left, &mut right);
            out.push((line.y, line.size, line.text()));
            continue;
        }
        let join = |parts: Vec<&Segment>| -> String {
            parts
                .iter()
                .map(|s| s.text.as_str())
                .collect::<Vec<_>>()
                .join("  ")
        };
        let (l, r): (Vec<&Segment>, Vec<&Segment>) =
            line.segments.iter().partition(|s| s.x1 <= gutter);
        if !l.is_empty() {
            left.push((line.y, line.size, join(l)));
        }
        if !r.is_empty() {
            right.push((line.y, line.size, join(r)));
        }
    }
    flush(&mut out, &mut left, &mut right);
    out
}

/// Joins a word hyphenated across a line end (`develop-` / `ment` → `development`) when both
/// sides are lower-case letters; blank lines between them (a page break) are dropped.
fn join_hyphenated(lines: &[String]) -> String {
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let mut line = lines[i].clone();
        i += 1;
        loop {
            let ends_split = {
                let mut chars = line.trim_end().chars().rev();
                chars.next() == Some('-')
                    && chars.next().is_some_and(|c| c.is_lowercase())
                    && chars.next().is_some_and(|c| c.is_alphabetic())
            };
            if !ends_split {
                break;
            }
            let mut next = i;
            while next < lines.len() && lines[next].trim().is_empty() && next - i < 2 {
                next += 1;
            }
            let Some(following) = lines.get(next) else {
                break;
            };
            let following = following.trim_start();
            let Some(word_end) = following
                .char_indices()
                .find(|(_, c)| !c.is_alphabetic())
                .map(|(at, _)| at)
                .or(Some(following.len()))
            else {
                break;
            };
            let word = &following[..word_end];
            if word.is_empty() || !word.chars().next().is_some_and(|c| c.is_lowercase()) {
                break;
            }
            let trimmed = line.trim_end().len() - 1;
            line.truncate(trimmed);
            line.push_str(word);
            let rest = following[word_end..].trim_start();
            i = next + 1;
            if !rest.is_empty() {
                out.push(line);
                line = rest.to_owned();
            }
        }
        out.push(line);
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Glyphs of `text` from `x` on baseline `y`, each `size * 0.5` wide.
    fn run(text: &str, x: f64, y: f64, size: f64) -> Vec<Glyph> {
        let mut glyphs = Vec::new();
        let mut at = x;
        for c in text.chars() {
            let width = if c.is_ascii() { size * 0.5 } else { size };
            glyphs.push(Glyph {
                x: at,
                y,
                width,
                size,
                text: c.to_string(),
            });
            at += width;
        }
        glyphs
    }

    fn page(runs: Vec<Vec<Glyph>>) -> Page {
        Page {
            width: 600.0,
            height: 800.0,
            glyphs: runs.into_iter().flatten().collect(),
        }
    }

    #[test]
    fn right_aligned_dates_follow_their_entry_even_when_drawn_first() {
        // The content stream draws the date before the company.
        let page = page(vec![
            run("Jan 2021 - Present", 480.0, 100.0, 10.0),
            run("Acme Robotics, Software Engineer", 50.0, 100.0, 10.0),
            run("Built the fleet scheduler.", 50.0, 114.0, 10.0),
        ]);
        let text = reading_order(&[page]);
        assert_eq!(
            text,
            "Acme Robotics, Software Engineer  Jan 2021 - Present\nBuilt the fleet scheduler."
        );
    }

    #[test]
    fn two_columns_are_read_one_after_the_other() {
        let mut runs = vec![run("Jane Smith", 50.0, 40.0, 18.0)];
        let sidebar = [
            "CONTACT",
            "jane@example.com",
            "London, UK",
            "SKILLS",
            "Python",
            "SQL",
            "Docker",
            "EDUCATION",
            "BSc Physics",
        ];
        let main = [
            "EXPERIENCE",
            "Data Engineer, Monzo",
            "2020 - Present",
            "Built the ledger pipeline",
            "Analyst, Barclays",
            "2017 - 2020",
            "Reporting in SQL",
            "Trading desk analytics",
            "Risk dashboards",
        ];
        for (i, (left, right)) in sidebar.iter().zip(main.iter()).enumerate() {
            let y = 100.0 + 14.0 * i as f64;
            runs.push(run(left, 40.0, y, 10.0));
            runs.push(run(right, 220.0, y, 10.0));
        }
        let text = reading_order(&[page(runs)]);
        let expected_order = [
            "Jane Smith",
            "CONTACT",
            "BSc Physics",
            "EXPERIENCE",
            "Risk dashboards",
        ];
        let positions: Vec<usize> = expected_order
            .iter()
            .map(|needle| {
                text.find(needle)
                    .unwrap_or_else(|| panic!("{needle} in {text}"))
            })
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(
            text.contains("Data Engineer, Monzo\n2020 - Present"),
            "{text}"
        );
    }

    #[test]
    fn the_title_above_the_main_column_is_read_before_the_sidebar() {
        let mut runs = vec![run("Emily Watson", 220.0, 40.0, 20.0)];
        for i in 0..9 {
            let y = 70.0 + 14.0 * i as f64;
            runs.push(run(&format!("sidebar line {i}"), 40.0, y, 10.0));
            runs.push(run(&format!("main column line {i}"), 220.0, y, 10.0));
        }
        let text = reading_order(&[page(runs)]);
        assert!(text.starts_with("Emily Watson\nsidebar line 0"), "{text}");
    }

    #[test]
    fn a_single_column_page_with_dates_on_the_right_keeps_line_order() {
        let mut runs = Vec::new();
        for i in 0..10 {
            let y = 100.0 + 14.0 * i as f64;
            runs.push(run(
                &format!("Company number {i} did things"),
                50.0,
                y,
                10.0,
            ));
            if i % 2 == 0 {
                runs.push(run(&format!("20{:02}", 10 + i), 520.0, y, 10.0));
            }
        }
        let text = reading_order(&[page(runs)]);
        let first: Vec<&str> = text.lines().take(2).collect();
        assert_eq!(
            first,
            [
                "Company number 0 did things  2010",
                "Company number 1 did things"
            ]
        );
    }

    #[test]
    fn page_numbers_go_and_hyphenated_words_join_across_pages() {
        let first = page(vec![
            run("Led the migration of the billing plat-", 50.0, 700.0, 10.0),
            run("1", 300.0, 780.0, 9.0),
        ]);
        let second = page(vec![
            run("form to Rust.", 50.0, 60.0, 10.0),
            run("Page 2 of 2", 280.0, 785.0, 9.0),
        ]);
        assert_eq!(
            reading_order(&[first, second]),
            "Led the migration of the billing platform\nto Rust."
        );
    }

    #[test]
    fn dates_and_compound_words_keep_their_dash() {
        let lines = vec![
            "2019-".to_owned(),
            "2021".to_owned(),
            "Full-".to_owned(),
            "Stack".to_owned(),
        ];
        assert_eq!(join_hyphenated(&lines), "2019-\n2021\nFull-\nStack");
    }

    #[test]
    fn raised_and_lowered_letters_stay_on_their_line() {
        // The LaTeX logo: a small raised A, a lowered E.
        let mut glyphs = run("L", 50.0, 100.0, 10.0);
        glyphs.extend(run("A", 53.6, 97.5, 7.0));
        glyphs.extend(run("T", 56.0, 100.0, 10.0));
        glyphs.extend(run("E", 60.6, 102.2, 10.0));
        glyphs.extend(run("X", 65.2, 100.0, 10.0));
        glyphs.extend(run("Python", 50.0, 114.0, 10.0));
        let text = reading_order(&[page(vec![glyphs])]);
        assert_eq!(text, "LATEX\nPython");
    }

    #[test]
    fn a_hostile_page_size_or_glyph_count_stays_cheap() {
        let mut glyphs = Vec::new();
        for i in 0..20_000 {
            glyphs.extend(run("x", 50.0 + (i % 7) as f64, 10.0 * i as f64, 9.0));
        }
        let page = Page {
            width: 1e12,
            height: 1e12,
            glyphs,
        };
        // Every line comes back; the gutter search samples a bounded number of positions and
        // its alignment check is one sorted pass, so this finishes in well under a second.
        let text = reading_order(&[page]);
        assert_eq!(text.lines().filter(|l| !l.is_empty()).count(), 20_000);
    }

    #[test]
    fn chinese_glyphs_join_without_spaces() {
        let page = page(vec![
            run("工作经历", 50.0, 100.0, 12.0),
            run("2019.03 - 至今", 450.0, 100.0, 12.0),
        ]);
        assert_eq!(reading_order(&[page]), "工作经历  2019.03 - 至今");
    }
}
