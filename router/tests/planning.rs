//! Planner behaviour per federation feature, on small hand-written supergraphs: which
//! subgraph each part goes to, in what order, with which representations. No I/O: the
//! planner is a library call.

use looma_router::RouterConfig;
use looma_router::pipeline::{LoadedSupergraph, prepare};
use looma_router::plan::{Fetch, FetchKind, describe_fetch};
use looma_router::supergraph::Supergraph;

const HEADER: &str = r#"
schema @link(url: "https://specs.apollo.dev/link/v1.0") @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION) { query: Query mutation: Mutation }
directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
scalar join__FieldSet
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
enum join__Graph {
  A @join__graph(name: "a", url: "http://a")
  B @join__graph(name: "b", url: "http://b")
  C @join__graph(name: "c", url: "http://c")
}
type Mutation @join__type(graph: A) @join__type(graph: B) {
  createA: Int @join__field(graph: A)
  createB: Int @join__field(graph: B)
}
"#;

fn plan(types: &str, query: &str) -> Vec<Fetch> {
    let supergraph = Supergraph::parse(&format!("{HEADER}{types}")).expect("supergraph parses");
    let loaded = LoadedSupergraph::new(supergraph, 8);
    let prepared = prepare(&loaded, &RouterConfig::default(), query, None)
        .unwrap_or_else(|e| panic!("planning failed: {e}"));
    prepared.plan.fetches.clone()
}

fn summary(fetches: &[Fetch]) -> String {
    fetches
        .iter()
        .map(describe_fetch)
        .collect::<Vec<_>>()
        .join("\n")
}

fn subgraphs(fetches: &[Fetch]) -> Vec<&str> {
    fetches.iter().map(|f| f.subgraph.as_str()).collect()
}

#[test]
fn key_jump_batches_one_entity_fetch_per_path() {
    let fetches = plan(
        r#"
        type Query @join__type(graph: A) @join__type(graph: B) { products: [Product] @join__field(graph: A) }
        type Product @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
          id: ID!
          name: String @join__field(graph: A)
          stock: Int @join__field(graph: B)
          rating: Int @join__field(graph: B)
        }"#,
        "{ products { name stock rating } }",
    );
    assert_eq!(subgraphs(&fetches), ["a", "b"], "{}", summary(&fetches));
    assert!(
        fetches[0].query.contains("products{__typename name id}"),
        "{}",
        summary(&fetches)
    );
    let FetchKind::Entity {
        path,
        representations,
    } = &fetches[1].kind
    else {
        panic!("entity fetch")
    };
    assert_eq!(looma_router::plan::path_to_string(path), "products.@");
    assert!(representations.contains_key("Product"));
    assert!(
        fetches[1].query.contains("... on Product{stock rating}"),
        "both fields in one fetch: {}",
        summary(&fetches)
    );
    assert!(fetches[1].depends_on.contains(&0));
}

#[test]
fn compound_and_nested_keys_travel_in_representations() {
    let fetches = plan(
        r#"
        type Query @join__type(graph: A) @join__type(graph: B) { user: User @join__field(graph: A) }
        type User @join__type(graph: A, key: "id org { id }") @join__type(graph: B, key: "id org { id }") {
          id: ID!
          org: Org
          plan: String @join__field(graph: B)
        }
        type Org @join__type(graph: A) @join__type(graph: B) { id: ID! }"#,
        "{ user { plan } }",
    );
    let text = summary(&fetches);
    assert_eq!(subgraphs(&fetches), ["a", "b"], "{text}");
    assert!(
        fetches[0].query.contains("org{__typename id}"),
        "the nested key is fetched: {text}"
    );
    assert!(
        text.contains("User as User {__typename id org{id}}"),
        "{text}"
    );
}

#[test]
fn requires_fetches_its_fields_first() {
    let fetches = plan(
        r#"
        type Query @join__type(graph: A) @join__type(graph: B) @join__type(graph: C) { item: Item @join__field(graph: A) }
        type Item @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") @join__type(graph: C, key: "id") {
          id: ID!
          weight: Int @join__field(graph: B) @join__field(graph: C, external: true)
          shipping: Int @join__field(graph: C, requires: "weight")
        }"#,
        "{ item { shipping } }",
    );
    let text = summary(&fetches);
    assert_eq!(subgraphs(&fetches), ["a", "b", "c"], "{text}");
    assert!(
        fetches[2].depends_on.contains(&1),
        "c waits for b's weight: {text}"
    );
    assert!(
        text.contains("Item as Item {__typename id weight}"),
        "{text}"
    );
}

#[test]
fn provides_avoids_a_jump() {
    let types = r#"
        type Query @join__type(graph: A) @join__type(graph: B) { review: Review @join__field(graph: A) }
        type Review @join__type(graph: A) { author: User @join__field(graph: A, provides: "name") }
        type User @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
          id: ID!
          name: String @join__field(graph: A, external: true) @join__field(graph: B)
          email: String @join__field(graph: B)
        }"#;
    assert_eq!(
        subgraphs(&plan(types, "{ review { author { name } } }")),
        ["a"]
    );
    assert_eq!(
        subgraphs(&plan(types, "{ review { author { name email } } }")),
        ["a", "b"]
    );
}

#[test]
fn override_moves_the_field() {
    let fetches = plan(
        r#"
        type Query @join__type(graph: A) @join__type(graph: B) { product: Product @join__field(graph: A) }
        type Product @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
          id: ID!
          price: Int @join__field(graph: B, override: "a")
        }"#,
        "{ product { price } }",
    );
    assert_eq!(subgraphs(&fetches), ["a", "b"], "{}", summary(&fetches));
}

#[test]
fn shareable_root_field_goes_where_most_is_resolved() {
    let fetches = plan(
        r#"
        type Query @join__type(graph: A) @join__type(graph: B) { shop: Shop }
        type Shop @join__type(graph: A) @join__type(graph: B) {
          name: String
          owner: String @join__field(graph: B)
        }"#,
        "{ shop { name owner } }",
    );
    assert_eq!(subgraphs(&fetches), ["b"], "{}", summary(&fetches));
}

#[test]
fn value_type_fields_missing_here_are_fetched_from_the_root_elsewhere() {
    let fetches = plan(
        r#"
        type Query @join__type(graph: A) @join__type(graph: B) { shop: Shop }
        type Shop @join__type(graph: A) @join__type(graph: B) {
          name: String
          a: String @join__field(graph: A)
          b: String @join__field(graph: B)
        }"#,
        "{ shop { a b } }",
    );
    assert_eq!(subgraphs(&fetches), ["a", "b"], "{}", summary(&fetches));
    assert!(
        fetches.iter().all(|f| matches!(f.kind, FetchKind::Root)),
        "{}",
        summary(&fetches)
    );
}

#[test]
fn abstract_types_expand_per_subgraph() {
    let fetches = plan(
        r#"
        type Query @join__type(graph: A) @join__type(graph: B) { media: [Media] @join__field(graph: A) }
        union Media @join__type(graph: A) @join__unionMember(graph: A, member: "Book") @join__unionMember(graph: A, member: "Film") = Book | Film
        type Book @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") { id: ID! title: String @join__field(graph: A) reviews: Int @join__field(graph: B) }
        type Film @join__type(graph: A, key: "id") { id: ID! title: String }"#,
        "{ media { ... on Book { title reviews } ... on Film { title } } }",
    );
    let text = summary(&fetches);
    assert_eq!(subgraphs(&fetches), ["a", "b"], "{text}");
    assert!(
        fetches[0].query.contains("... on Book{title id}")
            && fetches[0].query.contains("... on Film{title}"),
        "{text}"
    );
    assert!(text.contains("Book as Book"), "only books jump: {text}");
}

#[test]
fn interface_objects_resolve_through_the_owner() {
    let fetches = plan(
        r#"
        type Query @join__type(graph: A) @join__type(graph: B) { accounts: [Account] @join__field(graph: B) }
        interface Account @join__type(graph: A, key: "id") @join__type(graph: B, key: "id", isInterfaceObject: true) {
          id: ID!
          rating: Int @join__field(graph: B)
        }
        type Admin implements Account @join__implements(graph: A, interface: "Account") @join__type(graph: A, key: "id") {
          id: ID!
          rating: Int @join__field
          level: Int
        }"#,
        "{ accounts { __typename rating ... on Admin { level } } }",
    );
    let text = summary(&fetches);
    assert_eq!(subgraphs(&fetches), ["b", "a"], "{text}");
    assert!(
        text.contains("Account as Account"),
        "the owner receives the interface name: {text}"
    );
    assert!(fetches[1].query.contains("level"), "{text}");
}

#[test]
fn mutations_run_in_order() {
    let fetches = plan(
        "type Query @join__type(graph: A) { ok: Int }",
        "mutation { first: createA second: createB third: createA }",
    );
    assert_eq!(subgraphs(&fetches), ["a", "b", "a"]);
    assert!(fetches[1].depends_on.contains(&0) && fetches[2].depends_on.contains(&1));
}

#[test]
fn unreachable_fields_fail_planning() {
    let supergraph = Supergraph::parse(&format!(
        "{HEADER}{}",
        r#"
        type Query @join__type(graph: A) @join__type(graph: B) { thing: Thing @join__field(graph: A) }
        type Thing @join__type(graph: A) @join__type(graph: B) { id: ID secret: String @join__field(graph: B) }"#
    ))
    .unwrap();
    let loaded = LoadedSupergraph::new(supergraph, 8);
    let error = prepare(
        &loaded,
        &RouterConfig::default(),
        "{ thing { secret } }",
        None,
    )
    .err()
    .expect("fails")
    .to_json();
    assert_eq!(
        error["errors"][0]["extensions"]["code"], "QUERY_PLANNING_FAILED",
        "{error}"
    );
}

#[test]
fn conflicting_field_types_in_sibling_fragments_get_internal_aliases() {
    let fetches = plan(
        r#"
        type Query @join__type(graph: A) @join__type(graph: B) { accounts: [Account] @join__field(graph: B) }
        union Account @join__type(graph: B) @join__unionMember(graph: B, member: "User") @join__unionMember(graph: B, member: "Bot") = User | Bot
        type User @join__type(graph: A) @join__type(graph: B) { id: ID @join__field(graph: A, type: "ID") @join__field(graph: B, type: "ID!") }
        type Bot @join__type(graph: B) { id: ID }"#,
        "{ accounts { ... on User { id } ... on Bot { id } } }",
    );
    assert!(
        fetches[0].query.contains("... on Bot{_looma_Bot_id:id}"),
        "{}",
        summary(&fetches)
    );
    let rename = &fetches[0].renames[0];
    assert_eq!(
        (
            rename.object.as_str(),
            rename.alias.as_str(),
            rename.key.as_str()
        ),
        ("Bot", "_looma_Bot_id", "id")
    );
}

/// `subgraph: operation` per fetch.
fn queries(fetches: &[Fetch]) -> String {
    fetches
        .iter()
        .map(|f| format!("{}: {}", f.subgraph, f.query))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `query{...Fn}` where every fragment spreads the previous one twice (2^n copies of F0).
fn fragment_bomb(levels: usize, base: &str) -> String {
    let mut text = format!("query{{...F{levels}}} fragment F0 on Query{{{base}}}");
    for level in 1..=levels {
        let previous = level - 1;
        text.push_str(&format!(
            " fragment F{level} on Query{{...F{previous} ...F{previous}}}"
        ));
    }
    text
}

const MERGE_TYPES: &str = r#"
    type Query @join__type(graph: A) @join__type(graph: B) {
      me: User @join__field(graph: A)
      products(first: Int): [Product] @join__field(graph: B)
    }
    interface Node @join__type(graph: A) { id: ID! }
    type User implements Node @join__type(graph: A, key: "id") @join__implements(graph: A, interface: "Node") { id: ID! name: String email: String }
    type Product @join__type(graph: B) { upc: String name: String }"#;

#[test]
fn repeated_fragment_spreads_merge_into_one_copy_of_each_field() {
    let fetches = plan(MERGE_TYPES, &fragment_bomb(10, "__typename me{id}"));
    assert_eq!(queries(&fetches), "a: query{me{__typename id}}");
}

#[test]
fn fields_merge_with_their_selections_in_first_occurrence_order() {
    let fetches = plan(
        MERGE_TYPES,
        "{ me { id } products(first: 2) { upc } me { name ... on User { email id } } ...P } \
         fragment P on Query { products(first: 2) { name } }",
    );
    assert_eq!(
        queries(&fetches),
        "a: query{me{__typename id name email}}\nb: query{products(first:2){__typename upc name}}"
    );
}

#[test]
fn fields_under_different_conditions_stay_apart() {
    let fetches = plan(
        MERGE_TYPES,
        "query($v: Boolean!) { me { id } me @include(if: $v) { name } me { email } }",
    );
    let text = queries(&fetches);
    assert!(
        text.contains("me{__typename id email} me @include(if: $v){__typename name}"),
        "{text}"
    );
}

#[test]
fn a_fragment_bomb_is_refused_before_validation() {
    let supergraph =
        Supergraph::parse(&format!("{HEADER}{MERGE_TYPES}")).expect("supergraph parses");
    let loaded = LoadedSupergraph::new(supergraph, 1024 * 1024);
    let started = std::time::Instant::now();
    let error = match prepare(
        &loaded,
        &RouterConfig::default(),
        &fragment_bomb(30, "__typename me{id}"),
        None,
    ) {
        Ok(_) => panic!("a 2^30 fan-out was planned"),
        Err(error) => error.to_json(),
    };
    assert!(started.elapsed() < std::time::Duration::from_millis(500));
    assert_eq!(error["errors"][0]["extensions"]["code"], "OPERATION_LIMIT");
    let message = error["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("limit is 20000"), "{message}");
}
