//! Running a query plan: each fetch goes out as soon as the fetches it depends on are merged,
//! their results are merged into one response tree as they arrive, and the tree is finally shaped to the client's
//! operation (see [`shape`]).
//!
//! Entity fetches collect every object at their path in one `_entities` call, de-duplicating
//! identical representations. A subgraph that fails leaves its fields null with a
//! `SUBGRAPH_UNAVAILABLE` error naming it; the rest of the response is still returned.

pub mod shape;
pub mod tree;

use crate::plan::operation::Sel;
use crate::plan::{Fetch, FetchKind, PathSeg, QueryPlan, RepresentationSpec};
use crate::supergraph::Supergraph;
use crate::transport::{SubgraphRequest, SubgraphTransport, traffic};
use apollo_compiler::Name;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use looma_core::ErrorCode;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use tree::{Arena, Merge, Node, Object, Storage};

/// Where the objects of an entity fetch sit in the response tree: the fetch's path gives the
/// keys, so only list indices are kept, all in one buffer (one index per list crossed: each
/// `@` of the path, then each list at its end).
#[derive(Default)]
struct Locations {
    indices: Vec<u32>,
    /// Per target object: where its indices start and end, and its representation.
    targets: Vec<(u32, u32, usize)>,
}

impl Locations {
    fn indices(&self, target: &(u32, u32, usize)) -> &[u32] {
        &self.indices[target.0 as usize..target.1 as usize]
    }

    /// The response path of a target object, as an error's `path`.
    fn path_json(&self, path: &[PathSeg], target: &(u32, u32, usize)) -> Vec<Value> {
        let mut indices = self.indices(target).iter();
        let mut out = Vec::new();
        for segment in path {
            match segment {
                PathSeg::Key(key) => out.push(Value::String(key.to_string())),
                PathSeg::List => out.push(Value::from(indices.next().copied().unwrap_or(0))),
            }
        }
        out.extend(indices.map(|i| Value::from(*i)));
        out
    }
}

/// One fetch ready to send.
struct Prepared<'p> {
    fetch: &'p Fetch,
    /// The request body, written straight from the plan and the response tree (taken when
    /// the request goes out).
    body: Vec<u8>,
    /// Entity fetches: each target object's location and representation index.
    targets: Locations,
    /// Entity fetches to a subgraph whose entities are cached: the representations' places
    /// in `body`, their types and keys.
    entities: Option<crate::transport::EntityBatch>,
}

pub struct Execution<'a> {
    pub supergraph: &'a Supergraph,
    pub transport: &'a dyn SubgraphTransport,
    pub variables: &'a Map<String, Value>,
    pub headers: &'a http::HeaderMap,
}

/// The merged response tree (borrowing from the request's [`Storage`]) and the errors
/// gathered while fetching.
pub struct FetchedData<'s> {
    pub data: Node<'s>,
    pub errors: Vec<Value>,
    /// Requests sent per subgraph (observability and tests).
    pub requests: HashMap<String, usize>,
    /// Bytes the subgraphs answered with: the client's response is about as long, so its
    /// buffer is sized from this.
    pub received_bytes: usize,
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
    /// Runs the plan; the subgraphs' answers are kept in `storage`, which the tree borrows.
    pub async fn run<'s>(&self, plan: &QueryPlan, storage: &'s Storage) -> FetchedData<'s> {
        let done = vec![false; plan.fetches.len()];
        self.run_from(
            plan,
            storage,
            Node::Object(Object::default()),
            Vec::new(),
            done,
        )
        .await
    }

    /// The rest of a subscription's plan for one event: `event` (a subgraph response,
    /// `{data, errors}`) is merged as the result of the plan's source fetch, as if that fetch
    /// had just answered, and the fetches that depend on it run as in a query.
    pub async fn run_event<'s>(
        &self,
        plan: &QueryPlan,
        event: &Value,
        storage: &'s Storage,
    ) -> FetchedData<'s> {
        let mut data = Node::Object(Object::default());
        let mut errors = Vec::new();
        let mut done = vec![false; plan.fetches.len()];
        if let Some(source) = plan.subscription_source() {
            let prepared = Prepared {
                fetch: source,
                body: Vec::new(),
                targets: Locations::default(),
                entities: None,
            };
            merge_result(
                self.supergraph,
                &prepared,
                Ok(Node::from_value(event, storage)),
                storage,
                &mut data,
                &mut errors,
            );
            done[source.id] = true;
        }
        self.run_from(plan, storage, data, errors, done).await
    }

    /// Runs the fetches not yet `done` as a dependency graph: each fetch goes out as soon as
    /// the fetches it depends on have been merged, not when a whole wave has. Results are
    /// merged one at a time as they arrive; errors are reported in plan order whatever the
    /// order of arrival.
    async fn run_from<'s>(
        &self,
        plan: &QueryPlan,
        storage: &'s Storage,
        mut data: Node<'s>,
        mut errors: Vec<Value>,
        mut done: Vec<bool>,
    ) -> FetchedData<'s> {
        let mut requests: HashMap<String, usize> = HashMap::new();
        let mut received_bytes = 0;
        let mut started = done.clone();
        let mut fetch_errors: Vec<Vec<Value>> = vec![Vec::new(); plan.fetches.len()];
        let mut in_flight = FuturesUnordered::new();
        loop {
            // A fetch with nothing to send (no objects at its path) is done at once, which may
            // make others ready: start fetches until nothing more can start.
            let mut progressed = true;
            while progressed {
                progressed = false;
                for fetch in &plan.fetches {
                    let ready = !started[fetch.id]
                        && fetch
                            .depends_on
                            .iter()
                            .all(|d| done.get(*d).copied().unwrap_or(true));
                    if !ready {
                        continue;
                    }
                    started[fetch.id] = true;
                    match self.prepare(fetch, &data) {
                        Some(prepared) => in_flight.push(self.send(prepared)),
                        None => {
                            done[fetch.id] = true;
                            progressed = true;
                        }
                    }
                }
            }
            let Some((prepared, answer)) = in_flight.next().await else {
                break;
            };
            let result = answer.and_then(|body| {
                received_bytes += body.len();
                match tree::parse(storage.keep(body), storage) {
                    Ok(response @ Node::Object(_)) => Ok(response),
                    _ => Err("the response is not a GraphQL JSON object".to_owned()),
                }
            });
            let id = prepared.fetch.id;
            *requests.entry(prepared.fetch.subgraph.clone()).or_default() += 1;
            merge_result(
                self.supergraph,
                &prepared,
                result,
                storage,
                &mut data,
                &mut fetch_errors[id],
            );
            done[id] = true;
        }
        errors.extend(fetch_errors.into_iter().flatten());
        FetchedData {
            data,
            errors,
            requests,
            received_bytes,
        }
    }

    /// Sends a prepared fetch; the answer's bytes.
    async fn send<'p>(&self, mut prepared: Prepared<'p>) -> (Prepared<'p>, Result<Bytes, String>) {
        let request = SubgraphRequest {
            body: std::mem::take(&mut prepared.body).into(),
            idempotent: traffic::is_idempotent_query(&prepared.fetch.query),
            entities: prepared.entities.take(),
        };
        let subgraph = &self.supergraph.subgraphs[prepared.fetch.graph];
        let answer = self.transport.send(subgraph, request, self.headers).await;
        (prepared, answer)
    }

    /// The fetch's request, `{"query": …, "variables": {…}}`, written into one buffer: the
    /// client variables it uses, and for an entity fetch the representations of the objects
    /// at its path (identical ones sent once). `None` when an entity fetch has no object to
    /// ask about.
    fn prepare<'p>(&self, fetch: &'p Fetch, data: &Node<'_>) -> Option<Prepared<'p>> {
        let mut body = Vec::with_capacity(fetch.query.len() + 256);
        body.extend_from_slice(b"{\"query\":");
        write_json(&mut body, &fetch.query);
        body.extend_from_slice(b",\"variables\":{");
        let mut first = true;
        for name in &fetch.variables {
            if let Some(value) = self.variables.get(name.as_str()) {
                if !std::mem::take(&mut first) {
                    body.push(b',');
                }
                write_json(&mut body, name.as_str());
                body.push(b':');
                write_json(&mut body, value);
            }
        }
        let mut targets = Locations::default();
        let mut entities = None;
        if let FetchKind::Entity {
            path,
            representations,
        } = &fetch.kind
        {
            if !first {
                body.push(b',');
            }
            body.extend_from_slice(b"\"representations\":[");
            let list_start = body.len();
            let cached = self
                .transport
                .caches_entities(&self.supergraph.subgraphs[fetch.graph].name);
            let mut spans = Vec::new();
            let mut objects = Vec::new();
            collect_objects(data, path, &mut Walk::new(path), &mut targets, &mut objects);
            // Each representation is written once; an identical one (same bytes) reuses its
            // index. Keyed by the bytes' hash, checked against the bytes themselves.
            let mut written: HashMap<u64, (usize, usize, usize), Prehashed> = HashMap::default();
            let mut flat_specs: Vec<(*const RepresentationSpec, Option<FlatRepresentation>)> =
                Vec::new();
            let mut count = 0usize;
            for (from, to, object) in objects {
                let Some(type_name) = object.typename() else {
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
                let flat = match flat_specs.iter().find(|(s, _)| std::ptr::eq(*s, spec)) {
                    Some((_, flat)) => flat,
                    None => {
                        flat_specs.push((spec, FlatRepresentation::of(spec)));
                        &flat_specs[flat_specs.len() - 1].1
                    }
                };
                let comma = body.len();
                if count > 0 {
                    body.push(b',');
                }
                let start = body.len();
                let complete = match flat {
                    Some(flat) => flat.write(object, &mut body),
                    None => {
                        let mut rep = Vec::with_capacity(spec.selections.len() + 1);
                        let selected = select_representation(
                            self.supergraph,
                            object,
                            &spec.selections,
                            &mut rep,
                        );
                        set_field(&mut rep, "__typename", Rep::Str(spec.typename.as_str()));
                        tree::write_members(&mut body, &rep, Rep::write);
                        selected
                    }
                };
                if complete.is_none() {
                    body.truncate(comma);
                    continue;
                }
                let end = body.len();
                let hash = hash_bytes(&body[start..end]);
                let index = match written.get(&hash) {
                    Some(&(s, e, index)) if body[s..e] == body[start..end] => {
                        body.truncate(comma);
                        index
                    }
                    Some(_) => {
                        count += 1;
                        count - 1
                    }
                    None => {
                        written.insert(hash, (start, end, count));
                        count += 1;
                        count - 1
                    }
                };
                if cached && index + 1 == count && spans.len() < count {
                    spans.push(start..end);
                }
                targets.targets.push((from, to, index));
            }
            if count == 0 {
                return None;
            }
            if cached {
                entities = Some(self.entity_batch(fetch, &body, list_start..body.len(), spans));
            }
            body.push(b']');
        }
        body.extend_from_slice(b"}}");
        Some(Prepared {
            fetch,
            body,
            targets,
            entities,
        })
    }

    /// The entity cache's view of a fetch's representations: each one's bytes, type and the
    /// fields of the first of its type's keys in the subgraph that it holds whole.
    fn entity_batch(
        &self,
        fetch: &Fetch,
        body: &[u8],
        list: std::ops::Range<usize>,
        spans: Vec<std::ops::Range<usize>>,
    ) -> crate::transport::EntityBatch {
        let representations = spans
            .into_iter()
            .map(|span| {
                let value: Value = serde_json::from_slice(&body[span.clone()]).unwrap_or_default();
                let typename = value
                    .get("__typename")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let key = self
                    .supergraph
                    .keys(fetch.graph, &typename)
                    .into_iter()
                    .find_map(|key| {
                        let fields = crate::supergraph::field_set_fields(&key.fields.selection_set);
                        fields
                            .iter()
                            .map(|(name, _)| {
                                value
                                    .get(name.as_str())
                                    .map(|v| (name.to_string(), v.clone()))
                            })
                            .collect::<Option<Map<String, Value>>>()
                    })
                    .filter(|key| !key.is_empty())
                    .map(Value::Object);
                crate::transport::EntityRepresentation {
                    span,
                    typename,
                    key,
                }
            })
            .collect();
        crate::transport::EntityBatch {
            list,
            representations,
        }
    }
}

/// A quick hash of a representation's bytes (multiply-rotate over eight bytes at a time): a
/// collision costs one comparison of the bytes, never a wrong answer.
fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut hash = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        hash = (hash.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    for &byte in chunks.remainder() {
        hash = (hash.rotate_left(5) ^ u64::from(byte)).wrapping_mul(K);
    }
    hash
}

/// A map keyed by a hash already computed ([`hash_bytes`]) uses it as it is.
type Prehashed = std::hash::BuildHasherDefault<PrehashedHasher>;

#[derive(Default)]
struct PrehashedHasher(u64);

impl std::hash::Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(bytes);
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

/// Writes a `serde` value (a variable, the query text, introspection output) as JSON.
pub(super) fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Serializing a string or a JSON value into memory cannot fail.
    let _ = serde_json::to_writer(out, value);
}

/// The objects at `path` under `value`, each with its list indices (see [`Locations`]), in
/// response order.
/// `out` gets each object with the range of its indices in `found.indices`.
fn collect_objects<'d, 's>(
    value: &'d Node<'s>,
    path: &[PathSeg],
    walk: &mut Walk,
    found: &mut Locations,
    out: &mut Vec<(u32, u32, &'d Object<'s>)>,
) {
    match (value, path.split_first()) {
        (Node::Object(object), None) => {
            let start = found.indices.len() as u32;
            found.indices.extend_from_slice(&walk.stack);
            out.push((start, found.indices.len() as u32, object));
        }
        (Node::Object(object), Some((PathSeg::Key(key), rest))) => {
            let hint = walk.hint(path.len());
            if let Some(child) = object.get_hinted(key.as_str(), &mut walk.hints[hint]) {
                collect_objects(child, rest, walk, found, out);
            }
        }
        // A list at the end of the path, or where the path crosses one: every item.
        (Node::List(items), None | Some((PathSeg::List, _))) => {
            let rest = path.get(1..).unwrap_or(path);
            for (i, item) in items.iter().enumerate() {
                if let Some(next) = items.get(i + 1) {
                    next.prefetch();
                }
                walk.stack.push(i as u32);
                collect_objects(item, rest, walk, found, out);
                walk.stack.pop();
            }
        }
        _ => {}
    }
}

/// A representation made only of leaf fields with distinct names (the usual key and
/// requirements), written straight from the object: worked out once per fetch and type.
struct FlatRepresentation {
    /// Per field: `"name":`, the response key to read it from, and whether it is
    /// `__typename` (written as the type the subgraph expects).
    fields: Vec<(Vec<u8>, Name, bool)>,
    typename: Name,
}

impl FlatRepresentation {
    fn of(spec: &RepresentationSpec) -> Option<Self> {
        let mut fields: Vec<(Vec<u8>, Name, bool)> = Vec::with_capacity(spec.selections.len());
        let mut names: Vec<&Name> = Vec::with_capacity(spec.selections.len());
        for selection in &spec.selections {
            let Sel::Field(field) = selection else {
                return None;
            };
            if !field.selections.is_empty() || names.contains(&&field.name) {
                return None;
            }
            names.push(&field.name);
            let mut prefix = Vec::with_capacity(field.name.len() + 3);
            tree::write_str(&mut prefix, field.name.as_str());
            prefix.push(b':');
            fields.push((
                prefix,
                field.response_key().clone(),
                field.name == "__typename",
            ));
        }
        Some(FlatRepresentation {
            fields,
            typename: spec.typename.clone(),
        })
    }

    /// Writes the representation of `object`; `None` (with part of it written) when a field
    /// is missing.
    fn write(&self, object: &Object<'_>, out: &mut Vec<u8>) -> Option<()> {
        out.push(b'{');
        let mut has_typename = false;
        for (index, (prefix, read, is_typename)) in self.fields.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(prefix);
            let value = object.get(read.as_str())?;
            if *is_typename {
                has_typename = true;
                tree::write_str(out, self.typename.as_str());
            } else {
                value.write(out);
            }
        }
        if !has_typename {
            if !self.fields.is_empty() {
                out.push(b',');
            }
            out.extend_from_slice(b"\"__typename\":");
            tree::write_str(out, self.typename.as_str());
        }
        out.push(b'}');
        Some(())
    }
}

/// A representation as it is put together: borrowed from the response tree and the plan,
/// written into the request body once complete.
enum Rep<'d, 's> {
    Value(&'d Node<'s>),
    Str(&'d str),
    List(Vec<Rep<'d, 's>>),
    Object(Vec<(&'d str, Rep<'d, 's>)>),
}

impl Rep<'_, '_> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Rep::Value(node) => node.write(out),
            Rep::Str(text) => tree::write_str(out, text),
            Rep::List(items) => tree::write_array(out, items, Rep::write),
            Rep::Object(fields) => tree::write_members(out, fields, Rep::write),
        }
    }
}

/// Sets `key` among `fields` (in place when present, else added at the end).
fn set_field<'d, 's>(fields: &mut Vec<(&'d str, Rep<'d, 's>)>, key: &'d str, value: Rep<'d, 's>) {
    match fields.iter_mut().find(|(k, _)| *k == key) {
        Some((_, existing)) => *existing = value,
        None => fields.push((key, value)),
    }
}

/// Adds to `rep` the fields of a representation (key and required fields) read from a
/// fetched object. `None` when a needed field is missing (an earlier fetch failed for this
/// object).
fn select_representation<'d, 's>(
    supergraph: &Supergraph,
    object: &'d Object<'s>,
    selections: &'d [Sel],
    rep: &mut Vec<(&'d str, Rep<'d, 's>)>,
) -> Option<()> {
    let type_name = object.typename().unwrap_or_default();
    for selection in selections {
        match selection {
            Sel::Field(field) => {
                // Requirements fetched under an internal alias are read from it but sent
                // under the field's name.
                let value = object.get(field.response_key().as_str())?;
                let selected = if field.selections.is_empty() {
                    Rep::Value(value)
                } else {
                    select_nested(supergraph, value, &field.selections)?
                };
                set_field(rep, field.name.as_str(), selected);
            }
            Sel::Fragment(fragment) => {
                let applies = fragment
                    .type_condition
                    .as_ref()
                    .is_none_or(|c| supergraph.satisfies(type_name, c));
                if applies {
                    // A fragment whose fields are missing adds nothing (the object is of
                    // another type than the fragment needs).
                    let mut inner = Vec::new();
                    if select_representation(supergraph, object, &fragment.selections, &mut inner)
                        .is_some()
                    {
                        for (k, v) in inner {
                            set_field(rep, k, v);
                        }
                    }
                }
            }
        }
    }
    Some(())
}

fn select_nested<'d, 's>(
    supergraph: &Supergraph,
    value: &'d Node<'s>,
    selections: &'d [Sel],
) -> Option<Rep<'d, 's>> {
    match value {
        Node::List(items) => items
            .iter()
            .map(|item| select_nested(supergraph, item, selections))
            .collect::<Option<Vec<_>>>()
            .map(Rep::List),
        Node::Object(object) => {
            let mut selected = Vec::new();
            select_representation(supergraph, object, selections, &mut selected)?;
            if let Some(typename) = object.get("__typename")
                && !selected.iter().any(|(k, _)| *k == "__typename")
                && selections.iter().any(|s| matches!(s, Sel::Fragment(_)))
            {
                selected.push(("__typename", Rep::Value(typename)));
            }
            Some(Rep::Object(selected))
        }
        other => Some(Rep::Value(other)),
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

fn merge_result<'s>(
    supergraph: &Supergraph,
    prepared: &Prepared,
    result: Result<Node<'s>, String>,
    storage: &'s Storage,
    data: &mut Node<'s>,
    errors: &mut Vec<Value>,
) {
    let subgraph = prepared.fetch.subgraph.as_str();
    let path: &[PathSeg] = match &prepared.fetch.kind {
        FetchKind::Entity { path, .. } => path,
        FetchKind::Root => &[],
    };
    let first_location = prepared
        .targets
        .targets
        .first()
        .map(|target| prepared.targets.path_json(path, target));
    let mut response = match result {
        Ok(response) => response,
        Err(reason) => {
            errors.push(unavailable_error(subgraph, &reason, first_location));
            return;
        }
    };
    let (response_data, subgraph_errors) = match response.as_object_mut() {
        Some(response) => (
            response.remove("data").unwrap_or_default(),
            response.remove("errors").map(|errors| errors.to_value()),
        ),
        None => (Node::Null, None),
    };
    storage.with_arena(|arena| {
        merge_data(supergraph, prepared, response_data, data, arena);
        for rename in &prepared.fetch.renames {
            undo_alias(data, &rename.path, rename, arena);
        }
    });
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

/// Merges a fetch's `data` into the response tree: a root fetch's at the root, an entity
/// fetch's `_entities` into the objects they were asked for.
fn merge_data<'s>(
    supergraph: &Supergraph,
    prepared: &Prepared,
    response_data: Node<'s>,
    data: &mut Node<'s>,
    arena: &Arena<'s>,
) {
    let path: &[PathSeg] = match &prepared.fetch.kind {
        FetchKind::Root => {
            data.merge(response_data, arena);
            return;
        }
        FetchKind::Entity { path, .. } => path,
    };
    let entities = match response_data {
        Node::Object(mut map) => map.remove("_entities").unwrap_or_default(),
        _ => Node::Null,
    };
    let Node::List(entities) = entities else {
        return;
    };
    // An interface object answers with the interface's name; keep the concrete type already
    // known.
    for entity in entities.iter_mut() {
        if let Node::Object(entity) = entity
            && entity.typename().is_some_and(|t| !supergraph.is_object(t))
        {
            entity.remove("__typename");
        }
    }
    // Each entity is moved into its last target and copied into earlier ones (objects that
    // shared a de-duplicated representation).
    let mut remaining = vec![0usize; entities.len()];
    for &(_, _, index) in &prepared.targets.targets {
        if let Some(count) = remaining.get_mut(index) {
            *count += 1;
        }
    }
    // One walk over the objects at the path, in the order they were collected: each meets
    // its target (if it still has one) by its list indices.
    let locations = &prepared.targets;
    let mut next = 0;
    visit_objects_mut(data, path, &mut Walk::new(path), &mut |location, object| {
        let targets = &locations.targets;
        while next < targets.len() && locations.indices(&targets[next]) < location {
            next += 1;
        }
        if next == targets.len() || locations.indices(&targets[next]) != location {
            return;
        }
        let index = targets[next].2;
        next += 1;
        let Some(slot) = entities.get_mut(index) else {
            return;
        };
        remaining[index] -= 1;
        let how = if remaining[index] == 0 {
            Merge::Move
        } else {
            Merge::Copy
        };
        if matches!(slot, Node::Object(_)) {
            object.merge_from(slot, how, arena);
        }
    });
}

/// Moves an internally aliased value back under its response key on the objects at `path`.
fn undo_alias<'s>(
    value: &mut Node<'s>,
    path: &[PathSeg],
    rename: &crate::plan::Rename,
    arena: &Arena<'s>,
) {
    match path.split_first() {
        None => match value {
            Node::Object(object) => {
                let matches = object.typename() == Some(rename.object.as_str());
                if matches && let Some(moved) = object.remove(rename.alias.as_str()) {
                    match object.get_mut(rename.key.as_str()) {
                        Some(existing) => existing.merge(moved, arena),
                        None => object.insert(arena.string(rename.key.as_str()), moved, arena),
                    }
                }
            }
            Node::List(items) => items
                .iter_mut()
                .for_each(|item| undo_alias(item, path, rename, arena)),
            _ => {}
        },
        Some((PathSeg::Key(key), rest)) => {
            if let Some(child) = value.as_object_mut().and_then(|o| o.get_mut(key.as_str())) {
                undo_alias(child, rest, rename, arena);
            }
        }
        Some((PathSeg::List, rest)) => {
            if let Node::List(items) = value {
                items
                    .iter_mut()
                    .for_each(|item| undo_alias(item, rest, rename, arena));
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
    let FetchKind::Entity {
        path: fetch_path, ..
    } = &prepared.fetch.kind
    else {
        return;
    };
    let location = prepared
        .targets
        .targets
        .iter()
        .find(|(_, _, rep)| *rep as u64 == index)
        .map(|target| prepared.targets.path_json(fetch_path, target));
    if let Some(mut new_path) = location {
        new_path.extend(path.into_iter().skip(2));
        error["path"] = Value::Array(new_path);
    }
}

/// Calls `visit` with every object at `path` and its list indices, in the order
/// [`collect_objects`] finds them.
fn visit_objects_mut<'s>(
    value: &mut Node<'s>,
    path: &[PathSeg],
    walk: &mut Walk,
    visit: &mut dyn FnMut(&[u32], &mut Node<'s>),
) {
    match (value, path.split_first()) {
        (value @ Node::Object(_), None) => visit(&walk.stack, value),
        (Node::Object(object), Some((PathSeg::Key(key), rest))) => {
            let hint = walk.hint(path.len());
            if let Some(child) = object.get_mut_hinted(key.as_str(), &mut walk.hints[hint]) {
                visit_objects_mut(child, rest, walk, visit);
            }
        }
        // A list at the end of the path, or where the path crosses one: every item.
        (Node::List(items), None | Some((PathSeg::List, _))) => {
            let rest = path.get(1..).unwrap_or(path);
            for i in 0..items.len() {
                if let Some(next) = items.get(i + 1) {
                    next.prefetch();
                }
                walk.stack.push(i as u32);
                visit_objects_mut(&mut items[i], rest, walk, visit);
                walk.stack.pop();
            }
        }
        _ => {}
    }
}

/// The state of a walk down a fetch's path: the indices of the lists crossed so far, and per
/// key of the path where that key was found last (see [`Object::get_hinted`]).
struct Walk {
    stack: Vec<u32>,
    hints: Vec<usize>,
}

impl Walk {
    fn new(path: &[PathSeg]) -> Self {
        Walk {
            stack: Vec::new(),
            hints: vec![0; path.len()],
        }
    }

    /// The hint slot of the path segment that has `remaining` segments left (itself included).
    fn hint(&self, remaining: usize) -> usize {
        self.hints.len() - remaining
    }
}
