//! Text out of a plan: the operation each subgraph receives, and `describe_fetch` for
//! people (`looma plan`, tests).

use super::fetches::{Draft, DraftKind};
use super::operation::{self, NormalizedOperation};
use super::types::{Fetch, FetchKind, path_to_string};
use crate::supergraph::Supergraph;
use apollo_compiler::Node;
use apollo_compiler::ast::{self, OperationType};

/// A finished draft: its subgraph operation rendered with the client variables it uses,
/// wrapped in `_entities(representations:)` for entity fetches.
pub(super) fn finish(
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
            match kind {
                OperationType::Query => "query",
                OperationType::Mutation => "mutation",
                OperationType::Subscription => "subscription",
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
