//! What a plan is made of: fetches (root or `_entities`), where their results go, how
//! representations are built and which internal aliases to undo. Plain data, shared by the
//! planner, the executor and `looma plan`.

use super::operation::{NormalizedOperation, Sel};
use crate::supergraph::GraphId;
use apollo_compiler::Name;
use indexmap::IndexMap;
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

impl QueryPlan {
    /// A subscription's event source: its root fetch (always the first), to be opened as a
    /// subgraph subscription; the other fetches run on each event. `None` for queries and
    /// mutations.
    pub fn subscription_source(&self) -> Option<&Fetch> {
        if self.operation.kind != apollo_compiler::ast::OperationType::Subscription {
            return None;
        }
        self.fetches
            .first()
            .filter(|f| matches!(f.kind, FetchKind::Root))
    }
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
    #[error(
        "a subscription must select exactly one root field of a subgraph (this one selects {0})"
    )]
    SubscriptionRootField(usize),
    #[error("the plan is too deep (entity jumps nested more than {0} times)")]
    TooDeep(usize),
}
