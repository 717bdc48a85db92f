//! `looma eval resumes`: runs extraction and parsing over a fixture directory of resumes
//! with hand-checked `<stem>.expected.json` files and scores every field (precision, recall,
//! F1, micro-averaged per field over all documents).
//!
//! A labelled set may assign each document a `split` (`train`, `dev`, `test`): tune on train
//! and dev, report test. Every prediction is scored: a skill the label does not list is a false
//! positive, unless the set declares the vocabulary its labels were written in
//! (`skills-scope.txt`, the generated fixtures only).

use crate::domain::parse::{parse_profile, prepare_text};
use crate::domain::profile::{Profile, YearMonth};
use looma_extract::format::detect_format;
use looma_extract::{ExtractError, ExtractLimits, extract_text};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Deserialize)]
struct Expected {
    file: String,
    expected_status: String,
    as_of: Option<String>,
    #[serde(default)]
    split: Option<String>,
    profile: Option<ExpectedProfile>,
}

#[derive(Deserialize, Default)]
struct ExpectedProfile {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    city: Option<String>,
    #[serde(default)]
    education: Vec<ExpectedEducation>,
    #[serde(default)]
    experience: Vec<ExpectedExperience>,
    #[serde(default)]
    skills: Vec<String>,
    total_years: Option<f64>,
}

#[derive(Deserialize)]
struct ExpectedEducation {
    school: Option<String>,
    degree: Option<String>,
    major: Option<String>,
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
struct ExpectedExperience {
    company: Option<String>,
    title: Option<String>,
    start: Option<String>,
    end: Option<String>,
}

/// True/false positives and false negatives of one field.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub tp: u32,
    pub fp: u32,
    pub fn_: u32,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    fn add(&mut self, other: Counts) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
    }
}

fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// Field groups the issue reports on, and the fields in each.
pub const GROUPS: &[(&str, &[&str])] = &[
    ("contact", &["name", "email", "phone", "city"]),
    ("education", &["school", "degree", "major"]),
    ("dates", &["education_dates", "experience_dates"]),
    ("experience", &["company", "title", "total_years"]),
    ("skills", &["skills"]),
];

#[derive(Debug, Default)]
pub struct EvalReport {
    pub documents: usize,
    pub status_correct: usize,
    pub fields: BTreeMap<&'static str, Counts>,
    /// Per document: file and the fields that were wrong.
    pub misses: Vec<(String, Vec<String>)>,
    /// Predicted skills outside the labelled vocabulary (`skills-scope.txt`), not scored.
    pub unscored_skills: usize,
    /// Documents whose label has experience but whose profile has none.
    pub no_experience: Vec<String>,
    /// Time spent detecting, extracting and parsing (reading the files excluded).
    pub parse_time: std::time::Duration,
    /// The split scored (`None`: every document).
    pub split: Option<String>,
}

impl EvalReport {
    pub fn group(&self, fields: &[&str]) -> Counts {
        let mut total = Counts::default();
        for field in fields {
            if let Some(counts) = self.fields.get(field) {
                total.add(*counts);
            }
        }
        total
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "split: {}   resumes: {}   status correct: {}/{}\n\n{:<18} {:>9} {:>9} {:>9}   tp/fp/fn\n",
            self.split.as_deref().unwrap_or("all"),
            self.documents,
            self.status_correct,
            self.documents,
            "field",
            "precision",
            "recall",
            "F1"
        );
        for (group, fields) in GROUPS {
            for field in *fields {
                let c = self.fields.get(field).copied().unwrap_or_default();
                out.push_str(&format!(
                    "{:<18} {:>9.3} {:>9.3} {:>9.3}   {}/{}/{}\n",
                    field,
                    c.precision(),
                    c.recall(),
                    c.f1(),
                    c.tp,
                    c.fp,
                    c.fn_
                ));
            }
            let g = self.group(fields);
            out.push_str(&format!(
                "{:<18} {:>9.3} {:>9.3} {:>9.3}\n\n",
                format!("= {group}"),
                g.precision(),
                g.recall(),
                g.f1()
            ));
        }
        if self.unscored_skills > 0 {
            out.push_str(&format!(
                "skills outside the labelled vocabulary (predicted, not scored): {}\n",
                self.unscored_skills
            ));
        }
        out.push_str(&format!(
            "resumes with experience found none: {}{}\n",
            self.no_experience.len(),
            if self.no_experience.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.no_experience.join(", "))
            }
        ));
        let secs = self.parse_time.as_secs_f64();
        out.push_str(&format!(
            "extract + parse: {:.1} ms for {} resumes ({:.1} resumes/s, one thread)\n",
            secs * 1000.0,
            self.documents,
            self.documents as f64 / secs.max(1e-9)
        ));
        out
    }
}

fn norm(value: &str) -> String {
    looma_taxonomy::normalize_text(value)
        .trim()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn single(expected: Option<&str>, predicted: Option<&str>) -> Counts {
    let e = expected.map(norm).filter(|v| !v.is_empty());
    let p = predicted.map(norm).filter(|v| !v.is_empty());
    match (e, p) {
        (Some(e), Some(p)) if e == p => Counts {
            tp: 1,
            fp: 0,
            fn_: 0,
        },
        (Some(_), Some(_)) => Counts {
            tp: 0,
            fp: 1,
            fn_: 1,
        },
        (Some(_), None) => Counts {
            tp: 0,
            fp: 0,
            fn_: 1,
        },
        (None, Some(_)) => Counts {
            tp: 0,
            fp: 1,
            fn_: 0,
        },
        (None, None) => Counts::default(),
    }
}

fn sets(expected: BTreeSet<String>, predicted: BTreeSet<String>) -> Counts {
    Counts {
        tp: expected.intersection(&predicted).count() as u32,
        fp: predicted.difference(&expected).count() as u32,
        fn_: expected.difference(&predicted).count() as u32,
    }
}

fn opt_set<'a>(values: impl Iterator<Item = Option<&'a str>>) -> BTreeSet<String> {
    values
        .flatten()
        .map(norm)
        .filter(|v| !v.is_empty())
        .collect()
}

fn date_pair(start: Option<String>, end: Option<String>) -> String {
    format!(
        "{}..{}",
        start.unwrap_or_default(),
        end.unwrap_or_else(|| "present".into())
    )
}

fn score(
    expected: &ExpectedProfile,
    profile: &Profile,
    scope: Option<&BTreeSet<String>>,
) -> BTreeMap<&'static str, Counts> {
    let mut fields = BTreeMap::new();
    fields.insert(
        "name",
        single(expected.name.as_deref(), profile.name.as_deref()),
    );
    fields.insert(
        "email",
        single(expected.email.as_deref(), profile.email.as_deref()),
    );
    fields.insert(
        "phone",
        single(expected.phone.as_deref(), profile.phone.as_deref()),
    );
    fields.insert(
        "city",
        single(expected.city.as_deref(), profile.city.as_deref()),
    );
    fields.insert(
        "school",
        sets(
            opt_set(expected.education.iter().map(|e| e.school.as_deref())),
            opt_set(profile.education.iter().map(|e| e.school.as_deref())),
        ),
    );
    fields.insert(
        "degree",
        sets(
            opt_set(expected.education.iter().map(|e| e.degree.as_deref())),
            opt_set(profile.education.iter().map(|e| e.degree.as_deref())),
        ),
    );
    fields.insert(
        "major",
        sets(
            opt_set(expected.education.iter().map(|e| e.major.as_deref())),
            opt_set(profile.education.iter().map(|e| e.major.as_deref())),
        ),
    );
    fields.insert(
        "education_dates",
        sets(
            expected
                .education
                .iter()
                .map(|e| date_pair(e.start.clone(), e.end.clone()))
                .collect(),
            profile
                .education
                .iter()
                .map(|e| date_pair(e.start.map(|d| d.to_string()), e.end.map(|d| d.to_string())))
                .collect(),
        ),
    );
    fields.insert(
        "experience_dates",
        sets(
            expected
                .experience
                .iter()
                .map(|e| date_pair(e.start.clone(), e.end.clone()))
                .collect(),
            profile
                .experience
                .iter()
                .map(|e| date_pair(e.start.map(|d| d.to_string()), e.end.map(|d| d.to_string())))
                .collect(),
        ),
    );
    fields.insert(
        "company",
        sets(
            opt_set(expected.experience.iter().map(|e| e.company.as_deref())),
            opt_set(profile.experience.iter().map(|e| e.company.as_deref())),
        ),
    );
    fields.insert(
        "title",
        sets(
            opt_set(expected.experience.iter().map(|e| e.title.as_deref())),
            opt_set(profile.experience.iter().map(|e| e.title.as_deref())),
        ),
    );
    let taxonomy = looma_taxonomy::SkillTaxonomy::builtin();
    fields.insert(
        "skills",
        sets(
            // A label may name a skill by any alias the taxonomy knows.
            expected
                .skills
                .iter()
                .map(|s| norm(taxonomy.get(s).map_or(s.as_str(), |skill| &skill.name)))
                .collect(),
            profile
                .skills
                .iter()
                .map(|s| norm(s))
                .filter(|s| scope.is_none_or(|scope| scope.contains(s)))
                .collect(),
        ),
    );
    let years_ok = match (expected.total_years, profile.total_years) {
        (Some(e), Some(p)) => (e - p).abs() <= 0.25,
        (None, None) => true,
        _ => false,
    };
    fields.insert(
        "total_years",
        match (expected.total_years.is_some(), years_ok) {
            (true, true) => Counts {
                tp: 1,
                fp: 0,
                fn_: 0,
            },
            (true, false) => Counts {
                tp: 0,
                fp: u32::from(profile.total_years.is_some()),
                fn_: 1,
            },
            (false, true) => Counts::default(),
            (false, false) => Counts {
                tp: 0,
                fp: 1,
                fn_: 0,
            },
        },
    );
    fields
}

/// Scores every `*.expected.json` in `dir` (only those of `split` when given).
pub fn evaluate(
    dir: &Path,
    limits: ExtractLimits,
    split: Option<&str>,
) -> std::io::Result<EvalReport> {
    let mut report = EvalReport {
        split: split.map(str::to_owned),
        ..EvalReport::default()
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    entries.sort();
    // The vocabulary the labels were written in, when the fixture set declares one.
    let scope: Option<BTreeSet<String>> = std::fs::read_to_string(dir.join("skills-scope.txt"))
        .ok()
        .map(|text| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(norm)
                .collect()
        });
    for path in entries {
        let expected: Expected = serde_json::from_slice(&std::fs::read(&path)?)
            .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
        if split.is_some() && expected.split.as_deref() != split {
            continue;
        }
        let bytes = std::fs::read(dir.join(&expected.file))?;
        let as_of = expected
            .as_of
            .as_deref()
            .and_then(|d| YearMonth::parse(&d[..7.min(d.len())]))
            .unwrap_or(YearMonth::new(2026, Some(11)));
        report.documents += 1;
        let started = std::time::Instant::now();
        let outcome = detect_format(&bytes, &expected.file)
            .map_err(|e| ExtractError::Invalid(e.to_string()))
            .and_then(|format| extract_text(&bytes, format, limits));
        let (status, profile) = match outcome {
            Ok(extracted) => {
                let text = prepare_text(&extracted.text);
                ("PARSED", Some(parse_profile(&text, as_of)))
            }
            Err(ExtractError::NeedsOcr(_)) => ("NEEDS_OCR", None),
            Err(ExtractError::Invalid(_)) => ("FAILED", None),
        };
        report.parse_time += started.elapsed();
        if status == expected.expected_status {
            report.status_correct += 1;
        }
        let mut wrong = Vec::new();
        if let Some(expected_profile) = &expected.profile {
            let profile = profile.unwrap_or_default();
            if !expected_profile.experience.is_empty() && profile.experience.is_empty() {
                report.no_experience.push(expected.file.clone());
            }
            if let Some(scope) = &scope {
                report.unscored_skills += profile
                    .skills
                    .iter()
                    .filter(|s| !scope.contains(&norm(s)))
                    .count();
            }
            for (field, counts) in score(expected_profile, &profile, scope.as_ref()) {
                if counts.fp + counts.fn_ > 0 {
                    wrong.push(field.to_owned());
                }
                report.fields.entry(field).or_default().add(counts);
            }
        } else if status != expected.expected_status {
            wrong.push(format!("status {status}"));
        }
        if !wrong.is_empty() {
            report.misses.push((expected.file.clone(), wrong));
        }
    }
    Ok(report)
}

/// One file's prepared text and parsed profile (pretty JSON), for debugging the parser.
pub fn show(path: &Path, limits: ExtractLimits) -> std::io::Result<(String, String)> {
    let bytes = std::fs::read(path)?;
    let name = path.to_string_lossy();
    let format = detect_format(&bytes, &name).map_err(|e| std::io::Error::other(e.to_string()))?;
    let extracted =
        extract_text(&bytes, format, limits).map_err(|e| std::io::Error::other(e.to_string()))?;
    let text = prepare_text(&extracted.text);
    let profile = parse_profile(&text, YearMonth::new(2026, Some(11)));
    let json = serde_json::to_string_pretty(&profile).map_err(std::io::Error::other)?;
    Ok((format!("[{}]\n{text}", extracted.method), json))
}
