//! Operation usage for the schema registry's usage-aware checks: the schema coordinates an
//! operation uses (computed once, when it is planned) and how often each client ran it,
//! counted here and reported to the registry in batches (`crate::registry`).
//!
//! Coordinates: `Type.field` for every field selected (on the type it was selected on),
//! `Type.field(argument)` for every argument passed, `Input.field` for input object fields
//! written in the operation, and the bare type name of every input object, enum and custom
//! scalar the operation reads or writes (a variable's input object may use any of its fields).

use apollo_compiler::ast::Value;
use apollo_compiler::executable::{ExecutableDocument, Operation, Selection, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{Node, Schema};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// What one operation uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationUsage {
    /// SHA-256 (hex) of the operation text and name: the plan cache's key.
    pub signature: String,
    pub name: Option<String>,
    pub coordinates: Vec<String>,
}

/// Header names a client identifies itself with (Apollo's, then GraphQL Hive's).
pub const CLIENT_NAME_HEADERS: &[&str] = &["apollographql-client-name", "graphql-client-name"];
pub const CLIENT_VERSION_HEADERS: &[&str] =
    &["apollographql-client-version", "graphql-client-version"];

/// Longest client name or version kept (longer ones are cut).
const MAX_CLIENT_BYTES: usize = 100;

/// Distinct (operation, client, version) entries kept between two reports; more are dropped
/// (and counted) so a flood of distinct operations cannot grow the router's memory.
const MAX_ENTRIES: usize = 10_000;

pub fn operation_usage(
    schema: &Valid<Schema>,
    document: &Valid<ExecutableDocument>,
    operation: &Node<Operation>,
    query_hash: &[u8; 32],
) -> OperationUsage {
    let mut walk = Walk {
        schema,
        document,
        coordinates: BTreeSet::new(),
        fragments: HashSet::new(),
    };
    for variable in &operation.variables {
        walk.variable_type(variable.ty.inner_named_type().as_str());
    }
    walk.selections(&operation.selection_set);
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(query_hash);
    if let Some(name) = &operation.name {
        hasher.update(name.as_bytes());
    }
    OperationUsage {
        signature: hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        // Names are the client's: bounded like client names (the registry keeps 200 bytes).
        name: operation
            .name
            .as_ref()
            .map(|n| truncate(n.as_str(), MAX_NAME_BYTES).to_owned()),
        coordinates: walk.coordinates.into_iter().collect(),
    }
}

struct Walk<'a> {
    schema: &'a Schema,
    document: &'a ExecutableDocument,
    coordinates: BTreeSet<String>,
    fragments: HashSet<String>,
}

impl Walk<'_> {
    fn selections(&mut self, set: &SelectionSet) {
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => {
                    if field.name.starts_with("__") {
                        continue;
                    }
                    let path = format!("{}.{}", set.ty, field.name);
                    for argument in &field.arguments {
                        self.coordinates
                            .insert(format!("{path}({})", argument.name));
                        if let Some(definition) = field.definition.argument_by_name(&argument.name)
                        {
                            self.value(definition.ty.inner_named_type().as_str(), &argument.value);
                        }
                    }
                    self.coordinates.insert(path);
                    let returned = field.definition.ty.inner_named_type();
                    // Enums (a value may be removed) and abstract types (a member may be).
                    if matches!(
                        self.schema.types.get(returned),
                        Some(
                            ExtendedType::Enum(_)
                                | ExtendedType::Union(_)
                                | ExtendedType::Interface(_)
                        )
                    ) {
                        self.coordinates.insert(returned.to_string());
                    }
                    self.selections(&field.selection_set);
                }
                Selection::FragmentSpread(spread) => {
                    if self.fragments.insert(spread.fragment_name.to_string())
                        && let Some(fragment) = self.document.fragments.get(&spread.fragment_name)
                    {
                        self.coordinates
                            .insert(fragment.type_condition().to_string());
                        self.selections(&fragment.selection_set);
                    }
                }
                Selection::InlineFragment(inline) => {
                    if let Some(condition) = &inline.type_condition {
                        self.coordinates.insert(condition.to_string());
                    }
                    self.selections(&inline.selection_set)
                }
            }
        }
    }

    /// A variable of type `ty`: its value may use any input type reachable from it, so each
    /// is recorded (once: input types may refer to themselves).
    fn variable_type(&mut self, ty: &str) {
        if self.coordinates.contains(ty) {
            return;
        }
        self.input_type(ty);
        if let Some(ExtendedType::InputObject(input)) = self.schema.types.get(ty) {
            for field in input.fields.values() {
                self.variable_type(field.ty.inner_named_type().as_str());
            }
        }
    }

    /// An input of type `ty`: the type itself when it is one a change could break.
    fn input_type(&mut self, ty: &str) {
        match self.schema.types.get(ty) {
            Some(ExtendedType::InputObject(_) | ExtendedType::Enum(_)) => {
                self.coordinates.insert(ty.to_owned());
            }
            Some(scalar @ ExtendedType::Scalar(_)) if !scalar.is_built_in() => {
                self.coordinates.insert(ty.to_owned());
            }
            _ => {}
        }
    }

    /// A literal of type `ty`, with the input object fields it writes.
    fn value(&mut self, ty: &str, value: &Value) {
        self.input_type(ty);
        match value {
            Value::List(items) => {
                for item in items {
                    self.value(ty, item);
                }
            }
            Value::Object(fields) => {
                let Some(ExtendedType::InputObject(input)) = self.schema.types.get(ty) else {
                    return;
                };
                for (name, value) in fields {
                    self.coordinates.insert(format!("{ty}.{name}"));
                    if let Some(field) = input.fields.get(name) {
                        self.value(field.ty.inner_named_type().as_str(), value);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Longest operation name reported.
const MAX_NAME_BYTES: usize = 200;

/// `text` cut to at most `max` bytes on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A client as its headers name it (`unknown` when they do not).
pub fn client_of(headers: &http::HeaderMap) -> (String, String) {
    let read = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
            .map(|value| truncate(value, MAX_CLIENT_BYTES).trim().to_owned())
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| "unknown".to_owned())
    };
    (read(CLIENT_NAME_HEADERS), read(CLIENT_VERSION_HEADERS))
}

/// One batch entry: an operation, a client, how often it ran.
#[derive(Clone)]
pub struct UsageCount {
    pub usage: Arc<OperationUsage>,
    pub client_name: String,
    pub client_version: String,
    pub count: u64,
}

/// Counts of operations per client since the last report.
#[derive(Default)]
pub struct UsageRecorder {
    counts: Mutex<HashMap<(String, String, String), UsageCount>>,
}

impl UsageRecorder {
    pub fn record(&self, usage: &Arc<OperationUsage>, headers: &http::HeaderMap) {
        let (client_name, client_version) = client_of(headers);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let key = (usage.signature.clone(), client_name, client_version);
        if let Some(entry) = counts.get_mut(&key) {
            entry.count += 1;
            return;
        }
        if counts.len() >= MAX_ENTRIES {
            metrics::counter!(
                "looma_router_usage_dropped_total",
                "component" => crate::http::COMPONENT
            )
            .increment(1);
            return;
        }
        let entry = UsageCount {
            usage: usage.clone(),
            client_name: key.1.clone(),
            client_version: key.2.clone(),
            count: 1,
        };
        counts.insert(key, entry);
    }

    /// Everything counted since the last call.
    pub fn drain(&self) -> Vec<UsageCount> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.drain().map(|(_, entry)| entry).collect()
    }

    /// Puts a batch back (the report failed), merged with what was counted meanwhile.
    pub fn restore(&self, batch: Vec<UsageCount>) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        for entry in batch {
            let key = (
                entry.usage.signature.clone(),
                entry.client_name.clone(),
                entry.client_version.clone(),
            );
            let full = counts.len() >= MAX_ENTRIES;
            match counts.get_mut(&key) {
                Some(existing) => existing.count += entry.count,
                None if !full => {
                    counts.insert(key, entry);
                }
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDL: &str = r#"
        type Query {
          jobs(filter: JobFilter, first: Int): [Job!]!
          job(id: ID!): Job
        }
        type Job { id: ID! title: String! status: JobStatus! salary: Int }
        enum JobStatus { OPEN CLOSED }
        input JobFilter { city: String status: JobStatus range: Range }
        input Range { min: Int max: Int }
    "#;

    fn usage(query: &str) -> OperationUsage {
        let schema = Schema::parse_and_validate(SDL, "s.graphql").unwrap();
        let document = ExecutableDocument::parse_and_validate(&schema, query, "q.graphql").unwrap();
        let operation = document.operations.get(None).unwrap();
        operation_usage(&schema, &document, operation, &[0; 32])
    }

    #[test]
    fn fields_arguments_and_input_fields_written_are_recorded() {
        let usage = usage(
            r#"query Open { jobs(filter: {city: "Shanghai", range: {min: 1}}) { title ...F } }
               fragment F on Job { status }"#,
        );
        assert_eq!(usage.name.as_deref(), Some("Open"));
        assert_eq!(
            usage.coordinates,
            vec![
                "Job",
                "Job.status",
                "Job.title",
                "JobFilter",
                "JobFilter.city",
                "JobFilter.range",
                "JobStatus",
                "Query.jobs",
                "Query.jobs(filter)",
                "Range",
                "Range.min",
            ]
        );
    }

    #[test]
    fn a_variable_records_its_input_type_and_introspection_nothing() {
        let usage = usage("query($f: JobFilter) { jobs(filter: $f) { id } __typename }");
        assert_eq!(
            usage.coordinates,
            vec![
                "Job.id",
                "JobFilter",
                "JobStatus",
                "Query.jobs",
                "Query.jobs(filter)",
                "Range"
            ]
        );
        assert_eq!(usage.signature.len(), 64);
    }

    #[test]
    fn counts_are_kept_per_client_and_drained_once() {
        let recorder = UsageRecorder::default();
        let op = Arc::new(usage("{ job(id: 1) { id } }"));
        let mut crm = http::HeaderMap::new();
        crm.insert("apollographql-client-name", "crm-web".parse().unwrap());
        crm.insert("apollographql-client-version", "2.1".parse().unwrap());
        recorder.record(&op, &crm);
        recorder.record(&op, &crm);
        recorder.record(&op, &http::HeaderMap::new());
        let mut batch = recorder.drain();
        batch.sort_by(|a, b| a.client_name.cmp(&b.client_name));
        assert_eq!(batch.len(), 2);
        assert_eq!(
            (batch[0].client_name.as_str(), batch[0].count),
            ("crm-web", 2)
        );
        assert_eq!(batch[0].client_version, "2.1");
        assert_eq!(
            (batch[1].client_name.as_str(), batch[1].count),
            ("unknown", 1)
        );
        assert!(recorder.drain().is_empty());
        recorder.restore(batch);
        recorder.record(&op, &crm);
        let again = recorder.drain();
        assert_eq!(again.iter().map(|e| e.count).sum::<u64>(), 4);
    }
}
