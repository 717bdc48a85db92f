//! The Prometheus text exposition format (version 0.0.4) read into samples, and the two
//! questions the monitor asks of them: a sum over matching series, and a histogram with its
//! quantiles and the difference between two scrapes.
//!
//! Parsing is forgiving line by line (a malformed line is skipped and counted, the rest is
//! kept) and strict about size (an oversized body is refused before any work). It never
//! panics. `# HELP` / `# TYPE` lines are ignored: the contract fixes the types, and a sample
//! line carries everything the rules need.

use std::collections::BTreeMap;
use std::ops::Deref;

/// A sensible cap for one component's `/metrics` body.
pub const DEFAULT_MAX_BYTES: usize = 4 * 1024 * 1024;

/// One sample line: `name{labels} value [timestamp]` (the timestamp is checked, not kept).
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    /// Whether every `(label, value)` pair holds for this sample.
    pub fn has_labels(&self, filter: &[(&str, &str)]) -> bool {
        filter
            .iter()
            .all(|(label, value)| self.labels.get(*label).map(String::as_str) == Some(*value))
    }
}

/// The samples of one scrape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples(pub Vec<Sample>);

/// What `parse` made of a body.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub samples: Samples,
    /// Lines that were neither blank, comments nor well-formed samples.
    pub skipped_lines: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ExpositionError {
    #[error("the metrics body has {size} bytes, more than the {limit} allowed")]
    TooLarge { size: usize, limit: usize },
}

/// Parses a text-format body of at most `max_bytes` bytes.
pub fn parse(input: &str, max_bytes: usize) -> Result<Parsed, ExpositionError> {
    if input.len() > max_bytes {
        return Err(ExpositionError::TooLarge {
            size: input.len(),
            limit: max_bytes,
        });
    }
    let mut samples = Vec::new();
    let mut skipped_lines = 0;
    for line in input.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_sample_line(line) {
            Some(sample) => samples.push(sample),
            None => skipped_lines += 1,
        }
    }
    Ok(Parsed {
        samples: Samples(samples),
        skipped_lines,
    })
}

/// A float as the format writes it: decimal, exponent, `+Inf`, `-Inf`, `NaN`.
pub fn parse_value(text: &str) -> Option<f64> {
    // Rust's float grammar is close to Go's ParseFloat, which the format is defined by; the
    // only extra spellings it takes ("infinity", any case) are harmless.
    text.parse::<f64>().ok()
}

fn is_name_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte == b':'
}

fn is_name_rest(byte: u8) -> bool {
    is_name_start(byte) || byte.is_ascii_digit()
}

fn is_label_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

fn is_label_rest(byte: u8) -> bool {
    is_label_start(byte) || byte.is_ascii_digit()
}

fn skip_blanks(bytes: &[u8], pos: &mut usize) {
    while matches!(bytes.get(*pos), Some(b' ' | b'\t')) {
        *pos += 1;
    }
}

/// `None` when the line is malformed. The line is already trimmed and not a comment.
fn parse_sample_line(line: &str) -> Option<Sample> {
    let bytes = line.as_bytes();
    let mut pos = 0;

    if !bytes.first().copied().is_some_and(is_name_start) {
        return None;
    }
    while bytes.get(pos).copied().is_some_and(is_name_rest) {
        pos += 1;
    }
    let name = line.get(..pos)?.to_string();

    let mut labels = BTreeMap::new();
    skip_blanks(bytes, &mut pos);
    if bytes.get(pos) == Some(&b'{') {
        pos += 1;
        loop {
            skip_blanks(bytes, &mut pos);
            if bytes.get(pos) == Some(&b'}') {
                pos += 1;
                break;
            }
            let (label, value) = parse_label_pair(line, &mut pos)?;
            if labels.insert(label, value).is_some() {
                return None; // the same label twice
            }
            skip_blanks(bytes, &mut pos);
            match bytes.get(pos)? {
                b',' => pos += 1,
                b'}' => {
                    pos += 1;
                    break;
                }
                _ => return None,
            }
        }
    } else if pos < bytes.len() && !matches!(bytes.get(pos.checked_sub(1)?), Some(b' ' | b'\t')) {
        // Something other than a blank or `{` right after the name ("foo-bar 1").
        return None;
    }

    let mut fields = line.get(pos..)?.split_ascii_whitespace();
    let value = parse_value(fields.next()?)?;
    if let Some(timestamp) = fields.next() {
        timestamp.parse::<i64>().ok()?;
    }
    if fields.next().is_some() {
        return None;
    }
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// `label="value"` starting at `pos`; leaves `pos` after the closing quote.
fn parse_label_pair(line: &str, pos: &mut usize) -> Option<(String, String)> {
    let bytes = line.as_bytes();
    let start = *pos;
    if !bytes.get(start).copied().is_some_and(is_label_start) {
        return None;
    }
    while bytes.get(*pos).copied().is_some_and(is_label_rest) {
        *pos += 1;
    }
    let label = line.get(start..*pos)?.to_string();
    skip_blanks(bytes, pos);
    if bytes.get(*pos) != Some(&b'=') {
        return None;
    }
    *pos += 1;
    skip_blanks(bytes, pos);
    if bytes.get(*pos) != Some(&b'"') {
        return None;
    }
    *pos += 1;
    // Escapes are ASCII, so copying the other bytes through keeps the value valid UTF-8.
    let mut value = Vec::new();
    loop {
        match *bytes.get(*pos)? {
            b'"' => {
                *pos += 1;
                break;
            }
            b'\\' => {
                let escaped = match *bytes.get(*pos + 1)? {
                    b'\\' => b'\\',
                    b'"' => b'"',
                    b'n' => b'\n',
                    _ => return None,
                };
                value.push(escaped);
                *pos += 2;
            }
            other => {
                value.push(other);
                *pos += 1;
            }
        }
    }
    Some((label, String::from_utf8(value).ok()?))
}

impl Deref for Samples {
    type Target = [Sample];

    fn deref(&self) -> &[Sample] {
        &self.0
    }
}

impl From<Vec<Sample>> for Samples {
    fn from(samples: Vec<Sample>) -> Self {
        Samples(samples)
    }
}

impl Samples {
    /// The samples named `name` whose labels include every pair of `filter`.
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        filter: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.0
            .iter()
            .filter(move |sample| sample.name == name && sample.has_labels(filter))
    }

    /// The sum of the matching samples, `None` when no series matches (absent, not zero).
    pub fn sum(&self, name: &str, filter: &[(&str, &str)]) -> Option<f64> {
        self.matching(name, filter)
            .map(|sample| sample.value)
            .fold(None, |total, value| Some(total.unwrap_or(0.0) + value))
    }

    /// The histogram `name_prefix` (`_bucket{le}`, `_sum`, `_count`) summed over every series
    /// that matches `filter`; `None` when no bucket matches. Series are assumed to share one
    /// bucket layout (the contract fixes it); buckets are merged by their `le`.
    pub fn histogram(&self, name_prefix: &str, filter: &[(&str, &str)]) -> Option<Histogram> {
        let bucket_name = format!("{name_prefix}_bucket");
        let mut buckets: Vec<(f64, f64)> = Vec::new();
        for sample in self.matching(&bucket_name, filter) {
            let Some(le) = sample.labels.get("le").and_then(|le| parse_value(le)) else {
                continue;
            };
            if le.is_nan() {
                continue;
            }
            match buckets.iter_mut().find(|(bound, _)| *bound == le) {
                Some((_, count)) => *count += sample.value,
                None => buckets.push((le, sample.value)),
            }
        }
        if buckets.is_empty() {
            return None;
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let sum = self
            .sum(&format!("{name_prefix}_sum"), filter)
            .unwrap_or(0.0);
        let count = self
            .sum(&format!("{name_prefix}_count"), filter)
            .or_else(|| {
                buckets
                    .last()
                    .filter(|(le, _)| *le == f64::INFINITY)
                    .map(|(_, count)| *count)
            })
            .unwrap_or(0.0);
        Some(Histogram {
            buckets,
            sum,
            count,
        })
    }
}

/// A cumulative histogram: `buckets` are `(le, cumulative count)` sorted by `le`.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    pub buckets: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: f64,
}

impl Histogram {
    /// The `q`-quantile (0 ≤ q ≤ 1) estimated the way Prometheus' `histogram_quantile` does:
    /// linear interpolation inside the bucket where the rank falls (the first bucket starts
    /// at 0 unless its bound is ≤ 0); a rank in the `+Inf` bucket gives the highest finite
    /// bound. `None` when it cannot be told: no observations, no `+Inf` bucket, fewer than
    /// two buckets, or `q` outside [0, 1].
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if !(0.0..=1.0).contains(&q) || self.buckets.len() < 2 {
            return None;
        }
        if self.buckets.last().map(|(le, _)| *le) != Some(f64::INFINITY) {
            return None;
        }
        // Cumulative counts must not fall; float noise from summing series can make them.
        let mut buckets = self.buckets.clone();
        let mut highest = 0.0_f64;
        for (_, count) in buckets.iter_mut() {
            highest = highest.max(*count);
            *count = highest;
        }
        let total = buckets.last().map(|(_, count)| *count)?;
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let index = buckets
            .iter()
            .position(|(_, count)| *count >= rank && *count > 0.0)?;
        let last = buckets.len() - 1;
        if index == last {
            return buckets.get(last - 1).map(|(le, _)| *le);
        }
        let (upper, cumulative) = buckets.get(index).copied()?;
        if index == 0 && upper <= 0.0 {
            return Some(upper);
        }
        let (lower, below) = match index {
            0 => (0.0, 0.0),
            _ => buckets.get(index - 1).copied()?,
        };
        let in_bucket = cumulative - below;
        if in_bucket <= 0.0 {
            return Some(lower);
        }
        Some(lower + (upper - lower) * ((rank - below) / in_bucket))
    }

    /// What was observed between `earlier` and `self`, bucket by bucket. If the counters were
    /// reset in between (any value lower than before) or the bucket layout changed, the
    /// process restarted: everything it has counted since is in `self`, which is returned as is.
    pub fn delta(&self, earlier: &Histogram) -> Histogram {
        let same_layout = self.buckets.len() == earlier.buckets.len()
            && self
                .buckets
                .iter()
                .zip(&earlier.buckets)
                .all(|((now_le, _), (then_le, _))| now_le == then_le);
        let reset = self.count < earlier.count
            || self.sum < earlier.sum
            || self
                .buckets
                .iter()
                .zip(&earlier.buckets)
                .any(|((_, now), (_, then))| now < then);
        if !same_layout || reset {
            return self.clone();
        }
        Histogram {
            buckets: self
                .buckets
                .iter()
                .zip(&earlier.buckets)
                .map(|((le, now), (_, then))| (*le, now - then))
                .collect(),
            sum: self.sum - earlier.sum,
            count: self.count - earlier.count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = r#"# HELP looma_http_request_duration_seconds Request latency.
# TYPE looma_http_request_duration_seconds histogram
looma_http_request_duration_seconds_bucket{component="router",route="/graphql",le="0.1"} 2
looma_http_request_duration_seconds_bucket{component="router",route="/graphql",le="0.5"} 6
looma_http_request_duration_seconds_bucket{component="router",route="/graphql",le="1"} 9
looma_http_request_duration_seconds_bucket{component="router",route="/graphql",le="+Inf"} 10
looma_http_request_duration_seconds_sum{component="router",route="/graphql"} 4.5
looma_http_request_duration_seconds_count{component="router",route="/graphql"} 10
looma_http_request_duration_seconds_bucket{component="search",route="/graphql",le="0.1"} 1
looma_http_request_duration_seconds_bucket{component="search",route="/graphql",le="0.5"} 1
looma_http_request_duration_seconds_bucket{component="search",route="/graphql",le="1"} 1
looma_http_request_duration_seconds_bucket{component="search",route="/graphql",le="+Inf"} 2
looma_http_request_duration_seconds_sum{component="search",route="/graphql"} 12
looma_http_request_duration_seconds_count{component="search",route="/graphql"} 2

  # a comment with leading blanks
looma_graphql_requests_total{component="router",operation="Me",outcome="ok"} 90 1700000000000
looma_graphql_requests_total{component="router",operation="say \"hi\"\\now\nplease",outcome="error"} 3
looma_graphql_requests_total{ component = "router" , operation="x", outcome="ok", } 7
process_resident_memory_bytes 1.5e9
weird_values{kind="pos"} +Inf
weird_values{kind="neg"} -Inf
weird_values{kind="nan"} NaN
this is not a sample
broken{component="router" 1
broken{component="router",component="search"} 1
broken{component="router"} notanumber
broken{component="router"} 1 1700000000000 extra
broken{component="router"} 1 12.5
broken{component="bad\escape"} 1
broken-name 1
{component="router"} 1
"#;

    fn parsed() -> Parsed {
        parse(SCRAPE, DEFAULT_MAX_BYTES).expect("under the cap")
    }

    #[test]
    fn parses_samples_and_counts_malformed_lines() {
        let parsed = parsed();
        assert_eq!(parsed.skipped_lines, 9);
        assert_eq!(parsed.samples.len(), 12 + 3 + 1 + 3);
        assert!(parsed.samples.iter().all(|s| s.name != "broken"));
    }

    #[test]
    fn unescapes_label_values() {
        let parsed = parsed();
        let errors: Vec<_> = parsed
            .samples
            .matching("looma_graphql_requests_total", &[("outcome", "error")])
            .collect();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].labels["operation"], "say \"hi\"\\now\nplease");
        assert_eq!(errors[0].value, 3.0);
    }

    #[test]
    fn accepts_blanks_and_trailing_comma_inside_braces_and_a_timestamp() {
        let samples = parsed().samples;
        assert_eq!(
            samples.sum("looma_graphql_requests_total", &[("operation", "x")]),
            Some(7.0)
        );
        assert_eq!(
            samples.sum("looma_graphql_requests_total", &[("operation", "Me")]),
            Some(90.0)
        );
        assert_eq!(
            samples.sum("process_resident_memory_bytes", &[]),
            Some(1.5e9)
        );
    }

    #[test]
    fn reads_infinities_and_nan() {
        let samples = parsed().samples;
        assert_eq!(
            samples.sum("weird_values", &[("kind", "pos")]),
            Some(f64::INFINITY)
        );
        assert_eq!(
            samples.sum("weird_values", &[("kind", "neg")]),
            Some(f64::NEG_INFINITY)
        );
        assert!(
            samples
                .sum("weird_values", &[("kind", "nan")])
                .is_some_and(f64::is_nan)
        );
    }

    #[test]
    fn sum_adds_matching_series_and_tells_absent_from_zero() {
        let samples = parsed().samples;
        assert_eq!(
            samples.sum("looma_graphql_requests_total", &[("component", "router")]),
            Some(100.0)
        );
        assert_eq!(
            samples.sum("looma_graphql_requests_total", &[("component", "chat")]),
            None
        );
        assert_eq!(samples.sum("no_such_metric", &[]), None);
    }

    #[test]
    fn refuses_a_body_over_the_cap() {
        assert_eq!(
            parse("a 1\nb 2\n", 5),
            Err(ExpositionError::TooLarge { size: 8, limit: 5 })
        );
        assert!(parse("a 1\n", 4).is_ok());
    }

    #[test]
    fn never_panics_on_truncated_or_odd_lines() {
        for line in [
            "a{",
            "a{b",
            "a{b=",
            "a{b=\"",
            "a{b=\"\\",
            "a{b=\"x\"",
            "a{b=\"x\",",
            "a{}",
            "a{} ",
            "a{}1",
            "é 1",
            "a{é=\"1\"} 1",
            "a{b=\"é\"} 1",
            ":a 1",
            "a\t1\t2",
        ] {
            let _ = parse(line, DEFAULT_MAX_BYTES);
        }
        let ok = parse("a{}1\na{b=\"é\"} 2\n:a 3\na\t4\t5", DEFAULT_MAX_BYTES).expect("small");
        assert_eq!(ok.skipped_lines, 0);
        assert_eq!(ok.samples.len(), 4);
        assert_eq!(ok.samples[1].labels["b"], "é");
    }

    #[test]
    fn survives_random_fragments_of_the_grammar() {
        // A fixed linear congruential sequence: reproducible, no dependency.
        let pieces = [
            "a",
            "_:b",
            "{",
            "}",
            "=",
            "\"",
            "\\",
            "\\n",
            ",",
            " ",
            "\t",
            "1",
            "-2.5e3",
            "+Inf",
            "NaN",
            "#",
            "le",
            "é",
            "\r\n",
            "\n",
            "9223372036854775808",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut body = String::new();
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let index = usize::try_from(state >> 33).unwrap_or(0) % pieces.len();
            body.push_str(pieces[index]);
        }
        let parsed = parse(&body, DEFAULT_MAX_BYTES).expect("under the cap");
        let lines = body
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim().starts_with('#'));
        assert_eq!(parsed.samples.len() + parsed.skipped_lines, lines.count());
    }

    #[test]
    fn histogram_sums_matching_series() {
        let samples = parsed().samples;
        let all = samples
            .histogram(
                "looma_http_request_duration_seconds",
                &[("route", "/graphql")],
            )
            .expect("buckets present");
        assert_eq!(
            all.buckets,
            vec![(0.1, 3.0), (0.5, 7.0), (1.0, 10.0), (f64::INFINITY, 12.0)]
        );
        assert_eq!(all.count, 12.0);
        assert_eq!(all.sum, 16.5);
        let router = samples
            .histogram(
                "looma_http_request_duration_seconds",
                &[("component", "router")],
            )
            .expect("buckets present");
        assert_eq!(router.count, 10.0);
        assert!(
            samples
                .histogram(
                    "looma_http_request_duration_seconds",
                    &[("component", "chat")]
                )
                .is_none()
        );
    }

    #[test]
    fn quantile_interpolates_within_the_bucket() {
        let router = parsed()
            .samples
            .histogram(
                "looma_http_request_duration_seconds",
                &[("component", "router")],
            )
            .expect("buckets present");
        // rank 9.5 falls in (1, +Inf]: the highest finite bound.
        assert_eq!(router.quantile(0.95), Some(1.0));
        // rank 5 falls in (0.1, 0.5] holding 4 of them, 3 above its start: 0.1 + 0.4 * 3/4.
        let median = router.quantile(0.5).expect("has observations");
        assert!((median - 0.4).abs() < 1e-12, "{median}");
        // rank 8.5 in (0.5, 1]: 0.5 + 0.5 * 2.5/3.
        let p85 = router.quantile(0.85).expect("has observations");
        assert!((p85 - (0.5 + 0.5 * 2.5 / 3.0)).abs() < 1e-12, "{p85}");
        // rank 1 in the first bucket, which starts at 0: 0.1 * 1/2.
        let p10 = router.quantile(0.1).expect("has observations");
        assert!((p10 - 0.05).abs() < 1e-12, "{p10}");
    }

    #[test]
    fn quantile_is_unknown_without_observations_or_inf_bucket() {
        let empty = Histogram {
            buckets: vec![(0.1, 0.0), (f64::INFINITY, 0.0)],
            sum: 0.0,
            count: 0.0,
        };
        assert_eq!(empty.quantile(0.95), None);
        let no_inf = Histogram {
            buckets: vec![(0.1, 1.0), (1.0, 2.0)],
            sum: 1.0,
            count: 2.0,
        };
        assert_eq!(no_inf.quantile(0.5), None);
        let fine = Histogram {
            buckets: vec![(0.1, 1.0), (f64::INFINITY, 2.0)],
            sum: 1.0,
            count: 2.0,
        };
        assert_eq!(fine.quantile(1.5), None);
        assert_eq!(fine.quantile(0.0), Some(0.0));
    }

    fn hist(buckets: &[(f64, f64)], sum: f64) -> Histogram {
        Histogram {
            buckets: buckets.to_vec(),
            sum,
            count: buckets.last().map(|(_, c)| *c).unwrap_or(0.0),
        }
    }

    #[test]
    fn delta_subtracts_bucket_by_bucket() {
        let earlier = hist(&[(0.1, 2.0), (1.0, 5.0), (f64::INFINITY, 6.0)], 3.0);
        let now = hist(&[(0.1, 2.0), (1.0, 9.0), (f64::INFINITY, 14.0)], 20.0);
        let delta = now.delta(&earlier);
        assert_eq!(
            delta.buckets,
            vec![(0.1, 0.0), (1.0, 4.0), (f64::INFINITY, 8.0)]
        );
        assert_eq!(delta.count, 8.0);
        assert_eq!(delta.sum, 17.0);
        // Everything new was slower than 1s: p95 of the window sits in the +Inf bucket.
        assert_eq!(delta.quantile(0.95), Some(1.0));
    }

    #[test]
    fn delta_after_a_counter_reset_is_the_current_histogram() {
        let earlier = hist(&[(0.1, 50.0), (1.0, 80.0), (f64::INFINITY, 90.0)], 40.0);
        let now = hist(&[(0.1, 1.0), (1.0, 3.0), (f64::INFINITY, 100.0)], 50.0);
        assert_eq!(now.delta(&earlier), now);
        let relaid = hist(&[(0.5, 1.0), (f64::INFINITY, 100.0)], 50.0);
        assert_eq!(relaid.delta(&earlier), relaid);
    }
}
