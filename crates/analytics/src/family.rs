//! Job families: the middle groups (中类) of CSCO 2022, e.g. `2-02` 工程技术人员 or `4-01`
//! 批发与零售服务人员 — the level recruiters filter by. A text's family comes from the job-family
//! head over its embedding (trained on labelled titles and the CSCO table's own names); without
//! a head for the configured model, from the title matcher (`looma_taxonomy::normalize_title`).

use looma_taxonomy::{csco_name, normalize_title};

use crate::head::LinearHead;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyMethod {
    /// The classifier over the text's embedding.
    Embedding,
    /// The CSCO title matcher (keywords and aliases).
    Keywords,
}

#[derive(Clone, Debug, PartialEq)]
pub struct JobFamily {
    /// CSCO middle-group code, `2-02`.
    pub code: String,
    pub name: String,
    /// CSCO major group (大类), `2`.
    pub major_group: String,
    pub major_group_name: String,
    /// The classifier's probability, or the title matcher's score.
    pub score: f32,
    pub method: FamilyMethod,
}

/// The family part of a CSCO code: `2-02-10-03` → `2-02`. `None` for anything else.
pub fn family_code(code: &str) -> Option<String> {
    let mut parts = code.split('-');
    let (major, middle) = (parts.next()?, parts.next()?);
    let valid = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_digit());
    (valid(major, 1) && valid(middle, 2)).then(|| format!("{major}-{middle}"))
}

/// The CSCO name of a family code (`2-02` → 工程技术人员).
pub fn family_name(code: &str) -> Option<&'static str> {
    csco_name(&format!("{code}-00-00"))
}

/// A family by its code, with the CSCO names; `None` when the table has no such group.
pub fn family(code: &str, score: f32, method: FamilyMethod) -> Option<JobFamily> {
    let name = family_name(code)?;
    let major_group = code.split('-').next()?.to_owned();
    let major_group_name = csco_name(&format!("{major_group}-00-00-00"))?;
    Some(JobFamily {
        code: code.to_owned(),
        name: name.to_owned(),
        major_group,
        major_group_name: major_group_name.to_owned(),
        score,
        method,
    })
}

/// The family the CSCO title matcher gives `title`, if it recognises it.
pub fn family_by_keywords(title: &str) -> Option<JobFamily> {
    let matched = normalize_title(title)?;
    family(
        &family_code(&matched.code)?,
        matched.score,
        FamilyMethod::Keywords,
    )
}

pub(crate) fn from_vector(head: &LinearHead, vector: &[f32]) -> Option<JobFamily> {
    let (index, probability) = head.predict(vector);
    family(
        head.labels.get(index)?,
        probability,
        FamilyMethod::Embedding,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_codes_are_the_first_two_levels() {
        assert_eq!(family_code("2-02-10-03").as_deref(), Some("2-02"));
        assert_eq!(family_code("4-01-00-00").as_deref(), Some("4-01"));
        assert_eq!(family_code("e"), None);
        assert_eq!(family_code("2-x2-10"), None);
    }

    #[test]
    fn families_carry_csco_names() {
        let f = family("2-02", 0.7, FamilyMethod::Embedding).expect("2-02 exists");
        assert_eq!(f.name, "工程技术人员");
        assert_eq!(f.major_group, "2");
        assert_eq!(f.major_group_name, "专业技术人员");
        assert!(family("9-99", 1.0, FamilyMethod::Embedding).is_none());
    }

    #[test]
    fn keyword_fallback_reads_known_titles() {
        let f = family_by_keywords("高级后端开发工程师").expect("a known title");
        assert_eq!(f.code, "2-02");
        assert_eq!(f.method, FamilyMethod::Keywords);
        assert!(family_by_keywords("zzzz").is_none());
    }
}
