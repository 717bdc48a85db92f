//! Four small federation subgraphs shaped like The Guild's gateway benchmark (accounts,
//! products, inventory, reviews), for router integration tests and the router benchmark.
//!
//! They exercise `@key`, `@external`, `@requires`, `@provides`, `@shareable` and
//! `@inaccessible`, and count the requests they receive so tests can assert batching.
//! Data is generated deterministically; nothing here is used in production.
//!
//! [`live`] adds a reviews subgraph with a Subscription (served by looma-server's shell) for
//! the router's subscription tests.

pub mod live;
pub mod llm_wire;

/// Reports the running test as skipped (a server, model or package it needs is missing): one
/// `[looma-test] skipped <test>: <reason>` line straight to stderr, past libtest's capture,
/// which `scripts/test` moves from passed to skipped in its closing summary.
pub fn report_skipped(reason: &str) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("(unnamed test)");
    let line = format!("[looma-test] skipped {test}: {reason}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

use async_graphql::{
    ComplexObject, EmptyMutation, EmptySubscription, ID, Object, Schema, SimpleObject,
};
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const USERS: usize = 10;
pub const PRODUCTS: usize = 10;
pub const REVIEWS_PER_PRODUCT: usize = 3;

fn user_name(i: usize) -> String {
    format!("User {i}")
}

fn username(i: usize) -> String {
    format!("user{i}")
}

fn product_price(i: usize) -> i64 {
    100 + (i as i64) * 10
}

fn product_weight(i: usize) -> i64 {
    1 + (i as i64) % 5
}

fn parse_index(id: &str, prefix: &str) -> Option<usize> {
    id.strip_prefix(prefix)?.parse().ok()
}

// ---- accounts --------------------------------------------------------------------------

pub mod accounts {
    use super::*;

    #[derive(SimpleObject, Clone)]
    pub struct User {
        pub id: ID,
        pub name: String,
        #[graphql(shareable)]
        pub username: String,
        /// Hidden from clients by `@inaccessible`.
        #[graphql(inaccessible)]
        pub internal_score: i32,
    }

    pub fn user(i: usize) -> User {
        User {
            id: ID(format!("u{i}")),
            name: user_name(i),
            username: username(i),
            internal_score: i as i32,
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn me(&self) -> User {
            user(1)
        }

        async fn users(&self) -> Vec<User> {
            (0..USERS).map(user).collect()
        }

        #[graphql(entity)]
        async fn find_user_by_id(&self, id: ID) -> Option<User> {
            parse_index(&id, "u").filter(|i| *i < USERS).map(user)
        }
    }

    pub fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
        Schema::build(Query, EmptyMutation, EmptySubscription)
            .enable_federation()
            .finish()
    }
}

// ---- products --------------------------------------------------------------------------

pub mod products {
    use super::*;

    #[derive(SimpleObject, Clone)]
    pub struct Product {
        pub upc: String,
        pub name: String,
        pub price: i64,
        pub weight: i64,
    }

    pub fn product(i: usize) -> Product {
        Product {
            upc: format!("p{i}"),
            name: format!("Product {i}"),
            price: product_price(i),
            weight: product_weight(i),
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn top_products(&self, #[graphql(default = 5)] first: i32) -> Vec<Product> {
            (0..PRODUCTS)
                .take(first.clamp(0, PRODUCTS as i32) as usize)
                .map(product)
                .collect()
        }

        #[graphql(entity)]
        async fn find_product_by_upc(&self, upc: String) -> Option<Product> {
            parse_index(&upc, "p")
                .filter(|i| *i < PRODUCTS)
                .map(product)
        }
    }

    pub fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
        Schema::build(Query, EmptyMutation, EmptySubscription)
            .enable_federation()
            .finish()
    }
}

// ---- inventory -------------------------------------------------------------------------

pub mod inventory {
    use super::*;

    #[derive(SimpleObject)]
    #[graphql(complex)]
    pub struct Product {
        pub upc: String,
        #[graphql(external)]
        pub price: i64,
        #[graphql(external)]
        pub weight: i64,
        /// Nullable, so an inventory outage leaves the rest of a product intact.
        pub in_stock: Option<bool>,
    }

    #[ComplexObject]
    impl Product {
        /// Needs price and weight, owned by products.
        #[graphql(requires = "price weight")]
        async fn shipping_estimate(&self) -> Option<i64> {
            Some(if self.price > 1000 {
                0
            } else {
                self.weight * 5
            })
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn find_product_by_upc(
            &self,
            #[graphql(key)] upc: String,
            price: Option<i64>,
            weight: Option<i64>,
        ) -> Product {
            let in_stock = Some(parse_index(&upc, "p").is_some_and(|i| i % 2 == 0));
            Product {
                upc,
                price: price.unwrap_or(0),
                weight: weight.unwrap_or(0),
                in_stock,
            }
        }
    }

    pub fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
        Schema::build(Query, EmptyMutation, EmptySubscription)
            .enable_federation()
            .finish()
    }
}

// ---- reviews ---------------------------------------------------------------------------

pub mod reviews {
    use super::*;

    #[derive(SimpleObject)]
    #[graphql(complex)]
    pub struct User {
        pub id: ID,
        #[graphql(external)]
        pub username: String,
    }

    #[ComplexObject]
    impl User {
        async fn reviews(&self) -> Vec<Review> {
            let Some(user) = parse_index(&self.id, "u") else {
                return Vec::new();
            };
            all_reviews()
                .into_iter()
                .filter(|r| r.author == user)
                .collect()
        }
    }

    #[derive(SimpleObject)]
    #[graphql(complex)]
    pub struct Product {
        pub upc: String,
    }

    #[ComplexObject]
    impl Product {
        async fn reviews(&self) -> Vec<Review> {
            let Some(product) = parse_index(&self.upc, "p") else {
                return Vec::new();
            };
            all_reviews()
                .into_iter()
                .filter(|r| r.product == product)
                .collect()
        }
    }

    #[derive(Clone)]
    pub struct Review {
        id: usize,
        product: usize,
        author: usize,
    }

    fn all_reviews() -> Vec<Review> {
        (0..PRODUCTS * REVIEWS_PER_PRODUCT)
            .map(|id| Review {
                id,
                product: id / REVIEWS_PER_PRODUCT,
                author: id % USERS,
            })
            .collect()
    }

    #[Object]
    impl Review {
        async fn id(&self) -> ID {
            ID(format!("r{}", self.id))
        }

        async fn body(&self) -> String {
            format!("Review {} of product {}", self.id, self.product)
        }

        /// The author, with their username provided here (no call to accounts needed for it).
        #[graphql(provides = "username")]
        async fn author(&self) -> User {
            User {
                id: ID(format!("u{}", self.author)),
                username: username(self.author),
            }
        }

        async fn product(&self) -> Product {
            Product {
                upc: format!("p{}", self.product),
            }
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn find_user_by_id(&self, id: ID) -> User {
            let username = parse_index(&id, "u").map(username).unwrap_or_default();
            User { id, username }
        }

        #[graphql(entity)]
        async fn find_product_by_upc(&self, upc: String) -> Product {
            Product { upc }
        }
    }

    pub fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
        Schema::build(Query, EmptyMutation, EmptySubscription)
            .enable_federation()
            .finish()
    }
}

/// One running fixture subgraph.
pub struct FixtureSubgraph {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub sdl: String,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl FixtureSubgraph {
    pub fn url(&self) -> String {
        format!("http://{}/graphql", self.addr)
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Stops serving (connections are refused afterwards).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for FixtureSubgraph {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve<Q, M, S>(
    name: &'static str,
    schema: Schema<Q, M, S>,
    port: u16,
) -> std::io::Result<FixtureSubgraph>
where
    Q: async_graphql::ObjectType + 'static,
    M: async_graphql::ObjectType + 'static,
    S: async_graphql::SubscriptionType + 'static,
{
    let requests = Arc::new(AtomicUsize::new(0));
    let sdl = schema.sdl_with_options(async_graphql::SDLExportOptions::new().federation());
    let state = (schema, requests.clone());
    let app = Router::new()
        .route(
            "/graphql",
            post(
                |State((schema, requests)): State<(Schema<Q, M, S>, Arc<AtomicUsize>)>,
                 request: async_graphql_axum::GraphQLRequest| async move {
                    requests.fetch_add(1, Ordering::SeqCst);
                    async_graphql_axum::GraphQLResponse::from(
                        schema.execute(request.into_inner()).await,
                    )
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(FixtureSubgraph {
        name,
        addr,
        sdl,
        requests,
        task,
    })
}

/// Starts the four subgraphs; `base_port` 0 picks free ports, otherwise they take
/// `base_port..base_port + 4` (the benchmark uses fixed ports).
pub async fn start_all(base_port: u16) -> std::io::Result<Vec<FixtureSubgraph>> {
    let port = |offset: u16| {
        if base_port == 0 {
            0
        } else {
            base_port + offset
        }
    };
    Ok(vec![
        serve("accounts", accounts::schema(), port(0)).await?,
        serve("products", products::schema(), port(1)).await?,
        serve("inventory", inventory::schema(), port(2)).await?,
        serve("reviews", reviews::schema(), port(3)).await?,
    ])
}
