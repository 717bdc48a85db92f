//! Query planning: which subgraph resolves which part of an operation, and in what order.
//!
//! The planner walks the client's selections starting in the subgraph chosen for each root
//! field. A field the current subgraph resolves stays in its fetch; a field it cannot resolve
//! becomes an *entity jump*: the current fetch also selects the entity's key (and any
//! `@requires` fields), and a dependent `_entities` fetch to a subgraph that resolves the
//! field is added, one per (path, subgraph) so every object at that path is fetched in one
//! batch. Abstract types are expanded into their possible object types as the subgraph sees
//! them, so each jump knows the concrete type it resolves.
//!
//! Pure: no I/O. Plans are cached by the caller and shared between requests.

pub mod operation;

use crate::supergraph::{GraphId, Supergraph};
use apollo_compiler::ast::{self, OperationType};
use apollo_compiler::{Name, Node};
use indexmap::IndexMap;
use operation::{FieldSel, FragmentSel, NormalizedOperation, Sel};
use std::collections::BTreeSet;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSeg {
    /// A response key.
    Key(Name),
    /// Every element of a list.
    List,
}

pub type ResponsePath = Vec<PathSeg>;

pub fn path_to_string(path: &[PathSeg]) -> String {
    path.iter()
        .map(|s| match s {
            PathSeg::Key(k) => k.as_str(),
            PathSeg::List => "@",
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// How to turn a fetched object into a representation for an `_entities` call.
#[derive(Clone, Debug, PartialEq)]
pub struct RepresentationSpec {
    /// The `__typename` the target subgraph expects: the object's own type, or the
    /// interface name when the target knows the type only as an `@interfaceObject`.
    pub typename: Name,
    /// Key and `@requires` fields to copy from the object.
    pub selections: Vec<Sel>,
}

#[derive(Clone, Debug)]
pub enum FetchKind {
    /// Root fields of a query or mutation, merged into the response root.
    Root,
    /// `_entities` for the objects at `path` whose `__typename` (as fetched so far) has an
    /// entry in `representations`.
    Entity {
        path: ResponsePath,
        representations: IndexMap<Name, RepresentationSpec>,
    },
}

/// An internal alias to undo after merging: objects of type `object` at `path` carry the
/// value of `key` under `alias`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rename {
    pub path: ResponsePath,
    pub object: Name,
    pub alias: Name,
    pub key: Name,
}

#[derive(Clone, Debug)]
pub struct Fetch {
    pub id: usize,
    pub graph: GraphId,
    pub subgraph: String,
    pub depends_on: BTreeSet<usize>,
    pub kind: FetchKind,
    /// The subgraph operation text.
    pub query: String,
    /// Client variables the subgraph operation uses.
    pub variables: Vec<Name>,
    /// Internal aliases to rename back, shortest paths first.
    pub renames: Vec<Rename>,
}

#[derive(Clone, Debug)]
pub struct QueryPlan {
    pub operation: NormalizedOperation,
    pub fetches: Vec<Fetch>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("no subgraph can resolve `{type_name}.{field}`")]
    Unresolvable { type_name: String, field: String },
    #[error("`{type_name}.{field}` cannot be reached from subgraph `{from}`: no usable key")]
    NoKey {
        type_name: String,
        field: String,
        from: String,
    },
    #[error("{0} operations are not supported by this router yet")]
    UnsupportedOperation(&'static str),
    #[error("the plan is too deep (entity jumps nested more than {0} times)")]
    TooDeep(usize),
}

const MAX_JUMP_DEPTH: usize = 64;

struct Jump {
    graph: GraphId,
    path: ResponsePath,
    /// Client fields to resolve, per type condition in the target subgraph.
    fields: IndexMap<Name, Vec<Sel>>,
    /// Representation (`__typename`, key, `@requires`), per `__typename` found in the data.
    representations: IndexMap<Name, RepresentationSpec>,
    /// Other jumps (of the same parent fetch) that must land first.
    after: BTreeSet<usize>,
    /// Planner revision of the last change, to see which jumps a step touched.
    revision: usize,
}

struct Draft {
    graph: GraphId,
    depends_on: BTreeSet<usize>,
    kind: DraftKind,
    selections: Vec<Sel>,
    depth: usize,
    renames: Vec<Rename>,
}

enum DraftKind {
    Root(OperationType),
    Entity {
        path: ResponsePath,
        representations: IndexMap<Name, RepresentationSpec>,
    },
}

struct Planner<'a> {
    supergraph: &'a Supergraph,
    drafts: Vec<Draft>,
    /// Nesting of key/requirement planning, to stop on cyclic requirements.
    requirement_depth: std::cell::Cell<usize>,
    /// True while planning the top level of an entity fetch: there, `@requires` fields are
    /// resolved from the representation instead of needing another jump.
    at_entity_root: std::cell::Cell<bool>,
    /// Counter behind `Jump::revision`.
    revision: std::cell::Cell<usize>,
    /// Fields from the top of the fetch being planned down to the current level: lets a
    /// field of a keyless type be fetched through an ancestor entity (or the root) in another
    /// subgraph.
    scope: std::cell::RefCell<Option<Scope>>,
    /// Internal aliases introduced while planning the current fetch.
    renames: std::cell::RefCell<Vec<Rename>>,
    /// Root selections to send to other subgraphs (re-entries), by subgraph.
    reentries: std::cell::RefCell<IndexMap<GraphId, Vec<Sel>>>,
}

#[derive(Clone)]
struct Ancestor {
    parent_type: Name,
    /// Response path of the object holding `field`.
    parent_path: ResponsePath,
    field: FieldSel,
    /// The type the level below was planned as (a concrete type when the field is abstract).
    child_type: Name,
}

#[derive(Default)]
struct Scope {
    ancestry: Vec<Ancestor>,
    /// Key fields to add to the selection of ancestor `i`'s parent object.
    pending_keys: std::collections::HashMap<usize, Vec<Sel>>,
    /// Planning a root query fetch: re-entering from the root is allowed.
    root_query: bool,
}

const MAX_REQUIREMENT_DEPTH: usize = 16;

/// Plans a normalized operation. Root `__typename` and introspection fields are left to the
/// executor; everything else is assigned to fetches.
pub fn plan_operation(
    supergraph: &Supergraph,
    operation: NormalizedOperation,
) -> Result<QueryPlan, PlanError> {
    if operation.kind == OperationType::Subscription {
        return Err(PlanError::UnsupportedOperation("subscription"));
    }
    let mut planner = Planner {
        supergraph,
        drafts: Vec::new(),
        requirement_depth: std::cell::Cell::new(0),
        at_entity_root: std::cell::Cell::new(false),
        revision: std::cell::Cell::new(0),
        scope: std::cell::RefCell::new(None),
        renames: std::cell::RefCell::new(Vec::new()),
        reentries: std::cell::RefCell::new(IndexMap::new()),
    };
    let root_type = operation.root_type.clone();
    let groups = planner.split_root(&root_type, &operation.selections)?;
    let sequential = operation.kind == OperationType::Mutation;
    for (graph, selections) in groups {
        let depends_on = if sequential {
            (0..planner.drafts.len()).collect()
        } else {
            BTreeSet::new()
        };
        let id = planner.drafts.len();
        planner.drafts.push(Draft {
            graph,
            depends_on,
            kind: DraftKind::Root(operation.kind),
            selections: Vec::new(),
            depth: 0,
            renames: Vec::new(),
        });
        planner.plan_fetch(id, &root_type, &selections, &[])?;
    }
    // Fields of keyless value types that the chosen subgraph lacks: fetch them from the
    // root again in a subgraph that has them (queries only; each pass may add more).
    for _ in 0..MAX_JUMP_DEPTH {
        let reentries = std::mem::take(&mut *planner.reentries.borrow_mut());
        if reentries.is_empty() {
            break;
        }
        for (graph, selections) in reentries {
            let id = planner.drafts.len();
            planner.drafts.push(Draft {
                graph,
                depends_on: BTreeSet::new(),
                kind: DraftKind::Root(operation.kind),
                selections: Vec::new(),
                depth: 0,
                renames: Vec::new(),
            });
            planner.plan_fetch(id, &root_type, &selections, &[])?;
        }
    }
    let fetches = planner
        .drafts
        .into_iter()
        .enumerate()
        .map(|(id, draft)| finish(supergraph, &operation, id, draft))
        .collect();
    Ok(QueryPlan { operation, fetches })
}

fn finish(
    supergraph: &Supergraph,
    operation: &NormalizedOperation,
    id: usize,
    draft: Draft,
) -> Fetch {
    let mut variables = Vec::new();
    operation::collect_variables(&draft.selections, &mut variables);
    let definitions: Vec<&Node<ast::VariableDefinition>> = operation
        .variables
        .iter()
        .filter(|v| variables.contains(&v.name))
        .collect();
    let mut query = String::new();
    let (kind, keyword) = match draft.kind {
        DraftKind::Root(kind) => (
            FetchKind::Root,
            if kind == OperationType::Mutation {
                "mutation"
            } else {
                "query"
            },
        ),
        DraftKind::Entity {
            path,
            representations,
        } => (
            FetchKind::Entity {
                path,
                representations,
            },
            "query",
        ),
    };
    query.push_str(keyword);
    let entity = matches!(kind, FetchKind::Entity { .. });
    if entity || !definitions.is_empty() {
        query.push('(');
        let mut first = true;
        if entity {
            query.push_str("$representations:[_Any!]!");
            first = false;
        }
        for definition in &definitions {
            if !first {
                query.push(',');
            }
            first = false;
            query.push_str(&definition.to_string());
        }
        query.push(')');
    }
    if entity {
        query.push_str("{_entities(representations:$representations)");
        operation::render(&draft.selections, &mut query);
        query.push('}');
    } else {
        operation::render(&draft.selections, &mut query);
    }
    Fetch {
        id,
        graph: draft.graph,
        subgraph: supergraph.subgraphs[draft.graph].name.clone(),
        depends_on: draft.depends_on,
        kind,
        query,
        variables,
        renames: {
            let mut renames = draft.renames;
            renames.sort_by_key(|r| r.path.len());
            renames
        },
    }
}

/// A one-paragraph, human-readable description of a fetch (`looma plan`).
pub fn describe_fetch(fetch: &Fetch) -> String {
    let mut text = format!("#{} -> {}", fetch.id, fetch.subgraph);
    if !fetch.depends_on.is_empty() {
        let deps: Vec<String> = fetch.depends_on.iter().map(|d| format!("#{d}")).collect();
        text.push_str(&format!(" after {}", deps.join(", ")));
    }
    if let FetchKind::Entity {
        path,
        representations,
    } = &fetch.kind
    {
        text.push_str(&format!(" at {}", path_to_string(path)));
        for (typename, spec) in representations {
            let mut rep = String::new();
            operation::render(&spec.selections, &mut rep);
            text.push_str(&format!("\n    {typename} as {} {rep}", spec.typename));
        }
    }
    text.push_str("\n    ");
    text.push_str(&fetch.query);
    text
}

fn typename_sel() -> Sel {
    Sel::Field(FieldSel::typename())
}

fn is_meta_root_field(name: &str) -> bool {
    matches!(name, "__typename" | "__schema" | "__type")
}

impl<'a> Planner<'a> {
    /// Assigns root fields to subgraphs, keeping fragment wrappers (and their conditions).
    /// Query fields prefer a subgraph already chosen; mutations keep their order, starting a
    /// new group whenever the subgraph changes.
    fn split_root(
        &self,
        root_type: &Name,
        selections: &[Sel],
    ) -> Result<Vec<(GraphId, Vec<Sel>)>, PlanError> {
        let mut groups: Vec<(GraphId, Vec<Sel>)> = Vec::new();
        let mutation = self
            .supergraph
            .schema
            .root_operation(OperationType::Mutation)
            == Some(root_type);
        self.split_into(root_type, selections, mutation, &mut groups, &[])?;
        Ok(groups)
    }

    fn split_into(
        &self,
        root_type: &Name,
        selections: &[Sel],
        ordered: bool,
        groups: &mut Vec<(GraphId, Vec<Sel>)>,
        wrappers: &[&FragmentSel],
    ) -> Result<(), PlanError> {
        for selection in selections {
            match selection {
                Sel::Field(field) if is_meta_root_field(&field.name) => {}
                Sel::Field(field) => {
                    let mut candidates = self
                        .supergraph
                        .graphs_resolving_field(root_type, &field.name);
                    if candidates.is_empty() {
                        return Err(PlanError::Unresolvable {
                            type_name: root_type.to_string(),
                            field: field.name.to_string(),
                        });
                    }
                    // Among subgraphs sharing a root field, keep those that resolve the most
                    // of the selection themselves (fewest jumps).
                    if candidates.len() > 1 {
                        let scores: Vec<usize> = candidates
                            .iter()
                            .map(|&g| {
                                self.coverage(g, root_type, std::slice::from_ref(selection), None)
                            })
                            .collect();
                        let best = scores.iter().copied().max().unwrap_or(0);
                        candidates = candidates
                            .into_iter()
                            .zip(scores)
                            .filter(|(_, score)| *score == best)
                            .map(|(g, _)| g)
                            .collect();
                    }
                    let index = if ordered {
                        match groups.last() {
                            Some((graph, _)) if candidates.contains(graph) => groups.len() - 1,
                            _ => {
                                groups.push((candidates[0], Vec::new()));
                                groups.len() - 1
                            }
                        }
                    } else {
                        match groups.iter().position(|(g, _)| candidates.contains(g)) {
                            Some(i) => i,
                            None => {
                                groups.push((candidates[0], Vec::new()));
                                groups.len() - 1
                            }
                        }
                    };
                    push_wrapped(&mut groups[index].1, wrappers, Sel::Field(field.clone()));
                }
                Sel::Fragment(fragment) => {
                    let mut inner_wrappers = wrappers.to_vec();
                    if !fragment.directives.is_empty() {
                        inner_wrappers.push(fragment);
                    }
                    self.split_into(
                        root_type,
                        &fragment.selections,
                        ordered,
                        groups,
                        &inner_wrappers,
                    )?;
                }
            }
        }
        Ok(())
    }

    /// How many fields of `selections` `graph` resolves without leaving itself.
    fn coverage(
        &self,
        graph: GraphId,
        parent_type: &Name,
        selections: &[Sel],
        provided: Option<&[Sel]>,
    ) -> usize {
        selections
            .iter()
            .map(|selection| match selection {
                Sel::Field(field) => {
                    let provided_field = provided
                        .and_then(|p| find_provided(self.supergraph, p, parent_type, &field.name));
                    let local = provided_field.is_some()
                        || self
                            .supergraph
                            .graph_resolves_field(graph, parent_type, &field.name);
                    if !local {
                        return 0;
                    }
                    let child_provided: Option<Vec<Sel>> = match provided_field {
                        Some(p) => Some(p.selections.clone()),
                        None => self
                            .supergraph
                            .field_in_graph(graph, parent_type, &field.name)
                            .and_then(|f| f.provides.as_ref())
                            .map(|p| operation::from_field_set(&p.selection_set)),
                    };
                    1 + self.coverage(
                        graph,
                        field.ty.inner_named_type(),
                        &field.selections,
                        child_provided.as_deref(),
                    )
                }
                Sel::Fragment(fragment) => {
                    let condition = fragment.type_condition.as_ref().unwrap_or(parent_type);
                    self.coverage(graph, condition, &fragment.selections, provided)
                }
            })
            .sum()
    }

    /// Plans `selections` (on `parent_type` at `path`) into fetch `fetch_id`, then creates and
    /// plans the entity fetches its jumps need.
    fn plan_fetch(
        &mut self,
        fetch_id: usize,
        parent_type: &Name,
        selections: &[Sel],
        path: &[PathSeg],
    ) -> Result<(), PlanError> {
        let graph = self.drafts[fetch_id].graph;
        let mut jumps: Vec<Jump> = Vec::new();
        let root_query = matches!(
            self.drafts[fetch_id].kind,
            DraftKind::Root(OperationType::Query)
        );
        let saved = self.scope.replace(Some(Scope {
            root_query,
            ..Scope::default()
        }));
        let saved_renames = self.renames.take();
        let planned = self.plan_level(graph, parent_type, selections, path, None, &mut jumps);
        self.scope.replace(saved);
        let renames = self.renames.replace(saved_renames);
        self.drafts[fetch_id].renames.extend(renames);
        let planned = planned?;
        match &self.drafts[fetch_id].kind {
            DraftKind::Root(_) => self.drafts[fetch_id].selections = planned,
            DraftKind::Entity { .. } => self.drafts[fetch_id].selections.extend(planned),
        }
        self.create_jump_fetches(fetch_id, jumps)
    }

    fn create_jump_fetches(
        &mut self,
        parent_fetch: usize,
        jumps: Vec<Jump>,
    ) -> Result<(), PlanError> {
        let depth = self.drafts[parent_fetch].depth + 1;
        if depth > MAX_JUMP_DEPTH {
            return Err(PlanError::TooDeep(MAX_JUMP_DEPTH));
        }
        let mut fetch_of_jump: Vec<Option<usize>> = vec![None; jumps.len()];
        for index in dependency_order(&jumps) {
            let jump = &jumps[index];
            let mut depends_on: BTreeSet<usize> = BTreeSet::from([parent_fetch]);
            for &other in &jump.after {
                if let Some(Some(fetch)) = fetch_of_jump.get(other) {
                    depends_on.insert(*fetch);
                    depends_on.extend(self.descendants(*fetch));
                }
            }
            let id = self.drafts.len();
            self.drafts.push(Draft {
                graph: jump.graph,
                depends_on,
                kind: DraftKind::Entity {
                    path: jump.path.clone(),
                    representations: jump.representations.clone(),
                },
                selections: vec![typename_sel()],
                depth,
                renames: Vec::new(),
            });
            fetch_of_jump[index] = Some(id);
            for (type_name, fields) in &jump.fields {
                let mut inner_jumps = Vec::new();
                self.at_entity_root.set(true);
                let saved = self.scope.replace(Some(Scope::default()));
                let planned = self.plan_level(
                    jump.graph,
                    type_name,
                    fields,
                    &jump.path,
                    None,
                    &mut inner_jumps,
                );
                self.scope.replace(saved);
                self.at_entity_root.set(false);
                let renames = self.renames.take();
                self.drafts[id].renames.extend(renames);
                let planned = planned?;
                self.drafts[id].selections.push(Sel::Fragment(FragmentSel {
                    type_condition: Some(type_name.clone()),
                    directives: Vec::new(),
                    selections: planned,
                }));
                self.create_jump_fetches(id, inner_jumps)?;
            }
        }
        Ok(())
    }

    /// Fetches that (transitively) depend on `fetch`.
    fn descendants(&self, fetch: usize) -> Vec<usize> {
        let mut found = vec![fetch];
        let mut changed = true;
        while changed {
            changed = false;
            for (id, draft) in self.drafts.iter().enumerate() {
                if !found.contains(&id) && draft.depends_on.iter().any(|d| found.contains(d)) {
                    found.push(id);
                    changed = true;
                }
            }
        }
        found.retain(|&id| id != fetch);
        found
    }

    /// The selections subgraph `graph` should execute for `selections` on `parent_type`,
    /// recording jumps for the fields it cannot resolve.
    fn plan_level(
        &self,
        graph: GraphId,
        parent_type: &Name,
        selections: &[Sel],
        path: &[PathSeg],
        provided: Option<&[Sel]>,
        jumps: &mut Vec<Jump>,
    ) -> Result<Vec<Sel>, PlanError> {
        if self.supergraph.is_abstract(parent_type) {
            if self.supergraph.is_interface_object_in(graph, parent_type) {
                return self.plan_interface_object_level(
                    graph,
                    parent_type,
                    selections,
                    path,
                    provided,
                    jumps,
                );
            }
            return self.plan_abstract_level(graph, parent_type, selections, path, provided, jumps);
        }
        let mut out: Vec<Sel> = Vec::new();
        for selection in selections {
            match selection {
                Sel::Field(field) => {
                    self.plan_field(graph, parent_type, field, path, provided, jumps, &mut out)?
                }
                Sel::Fragment(fragment) => {
                    let applies = fragment
                        .type_condition
                        .as_ref()
                        .is_none_or(|c| self.supergraph.satisfies(parent_type, c));
                    if !applies {
                        continue;
                    }
                    let inner = self.plan_level(
                        graph,
                        parent_type,
                        &fragment.selections,
                        path,
                        provided,
                        jumps,
                    )?;
                    push_flattened(&mut out, fragment, inner);
                }
            }
        }
        Ok(out)
    }

    /// Expands an abstract selection into one fragment per object type `graph` may return.
    fn plan_abstract_level(
        &self,
        graph: GraphId,
        parent_type: &Name,
        selections: &[Sel],
        path: &[PathSeg],
        provided: Option<&[Sel]>,
        jumps: &mut Vec<Jump>,
    ) -> Result<Vec<Sel>, PlanError> {
        let mut out = vec![typename_sel()];
        let possible = self.safe_possible_types(graph, parent_type);
        if possible.is_empty() {
            // The subgraph knows no implementation: it can only answer the interface's own
            // fields; anything else must be reachable elsewhere or the plan fails.
            for selection in selections {
                if let Sel::Field(field) = selection
                    && field.name != "__typename"
                {
                    if self
                        .supergraph
                        .graph_resolves_field(graph, parent_type, &field.name)
                    {
                        out.push(Sel::Field(FieldSel {
                            selections: Vec::new(),
                            ..field.clone()
                        }));
                    } else {
                        self.jump_for(
                            graph,
                            parent_type,
                            selection.clone(),
                            Some(field),
                            path,
                            provided,
                            jumps,
                            &mut out,
                        )?;
                    }
                }
            }
            return Ok(out);
        }
        for object in possible {
            let applicable = applicable_to(self.supergraph, &object, selections);
            if applicable.is_empty() {
                continue;
            }
            let previous = self.set_ancestor_child_type(&object);
            let inner = self.plan_level(graph, &object, &applicable, path, provided, jumps);
            if let Some(previous) = previous {
                self.set_ancestor_child_type(&previous);
            }
            let inner = inner?;
            if inner.is_empty() {
                continue;
            }
            out.push(Sel::Fragment(FragmentSel {
                type_condition: Some(object),
                directives: Vec::new(),
                selections: inner,
            }));
        }
        self.alias_conflicting_fields(graph, path, &mut out);
        Ok(out)
    }

    /// The object types to expand an abstract level into. Below a shareable path that
    /// several subgraphs could resolve from the nearest entity, only the members all of them
    /// know are safe (another plan could have taken the path through any of them).
    fn safe_possible_types(&self, graph: GraphId, abstract_type: &Name) -> Vec<Name> {
        let sg = self.supergraph;
        let possible = sg.possible_types_in_graph(graph, abstract_type);
        let scope = self.scope.borrow();
        let Some(ancestry) = scope.as_ref().map(|s| &s.ancestry) else {
            return possible;
        };
        for from in (0..ancestry.len()).rev() {
            let entity = &ancestry[from].parent_type;
            if sg.keys(graph, entity).is_empty() {
                continue;
            }
            let chain = &ancestry[from..];
            let candidates: Vec<GraphId> = (0..sg.subgraphs.len())
                .filter(|&g| {
                    !sg.resolvable_keys(g, entity).is_empty()
                        && chain
                            .iter()
                            .all(|a| sg.graph_resolves_field(g, &a.parent_type, &a.field.name))
                })
                .collect();
            if candidates.len() <= 1 || !candidates.contains(&graph) {
                return possible;
            }
            let in_every: Vec<Vec<Name>> = candidates
                .iter()
                .map(|&g| sg.possible_types_in_graph(g, abstract_type))
                .collect();
            return possible
                .into_iter()
                .filter(|t| in_every.iter().all(|types| types.contains(t)))
                .collect();
        }
        possible
    }

    /// Sibling fragments may select the same response key with different types in this
    /// subgraph (`User.id: ID!` next to `Admin.id: ID`), which the subgraph would reject.
    /// Later occurrences get an internal alias, renamed back when the result is merged.
    fn alias_conflicting_fields(&self, graph: GraphId, path: &[PathSeg], selections: &mut [Sel]) {
        let mut seen: std::collections::HashMap<Name, String> = std::collections::HashMap::new();
        for selection in selections.iter_mut() {
            let Sel::Fragment(fragment) = selection else {
                continue;
            };
            let Some(object) = fragment.type_condition.clone() else {
                continue;
            };
            for inner in fragment.selections.iter_mut() {
                let Sel::Field(field) = inner else { continue };
                if field.name == "__typename" {
                    continue;
                }
                let signature = self
                    .supergraph
                    .field_in_graph(graph, &object, &field.name)
                    .and_then(|f| f.type_in_graph.clone())
                    .unwrap_or_else(|| field.ty.to_string());
                let key = field.response_key().clone();
                match seen.get(&key) {
                    None => {
                        seen.insert(key, signature);
                    }
                    Some(first) if *first == signature => {}
                    Some(_) => {
                        let alias = format!("_looma_{}_{}", object, key);
                        if let Ok(alias) = Name::new(&alias) {
                            self.renames.borrow_mut().push(Rename {
                                path: path.to_vec(),
                                object: object.clone(),
                                alias: alias.clone(),
                                key,
                            });
                            field.alias = Some(alias);
                        }
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn plan_field(
        &self,
        graph: GraphId,
        parent_type: &Name,
        field: &FieldSel,
        path: &[PathSeg],
        provided: Option<&[Sel]>,
        jumps: &mut Vec<Jump>,
        out: &mut Vec<Sel>,
    ) -> Result<(), PlanError> {
        let provided_field =
            provided.and_then(|p| find_provided(self.supergraph, p, parent_type, &field.name));
        // A field with @requires is resolved only through `_entities`, even in its own
        // subgraph: the required (external) fields arrive in the representation.
        let requires_here = self
            .supergraph
            .field_in_graph(graph, parent_type, &field.name)
            .is_some_and(|f| f.requires.is_some());
        let at_entity_root = self.at_entity_root.replace(false);
        let local = (self
            .supergraph
            .graph_resolves_field(graph, parent_type, &field.name)
            && (!requires_here || at_entity_root))
            || provided_field.is_some();
        let outcome = self.plan_field_in(
            graph,
            parent_type,
            field,
            path,
            provided,
            jumps,
            out,
            local,
            provided_field,
        );
        self.at_entity_root.set(at_entity_root);
        outcome
    }

    #[allow(clippy::too_many_arguments)]
    fn plan_field_in(
        &self,
        graph: GraphId,
        parent_type: &Name,
        field: &FieldSel,
        path: &[PathSeg],
        provided: Option<&[Sel]>,
        jumps: &mut Vec<Jump>,
        out: &mut Vec<Sel>,
        local: bool,
        provided_field: Option<&FieldSel>,
    ) -> Result<(), PlanError> {
        if local {
            let mut planned = FieldSel {
                selections: Vec::new(),
                ..field.clone()
            };
            if !field.selections.is_empty() {
                // The subgraph may declare the field with a narrower type (`type:` in
                // @join__field), e.g. an object where the supergraph has a union.
                let child_type = self
                    .supergraph
                    .field_in_graph(graph, parent_type, &field.name)
                    .and_then(|f| f.type_in_graph.as_deref())
                    .map(|t| t.trim_matches(|c| c == '[' || c == ']' || c == '!'))
                    .and_then(|t| Name::new(t).ok())
                    .filter(|t| self.supergraph.schema.types.contains_key(t.as_str()))
                    .unwrap_or_else(|| field.ty.inner_named_type().clone());
                let child_path = child_path(path, field);
                let child_provided: Option<Vec<Sel>> = match provided_field {
                    Some(p) => Some(p.selections.clone()),
                    None => self
                        .supergraph
                        .field_in_graph(graph, parent_type, &field.name)
                        .and_then(|f| f.provides.as_ref())
                        .map(|p| operation::from_field_set(&p.selection_set)),
                };
                let level = self.push_ancestor(parent_type, path, field, &child_type);
                let inner = self.plan_level(
                    graph,
                    &child_type,
                    &field.selections,
                    &child_path,
                    child_provided.as_deref(),
                    jumps,
                );
                let keys = self.pop_ancestor(level);
                merge_into(out, keys);
                let mut inner = inner?;
                if !inner.iter().any(
                    |s| matches!(s, Sel::Field(f) if f.name == "__typename" && f.alias.is_none()),
                ) {
                    inner.insert(0, typename_sel());
                }
                planned.selections = inner;
            }
            out.push(Sel::Field(planned));
            return Ok(());
        }
        self.jump_for(
            graph,
            parent_type,
            Sel::Field(field.clone()),
            Some(field),
            path,
            provided,
            jumps,
            out,
        )
    }

    /// The jump to `target` at `path` to add to (an existing one `reusable` allows, or a new
    /// one), marked as touched now.
    fn jump_slot(
        &self,
        jumps: &mut Vec<Jump>,
        target: GraphId,
        path: &[PathSeg],
        reusable: impl Fn(usize) -> bool,
    ) -> usize {
        let existing = jumps
            .iter()
            .enumerate()
            .position(|(i, j)| j.graph == target && j.path == path && reusable(i));
        let index = existing.unwrap_or_else(|| {
            jumps.push(Jump {
                graph: target,
                path: path.to_vec(),
                fields: IndexMap::new(),
                representations: IndexMap::new(),
                after: BTreeSet::new(),
                revision: 0,
            });
            jumps.len() - 1
        });
        let revision = self.revision.get() + 1;
        self.revision.set(revision);
        jumps[index].revision = revision;
        index
    }

    /// Records that the level below is planned under `field`; returns its ancestry index.
    fn push_ancestor(
        &self,
        parent_type: &Name,
        parent_path: &[PathSeg],
        field: &FieldSel,
        child_type: &Name,
    ) -> Option<usize> {
        let mut scope = self.scope.borrow_mut();
        let scope = scope.as_mut()?;
        scope.ancestry.push(Ancestor {
            parent_type: parent_type.clone(),
            parent_path: parent_path.to_vec(),
            field: FieldSel {
                selections: Vec::new(),
                ..field.clone()
            },
            child_type: child_type.clone(),
        });
        Some(scope.ancestry.len() - 1)
    }

    /// Leaves the level; returns key fields a deeper jump asked this parent object for.
    fn pop_ancestor(&self, level: Option<usize>) -> Vec<Sel> {
        let mut scope = self.scope.borrow_mut();
        let (Some(scope), Some(level)) = (scope.as_mut(), level) else {
            return Vec::new();
        };
        scope.ancestry.truncate(level);
        scope.pending_keys.remove(&level).unwrap_or_default()
    }

    fn set_ancestor_child_type(&self, child_type: &Name) -> Option<Name> {
        let mut scope = self.scope.borrow_mut();
        let last = scope.as_mut()?.ancestry.last_mut()?;
        Some(std::mem::replace(&mut last.child_type, child_type.clone()))
    }

    /// For a field of a type `graph` cannot jump from (no key): resolve it through the
    /// nearest ancestor entity another subgraph can reach by key and walk down from, or
    /// failing that (root queries only) from the root. False when neither works.
    fn jump_through_ancestor(
        &self,
        graph: GraphId,
        parent_type: &Name,
        field: &FieldSel,
        jumps: &mut Vec<Jump>,
    ) -> bool {
        let sg = self.supergraph;
        let (ancestry, root_query) = match self.scope.borrow().as_ref() {
            Some(scope) if !scope.ancestry.is_empty() => (scope.ancestry.clone(), scope.root_query),
            _ => return false,
        };
        let targets = sg.graphs_resolving_field(parent_type, &field.name);
        let walkable = |g: GraphId, from: usize| {
            ancestry[from..].iter().all(|a| {
                sg.graph_resolves_field(g, &a.parent_type, &a.field.name)
                    && sg.graph_has_type(g, &a.child_type)
            })
        };
        let chain = |from: usize| {
            let mut selection = Sel::Field(field.clone());
            for ancestor in ancestry[from..].iter().rev() {
                let inner = if ancestor.field.ty.inner_named_type() == &ancestor.child_type {
                    selection
                } else {
                    Sel::Fragment(FragmentSel {
                        type_condition: Some(ancestor.child_type.clone()),
                        directives: Vec::new(),
                        selections: vec![selection],
                    })
                };
                selection = Sel::Field(FieldSel {
                    selections: vec![typename_sel(), inner],
                    ..ancestor.field.clone()
                });
            }
            selection
        };
        for from in (0..ancestry.len()).rev() {
            let entity = &ancestry[from].parent_type;
            for &target in targets.iter().filter(|&&t| t != graph) {
                if !walkable(target, from) {
                    continue;
                }
                let key = sg
                    .resolvable_keys(target, entity)
                    .into_iter()
                    .find_map(|k| {
                        let key_sels = operation::from_field_set(&k.fields.selection_set);
                        self.provides_directly(graph, entity, &key_sels, None)
                            .then_some(key_sels)
                    });
                let Some(key_sels) = key else {
                    continue;
                };
                let path = ancestry[from].parent_path.clone();
                let mut representation = vec![typename_sel()];
                merge_into(&mut representation, key_sels.clone());
                let index = self.jump_slot(jumps, target, &path, |_| true);
                let jump = &mut jumps[index];
                merge_into(
                    jump.fields.entry(entity.clone()).or_default(),
                    vec![chain(from)],
                );
                let spec = jump
                    .representations
                    .entry(entity.clone())
                    .or_insert_with(|| RepresentationSpec {
                        typename: entity.clone(),
                        selections: Vec::new(),
                    });
                merge_into(&mut spec.selections, representation);
                if let Some(scope) = self.scope.borrow_mut().as_mut() {
                    merge_into(scope.pending_keys.entry(from).or_default(), key_sels);
                }
                return true;
            }
        }
        if !root_query {
            return false;
        }
        let Some(target) = targets.into_iter().find(|&g| g != graph && walkable(g, 0)) else {
            return false;
        };
        let mut reentries = self.reentries.borrow_mut();
        merge_into(reentries.entry(target).or_default(), vec![chain(0)]);
        true
    }

    /// Subgraphs (with the type name to use there) that can resolve `field` of
    /// `parent_type`: directly, or through an `@interfaceObject` of one of its interfaces.
    /// `field == None` asks for the owner of an interface known here only as an interface
    /// object (to learn the real `__typename` or resolve type-specific fragments).
    fn jump_candidates(
        &self,
        graph: GraphId,
        parent_type: &Name,
        field: Option<&str>,
    ) -> Vec<(GraphId, Name)> {
        let sg = self.supergraph;
        let mut candidates: Vec<(GraphId, Name)> = Vec::new();
        match field {
            Some(field) => {
                for g in sg.graphs_resolving_field(parent_type, field) {
                    let needs_entities = sg
                        .field_in_graph(g, parent_type, field)
                        .is_some_and(|f| f.requires.is_some());
                    if g != graph || needs_entities {
                        candidates.push((g, parent_type.clone()));
                    }
                }
                if let Some(object) = sg.schema.get_object(parent_type) {
                    for interface in &object.implements_interfaces {
                        for g in 0..sg.subgraphs.len() {
                            if g != graph
                                && sg.is_interface_object_in(g, &interface.name)
                                && sg.graph_resolves_field(g, &interface.name, field)
                            {
                                candidates.push((g, interface.name.clone()));
                            }
                        }
                    }
                }
            }
            None => {
                for g in 0..sg.subgraphs.len() {
                    if g != graph
                        && sg.graph_has_type(g, parent_type)
                        && !sg.is_interface_object_in(g, parent_type)
                    {
                        candidates.push((g, parent_type.clone()));
                    }
                }
            }
        }
        candidates.retain(|(g, t)| !sg.resolvable_keys(*g, t).is_empty());
        candidates
    }

    /// Moves `selection` (a field, or a fragment needing the real type) to another subgraph
    /// through an entity jump: fetch the key (and `@requires`) here, resolve it there.
    #[allow(clippy::too_many_arguments)]
    fn jump_for(
        &self,
        graph: GraphId,
        parent_type: &Name,
        selection: Sel,
        field: Option<&FieldSel>,
        path: &[PathSeg],
        provided: Option<&[Sel]>,
        jumps: &mut Vec<Jump>,
        out: &mut Vec<Sel>,
    ) -> Result<(), PlanError> {
        let field_name = field.map(|f| f.name.as_str());
        let unresolvable = || PlanError::Unresolvable {
            type_name: parent_type.to_string(),
            field: field_name.unwrap_or("__typename").to_owned(),
        };
        let candidates = self.jump_candidates(
            graph,
            parent_type,
            field_name.filter(|n| *n != "__typename"),
        );
        if candidates.is_empty() {
            if let Some(field) = field
                && self.jump_through_ancestor(graph, parent_type, field, jumps)
            {
                return Ok(());
            }
            return Err(unresolvable());
        }
        // Prefer targets that resolve most of the field's selection themselves; among those,
        // one whose key this graph provides directly, then one we already jump to.
        let mut candidates = candidates;
        if candidates.len() > 1 {
            let scores: Vec<usize> = candidates
                .iter()
                .map(|(g, t)| self.coverage(*g, t, std::slice::from_ref(&selection), None))
                .collect();
            let mut order: Vec<usize> = (0..candidates.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(scores[i]));
            candidates = order.into_iter().map(|i| candidates[i].clone()).collect();
        }
        let best_score = candidates
            .first()
            .map(|(g, t)| self.coverage(*g, t, std::slice::from_ref(&selection), None));
        let mut choice: Option<(GraphId, Name, Vec<Sel>)> = None;
        'search: for (target, target_type) in &candidates {
            if choice.is_some()
                && best_score
                    != Some(self.coverage(
                        *target,
                        target_type,
                        std::slice::from_ref(&selection),
                        None,
                    ))
            {
                break;
            }
            for key in self.supergraph.resolvable_keys(*target, target_type) {
                let key_sels = operation::from_field_set(&key.fields.selection_set);
                if self.provides_directly(graph, parent_type, &key_sels, provided) {
                    let already = jumps.iter().any(|j| j.graph == *target && j.path == path);
                    if choice.is_none() || already {
                        choice = Some((*target, target_type.clone(), key_sels));
                    }
                    if already {
                        break 'search;
                    }
                }
            }
        }
        // Otherwise through an ancestor entity, else any resolvable key: its fields are then
        // planned like client fields (multi-hop).
        if choice.is_none()
            && let Some(field) = field
            && self.jump_through_ancestor(graph, parent_type, field, jumps)
        {
            return Ok(());
        }
        let (target, target_type, key_sels) = match choice {
            Some(choice) => choice,
            None => candidates
                .iter()
                .find_map(|(target, target_type)| {
                    self.supergraph
                        .resolvable_keys(*target, target_type)
                        .first()
                        .map(|k| {
                            (
                                *target,
                                target_type.clone(),
                                operation::from_field_set(&k.fields.selection_set),
                            )
                        })
                })
                .ok_or_else(unresolvable)?,
        };
        let mut requires = field_name
            .and_then(|name| self.supergraph.field_in_graph(target, &target_type, name))
            .and_then(|f| f.requires.as_ref())
            .map(|r| operation::from_field_set(&r.selection_set))
            .unwrap_or_default();
        // A required field with arguments may clash with the client's own selection of that
        // field with other arguments: fetch it under an internal alias.
        for required in &mut requires {
            if let Sel::Field(required) = required
                && !required.arguments.is_empty()
            {
                let arguments: String = required
                    .arguments
                    .iter()
                    .map(|a| format!("{}:{}", a.name, a.value))
                    .collect::<Vec<_>>()
                    .join(",");
                let digest = arguments.bytes().fold(0xcbf29ce484222325u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
                });
                required.alias =
                    Name::new(&format!("_looma_requires_{}_{digest:x}", required.name)).ok();
            }
        }

        // Fetch key and requirements here (possibly through further jumps, which must land
        // before this one).
        let mark = self.revision.get();
        let mut needed = key_sels.clone();
        needed.extend(requires.iter().cloned());
        let depth = self.requirement_depth.get();
        if depth >= MAX_REQUIREMENT_DEPTH {
            return Err(PlanError::NoKey {
                type_name: parent_type.to_string(),
                field: field_name.unwrap_or("__typename").to_owned(),
                from: self.supergraph.subgraphs[graph].name.clone(),
            });
        }
        self.requirement_depth.set(depth + 1);
        let fetched = self.plan_level(graph, parent_type, &needed, path, provided, jumps);
        self.requirement_depth.set(depth);
        merge_into(out, fetched?);
        let after: BTreeSet<usize> = jumps
            .iter()
            .enumerate()
            .filter(|(_, j)| j.revision > mark)
            .map(|(i, _)| i)
            .collect();
        let blocked = dependency_closure(jumps, &after);

        let mut representation = vec![typename_sel()];
        merge_into(&mut representation, key_sels);
        merge_into(&mut representation, requires.clone());

        // A jump can carry one value per field in a representation: requirements asking for
        // the same field with other arguments need a jump of their own.
        let conflicts = |i: usize| {
            jumps[i].representations.get(parent_type).is_some_and(|spec| {
                requires.iter().any(|required| match required {
                    Sel::Field(required) => spec.selections.iter().any(|existing| {
                        matches!(existing, Sel::Field(e) if e.name == required.name && e.arguments != required.arguments)
                    }),
                    Sel::Fragment(_) => false,
                })
            })
        };
        let usable: Vec<bool> = (0..jumps.len())
            .map(|i| !blocked.contains(&i) && !conflicts(i))
            .collect();
        let index = self.jump_slot(jumps, target, path, |i| {
            usable.get(i).copied().unwrap_or(false)
        });
        let jump = &mut jumps[index];
        jump.after.extend(after.into_iter().filter(|&a| a != index));
        jump.fields
            .entry(target_type.clone())
            .or_default()
            .push(selection);
        let spec = jump
            .representations
            .entry(parent_type.clone())
            .or_insert_with(|| RepresentationSpec {
                typename: target_type.clone(),
                selections: Vec::new(),
            });
        merge_into(&mut spec.selections, representation);
        Ok(())
    }

    /// A level whose type is an interface that `graph` knows only as an `@interfaceObject`:
    /// the subgraph returns objects typed as the interface, so the real `__typename` and
    /// type-specific fragments come from a subgraph that owns the interface.
    fn plan_interface_object_level(
        &self,
        graph: GraphId,
        interface: &Name,
        selections: &[Sel],
        path: &[PathSeg],
        provided: Option<&[Sel]>,
        jumps: &mut Vec<Jump>,
    ) -> Result<Vec<Sel>, PlanError> {
        let mut out = vec![typename_sel()];
        for selection in selections {
            // The real `__typename` and fragments on other types come from the owner.
            let to_owner = match selection {
                Sel::Field(field) => field.name == "__typename",
                Sel::Fragment(fragment) => fragment
                    .type_condition
                    .as_ref()
                    .is_some_and(|c| c != interface),
            };
            if to_owner {
                self.jump_for(
                    graph,
                    interface,
                    selection.clone(),
                    None,
                    path,
                    provided,
                    jumps,
                    &mut out,
                )?;
                continue;
            }
            match selection {
                Sel::Field(field) => {
                    self.plan_field(graph, interface, field, path, provided, jumps, &mut out)?
                }
                Sel::Fragment(fragment) => {
                    let inner = self.plan_interface_object_level(
                        graph,
                        interface,
                        &fragment.selections,
                        path,
                        provided,
                        jumps,
                    )?;
                    push_flattened(&mut out, fragment, inner);
                }
            }
        }
        Ok(out)
    }

    /// Whether `graph` can select every field of `selections` on `type_name` itself.
    fn provides_directly(
        &self,
        graph: GraphId,
        type_name: &Name,
        selections: &[Sel],
        provided: Option<&[Sel]>,
    ) -> bool {
        selections.iter().all(|selection| match selection {
            Sel::Field(field) => {
                let provided_field = provided
                    .and_then(|p| find_provided(self.supergraph, p, type_name, &field.name));
                let key_field_here = self.supergraph.keys(graph, type_name).iter().any(|k| {
                    find_field(
                        &operation::from_field_set(&k.fields.selection_set),
                        &field.name,
                    )
                    .is_some()
                });
                let local = self
                    .supergraph
                    .graph_resolves_field(graph, type_name, &field.name)
                    || provided_field.is_some()
                    || key_field_here;
                local
                    && (field.selections.is_empty()
                        || self.provides_directly(
                            graph,
                            field.ty.inner_named_type(),
                            &field.selections,
                            provided_field.map(|p| p.selections.as_slice()),
                        ))
            }
            Sel::Fragment(fragment) => {
                self.provides_directly(graph, type_name, &fragment.selections, provided)
            }
        })
    }
}

/// Adds the planned inner selections of `fragment`: inlined when the fragment has no
/// conditions, kept under a condition-only fragment otherwise.
fn push_flattened(out: &mut Vec<Sel>, fragment: &FragmentSel, inner: Vec<Sel>) {
    if fragment.directives.is_empty() {
        merge_into(out, inner);
    } else {
        out.push(Sel::Fragment(FragmentSel {
            type_condition: None,
            directives: fragment.directives.clone(),
            selections: inner,
        }));
    }
}

fn push_wrapped(target: &mut Vec<Sel>, wrappers: &[&FragmentSel], selection: Sel) {
    let mut wrapped = selection;
    for wrapper in wrappers.iter().rev() {
        wrapped = Sel::Fragment(FragmentSel {
            type_condition: wrapper.type_condition.clone(),
            directives: wrapper.directives.clone(),
            selections: vec![wrapped],
        });
    }
    target.push(wrapped);
}

fn child_path(path: &[PathSeg], field: &FieldSel) -> ResponsePath {
    let mut child = path.to_vec();
    child.push(PathSeg::Key(field.response_key().clone()));
    let mut ty = &field.ty;
    while let ast::Type::List(inner) | ast::Type::NonNullList(inner) = ty {
        child.push(PathSeg::List);
        ty = inner;
    }
    child
}

/// The field `name` of a provided selection, looking only into fragments that apply to
/// objects of `object_type`.
fn find_provided<'s>(
    supergraph: &Supergraph,
    selections: &'s [Sel],
    object_type: &str,
    name: &str,
) -> Option<&'s FieldSel> {
    selections.iter().find_map(|s| match s {
        Sel::Field(f) if f.name == name => Some(f),
        Sel::Fragment(fragment)
            if fragment
                .type_condition
                .as_ref()
                .is_none_or(|c| supergraph.satisfies(object_type, c) || c == object_type) =>
        {
            find_provided(supergraph, &fragment.selections, object_type, name)
        }
        _ => None,
    })
}

fn find_field<'s>(selections: &'s [Sel], name: &str) -> Option<&'s FieldSel> {
    selections.iter().find_map(|s| match s {
        Sel::Field(f) if f.name == name => Some(f),
        Sel::Fragment(fragment) => find_field(&fragment.selections, name),
        _ => None,
    })
}

/// Adds `extra` to `target`, skipping fields already present with the same response key and
/// arguments (merging their sub-selections).
fn merge_into(target: &mut Vec<Sel>, extra: Vec<Sel>) {
    for selection in extra {
        match selection {
            Sel::Field(field) => {
                let existing = target.iter_mut().find_map(|s| match s {
                    Sel::Field(f)
                        if f.response_key() == field.response_key()
                            && f.name == field.name
                            && f.arguments == field.arguments
                            && f.directives == field.directives =>
                    {
                        Some(f)
                    }
                    _ => None,
                });
                match existing {
                    Some(existing) => merge_into(&mut existing.selections, field.selections),
                    None => target.push(Sel::Field(field)),
                }
            }
            fragment => {
                if !target.contains(&fragment) {
                    target.push(fragment);
                }
            }
        }
    }
}

/// The selections of an abstract-typed level that apply to one object type: fields as they
/// are, fragments whose condition the object satisfies (flattened unless they carry
/// conditions).
fn applicable_to(supergraph: &Supergraph, object: &Name, selections: &[Sel]) -> Vec<Sel> {
    let mut out = Vec::new();
    for selection in selections {
        match selection {
            Sel::Field(field) => out.push(Sel::Field(field.clone())),
            Sel::Fragment(fragment) => {
                let applies = fragment
                    .type_condition
                    .as_ref()
                    .is_none_or(|c| supergraph.satisfies(object, c));
                if !applies {
                    continue;
                }
                let inner = applicable_to(supergraph, object, &fragment.selections);
                if fragment.directives.is_empty() {
                    out.extend(inner);
                } else {
                    out.push(Sel::Fragment(FragmentSel {
                        type_condition: None,
                        directives: fragment.directives.clone(),
                        selections: inner,
                    }));
                }
            }
        }
    }
    out
}

/// `start` and every jump those wait for, transitively.
fn dependency_closure(jumps: &[Jump], start: &BTreeSet<usize>) -> BTreeSet<usize> {
    let mut closure = start.clone();
    let mut pending: Vec<usize> = start.iter().copied().collect();
    while let Some(next) = pending.pop() {
        if let Some(jump) = jumps.get(next) {
            for &dep in &jump.after {
                if closure.insert(dep) {
                    pending.push(dep);
                }
            }
        }
    }
    closure
}

/// Jump indices ordered so each comes after the jumps it waits for (cycles, which a valid
/// supergraph should not produce, are broken in index order).
fn dependency_order(jumps: &[Jump]) -> Vec<usize> {
    let mut order = Vec::with_capacity(jumps.len());
    let mut placed = vec![false; jumps.len()];
    while order.len() < jumps.len() {
        let ready = (0..jumps.len()).find(|&i| {
            !placed[i]
                && jumps[i]
                    .after
                    .iter()
                    .all(|&a| a >= jumps.len() || placed[a] || a == i)
        });
        let next = ready.unwrap_or_else(|| (0..jumps.len()).find(|&i| !placed[i]).unwrap_or(0));
        placed[next] = true;
        order.push(next);
    }
    order
}
