//! Interfaces and unions: an abstract level is expanded into one fragment per object type the
//! subgraph may return (narrowed below shareable paths to the members every candidate
//! subgraph knows), and an interface a subgraph knows only as an `@interfaceObject` gets its
//! real `__typename` and type-specific fragments from a subgraph that owns it.

use super::context::FetchContext;
use super::level::SelectionPlanner;
use super::operation::{FieldSel, FragmentSel, Sel};
use super::selections::{push_flattened, typename_sel};
use super::types::{PathSeg, PlanError};
use crate::supergraph::{GraphId, Supergraph};
use apollo_compiler::Name;

impl SelectionPlanner<'_> {
    /// Expands an abstract selection into one fragment per object type `graph` may return.
    pub(super) fn plan_abstract_level(
        &self,
        cx: &mut FetchContext,
        graph: GraphId,
        parent_type: &Name,
        selections: &[Sel],
        path: &[PathSeg],
        provided: Option<&[Sel]>,
    ) -> Result<Vec<Sel>, PlanError> {
        let mut out = vec![typename_sel()];
        let possible = self.safe_possible_types(cx, graph, parent_type);
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
                            cx,
                            graph,
                            parent_type,
                            selection.clone(),
                            Some(field),
                            path,
                            provided,
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
            let previous = cx.set_ancestor_child_type(&object);
            let inner = self.plan_level(cx, graph, &object, &applicable, path, provided);
            if let Some(previous) = previous {
                cx.set_ancestor_child_type(&previous);
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
        self.alias_conflicting_fields(cx, graph, path, &mut out);
        Ok(out)
    }

    /// The object types to expand an abstract level into. Below a shareable path that
    /// several subgraphs could resolve from the nearest entity, only the members all of them
    /// know are safe (another plan could have taken the path through any of them).
    fn safe_possible_types(
        &self,
        cx: &FetchContext,
        graph: GraphId,
        abstract_type: &Name,
    ) -> Vec<Name> {
        let sg = self.supergraph;
        let possible = sg.possible_types_in_graph(graph, abstract_type);
        let ancestry = &cx.ancestry;
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

    /// A level whose type is an interface that `graph` knows only as an `@interfaceObject`:
    /// the subgraph returns objects typed as the interface, so the real `__typename` and
    /// type-specific fragments come from a subgraph that owns the interface.
    pub(super) fn plan_interface_object_level(
        &self,
        cx: &mut FetchContext,
        graph: GraphId,
        interface: &Name,
        selections: &[Sel],
        path: &[PathSeg],
        provided: Option<&[Sel]>,
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
                    cx,
                    graph,
                    interface,
                    selection.clone(),
                    None,
                    path,
                    provided,
                    &mut out,
                )?;
                continue;
            }
            match selection {
                Sel::Field(field) => {
                    self.plan_field(cx, graph, interface, field, path, provided, &mut out)?
                }
                Sel::Fragment(fragment) => {
                    let inner = self.plan_interface_object_level(
                        cx,
                        graph,
                        interface,
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
