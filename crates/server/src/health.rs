use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use futures::future::BoxFuture;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

type CheckFn = dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync;

/// One dependency `/ready` must reach (the database, the cache, ...).
#[derive(Clone)]
pub struct ReadinessCheck {
    name: &'static str,
    check: Arc<CheckFn>,
}

impl ReadinessCheck {
    pub fn new<F>(name: &'static str, check: F) -> Self
    where
        F: Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
    {
        ReadinessCheck {
            name,
            check: Arc::new(check),
        }
    }
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// `/health`: the process answers (liveness), with its version and uptime. `/ready`: every dependency answers (readiness),
/// 503 with the failing checks otherwise.
pub fn health_routes(component: &'static str, checks: Vec<ReadinessCheck>) -> Router {
    let checks = Arc::new(checks);
    Router::new()
        .route(
            "/health",
            get(move || async move {
                axum::Json(json!({
                    "status": "ok",
                    "component": component,
                    "version": env!("CARGO_PKG_VERSION"),
                    "uptime_seconds": crate::metrics::uptime_seconds(),
                }))
            }),
        )
        .route(
            "/ready",
            get(move || {
                let checks = checks.clone();
                async move { readiness(component, &checks).await.into_response() }
            }),
        )
}

async fn readiness(component: &'static str, checks: &[ReadinessCheck]) -> impl IntoResponse {
    let mut results = serde_json::Map::new();
    let mut ready = true;
    for check in checks {
        let outcome = tokio::time::timeout(CHECK_TIMEOUT, (check.check)()).await;
        let value = match outcome {
            Ok(Ok(())) => json!("ok"),
            Ok(Err(reason)) => {
                ready = false;
                json!(reason)
            }
            Err(_) => {
                ready = false;
                json!("timed out")
            }
        };
        results.insert(check.name.to_owned(), value);
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "component": component,
        "checks": results,
    });
    (status, axum::Json(body))
}
