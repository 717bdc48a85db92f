//! Derives the API schema from the supergraph: what clients may query and introspect.

use super::SupergraphError;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{Name, Schema, ast};
use std::collections::HashSet;

/// Directive applications that are federation machinery, never shown to clients.
fn is_internal_directive(name: &str) -> bool {
    name.starts_with("join__")
        || name.starts_with("link__")
        || matches!(
            name,
            "link"
                | "inaccessible"
                | "tag"
                | "core"
                | "authenticated"
                | "requiresScopes"
                | "policy"
        )
}

fn is_internal_type(name: &str) -> bool {
    name.starts_with("join__") || name.starts_with("link__") || name.starts_with("core__")
}

fn inaccessible_ast(directives: &ast::DirectiveList) -> bool {
    directives.iter().any(|d| d.name == "inaccessible")
}

fn strip_ast(directives: &mut ast::DirectiveList) {
    directives.0.retain(|d| !is_internal_directive(&d.name));
}

fn strip_schema(directives: &mut apollo_compiler::schema::DirectiveList) {
    directives.0.retain(|d| !is_internal_directive(&d.name));
}

pub(super) fn derive(supergraph: &Valid<Schema>) -> Result<Valid<Schema>, SupergraphError> {
    let mut schema: Schema = supergraph.clone().into_inner();
    schema
        .directive_definitions
        .retain(|name, _| !is_internal_directive(name));
    strip_schema(&mut schema.schema_definition.make_mut().directives);

    let removed: HashSet<Name> = schema
        .types
        .iter()
        .filter(|(name, ty)| is_internal_type(name) || ty.directives().has("inaccessible"))
        .map(|(name, _)| name.clone())
        .collect();
    schema.types.retain(|name, _| !removed.contains(name));

    for ty in schema.types.values_mut() {
        match ty {
            ExtendedType::Object(object) => {
                let object = object.make_mut();
                strip_schema(&mut object.directives);
                object
                    .implements_interfaces
                    .retain(|i| !removed.contains(&i.name));
                object.fields.retain(|_, f| {
                    !inaccessible_ast(&f.directives) && !removed.contains(f.ty.inner_named_type())
                });
                for field in object.fields.values_mut() {
                    clean_field(field.make_mut(), &removed);
                }
            }
            ExtendedType::Interface(interface) => {
                let interface = interface.make_mut();
                strip_schema(&mut interface.directives);
                interface
                    .implements_interfaces
                    .retain(|i| !removed.contains(&i.name));
                interface.fields.retain(|_, f| {
                    !inaccessible_ast(&f.directives) && !removed.contains(f.ty.inner_named_type())
                });
                for field in interface.fields.values_mut() {
                    clean_field(field.make_mut(), &removed);
                }
            }
            ExtendedType::Union(union) => {
                let union = union.make_mut();
                strip_schema(&mut union.directives);
                union.members.retain(|m| !removed.contains(&m.name));
            }
            ExtendedType::Enum(enumeration) => {
                let enumeration = enumeration.make_mut();
                strip_schema(&mut enumeration.directives);
                enumeration
                    .values
                    .retain(|_, v| !inaccessible_ast(&v.directives));
                for value in enumeration.values.values_mut() {
                    strip_ast(&mut value.make_mut().directives);
                }
            }
            ExtendedType::InputObject(input) => {
                let input = input.make_mut();
                strip_schema(&mut input.directives);
                input.fields.retain(|_, f| {
                    !inaccessible_ast(&f.directives) && !removed.contains(f.ty.inner_named_type())
                });
                for field in input.fields.values_mut() {
                    strip_ast(&mut field.make_mut().directives);
                }
            }
            ExtendedType::Scalar(scalar) => strip_schema(&mut scalar.make_mut().directives),
        }
    }
    // Drop root operations whose type disappeared (e.g. an inaccessible Mutation).
    {
        let definition = schema.schema_definition.make_mut();
        for root in [
            &mut definition.query,
            &mut definition.mutation,
            &mut definition.subscription,
        ] {
            if root.as_ref().is_some_and(|r| removed.contains(&r.name)) {
                *root = None;
            }
        }
    }
    schema
        .validate()
        .map_err(|e| SupergraphError::ApiSchema(e.errors.to_string()))
}

fn clean_field(field: &mut ast::FieldDefinition, removed: &HashSet<Name>) {
    strip_ast(&mut field.directives);
    field
        .arguments
        .retain(|a| !inaccessible_ast(&a.directives) && !removed.contains(a.ty.inner_named_type()));
    for argument in &mut field.arguments {
        strip_ast(&mut argument.make_mut().directives);
    }
}
