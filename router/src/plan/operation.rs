//! The router's own form of a client operation: fragments inlined, every field annotated with
//! its type, only `@skip`/`@include` kept. Planning, rendering and response shaping all work on
//! this form.

use apollo_compiler::ast::{self, OperationType};
use apollo_compiler::executable::{self, ExecutableDocument, Selection};
use apollo_compiler::{Name, Node};
use std::fmt::Write;

#[derive(Clone, Debug, PartialEq)]
pub enum Sel {
    Field(FieldSel),
    Fragment(FragmentSel),
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldSel {
    pub alias: Option<Name>,
    pub name: Name,
    pub arguments: Vec<Node<ast::Argument>>,
    /// `@skip` / `@include` only.
    pub directives: Vec<Node<ast::Directive>>,
    /// The field's type (in the supergraph; `String!` for `__typename`).
    pub ty: ast::Type,
    pub selections: Vec<Sel>,
}

impl FieldSel {
    pub fn response_key(&self) -> &Name {
        self.alias.as_ref().unwrap_or(&self.name)
    }

    /// A plain field without alias, arguments or directives (for keys and requirements).
    pub fn plain(name: Name, ty: ast::Type, selections: Vec<Sel>) -> Self {
        FieldSel {
            alias: None,
            name,
            arguments: Vec::new(),
            directives: Vec::new(),
            ty,
            selections,
        }
    }

    pub fn typename() -> Self {
        FieldSel::plain(
            apollo_compiler::name!("__typename"),
            ast::Type::NonNullNamed(apollo_compiler::name!("String")),
            Vec::new(),
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FragmentSel {
    pub type_condition: Option<Name>,
    pub directives: Vec<Node<ast::Directive>>,
    pub selections: Vec<Sel>,
}

/// A client operation ready to plan.
#[derive(Clone, Debug)]
pub struct NormalizedOperation {
    pub kind: OperationType,
    pub name: Option<Name>,
    pub root_type: Name,
    pub variables: Vec<Node<ast::VariableDefinition>>,
    pub selections: Vec<Sel>,
}

/// Whether literal `@skip(if: true)` / `@include(if: false)` excludes a selection for every
/// request (variable conditions are decided per request).
fn statically_excluded(directives: &executable::DirectiveList) -> bool {
    directives.iter().any(|d| {
        let literal = d
            .specified_argument_by_name("if")
            .and_then(|v| match v.as_ref() {
                ast::Value::Boolean(b) => Some(*b),
                _ => None,
            });
        matches!(
            (d.name.as_str(), literal),
            ("skip", Some(true)) | ("include", Some(false))
        )
    })
}

fn condition_directives(directives: &executable::DirectiveList) -> Vec<Node<ast::Directive>> {
    directives
        .iter()
        .filter(|d| d.name == "skip" || d.name == "include")
        .cloned()
        .collect()
}

/// Converts the chosen operation of a validated document.
///
/// Fields are merged as GraphQL execution merges them (same response key and the same
/// `@skip`/`@include` conditions → one field whose selections are the union), fragments whose
/// type condition is the enclosing type are flattened into it, and identical neighbouring
/// fragments become one. A document that spreads one fragment 2^n times therefore normalises
/// to the size of its distinct fields, not to 2^n copies (`limits` bounds the work first).
pub fn normalize(
    document: &ExecutableDocument,
    operation: &executable::Operation,
) -> NormalizedOperation {
    NormalizedOperation {
        kind: operation.operation_type,
        name: operation.name.clone(),
        root_type: operation.selection_set.ty.clone(),
        variables: operation.variables.clone(),
        selections: convert(document, &[&operation.selection_set]),
    }
}

/// Selections of one level while they are being grouped, before conversion.
enum Group<'d> {
    Field {
        field: &'d executable::Field,
        directives: Vec<Node<ast::Directive>>,
        sets: Vec<&'d executable::SelectionSet>,
    },
    Fragment {
        type_condition: Option<Name>,
        directives: Vec<Node<ast::Directive>>,
        sets: Vec<&'d executable::SelectionSet>,
    },
}

#[derive(Default)]
struct Grouping<'d> {
    groups: Vec<Group<'d>>,
    /// (response key, rendered conditions) → index in `groups`.
    fields: std::collections::HashMap<(Name, String), usize>,
}

fn render_directives(directives: &[Node<ast::Directive>]) -> String {
    let mut out = String::new();
    for directive in directives {
        let _ = write!(out, " {directive}");
    }
    out
}

impl<'d> Grouping<'d> {
    fn collect(&mut self, document: &'d ExecutableDocument, set: &'d executable::SelectionSet) {
        for selection in &set.selections {
            if statically_excluded(selection.directives()) {
                continue;
            }
            match selection {
                Selection::Field(field) => {
                    let directives = condition_directives(&field.directives);
                    let key = (field.response_key().clone(), render_directives(&directives));
                    match self.fields.get(&key) {
                        Some(&index) => {
                            if let Group::Field { sets, .. } = &mut self.groups[index] {
                                sets.push(&field.selection_set);
                            }
                        }
                        None => {
                            self.fields.insert(key, self.groups.len());
                            self.groups.push(Group::Field {
                                field,
                                directives,
                                sets: vec![&field.selection_set],
                            });
                        }
                    }
                }
                Selection::InlineFragment(fragment) => self.fragment(
                    document,
                    &set.ty,
                    fragment.type_condition.clone(),
                    condition_directives(&fragment.directives),
                    &fragment.selection_set,
                ),
                Selection::FragmentSpread(spread) => {
                    if let Some(definition) = document.fragments.get(&spread.fragment_name) {
                        self.fragment(
                            document,
                            &set.ty,
                            Some(definition.type_condition().clone()),
                            condition_directives(&spread.directives),
                            &definition.selection_set,
                        );
                    }
                }
            }
        }
    }

    fn fragment(
        &mut self,
        document: &'d ExecutableDocument,
        enclosing: &Name,
        type_condition: Option<Name>,
        directives: Vec<Node<ast::Directive>>,
        set: &'d executable::SelectionSet,
    ) {
        let same_type = type_condition.as_ref().is_none_or(|t| t == enclosing);
        if same_type && directives.is_empty() {
            return self.collect(document, set);
        }
        if let Some(Group::Fragment {
            type_condition: last_condition,
            directives: last_directives,
            sets,
        }) = self.groups.last_mut()
            && *last_condition == type_condition
            && *last_directives == directives
        {
            sets.push(set);
            return;
        }
        self.groups.push(Group::Fragment {
            type_condition,
            directives,
            sets: vec![set],
        });
    }
}

fn convert(document: &ExecutableDocument, sets: &[&executable::SelectionSet]) -> Vec<Sel> {
    let mut grouping = Grouping::default();
    for set in sets {
        grouping.collect(document, set);
    }
    grouping
        .groups
        .into_iter()
        .map(|group| match group {
            Group::Field {
                field,
                directives,
                sets,
            } => Sel::Field(FieldSel {
                alias: field.alias.clone(),
                name: field.name.clone(),
                arguments: field.arguments.clone(),
                directives,
                ty: field.definition.ty.clone(),
                selections: convert(document, &sets),
            }),
            Group::Fragment {
                type_condition,
                directives,
                sets,
            } => Sel::Fragment(FragmentSel {
                type_condition,
                directives,
                selections: convert(document, &sets),
            }),
        })
        .collect()
}

/// Converts a field set (key, `@requires`) parsed against the supergraph.
pub fn from_field_set(selection_set: &executable::SelectionSet) -> Vec<Sel> {
    selection_set
        .selections
        .iter()
        .filter_map(|selection| match selection {
            Selection::Field(field) => Some(Sel::Field(FieldSel {
                alias: None,
                name: field.name.clone(),
                arguments: field.arguments.clone(),
                directives: Vec::new(),
                ty: field.definition.ty.clone(),
                selections: from_field_set(&field.selection_set),
            })),
            Selection::InlineFragment(fragment) => Some(Sel::Fragment(FragmentSel {
                type_condition: fragment.type_condition.clone(),
                directives: Vec::new(),
                selections: from_field_set(&fragment.selection_set),
            })),
            Selection::FragmentSpread(_) => None,
        })
        .collect()
}

/// Writes selections as GraphQL text (`a b: c(x: 1) @include(if: $v) { d }`).
pub fn render(selections: &[Sel], out: &mut String) {
    out.push('{');
    for (i, selection) in selections.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match selection {
            Sel::Field(field) => {
                if let Some(alias) = &field.alias {
                    let _ = write!(out, "{alias}:");
                }
                out.push_str(&field.name);
                if !field.arguments.is_empty() {
                    out.push('(');
                    for (j, argument) in field.arguments.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{}:{}", argument.name, argument.value);
                    }
                    out.push(')');
                }
                for directive in &field.directives {
                    let _ = write!(out, " {directive}");
                }
                if !field.selections.is_empty() {
                    render(&field.selections, out);
                }
            }
            Sel::Fragment(fragment) => {
                out.push_str("...");
                if let Some(condition) = &fragment.type_condition {
                    let _ = write!(out, " on {condition}");
                }
                for directive in &fragment.directives {
                    let _ = write!(out, " {directive}");
                }
                render(&fragment.selections, out);
            }
        }
    }
    out.push('}');
}

/// Names of the variables referenced anywhere in `selections`.
pub fn collect_variables(selections: &[Sel], into: &mut Vec<Name>) {
    fn from_value(value: &ast::Value, into: &mut Vec<Name>) {
        match value {
            ast::Value::Variable(name) if !into.contains(name) => into.push(name.clone()),
            ast::Value::List(items) => items.iter().for_each(|v| from_value(v, into)),
            ast::Value::Object(fields) => fields.iter().for_each(|(_, v)| from_value(v, into)),
            _ => {}
        }
    }
    fn from_directives(directives: &[Node<ast::Directive>], into: &mut Vec<Name>) {
        for directive in directives {
            for argument in &directive.arguments {
                from_value(&argument.value, into);
            }
        }
    }
    for selection in selections {
        match selection {
            Sel::Field(field) => {
                for argument in &field.arguments {
                    from_value(&argument.value, into);
                }
                from_directives(&field.directives, into);
                collect_variables(&field.selections, into);
            }
            Sel::Fragment(fragment) => {
                from_directives(&fragment.directives, into);
                collect_variables(&fragment.selections, into);
            }
        }
    }
}
