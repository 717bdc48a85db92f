//! Running a query plan: fetches whose dependencies are done go out together, their results
//! are merged into one response tree, and the tree is finally shaped to the client's
//! operation (see [`shape`]).
//!
//! Entity fetches collect every object at their path in one `_entities` call, de-duplicating
//! identical representations. A subgraph that fails leaves its fields null with a
//! `SUBGRAPH_UNAVAILABLE` error naming it; the rest of the response is still returned.

pub mod shape;

use crate::plan::operation::Sel;
use crate::plan::{Fetch, FetchKind, PathSeg, QueryPlan};
use crate::supergraph::Supergraph;
use crate::transport::SubgraphTransport;
use futures::future::join_all;
use looma_core::ErrorCode;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Where an object sits in the response tree.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// Response keys are shared names: recording a location clones no strings.
    Key(apollo_compiler::Name),
    Index(usize),
}

fn step_to_json(step: &Step) -> Value {
    match step {
        Step::Key(k) => Value::String(k.to_string()),
        Step::Index(i) => Value::from(*i),
    }
}

/// One fetch ready to send.
struct Prepared<'p> {
    fetch: &'p Fetch,
    body: Value,
    /// Entity fetches: for each target object, its location and representation index.
    targets: Vec<(Vec<Step>, usize)>,
}

pub struct Execution<'a> {
    pub supergraph: &'a Supergraph,
    pub transport: &'a dyn SubgraphTransport,
    pub variables: &'a Map<String, Value>,
    pub headers: &'a http::HeaderMap,
}

/// The merged response tree and the errors gathered while fetching.
pub struct FetchedData {
    pub data: Value,
    pub errors: Vec<Value>,
    /// Requests sent per subgraph (observability and tests).
    pub requests: HashMap<String, usize>,
}

/// The request body of a fetch that needs no representations (a root fetch): its operation
/// and the client variables it uses. A subscription's source is opened with it.
pub fn root_request(fetch: &Fetch, variables: &Map<String, Value>) -> Value {
    let variables: Map<String, Value> = fetch
        .variables
        .iter()
        .filter_map(|name| {
            variables
                .get(name.as_str())
                .map(|v| (name.to_string(), v.clone()))
        })
        .collect();
    json!({"query": fetch.query, "variables": variables})
}

impl Execution<'_> {
    pub async fn run(&self, plan: &QueryPlan, initial: Map<String, Value>) -> FetchedData {
        let done = vec![false; plan.fetches.len()];
        self.run_from(plan, Value::Object(initial), Vec::new(), done)
            .await
    }

    /// The rest of a subscription's plan for one event: `event` (a subgraph response,
    /// `{data, errors}`) is merged as the result of the plan's source fetch, as if that fetch
    /// had just answered, and the fetches that depend on it run as in a query.
    pub async fn run_event(&self, plan: &QueryPlan, event: Value) -> FetchedData {
        let mut data = Value::Object(Map::new());
        let mut errors = Vec::new();
        let mut done = vec![false; plan.fetches.len()];
        if let Some(source) = plan.subscription_source() {
            let prepared = Prepared {
                fetch: source,
                body: Value::Null,
                targets: Vec::new(),
            };
            merge_result(
                self.supergraph,
                &prepared,
                Ok(event),
                &mut data,
                &mut errors,
            );
            done[source.id] = true;
        }
        self.run_from(plan, data, errors, done).await
    }

    async fn run_from(
        &self,
        plan: &QueryPlan,
        mut data: Value,
        mut errors: Vec<Value>,
        mut done: Vec<bool>,
    ) -> FetchedData {
        let mut requests: HashMap<String, usize> = HashMap::new();
        loop {
            let ready: Vec<&Fetch> = plan
                .fetches
                .iter()
                .filter(|f| {
                    !done[f.id]
                        && f.depends_on
                            .iter()
                            .all(|d| done.get(*d).copied().unwrap_or(true))
                })
                .collect();
            if ready.is_empty() {
                break;
            }
            let prepared: Vec<Prepared> = ready
                .iter()
                .filter_map(|f| self.prepare(f, &data))
                .collect();
            for fetch in &ready {
                done[fetch.id] = true;
            }
            let sent = join_all(prepared.into_iter().map(|mut p| async move {
                let body = std::mem::take(&mut p.body);
                let subgraph = &self.supergraph.subgraphs[p.fetch.graph];
                let result = self.transport.send(subgraph, body, self.headers).await;
                (p, result)
            }))
            .await;
            for (prepared, result) in sent {
                *requests.entry(prepared.fetch.subgraph.clone()).or_default() += 1;
                merge_result(self.supergraph, &prepared, result, &mut data, &mut errors);
            }
        }
        FetchedData {
            data,
            errors,
            requests,
        }
    }

    fn prepare<'p>(&self, fetch: &'p Fetch, data: &Value) -> Option<Prepared<'p>> {
        let mut variables: Map<String, Value> = fetch
            .variables
            .iter()
            .filter_map(|name| {
                self.variables
                    .get(name.as_str())
                    .map(|v| (name.to_string(), v.clone()))
            })
            .collect();
        let mut targets = Vec::new();
        if let FetchKind::Entity {
            path,
            representations,
        } = &fetch.kind
        {
            let mut objects = Vec::new();
            collect_objects(data, path, &mut Vec::new(), &mut objects);
            let mut reps: Vec<Value> = Vec::new();
            let mut index_of: HashMap<String, usize> = HashMap::new();
            for (location, object) in objects {
                let Some(type_name) = object.get("__typename").and_then(Value::as_str) else {
                    continue;
                };
                // The object may have learnt its concrete type after the plan was made for
                // its interface (an interface object resolved by an earlier fetch).
                let spec = representations.get(type_name).or_else(|| {
                    representations
                        .iter()
                        .find(|(t, _)| {
                            self.supergraph.is_abstract(t)
                                && self.supergraph.satisfies(type_name, t)
                        })
                        .map(|(_, spec)| spec)
                });
                let Some(spec) = spec else {
                    continue;
                };
                let Some(mut rep) =
                    select_representation(self.supergraph, object, &spec.selections)
                else {
                    continue;
                };
                rep["__typename"] = Value::String(spec.typename.to_string());
                let key = rep.to_string();
                let index = *index_of.entry(key).or_insert_with(|| {
                    reps.push(rep);
                    reps.len() - 1
                });
                targets.push((location, index));
            }
            if reps.is_empty() {
                return None;
            }
            variables.insert("representations".into(), Value::Array(reps));
        }
        Some(Prepared {
            fetch,
            body: json!({"query": fetch.query, "variables": variables}),
            targets,
        })
    }
}

fn collect_objects<'d>(
    value: &'d Value,
    path: &[PathSeg],
    location: &mut Vec<Step>,
    out: &mut Vec<(Vec<Step>, &'d Map<String, Value>)>,
) {
    match path.split_first() {
        None => match value {
            Value::Object(object) => out.push((location.clone(), object)),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    location.push(Step::Index(i));
                    collect_objects(item, path, location, out);
                    location.pop();
                }
            }
            _ => {}
        },
        Some((PathSeg::Key(key), rest)) => {
            if let Some(child) = value.as_object().and_then(|o| o.get(key.as_str())) {
                location.push(Step::Key(key.clone()));
                collect_objects(child, rest, location, out);
                location.pop();
            }
        }
        Some((PathSeg::List, rest)) => {
            if let Value::Array(items) = value {
                for (i, item) in items.iter().enumerate() {
                    location.push(Step::Index(i));
                    collect_objects(item, rest, location, out);
                    location.pop();
                }
            }
        }
    }
}

/// Builds a representation (`__typename`, key and required fields) from a fetched object.
/// `None` when a needed field is missing (an earlier fetch failed for this object).
fn select_representation(
    supergraph: &Supergraph,
    object: &Map<String, Value>,
    selections: &[Sel],
) -> Option<Value> {
    let mut rep = Map::new();
    let type_name = object
        .get("__typename")
        .and_then(Value::as_str)
        .unwrap_or_default();
    for selection in selections {
        match selection {
            Sel::Field(field) => {
                // Requirements fetched under an internal alias are read from it but sent
                // under the field's name.
                let value = object.get(field.response_key().as_str())?;
                let selected = if field.selections.is_empty() {
                    value.clone()
                } else {
                    select_nested(supergraph, value, &field.selections)?
                };
                rep.insert(field.name.to_string(), selected);
            }
            Sel::Fragment(fragment) => {
                let applies = fragment
                    .type_condition
                    .as_ref()
                    .is_none_or(|c| supergraph.satisfies(type_name, c));
                if applies
                    && let Some(Value::Object(inner)) =
                        select_representation(supergraph, object, &fragment.selections)
                {
                    for (k, v) in inner {
                        rep.insert(k, v);
                    }
                }
            }
        }
    }
    Some(Value::Object(rep))
}

fn select_nested(supergraph: &Supergraph, value: &Value, selections: &[Sel]) -> Option<Value> {
    match value {
        Value::Null => Some(Value::Null),
        Value::Array(items) => items
            .iter()
            .map(|item| select_nested(supergraph, item, selections))
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        Value::Object(object) => {
            let mut selected = select_representation(supergraph, object, selections)?;
            if let (Some(typename), Value::Object(map)) = (object.get("__typename"), &mut selected)
                && !map.contains_key("__typename")
                && selections.iter().any(|s| matches!(s, Sel::Fragment(_)))
            {
                map.insert("__typename".into(), typename.clone());
            }
            Some(selected)
        }
        other => Some(other.clone()),
    }
}

pub(crate) fn unavailable_error(subgraph: &str, reason: &str, path: Option<Vec<Value>>) -> Value {
    let mut error = json!({
        "message": format!("subgraph `{subgraph}` is unavailable: {reason}"),
        "extensions": {"code": ErrorCode::SubgraphUnavailable.as_str(), "serviceName": subgraph},
    });
    if let Some(path) = path {
        error["path"] = Value::Array(path);
    }
    error
}

fn merge_result(
    supergraph: &Supergraph,
    prepared: &Prepared,
    result: Result<Value, String>,
    data: &mut Value,
    errors: &mut Vec<Value>,
) {
    let subgraph = prepared.fetch.subgraph.as_str();
    let first_location = prepared
        .targets
        .first()
        .map(|(location, _)| location.iter().map(step_to_json).collect::<Vec<_>>());
    let mut response = match result {
        Ok(response) => response,
        Err(reason) => {
            errors.push(unavailable_error(subgraph, &reason, first_location));
            return;
        }
    };
    let subgraph_errors = response.get_mut("errors").map(Value::take);
    let response_data = response
        .get_mut("data")
        .map(Value::take)
        .unwrap_or(Value::Null);
    match &prepared.fetch.kind {
        FetchKind::Root => deep_merge(data, response_data),
        FetchKind::Entity { .. } => {
            let entities = match response_data {
                Value::Object(mut map) => map.remove("_entities").unwrap_or(Value::Null),
                _ => Value::Null,
            };
            if let Value::Array(entities) = entities {
                // Each entity is moved into its last target and cloned only for earlier ones
                // (objects that shared a de-duplicated representation).
                let mut remaining = vec![0usize; entities.len()];
                for (_, index) in &prepared.targets {
                    if let Some(count) = remaining.get_mut(*index) {
                        *count += 1;
                    }
                }
                let mut entities: Vec<Option<Value>> = entities.into_iter().map(Some).collect();
                for (location, index) in &prepared.targets {
                    let Some(slot) = entities.get_mut(*index) else {
                        continue;
                    };
                    remaining[*index] -= 1;
                    let entity = if remaining[*index] == 0 {
                        slot.take()
                    } else {
                        slot.clone()
                    };
                    if let (Some(Value::Object(mut entity)), Some(target)) =
                        (entity, pointer_mut(data, location))
                    {
                        // An interface object answers with the interface's name; keep the
                        // concrete type already known.
                        if entity
                            .get("__typename")
                            .and_then(Value::as_str)
                            .is_some_and(|t| !supergraph.is_object(t))
                        {
                            entity.remove("__typename");
                        }
                        deep_merge(target, Value::Object(entity));
                    }
                }
            }
        }
    }
    for rename in &prepared.fetch.renames {
        undo_alias(data, &rename.path, rename);
    }
    if let Some(Value::Array(subgraph_errors)) = subgraph_errors {
        for mut error in subgraph_errors {
            repath_error(&mut error, prepared);
            if let Some(extensions) = error.get_mut("extensions").and_then(Value::as_object_mut) {
                extensions
                    .entry("serviceName")
                    .or_insert_with(|| Value::String(subgraph.to_owned()));
            } else if let Some(object) = error.as_object_mut() {
                object.insert("extensions".into(), json!({"serviceName": subgraph}));
            }
            errors.push(error);
        }
    }
}

/// Moves an internally aliased value back under its response key on the objects at `path`.
fn undo_alias(value: &mut Value, path: &[PathSeg], rename: &crate::plan::Rename) {
    match path.split_first() {
        None => match value {
            Value::Object(object) => {
                let matches = object.get("__typename").and_then(Value::as_str)
                    == Some(rename.object.as_str());
                if matches && let Some(moved) = object.remove(rename.alias.as_str()) {
                    match object.get_mut(rename.key.as_str()) {
                        Some(existing) => deep_merge(existing, moved),
                        None => {
                            object.insert(rename.key.to_string(), moved);
                        }
                    }
                }
            }
            Value::Array(items) => items
                .iter_mut()
                .for_each(|item| undo_alias(item, path, rename)),
            _ => {}
        },
        Some((PathSeg::Key(key), rest)) => {
            if let Some(child) = value.as_object_mut().and_then(|o| o.get_mut(key.as_str())) {
                undo_alias(child, rest, rename);
            }
        }
        Some((PathSeg::List, rest)) => {
            if let Value::Array(items) = value {
                items
                    .iter_mut()
                    .for_each(|item| undo_alias(item, rest, rename));
            }
        }
    }
}

/// Entity errors come back with `["_entities", i, ...]`; rewrite to the object's real path.
fn repath_error(error: &mut Value, prepared: &Prepared) {
    let FetchKind::Entity { .. } = prepared.fetch.kind else {
        return;
    };
    let Some(path) = error.get("path").and_then(Value::as_array).cloned() else {
        return;
    };
    if path.first().and_then(Value::as_str) != Some("_entities") {
        return;
    }
    let Some(index) = path.get(1).and_then(Value::as_u64) else {
        return;
    };
    let location = prepared
        .targets
        .iter()
        .find(|(_, rep)| *rep as u64 == index)
        .map(|(location, _)| location.iter().map(step_to_json).collect::<Vec<_>>());
    if let Some(mut new_path) = location {
        new_path.extend(path.into_iter().skip(2));
        error["path"] = Value::Array(new_path);
    }
}

fn pointer_mut<'d>(data: &'d mut Value, location: &[Step]) -> Option<&'d mut Value> {
    let mut current = data;
    for step in location {
        current = match step {
            Step::Key(key) => current.as_object_mut()?.get_mut(key.as_str())?,
            Step::Index(i) => current.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some(current)
}

/// Merges `source` into `target`: objects key by key, arrays element by element; a null
/// never overwrites a value another subgraph provided.
pub fn deep_merge(target: &mut Value, source: Value) {
    match (target, source) {
        (Value::Object(target), Value::Object(source)) => {
            for (key, value) in source {
                match target.get_mut(&key) {
                    Some(existing) => deep_merge(existing, value),
                    None => {
                        target.insert(key, value);
                    }
                }
            }
        }
        (Value::Array(target), Value::Array(source)) if target.len() == source.len() => {
            for (t, s) in target.iter_mut().zip(source) {
                deep_merge(t, s);
            }
        }
        (_, Value::Null) => {}
        (target, source) => *target = source,
    }
}
