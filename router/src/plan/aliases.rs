//! Internal aliases (`_looma_*`), for selections a subgraph would otherwise reject or
//! confuse: sibling fragments selecting one response key with different types, and
//! `@requires` fields with arguments that may clash with the client's own selection of the
//! field. The executor renames them back when it merges results (`Rename`).

use super::context::FetchContext;
use super::level::SelectionPlanner;
use super::operation::{FieldSel, Sel};
use super::types::{PathSeg, Rename};
use crate::supergraph::GraphId;
use apollo_compiler::Name;
use std::collections::HashMap;

impl SelectionPlanner<'_> {
    /// Sibling fragments may select the same response key with different types in this
    /// subgraph (`User.id: ID!` next to `Admin.id: ID`), which the subgraph would reject.
    /// Later occurrences get an internal alias, renamed back when the result is merged.
    pub(super) fn alias_conflicting_fields(
        &self,
        cx: &mut FetchContext,
        graph: GraphId,
        path: &[PathSeg],
        selections: &mut [Sel],
    ) {
        let mut seen: HashMap<Name, String> = HashMap::new();
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
                            cx.renames.push(Rename {
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
}

/// A required field with arguments may clash with the client's own selection of that field
/// with other arguments: it is fetched under an alias derived from its arguments (FNV-1a, so
/// the same requirement always gets the same alias).
pub(super) fn alias_requirement_with_arguments(required: &mut FieldSel) {
    if required.arguments.is_empty() {
        return;
    }
    let arguments: String = required
        .arguments
        .iter()
        .map(|a| format!("{}:{}", a.name, a.value))
        .collect::<Vec<_>>()
        .join(",");
    let digest = arguments.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    required.alias = Name::new(&format!("_looma_requires_{}_{digest:x}", required.name)).ok();
}
