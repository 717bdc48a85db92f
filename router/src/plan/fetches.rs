//! Fetch drafts and their order: a root fetch per group of root fields, then for every jump
//! an `_entities` fetch that depends on its parent fetch and on the fetches (with everything
//! after them) that provide its keys and requirements.

use super::MAX_JUMP_DEPTH;
use super::context::{FetchContext, Jump};
use super::level::SelectionPlanner;
use super::operation::{FragmentSel, Sel};
use super::selections::typename_sel;
use super::types::{PlanError, Rename, RepresentationSpec, ResponsePath};
use crate::supergraph::{GraphId, Supergraph};
use apollo_compiler::Name;
use apollo_compiler::ast::OperationType;
use indexmap::IndexMap;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

/// A fetch being planned; rendered into a [`super::Fetch`] once the plan is complete.
pub(super) struct Draft {
    pub graph: GraphId,
    /// Only fetches created earlier: ids grow along every dependency.
    pub depends_on: BTreeSet<usize>,
    pub kind: DraftKind,
    pub selections: Vec<Sel>,
    /// Entity jumps between this fetch and the root.
    depth: usize,
    pub renames: Vec<Rename>,
}

pub(super) enum DraftKind {
    Root(OperationType),
    Entity {
        path: ResponsePath,
        representations: IndexMap<Name, RepresentationSpec>,
    },
}

/// The drafts of one plan, in creation order (their ids).
pub(super) struct PlanBuilder<'a> {
    supergraph: &'a Supergraph,
    pub drafts: Vec<Draft>,
    /// Root selections to send to other subgraphs (re-entries), by subgraph.
    pub reentries: IndexMap<GraphId, Vec<Sel>>,
}

impl<'a> PlanBuilder<'a> {
    pub fn new(supergraph: &'a Supergraph) -> Self {
        PlanBuilder {
            supergraph,
            drafts: Vec::new(),
            reentries: IndexMap::new(),
        }
    }

    fn push(&mut self, draft: Draft) -> usize {
        let id = self.drafts.len();
        debug_assert!(draft.depends_on.iter().all(|&d| d < id));
        self.drafts.push(draft);
        id
    }

    /// Adds a root fetch of `selections` (on `root_type`) to `graph`, then the entity fetches
    /// its jumps need.
    pub fn plan_root_fetch(
        &mut self,
        graph: GraphId,
        depends_on: BTreeSet<usize>,
        kind: OperationType,
        root_type: &Name,
        selections: &[Sel],
    ) -> Result<(), PlanError> {
        let fetch_id = self.push(Draft {
            graph,
            depends_on,
            kind: DraftKind::Root(kind),
            selections: Vec::new(),
            depth: 0,
            renames: Vec::new(),
        });
        let planner = SelectionPlanner {
            supergraph: self.supergraph,
        };
        let mut cx = FetchContext::root(kind == OperationType::Query, &mut self.reentries);
        let planned = planner.plan_level(&mut cx, graph, root_type, selections, &[], None);
        let FetchContext { jumps, renames, .. } = cx;
        self.drafts[fetch_id].renames.extend(renames);
        self.drafts[fetch_id].selections = planned?;
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
        let planner = SelectionPlanner {
            supergraph: self.supergraph,
        };
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
            let id = self.push(Draft {
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
                let mut cx = FetchContext::entity(&mut self.reentries);
                let planned =
                    planner.plan_level(&mut cx, jump.graph, type_name, fields, &jump.path, None);
                let FetchContext {
                    jumps: inner_jumps,
                    renames,
                    ..
                } = cx;
                self.drafts[id].renames.extend(renames);
                self.drafts[id].selections.push(Sel::Fragment(FragmentSel {
                    type_condition: Some(type_name.clone()),
                    directives: Vec::new(),
                    selections: planned?,
                }));
                self.create_jump_fetches(id, inner_jumps)?;
            }
        }
        Ok(())
    }

    /// Fetches that (transitively) depend on `fetch`. A draft depends only on drafts created
    /// before it, so one pass in creation order meets every dependency before its dependents.
    fn descendants(&self, fetch: usize) -> Vec<usize> {
        let mut reached = vec![false; self.drafts.len()];
        reached[fetch] = true;
        let mut found = Vec::new();
        for (id, draft) in self.drafts.iter().enumerate().skip(fetch + 1) {
            if draft.depends_on.iter().any(|&d| reached[d]) {
                reached[id] = true;
                found.push(id);
            }
        }
        found
    }
}

/// Jump indices ordered so each comes after the jumps it waits for, the lowest ready index
/// first (Kahn's algorithm). Cycles, which a valid supergraph should not produce, are broken
/// in index order.
fn dependency_order(jumps: &[Jump]) -> Vec<usize> {
    let count = jumps.len();
    let mut waiting_on = vec![0usize; count];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (index, jump) in jumps.iter().enumerate() {
        for &before in jump.after.iter().filter(|&&a| a < count && a != index) {
            waiting_on[index] += 1;
            dependents[before].push(index);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..count)
        .filter(|&i| waiting_on[i] == 0)
        .map(Reverse)
        .collect();
    let mut placed = vec![false; count];
    let mut order = Vec::with_capacity(count);
    while order.len() < count {
        let next = match ready.pop() {
            Some(Reverse(next)) => next,
            None => (0..count).find(|&i| !placed[i]).unwrap_or(0),
        };
        placed[next] = true;
        order.push(next);
        for &dependent in &dependents[next] {
            waiting_on[dependent] -= 1;
            if waiting_on[dependent] == 0 && !placed[dependent] {
                ready.push(Reverse(dependent));
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PathSeg;

    fn jump(after: &[usize]) -> Jump {
        Jump {
            graph: 0,
            path: vec![PathSeg::List],
            fields: IndexMap::new(),
            representations: IndexMap::new(),
            after: after.iter().copied().collect(),
            revision: 0,
        }
    }

    #[test]
    fn jumps_come_after_what_they_wait_for_lowest_index_first() {
        let jumps = [jump(&[2]), jump(&[]), jump(&[1]), jump(&[])];
        assert_eq!(dependency_order(&jumps), [1, 2, 0, 3]);
    }

    #[test]
    fn cycles_are_broken_in_index_order() {
        let jumps = [jump(&[1]), jump(&[0]), jump(&[0, 9])];
        assert_eq!(dependency_order(&jumps), [0, 1, 2]);
    }
}
