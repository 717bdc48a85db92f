//! `Filters` as a Qdrant `Filter` and `DocumentFields` as a Qdrant payload, with exactly the
//! semantics of `Filters::matches`: absent fields never match (Qdrant's `match`/`range`
//! conditions already fail on a missing key), `skills_all` is one `match` per skill, lists are
//! `match any`, and a salary range needs at least one stored bound and must overlap.

use std::collections::HashMap;

use looma_search_engine::{DocumentFields, Filters};
use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::{Condition, Filter, ListValue, Range, Value};

/// Payload key holding the caller's string id (point ids are UUIDs derived from it).
pub const ID_KEY: &str = "id";
/// Payload key holding the vector's Euclidean norm, from which dot products and distances are
/// recovered (Qdrant stores cosine collections' vectors normalized).
pub const NORM_KEY: &str = "vector_norm";

/// Payload fields that get a Qdrant payload index, and whether each is a keyword (else a float).
pub const INDEXED_FIELDS: [(&str, bool); 10] = [
    (ID_KEY, true),
    ("skills", true),
    ("city", true),
    ("degree", true),
    ("status", true),
    ("job_family", true),
    ("keywords", true),
    ("years", false),
    ("salary_min", false),
    ("salary_max", false),
];

/// The payload stored with a point: its id, its norm and the filterable fields (absent values
/// are left out so they never match).
pub fn payload_of(id: &str, norm: f64, fields: &DocumentFields) -> HashMap<String, Value> {
    let mut payload = HashMap::new();
    payload.insert(ID_KEY.to_string(), Value::from(id));
    payload.insert(NORM_KEY.to_string(), Value::from(norm));
    for (key, list) in [("skills", &fields.skills), ("keywords", &fields.keywords)] {
        let values = list.iter().map(|s| Value::from(s.as_str())).collect();
        payload.insert(
            key.to_string(),
            Value {
                kind: Some(Kind::ListValue(ListValue { values })),
            },
        );
    }
    for (key, value) in [
        ("city", &fields.city),
        ("degree", &fields.degree),
        ("status", &fields.status),
        ("name", &fields.name),
        ("job_family", &fields.job_family),
    ] {
        if let Some(value) = value {
            payload.insert(key.to_string(), Value::from(value.as_str()));
        }
    }
    for (key, value) in [
        ("years", fields.years),
        ("salary_min", fields.salary_min),
        ("salary_max", fields.salary_max),
    ] {
        if let Some(value) = value {
            payload.insert(key.to_string(), Value::from(value));
        }
    }
    payload
}

/// `None` when the filters constrain nothing.
pub fn filter_of(filters: &Filters) -> Option<Filter> {
    if filters.is_empty() {
        return None;
    }
    let mut must: Vec<Condition> = filters
        .skills_all
        .iter()
        .map(|skill| Condition::matches("skills", skill.clone()))
        .collect();
    for (field, values) in [
        ("skills", &filters.skills_any),
        ("city", &filters.cities),
        ("degree", &filters.degrees),
        ("status", &filters.statuses),
        ("job_family", &filters.job_families),
        ("keywords", &filters.keywords_any),
    ] {
        if !values.is_empty() {
            must.push(Condition::matches(field, values.clone()));
        }
    }
    if filters.min_years.is_some() || filters.max_years.is_some() {
        must.push(Condition::range(
            "years",
            Range {
                gte: filters.min_years,
                lte: filters.max_years,
                ..Range::default()
            },
        ));
    }
    // The stored range is [salary_min or salary_max, salary_max or salary_min].
    if let Some(min) = filters.salary_min {
        let at_least = |field| {
            let range = Range {
                gte: Some(min),
                ..Range::default()
            };
            Condition::range(field, range)
        };
        must.push(bound_with_fallback("salary_max", "salary_min", at_least));
    }
    if let Some(max) = filters.salary_max {
        let at_most = |field| {
            let range = Range {
                lte: Some(max),
                ..Range::default()
            };
            Condition::range(field, range)
        };
        must.push(bound_with_fallback("salary_min", "salary_max", at_most));
    }
    Some(Filter::must(must))
}

/// `field` satisfies `bound`, or `field` is absent and `fallback` satisfies it.
fn bound_with_fallback(
    field: &'static str,
    fallback: &'static str,
    bound: impl Fn(&'static str) -> Condition,
) -> Condition {
    Filter::should([
        bound(field),
        Filter::must([Condition::is_empty(field), bound(fallback)]).into(),
    ])
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdrant_client::qdrant::condition::ConditionOneOf;
    use qdrant_client::qdrant::r#match::MatchValue;

    fn field_condition(condition: &Condition) -> (&str, Option<&MatchValue>, Option<Range>) {
        match &condition.condition_one_of {
            Some(ConditionOneOf::Field(field)) => (
                field.key.as_str(),
                field.r#match.as_ref().and_then(|m| m.match_value.as_ref()),
                field.range,
            ),
            other => panic!("not a field condition: {other:?}"),
        }
    }

    #[test]
    fn no_filters_means_no_filter() {
        assert!(filter_of(&Filters::default()).is_none());
    }

    #[test]
    fn lists_are_any_and_skills_all_is_one_match_each() {
        let filter = filter_of(&Filters {
            skills_all: vec!["Rust".into(), "Go".into()],
            cities: vec!["北京".into(), "上海".into()],
            min_years: Some(3.0),
            ..Filters::default()
        })
        .expect("filter");
        let conditions: Vec<_> = filter.must.iter().map(field_condition).collect();
        assert_eq!(conditions.len(), 4);
        assert_eq!(conditions[0].0, "skills");
        assert_eq!(conditions[0].1, Some(&MatchValue::Keyword("Rust".into())));
        assert_eq!(conditions[1].1, Some(&MatchValue::Keyword("Go".into())));
        assert_eq!(conditions[2].0, "city");
        assert!(
            matches!(conditions[2].1, Some(MatchValue::Keywords(k)) if k.strings == ["北京", "上海"])
        );
        assert_eq!(conditions[3].0, "years");
        assert_eq!(conditions[3].2.and_then(|r| r.gte), Some(3.0));
    }

    #[test]
    fn salary_bound_falls_back_when_the_field_is_missing() {
        let filter = filter_of(&Filters {
            salary_max: Some(30000.0),
            ..Filters::default()
        })
        .expect("filter");
        let Some(ConditionOneOf::Filter(nested)) = &filter.must[0].condition_one_of else {
            panic!("expected a nested filter");
        };
        assert_eq!(nested.should.len(), 2);
        let (key, _, range) = field_condition(&nested.should[0]);
        assert_eq!(
            (key, range.and_then(|r| r.lte)),
            ("salary_min", Some(30000.0))
        );
        let Some(ConditionOneOf::Filter(fallback)) = &nested.should[1].condition_one_of else {
            panic!("expected the fallback filter");
        };
        assert!(matches!(
            &fallback.must[0].condition_one_of,
            Some(ConditionOneOf::IsEmpty(empty)) if empty.key == "salary_min"
        ));
        assert_eq!(field_condition(&fallback.must[1]).0, "salary_max");
    }

    #[test]
    fn absent_fields_are_left_out_of_the_payload() {
        let payload = payload_of(
            "r1",
            1.0,
            &DocumentFields {
                city: Some("深圳".into()),
                ..DocumentFields::default()
            },
        );
        assert!(payload.contains_key("city"));
        assert!(!payload.contains_key("years"));
        assert!(!payload.contains_key("degree"));
    }
}
