//! Credentials checked against identity over the network, for every component that is not
//! identity: bearer JWTs are verified against identity's JWKS (cached, refetched when a token
//! names an unknown key), API keys are checked with identity's `caller` query (cached
//! briefly). The router uses it at the edge; a subgraph called directly uses it too.

use async_trait::async_trait;
use looma_auth::token::{JwkSet, VerificationKeys};
use looma_auth::{AuthError, CredentialVerifier, Principal, PrincipalKind};
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long a fetched JWKS is trusted before it is fetched again.
const JWKS_TTL: Duration = Duration::from_secs(300);
/// Unknown `kid`s refetch the JWKS at most this often (a flood of forged tokens must not
/// turn into a flood of JWKS requests).
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(5);
/// API key checks are remembered this long; a revoked key stops working within it.
const API_KEY_TTL: Duration = Duration::from_secs(30);

pub struct RemoteVerifier {
    jwks_url: Option<String>,
    identity_url: Option<String>,
    issuer: String,
    audience: String,
    http: reqwest::Client,
    keys: RwLock<Option<(VerificationKeys, Instant)>>,
    api_keys: moka::future::Cache<String, Principal>,
}

impl RemoteVerifier {
    pub fn new(
        jwks_url: Option<String>,
        identity_url: Option<String>,
        issuer: &str,
        audience: &str,
    ) -> Self {
        RemoteVerifier {
            jwks_url,
            identity_url,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            keys: RwLock::new(None),
            api_keys: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(API_KEY_TTL)
                .build(),
        }
    }

    fn cached_keys(&self) -> Option<(VerificationKeys, Instant)> {
        match self.keys.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    async fn refresh_keys(&self) -> Result<VerificationKeys, AuthError> {
        let url = self
            .jwks_url
            .as_deref()
            .ok_or_else(|| AuthError::TokenInvalid("this router has no JWKS configured".into()))?;
        let jwks: JwkSet = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| AuthError::Unavailable(format!("fetching the JWKS: {e}")))?
            .json()
            .await
            .map_err(|e| AuthError::Unavailable(format!("reading the JWKS: {e}")))?;
        let keys = VerificationKeys::from_jwks(&jwks, &self.issuer, &self.audience);
        match self.keys.write() {
            Ok(mut guard) => *guard = Some((keys.clone(), Instant::now())),
            Err(poisoned) => *poisoned.into_inner() = Some((keys.clone(), Instant::now())),
        }
        Ok(keys)
    }
}

#[async_trait]
impl CredentialVerifier for RemoteVerifier {
    async fn verify_access_token(&self, token: &str) -> Result<Principal, AuthError> {
        let keys = match self.cached_keys() {
            Some((keys, fetched)) if fetched.elapsed() < JWKS_TTL => keys,
            _ => self.refresh_keys().await?,
        };
        match keys.verify(token) {
            Err(AuthError::UnknownSigningKey(kid)) => {
                let recently = self
                    .cached_keys()
                    .is_some_and(|(_, fetched)| fetched.elapsed() < JWKS_MIN_REFETCH);
                if recently {
                    return Err(AuthError::UnknownSigningKey(kid));
                }
                Ok(self.refresh_keys().await?.verify(token)?.into_principal())
            }
            other => Ok(other?.into_principal()),
        }
    }

    async fn verify_api_key(&self, key: &str) -> Result<Principal, AuthError> {
        if let Some(principal) = self.api_keys.get(key).await {
            return Ok(principal);
        }
        let url = self
            .identity_url
            .as_deref()
            .ok_or(AuthError::ApiKeyInvalid)?;
        let response: serde_json::Value = self
            .http
            .post(url)
            .header(looma_auth::API_KEY_HEADER, key)
            .json(&serde_json::json!({"query": "{ caller { subject kind roles permissions } }"}))
            .send()
            .await
            .map_err(|e| AuthError::Unavailable(format!("checking the API key: {e}")))?
            .json()
            .await
            .map_err(|e| AuthError::Unavailable(format!("checking the API key: {e}")))?;
        let caller = &response["data"]["caller"];
        let Some(subject) = caller["subject"].as_str() else {
            return Err(AuthError::ApiKeyInvalid);
        };
        let principal = Principal {
            subject: subject.to_owned(),
            kind: if caller["kind"] == "USER" {
                PrincipalKind::User
            } else {
                PrincipalKind::Service
            },
            email: None,
            roles: strings(&caller["roles"]),
            permissions: strings(&caller["permissions"]).into_iter().collect(),
        };
        self.api_keys
            .insert(key.to_owned(), principal.clone())
            .await;
        Ok(principal)
    }
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
