//! Composition: subgraph SDLs (federation v2, or v1 `extend type`) in, supergraph SDL out.
//!
//! Types are merged across subgraphs and annotated with `join__*` directives the router
//! plans from. Composition refuses schemas the router could not serve correctly, with errors
//! naming the subgraph, type and field: conflicting field types or kinds, a field resolved by
//! several subgraphs without `@shareable`, keys or requirements naming unknown fields, and
//! fields no subgraph can reach (no key to jump to their type).
//!
//! Pure: no I/O (fetching `_service { sdl }` is the caller's job).

use apollo_compiler::ast::{self, Definition, DirectiveList, Type, Value};
use apollo_compiler::{Name, Node};
use indexmap::{IndexMap, IndexSet};
use std::fmt::Write;

/// One subgraph to compose.
#[derive(Clone, Debug)]
pub struct SubgraphSource {
    pub name: String,
    pub url: String,
    pub sdl: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}", .0.join("\n"))]
pub struct CompositionErrors(pub Vec<String>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Object,
    Interface,
    Union,
    Enum,
    Input,
    Scalar,
}

impl Kind {
    fn keyword(self) -> &'static str {
        match self {
            Kind::Object => "type",
            Kind::Interface => "interface",
            Kind::Union => "union",
            Kind::Enum => "enum",
            Kind::Input => "input",
            Kind::Scalar => "scalar",
        }
    }
}

#[derive(Clone, Debug, Default)]
struct TypeMeta {
    keys: Vec<(String, bool)>,
    extension: bool,
    interface_object: bool,
    shareable: bool,
    implements: Vec<Name>,
    members: Vec<Name>,
    values: Vec<Name>,
}

#[derive(Clone, Debug)]
struct FieldMeta {
    ty: Type,
    arguments: Vec<Node<ast::InputValueDefinition>>,
    default_value: Option<Node<Value>>,
    external: bool,
    requires: Option<String>,
    provides: Option<String>,
    override_from: Option<String>,
    shareable: bool,
}

#[derive(Clone, Debug)]
struct MergedField {
    description: Option<String>,
    inaccessible: bool,
    graphs: IndexMap<usize, FieldMeta>,
}

#[derive(Clone, Debug)]
struct MergedType {
    kind: Kind,
    description: Option<String>,
    inaccessible: bool,
    graphs: IndexMap<usize, TypeMeta>,
    fields: IndexMap<Name, MergedField>,
}

/// Types, fields and directives that are federation plumbing in a subgraph SDL.
fn is_federation_type(name: &str) -> bool {
    matches!(
        name,
        "_Service"
            | "_Any"
            | "_Entity"
            | "_FieldSet"
            | "FieldSet"
            | "link__Import"
            | "link__Purpose"
    ) || name.starts_with("federation__")
        || name.starts_with("link__")
}

fn directive_string(directives: &DirectiveList, directive: &str, argument: &str) -> Option<String> {
    directives
        .iter()
        .filter(|d| d.name == directive)
        .find_map(
            |d| match d.specified_argument_by_name(argument).map(|v| v.as_ref()) {
                Some(Value::String(s)) => Some(s.clone()),
                _ => None,
            },
        )
}

fn has(directives: &DirectiveList, name: &str) -> bool {
    directives
        .iter()
        .any(|d| d.name == name || d.name.strip_prefix("federation__") == Some(name))
}

fn keys_of(directives: &DirectiveList) -> Vec<(String, bool)> {
    directives
        .iter()
        .filter(|d| d.name == "key" || d.name == "federation__key")
        .filter_map(|d| {
            let fields = match d.specified_argument_by_name("fields").map(|v| v.as_ref()) {
                Some(Value::String(s)) => s.clone(),
                _ => return None,
            };
            let resolvable = !matches!(
                d.specified_argument_by_name("resolvable")
                    .map(|v| v.as_ref()),
                Some(Value::Boolean(false))
            );
            Some((fields, resolvable))
        })
        .collect()
}

struct Composer {
    graphs: Vec<SubgraphSource>,
    types: IndexMap<Name, MergedType>,
    errors: Vec<String>,
    query: Option<Name>,
    mutation: Option<Name>,
    subscription: Option<Name>,
}

/// Composes subgraphs into a supergraph SDL.
pub fn compose(subgraphs: &[SubgraphSource]) -> Result<String, CompositionErrors> {
    let mut composer = Composer {
        graphs: subgraphs.to_vec(),
        types: IndexMap::new(),
        errors: Vec::new(),
        query: None,
        mutation: None,
        subscription: None,
    };
    let mut names = IndexSet::new();
    for (index, subgraph) in subgraphs.iter().enumerate() {
        if !names.insert(subgraph.name.clone()) {
            composer
                .errors
                .push(format!("subgraph name `{}` is used twice", subgraph.name));
            continue;
        }
        if subgraph.name.is_empty()
            || !subgraph
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            composer.errors.push(format!(
                "subgraph name `{}` must use letters, digits, `_` or `-`",
                subgraph.name
            ));
            continue;
        }
        match ast::Document::parse(&subgraph.sdl, format!("{}.graphql", subgraph.name)) {
            Ok(document) => composer.add(index, &document),
            Err(error) => composer.errors.push(format!(
                "[{}] the SDL does not parse: {}",
                subgraph.name, error.errors
            )),
        }
    }
    if composer.errors.is_empty() {
        composer.validate();
    }
    if !composer.errors.is_empty() {
        return Err(CompositionErrors(composer.errors));
    }
    Ok(composer.emit())
}

impl Composer {
    fn graph_name(&self, graph: usize) -> &str {
        &self.graphs[graph].name
    }

    fn merged_type(
        &mut self,
        graph: usize,
        name: &Name,
        kind: Kind,
        description: Option<&Node<str>>,
    ) -> Option<&mut MergedType> {
        let graph_name = self.graphs[graph].name.clone();
        let entry = self
            .types
            .entry(name.clone())
            .or_insert_with(|| MergedType {
                kind,
                description: None,
                inaccessible: false,
                graphs: IndexMap::new(),
                fields: IndexMap::new(),
            });
        if entry.kind != kind {
            let existing = entry.kind.keyword();
            self.errors.push(format!(
                "[{graph_name}] `{name}` is declared as `{}` here but as `{existing}` in another subgraph",
                kind.keyword()
            ));
            return None;
        }
        if entry.description.is_none() {
            entry.description = description.map(|d| d.to_string());
        }
        entry.graphs.entry(graph).or_default();
        Some(entry)
    }

    fn add(&mut self, graph: usize, document: &ast::Document) {
        for definition in &document.definitions {
            match definition {
                Definition::SchemaDefinition(schema) => {
                    for root in &schema.root_operations {
                        match root.0 {
                            ast::OperationType::Query => self.query = Some(root.1.clone()),
                            ast::OperationType::Mutation => self.mutation = Some(root.1.clone()),
                            ast::OperationType::Subscription => {
                                self.subscription = Some(root.1.clone())
                            }
                        }
                    }
                }
                Definition::ObjectTypeDefinition(object) => {
                    self.add_fields_type(
                        graph,
                        &object.name,
                        Kind::Object,
                        object.description.as_ref(),
                        &object.directives,
                        &object.implements_interfaces,
                        &object.fields,
                        false,
                    );
                }
                Definition::ObjectTypeExtension(object) => {
                    self.add_fields_type(
                        graph,
                        &object.name,
                        Kind::Object,
                        None,
                        &object.directives,
                        &object.implements_interfaces,
                        &object.fields,
                        true,
                    );
                }
                Definition::InterfaceTypeDefinition(interface) => {
                    self.add_fields_type(
                        graph,
                        &interface.name,
                        Kind::Interface,
                        interface.description.as_ref(),
                        &interface.directives,
                        &interface.implements_interfaces,
                        &interface.fields,
                        false,
                    );
                }
                Definition::InterfaceTypeExtension(interface) => {
                    self.add_fields_type(
                        graph,
                        &interface.name,
                        Kind::Interface,
                        None,
                        &interface.directives,
                        &interface.implements_interfaces,
                        &interface.fields,
                        true,
                    );
                }
                Definition::UnionTypeDefinition(union) => {
                    if let Some(merged) = self.merged_type(
                        graph,
                        &union.name,
                        Kind::Union,
                        union.description.as_ref(),
                    ) {
                        merged.inaccessible |= has(&union.directives, "inaccessible");
                        let meta = merged.graphs.entry(graph).or_default();
                        meta.members.extend(union.members.iter().cloned());
                    }
                }
                Definition::UnionTypeExtension(union) => {
                    if let Some(merged) = self.merged_type(graph, &union.name, Kind::Union, None) {
                        let meta = merged.graphs.entry(graph).or_default();
                        meta.members.extend(union.members.iter().cloned());
                    }
                }
                Definition::EnumTypeDefinition(enumeration) => {
                    if is_federation_type(&enumeration.name) {
                        continue;
                    }
                    if let Some(merged) = self.merged_type(
                        graph,
                        &enumeration.name,
                        Kind::Enum,
                        enumeration.description.as_ref(),
                    ) {
                        merged.inaccessible |= has(&enumeration.directives, "inaccessible");
                        let meta = merged.graphs.entry(graph).or_default();
                        meta.values
                            .extend(enumeration.values.iter().map(|v| v.value.clone()));
                        for value in &enumeration.values {
                            let field =
                                merged.fields.entry(value.value.clone()).or_insert_with(|| {
                                    MergedField {
                                        description: value
                                            .description
                                            .as_ref()
                                            .map(|d| d.to_string()),
                                        inaccessible: false,
                                        graphs: IndexMap::new(),
                                    }
                                });
                            field.inaccessible |= has(&value.directives, "inaccessible");
                        }
                    }
                }
                Definition::InputObjectTypeDefinition(input) => {
                    if let Some(merged) = self.merged_type(
                        graph,
                        &input.name,
                        Kind::Input,
                        input.description.as_ref(),
                    ) {
                        merged.inaccessible |= has(&input.directives, "inaccessible");
                        for field in &input.fields {
                            let entry =
                                merged.fields.entry(field.name.clone()).or_insert_with(|| {
                                    MergedField {
                                        description: field
                                            .description
                                            .as_ref()
                                            .map(|d| d.to_string()),
                                        inaccessible: false,
                                        graphs: IndexMap::new(),
                                    }
                                });
                            entry.inaccessible |= has(&field.directives, "inaccessible");
                            entry.graphs.insert(
                                graph,
                                FieldMeta {
                                    ty: (*field.ty).clone(),
                                    arguments: Vec::new(),
                                    default_value: field.default_value.clone(),
                                    external: false,
                                    requires: None,
                                    provides: None,
                                    override_from: None,
                                    shareable: true,
                                },
                            );
                        }
                    }
                }
                Definition::ScalarTypeDefinition(scalar) => {
                    if is_federation_type(&scalar.name) {
                        continue;
                    }
                    if let Some(merged) = self.merged_type(
                        graph,
                        &scalar.name,
                        Kind::Scalar,
                        scalar.description.as_ref(),
                    ) {
                        merged.inaccessible |= has(&scalar.directives, "inaccessible");
                    }
                }
                _ => {}
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_fields_type(
        &mut self,
        graph: usize,
        name: &Name,
        kind: Kind,
        description: Option<&Node<str>>,
        directives: &DirectiveList,
        implements: &[Name],
        fields: &[Node<ast::FieldDefinition>],
        extension: bool,
    ) {
        if is_federation_type(name) {
            return;
        }
        let root = name == "Query" || name == "Mutation" || name == "Subscription";
        if name == "Query" && self.query.is_none() {
            self.query = Some(name.clone());
        }
        if name == "Mutation" && self.mutation.is_none() {
            self.mutation = Some(name.clone());
        }
        if name == "Subscription" && self.subscription.is_none() {
            self.subscription = Some(name.clone());
        }
        let Some(merged) = self.merged_type(graph, name, kind, description) else {
            return;
        };
        merged.inaccessible |= has(directives, "inaccessible");
        let type_shareable = has(directives, "shareable");
        let meta = merged.graphs.entry(graph).or_default();
        meta.keys.extend(keys_of(directives));
        meta.extension |= extension || has(directives, "extends");
        meta.interface_object |= has(directives, "interfaceObject");
        meta.shareable |= type_shareable;
        meta.implements.extend(implements.iter().cloned());
        for field in fields {
            if root && (field.name == "_service" || field.name == "_entities") {
                continue;
            }
            let entry = merged
                .fields
                .entry(field.name.clone())
                .or_insert_with(|| MergedField {
                    description: field.description.as_ref().map(|d| d.to_string()),
                    inaccessible: false,
                    graphs: IndexMap::new(),
                });
            entry.inaccessible |= has(&field.directives, "inaccessible");
            entry.graphs.insert(
                graph,
                FieldMeta {
                    ty: field.ty.clone(),
                    arguments: field.arguments.clone(),
                    default_value: None,
                    external: has(&field.directives, "external"),
                    requires: directive_string(&field.directives, "requires", "fields"),
                    provides: directive_string(&field.directives, "provides", "fields"),
                    override_from: directive_string(&field.directives, "override", "from"),
                    shareable: type_shareable || has(&field.directives, "shareable"),
                },
            );
        }
    }

    fn validate(&mut self) {
        let mut errors = Vec::new();
        for (type_name, merged) in &self.types {
            if !matches!(merged.kind, Kind::Object | Kind::Interface) {
                continue;
            }
            let field_names: IndexSet<&str> = merged.fields.keys().map(|n| n.as_str()).collect();
            for (&graph, meta) in &merged.graphs {
                for (key, _) in &meta.keys {
                    for name in top_level_fields(key) {
                        if !field_names.contains(name.as_str()) {
                            errors.push(format!(
                                "[{}] @key(fields: \"{key}\") on `{type_name}` names unknown field `{name}`",
                                self.graph_name(graph)
                            ));
                        }
                    }
                }
            }
            for (field_name, field) in &merged.fields {
                let mut resolvers: Vec<usize> = Vec::new();
                let mut first_type: Option<(usize, &Type)> = None;
                for (&graph, meta) in &field.graphs {
                    if let Some((other, ty)) = first_type {
                        if ty.inner_named_type() != meta.ty.inner_named_type()
                            || ty.is_list() != meta.ty.is_list()
                        {
                            errors.push(format!(
                                "`{type_name}.{field_name}` has conflicting types: `{ty}` in [{}] but `{}` in [{}]",
                                self.graph_name(other),
                                meta.ty,
                                self.graph_name(graph)
                            ));
                        }
                    } else {
                        first_type = Some((graph, &meta.ty));
                    }
                    for (directive, fields) in
                        [("requires", &meta.requires), ("provides", &meta.provides)]
                    {
                        let Some(fields) = fields else { continue };
                        let target_type = if directive == "requires" {
                            type_name.clone()
                        } else {
                            meta.ty.inner_named_type().clone()
                        };
                        if let Some(target) = self.types.get(&target_type) {
                            for name in top_level_fields(fields) {
                                if !target.fields.contains_key(name.as_str()) {
                                    errors.push(format!(
                                        "[{}] @{directive}(fields: \"{fields}\") on `{type_name}.{field_name}` names unknown field `{target_type}.{name}`",
                                        self.graph_name(graph)
                                    ));
                                }
                            }
                        }
                    }
                    let overridden = field
                        .graphs
                        .values()
                        .any(|m| m.override_from.as_deref() == Some(self.graph_name(graph)));
                    if !meta.external && !overridden {
                        resolvers.push(graph);
                    }
                }
                let is_key = |graph: usize| {
                    merged.graphs.get(&graph).is_some_and(|m| {
                        m.keys.iter().any(|(k, _)| {
                            top_level_fields(k).iter().any(|f| f == field_name.as_str())
                        })
                    })
                };
                if resolvers.len() > 1 {
                    let unshared: Vec<&str> = resolvers
                        .iter()
                        .filter(|&&g| !field.graphs[&g].shareable && !is_key(g))
                        .map(|&g| self.graph_name(g))
                        .collect();
                    if !unshared.is_empty() {
                        let all: Vec<&str> =
                            resolvers.iter().map(|&g| self.graph_name(g)).collect();
                        errors.push(format!(
                            "`{type_name}.{field_name}` is resolved by [{}] but not marked @shareable in [{}]",
                            all.join(", "),
                            unshared.join(", ")
                        ));
                    }
                }
                // Reachability: a field of a non-root type that only some subgraphs resolve
                // must be reachable by key from the others that return the type.
                let root = Some(type_name) == self.query.as_ref()
                    || Some(type_name) == self.mutation.as_ref()
                    || Some(type_name) == self.subscription.as_ref();
                if !root && merged.kind == Kind::Object && !resolvers.is_empty() {
                    let others: Vec<usize> = merged
                        .graphs
                        .keys()
                        .copied()
                        .filter(|g| !resolvers.contains(g))
                        .collect();
                    let keyed = resolvers.iter().any(|g| {
                        merged.graphs[g]
                            .keys
                            .iter()
                            .any(|(_, resolvable)| *resolvable)
                    });
                    if !others.is_empty() && !keyed {
                        let from: Vec<&str> = others.iter().map(|&g| self.graph_name(g)).collect();
                        errors.push(format!(
                            "`{type_name}.{field_name}` cannot be satisfied from [{}]: the subgraphs that resolve it have no resolvable @key on `{type_name}`",
                            from.join(", ")
                        ));
                    }
                }
            }
        }
        self.errors.extend(errors);
        if self.query.is_none() {
            self.errors.push("no subgraph defines a Query type".into());
        }
    }

    fn emit(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "schema\n  @link(url: \"https://specs.apollo.dev/link/v1.0\")\n  @link(url: \"https://specs.apollo.dev/join/v0.3\", for: EXECUTION)\n"
        );
        let any_inaccessible = self
            .types
            .values()
            .any(|t| t.inaccessible || t.fields.values().any(|f| f.inaccessible));
        if any_inaccessible {
            out.push_str(
                "  @link(url: \"https://specs.apollo.dev/inaccessible/v0.2\", for: SECURITY)\n",
            );
        }
        out.push_str("{\n");
        if let Some(query) = &self.query {
            let _ = writeln!(out, "  query: {query}");
        }
        if let Some(mutation) = &self.mutation {
            let _ = writeln!(out, "  mutation: {mutation}");
        }
        if let Some(subscription) = &self.subscription {
            let _ = writeln!(out, "  subscription: {subscription}");
        }
        out.push_str("}\n\n");
        out.push_str(JOIN_DEFINITIONS);
        if any_inaccessible {
            out.push_str("directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION\n\n");
        }
        out.push_str("enum join__Graph {\n");
        for graph in &self.graphs {
            let _ = writeln!(
                out,
                "  {} @join__graph(name: {}, url: {})",
                graph_enum(&graph.name),
                quote(&graph.name),
                quote(&graph.url)
            );
        }
        out.push_str("}\n\n");
        for (name, merged) in &self.types {
            self.emit_type(&mut out, name, merged);
        }
        out
    }

    fn emit_type(&self, out: &mut String, name: &Name, merged: &MergedType) {
        if let Some(description) = &merged.description {
            let _ = writeln!(out, "{}", block_string(description, ""));
        }
        let _ = write!(out, "{} {name}", merged.kind.keyword());
        let mut interfaces: IndexSet<&Name> = IndexSet::new();
        for meta in merged.graphs.values() {
            interfaces.extend(meta.implements.iter());
        }
        if !interfaces.is_empty() && matches!(merged.kind, Kind::Object | Kind::Interface) {
            let list: Vec<&str> = interfaces.iter().map(|n| n.as_str()).collect();
            let _ = write!(out, " implements {}", list.join(" & "));
        }
        for (&graph, meta) in &merged.graphs {
            let enum_value = graph_enum(self.graph_name(graph));
            for interface in &meta.implements {
                let _ = write!(
                    out,
                    "\n  @join__implements(graph: {enum_value}, interface: {})",
                    quote(interface)
                );
            }
        }
        for (&graph, meta) in &merged.graphs {
            let enum_value = graph_enum(self.graph_name(graph));
            if meta.keys.is_empty() {
                let mut extra = String::new();
                if meta.interface_object {
                    extra.push_str(", isInterfaceObject: true");
                }
                let _ = write!(out, "\n  @join__type(graph: {enum_value}{extra})");
            }
            for (key, resolvable) in &meta.keys {
                let mut extra = String::new();
                if meta.extension {
                    extra.push_str(", extension: true");
                }
                if !resolvable {
                    extra.push_str(", resolvable: false");
                }
                if meta.interface_object {
                    extra.push_str(", isInterfaceObject: true");
                }
                let _ = write!(
                    out,
                    "\n  @join__type(graph: {enum_value}, key: {}{extra})",
                    quote(key)
                );
            }
            for member in &meta.members {
                let _ = write!(
                    out,
                    "\n  @join__unionMember(graph: {enum_value}, member: {})",
                    quote(member)
                );
            }
        }
        if merged.inaccessible {
            out.push_str("\n  @inaccessible");
        }
        match merged.kind {
            Kind::Scalar => out.push_str("\n\n"),
            Kind::Union => {
                let mut members: IndexSet<&Name> = IndexSet::new();
                for meta in merged.graphs.values() {
                    members.extend(meta.members.iter());
                }
                let list: Vec<&str> = members.iter().map(|n| n.as_str()).collect();
                let _ = write!(out, "\n  = {}\n\n", list.join(" | "));
            }
            Kind::Enum => {
                out.push_str("\n{\n");
                for (value, field) in &merged.fields {
                    if let Some(description) = &field.description {
                        let _ = writeln!(out, "{}", block_string(description, "  "));
                    }
                    let _ = write!(out, "  {value}");
                    for (&graph, meta) in &merged.graphs {
                        if meta.values.contains(value) {
                            let _ = write!(
                                out,
                                " @join__enumValue(graph: {})",
                                graph_enum(self.graph_name(graph))
                            );
                        }
                    }
                    if field.inaccessible {
                        out.push_str(" @inaccessible");
                    }
                    out.push('\n');
                }
                out.push_str("}\n\n");
            }
            Kind::Input => {
                out.push_str("\n{\n");
                let graph_count = merged.graphs.len();
                for (field_name, field) in &merged.fields {
                    // Input types compose by intersection: a field every subgraph accepts.
                    if field.graphs.len() < graph_count {
                        continue;
                    }
                    let Some(meta) = field.graphs.values().next() else {
                        continue;
                    };
                    if let Some(description) = &field.description {
                        let _ = writeln!(out, "{}", block_string(description, "  "));
                    }
                    let _ = write!(out, "  {field_name}: {}", meta.ty);
                    if let Some(default) = &meta.default_value {
                        let _ = write!(out, " = {default}");
                    }
                    if field.inaccessible {
                        out.push_str(" @inaccessible");
                    }
                    out.push('\n');
                }
                out.push_str("}\n\n");
            }
            Kind::Object | Kind::Interface => {
                out.push_str("\n{\n");
                for (field_name, field) in &merged.fields {
                    self.emit_field(out, merged, field_name, field);
                }
                out.push_str("}\n\n");
            }
        }
    }

    fn emit_field(
        &self,
        out: &mut String,
        merged: &MergedType,
        field_name: &Name,
        field: &MergedField,
    ) {
        let Some(first) = field.graphs.values().next() else {
            return;
        };
        // The supergraph type is the most nullable of the subgraph types.
        let ty = field
            .graphs
            .values()
            .map(|m| &m.ty)
            .find(|t| !t.is_non_null())
            .unwrap_or(&first.ty);
        if let Some(description) = &field.description {
            let _ = writeln!(out, "{}", block_string(description, "  "));
        }
        let _ = write!(out, "  {field_name}");
        if !first.arguments.is_empty() {
            let arguments: Vec<String> = first
                .arguments
                .iter()
                .map(|a| {
                    let mut text = format!("{}: {}", a.name, a.ty);
                    if let Some(default) = &a.default_value {
                        let _ = write!(text, " = {default}");
                    }
                    text
                })
                .collect();
            let _ = write!(out, "({})", arguments.join(", "));
        }
        let _ = write!(out, ": {ty}");
        let in_every_graph = field.graphs.len() == merged.graphs.len();
        let plain = field.graphs.values().all(|m| {
            !m.external
                && m.requires.is_none()
                && m.provides.is_none()
                && m.override_from.is_none()
                && m.ty == *ty
        });
        if !(in_every_graph && plain) || merged.graphs.values().any(|m| m.interface_object) {
            for (&graph, meta) in &field.graphs {
                let overridden = field
                    .graphs
                    .values()
                    .any(|m| m.override_from.as_deref() == Some(self.graph_name(graph)));
                if overridden {
                    continue;
                }
                let mut arguments = vec![format!("graph: {}", graph_enum(self.graph_name(graph)))];
                if let Some(requires) = &meta.requires {
                    arguments.push(format!("requires: {}", quote(requires)));
                }
                if let Some(provides) = &meta.provides {
                    arguments.push(format!("provides: {}", quote(provides)));
                }
                if meta.ty != *ty {
                    arguments.push(format!("type: {}", quote(&meta.ty.to_string())));
                }
                if meta.external {
                    arguments.push("external: true".into());
                }
                if let Some(from) = &meta.override_from {
                    arguments.push(format!("override: {}", quote(from)));
                }
                let _ = write!(out, " @join__field({})", arguments.join(", "));
            }
        }
        if field.inaccessible {
            out.push_str(" @inaccessible");
        }
        out.push('\n');
    }
}

fn top_level_fields(field_set: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut depth = 0usize;
    for token in field_set
        .replace('{', " { ")
        .replace('}', " } ")
        .split_whitespace()
    {
        match token {
            "{" => depth += 1,
            "}" => depth = depth.saturating_sub(1),
            "..." | "on" => {}
            name if depth == 0 => fields.push(name.to_owned()),
            _ => {}
        }
    }
    fields
}

fn graph_enum(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

fn block_string(text: &str, indent: &str) -> String {
    format!(
        "{indent}\"\"\"\n{indent}{}\n{indent}\"\"\"",
        text.replace("\"\"\"", "\\\"\"\"")
            .replace('\n', &format!("\n{indent}"))
    )
}

const JOIN_DEFINITIONS: &str = r#"directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE

directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION

directive @join__graph(name: String!, url: String!) on ENUM_VALUE

directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE

directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR

directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION

directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA

scalar join__FieldSet

scalar link__Import

enum link__Purpose {
  SECURITY
  EXECUTION
}

"#;
