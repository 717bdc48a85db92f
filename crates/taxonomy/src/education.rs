//! Education levels named in resumes and job posts (Chinese and English), ordered lowest to highest.

use serde::{Deserialize, Serialize};

use crate::text::normalize_text;

/// A completed (or required) education level. The derive order is the ranking: a Master outranks
/// a Bachelor, so `max()` over detected levels gives the highest one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EducationLevel {
    HighSchool,
    Associate,
    Bachelor,
    Master,
    Doctorate,
}

/// Cue words per level. Latin cues are matched as whole words (case-insensitive), Chinese cues as
/// substrings. Kept deliberately specific: "研究生" means postgraduate (Master) unless "博士" is there.
const CUES: &[(EducationLevel, &[&str])] = &[
    (
        EducationLevel::Doctorate,
        &[
            "博士",
            "博士研究生",
            "博士后",
            "phd",
            "ph.d",
            "ph.d.",
            "d.phil",
            "doctorate",
            "doctor",
            "doctoral",
        ],
    ),
    (
        EducationLevel::Master,
        &[
            "硕士",
            "研究生",
            "mba",
            "emba",
            "mpa",
            "mph",
            "msc",
            "m.sc",
            "m.s.",
            "m.s",
            "m.a.",
            "meng",
            "m.eng",
            "master",
            "masters",
            "master's",
        ],
    ),
    (
        EducationLevel::Bachelor,
        &[
            "本科",
            "学士",
            "统招本科",
            "bachelor",
            "bachelors",
            "bachelor's",
            "b.s.",
            "b.s",
            "bsc",
            "b.sc",
            "beng",
            "b.eng",
            "b.a.",
            "undergraduate",
        ],
    ),
    (
        EducationLevel::Associate,
        &[
            "大专",
            "专科",
            "高职",
            "高专",
            "associate",
            "associate's",
            "junior college",
        ],
    ),
    (
        EducationLevel::HighSchool,
        &[
            "高中",
            "中专",
            "职高",
            "技校",
            "中技",
            "high school",
            "secondary school",
            "ged",
        ],
    ),
];

impl EducationLevel {
    /// Every level, lowest first.
    pub const ALL: [EducationLevel; 5] = [
        EducationLevel::HighSchool,
        EducationLevel::Associate,
        EducationLevel::Bachelor,
        EducationLevel::Master,
        EducationLevel::Doctorate,
    ];

    /// Stable code used in GraphQL enums and the database.
    pub const fn code(self) -> &'static str {
        match self {
            EducationLevel::HighSchool => "HIGH_SCHOOL",
            EducationLevel::Associate => "ASSOCIATE",
            EducationLevel::Bachelor => "BACHELOR",
            EducationLevel::Master => "MASTER",
            EducationLevel::Doctorate => "DOCTORATE",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|level| level.code().eq_ignore_ascii_case(code.trim()))
    }

    /// Recognises the level named in a fragment: 博士/博士研究生/PhD/Ph.D./Doctor → Doctorate;
    /// 硕士/研究生/MBA/MSc/M.S./Master → Master; 本科/学士/Bachelor/B.S./BSc/BEng/B.A. → Bachelor;
    /// 大专/专科/高职/Associate → Associate; 高中/中专/High School → HighSchool.
    /// When several appear, the highest.
    pub fn detect(fragment: &str) -> Option<Self> {
        let text = normalize_text(fragment).to_lowercase();
        CUES.iter()
            .find(|(_, cues)| cues.iter().any(|cue| contains_cue(&text, cue)))
            .map(|(level, _)| *level)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            EducationLevel::HighSchool => "高中/中专",
            EducationLevel::Associate => "大专",
            EducationLevel::Bachelor => "本科",
            EducationLevel::Master => "硕士",
            EducationLevel::Doctorate => "博士",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            EducationLevel::HighSchool => "High School",
            EducationLevel::Associate => "Associate Degree",
            EducationLevel::Bachelor => "Bachelor's Degree",
            EducationLevel::Master => "Master's Degree",
            EducationLevel::Doctorate => "Doctorate",
        }
    }
}

/// A cue is found when it occurs with no ASCII letter glued to either side (so "ba" does not fire
/// inside "database", nor "doctor" inside "doctors'" ... but "PhD" in "PhD候选人" does).
fn contains_cue(text: &str, cue: &str) -> bool {
    if !cue.is_ascii() {
        return text.contains(cue);
    }
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find(cue) {
        let start = from + pos;
        let end = start + cue.len();
        let before_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let after_ok =
            end >= bytes.len() || !bytes[end].is_ascii_alphabetic() || cue.ends_with('.');
        if before_ok && after_ok {
            return true;
        }
        from = start + 1;
        while !text.is_char_boundary(from) {
            from += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::EducationLevel::*;
    use super::*;

    #[test]
    fn detects_each_level() {
        assert_eq!(EducationLevel::detect("博士研究生"), Some(Doctorate));
        assert_eq!(
            EducationLevel::detect("Ph.D. in Computer Science"),
            Some(Doctorate)
        );
        assert_eq!(EducationLevel::detect("PhD"), Some(Doctorate));
        assert_eq!(EducationLevel::detect("硕士"), Some(Master));
        assert_eq!(EducationLevel::detect("研究生学历"), Some(Master));
        assert_eq!(EducationLevel::detect("MBA"), Some(Master));
        assert_eq!(
            EducationLevel::detect("M.S. Computer Science"),
            Some(Master)
        );
        assert_eq!(EducationLevel::detect("MSc Data Science"), Some(Master));
        assert_eq!(EducationLevel::detect("统招本科"), Some(Bachelor));
        assert_eq!(
            EducationLevel::detect("B.S. in Mathematics"),
            Some(Bachelor)
        );
        assert_eq!(EducationLevel::detect("BEng Electronics"), Some(Bachelor));
        assert_eq!(EducationLevel::detect("Bachelor of Arts"), Some(Bachelor));
        assert_eq!(EducationLevel::detect("大专"), Some(Associate));
        assert_eq!(EducationLevel::detect("高职"), Some(Associate));
        assert_eq!(EducationLevel::detect("高中"), Some(HighSchool));
        assert_eq!(EducationLevel::detect("中专"), Some(HighSchool));
        assert_eq!(
            EducationLevel::detect("High School Diploma"),
            Some(HighSchool)
        );
    }

    #[test]
    fn highest_level_wins_when_several_appear() {
        assert_eq!(EducationLevel::detect("本科 / 硕士"), Some(Master));
        assert_eq!(
            EducationLevel::detect("本科及以上，硕士优先，博士更佳"),
            Some(Doctorate)
        );
        assert_eq!(
            EducationLevel::detect("大专以上学历，本科优先"),
            Some(Bachelor)
        );
        assert_eq!(EducationLevel::detect("B.S. 2015, M.S. 2017"), Some(Master));
    }

    #[test]
    fn no_level_in_unrelated_text() {
        assert_eq!(EducationLevel::detect("熟悉数据库 database design"), None);
        assert_eq!(EducationLevel::detect("Java开发工程师"), None);
        assert_eq!(EducationLevel::detect(""), None);
    }

    #[test]
    fn levels_are_ordered_and_codes_round_trip() {
        assert!(
            HighSchool < Associate
                && Associate < Bachelor
                && Bachelor < Master
                && Master < Doctorate
        );
        for level in EducationLevel::ALL {
            assert_eq!(EducationLevel::from_code(level.code()), Some(level));
            assert!(!level.label_zh().is_empty() && !level.label_en().is_empty());
        }
        assert_eq!(EducationLevel::from_code("bachelor"), Some(Bachelor));
        assert_eq!(EducationLevel::from_code("PHD"), None);
    }
}
