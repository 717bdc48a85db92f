//! The walk over the client's selections, one level (object) at a time: root fields assigned
//! to subgraphs, and for every field the choice between keeping it in the current fetch and
//! handing it to an entity jump (`entity_jumps`). Abstract levels go to `abstract_types`.

use super::context::FetchContext;
use super::operation::{self, FieldSel, FragmentSel, Sel};
use super::selections::{
    child_path, find_field, find_provided, merge_into, push_flattened, push_wrapped, typename_sel,
};
use super::types::{PathSeg, PlanError};
use crate::supergraph::{GraphId, Supergraph};
use apollo_compiler::Name;
use apollo_compiler::ast::OperationType;

/// Plans selections against one supergraph; all per-fetch state lives in the
/// [`FetchContext`] passed down.
#[derive(Clone, Copy)]
pub(super) struct SelectionPlanner<'a> {
    pub supergraph: &'a Supergraph,
}

fn is_meta_root_field(name: &str) -> bool {
    matches!(name, "__typename" | "__schema" | "__type")
}

impl SelectionPlanner<'_> {
    /// Assigns root fields to subgraphs, keeping fragment wrappers (and their conditions).
    /// Query fields prefer a subgraph already chosen; mutations keep their order, starting a
    /// new group whenever the subgraph changes.
    pub fn split_root(
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
    pub fn coverage(
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

    /// The selections subgraph `graph` should execute for `selections` on `parent_type`,
    /// recording jumps (in `cx`) for the fields it cannot resolve.
    pub fn plan_level(
        &self,
        cx: &mut FetchContext,
        graph: GraphId,
        parent_type: &Name,
        selections: &[Sel],
        path: &[PathSeg],
        provided: Option<&[Sel]>,
    ) -> Result<Vec<Sel>, PlanError> {
        if self.supergraph.is_abstract(parent_type) {
            if self.supergraph.is_interface_object_in(graph, parent_type) {
                return self.plan_interface_object_level(
                    cx,
                    graph,
                    parent_type,
                    selections,
                    path,
                    provided,
                );
            }
            return self.plan_abstract_level(cx, graph, parent_type, selections, path, provided);
        }
        let mut out: Vec<Sel> = Vec::new();
        for selection in selections {
            match selection {
                Sel::Field(field) => {
                    self.plan_field(cx, graph, parent_type, field, path, provided, &mut out)?
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
                        cx,
                        graph,
                        parent_type,
                        &fragment.selections,
                        path,
                        provided,
                    )?;
                    push_flattened(&mut out, fragment, inner);
                }
            }
        }
        Ok(out)
    }

    /// Keeps `field` in this fetch when `graph` resolves it here, otherwise jumps.
    #[allow(clippy::too_many_arguments)]
    pub fn plan_field(
        &self,
        cx: &mut FetchContext,
        graph: GraphId,
        parent_type: &Name,
        field: &FieldSel,
        path: &[PathSeg],
        provided: Option<&[Sel]>,
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
        // Only the entity's own fields are at the entity root; everything below is not.
        let at_entity_root = std::mem::replace(&mut cx.at_entity_root, false);
        let local = (self
            .supergraph
            .graph_resolves_field(graph, parent_type, &field.name)
            && (!requires_here || at_entity_root))
            || provided_field.is_some();
        let outcome = if local {
            self.keep_field(cx, graph, parent_type, field, path, provided_field, out)
        } else {
            self.jump_for(
                cx,
                graph,
                parent_type,
                Sel::Field(field.clone()),
                Some(field),
                path,
                provided,
                out,
            )
        };
        cx.at_entity_root = at_entity_root;
        outcome
    }

    /// A field resolved in this fetch, with its sub-selection planned below it.
    #[allow(clippy::too_many_arguments)]
    fn keep_field(
        &self,
        cx: &mut FetchContext,
        graph: GraphId,
        parent_type: &Name,
        field: &FieldSel,
        path: &[PathSeg],
        provided_field: Option<&FieldSel>,
        out: &mut Vec<Sel>,
    ) -> Result<(), PlanError> {
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
            let level = cx.push_ancestor(parent_type, path, field, &child_type);
            let inner = self.plan_level(
                cx,
                graph,
                &child_type,
                &field.selections,
                &child_path,
                child_provided.as_deref(),
            );
            let keys = cx.pop_ancestor(level);
            merge_into(out, keys);
            let mut inner = inner?;
            if !inner
                .iter()
                .any(|s| matches!(s, Sel::Field(f) if f.name == "__typename" && f.alias.is_none()))
            {
                inner.insert(0, typename_sel());
            }
            planned.selections = inner;
        }
        out.push(Sel::Field(planned));
        Ok(())
    }

    /// Whether `graph` can select every field of `selections` on `type_name` itself.
    pub fn provides_directly(
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
