//! Lock-down of a subgraph's port (`server.require_trusted_callers`, on in `looma serve`): the
//! GraphQL endpoint answers only the router and services, so nobody reaches a subgraph's
//! introspection, `_service { sdl }` or resolvers by going around the router.
//!
//! A request is trusted when it carries
//! - a forwarded principal (`x-looma-principal`) signed with the router secret: the router
//!   acting for a verified user or service, or a [`crate::ServiceClient`] signing for itself;
//! - the router marker ([`ROUTER_MARKER_HEADER`], signed the same way), which the router sets
//!   when its own caller is anonymous, so that `login` and other public operations still work
//!   through the router;
//! - or a service credential (`x-api-key`, verified afterwards by the component's
//!   authenticator like any other request; identity's API keys are service principals).
//!
//! Bearer tokens are refused (`FORBIDDEN`, 403): users go through the router. Anonymous
//! requests and bad signatures are refused with `UNAUTHENTICATED` (401). The probes and
//! documents in [`PUBLIC_PATHS`] stay open. This layer decides only *whether* a request may be
//! executed; who the caller is, is still decided by `looma_auth::Authenticator`.

use crate::graphql_error_response;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use looma_auth::{
    API_KEY_HEADER, FORWARDED_PRINCIPAL_HEADER, ForwardedPrincipalCodec, Principal, PrincipalKind,
};
use looma_core::ErrorCode;

/// Set by the router on requests it forwards for an anonymous caller.
pub const ROUTER_MARKER_HEADER: &str = "x-looma-router";

/// The subject the router marker is signed for.
pub const ROUTER_SUBJECT: &str = "looma-router";

/// Paths served to anyone even in lock-down: liveness, readiness, identity's JWKS and
/// revocation list (public by design, and what every `RemoteVerifier` polls without
/// credentials) and the Prometheus counters (no personal data; scrapers send no credentials).
pub const PUBLIC_PATHS: &[&str] = &[
    "/health",
    "/ready",
    "/.well-known/jwks.json",
    looma_auth::revocation::REVOCATIONS_PATH,
    "/metrics",
];

const REASON: &str = "TRUSTED_CALLER_REQUIRED";

/// The router marker's value: a principal without permissions, signed with the router secret
/// and valid for as long as a forwarded principal. It authenticates nobody: the subgraph still
/// sees an anonymous caller.
pub fn router_marker(codec: &ForwardedPrincipalCodec) -> String {
    codec.encode(&Principal {
        subject: ROUTER_SUBJECT.to_owned(),
        kind: PrincipalKind::Service,
        email: None,
        roles: Vec::new(),
        permissions: Default::default(),
    })
}

/// Wraps a subgraph's routes so that only trusted callers reach anything but [`PUBLIC_PATHS`].
/// `codec` verifies signatures; without one only API keys are trusted.
pub fn require_trusted_callers(router: Router, codec: Option<ForwardedPrincipalCodec>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(codec, guard))
}

async fn guard(
    State(codec): State<Option<ForwardedPrincipalCodec>>,
    request: Request,
    next: Next,
) -> Response {
    if PUBLIC_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    match check(request.headers(), codec.as_ref()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.response(),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Anonymous,
    UserToken,
    BadSignature,
}

impl Refusal {
    fn response(self) -> Response {
        let (status, code, message) = match self {
            Refusal::Anonymous => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthenticated,
                "this subgraph answers only the router and services: send GraphQL requests to \
                 the router, or authenticate with a service API key (x-api-key)",
            ),
            Refusal::UserToken => (
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "this subgraph does not accept user tokens: send requests through the router, \
                 or authenticate with a service API key (x-api-key)",
            ),
            Refusal::BadSignature => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthenticated,
                "the router signature on this request is invalid or expired",
            ),
        };
        graphql_error_response(status, code, REASON, message)
    }
}

fn check(headers: &HeaderMap, codec: Option<&ForwardedPrincipalCodec>) -> Result<(), Refusal> {
    // `None`: header absent; `Some(valid)` otherwise.
    let signed = |name: &str| {
        headers.get(name).map(|value| {
            let value = value.to_str().ok();
            matches!((codec, value), (Some(codec), Some(value)) if codec.decode(value).is_ok())
        })
    };
    match signed(FORWARDED_PRINCIPAL_HEADER) {
        Some(true) => return Ok(()),
        Some(false) => return Err(Refusal::BadSignature),
        None => {}
    }
    if headers.contains_key(axum::http::header::AUTHORIZATION) {
        return Err(Refusal::UserToken);
    }
    if headers.contains_key(API_KEY_HEADER) {
        return Ok(());
    }
    match signed(ROUTER_MARKER_HEADER) {
        Some(true) => Ok(()),
        Some(false) => Err(Refusal::BadSignature),
        None => Err(Refusal::Anonymous),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn only_signed_requests_and_service_keys_pass() {
        let codec = ForwardedPrincipalCodec::new(&[3u8; 32]).unwrap();
        let other = ForwardedPrincipalCodec::new(&[4u8; 32]).unwrap();
        let marker = router_marker(&codec);
        let check = |pairs: &[(&'static str, String)]| check(&headers(pairs), Some(&codec));

        assert_eq!(check(&[]), Err(Refusal::Anonymous));
        assert_eq!(
            check(&[("authorization", "Bearer abc".into())]),
            Err(Refusal::UserToken)
        );
        assert_eq!(check(&[("x-api-key", "key".into())]), Ok(()));
        assert_eq!(
            check(&[
                ("x-api-key", "key".into()),
                ("authorization", "Bearer abc".into())
            ]),
            Err(Refusal::UserToken),
            "the authenticator would use the token"
        );
        assert_eq!(check(&[("x-looma-principal", marker.clone())]), Ok(()));
        assert_eq!(check(&[("x-looma-router", marker.clone())]), Ok(()));
        assert_eq!(
            check(&[("x-looma-router", router_marker(&other))]),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            check(&[("x-looma-principal", "forged.value".into())]),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            super::check(&headers(&[("x-looma-router", marker)]), None),
            Err(Refusal::BadSignature),
            "without the secret nothing signed is trusted"
        );
    }
}
