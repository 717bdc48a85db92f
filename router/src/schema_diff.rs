//! What changes between two versions of a subgraph's SDL, and how risky each change is for
//! clients already running operations against it: `BREAKING` (a valid operation may fail or
//! change meaning: a type, field, argument or enum value removed, a type changed, a required
//! argument or input field added, an output made nullable... ), `DANGEROUS` (valid operations
//! keep validating but may behave differently: an enum value added, a default changed, an
//! optional argument removed from an input's default set) or `SAFE` (additions clients must ask
//! for). Federation changes that move data between subgraphs (`@key` fields) are breaking.
//!
//! Read from the documents' syntax only, so each version is checked as written, with no
//! federation directive definitions needed. Pure: no I/O.

use apollo_compiler::ast::{self, Definition, Document, Type};
use indexmap::IndexMap;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Safe,
    Dangerous,
    Breaking,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub severity: Severity,
    /// `Type`, `Type.field` or `Type.field(argument)`.
    pub path: String,
    pub message: String,
}

/// One named type as declared in a document (extensions merged in).
#[derive(Default)]
struct TypeShape {
    kind: &'static str,
    /// Output fields (objects, interfaces) or input fields, by name.
    fields: IndexMap<String, FieldShape>,
    enum_values: Vec<String>,
    members: Vec<String>,
    /// `@key` field sets, whitespace normalised.
    keys: Vec<String>,
    /// Interfaces the type implements.
    implements: Vec<String>,
}

struct FieldShape {
    ty: Type,
    default: Option<String>,
    arguments: IndexMap<String, (Type, Option<String>)>,
}

/// The declared types of an SDL document; `Err` with the parser's message when it does not
/// parse.
fn shapes(sdl: &str) -> Result<IndexMap<String, TypeShape>, String> {
    // No schema yet (a new subgraph): every type of the new one is an addition.
    if sdl.trim().is_empty() {
        return Ok(IndexMap::new());
    }
    let document = Document::parse(sdl, "schema.graphql").map_err(|e| e.to_string())?;
    let mut types: IndexMap<String, TypeShape> = IndexMap::new();
    for definition in &document.definitions {
        let (name, kind) = match definition {
            Definition::ObjectTypeDefinition(d) => (&d.name, "object"),
            Definition::ObjectTypeExtension(d) => (&d.name, "object"),
            Definition::InterfaceTypeDefinition(d) => (&d.name, "interface"),
            Definition::InterfaceTypeExtension(d) => (&d.name, "interface"),
            Definition::InputObjectTypeDefinition(d) => (&d.name, "input"),
            Definition::InputObjectTypeExtension(d) => (&d.name, "input"),
            Definition::EnumTypeDefinition(d) => (&d.name, "enum"),
            Definition::EnumTypeExtension(d) => (&d.name, "enum"),
            Definition::UnionTypeDefinition(d) => (&d.name, "union"),
            Definition::UnionTypeExtension(d) => (&d.name, "union"),
            Definition::ScalarTypeDefinition(d) => (&d.name, "scalar"),
            Definition::ScalarTypeExtension(d) => (&d.name, "scalar"),
            _ => continue,
        };
        let shape = types.entry(name.to_string()).or_default();
        shape.kind = kind;
        let output_fields = |fields: &[apollo_compiler::Node<ast::FieldDefinition>],
                             shape: &mut TypeShape| {
            for field in fields {
                shape.fields.insert(
                    field.name.to_string(),
                    FieldShape {
                        ty: field.ty.clone(),
                        default: None,
                        arguments: field
                            .arguments
                            .iter()
                            .map(|a| {
                                (
                                    a.name.to_string(),
                                    (
                                        (*a.ty).clone(),
                                        a.default_value.as_ref().map(|v| v.to_string()),
                                    ),
                                )
                            })
                            .collect(),
                    },
                );
            }
        };
        let keys = |directives: &ast::DirectiveList, shape: &mut TypeShape| {
            for directive in directives.get_all("key") {
                if let Some(fields) = directive
                    .specified_argument_by_name("fields")
                    .and_then(|v| v.as_str())
                {
                    let normalised = fields.split_whitespace().collect::<Vec<_>>().join(" ");
                    shape.keys.push(normalised);
                }
            }
        };
        match definition {
            Definition::ObjectTypeDefinition(d) => {
                output_fields(&d.fields, shape);
                keys(&d.directives, shape);
                shape
                    .implements
                    .extend(d.implements_interfaces.iter().map(|i| i.to_string()));
            }
            Definition::ObjectTypeExtension(d) => {
                output_fields(&d.fields, shape);
                keys(&d.directives, shape);
                shape
                    .implements
                    .extend(d.implements_interfaces.iter().map(|i| i.to_string()));
            }
            Definition::InterfaceTypeDefinition(d) => {
                output_fields(&d.fields, shape);
                keys(&d.directives, shape);
                shape
                    .implements
                    .extend(d.implements_interfaces.iter().map(|i| i.to_string()));
            }
            Definition::InterfaceTypeExtension(d) => output_fields(&d.fields, shape),
            Definition::InputObjectTypeDefinition(d) => input_fields(&d.fields, shape),
            Definition::InputObjectTypeExtension(d) => input_fields(&d.fields, shape),
            Definition::EnumTypeDefinition(d) => {
                shape
                    .enum_values
                    .extend(d.values.iter().map(|v| v.value.to_string()));
            }
            Definition::EnumTypeExtension(d) => {
                shape
                    .enum_values
                    .extend(d.values.iter().map(|v| v.value.to_string()));
            }
            Definition::UnionTypeDefinition(d) => {
                shape
                    .members
                    .extend(d.members.iter().map(|m| m.to_string()));
            }
            Definition::UnionTypeExtension(d) => {
                shape
                    .members
                    .extend(d.members.iter().map(|m| m.to_string()));
            }
            _ => {}
        }
    }
    Ok(types)
}

fn input_fields(
    fields: &[apollo_compiler::Node<ast::InputValueDefinition>],
    shape: &mut TypeShape,
) {
    for field in fields {
        shape.fields.insert(
            field.name.to_string(),
            FieldShape {
                ty: (*field.ty).clone(),
                default: field.default_value.as_ref().map(|v| v.to_string()),
                arguments: IndexMap::new(),
            },
        );
    }
}

/// Whether values of type `new` can be read by a client written for `old` (an output
/// position): the same named type, and nothing that was non-null became nullable.
fn output_compatible(old: &Type, new: &Type) -> bool {
    match (old, new) {
        (Type::Named(a), Type::Named(b)) | (Type::NonNullNamed(a), Type::NonNullNamed(b)) => a == b,
        (Type::Named(a), Type::NonNullNamed(b)) => a == b,
        (Type::List(a), Type::List(b)) | (Type::NonNullList(a), Type::NonNullList(b)) => {
            output_compatible(a, b)
        }
        (Type::List(a), Type::NonNullList(b)) => output_compatible(a, b),
        _ => false,
    }
}

/// Whether every value a client sent as `old` is still accepted as `new` (an input
/// position): the same named type, and nothing that was nullable became required.
fn input_compatible(old: &Type, new: &Type) -> bool {
    output_compatible(new, old)
}

/// The changes from `old` to `new`, most severe first; `Err` when either does not parse.
pub fn diff(old: &str, new: &str) -> Result<Vec<Change>, String> {
    let old = shapes(old).map_err(|e| format!("the current schema does not parse: {e}"))?;
    let new = shapes(new).map_err(|e| format!("the new schema does not parse: {e}"))?;
    let mut changes = Vec::new();
    let mut change = |severity, path: String, message: String| {
        changes.push(Change {
            severity,
            path,
            message,
        })
    };
    for (name, before) in &old {
        let Some(after) = new.get(name) else {
            change(
                Severity::Breaking,
                name.clone(),
                format!("{} `{name}` was removed", before.kind),
            );
            continue;
        };
        if before.kind != after.kind {
            change(
                Severity::Breaking,
                name.clone(),
                format!("`{name}` changed from {} to {}", before.kind, after.kind),
            );
            continue;
        }
        for key in &before.keys {
            if !after.keys.contains(key) {
                change(
                    Severity::Breaking,
                    name.clone(),
                    format!("@key(fields: \"{key}\") was removed from `{name}`"),
                );
            }
        }
        for key in &after.keys {
            if !before.keys.contains(key) {
                change(
                    Severity::Safe,
                    name.clone(),
                    format!("@key(fields: \"{key}\") was added to `{name}`"),
                );
            }
        }
        for interface in &before.implements {
            if !after.implements.contains(interface) {
                change(
                    Severity::Breaking,
                    name.clone(),
                    format!("`{name}` no longer implements `{interface}`"),
                );
            }
        }
        for interface in &after.implements {
            if !before.implements.contains(interface) {
                change(
                    Severity::Dangerous,
                    name.clone(),
                    format!("`{name}` now implements `{interface}`"),
                );
            }
        }
        let input = before.kind == "input";
        for (field, was) in &before.fields {
            let path = format!("{name}.{field}");
            let Some(is) = after.fields.get(field) else {
                change(
                    Severity::Breaking,
                    path,
                    format!("field `{name}.{field}` was removed"),
                );
                continue;
            };
            let compatible = if input {
                input_compatible(&was.ty, &is.ty)
            } else {
                output_compatible(&was.ty, &is.ty)
            };
            if !compatible {
                change(
                    Severity::Breaking,
                    path.clone(),
                    format!(
                        "`{name}.{field}` changed type from `{}` to `{}`",
                        was.ty, is.ty
                    ),
                );
            } else if was.ty != is.ty {
                change(
                    Severity::Safe,
                    path.clone(),
                    format!(
                        "`{name}.{field}` changed type from `{}` to `{}` (compatible)",
                        was.ty, is.ty
                    ),
                );
            }
            if was.default != is.default {
                change(
                    Severity::Dangerous,
                    path.clone(),
                    format!(
                        "the default of `{name}.{field}` changed from {} to {}",
                        was.default.as_deref().unwrap_or("none"),
                        is.default.as_deref().unwrap_or("none")
                    ),
                );
            }
            for (argument, (was_ty, was_default)) in &was.arguments {
                let arg_path = format!("{name}.{field}({argument})");
                match is.arguments.get(argument) {
                    None => change(
                        Severity::Breaking,
                        arg_path,
                        format!("argument `{argument}` of `{name}.{field}` was removed"),
                    ),
                    Some((is_ty, is_default)) => {
                        if !input_compatible(was_ty, is_ty) {
                            change(
                                Severity::Breaking,
                                arg_path.clone(),
                                format!(
                                    "argument `{argument}` of `{name}.{field}` changed type from `{was_ty}` to `{is_ty}`"
                                ),
                            );
                        }
                        if was_default != is_default {
                            change(
                                Severity::Dangerous,
                                arg_path,
                                format!(
                                    "the default of argument `{argument}` of `{name}.{field}` changed from {} to {}",
                                    was_default.as_deref().unwrap_or("none"),
                                    is_default.as_deref().unwrap_or("none")
                                ),
                            );
                        }
                    }
                }
            }
            for (argument, (ty, default)) in &is.arguments {
                if !was.arguments.contains_key(argument) {
                    let required = ty.is_non_null() && default.is_none();
                    change(
                        if required {
                            Severity::Breaking
                        } else {
                            Severity::Safe
                        },
                        format!("{name}.{field}({argument})"),
                        format!(
                            "{} argument `{argument}: {ty}` was added to `{name}.{field}`",
                            if required { "required" } else { "optional" }
                        ),
                    );
                }
            }
        }
        for (field, is) in &after.fields {
            if before.fields.contains_key(field) {
                continue;
            }
            let required = input && is.ty.is_non_null() && is.default.is_none();
            change(
                if required {
                    Severity::Breaking
                } else {
                    Severity::Safe
                },
                format!("{name}.{field}"),
                if required {
                    format!("required input field `{name}.{field}: {}` was added", is.ty)
                } else {
                    format!("field `{name}.{field}: {}` was added", is.ty)
                },
            );
        }
        for value in &before.enum_values {
            if !after.enum_values.contains(value) {
                change(
                    Severity::Breaking,
                    format!("{name}.{value}"),
                    format!("enum value `{name}.{value}` was removed"),
                );
            }
        }
        for value in &after.enum_values {
            if !before.enum_values.contains(value) {
                change(
                    Severity::Dangerous,
                    format!("{name}.{value}"),
                    format!(
                        "enum value `{name}.{value}` was added (clients that switch over `{name}` may not expect it)"
                    ),
                );
            }
        }
        for member in &before.members {
            if !after.members.contains(member) {
                change(
                    Severity::Breaking,
                    name.clone(),
                    format!("`{member}` was removed from union `{name}`"),
                );
            }
        }
        for member in &after.members {
            if !before.members.contains(member) {
                change(
                    Severity::Dangerous,
                    name.clone(),
                    format!("`{member}` was added to union `{name}`"),
                );
            }
        }
    }
    for (name, after) in &new {
        if !old.contains_key(name) {
            change(
                Severity::Safe,
                name.clone(),
                format!("{} `{name}` was added", after.kind),
            );
        }
    }
    changes.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.path.cmp(&b.path))
    });
    Ok(changes)
}

/// The most severe change, `Safe` when there is none.
pub fn verdict(changes: &[Change]) -> Severity {
    changes
        .iter()
        .map(|c| c.severity)
        .max()
        .unwrap_or(Severity::Safe)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"
        extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
        type Query {
            resume(id: ID!): Resume
            resumes(first: Int = 20, after: String): [Resume!]!
        }
        type Resume @key(fields: "id") {
            id: ID!
            name: String!
            city: String
            status: Status!
        }
        enum Status { RECEIVED PARSED FAILED }
        input Filter { city: String skills: [String!] }
        union Hit = Resume
    "#;

    fn severity_of(changes: &[Change], path: &str) -> Severity {
        changes
            .iter()
            .find(|c| c.path == path)
            .unwrap_or_else(|| panic!("no change at {path}: {changes:#?}"))
            .severity
    }

    #[test]
    fn no_change_is_safe() {
        let changes = diff(BEFORE, BEFORE).unwrap();
        assert!(changes.is_empty(), "{changes:#?}");
        assert_eq!(verdict(&changes), Severity::Safe);
    }

    #[test]
    fn removals_and_tightened_inputs_are_breaking() {
        let after = r#"
            type Query {
                resume(id: ID!, tenant: String!): Resume
                resumes(first: Int = 20): [Resume!]!
            }
            type Resume @key(fields: "id tenant") {
                id: ID!
                name: String
                status: Status!
                tenant: String!
            }
            enum Status { RECEIVED PARSED }
            input Filter { city: String! skills: [String!] team: ID! }
            union Hit = Resume
        "#;
        let changes = diff(BEFORE, after).unwrap();
        assert_eq!(verdict(&changes), Severity::Breaking);
        for path in [
            "Resume.city",
            "Resume.name",
            "Query.resumes(after)",
            "Query.resume(tenant)",
            "Status.FAILED",
            "Filter.city",
            "Filter.team",
            "Resume",
        ] {
            assert_eq!(severity_of(&changes, path), Severity::Breaking, "{path}");
        }
        assert_eq!(severity_of(&changes, "Resume.tenant"), Severity::Safe);
    }

    #[test]
    fn additions_are_safe_or_dangerous() {
        let after = r#"
            extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
            type Query {
                resume(id: ID!, withHistory: Boolean = false): Resume
                resumes(first: Int = 50, after: String): [Resume!]!
                job(id: ID!): Job
            }
            type Resume @key(fields: "id") {
                id: ID!
                name: String!
                city: String!
                status: Status!
                skills: [String!]!
            }
            type Job { id: ID! }
            enum Status { RECEIVED PARSED FAILED NEEDS_OCR }
            input Filter { city: String skills: [String!] degree: String }
            union Hit = Resume | Job
        "#;
        let changes = diff(BEFORE, after).unwrap();
        assert_eq!(verdict(&changes), Severity::Dangerous, "{changes:#?}");
        assert_eq!(severity_of(&changes, "Job"), Severity::Safe);
        assert_eq!(severity_of(&changes, "Resume.skills"), Severity::Safe);
        assert_eq!(
            severity_of(&changes, "Query.resume(withHistory)"),
            Severity::Safe
        );
        assert_eq!(severity_of(&changes, "Filter.degree"), Severity::Safe);
        assert_eq!(
            severity_of(&changes, "Resume.city"),
            Severity::Safe,
            "output made non-null"
        );
        assert_eq!(
            severity_of(&changes, "Status.NEEDS_OCR"),
            Severity::Dangerous
        );
        assert_eq!(
            severity_of(&changes, "Query.resumes(first)"),
            Severity::Dangerous
        );
        assert_eq!(severity_of(&changes, "Hit"), Severity::Dangerous);
        assert_eq!(
            changes[0].severity,
            Severity::Dangerous,
            "most severe first"
        );
    }

    #[test]
    fn keys_compare_as_sets_and_interfaces_count() {
        let before = r#"
            interface Node { id: ID! }
            type User implements Node @key(fields: "id") @key(fields: "email") { id: ID! email: String! }
        "#;
        let reordered = r#"
            interface Node { id: ID! }
            type User implements Node @key(fields: "email") @key(fields: "  id ") { id: ID! email: String! }
        "#;
        assert!(diff(before, reordered).unwrap().is_empty());
        let without = r#"
            interface Node { id: ID! }
            type User @key(fields: "id") { id: ID! email: String! }
        "#;
        let changes = diff(before, without).unwrap();
        assert_eq!(verdict(&changes), Severity::Breaking);
        assert!(
            changes
                .iter()
                .any(|c| c.message.contains("no longer implements"))
        );
        assert!(
            changes
                .iter()
                .any(|c| c.message.contains("\"email\") was removed"))
        );
    }

    #[test]
    fn an_unparsable_schema_is_an_error_not_a_verdict() {
        assert!(
            diff(BEFORE, "type Query {")
                .unwrap_err()
                .contains("new schema")
        );
    }
}
