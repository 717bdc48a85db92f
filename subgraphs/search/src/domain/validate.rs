//! What a valid query, filter, vector or indexed document is. Every rule names the argument it
//! checks, so the client sees `invalid \`filter.minYears\`: ...` rather than an engine error.

use crate::SearchError;
use looma_search_engine::{Document, Filters};
use looma_taxonomy::{EducationLevel, SkillTaxonomy};

/// Long enough for a pasted job description or a question in full; typo tolerance stops
/// after the first words (see the text engine), so the cost stays bounded.
pub const MAX_QUERY_CHARS: usize = 2_000;
/// `analyzeText`: a job post, a resume's text or a page of feedback.
pub const MAX_ANALYZE_CHARS: usize = 20_000;
/// `analyzeText(...) { keywords(first:) }`.
pub const MAX_KEYWORDS: usize = 50;
pub const MAX_PREFIX_CHARS: usize = 100;
pub const MAX_FILTER_VALUES: usize = 50;
pub const MAX_FILTER_VALUE_CHARS: usize = 100;
pub const MAX_ID_CHARS: usize = 128;
pub const MAX_TITLE_CHARS: usize = 1_000;
pub const MAX_CONTENT_BYTES: usize = 2 * 1024 * 1024;
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
pub const MAX_SKILLS: usize = 500;

/// A search text: trimmed, not empty, not too long, control characters turned into spaces.
pub fn query_text(field: &str, text: &str, max_chars: usize) -> Result<String, SearchError> {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        return Err(SearchError::invalid(field, "must not be empty"));
    }
    let chars = cleaned.chars().count();
    if chars > max_chars {
        return Err(SearchError::invalid(
            field,
            format!("is {chars} characters; at most {max_chars}"),
        ));
    }
    Ok(cleaned.to_owned())
}

/// A count argument within `1..=max`.
pub fn count(field: &str, value: i32, max: usize) -> Result<usize, SearchError> {
    match usize::try_from(value) {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(SearchError::invalid(
            field,
            format!("must be between 1 and {max} (got {value})"),
        )),
    }
}

/// A query or document vector: the index's dimension, finite values, not all zero.
pub fn vector(field: &str, values: &[f32], dimension: usize) -> Result<(), SearchError> {
    if values.len() != dimension {
        return Err(SearchError::DimensionMismatch {
            field: field.to_owned(),
            expected: dimension,
            got: values.len(),
        });
    }
    if let Some(at) = values.iter().position(|v| !v.is_finite()) {
        return Err(SearchError::invalid(
            field,
            format!("value {at} is not a finite number"),
        ));
    }
    if values.iter().all(|v| *v == 0.0) {
        return Err(SearchError::invalid(
            field,
            "is all zeros and has no direction",
        ));
    }
    Ok(())
}

fn values(field: &str, list: &mut Vec<String>) -> Result<(), SearchError> {
    if list.len() > MAX_FILTER_VALUES {
        return Err(SearchError::invalid(
            field,
            format!("at most {MAX_FILTER_VALUES} values"),
        ));
    }
    for value in list.iter_mut() {
        let trimmed = value.trim();
        if trimmed.is_empty() || trimmed.chars().count() > MAX_FILTER_VALUE_CHARS {
            return Err(SearchError::invalid(
                field,
                format!("values must be 1 to {MAX_FILTER_VALUE_CHARS} characters"),
            ));
        }
        *value = trimmed.to_owned();
    }
    list.dedup();
    Ok(())
}

fn range(
    field: &str,
    low: Option<f64>,
    high: Option<f64>,
    names: (&str, &str),
) -> Result<(), SearchError> {
    for (name, value) in [(names.0, low), (names.1, high)] {
        if let Some(v) = value
            && !(v.is_finite() && v >= 0.0)
        {
            return Err(SearchError::invalid(
                format!("{field}.{name}"),
                "must be a finite number ≥ 0",
            ));
        }
    }
    if let (Some(low), Some(high)) = (low, high)
        && low > high
    {
        return Err(SearchError::invalid(
            format!("{field}.{}", names.0),
            format!("{low} is greater than {}={high}", names.1),
        ));
    }
    Ok(())
}

/// Checks a filter and normalizes it: skills and aliases to canonical taxonomy names
/// (`k8s` → `Kubernetes`), degree codes upper-cased and checked.
pub fn filters(field: &str, mut filters: Filters) -> Result<Filters, SearchError> {
    let taxonomy = SkillTaxonomy::builtin();
    for (name, list) in [
        ("skills", &mut filters.skills_all),
        ("anySkills", &mut filters.skills_any),
    ] {
        values(&format!("{field}.{name}"), list)?;
        for skill in list.iter_mut() {
            if let Some(known) = taxonomy.get(skill) {
                *skill = known.name.clone();
            }
        }
    }
    values(&format!("{field}.cities"), &mut filters.cities)?;
    values(&format!("{field}.statuses"), &mut filters.statuses)?;
    values(&format!("{field}.jobFamilies"), &mut filters.job_families)?;
    values(&format!("{field}.anyKeywords"), &mut filters.keywords_any)?;
    values(&format!("{field}.degrees"), &mut filters.degrees)?;
    for degree in filters.degrees.iter_mut() {
        let code = degree.to_ascii_uppercase();
        if EducationLevel::from_code(&code).is_none() {
            let known: Vec<&str> = EducationLevel::ALL.iter().map(|l| l.code()).collect();
            return Err(SearchError::invalid(
                format!("{field}.degrees"),
                format!("`{degree}` is not one of {}", known.join(", ")),
            ));
        }
        *degree = code;
    }
    range(
        field,
        filters.min_years,
        filters.max_years,
        ("minYears", "maxYears"),
    )?;
    range(
        field,
        filters.salary_min,
        filters.salary_max,
        ("salaryMin", "salaryMax"),
    )?;
    Ok(filters)
}

/// A document an owner sends for indexing.
pub fn document(at: usize, doc: &Document, dimension: usize) -> Result<(), SearchError> {
    let field = |name: &str| format!("documents[{at}].{name}");
    let id_ok = !doc.id.trim().is_empty()
        && doc.id.chars().count() <= MAX_ID_CHARS
        && !doc.id.chars().any(char::is_control);
    if !id_ok {
        return Err(SearchError::invalid(
            field("id"),
            format!("must be 1 to {MAX_ID_CHARS} printable characters"),
        ));
    }
    if doc.title.chars().count() > MAX_TITLE_CHARS {
        return Err(SearchError::invalid(
            field("title"),
            format!("at most {MAX_TITLE_CHARS} characters"),
        ));
    }
    if doc.content.len() > MAX_CONTENT_BYTES {
        return Err(SearchError::invalid(
            field("content"),
            format!("at most {MAX_CONTENT_BYTES} bytes"),
        ));
    }
    if doc.fields.skills.len() > MAX_SKILLS {
        return Err(SearchError::invalid(
            field("skills"),
            format!("at most {MAX_SKILLS} skills"),
        ));
    }
    if doc.fields.keywords.len() > MAX_KEYWORDS
        || doc
            .fields
            .keywords
            .iter()
            .any(|k| k.chars().count() > MAX_FILTER_VALUE_CHARS)
    {
        return Err(SearchError::invalid(
            field("keywords"),
            format!(
                "at most {MAX_KEYWORDS} keywords of at most {MAX_FILTER_VALUE_CHARS} characters"
            ),
        ));
    }
    if doc
        .fields
        .job_family
        .as_ref()
        .is_some_and(|f| f.chars().count() > MAX_FILTER_VALUE_CHARS)
    {
        return Err(SearchError::invalid(
            field("jobFamily"),
            format!("at most {MAX_FILTER_VALUE_CHARS} characters"),
        ));
    }
    if doc.metadata.to_string().len() > MAX_METADATA_BYTES {
        return Err(SearchError::invalid(
            field("metadata"),
            format!("at most {MAX_METADATA_BYTES} bytes of JSON"),
        ));
    }
    let f = &doc.fields;
    range(&field("years"), f.years, None, ("value", "-"))?;
    range(
        &field("salary"),
        f.salary_min,
        f.salary_max,
        ("salaryMin", "salaryMax"),
    )?;
    if let Some(vector) = &doc.vector {
        self::vector(&field("vector"), vector, dimension)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_trimmed_and_bounded() {
        assert_eq!(
            query_text("query", "  java\n后端 ", 10).ok().as_deref(),
            Some("java 后端")
        );
        assert!(query_text("query", " \t ", 10).is_err());
        assert!(query_text("query", &"x".repeat(11), 10).is_err());
    }

    #[test]
    fn counts_are_bounded() {
        assert_eq!(count("topK", 5, 10).ok(), Some(5));
        for bad in [0, -1, 11, i32::MAX] {
            let message = count("topK", bad, 10).unwrap_err().to_string();
            assert!(message.contains("`topK`"), "{message}");
        }
    }

    #[test]
    fn vectors_must_fit_the_index() {
        assert!(vector("vector", &[0.1, 0.2], 2).is_ok());
        assert!(matches!(
            vector("vector", &[0.1], 2),
            Err(SearchError::DimensionMismatch {
                expected: 2,
                got: 1,
                ..
            })
        ));
        assert!(vector("vector", &[f32::NAN, 0.2], 2).is_err());
        assert!(vector("vector", &[0.0, 0.0], 2).is_err());
    }

    #[test]
    fn filters_normalize_aliases_and_reject_nonsense() {
        let normalized = filters(
            "filter",
            Filters {
                skills_all: vec![" k8s ".into()],
                degrees: vec!["master".into()],
                min_years: Some(2.0),
                ..Filters::default()
            },
        )
        .expect("valid");
        assert_eq!(normalized.skills_all, ["Kubernetes"]);
        assert_eq!(normalized.degrees, ["MASTER"]);

        let bad = [
            Filters {
                min_years: Some(5.0),
                max_years: Some(2.0),
                ..Filters::default()
            },
            Filters {
                min_years: Some(f64::NAN),
                ..Filters::default()
            },
            Filters {
                salary_min: Some(-1.0),
                ..Filters::default()
            },
            Filters {
                degrees: vec!["PHD-ish".into()],
                ..Filters::default()
            },
            Filters {
                cities: vec!["  ".into()],
                ..Filters::default()
            },
            Filters {
                skills_any: vec!["x".into(); MAX_FILTER_VALUES + 1],
                ..Filters::default()
            },
        ];
        for filter in bad {
            let message = filters("filter", filter.clone()).unwrap_err().to_string();
            assert!(
                message.starts_with("invalid `filter."),
                "{filter:?}: {message}"
            );
        }
    }
}
