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
//! Where things are:
//! - [`types`] — the plan itself (`QueryPlan`, `Fetch`, `FetchKind`, `Rename`, `PlanError`);
//! - [`operation`] — the normalized client operation and subgraph operation rendering;
//! - `fetches` — drafts of fetches, their dependencies, and entity fetches created from jumps;
//! - `context` — what planning one fetch carries from level to level (`FetchContext`, `Jump`);
//! - `level` — the walk over selections: root split, coverage, fields kept or jumped;
//! - `entity_jumps` — choosing a target subgraph and key, `@requires`, keyless value types
//!   reached through an ancestor entity or the root;
//! - `abstract_types` — interfaces and unions per subgraph, `@interfaceObject`, narrowing
//!   below shareable paths;
//! - `aliases` — internal `_looma_*` aliases (sibling field clashes, requirements with
//!   arguments);
//! - `selections` — small helpers on selection lists (merging, wrapping, lookups);
//! - `render` — subgraph operation text and `describe_fetch`.
//!
//! A subscription plans like a query whose root fetch is a subscription: fetch 0 streams
//! events from the subgraph owning the root field, and the entity fetches after it run on
//! each event.
//!
//! Pure: no I/O. Plans are cached by the caller and shared between requests.

mod abstract_types;
mod aliases;
mod context;
mod entity_jumps;
mod fetches;
mod level;
pub mod operation;
mod render;
mod selections;
pub mod types;

pub use render::describe_fetch;
pub use types::{
    Fetch, FetchKind, PathSeg, PlanError, QueryPlan, Rename, RepresentationSpec, ResponsePath,
    path_to_string,
};

use crate::supergraph::Supergraph;
use apollo_compiler::ast::OperationType;
use fetches::PlanBuilder;
use level::SelectionPlanner;
use operation::NormalizedOperation;
use std::collections::BTreeSet;

/// How many entity jumps may nest, and how many rounds of root re-entries may follow.
const MAX_JUMP_DEPTH: usize = 64;

/// Plans a normalized operation. Root `__typename` and introspection fields are left to the
/// executor; everything else is assigned to fetches.
pub fn plan_operation(
    supergraph: &Supergraph,
    operation: NormalizedOperation,
) -> Result<QueryPlan, PlanError> {
    let root_type = operation.root_type.clone();
    let groups = SelectionPlanner { supergraph }.split_root(&root_type, &operation.selections)?;
    // A subscription is one root field (validation ensures it): its fetch, the first, is the
    // event source, and every other fetch runs again for each event (`execute::run_event`).
    if operation.kind == OperationType::Subscription && groups.len() != 1 {
        return Err(PlanError::SubscriptionRootField(groups.len()));
    }
    let mut builder = PlanBuilder::new(supergraph);
    let sequential = operation.kind == OperationType::Mutation;
    for (graph, selections) in groups {
        let depends_on = if sequential {
            (0..builder.drafts.len()).collect()
        } else {
            BTreeSet::new()
        };
        builder.plan_root_fetch(graph, depends_on, operation.kind, &root_type, &selections)?;
    }
    // Fields of keyless value types that the chosen subgraph lacks: fetch them from the
    // root again in a subgraph that has them (queries only; each pass may add more).
    for _ in 0..MAX_JUMP_DEPTH {
        let reentries = std::mem::take(&mut builder.reentries);
        if reentries.is_empty() {
            break;
        }
        for (graph, selections) in reentries {
            builder.plan_root_fetch(
                graph,
                BTreeSet::new(),
                operation.kind,
                &root_type,
                &selections,
            )?;
        }
    }
    let fetches = builder
        .drafts
        .into_iter()
        .enumerate()
        .map(|(id, draft)| render::finish(supergraph, &operation, id, draft))
        .collect();
    Ok(QueryPlan { operation, fetches })
}
