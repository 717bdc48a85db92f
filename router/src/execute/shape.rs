//! Response shaping: projects the merged response tree onto the client's operation.
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
    /// The `data` of the client response (`null` if a root non-null field was null).
    pub fn shape(&mut self, operation: &NormalizedOperation, data: &Value) -> Value {
        let empty = Map::new();
        let root = data.as_object().unwrap_or(&empty);
        match self.shape_object(
            &operation.root_type,
            &operation.selections,
            root,
            &mut Vec::new(),
            true,
        ) {
            Ok(object) => Value::Object(object),
            Err(NullBubble) => Value::Null,
        }
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

    fn shape_object(
        &mut self,
        runtime_type: &str,
        selections: &[Sel],
        object: &Map<String, Value>,
        path: &mut Vec<PathItem>,
        is_root: bool,
    ) -> Result<Map<String, Value>, NullBubble> {
        let mut grouped = Vec::with_capacity(selections.len());
        self.collect(runtime_type, selections, &mut grouped);
        let mut out = Map::with_capacity(grouped.len());
        for (key, fields) in grouped {
            let first = fields[0];
            if first.name == "__typename" {
                out.insert(key.to_string(), Value::String(runtime_type.to_owned()));
                continue;
            }
            if is_root && (first.name == "__schema" || first.name == "__type") {
                out.insert(
                    key.to_string(),
                    self.introspection
                        .get(key.as_str())
                        .cloned()
                        .unwrap_or(Value::Null),
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
            let completed =
                self.complete(&first.ty, object.get(key.as_str()), &sub_selections, path);
            path.pop();
            match completed {
                Ok(value) => {
                    out.insert(key.to_string(), value);
                }
                Err(NullBubble) => return Err(NullBubble),
            }
        }
        Ok(out)
    }

    fn complete(
        &mut self,
        ty: &ast::Type,
        value: Option<&Value>,
        selections: &[Sel],
        path: &mut Vec<PathItem>,
    ) -> Result<Value, NullBubble> {
        let non_null = ty.is_non_null();
        let value = match value {
            None | Some(Value::Null) => {
                return if non_null {
                    self.note_null(path);
                    Err(NullBubble)
                } else {
                    Ok(Value::Null)
                };
            }
            Some(value) => value,
        };
        let outcome = match ty {
            ast::Type::List(inner) | ast::Type::NonNullList(inner) => match value {
                Value::Array(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    let mut failed = false;
                    for (i, item) in items.iter().enumerate() {
                        path.push(PathItem::Index(i));
                        let completed = self.complete(inner, Some(item), selections, path);
                        path.pop();
                        match completed {
                            Ok(v) => out.push(v),
                            Err(NullBubble) => {
                                failed = true;
                                break;
                            }
                        }
                    }
                    if failed {
                        Err(NullBubble)
                    } else {
                        Ok(Value::Array(out))
                    }
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
                                self.shape_object(&runtime, selections, object, path, false)
                                    .map(Value::Object)
                            }
                        }
                        _ => Err(NullBubble),
                    },
                    Some(ExtendedType::Enum(enumeration)) => match value.as_str() {
                        Some(v) if self.enum_value_visible(enumeration, v) => Ok(value.clone()),
                        _ => Err(NullBubble),
                    },
                    _ => Ok(value.clone()),
                }
            }
        };
        match outcome {
            Ok(v) => Ok(v),
            Err(NullBubble) if non_null => Err(NullBubble),
            Err(NullBubble) => Ok(Value::Null),
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
                "extensions": {"code": "INTERNAL_SERVER_ERROR"},
            }));
        }
    }
}
