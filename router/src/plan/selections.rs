//! Small helpers on planned selection lists: merging, wrapping in fragments, response paths,
//! and field lookups in `@provides`/key field sets.

use super::operation::{FieldSel, FragmentSel, Sel};
use super::types::{PathSeg, ResponsePath};
use crate::supergraph::Supergraph;
use apollo_compiler::ast;

pub(super) fn typename_sel() -> Sel {
    Sel::Field(FieldSel::typename())
}

/// Adds the planned inner selections of `fragment`: inlined when the fragment has no
/// conditions, kept under a condition-only fragment otherwise.
pub(super) fn push_flattened(out: &mut Vec<Sel>, fragment: &FragmentSel, inner: Vec<Sel>) {
    if fragment.directives.is_empty() {
        merge_into(out, inner);
    } else {
        out.push(Sel::Fragment(FragmentSel {
            type_condition: None,
            directives: fragment.directives.clone(),
            selections: inner,
        }));
    }
}

/// Pushes `selection` wrapped in copies of `wrappers` (outermost first).
pub(super) fn push_wrapped(target: &mut Vec<Sel>, wrappers: &[&FragmentSel], selection: Sel) {
    let mut wrapped = selection;
    for wrapper in wrappers.iter().rev() {
        wrapped = Sel::Fragment(FragmentSel {
            type_condition: wrapper.type_condition.clone(),
            directives: wrapper.directives.clone(),
            selections: vec![wrapped],
        });
    }
    target.push(wrapped);
}

/// The response path below `field`: its key, then one list step per list wrapper.
pub(super) fn child_path(path: &[PathSeg], field: &FieldSel) -> ResponsePath {
    let mut child = path.to_vec();
    child.push(PathSeg::Key(field.response_key().clone()));
    let mut ty = &field.ty;
    while let ast::Type::List(inner) | ast::Type::NonNullList(inner) = ty {
        child.push(PathSeg::List);
        ty = inner;
    }
    child
}

/// The field `name` of a provided selection, looking only into fragments that apply to
/// objects of `object_type`.
pub(super) fn find_provided<'s>(
    supergraph: &Supergraph,
    selections: &'s [Sel],
    object_type: &str,
    name: &str,
) -> Option<&'s FieldSel> {
    selections.iter().find_map(|s| match s {
        Sel::Field(f) if f.name == name => Some(f),
        Sel::Fragment(fragment)
            if fragment
                .type_condition
                .as_ref()
                .is_none_or(|c| supergraph.satisfies(object_type, c) || c == object_type) =>
        {
            find_provided(supergraph, &fragment.selections, object_type, name)
        }
        _ => None,
    })
}

pub(super) fn find_field<'s>(selections: &'s [Sel], name: &str) -> Option<&'s FieldSel> {
    selections.iter().find_map(|s| match s {
        Sel::Field(f) if f.name == name => Some(f),
        Sel::Fragment(fragment) => find_field(&fragment.selections, name),
        _ => None,
    })
}

/// Adds `extra` to `target`, skipping fields already present with the same response key and
/// arguments (merging their sub-selections).
pub(super) fn merge_into(target: &mut Vec<Sel>, extra: Vec<Sel>) {
    for selection in extra {
        match selection {
            Sel::Field(field) => {
                let existing = target.iter_mut().find_map(|s| match s {
                    Sel::Field(f)
                        if f.response_key() == field.response_key()
                            && f.name == field.name
                            && f.arguments == field.arguments
                            && f.directives == field.directives =>
                    {
                        Some(f)
                    }
                    _ => None,
                });
                match existing {
                    Some(existing) => merge_into(&mut existing.selections, field.selections),
                    None => target.push(Sel::Field(field)),
                }
            }
            fragment => {
                if !target.contains(&fragment) {
                    target.push(fragment);
                }
            }
        }
    }
}
