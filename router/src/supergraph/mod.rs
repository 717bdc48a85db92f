//! The supergraph: what the router knows about the subgraphs.
//!
//! [`Supergraph::parse`] reads an Apollo-style supergraph SDL (`@link`, `join__Graph`,
//! `@join__type`, `@join__field`, `@join__implements`, `@join__unionMember`,
//! `@join__enumValue`; join v0.3–v0.5) and extracts, per type and field, which subgraphs can
//! resolve it, with which keys, requirements and provisions. It also derives the API schema
//! clients see (no `join__*`/`link__*` internals, no `@inaccessible` elements).
//!
//! Pure: no I/O. The planner reads this; nothing writes it after parsing.

mod api_schema;

use apollo_compiler::ast::Value;
use apollo_compiler::executable::{FieldSet, Selection, SelectionSet};
use apollo_compiler::schema::{Component, Directive, ExtendedType};
use apollo_compiler::validation::Valid;
use apollo_compiler::{Name, Schema};
use indexmap::{IndexMap, IndexSet};
use std::sync::Arc;

/// Index of a subgraph in [`Supergraph::subgraphs`].
pub type GraphId = usize;

#[derive(Debug, thiserror::Error)]
pub enum SupergraphError {
    #[error("the supergraph does not parse or validate: {0}")]
    Invalid(String),
    #[error("the supergraph declares no subgraphs (enum join__Graph is missing or empty)")]
    NoSubgraphs,
    #[error("{0}")]
    Join(String),
    #[error("the API schema derived from the supergraph is invalid: {0}")]
    ApiSchema(String),
}

#[derive(Clone, Debug)]
pub struct Subgraph {
    pub name: String,
    pub url: String,
    /// The `join__Graph` enum value naming this subgraph in directives.
    pub enum_value: Name,
}

/// A selection of fields parsed from a `join__FieldSet` string (`"id organization { id }"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSetSelection {
    pub source: String,
    pub selection_set: SelectionSet,
}

#[derive(Clone, Debug)]
pub struct KeyInGraph {
    pub fields: FieldSetSelection,
    pub resolvable: bool,
}

/// A type as one subgraph declares it.
#[derive(Clone, Debug, Default)]
pub struct TypeInGraph {
    pub keys: Vec<KeyInGraph>,
    pub is_interface_object: bool,
    pub extension: bool,
}

/// A field as one subgraph declares it.
#[derive(Clone, Debug, Default)]
pub struct FieldInGraph {
    pub requires: Option<FieldSetSelection>,
    pub provides: Option<FieldSetSelection>,
    pub external: bool,
    pub overridden_elsewhere: bool,
    /// The field's type in this subgraph when it differs from the supergraph's.
    pub type_in_graph: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct FieldInfo {
    /// `None`: no `@join__field`, so every subgraph declaring the parent type resolves it.
    pub graphs: Option<IndexMap<GraphId, FieldInGraph>>,
}

#[derive(Clone, Debug, Default)]
pub struct TypeInfo {
    /// Subgraphs declaring the type; empty means "all" (types without `@join__type`).
    pub graphs: IndexMap<GraphId, TypeInGraph>,
    pub fields: IndexMap<Name, FieldInfo>,
    /// For interfaces: per subgraph, the object types it says implement this interface.
    /// For unions: per subgraph, its members.
    pub possible_in_graph: IndexMap<GraphId, IndexSet<Name>>,
}

pub struct Supergraph {
    /// The full supergraph schema, join directives included.
    pub schema: Valid<Schema>,
    /// The schema clients see.
    pub api_schema: Arc<Valid<Schema>>,
    pub subgraphs: Vec<Subgraph>,
    pub types: IndexMap<Name, TypeInfo>,
    /// The SDL this was parsed from.
    pub sdl: String,
}

impl std::fmt::Debug for Supergraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supergraph")
            .field("subgraphs", &self.subgraphs)
            .finish_non_exhaustive()
    }
}

fn string_argument(directive: &Directive, name: &str) -> Option<String> {
    match directive
        .specified_argument_by_name(name)
        .map(|v| v.as_ref())
    {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn bool_argument(directive: &Directive, name: &str) -> Option<bool> {
    match directive
        .specified_argument_by_name(name)
        .map(|v| v.as_ref())
    {
        Some(Value::Boolean(b)) => Some(*b),
        _ => None,
    }
}

fn enum_argument(directive: &Directive, name: &str) -> Option<Name> {
    match directive
        .specified_argument_by_name(name)
        .map(|v| v.as_ref())
    {
        Some(Value::Enum(e)) => Some(e.clone()),
        _ => None,
    }
}

impl Supergraph {
    pub fn parse(sdl: &str) -> Result<Supergraph, SupergraphError> {
        let schema = Schema::parse_and_validate(sdl, "supergraph.graphql")
            .map_err(|e| SupergraphError::Invalid(e.errors.to_string()))?;
        let subgraphs = read_subgraphs(&schema)?;
        let graph_of = |value: &Name| subgraphs.iter().position(|g| &g.enum_value == value);
        let mut types = IndexMap::new();
        for (type_name, ty) in &schema.types {
            if type_name.starts_with("join__")
                || type_name.starts_with("link__")
                || ty.is_built_in()
            {
                continue;
            }
            let mut info = TypeInfo::default();
            for directive in ty.directives().get_all("join__type") {
                let graph = enum_argument(directive, "graph")
                    .and_then(|g| graph_of(&g))
                    .ok_or_else(|| {
                        SupergraphError::Join(format!(
                            "@join__type on `{type_name}` names an unknown graph"
                        ))
                    })?;
                let entry = info.graphs.entry(graph).or_default();
                entry.is_interface_object |=
                    bool_argument(directive, "isInterfaceObject").unwrap_or(false);
                entry.extension |= bool_argument(directive, "extension").unwrap_or(false);
                if let Some(key) = string_argument(directive, "key") {
                    let fields = parse_field_set(&schema, type_name, &key)?;
                    entry.keys.push(KeyInGraph {
                        fields,
                        resolvable: bool_argument(directive, "resolvable").unwrap_or(true),
                    });
                }
            }
            for directive in ty.directives().get_all("join__unionMember") {
                let (Some(graph), Some(member)) = (
                    enum_argument(directive, "graph").and_then(|g| graph_of(&g)),
                    string_argument(directive, "member"),
                ) else {
                    continue;
                };
                let member =
                    Name::new(&member).map_err(|e| SupergraphError::Join(e.to_string()))?;
                info.possible_in_graph
                    .entry(graph)
                    .or_default()
                    .insert(member);
            }
            let fields: Vec<(&Name, &Component<apollo_compiler::schema::FieldDefinition>)> =
                match ty {
                    ExtendedType::Object(o) => o.fields.iter().collect(),
                    ExtendedType::Interface(i) => i.fields.iter().collect(),
                    _ => Vec::new(),
                };
            for (field_name, field) in fields {
                let mut field_info = FieldInfo::default();
                let directives: Vec<&apollo_compiler::Node<Directive>> =
                    field.directives.get_all("join__field").collect();
                if !directives.is_empty() {
                    let mut graphs = IndexMap::new();
                    for directive in directives {
                        let Some(graph) =
                            enum_argument(directive, "graph").and_then(|g| graph_of(&g))
                        else {
                            continue;
                        };
                        let field_type_name = field.ty.inner_named_type();
                        let requires = string_argument(directive, "requires")
                            .map(|s| parse_field_set(&schema, type_name, &s))
                            .transpose()?;
                        let provides = string_argument(directive, "provides")
                            .map(|s| parse_field_set(&schema, field_type_name, &s))
                            .transpose()?;
                        graphs.insert(
                            graph,
                            FieldInGraph {
                                requires,
                                provides,
                                external: bool_argument(directive, "external").unwrap_or(false),
                                overridden_elsewhere: bool_argument(directive, "usedOverridden")
                                    .unwrap_or(false),
                                type_in_graph: string_argument(directive, "type"),
                            },
                        );
                    }
                    field_info.graphs = Some(graphs);
                }
                info.fields.insert(field_name.clone(), field_info);
            }
            types.insert(type_name.clone(), info);
        }
        // Interface implementations per graph, from @join__implements on the implementers.
        for (type_name, ty) in &schema.types {
            for directive in ty.directives().get_all("join__implements") {
                let (Some(graph), Some(interface)) = (
                    enum_argument(directive, "graph").and_then(|g| graph_of(&g)),
                    string_argument(directive, "interface"),
                ) else {
                    continue;
                };
                if let Some(info) = types.get_mut(interface.as_str()) {
                    info.possible_in_graph
                        .entry(graph)
                        .or_default()
                        .insert(type_name.clone());
                }
            }
        }
        let api_schema = api_schema::derive(&schema)?;
        Ok(Supergraph {
            schema,
            api_schema: Arc::new(api_schema),
            subgraphs,
            types,
            sdl: sdl.to_owned(),
        })
    }

    pub fn graph_by_name(&self, name: &str) -> Option<GraphId> {
        self.subgraphs.iter().position(|g| g.name == name)
    }

    pub fn type_info(&self, type_name: &str) -> Option<&TypeInfo> {
        self.types.get(type_name)
    }

    /// Whether `graph` declares `type_name` (types without `@join__type` are everywhere).
    pub fn graph_has_type(&self, graph: GraphId, type_name: &str) -> bool {
        match self.types.get(type_name) {
            Some(info) => info.graphs.is_empty() || info.graphs.contains_key(&graph),
            None => true,
        }
    }

    pub fn is_abstract(&self, type_name: &str) -> bool {
        matches!(
            self.schema.types.get(type_name),
            Some(ExtendedType::Interface(_) | ExtendedType::Union(_))
        )
    }

    pub fn is_object(&self, type_name: &str) -> bool {
        matches!(
            self.schema.types.get(type_name),
            Some(ExtendedType::Object(_))
        )
    }

    /// Whether `graph` can resolve `type_name.field_name` by itself (not counting
    /// `@provides` at a particular path).
    pub fn graph_resolves_field(&self, graph: GraphId, type_name: &str, field_name: &str) -> bool {
        if field_name == "__typename" {
            return true;
        }
        let Some(info) = self.types.get(type_name) else {
            return true;
        };
        let owned = match info.fields.get(field_name).and_then(|f| f.graphs.as_ref()) {
            Some(graphs) => graphs
                .get(&graph)
                .is_some_and(|f| !f.external && !f.overridden_elsewhere),
            None => self.graph_has_type(graph, type_name),
        };
        // A federation 1 `extend type` marks its key fields @external yet can return them.
        owned
            || (info.graphs.get(&graph).is_some_and(|t| t.extension)
                && self.is_key_field(graph, type_name, field_name))
    }

    /// Whether `field_name` is a top-level field of one of `type_name`'s keys in `graph`.
    pub fn is_key_field(&self, graph: GraphId, type_name: &str, field_name: &str) -> bool {
        self.keys(graph, type_name).iter().any(|key| {
            key.fields
                .selection_set
                .selections
                .iter()
                .any(|s| matches!(s, Selection::Field(f) if f.name == field_name))
        })
    }

    pub fn field_in_graph(
        &self,
        graph: GraphId,
        type_name: &str,
        field_name: &str,
    ) -> Option<&FieldInGraph> {
        self.types
            .get(type_name)?
            .fields
            .get(field_name)?
            .graphs
            .as_ref()?
            .get(&graph)
    }

    /// Graphs that can resolve the field, in subgraph order.
    pub fn graphs_resolving_field(&self, type_name: &str, field_name: &str) -> Vec<GraphId> {
        (0..self.subgraphs.len())
            .filter(|&g| {
                self.graph_has_type(g, type_name)
                    && self.graph_resolves_field(g, type_name, field_name)
            })
            .collect()
    }

    /// Resolvable keys of an entity type in a graph.
    pub fn resolvable_keys(&self, graph: GraphId, type_name: &str) -> Vec<&KeyInGraph> {
        self.types
            .get(type_name)
            .and_then(|info| info.graphs.get(&graph))
            .map(|t| t.keys.iter().filter(|k| k.resolvable).collect())
            .unwrap_or_default()
    }

    /// All keys of a type in a graph, resolvable or not (fields a graph can provide as a key).
    pub fn keys(&self, graph: GraphId, type_name: &str) -> Vec<&KeyInGraph> {
        self.types
            .get(type_name)
            .and_then(|info| info.graphs.get(&graph))
            .map(|t| t.keys.iter().collect())
            .unwrap_or_default()
    }

    pub fn is_interface_object_in(&self, graph: GraphId, type_name: &str) -> bool {
        self.types
            .get(type_name)
            .and_then(|info| info.graphs.get(&graph))
            .is_some_and(|t| t.is_interface_object)
    }

    /// Object types that may appear where `abstract_type` is expected, as `graph` sees it.
    pub fn possible_types_in_graph(&self, graph: GraphId, abstract_type: &str) -> Vec<Name> {
        let supergraph_possible = self.possible_types(abstract_type);
        match self
            .types
            .get(abstract_type)
            .and_then(|i| i.possible_in_graph.get(&graph))
        {
            Some(in_graph) => supergraph_possible
                .into_iter()
                .filter(|t| in_graph.contains(t) && self.graph_has_type(graph, t))
                .collect(),
            None => supergraph_possible
                .into_iter()
                .filter(|t| {
                    self.graph_has_type(graph, t)
                        && self.implements_in_graph(graph, t, abstract_type)
                })
                .collect(),
        }
    }

    fn implements_in_graph(&self, graph: GraphId, object: &str, abstract_type: &str) -> bool {
        // Without @join__implements data for the interface, trust the supergraph.
        match self.types.get(abstract_type) {
            Some(info) if !info.possible_in_graph.is_empty() => info
                .possible_in_graph
                .get(&graph)
                .is_some_and(|set| set.contains(object)),
            _ => true,
        }
    }

    /// Object types that may appear where `type_name` is expected, per the supergraph.
    pub fn possible_types(&self, type_name: &str) -> Vec<Name> {
        match self.schema.types.get(type_name) {
            Some(ExtendedType::Object(_)) => {
                Name::new(type_name).map(|n| vec![n]).unwrap_or_default()
            }
            Some(ExtendedType::Union(u)) => u.members.iter().map(|m| m.name.clone()).collect(),
            Some(ExtendedType::Interface(_)) => self
                .schema
                .types
                .iter()
                .filter_map(|(name, ty)| match ty {
                    ExtendedType::Object(o)
                        if o.implements_interfaces.iter().any(|i| i.name == type_name) =>
                    {
                        Some(name.clone())
                    }
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether an object of type `object` satisfies a fragment on `condition`.
    pub fn satisfies(&self, object: &str, condition: &str) -> bool {
        object == condition || self.schema.is_subtype(condition, object)
    }
}

fn read_subgraphs(schema: &Schema) -> Result<Vec<Subgraph>, SupergraphError> {
    let Some(ExtendedType::Enum(graphs)) = schema.types.get("join__Graph") else {
        return Err(SupergraphError::NoSubgraphs);
    };
    let mut subgraphs = Vec::new();
    for (value, definition) in &graphs.values {
        let directive = definition.directives.get("join__graph").ok_or_else(|| {
            SupergraphError::Join(format!("join__Graph value `{value}` has no @join__graph"))
        })?;
        subgraphs.push(Subgraph {
            name: string_argument(directive, "name")
                .unwrap_or_else(|| value.to_string().to_lowercase()),
            url: string_argument(directive, "url").unwrap_or_default(),
            enum_value: value.clone(),
        });
    }
    if subgraphs.is_empty() {
        return Err(SupergraphError::NoSubgraphs);
    }
    Ok(subgraphs)
}

fn parse_field_set(
    schema: &Valid<Schema>,
    type_name: &Name,
    source: &str,
) -> Result<FieldSetSelection, SupergraphError> {
    let field_set = FieldSet::parse(schema, type_name.clone(), source, "field_set.graphql")
        .map_err(|e| {
            SupergraphError::Join(format!(
                "field set `{source}` on `{type_name}`: {}",
                e.errors
            ))
        })?;
    Ok(FieldSetSelection {
        source: source.to_owned(),
        selection_set: field_set.selection_set,
    })
}

/// Field names (recursively) of a field set, for quick containment checks.
pub fn field_set_fields(selection_set: &SelectionSet) -> Vec<(Name, Option<&SelectionSet>)> {
    selection_set
        .selections
        .iter()
        .filter_map(|s| match s {
            Selection::Field(f) => Some((
                f.name.clone(),
                (!f.selection_set.selections.is_empty()).then_some(&f.selection_set),
            )),
            _ => None,
        })
        .collect()
}
