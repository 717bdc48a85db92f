//! Entity jumps: a field (or a fragment needing the real `__typename`) the current subgraph
//! cannot resolve moves to another subgraph through `_entities`. The current fetch selects
//! the key (and the `@requires` fields, planned like client fields, possibly through further
//! jumps that must land first); the jump records the representation and the fields to
//! resolve. Fields of keyless value types go through the nearest ancestor entity another
//! subgraph can reach, or (root queries) through a re-entry from the root.

use super::aliases::alias_requirement_with_arguments;
use super::context::{FetchContext, MAX_REQUIREMENT_DEPTH, dependency_closure};
use super::level::SelectionPlanner;
use super::operation::{self, FieldSel, FragmentSel, Sel};
use super::selections::{merge_into, typename_sel};
use super::types::{PathSeg, PlanError, RepresentationSpec};
use crate::supergraph::GraphId;
use apollo_compiler::Name;
use std::collections::BTreeSet;

impl SelectionPlanner<'_> {
    /// For a field of a type `graph` cannot jump from (no key): resolve it through the
    /// nearest ancestor entity another subgraph can reach by key and walk down from, or
    /// failing that (root queries only) from the root. False when neither works.
    fn jump_through_ancestor(
        &self,
        cx: &mut FetchContext,
        graph: GraphId,
        parent_type: &Name,
        field: &FieldSel,
    ) -> bool {
        let sg = self.supergraph;
        if cx.ancestry.is_empty() {
            return false;
        }
        let (ancestry, root_query) = (cx.ancestry.clone(), cx.root_query);
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
                let index = cx.jump_slot(target, &path, |_| true);
                let jump = &mut cx.jumps[index];
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
                merge_into(cx.pending_keys.entry(from).or_default(), key_sels);
                return true;
            }
        }
        if !root_query {
            return false;
        }
        let Some(target) = targets.into_iter().find(|&g| g != graph && walkable(g, 0)) else {
            return false;
        };
        merge_into(cx.reentries.entry(target).or_default(), vec![chain(0)]);
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
    pub(super) fn jump_for(
        &self,
        cx: &mut FetchContext,
        graph: GraphId,
        parent_type: &Name,
        selection: Sel,
        field: Option<&FieldSel>,
        path: &[PathSeg],
        provided: Option<&[Sel]>,
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
                && self.jump_through_ancestor(cx, graph, parent_type, field)
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
                    let already = cx
                        .jumps
                        .iter()
                        .any(|j| j.graph == *target && j.path == path);
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
            && self.jump_through_ancestor(cx, graph, parent_type, field)
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
            if let Sel::Field(required) = required {
                alias_requirement_with_arguments(required);
            }
        }

        // Fetch key and requirements here (possibly through further jumps, which must land
        // before this one).
        let mark = cx.revision();
        let mut needed = key_sels.clone();
        needed.extend(requires.iter().cloned());
        let depth = cx.requirement_depth;
        if depth >= MAX_REQUIREMENT_DEPTH {
            return Err(PlanError::NoKey {
                type_name: parent_type.to_string(),
                field: field_name.unwrap_or("__typename").to_owned(),
                from: self.supergraph.subgraphs[graph].name.clone(),
            });
        }
        cx.requirement_depth = depth + 1;
        let fetched = self.plan_level(cx, graph, parent_type, &needed, path, provided);
        cx.requirement_depth = depth;
        merge_into(out, fetched?);
        let jumps = &cx.jumps;
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
        let index = cx.jump_slot(target, path, |i| usable.get(i).copied().unwrap_or(false));
        let jump = &mut cx.jumps[index];
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
}
