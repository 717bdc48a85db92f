//! A `reviews` subgraph with a Subscription, served by looma-server's [`SubgraphShell`] as
//! production subgraphs are (graphql-transport-ws on `GET /graphql`, authentication at
//! `connection_init`), for the router's subscription tests.
//!
//! `reviewAdded` streams reviews whose `product { name }` belongs to the products fixture,
//! so each event needs an entity fetch through the router. A [`StreamProbe`] counts the
//! streams that are open and those dropped, so a test can see a client's disconnect reach
//! the subgraph; a fake identity ([`start_fake_identity`]) checks API keys for the router's
//! edge auth.

use async_graphql::{Error, ErrorExtensions, ID, Object, Schema, SimpleObject, Subscription};
use axum::Json;
use axum::http::HeaderMap;
use axum::routing::post;
use futures::Stream;
use looma_auth::Authenticator;
use looma_server::SubgraphShell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Streams opened by `reviewAdded` and how many were dropped (finished, or cancelled because
/// the subscriber went away).
#[derive(Default)]
pub struct StreamProbe {
    opened: AtomicUsize,
    dropped: AtomicUsize,
    changed: tokio::sync::Notify,
}

impl StreamProbe {
    pub fn opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }

    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.opened() - self.dropped()
    }

    /// Waits until at least `count` streams were dropped; `false` after `timeout`.
    pub async fn wait_dropped(&self, count: usize, timeout: Duration) -> bool {
        self.wait(|probe| probe.dropped() >= count, timeout).await
    }

    /// Waits until at least `count` streams were opened; `false` after `timeout`.
    pub async fn wait_opened(&self, count: usize, timeout: Duration) -> bool {
        self.wait(|probe| probe.opened() >= count, timeout).await
    }

    async fn wait(&self, done: impl Fn(&Self) -> bool, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, async {
            loop {
                let changed = self.changed.notified();
                if done(self) {
                    return;
                }
                changed.await;
            }
        })
        .await
        .is_ok()
    }
}

/// Marks a stream dropped, however it ends.
struct DropGuard(Arc<StreamProbe>);

impl DropGuard {
    fn new(probe: Arc<StreamProbe>) -> Self {
        probe.opened.fetch_add(1, Ordering::SeqCst);
        probe.changed.notify_waiters();
        DropGuard(probe)
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

#[derive(SimpleObject, Clone)]
pub struct Product {
    pub upc: String,
}

#[derive(SimpleObject, Clone)]
pub struct Review {
    pub id: ID,
    pub body: String,
    pub product: Product,
}

fn review(i: usize) -> Review {
    let product = i % crate::PRODUCTS;
    Review {
        id: ID(format!("live{i}")),
        body: format!("Live review {i}"),
        product: Product {
            upc: format!("p{product}"),
        },
    }
}

pub struct Query;

#[Object]
impl Query {
    /// One review, so the subgraph also answers queries.
    async fn live_review(&self, index: i32) -> Review {
        review(usize::try_from(index).unwrap_or(0))
    }

    #[graphql(entity)]
    async fn find_product_by_upc(&self, upc: String) -> Product {
        Product { upc }
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Echoes the review's id, so mutations can be sent over the WebSocket too.
    async fn like_review(&self, id: ID) -> ID {
        id
    }
}

pub struct SubscriptionRoot {
    probe: Arc<StreamProbe>,
}

/// Named `Subscription` in the SDL: composition finds root types by name, and async-graphql's
/// federation SDL has no `schema { ... }` block.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// `count` reviews (endless when absent), `intervalMs` apart; with `failAfter`, an error
    /// (`extensions.code` `REVIEWS_FEED_BROKEN`) in place of that review, then the end.
    async fn review_added(
        &self,
        count: Option<i32>,
        fail_after: Option<i32>,
        #[graphql(default = 10)] interval_ms: i32,
    ) -> impl Stream<Item = async_graphql::Result<Review>> + use<> {
        let guard = DropGuard::new(self.probe.clone());
        let count = count.map(|c| usize::try_from(c).unwrap_or(0));
        let fail_after = fail_after.and_then(|f| usize::try_from(f).ok());
        let interval = Duration::from_millis(u64::try_from(interval_ms).unwrap_or(0));
        futures::stream::unfold(Some((0usize, guard)), move |state| async move {
            let (i, guard) = state?;
            if count.is_some_and(|count| i >= count) {
                return None;
            }
            if i > 0 {
                tokio::time::sleep(interval).await;
            }
            if fail_after == Some(i) {
                let error = Error::new("the review feed broke")
                    .extend_with(|_, e| e.set("code", "REVIEWS_FEED_BROKEN"));
                return Some((Err(error), None));
            }
            Some((Ok(review(i)), Some((i + 1, guard))))
        })
    }

    /// The authenticated caller's subject, once; `UNAUTHENTICATED` for anonymous callers.
    async fn whoami(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = String> + use<>> {
        let Some(principal) = looma_server::caller(ctx).principal() else {
            return Err(Error::new("sign in to subscribe to this")
                .extend_with(|_, e| e.set("code", "UNAUTHENTICATED")));
        };
        let subject = principal.subject.clone();
        Ok(futures::stream::once(async move { subject }))
    }
}

pub type LiveSchema = Schema<Query, Mutation, SubscriptionRoot>;

pub fn schema(probe: Arc<StreamProbe>) -> LiveSchema {
    Schema::build(Query, Mutation, SubscriptionRoot { probe })
        .enable_federation()
        .enable_subscription_in_federation()
        .finish()
}

/// The running live reviews subgraph.
pub struct LiveReviews {
    pub addr: SocketAddr,
    pub sdl: String,
    pub probe: Arc<StreamProbe>,
    task: tokio::task::JoinHandle<()>,
}

impl LiveReviews {
    pub fn url(&self) -> String {
        format!("http://{}/graphql", self.addr)
    }
}

impl Drop for LiveReviews {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the live reviews subgraph on a free port, authenticating with `authenticator`
/// (give it the router's forwarded-principal codec to trust the router).
pub async fn start_live_reviews(
    authenticator: Authenticator,
    init_timeout: Duration,
) -> std::io::Result<LiveReviews> {
    let probe = Arc::new(StreamProbe::default());
    let schema = schema(probe.clone());
    let sdl = schema.sdl_with_options(async_graphql::SDLExportOptions::new().federation());
    let router = SubgraphShell::new("reviews", schema, authenticator)
        .connection_init_timeout(init_timeout)
        .into_router();
    let listener = looma_server::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = looma_server::serve(listener, router, std::future::pending()).await;
    });
    Ok(LiveReviews {
        addr,
        sdl,
        probe,
        task,
    })
}

/// A stand-in for identity's API key check (`{ caller { ... } }` with `x-api-key`): each
/// `(key, subject)` is a valid key of a user with no roles; any other key is refused.
pub struct FakeIdentity {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl FakeIdentity {
    /// Its GraphQL URL (the router's `identity_url`).
    pub fn url(&self) -> String {
        format!("http://{}/graphql", self.addr)
    }
}

impl Drop for FakeIdentity {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start_fake_identity(
    keys: &[(&'static str, &'static str)],
) -> std::io::Result<FakeIdentity> {
    let keys: Arc<Vec<(&'static str, &'static str)>> = Arc::new(keys.to_vec());
    let app = axum::Router::new().route(
        "/graphql",
        post(move |headers: HeaderMap| {
            let keys = keys.clone();
            async move {
                let key = headers
                    .get(looma_auth::API_KEY_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let caller = keys
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, subject)| {
                        serde_json::json!({
                            "subject": subject, "kind": "USER", "roles": [], "permissions": []
                        })
                    })
                    .unwrap_or(serde_json::Value::Null);
                Json(serde_json::json!({"data": {"caller": caller}}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(FakeIdentity { addr, task })
}
