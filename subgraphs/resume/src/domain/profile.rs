//! The structured candidate profile parsed from a resume, as stored (JSON) and served.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A month (or just a year, when the resume gives no month).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: i32,
    pub month: Option<u32>,
}

impl YearMonth {
    pub fn new(year: i32, month: Option<u32>) -> Self {
        YearMonth { year, month }
    }

    /// Months since year 0, a missing month counting as January.
    pub fn ordinal(self) -> i32 {
        self.year * 12 + self.month.map_or(0, |m| m as i32 - 1)
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (year, month) = match text.split_once('-') {
            Some((y, m)) => (y, Some(m.parse().ok().filter(|m| (1..=12).contains(m))?)),
            None => (text, None),
        };
        let year: i32 = year.parse().ok().filter(|y| (1900..=2100).contains(y))?;
        Some(YearMonth { year, month })
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.month {
            Some(month) => write!(f, "{:04}-{:02}", self.year, month),
            None => write!(f, "{:04}", self.year),
        }
    }
}

impl Serialize for YearMonth {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        YearMonth::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a YYYY or YYYY-MM date: {text}")))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Education {
    pub school: Option<String>,
    /// Education level code (`BACHELOR`, ...).
    pub degree: Option<String>,
    pub major: Option<String>,
    pub start: Option<YearMonth>,
    pub end: Option<YearMonth>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Experience {
    pub company: Option<String>,
    pub title: Option<String>,
    pub start: Option<YearMonth>,
    /// `None` with `current` means "to the present".
    pub end: Option<YearMonth>,
    pub current: bool,
    /// The entry's description lines.
    pub description: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// `zh` or `en`: the resume's main language.
    pub language: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// E.164 (`+8613812345678`).
    pub phone: Option<String>,
    pub city: Option<String>,
    pub education: Vec<Education>,
    pub experience: Vec<Experience>,
    /// Canonical skill names, in order of first mention.
    pub skills: Vec<String>,
    pub keywords: Vec<String>,
    pub summary: Option<String>,
    /// Union of the experience intervals, in years (one decimal).
    pub total_years: Option<f64>,
    /// Highest education level code.
    pub highest_degree: Option<String>,
    /// Current (or latest) job title, for display and search.
    pub headline: Option<String>,
    /// The CSCO job family (`2-02`) of the headline, from text analytics after parsing.
    #[serde(default)]
    pub job_family: Option<String>,
}
