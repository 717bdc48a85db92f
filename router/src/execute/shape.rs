//! Response shaping: projects the merged response tree onto the client's operation, writing
//! the client's `data` straight into one JSON buffer.
//!
//! This is where aliases, `__typename`, type conditions and `@skip`/`@include` take effect,
//! where fields the planner added (keys, requirements) disappear, where fields come out in
//! request order, and where GraphQL null propagation happens: a null in a non-null position
//! makes the nearest nullable ancestor null.

use crate::plan::operation::{FieldSel, NormalizedOperation, Sel};
use crate::supergraph::Supergraph;
use apollo_compiler::Name;
use apollo_compiler::ast;
use apollo_compiler::schema::ExtendedType;
use looma_core::ErrorCode;
use serde_json::{Map, Value, json};

/// A step of the response path, kept cheap (names are shared) and turned into JSON only when
/// an error needs it.
enum PathItem {
    Key(Name),
    Index(usize),
}

/// A null reached a non-null position and must propagate to the parent.
struct NullBubble;

pub struct Shaper<'a> {
    pub supergraph: &'a Supergraph,
    pub variables: &'a Map<String, Value>,
    /// Values for introspection root fields (`__schema`, `__type`), already executed.
    pub introspection: &'a Map<String, Value>,
    pub errors: &'a mut Vec<Value>,
}

impl Shaper<'_> {
    /// The `data` of the client response as JSON text (`null` if a root non-null field was
    /// null), fields in request order.
    pub fn shape(&mut self, operation: &NormalizedOperation, data: &Value) -> String {
        let empty = Map::new();
        let root = data.as_object().unwrap_or(&empty);
        let mut out = Vec::with_capacity(4096);
        let written = self.write_object(
            &mut out,
            &operation.root_type,
            &operation.selections,
            root,
            &mut Vec::new(),
            true,
        );
        if written.is_err() {
            return "null".to_owned();
        }
        // Only JSON text (valid UTF-8) is ever written.
        String::from_utf8(out).unwrap_or_else(|_| "null".to_owned())
    }

    fn included(&self, directives: &[apollo_compiler::Node<ast::Directive>]) -> bool {
        directives.iter().all(|directive| {
            let condition = directive
                .specified_argument_by_name("if")
                .map(|value| match value.as_ref() {
                    ast::Value::Boolean(b) => *b,
                    ast::Value::Variable(name) => self
                        .variables
                        .get(name.as_str())
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    _ => false,
                })
                .unwrap_or(false);
            match directive.name.as_str() {
                "skip" => !condition,
                "include" => condition,
                _ => true,
            }
        })
    }

    /// Groups fields by response key, in order, for one runtime type (the spec's
    /// CollectFields).
    fn collect<'s>(
        &self,
        runtime_type: &str,
        selections: &'s [Sel],
        into: &mut Vec<(&'s Name, Vec<&'s FieldSel>)>,
    ) {
        for selection in selections {
            match selection {
                Sel::Field(field) => {
                    if self.included(&field.directives) {
                        // Selection sets are small: a linear scan beats hashing here.
                        let key = field.response_key();
                        match into.iter_mut().find(|(k, _)| *k == key) {
                            Some((_, fields)) => fields.push(field),
                            None => into.push((key, vec![field])),
                        }
                    }
                }
                Sel::Fragment(fragment) => {
                    let applies = fragment
                        .type_condition
                        .as_ref()
                        .is_none_or(|c| self.supergraph.satisfies(runtime_type, c));
                    if applies && self.included(&fragment.directives) {
                        self.collect(runtime_type, &fragment.selections, into);
                    }
                }
            }
        }
    }

    fn write_object(
        &mut self,
        out: &mut Vec<u8>,
        runtime_type: &str,
        selections: &[Sel],
        object: &Map<String, Value>,
        path: &mut Vec<PathItem>,
        is_root: bool,
    ) -> Result<(), NullBubble> {
        let mut grouped = Vec::with_capacity(selections.len());
        self.collect(runtime_type, selections, &mut grouped);
        out.push(b'{');
        for (index, (key, fields)) in grouped.into_iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            write_json(out, key.as_str());
            out.push(b':');
            let first = fields[0];
            if first.name == "__typename" {
                write_json(out, runtime_type);
                continue;
            }
            if is_root && (first.name == "__schema" || first.name == "__type") {
                write_json(
                    out,
                    self.introspection.get(key.as_str()).unwrap_or(&Value::Null),
                );
                continue;
            }
            path.push(PathItem::Key(key.clone()));
            // Fields requested more than once under one key merge their selections.
            let sub_selections: std::borrow::Cow<[Sel]> = if fields.len() == 1 {
                std::borrow::Cow::Borrowed(&first.selections)
            } else {
                std::borrow::Cow::Owned(
                    fields
                        .iter()
                        .flat_map(|f| f.selections.iter().cloned())
                        .collect(),
                )
            };
            let completed = self.complete(
                out,
                &first.ty,
                object.get(key.as_str()),
                &sub_selections,
                path,
            );
            path.pop();
            completed?;
        }
        out.push(b'}');
        Ok(())
    }

    /// Writes one field value. On `Err` the caller's object becomes null; whatever this
    /// call wrote is discarded by the nearest nullable ancestor.
    fn complete(
        &mut self,
        out: &mut Vec<u8>,
        ty: &ast::Type,
        value: Option<&Value>,
        selections: &[Sel],
        path: &mut Vec<PathItem>,
    ) -> Result<(), NullBubble> {
        let non_null = ty.is_non_null();
        let start = out.len();
        let value = match value {
            None | Some(Value::Null) => {
                return if non_null {
                    self.note_null(path);
                    Err(NullBubble)
                } else {
                    out.extend_from_slice(b"null");
                    Ok(())
                };
            }
            Some(value) => value,
        };
        let outcome = match ty {
            ast::Type::List(inner) | ast::Type::NonNullList(inner) => match value {
                Value::Array(items) => {
                    out.push(b'[');
                    let mut outcome = Ok(());
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        path.push(PathItem::Index(i));
                        outcome = self.complete(out, inner, Some(item), selections, path);
                        path.pop();
                        if outcome.is_err() {
                            break;
                        }
                    }
                    out.push(b']');
                    outcome
                }
                _ => Err(NullBubble),
            },
            ast::Type::Named(name) | ast::Type::NonNullNamed(name) => {
                match self.supergraph.schema.types.get(name.as_str()) {
                    Some(
                        ExtendedType::Object(_)
                        | ExtendedType::Interface(_)
                        | ExtendedType::Union(_),
                    ) => match value {
                        Value::Object(object) => {
                            let runtime = object
                                .get("__typename")
                                .and_then(Value::as_str)
                                .filter(|t| self.supergraph.is_object(t))
                                .unwrap_or(name.as_str())
                                .to_owned();
                            // An object of a type hidden from the API (@inaccessible) cannot
                            // be shown: it becomes null.
                            if !self
                                .supergraph
                                .api_schema
                                .types
                                .contains_key(runtime.as_str())
                            {
                                Err(NullBubble)
                            } else {
                                self.write_object(out, &runtime, selections, object, path, false)
                            }
                        }
                        _ => Err(NullBubble),
                    },
                    Some(ExtendedType::Enum(enumeration)) => match value.as_str() {
                        Some(v) if self.enum_value_visible(enumeration, v) => {
                            write_json(out, value);
                            Ok(())
                        }
                        _ => Err(NullBubble),
                    },
                    _ => {
                        write_json(out, value);
                        Ok(())
                    }
                }
            }
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(NullBubble) if non_null => Err(NullBubble),
            Err(NullBubble) => {
                out.truncate(start);
                out.extend_from_slice(b"null");
                Ok(())
            }
        }
    }

    fn enum_value_visible(
        &self,
        enumeration: &apollo_compiler::schema::EnumType,
        value: &str,
    ) -> bool {
        match self
            .supergraph
            .api_schema
            .types
            .get(enumeration.name.as_str())
        {
            Some(ExtendedType::Enum(api)) => api.values.contains_key(value),
            _ => enumeration.values.contains_key(value),
        }
    }

    /// Records why a non-null field came out null, unless a subgraph already explained it.
    fn note_null(&mut self, path: &[PathItem]) {
        if self.errors.is_empty() {
            let path: Vec<Value> = path
                .iter()
                .map(|item| match item {
                    PathItem::Key(key) => Value::String(key.to_string()),
                    PathItem::Index(i) => Value::from(*i),
                })
                .collect();
            self.errors.push(json!({
                "message": "Cannot return null for non-nullable field",
                "path": path,
                "extensions": {"code": ErrorCode::Internal.as_str()},
            }));
        }
    }
}

fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Serializing a string or a JSON value into memory cannot fail.
    let _ = serde_json::to_writer(out, value);
}
