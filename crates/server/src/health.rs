use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use futures::future::BoxFuture;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

type CheckFn = dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync;
type ReportFn = dyn Fn() -> BoxFuture<'static, Vec<(String, Result<(), String>)>> + Send + Sync;

/// One dependency `/ready` must reach (the database, the cache, ...), or dependencies it only
/// reports ([`ReadinessCheck::advisory`]).
#[derive(Clone)]
pub struct ReadinessCheck {
    name: &'static str,
    kind: CheckKind,
}

#[derive(Clone)]
enum CheckKind {
    Required(Arc<CheckFn>),
    Advisory(Arc<ReportFn>),
}

impl ReadinessCheck {
    pub fn new<F>(name: &'static str, check: F) -> Self
    where
        F: Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
    {
        ReadinessCheck {
            name,
            kind: CheckKind::Required(Arc::new(check)),
        }
    }

    /// Dependencies reported on `/ready` as `<name>:<item>` (and so in the monitor's
    /// `systemHealth`) that never make the component unready: ones it can do without, such
    /// as each language model behind chat's fallback chain.
    pub fn advisory<F>(name: &'static str, report: F) -> Self
    where
        F: Fn() -> BoxFuture<'static, Vec<(String, Result<(), String>)>> + Send + Sync + 'static,
    {
        ReadinessCheck {
            name,
            kind: CheckKind::Advisory(Arc::new(report)),
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
        let check_fn = match &check.kind {
            CheckKind::Required(check_fn) => check_fn,
            CheckKind::Advisory(report) => {
                let items = tokio::time::timeout(CHECK_TIMEOUT, report())
                    .await
                    .unwrap_or_else(|_| vec![(String::new(), Err("timed out".to_owned()))]);
                for (item, outcome) in items {
                    let value = match outcome {
                        Ok(()) => json!("ok"),
                        Err(reason) => json!(reason),
                    };
                    results.insert(format!("{}:{item}", check.name), value);
                }
                continue;
            }
        };
        let outcome = tokio::time::timeout(CHECK_TIMEOUT, check_fn()).await;
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
