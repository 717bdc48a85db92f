//! The part of every subgraph's `lib.rs` that is the same everywhere: `POST /graphql` (the
//! caller authenticated, per-request data attached, errors coded), `GET /graphql` as a
//! `graphql-transport-ws` WebSocket when the schema has a Subscription type (the same
//! authentication at `connection_init`, see [`crate::graphql_ws`]), `/health` and `/ready`,
//! the edge layers, and the federation SDL. A subgraph names what differs — its schema, what
//! it attaches per request (DataLoaders), whether it takes uploads, its body limit, its
//! readiness checks and any routes of its own — and never re-implements the rest.

use crate::{ReadinessCheck, UploadLimits};
use async_graphql::{EmptySubscription, ObjectType, SDLExportOptions, Schema, SubscriptionType};
use async_graphql_axum::{GraphQLRequest, rejection::GraphQLRejection};
use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use looma_auth::Authenticator;
use std::sync::Arc;
use std::time::Duration;

type PerRequest = Box<dyn Fn(async_graphql::Request) -> async_graphql::Request + Send + Sync>;

/// What every `/graphql` request needs, shared by the handler's clones.
pub(crate) struct Endpoint<Q, M, S> {
    pub(crate) schema: Schema<Q, M, S>,
    pub(crate) authenticator: Authenticator,
    pub(crate) per_request: PerRequest,
}

/// A subgraph's HTTP routes, built step by step:
///
/// ```ignore
/// SubgraphShell::new(COMPONENT, schema, authenticator)
///     .per_request(move |request| schema::attach_loaders(request, &service))
///     .readiness(checks)
///     .into_router()
/// ```
pub struct SubgraphShell<Q, M, S> {
    component: &'static str,
    schema: Schema<Q, M, S>,
    authenticator: Authenticator,
    per_request: PerRequest,
    uploads: Option<UploadLimits>,
    body_limit_bytes: usize,
    checks: Vec<ReadinessCheck>,
    routes: Router,
    ws_init_timeout: Duration,
    collectors: Vec<crate::metrics::Collector>,
    usage: Option<crate::usage::UsageLedger>,
}

impl<Q, M, S> SubgraphShell<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    /// JSON GraphQL only, within [`DEFAULT_BODY_LIMIT_BYTES`](crate::DEFAULT_BODY_LIMIT_BYTES),
    /// nothing attached per request, no readiness checks, no other routes.
    pub fn new(
        component: &'static str,
        schema: Schema<Q, M, S>,
        authenticator: Authenticator,
    ) -> Self {
        SubgraphShell {
            component,
            schema,
            authenticator,
            per_request: Box::new(|request| request),
            uploads: None,
            body_limit_bytes: crate::DEFAULT_BODY_LIMIT_BYTES,
            checks: Vec::new(),
            routes: Router::new(),
            ws_init_timeout: crate::graphql_ws::DEFAULT_INIT_TIMEOUT,
            collectors: Vec::new(),
            usage: None,
        }
    }

    /// How long a subscription WebSocket may wait for `connection_init` before it is closed
    /// (4408); [`DEFAULT_INIT_TIMEOUT`](crate::graphql_ws::DEFAULT_INIT_TIMEOUT) unless set.
    pub fn connection_init_timeout(mut self, timeout: Duration) -> Self {
        self.ws_init_timeout = timeout;
        self
    }

    /// Attaches per-request data (such as DataLoaders, which must not outlive a request) to
    /// every authenticated request before it executes.
    pub fn per_request(
        mut self,
        attach: impl Fn(async_graphql::Request) -> async_graphql::Request + Send + Sync + 'static,
    ) -> Self {
        self.per_request = Box::new(attach);
        self
    }

    /// Accepts multipart uploads within `limits` (see
    /// [`execute_graphql_with_uploads`](crate::execute_graphql_with_uploads)).
    pub fn uploads(mut self, limits: UploadLimits) -> Self {
        self.uploads = Some(limits);
        self
    }

    /// The largest request body any route accepts.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit_bytes = bytes;
        self
    }

    /// Adds what `/ready` checks.
    pub fn readiness(mut self, checks: Vec<ReadinessCheck>) -> Self {
        self.checks.extend(checks);
        self
    }

    /// The component's database: `/ready` pings it and `/metrics` reports its pool
    /// (`looma_db_pool_connections`).
    pub fn database(mut self, db: looma_db::DatabaseConnection) -> Self {
        let ping = db.clone();
        self.checks.push(ReadinessCheck::new("database", move || {
            let db = ping.clone();
            Box::pin(async move { looma_db::ping(&db).await.map_err(|e| e.to_string()) })
        }));
        let component = self.component;
        self.collectors.push(crate::metrics::collector(move || {
            let db = db.clone();
            async move { looma_db::record_pool_metrics(&db, component) }
        }));
        self
    }

    /// Routes of the subgraph's own (state already applied), served beside `/graphql` and
    /// behind the same edge layers.
    pub fn routes(mut self, routes: Router) -> Self {
        self.routes = self.routes.merge(routes);
        self
    }

    /// Refreshes gauges read from a source (outbox lag, index sizes, pool use) before each
    /// `/metrics` answer.
    pub fn metrics(mut self, collector: crate::metrics::Collector) -> Self {
        self.collectors.push(collector);
        self
    }

    /// Where resolvers count per-user usage ([`crate::usage::record`]): every request carries
    /// `ledger`. Without it, `record` counts nothing.
    pub fn usage(mut self, ledger: Option<crate::usage::UsageLedger>) -> Self {
        self.usage = ledger;
        self
    }

    pub fn into_router(self) -> Router {
        let SubgraphShell {
            component,
            schema,
            authenticator,
            per_request,
            uploads,
            body_limit_bytes,
            checks,
            routes,
            ws_init_timeout,
            collectors,
            usage,
        } = self;
        let per_request: PerRequest = match usage {
            Some(ledger) => Box::new(move |request| per_request(request).data(ledger.clone())),
            None => per_request,
        };
        let endpoint = Arc::new(Endpoint {
            schema,
            authenticator,
            per_request,
        });
        let ws_endpoint = endpoint.clone();
        let graphql = match uploads {
            Some(limits) => post(move |request: axum::extract::Request| {
                let endpoint = endpoint.clone();
                async move {
                    crate::execute_graphql_with_uploads(
                        component,
                        &endpoint.schema,
                        &endpoint.authenticator,
                        request,
                        limits,
                        |request| (endpoint.per_request)(request),
                    )
                    .await
                }
            }),
            None => post(
                move |headers: HeaderMap, request: Result<GraphQLRequest, GraphQLRejection>| {
                    let endpoint = endpoint.clone();
                    async move {
                        crate::execute_graphql(
                            component,
                            &endpoint.schema,
                            &endpoint.authenticator,
                            &headers,
                            request,
                            |request| (endpoint.per_request)(request),
                        )
                        .await
                    }
                },
            ),
        };
        // Subscriptions (and any operation) over graphql-transport-ws, only where the schema
        // streams: GET stays unrouted (405) on the others.
        let graphql = if S::is_empty() {
            graphql
        } else {
            graphql.get(
                move |headers: HeaderMap,
                      upgrade: Result<
                    axum::extract::ws::WebSocketUpgrade,
                    axum::extract::ws::rejection::WebSocketUpgradeRejection,
                >| {
                    crate::graphql_ws::subgraph_ws(
                        ws_endpoint.clone(),
                        ws_init_timeout,
                        headers,
                        upgrade,
                    )
                },
            )
        };
        let routes = Router::new()
            .route("/graphql", graphql)
            .merge(routes)
            .merge(crate::health_routes(component, checks));
        crate::with_edge_layers(component, routes, body_limit_bytes, collectors)
    }
}

/// A subgraph's federation SDL, as `_service { sdl }` returns it (built without any service:
/// resolvers are not needed to print types).
pub fn federation_sdl<Q, M>(query: Q, mutation: M) -> String
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
{
    Schema::build(query, mutation, EmptySubscription)
        .enable_federation()
        .finish()
        .sdl_with_options(SDLExportOptions::new().federation())
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{Context, EmptyMutation, Object};
    use serde_json::{Value, json};

    struct Query;

    #[Object]
    impl Query {
        /// What the shell attached to this request.
        async fn attached(&self, ctx: &Context<'_>) -> String {
            ctx.data_opt::<&'static str>()
                .copied()
                .unwrap_or("nothing")
                .to_owned()
        }
    }

    fn shell() -> SubgraphShell<Query, EmptyMutation, EmptySubscription> {
        let verifier = Arc::new(crate::RemoteVerifier::new(None, None, "iss", "aud"));
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
        SubgraphShell::new("test", schema, Authenticator::new(verifier, None))
            .per_request(|request| request.data("per request"))
            .routes(Router::new().route("/extra", axum::routing::get(|| async { "extra" })))
    }

    async fn serve(router: Router) -> String {
        let listener = crate::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(crate::serve(listener, router, std::future::pending()));
        format!("http://{addr}")
    }

    async fn post_json(url: &str, body: Value) -> Value {
        crate::http_client()
            .post(format!("{url}/graphql"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn serves_graphql_with_per_request_data_health_and_own_routes() {
        let url = serve(shell().into_router()).await;
        let body = post_json(&url, json!({"query": "{ attached }"})).await;
        assert_eq!(body["data"]["attached"], "per request", "{body}");
        let http = crate::http_client();
        let health = http.get(format!("{url}/health")).send().await.unwrap();
        assert!(health.status().is_success());
        let extra = http.get(format!("{url}/extra")).send().await.unwrap();
        assert_eq!(extra.text().await.unwrap(), "extra");
        let broken = http
            .post(format!("{url}/graphql"))
            .header("content-type", "application/json")
            .body("{")
            .send()
            .await
            .unwrap();
        assert_eq!(broken.status(), 400);
        let broken: Value = broken.json().await.unwrap();
        assert_eq!(broken["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }

    #[tokio::test]
    async fn uploads_take_json_and_refuse_multipart_without_a_preflight_header() {
        let limits = UploadLimits {
            max_body_bytes: 1024,
            max_file_bytes: 512,
            max_files: 1,
        };
        let url = serve(shell().uploads(limits).body_limit(1024).into_router()).await;
        let body = post_json(&url, json!({"query": "{ attached }"})).await;
        assert_eq!(body["data"]["attached"], "per request", "{body}");
        let refused = crate::http_client()
            .post(format!("{url}/graphql"))
            .header("content-type", "multipart/form-data; boundary=x")
            .body("--x--\r\n")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400);
        let refused: Value = refused.json().await.unwrap();
        assert_eq!(
            refused["errors"][0]["extensions"]["reason"],
            "CSRF_PREFLIGHT_REQUIRED"
        );
    }

    #[test]
    fn federation_sdl_prints_the_types() {
        let sdl = federation_sdl(Query, EmptyMutation);
        assert!(sdl.contains("attached: String!"), "{sdl}");
    }
}
