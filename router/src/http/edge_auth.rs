//! Edge authentication: the router verifies a caller's credentials once (bearer JWT against
//! identity's JWKS, or API key against identity, through looma-server's `RemoteVerifier`) and
//! builds the headers subgraphs receive: the verified principal signed into
//! `x-looma-principal`, or, for an anonymous caller, the signed router marker that subgraphs in
//! lock-down require. The request id is passed along as well.
//!
//! Clients never get to present a forwarded principal themselves: the edge trusts none. The
//! one principal it accepts from a caller is a delegation (`x-looma-delegation`, signed with
//! the same router secret for the router's audience): a platform component acting for the
//! user who asked it — chat's tools — calls through the router as that user.

use crate::config::RouterConfig;
use crate::error::RequestError;
use http::header::HeaderName;
use http::{HeaderMap, HeaderValue, StatusCode};
use looma_auth::{Authenticator, ForwardedPrincipalCodec, Principal};
use looma_core::{CodedError, ErrorCode};
use std::sync::Arc;

/// The request id (set by the edge layer when the client sent none), forwarded to subgraphs.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub(crate) struct EdgeAuth {
    authenticator: Authenticator,
    /// Signs the verified principal for subgraphs; `None` forwards no principal.
    forwarded: Option<ForwardedPrincipalCodec>,
}

impl EdgeAuth {
    pub(super) fn new(config: &RouterConfig, forwarded: Option<ForwardedPrincipalCodec>) -> Self {
        let verifier = looma_server::RemoteVerifier::new(
            config.jwks_url.clone(),
            config.identity_url.clone(),
            &config.token_issuer,
            &config.token_audience,
        );
        let mut authenticator = Authenticator::new(Arc::new(verifier), None);
        if let Some(codec) = &forwarded {
            authenticator = authenticator.accepting_delegations(codec.clone());
        }
        EdgeAuth {
            authenticator,
            forwarded,
        }
    }

    /// Authenticates the caller and builds the headers subgraphs receive; an error is the
    /// answer to send instead (no subgraph is called): 401, or 503 when verification itself
    /// failed (identity unreachable).
    pub(super) async fn subgraph_headers(
        &self,
        incoming: &HeaderMap,
    ) -> Result<HeaderMap, RequestError> {
        let principal = self.authenticate(incoming).await?;
        let mut headers = self.forwarded_headers(principal.as_ref(), incoming.get(REQUEST_ID));
        copy_traceparent(incoming, &mut headers);
        Ok(headers)
    }

    /// The caller's verified principal (`None`: anonymous); an error as in
    /// [`Self::subgraph_headers`].
    pub(crate) async fn authenticate(
        &self,
        incoming: &HeaderMap,
    ) -> Result<Option<Principal>, RequestError> {
        let caller = self
            .authenticator
            .authenticate(incoming)
            .await
            .map_err(|error| {
                let status = if error.code() == ErrorCode::Internal {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::UNAUTHORIZED
                };
                let refusal =
                    RequestError::new(error.code(), error.to_string()).with_status(status);
                match error.reason() {
                    Some(reason) => refusal.with_reason(reason),
                    None => refusal,
                }
            })?;
        Ok(caller.principal().cloned())
    }

    /// The headers subgraphs receive for `principal`, freshly signed (a forwarded principal
    /// is valid for a minute: long-lived subscriptions sign again as they go).
    pub(crate) fn forwarded_headers(
        &self,
        principal: Option<&Principal>,
        request_id: Option<&HeaderValue>,
    ) -> HeaderMap {
        let mut out = HeaderMap::new();
        if let Some(request_id) = request_id {
            out.insert(REQUEST_ID, request_id.clone());
        }
        match (principal, &self.forwarded) {
            (Some(principal), Some(codec)) => {
                if let Ok(value) = HeaderValue::from_str(&codec.encode(principal)) {
                    out.insert(looma_auth::FORWARDED_PRINCIPAL_HEADER, value);
                }
            }
            // An anonymous caller still came through the router: subgraphs in lock-down
            // (`server.require_trusted_callers`) need to know.
            (None, Some(_)) => out.extend(self.router_marker()),
            (_, None) => {}
        }
        out
    }

    /// The headers of an anonymous request through the router (the signed router marker), so
    /// that subgraphs in lock-down execute it instead of refusing it.
    pub(super) fn router_marker(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(codec) = &self.forwarded
            && let Ok(value) = HeaderValue::from_str(&looma_server::router_marker(codec))
        {
            headers.insert(looma_server::ROUTER_MARKER_HEADER, value);
        }
        headers
    }
}

/// Forwards the request's trace context to subgraphs.
pub(crate) fn copy_traceparent(incoming: &HeaderMap, out: &mut HeaderMap) {
    if let Some(value) = incoming.get(looma_server::trace_context::TRACEPARENT) {
        out.insert(looma_server::trace_context::TRACEPARENT, value.clone());
    }
}
