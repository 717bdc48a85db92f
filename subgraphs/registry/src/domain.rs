//! Pure rules of the registry: names and URLs it accepts, and whether a schema change touches
//! what clients' operations used (usage-aware checks).

use looma_router::schema_diff::{Change, Severity};
use serde::Serialize;
use std::collections::BTreeSet;

/// Longest SDL a publish or registration may carry.
pub const MAX_SDL_BYTES: usize = 1024 * 1024;

/// A subgraph name: a GraphQL-like identifier (it becomes a `join__Graph` value).
pub fn check_subgraph_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !starts_well
        || name.len() > 64
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(
            "a letter or `_`, then letters, digits, `_` or `-`, at most 64 characters".into(),
        );
    }
    Ok(())
}

/// A routing URL: absolute `http(s)://`, at most 500 bytes.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.len() > 500 {
        return Err("at most 500 bytes".into());
    }
    match url.split_once("://") {
        Some(("http" | "https", rest)) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        _ => Err("an absolute http:// or https:// URL".into()),
    }
}

pub fn check_sdl(sdl: &str) -> Result<(), String> {
    if sdl.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if sdl.len() > MAX_SDL_BYTES {
        return Err(format!("at most {MAX_SDL_BYTES} bytes"));
    }
    Ok(())
}

/// Whether an operation that used `coordinates` depends on what the change at `path`
/// (`Type`, `Type.field`, `Type.field(argument)`, `Enum.VALUE`) touches. Conservative where
/// the coordinates cannot tell: a change to an argument counts as used when the field is
/// (adding a required argument breaks every selection of it), a change to an input field or an
/// enum value counts as used when the type is.
pub fn touches(path: &str, coordinates: &BTreeSet<String>) -> bool {
    if coordinates.contains(path) {
        return true;
    }
    match path.split_once('.') {
        // A whole type: any of its fields, or the type itself (arguments, variables, leaves).
        None => {
            let prefix = format!("{path}.");
            coordinates.iter().any(|c| c.starts_with(&prefix))
        }
        Some((ty, member)) => {
            let field = member.split_once('(').map_or(member, |(field, _)| field);
            let field_path = format!("{ty}.{field}");
            coordinates.contains(ty)
                || coordinates.contains(&field_path)
                || coordinates
                    .range(format!("{field_path}(")..)
                    .next()
                    .is_some_and(|c| c.starts_with(&format!("{field_path}(")))
        }
    }
}

/// A client that used a changed schema element.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientRef {
    pub name: String,
    pub version: String,
}

/// An operation seen within the usage window.
pub struct UsedOperation {
    pub name: Option<String>,
    pub signature: String,
    pub coordinates: BTreeSet<String>,
    pub clients: Vec<ClientRef>,
    pub count: i64,
}

/// A change as a usage-aware check judges it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckedChange {
    #[serde(flatten)]
    pub change: Change,
    /// What the change alone would be; `severity` is `SAFE` instead when no operation used
    /// what a breaking change touches.
    pub original_severity: Severity,
    /// Operations (by name, or signature when unnamed) that used it within the window.
    pub affected_operations: Vec<String>,
    pub affected_clients: Vec<ClientRef>,
    /// Requests of those operations within the window.
    pub usage_count: i64,
}

/// Judges `changes` against the operations used within the window: a breaking change
/// nothing used becomes safe, with the reason in its message; the others name the operations
/// and clients they would break.
pub fn judge(changes: Vec<Change>, used: &[UsedOperation], window_days: u32) -> Vec<CheckedChange> {
    changes
        .into_iter()
        .map(|change| {
            let hits: Vec<&UsedOperation> = used
                .iter()
                .filter(|op| touches(&change.path, &op.coordinates))
                .collect();
            let mut clients: Vec<ClientRef> = hits
                .iter()
                .flat_map(|op| op.clients.iter().cloned())
                .collect();
            clients.sort();
            clients.dedup();
            let mut operations: Vec<String> = hits
                .iter()
                .map(|op| op.name.clone().unwrap_or_else(|| op.signature.clone()))
                .collect();
            operations.sort();
            operations.dedup();
            let usage_count = hits
                .iter()
                .fold(0i64, |sum, op| sum.saturating_add(op.count));
            let original_severity = change.severity;
            let mut change = change;
            if change.severity == Severity::Breaking && hits.is_empty() {
                change.severity = Severity::Safe;
                change.message = format!(
                    "{} (no operation used it in the last {window_days} days)",
                    change.message
                );
            }
            CheckedChange {
                change,
                original_severity,
                affected_operations: operations,
                affected_clients: clients,
                usage_count,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn change(path: &str) -> Change {
        Change {
            severity: Severity::Breaking,
            path: path.into(),
            message: format!("`{path}` was removed"),
        }
    }

    #[test]
    fn a_field_is_touched_by_its_own_use_or_an_argument_of_it() {
        assert!(touches("Query.jobs", &set(&["Query.jobs"])));
        assert!(touches("Query.jobs", &set(&["Query.jobs(first)"])));
        assert!(!touches(
            "Query.jobs",
            &set(&["Query.jobsCount", "Query.job"])
        ));
        assert!(!touches("Query.job", &set(&["Query.jobs"])));
    }

    #[test]
    fn a_type_is_touched_by_any_of_its_fields_or_itself() {
        assert!(touches("Job", &set(&["Job.title"])));
        assert!(touches("JobFilter", &set(&["JobFilter"])));
        assert!(!touches("Job", &set(&["JobFilter.city", "Jobs.total"])));
    }

    #[test]
    fn arguments_count_as_used_when_their_field_is() {
        // Adding a required argument breaks every selection of the field.
        assert!(touches("Query.jobs(city)", &set(&["Query.jobs"])));
        assert!(touches("Query.jobs(city)", &set(&["Query.jobs(city)"])));
        assert!(!touches("Query.jobs(city)", &set(&["Query.job"])));
    }

    #[test]
    fn enum_values_and_input_fields_count_as_used_with_their_type() {
        assert!(touches("JobStatus.CLOSED", &set(&["JobStatus"])));
        assert!(touches("JobFilter.city", &set(&["JobFilter"])));
        assert!(!touches("JobStatus.CLOSED", &set(&["Job.status"])));
    }

    #[test]
    fn an_unused_breaking_change_becomes_safe_and_a_used_one_names_its_clients() {
        let used = vec![UsedOperation {
            name: Some("ListJobs".into()),
            signature: "abc".into(),
            coordinates: set(&["Query.jobs", "Job.title"]),
            clients: vec![ClientRef {
                name: "crm-web".into(),
                version: "2.1.0".into(),
            }],
            count: 7,
        }];
        let judged = judge(vec![change("Job.title"), change("Job.salary")], &used, 30);
        assert_eq!(judged[0].change.severity, Severity::Breaking);
        assert_eq!(judged[0].affected_operations, vec!["ListJobs".to_owned()]);
        assert_eq!(judged[0].affected_clients[0].name, "crm-web");
        assert_eq!(judged[0].usage_count, 7);
        assert_eq!(judged[1].change.severity, Severity::Safe);
        assert_eq!(judged[1].original_severity, Severity::Breaking);
        assert!(judged[1].change.message.contains("30 days"));
        assert!(judged[1].affected_clients.is_empty());
    }

    #[test]
    fn names_and_urls_are_checked() {
        assert!(check_subgraph_name("search").is_ok());
        assert!(check_subgraph_name("search-v2").is_ok());
        assert!(check_subgraph_name("9lives").is_err());
        assert!(check_subgraph_name("a b").is_err());
        assert!(check_subgraph_name("").is_err());
        assert!(check_url("http://127.0.0.1:8210/graphql").is_ok());
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("http:///x").is_err());
        assert!(check_sdl("  ").is_err());
    }
}
