//! What planning one fetch carries from level to level, passed down by `&mut`: the entity
//! jumps found so far, the fields walked from the top of the fetch (for keyless types reached
//! through an ancestor), internal aliases, and the guards against runaway requirements.

use super::operation::{FieldSel, Sel};
use super::types::{PathSeg, Rename, RepresentationSpec, ResponsePath};
use crate::supergraph::GraphId;
use apollo_compiler::Name;
use indexmap::IndexMap;
use std::collections::{BTreeSet, HashMap};

/// Fields of one fetch that must be resolved in another subgraph through `_entities`.
pub(super) struct Jump {
    pub graph: GraphId,
    pub path: ResponsePath,
    /// Client fields to resolve, per type condition in the target subgraph.
    pub fields: IndexMap<Name, Vec<Sel>>,
    /// Representation (`__typename`, key, `@requires`), per `__typename` found in the data.
    pub representations: IndexMap<Name, RepresentationSpec>,
    /// Other jumps (of the same parent fetch) that must land first.
    pub after: BTreeSet<usize>,
    /// Context revision of the last change, to see which jumps a step touched.
    pub revision: usize,
}

/// A field on the way from the top of the fetch down to the level being planned.
#[derive(Clone)]
pub(super) struct Ancestor {
    pub parent_type: Name,
    /// Response path of the object holding `field`.
    pub parent_path: ResponsePath,
    pub field: FieldSel,
    /// The type the level below was planned as (a concrete type when the field is abstract).
    pub child_type: Name,
}

/// Maximum nesting of key/requirement planning, to stop on cyclic requirements.
pub(super) const MAX_REQUIREMENT_DEPTH: usize = 16;

pub(super) struct FetchContext<'r> {
    /// Entity jumps out of this fetch.
    pub jumps: Vec<Jump>,
    /// Fields from the top of the fetch down to the current level: lets a field of a keyless
    /// type be fetched through an ancestor entity (or the root) in another subgraph.
    pub ancestry: Vec<Ancestor>,
    /// Key fields to add to the selection of ancestor `i`'s parent object.
    pub pending_keys: HashMap<usize, Vec<Sel>>,
    /// Planning a root query fetch: re-entering from the root is allowed.
    pub root_query: bool,
    /// True while planning the top level of an entity fetch: there, `@requires` fields are
    /// resolved from the representation instead of needing another jump.
    pub at_entity_root: bool,
    /// Nesting of key/requirement planning.
    pub requirement_depth: usize,
    /// Internal aliases introduced while planning this fetch.
    pub renames: Vec<Rename>,
    /// Root selections to send to other subgraphs (re-entries), by subgraph; shared by every
    /// fetch of the plan.
    pub reentries: &'r mut IndexMap<GraphId, Vec<Sel>>,
    /// Counter behind `Jump::revision`.
    revision: usize,
}

impl<'r> FetchContext<'r> {
    /// For a root fetch (`root_query`: of a query, where re-entries are allowed).
    pub fn root(root_query: bool, reentries: &'r mut IndexMap<GraphId, Vec<Sel>>) -> Self {
        Self::new(root_query, false, reentries)
    }

    /// For one type condition of an entity fetch.
    pub fn entity(reentries: &'r mut IndexMap<GraphId, Vec<Sel>>) -> Self {
        Self::new(false, true, reentries)
    }

    fn new(
        root_query: bool,
        at_entity_root: bool,
        reentries: &'r mut IndexMap<GraphId, Vec<Sel>>,
    ) -> Self {
        FetchContext {
            jumps: Vec::new(),
            ancestry: Vec::new(),
            pending_keys: HashMap::new(),
            root_query,
            at_entity_root,
            requirement_depth: 0,
            renames: Vec::new(),
            reentries,
            revision: 0,
        }
    }

    /// The current revision: jumps touched after this have a greater one.
    pub fn revision(&self) -> usize {
        self.revision
    }

    /// The jump to `target` at `path` to add to (an existing one `reusable` allows, or a new
    /// one), marked as touched now.
    pub fn jump_slot(
        &mut self,
        target: GraphId,
        path: &[PathSeg],
        reusable: impl Fn(usize) -> bool,
    ) -> usize {
        let existing = self
            .jumps
            .iter()
            .enumerate()
            .position(|(i, j)| j.graph == target && j.path == path && reusable(i));
        let index = existing.unwrap_or_else(|| {
            self.jumps.push(Jump {
                graph: target,
                path: path.to_vec(),
                fields: IndexMap::new(),
                representations: IndexMap::new(),
                after: BTreeSet::new(),
                revision: 0,
            });
            self.jumps.len() - 1
        });
        self.revision += 1;
        self.jumps[index].revision = self.revision;
        index
    }

    /// Records that the level below is planned under `field`; returns its ancestry index.
    pub fn push_ancestor(
        &mut self,
        parent_type: &Name,
        parent_path: &[PathSeg],
        field: &FieldSel,
        child_type: &Name,
    ) -> usize {
        self.ancestry.push(Ancestor {
            parent_type: parent_type.clone(),
            parent_path: parent_path.to_vec(),
            field: FieldSel {
                selections: Vec::new(),
                ..field.clone()
            },
            child_type: child_type.clone(),
        });
        self.ancestry.len() - 1
    }

    /// Leaves the level; returns key fields a deeper jump asked this parent object for.
    pub fn pop_ancestor(&mut self, level: usize) -> Vec<Sel> {
        self.ancestry.truncate(level);
        self.pending_keys.remove(&level).unwrap_or_default()
    }

    /// Changes the type the innermost level is planned as; returns the previous one.
    pub fn set_ancestor_child_type(&mut self, child_type: &Name) -> Option<Name> {
        let last = self.ancestry.last_mut()?;
        Some(std::mem::replace(&mut last.child_type, child_type.clone()))
    }
}

/// `start` and every jump those wait for, transitively.
pub(super) fn dependency_closure(jumps: &[Jump], start: &BTreeSet<usize>) -> BTreeSet<usize> {
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
