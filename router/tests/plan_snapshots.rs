//! Whole-plan snapshots: a small supergraph and an operation in, every fetch of the plan out
//! (ids, dependencies, subgraph, kind and path, representations, the subgraph operation,
//! variables, internal-alias renames), or the request error. The safety net for changes to
//! the planner: any difference in any fetch shows up in review.
//!
//! Write new snapshots with `INSTA_UPDATE=always cargo test -p looma-router --test
//! plan_snapshots` and read them before committing: a snapshot records what the planner does,
//! not what it should do.

use looma_router::RouterConfig;
use looma_router::pipeline::{LoadedSupergraph, prepare};
use looma_router::plan::{Fetch, describe_fetch, path_to_string};
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
directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION
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

/// The operation, then each fetch as `looma plan` prints it plus its variables and renames.
fn render_plan(types: &str, query: &str) -> String {
    let supergraph = Supergraph::parse(&format!("{HEADER}{types}"))
        .unwrap_or_else(|e| panic!("supergraph parses: {e}"));
    let loaded = LoadedSupergraph::new(supergraph, 1024 * 1024);
    let mut out = format!("{}\n---\n", query.trim());
    match prepare(&loaded, &RouterConfig::default(), query, None) {
        Ok(prepared) => {
            if prepared.plan.fetches.is_empty() {
                out.push_str("(no fetches)\n");
            }
            for fetch in &prepared.plan.fetches {
                out.push_str(&render_fetch(fetch));
            }
        }
        Err(error) => {
            let error: serde_json::Value = error.into();
            for error in error["errors"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "error {}: {}\n",
                    error["extensions"]["code"].as_str().unwrap_or("?"),
                    error["message"].as_str().unwrap_or("?")
                ));
            }
        }
    }
    out
}

fn render_fetch(fetch: &Fetch) -> String {
    let mut text = describe_fetch(fetch);
    text.push('\n');
    if !fetch.variables.is_empty() {
        let names: Vec<String> = fetch.variables.iter().map(|v| format!("${v}")).collect();
        text.push_str(&format!("    variables: {}\n", names.join(", ")));
    }
    for rename in &fetch.renames {
        text.push_str(&format!(
            "    rename at {}: {}.{} -> {}\n",
            path_to_string(&rename.path),
            rename.object,
            rename.alias,
            rename.key
        ));
    }
    text
}

/// One `#[test]` per case; the snapshot is named after the test.
macro_rules! cases {
    ($($name:ident: $types:expr, $query:expr;)*) => {
        $(
            #[test]
            fn $name() {
                insta::assert_snapshot!(stringify!($name), render_plan($types, $query));
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------
// Supergraphs
// ---------------------------------------------------------------------------------------

/// One entity in three subgraphs, keyed by `id` everywhere.
const PRODUCTS: &str = r#"
type Query @join__type(graph: A) @join__type(graph: B) @join__type(graph: C) {
  products: [Product] @join__field(graph: A)
  product(id: ID!): Product @join__field(graph: A)
  topProduct: Product @join__field(graph: B)
  productCount: Int @join__field(graph: C)
}
type Product @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") @join__type(graph: C, key: "id") {
  id: ID!
  name: String @join__field(graph: A)
  price(currency: String): Int @join__field(graph: A)
  stock: Int @join__field(graph: B)
  rating: Int @join__field(graph: B)
  reviews(first: Int): [Review] @join__field(graph: C)
}
type Review @join__type(graph: C) { body: String author: String }
"#;

/// Several keys: `a` knows both, `b` only `sku`, `c` only `id`.
const MULTI_KEY: &str = r#"
type Query @join__type(graph: A) @join__type(graph: B) @join__type(graph: C) {
  items: [Item] @join__field(graph: A)
  bItems: [Item] @join__field(graph: B)
}
type Item @join__type(graph: A, key: "id") @join__type(graph: A, key: "sku") @join__type(graph: B, key: "sku") @join__type(graph: C, key: "id") {
  id: ID! @join__field(graph: A) @join__field(graph: C)
  sku: String! @join__field(graph: A) @join__field(graph: B)
  title: String @join__field(graph: A)
  stock: Int @join__field(graph: B)
  color: String @join__field(graph: C)
}
"#;

/// A compound key with a nested part.
const COMPOUND: &str = r#"
type Query @join__type(graph: A) @join__type(graph: B) {
  user: User @join__field(graph: A)
  users: [User] @join__field(graph: A)
  account: Account @join__field(graph: B)
}
type User @join__type(graph: A, key: "id org { id }") @join__type(graph: B, key: "id org { id }") {
  id: ID!
  org: Org
  name: String @join__field(graph: A)
  plan: String @join__field(graph: B)
}
type Org @join__type(graph: A) @join__type(graph: B) { id: ID! }
type Account @join__type(graph: A, key: "region number") @join__type(graph: B, key: "region number") {
  region: String!
  number: Int!
  owner: String @join__field(graph: A)
  balance: Int @join__field(graph: B)
}
"#;

/// Search-style stubs: `b` returns `Resume` references it cannot resolve itself.
const NOT_RESOLVABLE: &str = r#"
type Query @join__type(graph: A) @join__type(graph: B) {
  resumes: [Resume] @join__field(graph: A)
  search(text: String!): [Hit] @join__field(graph: B)
}
type Hit @join__type(graph: B) { score: Float resume: Resume }
type Resume @join__type(graph: A, key: "id") @join__type(graph: B, key: "id", resolvable: false) {
  id: ID!
  name: String @join__field(graph: A)
  secret: String @join__field(graph: C)
}
"#;

/// `@requires` in its shapes: simple, nested, with arguments, chained.
const REQUIRES: &str = r#"
type Query @join__type(graph: A) @join__type(graph: B) @join__type(graph: C) {
  item: Item @join__field(graph: A)
  items: [Item] @join__field(graph: A)
  parcel: Parcel @join__field(graph: A)
}
type Item @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") @join__type(graph: C, key: "id") {
  id: ID!
  name: String @join__field(graph: A)
  weight: Int @join__field(graph: B) @join__field(graph: C, external: true)
  shipping: Int @join__field(graph: C, requires: "weight")
  size: Int @join__field(graph: A) @join__field(graph: B, external: true)
  volume: Int @join__field(graph: B, requires: "size")
  insurance: Int @join__field(graph: C, requires: "shipping")
  label: String @join__field(graph: A) @join__field(graph: C, external: true)
  tag: String @join__field(graph: C, requires: "name label")
}
type Parcel @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
  id: ID!
  dimensions: Dimensions @join__field(graph: A) @join__field(graph: B, external: true)
  price(currency: String): Int @join__field(graph: A) @join__field(graph: B, external: true)
  cost: Int @join__field(graph: B, requires: "dimensions { length width }")
  fee: Int @join__field(graph: B, requires: "price(currency: \"EUR\")")
}
type Dimensions @join__type(graph: A) @join__type(graph: B) { length: Int width: Int height: Int }
"#;

/// `@provides`: `a` can return the author's name without a jump.
const PROVIDES: &str = r#"
type Query @join__type(graph: A) @join__type(graph: B) {
  review: Review @join__field(graph: A)
  reviews: [Review] @join__field(graph: A)
}
type Review @join__type(graph: A) {
  body: String
  author: User @join__field(graph: A, provides: "name")
  editor: User @join__field(graph: A)
  team: Team @join__field(graph: A, provides: "lead { name }")
}
type User @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
  id: ID!
  name: String @join__field(graph: A, external: true) @join__field(graph: B)
  email: String @join__field(graph: B)
}
type Team @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
  id: ID!
  lead: User @join__field(graph: A, external: true) @join__field(graph: B)
  size: Int @join__field(graph: B)
}
"#;

/// `@shareable` at the root and below: both subgraphs resolve `shop` and `Shop.name`.
const SHAREABLE: &str = r#"
type Query @join__type(graph: A) @join__type(graph: B) { shop: Shop config: Config @join__field(graph: A) }
type Shop @join__type(graph: A) @join__type(graph: B) {
  name: String
  owner: String @join__field(graph: B)
  city: String @join__field(graph: A)
  address: Address
}
type Address @join__type(graph: A) @join__type(graph: B) { street: String zip: String @join__field(graph: B) }
type Config @join__type(graph: A) { debug: Boolean }
"#;

/// `@override`: `price` moved from `a` to `b`; `legacy` moved but still used by `a`.
const OVERRIDE: &str = r#"
type Query @join__type(graph: A) @join__type(graph: B) { product: Product @join__field(graph: A) products: [Product] @join__field(graph: B) }
type Product @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
  id: ID!
  name: String @join__field(graph: A)
  price: Int @join__field(graph: B, override: "a")
  legacy: String @join__field(graph: A, usedOverridden: true) @join__field(graph: B, override: "a")
  discount: Int @join__field(graph: A, requires: "legacy")
}
"#;

/// `@inaccessible`: hidden from clients, still usable by the planner (here as a key).
const INACCESSIBLE: &str = r#"
type Query @join__type(graph: A) @join__type(graph: B) { users: [User] @join__field(graph: A) internal: Int @join__field(graph: A) @inaccessible }
type User @join__type(graph: A, key: "uid") @join__type(graph: B, key: "uid") {
  uid: ID! @inaccessible
  name: String @join__field(graph: A)
  score: Int @join__field(graph: B)
  hidden: String @join__field(graph: B) @inaccessible
}
"#;

/// `@interfaceObject`: `b` adds `rating` to every `Account` without knowing the types.
const INTERFACE_OBJECT: &str = r#"
type Query @join__type(graph: A) @join__type(graph: B) {
  accounts: [Account] @join__field(graph: B)
  admins: [Admin] @join__field(graph: A)
  topAccount: Account @join__field(graph: A)
}
interface Account @join__type(graph: A, key: "id") @join__type(graph: B, key: "id", isInterfaceObject: true) {
  id: ID!
  name: String @join__field(graph: A)
  rating: Int @join__field(graph: B)
}
type Admin implements Account @join__implements(graph: A, interface: "Account") @join__type(graph: A, key: "id") {
  id: ID!
  name: String @join__field(graph: A)
  rating: Int @join__field
  level: Int @join__field(graph: A)
}
type Guest implements Account @join__implements(graph: A, interface: "Account") @join__type(graph: A, key: "id") {
  id: ID!
  name: String @join__field(graph: A)
  rating: Int @join__field
  expires: Int @join__field(graph: A)
}
"#;

/// Interfaces and unions across subgraphs.
const ABSTRACT: &str = r#"
type Query @join__type(graph: A) @join__type(graph: B) @join__type(graph: C) {
  nodes: [Node] @join__field(graph: A)
  media: [Media] @join__field(graph: A)
  search: [Result] @join__field(graph: B)
}
interface Node @join__type(graph: A) { id: ID! }
union Media @join__type(graph: A) @join__unionMember(graph: A, member: "Book") @join__unionMember(graph: A, member: "Film") = Book | Film
union Result @join__type(graph: B) @join__unionMember(graph: B, member: "Book") @join__unionMember(graph: B, member: "Author") = Book | Author
type Book implements Node @join__implements(graph: A, interface: "Node") @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") @join__type(graph: C, key: "id") {
  id: ID!
  title: String @join__field(graph: A)
  reviews: Int @join__field(graph: B)
  price: Int @join__field(graph: C)
}
type Film implements Node @join__implements(graph: A, interface: "Node") @join__type(graph: A, key: "id") @join__type(graph: C, key: "id") {
  id: ID!
  title: String @join__field(graph: A)
  price: Int @join__field(graph: C)
}
type Author @join__type(graph: B, key: "id") @join__type(graph: A, key: "id") {
  id: ID!
  name: String @join__field(graph: B)
  born: Int @join__field(graph: A)
}
"#;

/// An abstract type below a path both `a` and `b` resolve from the entity `Shelf`; `b`
/// knows only `Book`.
const ABSTRACT_SHAREABLE: &str = r#"
type Query @join__type(graph: A) @join__type(graph: B) { shelf: Shelf @join__field(graph: A) shelves: [Shelf] @join__field(graph: B) }
type Shelf @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
  id: ID!
  items: [Media]
  label: String @join__field(graph: B)
}
union Media @join__type(graph: A) @join__type(graph: B) @join__unionMember(graph: A, member: "Book") @join__unionMember(graph: A, member: "Film") @join__unionMember(graph: B, member: "Book") = Book | Film
type Book @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") { id: ID! title: String }
type Film @join__type(graph: A, key: "id") { id: ID! title: String @join__field(graph: A) }
"#;

/// Keyless value types: `Profile` is resolved by both subgraphs, each with fields of its own.
const VALUE_TYPES: &str = r#"
type Query @join__type(graph: A) @join__type(graph: B) {
  shop: Shop
  me: User @join__field(graph: A)
}
type Shop @join__type(graph: A) @join__type(graph: B) {
  name: String
  a: String @join__field(graph: A)
  b: String @join__field(graph: B)
  settings: Settings
}
type Settings @join__type(graph: A) @join__type(graph: B) { theme: String @join__field(graph: A) locale: String @join__field(graph: B) }
type User @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
  id: ID!
  name: String @join__field(graph: A)
  profile: Profile
}
type Profile @join__type(graph: A) @join__type(graph: B) {
  bio: String @join__field(graph: B)
  avatar: String @join__field(graph: A)
  links: Links
}
type Links @join__type(graph: A) @join__type(graph: B) { home: String @join__field(graph: A) blog: String @join__field(graph: B) }
"#;

/// A cycle of entities: `TA` (a) → `TB` (b) → `TC` (c) → `TA`.
const CHAIN: &str = r#"
type Query @join__type(graph: A) @join__type(graph: B) @join__type(graph: C) { ta: TA @join__field(graph: A) tas: [TA] @join__field(graph: A) }
type TA @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") @join__type(graph: C, key: "id") {
  id: ID!
  nameA: String @join__field(graph: A)
  tb: TB @join__field(graph: B)
}
type TB @join__type(graph: B, key: "id") @join__type(graph: C, key: "id") {
  id: ID!
  nameB: String @join__field(graph: B)
  tc: TC @join__field(graph: C)
}
type TC @join__type(graph: C, key: "id") @join__type(graph: A, key: "id") {
  id: ID!
  nameC: String @join__field(graph: C)
  ta: TA @join__field(graph: A)
  tas: [TA] @join__field(graph: A)
}
"#;

/// Fields whose types differ per subgraph, for internal aliases.
const CONFLICTS: &str = r#"
type Query @join__type(graph: A) @join__type(graph: B) { accounts: [Account] @join__field(graph: B) things: [Thing] @join__field(graph: B) }
union Account @join__type(graph: B) @join__unionMember(graph: B, member: "User") @join__unionMember(graph: B, member: "Bot") = User | Bot
union Thing @join__type(graph: B) @join__unionMember(graph: B, member: "User") @join__unionMember(graph: B, member: "Bot") @join__unionMember(graph: B, member: "Robot") = User | Bot | Robot
type User @join__type(graph: A) @join__type(graph: B) { id: ID @join__field(graph: A, type: "ID") @join__field(graph: B, type: "ID!") name: String @join__field(graph: B) }
type Bot @join__type(graph: B) { id: ID name: String }
type Robot @join__type(graph: B) { id: ID @join__field(graph: B, type: "ID!") name: String }
"#;

/// Only the mutation fields of the header, and one query field.
const MUTATIONS: &str = "type Query @join__type(graph: A) { ok: Int }";

// ---------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------

cases! {
    // @key, single
    key_root_fields_only: PRODUCTS, "{ products { id name price } }";
    key_one_jump: PRODUCTS, "{ products { name stock } }";
    key_two_fields_one_jump: PRODUCTS, "{ products { name stock rating } }";
    key_two_targets: PRODUCTS, "{ products { name stock reviews { body } } }";
    key_only_the_key: PRODUCTS, "{ products { id } }";
    key_jump_only_field: PRODUCTS, "{ products { stock } }";
    key_argument_variable: PRODUCTS, "query($id: ID!) { product(id: $id) { name stock } }";
    key_argument_literal: PRODUCTS, "{ product(id: \"1\") { stock } }";
    key_root_in_other_subgraph: PRODUCTS, "{ topProduct { stock name reviews { author } } }";
    key_two_root_subgraphs: PRODUCTS, "{ products { name } topProduct { rating } productCount }";
    key_typename_every_level: PRODUCTS, "{ __typename products { __typename name stock reviews { __typename body } } }";
    key_same_field_two_aliases: PRODUCTS, "{ a: products { stock } b: products { rating } }";
    key_aliases_on_jumped_fields: PRODUCTS, "{ products { n: name s: stock r: rating } }";
    key_jumped_field_with_variable: PRODUCTS, "query($n: Int) { products { name reviews(first: $n) { body } } }";
    key_jumped_field_with_literal_argument: PRODUCTS, "{ products { reviews(first: 3) { body } } }";
    key_same_jumped_field_two_arguments: PRODUCTS, "{ products { one: reviews(first: 1) { body } two: reviews(first: 2) { author } } }";
    key_argument_on_local_field: PRODUCTS, "query($c: String) { products { price(currency: $c) stock } }";
    key_back_to_the_root_subgraph: PRODUCTS, "{ topProduct { name price rating } }";
    // @key, several keys per type
    multi_key_via_sku: MULTI_KEY, "{ items { title stock } }";
    multi_key_via_id: MULTI_KEY, "{ items { title color } }";
    multi_key_both_targets: MULTI_KEY, "{ items { title stock color } }";
    multi_key_from_b_needs_a_first: MULTI_KEY, "{ bItems { stock color } }";
    multi_key_from_b_to_a: MULTI_KEY, "{ bItems { title } }";
    // @key, compound and nested
    compound_nested_key: COMPOUND, "{ user { plan } }";
    compound_nested_key_list: COMPOUND, "{ users { name plan org { id } } }";
    compound_flat_key: COMPOUND, "{ account { balance owner } }";
    compound_key_fields_selected_by_client: COMPOUND, "{ account { region number owner } }";
    // @key(resolvable: false)
    not_resolvable_stub_jumps_to_owner: NOT_RESOLVABLE, "{ search(text: \"rust\") { score resume { id name } } }";
    not_resolvable_stub_only_key: NOT_RESOLVABLE, "{ search(text: \"rust\") { resume { id } } }";
    not_resolvable_variable_argument: NOT_RESOLVABLE, "query($t: String!) { search(text: $t) { resume { name } } }";
    not_resolvable_owner_cannot_reach_unkeyed_graph: NOT_RESOLVABLE, "{ resumes { secret } }";
    // @requires
    requires_simple: REQUIRES, "{ item { shipping } }";
    requires_with_the_required_field: REQUIRES, "{ item { weight shipping } }";
    requires_field_from_root_subgraph: REQUIRES, "{ item { volume } }";
    requires_chain_of_requirements: REQUIRES, "{ item { insurance } }";
    requires_two_fields_from_two_subgraphs: REQUIRES, "{ item { tag } }";
    requires_in_a_list: REQUIRES, "{ items { name shipping volume } }";
    requires_all_together: REQUIRES, "{ items { id name weight size shipping volume insurance tag } }";
    requires_nested_selection: REQUIRES, "{ parcel { cost } }";
    requires_nested_with_client_selection: REQUIRES, "{ parcel { dimensions { height } cost } }";
    requires_with_arguments: REQUIRES, "{ parcel { fee } }";
    requires_with_arguments_and_client_arguments: REQUIRES, "{ parcel { price(currency: \"USD\") fee } }";
    requires_with_arguments_same_as_client: REQUIRES, "{ parcel { price(currency: \"EUR\") fee } }";
    // @provides / @external
    provides_avoids_jump: PROVIDES, "{ review { author { name } } }";
    provides_partial: PROVIDES, "{ review { author { name email } } }";
    provides_not_on_other_field: PROVIDES, "{ review { editor { name } } }";
    provides_nested: PROVIDES, "{ review { team { lead { name } } } }";
    provides_nested_partial: PROVIDES, "{ review { team { size lead { name email } } } }";
    provides_in_a_list: PROVIDES, "{ reviews { body author { id name } editor { id } } }";
    external_key_only: PROVIDES, "{ reviews { editor { id } } }";
    // @shareable
    shareable_root_most_coverage: SHAREABLE, "{ shop { name owner } }";
    shareable_root_either: SHAREABLE, "{ shop { name } }";
    shareable_root_a_only_fields: SHAREABLE, "{ shop { name city } config { debug } }";
    shareable_nested_value: SHAREABLE, "{ shop { address { street zip } } }";
    shareable_root_split_by_fields: SHAREABLE, "{ shop { city owner } }";
    shareable_root_aliases_to_two_subgraphs: SHAREABLE, "{ x: shop { city } y: shop { owner } }";
    // @override
    override_moves_field: OVERRIDE, "{ product { price } }";
    override_used_overridden: OVERRIDE, "{ product { legacy } }";
    override_overridden_field_required: OVERRIDE, "{ product { discount } }";
    override_from_new_owner: OVERRIDE, "{ products { name price legacy } }";
    // @inaccessible
    inaccessible_key_still_used: INACCESSIBLE, "{ users { name score } }";
    inaccessible_field_rejected: INACCESSIBLE, "{ users { hidden } }";
    inaccessible_root_field_rejected: INACCESSIBLE, "{ internal }";
    inaccessible_key_not_selectable: INACCESSIBLE, "{ users { uid } }";
    // @interfaceObject
    interface_object_owner_gives_typename: INTERFACE_OBJECT, "{ accounts { __typename rating } }";
    interface_object_fragment_to_owner: INTERFACE_OBJECT, "{ accounts { rating ... on Admin { level } ... on Guest { expires } } }";
    interface_object_field_of_owner: INTERFACE_OBJECT, "{ accounts { id name rating } }";
    interface_object_own_fields_only: INTERFACE_OBJECT, "{ accounts { id rating } }";
    interface_object_from_concrete_type: INTERFACE_OBJECT, "{ admins { level rating } }";
    interface_object_from_interface: INTERFACE_OBJECT, "{ topAccount { name rating ... on Guest { expires } } }";
    // interfaces and unions
    interface_fields_and_fragments: ABSTRACT, "{ nodes { id ... on Book { title reviews } ... on Film { title } } }";
    interface_fragment_jumps_per_type: ABSTRACT, "{ nodes { ... on Book { price } ... on Film { price } } }";
    interface_typename_only: ABSTRACT, "{ nodes { __typename } }";
    interface_fragment_on_interface: ABSTRACT, "{ nodes { ... on Node { id } ... on Book { reviews } } }";
    union_members_jump: ABSTRACT, "{ media { ... on Book { title reviews } ... on Film { title } } }";
    union_only_one_member: ABSTRACT, "{ media { ... on Film { price } } }";
    union_typename_and_fields: ABSTRACT, "{ media { __typename ... on Book { id price reviews } } }";
    union_in_other_subgraph: ABSTRACT, "{ search { ... on Book { title reviews } ... on Author { name born } } }";
    union_named_fragments: ABSTRACT, "{ search { ...B ...A } } fragment B on Book { title } fragment A on Author { born }";
    // abstract types below shareable paths
    abstract_below_shareable_narrowed: ABSTRACT_SHAREABLE, "{ shelf { items { ... on Book { title } ... on Film { title } } } }";
    abstract_below_shareable_from_b: ABSTRACT_SHAREABLE, "{ shelves { label items { __typename ... on Book { title } } } }";
    abstract_below_shareable_with_jump: ABSTRACT_SHAREABLE, "{ shelf { label items { ... on Book { id } } } }";
    // value types
    value_type_root_reentry: VALUE_TYPES, "{ shop { a b } }";
    value_type_root_one_side: VALUE_TYPES, "{ shop { name a } }";
    value_type_nested_root_reentry: VALUE_TYPES, "{ shop { settings { theme locale } } }";
    value_type_through_parent_entity: VALUE_TYPES, "{ me { name profile { bio avatar } } }";
    value_type_two_levels_through_parent_entity: VALUE_TYPES, "{ me { profile { links { home blog } } } }";
    value_type_reentry_and_entity: VALUE_TYPES, "{ shop { b } me { profile { bio } } }";
    // mutations
    mutation_in_order: MUTATIONS, "mutation { first: createA second: createB third: createA }";
    mutation_consecutive_same_subgraph: MUTATIONS, "mutation { one: createA two: createA three: createB }";
    mutation_single: MUTATIONS, "mutation { createB }";
    mutation_typename: MUTATIONS, "mutation { __typename createA }";
    mutation_with_skip: MUTATIONS, "mutation($s: Boolean!) { createA @skip(if: $s) createB }";
    // aliases and conflicting fields
    alias_conflicting_types: CONFLICTS, "{ accounts { ... on User { id } ... on Bot { id } } }";
    alias_same_types_no_rename: CONFLICTS, "{ accounts { ... on User { name } ... on Bot { name } } }";
    alias_conflicting_three_members: CONFLICTS, "{ things { ... on User { id } ... on Bot { id } ... on Robot { id } } }";
    alias_conflicting_client_alias: CONFLICTS, "{ things { ... on Bot { key: id } ... on User { key: id } ... on Robot { key: id name } } }";
    alias_root_fields: PRODUCTS, "{ first: product(id: \"1\") { name } second: product(id: \"2\") { name stock } }";
    // @skip / @include
    skip_literal_true: PRODUCTS, "{ products { name stock @skip(if: true) } }";
    include_literal_false: PRODUCTS, "{ products { name @include(if: false) stock } }";
    skip_variable_on_local_field: PRODUCTS, "query($s: Boolean!) { products { name @skip(if: $s) } }";
    include_variable_on_jumped_field: PRODUCTS, "query($i: Boolean!) { products { name stock @include(if: $i) } }";
    include_variable_on_root_field: PRODUCTS, "query($i: Boolean!) { products @include(if: $i) { name } productCount }";
    skip_on_inline_fragment: PRODUCTS, "query($s: Boolean!) { products { name ... @skip(if: $s) { stock rating } } }";
    skip_and_include_together: PRODUCTS, "query($s: Boolean!, $i: Boolean!) { products { stock @skip(if: $s) @include(if: $i) } }";
    include_on_field_with_jump_below: PRODUCTS, "query($i: Boolean!) { topProduct { rating reviews @include(if: $i) { body } } }";
    skip_same_field_twice_different_conditions: PRODUCTS, "query($v: Boolean!) { products { stock } products @include(if: $v) { rating } }";
    // fragments
    fragment_named: PRODUCTS, "{ products { ...P } } fragment P on Product { name stock }";
    fragment_inline_no_condition: PRODUCTS, "{ products { ... { name stock } } }";
    fragment_nested: PRODUCTS, "{ products { ...Outer } } fragment Outer on Product { name ...Inner } fragment Inner on Product { stock reviews { body } }";
    fragment_repeated_merges: PRODUCTS, "{ products { ...P ...P name } } fragment P on Product { name stock }";
    fragment_on_query: PRODUCTS, "{ ...Q } fragment Q on Query { products { name } topProduct { stock } }";
    fragment_fields_merge_in_order: PRODUCTS, "{ products { name } products { stock } products { name rating } }";
    fragment_same_type_inline: PRODUCTS, "{ products { ... on Product { stock } name } }";
    fragment_on_abstract_and_concrete: ABSTRACT, "{ nodes { ...N ... on Book { ...B } } } fragment N on Node { id } fragment B on Book { title price }";
    fragment_with_variables_inside: PRODUCTS, "query($n: Int) { ...R } fragment R on Query { products { reviews(first: $n) { body } } }";
    // variables
    variables_only_where_used: PRODUCTS, "query($id: ID!, $n: Int, $c: String) { product(id: $id) { price(currency: $c) reviews(first: $n) { body } } }";
    variables_unused_by_any_fetch: PRODUCTS, "query($unused: Int) { products { name } }";
    variables_with_default: PRODUCTS, "query($n: Int = 5) { products { reviews(first: $n) { body } } }";
    // introspection and __typename
    introspection_only: PRODUCTS, "{ __schema { queryType { name } } }";
    introspection_with_data: PRODUCTS, "{ __type(name: \"Product\") { name } products { name stock } }";
    typename_root_only: PRODUCTS, "{ __typename }";
    typename_aliased: PRODUCTS, "{ products { t: __typename stock } }";
    // entity chains
    chain_a_b_c_a: CHAIN, "{ ta { nameA tb { nameB tc { nameC ta { nameA } } } } }";
    chain_lists: CHAIN, "{ tas { tb { tc { tas { nameA tb { nameB } } } } } }";
    chain_skip_levels: CHAIN, "{ ta { tb { tc { ta { id } } } } }";
    chain_typename: CHAIN, "{ ta { __typename tb { __typename tc { __typename } } } }";
    // errors
    error_unresolvable_field: NOT_RESOLVABLE, "{ search(text: \"x\") { resume { secret } } }";
    error_unknown_field: PRODUCTS, "{ products { nope } }";
    error_parse: PRODUCTS, "{ products { name ";
    error_missing_variable_definition: PRODUCTS, "{ product(id: $id) { name } }";
    error_subscription_unsupported: PRODUCTS, "subscription { products { name } }";
}
