//! Response shaping: projects the merged response tree onto the client's operation, writing
//! the client's `data` straight into one JSON buffer.
//!
//! This is where aliases, `__typename`, type conditions and `@skip`/`@include` take effect,
//! where fields the planner added (keys, requirements) disappear, where fields come out in
//! request order, and where GraphQL null propagation happens: a null in a non-null position
//! makes the nearest nullable ancestor null.

use super::tree::{self, Node, Object};
use super::write_json;
use crate::plan::operation::{FieldSel, NormalizedOperation, Sel};
use crate::supergraph::Supergraph;
use apollo_compiler::Name;
use apollo_compiler::ast;
use apollo_compiler::schema::ExtendedType;
use looma_core::ErrorCode;
use serde_json::{Map, Value, json};

/// A step of the response path, kept cheap (names are borrowed from the operation) and
/// turned into JSON only when an error needs it.
enum PathItem<'s> {
    Key(&'s Name),
    Index(usize),
}

/// A null reached a non-null position and must propagate to the parent.
struct NullBubble;

/// The fields of one selection set for one runtime type, grouped by response key
/// (CollectFields), computed once per request and shared by every object it applies to.
type Grouped<'s> = std::rc::Rc<Vec<GroupedField<'s>>>;

/// One response key of a grouped selection set.
struct GroupedField<'s> {
    key: &'s Name,
    /// The first field under the key: its name and type.
    first: &'s FieldSel,
    /// The selections of every field under the key.
    selections: &'s [Sel],
    /// `"key":`, written before each value.
    prefix: Vec<u8>,
    kind: Kind,
    /// Where the key was in the last object shaped with this group (objects of one list
    /// keep their keys in the same order; see [`Object::get_hinted`]).
    hint: std::cell::Cell<usize>,
}

/// What a field's value is, decided once from its type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Typename,
    /// `__schema` / `__type` at the root: already executed.
    Introspection,
    /// An object, interface or union: shaped by its selections.
    Composite,
    /// An enum: only values the API schema shows.
    Enum,
    /// A scalar, written as it came.
    Leaf,
}

pub struct Shaper<'a, 's> {
    pub supergraph: &'a Supergraph,
    pub variables: &'a Map<String, Value>,
    /// Values for introspection root fields (`__schema`, `__type`), already executed.
    pub introspection: &'a Map<String, Value>,
    pub errors: &'a mut Vec<Value>,
    /// Grouped fields by (selection set, runtime type): an operation has few of these pairs
    /// and a response has many objects, so a short list searched linearly beats hashing.
    grouped: Vec<(*const Sel, String, Grouped<'s>)>,
    /// Where the merged selections of fields requested more than once under one key live
    /// while the response is shaped.
    merged: &'s typed_arena::Arena<Vec<Sel>>,
    /// The operation's root selection set (where introspection fields may be).
    root_selections: *const Sel,
    /// Per `__typename` met in the response: whether it names an object type, and whether
    /// the API schema shows it (a response has many objects of few types).
    type_facts: Vec<(Box<str>, TypeFacts)>,
}

#[derive(Clone, Copy)]
struct TypeFacts {
    is_object: bool,
    visible: bool,
}

impl<'a, 's> Shaper<'a, 's> {
    pub fn new(
        supergraph: &'a Supergraph,
        variables: &'a Map<String, Value>,
        introspection: &'a Map<String, Value>,
        errors: &'a mut Vec<Value>,
        merged: &'s typed_arena::Arena<Vec<Sel>>,
    ) -> Self {
        Shaper {
            supergraph,
            variables,
            introspection,
            errors,
            grouped: Vec::new(),
            merged,
            root_selections: std::ptr::null(),
            type_facts: Vec::new(),
        }
    }

    fn type_facts(&mut self, name: &str) -> TypeFacts {
        if let Some((_, facts)) = self.type_facts.iter().find(|(n, _)| **n == *name) {
            return *facts;
        }
        let facts = TypeFacts {
            is_object: self.supergraph.is_object(name),
            visible: self.supergraph.api_schema.types.contains_key(name),
        };
        self.type_facts.push((name.into(), facts));
        facts
    }

    /// Appends the `data` of the client response to `out` as JSON text (`null` if a root
    /// non-null field was null), fields in request order. Only JSON (UTF-8) is ever written.
    pub fn shape(
        &mut self,
        operation: &'s NormalizedOperation,
        data: &Node<'_>,
        out: &mut Vec<u8>,
    ) {
        let empty = Object::default();
        let root = data.as_object().unwrap_or(&empty);
        self.root_selections = operation.selections.as_ptr();
        let start = out.len();
        let written = self.write_object(
            out,
            &operation.root_type,
            &operation.selections,
            root,
            &mut Vec::new(),
        );
        if written.is_err() {
            out.truncate(start);
            out.extend_from_slice(b"null");
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
    fn collect(
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

    /// The grouped fields of `selections` for `runtime_type`, from the per-request cache.
    fn grouped(&mut self, runtime_type: &str, selections: &'s [Sel]) -> Grouped<'s> {
        let id = selections.as_ptr();
        if let Some((_, _, grouped)) = self
            .grouped
            .iter()
            .find(|(s, t, _)| *s == id && t == runtime_type)
        {
            return grouped.clone();
        }
        let mut collected = Vec::with_capacity(selections.len());
        self.collect(runtime_type, selections, &mut collected);
        let is_root = selections.as_ptr() == self.root_selections;
        let grouped: Vec<_> = collected
            .into_iter()
            .map(|(key, fields)| {
                let first = fields[0];
                // Fields requested more than once under one key merge their selections.
                let sub: &'s [Sel] = if fields.len() == 1 {
                    &first.selections
                } else {
                    self.merged.alloc(
                        fields
                            .iter()
                            .flat_map(|f| f.selections.iter().cloned())
                            .collect(),
                    )
                };
                let kind = if first.name == "__typename" {
                    Kind::Typename
                } else if is_root && (first.name == "__schema" || first.name == "__type") {
                    Kind::Introspection
                } else {
                    match self
                        .supergraph
                        .schema
                        .types
                        .get(first.ty.inner_named_type())
                    {
                        Some(
                            ExtendedType::Object(_)
                            | ExtendedType::Interface(_)
                            | ExtendedType::Union(_),
                        ) => Kind::Composite,
                        Some(ExtendedType::Enum(_)) => Kind::Enum,
                        _ => Kind::Leaf,
                    }
                };
                let mut prefix = Vec::with_capacity(key.len() + 3);
                tree::write_str(&mut prefix, key.as_str());
                prefix.push(b':');
                GroupedField {
                    key,
                    first,
                    selections: sub,
                    prefix,
                    kind,
                    hint: std::cell::Cell::new(0),
                }
            })
            .collect();
        let grouped = std::rc::Rc::new(grouped);
        self.grouped
            .push((id, runtime_type.to_owned(), grouped.clone()));
        grouped
    }

    fn write_object(
        &mut self,
        out: &mut Vec<u8>,
        runtime_type: &str,
        selections: &'s [Sel],
        object: &Object<'_>,
        path: &mut Vec<PathItem<'s>>,
    ) -> Result<(), NullBubble> {
        let grouped = self.grouped(runtime_type, selections);
        out.push(b'{');
        for (index, field) in grouped.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&field.prefix);
            match field.kind {
                Kind::Typename => {
                    tree::write_str(out, runtime_type);
                    continue;
                }
                Kind::Introspection => {
                    write_json(
                        out,
                        self.introspection
                            .get(field.key.as_str())
                            .unwrap_or(&Value::Null),
                    );
                    continue;
                }
                _ => {}
            }
            path.push(PathItem::Key(field.key));
            let mut hint = field.hint.get();
            let value = object.get_hinted(field.key.as_str(), &mut hint);
            field.hint.set(hint);
            let completed = self.complete(
                out,
                &field.first.ty,
                field.kind,
                value,
                field.selections,
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
        kind: Kind,
        value: Option<&Node<'_>>,
        selections: &'s [Sel],
        path: &mut Vec<PathItem<'s>>,
    ) -> Result<(), NullBubble> {
        let non_null = ty.is_non_null();
        let start = out.len();
        let value = match value {
            None | Some(Node::Null) => {
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
                Node::List(items) => {
                    out.push(b'[');
                    let mut outcome = Ok(());
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        if let Some(next) = items.get(i + 1) {
                            next.prefetch();
                        }
                        path.push(PathItem::Index(i));
                        outcome = self.complete(out, inner, kind, Some(item), selections, path);
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
            ast::Type::Named(name) | ast::Type::NonNullNamed(name) => match kind {
                Kind::Composite => match value {
                    Node::Object(object) => {
                        let runtime = match object.typename() {
                            Some(typename) if self.type_facts(typename).is_object => typename,
                            _ => name.as_str(),
                        };
                        // An object of a type hidden from the API (@inaccessible) cannot
                        // be shown: it becomes null.
                        if !self.type_facts(runtime).visible {
                            Err(NullBubble)
                        } else {
                            self.write_object(out, runtime, selections, object, path)
                        }
                    }
                    _ => Err(NullBubble),
                },
                Kind::Enum => match (value.as_str(), self.supergraph.schema.types.get(name)) {
                    (Some(v), Some(ExtendedType::Enum(enumeration)))
                        if self.enum_value_visible(enumeration, v) =>
                    {
                        value.write(out);
                        Ok(())
                    }
                    _ => Err(NullBubble),
                },
                _ => {
                    value.write(out);
                    Ok(())
                }
            },
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
