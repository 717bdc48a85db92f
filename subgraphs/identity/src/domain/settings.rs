//! The catalogue of typed, namespaced settings and the rules their values obey.
//!
//! Keys are dotted (`matching.weights`, `features.job_matching`). A key in the catalogue has a
//! type its every version must satisfy; `features.<flag>` keys are booleans; `custom.*` keys
//! hold any JSON for integrations. Anything else is refused, so a typo cannot create a setting
//! nobody reads.

use crate::IdentityError;
use serde_json::{Value, json};

/// Components of the match score, in the order the matching subgraph reports them.
pub const MATCH_WEIGHT_COMPONENTS: &[&str] = &[
    "required_skills",
    "preferred_skills",
    "semantic",
    "experience",
    "education",
    "location",
    "salary",
];

/// Feature flags other components read, with what each guards. All default to on.
pub const FEATURE_FLAGS: &[(&str, &str)] = &[
    ("resume_processing", "Resume upload, parsing and indexing"),
    ("job_matching", "Job and candidate matching"),
    ("ai_chat", "The recruiting chat assistant"),
    ("vector_search", "Vector, semantic and hybrid search"),
    ("text_search", "Full-text search and suggestions"),
];

pub const FEATURE_PREFIX: &str = "features.";
const CUSTOM_PREFIX: &str = "custom.";
const MAX_KEY_LEN: usize = 128;
/// Serialized size limit for one setting value.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingType {
    /// Object of named non-negative weights, at least one positive.
    Weights(&'static [&'static str]),
    Boolean,
    Integer {
        min: i64,
        max: i64,
    },
    Text {
        max_chars: usize,
    },
    /// A list of objects, each with these fields (the component that reads it checks the
    /// rest: identity knows no other component's types).
    ObjectList {
        required: &'static [&'static str],
        max_items: usize,
    },
    AnyJson,
}

impl SettingType {
    pub fn name(&self) -> &'static str {
        match self {
            SettingType::Weights(_) => "WEIGHTS",
            SettingType::Boolean => "BOOLEAN",
            SettingType::Integer { .. } => "INTEGER",
            SettingType::Text { .. } => "TEXT",
            SettingType::ObjectList { .. } => "OBJECT_LIST",
            SettingType::AnyJson => "JSON",
        }
    }
}

#[derive(Clone, Debug)]
pub struct SettingSpec {
    pub key: String,
    pub description: String,
    pub setting_type: SettingType,
    /// The value in force before anyone sets one (version 0).
    pub default: Option<Value>,
}

fn catalogue_entry(key: &str) -> Option<SettingSpec> {
    let (description, setting_type, default) = match key {
        "matching.weights" => (
            "Weight of each match-score component",
            SettingType::Weights(MATCH_WEIGHT_COMPONENTS),
            json!({
                "required_skills": 0.35, "preferred_skills": 0.10, "semantic": 0.20,
                "experience": 0.15, "education": 0.05, "location": 0.10, "salary": 0.05
            }),
        ),
        "search.rrf_k" => (
            "Reciprocal-rank-fusion constant for hybrid search",
            SettingType::Integer { min: 1, max: 1000 },
            json!(60),
        ),
        "chat.system_prompt" => (
            "System prompt of the recruiting assistant",
            SettingType::Text { max_chars: 8000 },
            json!("You are Looma, a recruiting assistant. Answer from the provided context."),
        ),
        // No default here: the monitor's built-in rules apply until one is set.
        "monitor.alert_rules" => {
            return Some(SettingSpec {
                key: key.to_owned(),
                description: "Alert rules the monitor judges (name, kind, threshold, \
                              forSeconds, severity, summary, optional component)"
                    .to_owned(),
                setting_type: SettingType::ObjectList {
                    required: &[
                        "name",
                        "kind",
                        "threshold",
                        "forSeconds",
                        "severity",
                        "summary",
                    ],
                    max_items: 100,
                },
                default: None,
            });
        }
        _ => return None,
    };
    Some(SettingSpec {
        key: key.to_owned(),
        description: description.to_owned(),
        setting_type,
        default: Some(default),
    })
}

/// Every key with a known type, for listing.
pub fn catalogue() -> Vec<SettingSpec> {
    let mut specs: Vec<SettingSpec> = [
        "matching.weights",
        "search.rrf_k",
        "chat.system_prompt",
        "monitor.alert_rules",
    ]
    .iter()
    .filter_map(|key| catalogue_entry(key))
    .collect();
    specs.extend(
        FEATURE_FLAGS
            .iter()
            .filter_map(|(flag, _)| spec(&feature_key(flag)).ok()),
    );
    specs
}

pub fn feature_key(flag: &str) -> String {
    format!("{FEATURE_PREFIX}{flag}")
}

/// The spec for `key`, or why the key cannot be set.
pub fn spec(key: &str) -> Result<SettingSpec, IdentityError> {
    validate_key_shape(key)?;
    if let Some(spec) = catalogue_entry(key) {
        return Ok(spec);
    }
    if let Some(flag) = key.strip_prefix(FEATURE_PREFIX) {
        let Some((_, description)) = FEATURE_FLAGS.iter().find(|(name, _)| *name == flag) else {
            return Err(IdentityError::UnknownConfigKey(format!(
                "`{key}`: unknown feature flag; known flags: {}",
                FEATURE_FLAGS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        return Ok(SettingSpec {
            key: key.to_owned(),
            description: (*description).to_owned(),
            setting_type: SettingType::Boolean,
            default: Some(Value::Bool(true)),
        });
    }
    if key.starts_with(CUSTOM_PREFIX) {
        return Ok(SettingSpec {
            key: key.to_owned(),
            description: "Free-form integration setting".to_owned(),
            setting_type: SettingType::AnyJson,
            default: None,
        });
    }
    Err(IdentityError::UnknownConfigKey(format!(
        "`{key}` is not a known setting; use a catalogue key, features.<flag> or custom.<name>"
    )))
}

fn validate_key_shape(key: &str) -> Result<(), IdentityError> {
    let segments_ok = key.split('.').all(|segment| {
        !segment.is_empty()
            && segment.starts_with(|c: char| c.is_ascii_lowercase())
            && segment
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    });
    if key.len() <= MAX_KEY_LEN && key.contains('.') && segments_ok {
        Ok(())
    } else {
        Err(IdentityError::invalid(
            "key",
            "keys look like `namespace.name`: lower-case letters, digits and `_`, dot-separated",
        ))
    }
}

/// Checks `value` against the key's type.
pub fn validate_value(spec: &SettingSpec, value: &Value) -> Result<(), IdentityError> {
    let bad = |reason: String| {
        Err(IdentityError::InvalidConfigValue {
            key: spec.key.clone(),
            reason,
        })
    };
    let size = serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_VALUE_BYTES {
        return bad(format!(
            "the value is {size} bytes; the limit is {MAX_VALUE_BYTES}"
        ));
    }
    if value.is_null() {
        return bad("a value is required (null is not a value)".into());
    }
    match spec.setting_type {
        SettingType::Weights(components) => {
            let Some(object) = value.as_object() else {
                return bad(format!(
                    "expected an object of weights such as {{\"{}\": 0.5}}",
                    components[0]
                ));
            };
            if object.is_empty() {
                return bad("at least one weight is required".into());
            }
            let mut total = 0.0;
            for (name, weight) in object {
                if !components.contains(&name.as_str()) {
                    return bad(format!(
                        "unknown component `{name}`; known: {}",
                        components.join(", ")
                    ));
                }
                match weight.as_f64() {
                    Some(w) if w.is_finite() && (0.0..=100.0).contains(&w) => total += w,
                    _ => return bad(format!("weight `{name}` must be a number from 0 to 100")),
                }
            }
            if total <= 0.0 {
                return bad("at least one weight must be positive".into());
            }
            Ok(())
        }
        SettingType::Boolean => match value {
            Value::Bool(_) => Ok(()),
            _ => bad("expected true or false".into()),
        },
        SettingType::Integer { min, max } => match value.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(()),
            _ => bad(format!("expected an integer from {min} to {max}")),
        },
        SettingType::Text { max_chars } => match value.as_str() {
            Some(text) if !text.trim().is_empty() && text.chars().count() <= max_chars => Ok(()),
            _ => bad(format!(
                "expected non-empty text of at most {max_chars} characters"
            )),
        },
        SettingType::ObjectList {
            required,
            max_items,
        } => {
            let Some(items) = value.as_array() else {
                return bad("expected a list of objects".into());
            };
            if items.len() > max_items {
                return bad(format!("at most {max_items} items, got {}", items.len()));
            }
            for (index, item) in items.iter().enumerate() {
                let Some(object) = item.as_object() else {
                    return bad(format!("item {index} is not an object"));
                };
                if let Some(missing) = required.iter().find(|field| !object.contains_key(**field)) {
                    return bad(format!("item {index} has no `{missing}`"));
                }
            }
            Ok(())
        }
        SettingType::AnyJson => Ok(()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One difference between two versions of a value; `path` is dotted (`weights.semantic`),
/// empty for the whole value.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueChange {
    pub path: String,
    pub kind: ChangeKind,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Field-level differences: objects are compared key by key, recursively; arrays and scalars
/// are compared whole. Result is ordered by path.
pub fn diff(before: &Value, after: &Value) -> Vec<ValueChange> {
    let mut changes = Vec::new();
    diff_into("", before, after, &mut changes);
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    changes
}

fn diff_into(path: &str, before: &Value, after: &Value, changes: &mut Vec<ValueChange>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (key, b_value) in b {
                let child = join(path, key);
                match a.get(key) {
                    Some(a_value) => diff_into(&child, b_value, a_value, changes),
                    None => changes.push(ValueChange {
                        path: child,
                        kind: ChangeKind::Removed,
                        before: Some(b_value.clone()),
                        after: None,
                    }),
                }
            }
            for (key, a_value) in a {
                if !b.contains_key(key) {
                    changes.push(ValueChange {
                        path: join(path, key),
                        kind: ChangeKind::Added,
                        before: None,
                        after: Some(a_value.clone()),
                    });
                }
            }
        }
        _ if before != after => changes.push(ValueChange {
            path: path.to_owned(),
            kind: ChangeKind::Changed,
            before: Some(before.clone()),
            after: Some(after.clone()),
        }),
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_known_or_custom() {
        assert!(spec("matching.weights").is_ok());
        assert_eq!(
            spec("features.job_matching").unwrap().setting_type,
            SettingType::Boolean
        );
        assert!(spec("custom.crm.sync_interval").is_ok());
        assert!(matches!(
            spec("features.time_travel"),
            Err(IdentityError::UnknownConfigKey(_))
        ));
        assert!(matches!(
            spec("matching.wieghts"),
            Err(IdentityError::UnknownConfigKey(_))
        ));
        assert!(matches!(
            spec("Matching.Weights"),
            Err(IdentityError::InvalidInput { .. })
        ));
        assert!(matches!(
            spec("noseparator"),
            Err(IdentityError::InvalidInput { .. })
        ));
    }

    #[test]
    fn alert_rules_must_be_a_list_of_whole_rules() {
        let rules = spec("monitor.alert_rules").unwrap();
        let rule = json!({"name": "A", "kind": "componentDown", "threshold": 0,
            "forSeconds": 5, "severity": "critical", "summary": "down"});
        assert!(validate_value(&rules, &json!([rule.clone()])).is_ok());
        assert!(validate_value(&rules, &json!([])).is_ok());
        assert!(validate_value(&rules, &rule).is_err(), "not a list");
        let mut partial = rule.clone();
        partial.as_object_mut().unwrap().remove("severity");
        let error = validate_value(&rules, &json!([rule, partial])).unwrap_err();
        assert!(
            error.to_string().contains("item 1 has no `severity`"),
            "{error}"
        );
        assert!(validate_value(&rules, &json!(vec![json!({}); 101])).is_err());
    }

    #[test]
    fn weights_are_checked() {
        let weights = spec("matching.weights").unwrap();
        assert!(validate_value(&weights, &json!({"semantic": 1.0, "salary": 0})).is_ok());
        for bad in [
            json!("heavy"),
            json!({}),
            json!({"semantic": -1}),
            json!({"semantic": "high"}),
            json!({"vibes": 1}),
            json!({"semantic": 0}),
            Value::Null,
        ] {
            assert!(
                matches!(
                    validate_value(&weights, &bad),
                    Err(IdentityError::InvalidConfigValue { .. })
                ),
                "{bad} must be rejected"
            );
        }
        let rrf = spec("search.rrf_k").unwrap();
        assert!(validate_value(&rrf, &json!(60)).is_ok());
        assert!(validate_value(&rrf, &json!(0)).is_err());
        assert!(validate_value(&rrf, &json!(6.5)).is_err());
    }

    #[test]
    fn diff_reports_field_level_changes() {
        let before = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        let after = json!({"a": 1, "b": {"c": 5}, "e": [1, 2], "f": true});
        let changes = diff(&before, &after);
        let summary: Vec<(&str, ChangeKind)> =
            changes.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(
            summary,
            [
                ("b.c", ChangeKind::Changed),
                ("b.d", ChangeKind::Removed),
                ("e", ChangeKind::Changed),
                ("f", ChangeKind::Added)
            ]
        );
        assert!(diff(&json!(3), &json!(3)).is_empty());
        assert_eq!(diff(&json!(3), &json!(4))[0].path, "");
    }
}
