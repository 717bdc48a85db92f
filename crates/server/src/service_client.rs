//! Calling another component's GraphQL API as a service: a principal of kind `Service` signed
//! with the router secret (`x-looma-principal`, the same header the router forwards), or an
//! API key. Used for subgraph-to-subgraph calls (resume → search, matching → search, resume,
//! identity) and by operator commands. A component acting for a user (chat's tools) calls the
//! router instead, with a delegation for that user (`ServiceClient::delegated`).

use looma_auth::{ForwardedPrincipalCodec, Principal, PrincipalKind};
use serde_json::{Value, json};
use std::time::Duration;

/// How long one call may take, connection included.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
enum Credential {
    Signed {
        codec: ForwardedPrincipalCodec,
        subject: String,
        permissions: Vec<String>,
    },
    ApiKey(String),
    /// A delegation to the router: a component acting for the user who asked it.
    Delegated {
        codec: ForwardedPrincipalCodec,
        principal: Box<Principal>,
        actor: String,
    },
}

/// Why a call did not return data.
#[derive(Debug, thiserror::Error)]
pub enum ServiceCallError {
    /// Connection refused, timeout, or a non-GraphQL answer: retry later.
    #[error("{service} unreachable: {message}")]
    Unreachable { service: String, message: String },
    /// The service answered with GraphQL errors; `code` is the first error's
    /// `extensions.code`.
    #[error("{service} refused: {message}")]
    Refused {
        service: String,
        code: Option<String>,
        message: String,
    },
}

impl ServiceCallError {
    pub fn code(&self) -> Option<&str> {
        match self {
            ServiceCallError::Refused { code, .. } => code.as_deref(),
            ServiceCallError::Unreachable { .. } => None,
        }
    }
}

#[derive(Clone)]
pub struct ServiceClient {
    service: String,
    url: String,
    credential: Credential,
    http: reqwest::Client,
}

impl ServiceClient {
    /// Calls `url` (a `/graphql` endpoint of `service`) as `subject` holding `permissions`,
    /// signed with the router secret the callee trusts.
    pub fn signed(
        service: &str,
        url: String,
        codec: ForwardedPrincipalCodec,
        subject: &str,
        permissions: &[&str],
    ) -> Self {
        Self::new(
            service,
            url,
            Credential::Signed {
                codec,
                subject: subject.to_owned(),
                permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            },
        )
    }

    /// Calls the router at `url` as `principal` itself — its subject, kind and permissions —
    /// through a delegation signed for the router: every subgraph the operation reaches applies
    /// that user's permissions, not a service's. For `actor`, a component acting on a user's
    /// request (chat's tools).
    pub fn delegated(
        url: String,
        codec: ForwardedPrincipalCodec,
        principal: Principal,
        actor: &str,
    ) -> Self {
        Self::new(
            "router",
            url,
            Credential::Delegated {
                codec,
                principal: Box::new(principal),
                actor: actor.to_owned(),
            },
        )
    }

    /// Calls `url` with an API key (`x-api-key`).
    pub fn api_key(service: &str, url: String, key: String) -> Self {
        Self::new(service, url, Credential::ApiKey(key))
    }

    fn new(service: &str, url: String, credential: Credential) -> Self {
        ServiceClient {
            service: service.to_owned(),
            url,
            credential,
            http: crate::http_client(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs one operation; returns its `data`, or the first error.
    pub async fn query(&self, query: &str, variables: Value) -> Result<Value, ServiceCallError> {
        let unreachable = |message: String| ServiceCallError::Unreachable {
            service: self.service.clone(),
            message,
        };
        let request = self.http.post(&self.url).timeout(CALL_TIMEOUT);
        let request = match &self.credential {
            Credential::Signed {
                codec,
                subject,
                permissions,
            } => {
                let principal = Principal {
                    subject: subject.clone(),
                    kind: PrincipalKind::Service,
                    email: None,
                    roles: Vec::new(),
                    permissions: permissions.iter().cloned().collect(),
                };
                request.header(
                    looma_auth::FORWARDED_PRINCIPAL_HEADER,
                    codec.encode(&principal),
                )
            }
            Credential::ApiKey(key) => request.header("x-api-key", key),
            Credential::Delegated {
                codec,
                principal,
                actor,
            } => request.header(
                looma_auth::DELEGATION_HEADER,
                codec.encode_delegation(principal, actor),
            ),
        };
        let response = request
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = response.status();
        let mut body: Value = response
            .json()
            .await
            .map_err(|e| unreachable(format!("answered {status} with a non-JSON body: {e}")))?;
        if let Some(error) = body.get("errors").and_then(|e| e.get(0)) {
            return Err(ServiceCallError::Refused {
                service: self.service.clone(),
                code: error["extensions"]["code"].as_str().map(str::to_owned),
                message: error["message"]
                    .as_str()
                    .unwrap_or("unknown error")
                    .to_owned(),
            });
        }
        if !status.is_success() {
            return Err(unreachable(format!("answered {status}")));
        }
        Ok(body.get_mut("data").map(Value::take).unwrap_or(Value::Null))
    }
}
