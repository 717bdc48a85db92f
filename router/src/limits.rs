//! Operation limits checked on the parsed document, before validation and planning, so that a
//! hostile operation costs the router microseconds rather than seconds.
//!
//! Fragment spreads are what make a small text large: `fragment F1 on Query { ...F0 ...F0 }`
//! doubles with every level, so 30 levels in under a kilobyte describe a billion fields. Every
//! measure here is therefore computed once per fragment (memoised) and combined with saturating
//! arithmetic: the cost of the check is linear in the text, whatever the text expands to.
//! Validation (field merging across fragments) and normalisation only ever see documents whose
//! expanded size is under `router.max_expanded_selections`.

use apollo_compiler::Name;
use apollo_compiler::ast::{Definition, Document, Selection};
use std::collections::HashMap;

/// What one selection set amounts to once every fragment spread is expanded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpandedShape {
    /// Fields, counting each spread of a fragment in full (before field merging).
    pub selections: u64,
    /// Deepest field nesting (a leaf field is 1).
    pub depth: u64,
    /// Aliased fields, counted like `selections`.
    pub aliases: u64,
}

impl ExpandedShape {
    fn add(self, other: ExpandedShape) -> ExpandedShape {
        ExpandedShape {
            selections: self.selections.saturating_add(other.selections),
            depth: self.depth.max(other.depth),
            aliases: self.aliases.saturating_add(other.aliases),
        }
    }
}

/// The limits this module enforces.
#[derive(Clone, Copy, Debug)]
pub struct DocumentLimits {
    pub max_depth: usize,
    pub max_aliases: usize,
    pub max_expanded_selections: usize,
}

/// An operation (or fragment) over a limit; the message names the measure and the limit.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitExceeded {
    #[error(
        "{subject} expands to {actual} field selections through its fragments; the limit is {limit}"
    )]
    ExpandedSize {
        subject: String,
        actual: u64,
        limit: usize,
    },
    #[error("{subject} is {actual} levels deep; the limit is {limit}")]
    Depth {
        subject: String,
        actual: u64,
        limit: usize,
    },
    #[error("{subject} uses {actual} aliases; the limit is {limit}")]
    Aliases {
        subject: String,
        actual: u64,
        limit: usize,
    },
}

enum Memo {
    InProgress,
    Done(ExpandedShape),
}

struct Measure<'a> {
    fragments: HashMap<&'a Name, &'a [Selection]>,
    memo: HashMap<&'a Name, Memo>,
}

impl<'a> Measure<'a> {
    fn selection_set(&mut self, selections: &'a [Selection]) -> ExpandedShape {
        let mut shape = ExpandedShape::default();
        for selection in selections {
            let inner = match selection {
                Selection::Field(field) => {
                    let below = self.selection_set(&field.selection_set);
                    ExpandedShape {
                        selections: below.selections.saturating_add(1),
                        depth: below.depth.saturating_add(1),
                        aliases: below
                            .aliases
                            .saturating_add(u64::from(field.alias.is_some())),
                    }
                }
                Selection::InlineFragment(fragment) => self.selection_set(&fragment.selection_set),
                Selection::FragmentSpread(spread) => self.fragment(&spread.fragment_name),
            };
            shape = shape.add(inner);
        }
        shape
    }

    fn fragment(&mut self, name: &'a Name) -> ExpandedShape {
        match self.memo.get(name) {
            Some(Memo::Done(shape)) => return *shape,
            // A cycle: validation rejects it; count nothing here so the check terminates.
            Some(Memo::InProgress) => return ExpandedShape::default(),
            None => {}
        }
        // An unknown fragment is a validation error too.
        let Some(selections) = self.fragments.get(name).copied() else {
            return ExpandedShape::default();
        };
        self.memo.insert(name, Memo::InProgress);
        let shape = self.selection_set(selections);
        self.memo.insert(name, Memo::Done(shape));
        shape
    }
}

/// Measures every operation and fragment of `document` and refuses the first one over a
/// limit. Fragments are measured even when no operation uses them: validation would otherwise
/// pay for an unused bomb before rejecting it as unused.
pub fn check_document(document: &Document, limits: &DocumentLimits) -> Result<(), LimitExceeded> {
    let mut measure = Measure {
        fragments: HashMap::new(),
        memo: HashMap::new(),
    };
    for definition in &document.definitions {
        if let Definition::FragmentDefinition(fragment) = definition {
            measure
                .fragments
                .entry(&fragment.name)
                .or_insert(&fragment.selection_set);
        }
    }
    let max_size = limits.max_expanded_selections as u64;
    for definition in &document.definitions {
        let (subject, shape, is_operation) = match definition {
            Definition::OperationDefinition(operation) => {
                let subject = match &operation.name {
                    Some(name) => format!("operation `{name}`"),
                    None => "the operation".to_owned(),
                };
                (
                    subject,
                    measure.selection_set(&operation.selection_set),
                    true,
                )
            }
            Definition::FragmentDefinition(fragment) => (
                format!("fragment `{}`", fragment.name),
                measure.fragment(&fragment.name),
                false,
            ),
            _ => continue,
        };
        if shape.selections > max_size {
            return Err(LimitExceeded::ExpandedSize {
                subject,
                actual: shape.selections,
                limit: limits.max_expanded_selections,
            });
        }
        if !is_operation {
            continue;
        }
        if shape.depth > limits.max_depth as u64 {
            return Err(LimitExceeded::Depth {
                subject,
                actual: shape.depth,
                limit: limits.max_depth,
            });
        }
        if shape.aliases > limits.max_aliases as u64 {
            return Err(LimitExceeded::Aliases {
                subject,
                actual: shape.aliases,
                limit: limits.max_aliases,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: DocumentLimits = DocumentLimits {
        max_depth: 8,
        max_aliases: 3,
        max_expanded_selections: 1_000,
    };

    fn check(text: &str) -> Result<(), LimitExceeded> {
        let document = Document::parse(text, "op.graphql").expect("parses");
        check_document(&document, &LIMITS)
    }

    /// `query{...Fn}` where every fragment spreads the previous one twice.
    pub(crate) fn fragment_bomb(levels: usize) -> String {
        let mut text = format!("query{{...F{levels}}} fragment F0 on Query{{__typename me{{id}}}}");
        for level in 1..=levels {
            let previous = level - 1;
            text.push_str(&format!(
                " fragment F{level} on Query{{...F{previous} ...F{previous}}}"
            ));
        }
        text
    }

    #[test]
    fn a_fragment_bomb_is_measured_without_expanding_it() {
        let started = std::time::Instant::now();
        let error = check(&fragment_bomb(60)).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        match error {
            LimitExceeded::ExpandedSize { actual, limit, .. } => {
                assert!(actual > 1_000_000_000, "{actual}");
                assert_eq!(limit, 1_000);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn small_fan_out_passes_and_counts_exactly() {
        // F3 = 2^3 copies of F0's three fields.
        assert!(check(&fragment_bomb(3)).is_ok());
        let document = Document::parse(fragment_bomb(3), "op.graphql").unwrap();
        let mut measure = Measure {
            fragments: HashMap::new(),
            memo: HashMap::new(),
        };
        for definition in &document.definitions {
            if let Definition::FragmentDefinition(f) = definition {
                measure.fragments.insert(&f.name, &f.selection_set);
            }
        }
        let name = Name::new("F3").unwrap();
        assert_eq!(measure.fragment(&name).selections, 8 * 3);
        assert_eq!(measure.fragment(&name).depth, 2);
    }

    #[test]
    fn an_unused_bomb_fragment_is_refused_too() {
        let text = format!(
            "{{ __typename }} {}",
            &fragment_bomb(20)["query{...F20}".len()..]
        );
        assert!(matches!(
            check(&text),
            Err(LimitExceeded::ExpandedSize { ref subject, .. }) if subject.starts_with("fragment")
        ));
    }

    #[test]
    fn depth_and_aliases_follow_spreads() {
        assert!(matches!(
            check("query{...A} fragment A on Query{a{b{c{d{e{f{g{h{i}}}}}}}}}"),
            Err(LimitExceeded::Depth { actual: 9, .. })
        ));
        assert!(matches!(
            check("query Q{...A ...A} fragment A on Query{x:a y:a}"),
            Err(LimitExceeded::Aliases { actual: 4, ref subject, .. }) if subject == "operation `Q`"
        ));
        assert!(check("query{x:a y:a z:a}").is_ok());
    }

    #[test]
    fn cycles_and_unknown_fragments_terminate() {
        assert!(check("query{...A} fragment A on Query{...B} fragment B on Query{...A x}").is_ok());
        assert!(check("query{...Missing}").is_ok());
    }
}
