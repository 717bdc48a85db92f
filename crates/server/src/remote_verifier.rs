//! Credentials checked against identity over the network, for every component that is not
//! identity: bearer JWTs are verified against identity's JWKS (cached, refetched when a token
//! names an unknown key), API keys are checked with identity's `caller` query (cached
//! briefly). The router uses it at the edge; a subgraph called directly uses it too.
//!
//! Both are also checked against identity's revocation list (`looma_auth::revocation`), which
//! a background task polls every [`REVOCATION_POLL`]: a disabled user's token or a revoked key
//! stops working here within a couple of seconds, not when the token or the cache entry
//! expires. Per request the check is a hash lookup in memory; no request waits on the network
//! for it, except the first one of a verifier, which loads the list.

use async_trait::async_trait;
use looma_auth::revocation::{REVOCATIONS_PATH, RevocationIndex, RevocationList};
use looma_auth::token::{AccessClaims, JwkSet, VerificationKeys};
use looma_auth::{AuthError, CredentialVerifier, Principal, PrincipalKind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long fetching the JWKS or checking an API key may take.
const IDENTITY_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fetched JWKS is trusted before it is fetched again.
const JWKS_TTL: Duration = Duration::from_secs(300);
/// Unknown `kid`s refetch the JWKS at most this often (a flood of forged tokens must not
/// turn into a flood of JWKS requests).
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(5);
/// API key checks are remembered this long; a revoked key is refused sooner, through the
/// revocation list.
const API_KEY_TTL: Duration = Duration::from_secs(30);
/// How often the revocation list is polled. With identity's own reload interval (1 s by
/// default) this bounds how long a revoked credential keeps working here.
pub const REVOCATION_POLL: Duration = Duration::from_secs(1);
/// A poll that takes longer is abandoned; the next one retries.
const REVOCATION_POLL_TIMEOUT: Duration = Duration::from_secs(2);

struct FetchedKeys {
    keys: VerificationKeys,
    at: Instant,
}

pub struct RemoteVerifier {
    jwks_url: Option<String>,
    identity_url: Option<String>,
    issuer: String,
    audience: String,
    http: reqwest::Client,
    /// The JWKS, fetched on first use and after [`JWKS_TTL`]; `try_get_with` makes concurrent
    /// requests that find it missing share one fetch.
    keys: moka::future::Cache<(), Arc<FetchedKeys>>,
    api_keys: moka::future::Cache<String, Principal>,
    revocations: Arc<RevocationFeed>,
}

impl RemoteVerifier {
    /// The revocation list is read from identity's origin (`identity_url` without `/graphql`,
    /// else `jwks_url` without `/.well-known/jwks.json`) at [`REVOCATIONS_PATH`].
    pub fn new(
        jwks_url: Option<String>,
        identity_url: Option<String>,
        issuer: &str,
        audience: &str,
    ) -> Self {
        let http = crate::http_client();
        let revocations_url = revocations_url(identity_url.as_deref(), jwks_url.as_deref());
        if revocations_url.is_none() && (jwks_url.is_some() || identity_url.is_some()) {
            tracing::warn!(
                "cannot derive identity's revocation list URL from `identity_url`/`jwks_url`; \
                 disabled users and revoked keys are refused only when their credentials expire"
            );
        }
        RemoteVerifier {
            jwks_url,
            identity_url,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            revocations: Arc::new(RevocationFeed {
                url: revocations_url,
                http: http.clone(),
                index: RwLock::new(Arc::new(RevocationIndex::default())),
                started: tokio::sync::OnceCell::new(),
                failing: AtomicBool::new(false),
            }),
            http,
            keys: moka::future::Cache::builder()
                .max_capacity(1)
                .time_to_live(JWKS_TTL)
                .build(),
            api_keys: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(API_KEY_TTL)
                .build(),
        }
    }

    async fn fetch_keys(&self) -> Result<Arc<FetchedKeys>, AuthError> {
        let url = self
            .jwks_url
            .as_deref()
            .ok_or_else(|| AuthError::TokenInvalid("this router has no JWKS configured".into()))?;
        let jwks: JwkSet = self
            .http
            .get(url)
            .timeout(IDENTITY_CALL_TIMEOUT)
            .send()
            .await
            .map_err(|e| AuthError::Unavailable(format!("fetching the JWKS: {e}")))?
            .json()
            .await
            .map_err(|e| AuthError::Unavailable(format!("reading the JWKS: {e}")))?;
        Ok(Arc::new(FetchedKeys {
            keys: VerificationKeys::from_jwks(&jwks, &self.issuer, &self.audience),
            at: Instant::now(),
        }))
    }

    async fn keys(&self) -> Result<Arc<FetchedKeys>, AuthError> {
        self.keys
            .try_get_with((), self.fetch_keys())
            .await
            .map_err(|error: Arc<AuthError>| (*error).clone())
    }

    async fn verify_signature(&self, token: &str) -> Result<AccessClaims, AuthError> {
        let fetched = self.keys().await?;
        match fetched.keys.verify(token) {
            // A key identity rotated in since the last fetch: fetch again, unless that was
            // moments ago.
            Err(AuthError::UnknownSigningKey(kid)) => {
                if fetched.at.elapsed() < JWKS_MIN_REFETCH {
                    return Err(AuthError::UnknownSigningKey(kid));
                }
                // Drop the set only if nobody has replaced it meanwhile.
                if let Some(current) = self.keys.get(&()).await
                    && Arc::ptr_eq(&current, &fetched)
                {
                    self.keys.invalidate(&()).await;
                }
                self.keys().await?.keys.verify(token)
            }
            other => other,
        }
    }

    async fn check_api_key_with_identity(&self, key: &str) -> Result<Principal, AuthError> {
        let url = self
            .identity_url
            .as_deref()
            .ok_or(AuthError::ApiKeyInvalid)?;
        let response: serde_json::Value = self
            .http
            .post(url)
            .timeout(IDENTITY_CALL_TIMEOUT)
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
        Ok(Principal {
            subject: subject.to_owned(),
            kind: if caller["kind"] == "USER" {
                PrincipalKind::User
            } else {
                PrincipalKind::Service
            },
            email: None,
            roles: strings(&caller["roles"]),
            permissions: strings(&caller["permissions"]).into_iter().collect(),
        })
    }
}

#[async_trait]
impl CredentialVerifier for RemoteVerifier {
    async fn verify_access_token(&self, token: &str) -> Result<Principal, AuthError> {
        let claims = self.verify_signature(token).await?;
        self.revocations.current().await.check_token(&claims)?;
        Ok(claims.into_principal())
    }

    async fn verify_api_key(&self, key: &str) -> Result<Principal, AuthError> {
        let principal = match self.api_keys.get(key).await {
            Some(principal) => principal,
            None => {
                let principal = self.check_api_key_with_identity(key).await?;
                self.api_keys
                    .insert(key.to_owned(), principal.clone())
                    .await;
                principal
            }
        };
        if self
            .revocations
            .current()
            .await
            .api_key_revoked(&principal.subject)
        {
            self.api_keys.invalidate(key).await;
            return Err(AuthError::ApiKeyInvalid);
        }
        Ok(principal)
    }
}

/// Identity's revocation list as this process last saw it, and the task that keeps it fresh.
struct RevocationFeed {
    url: Option<String>,
    http: reqwest::Client,
    index: RwLock<Arc<RevocationIndex>>,
    /// Set once the first load was attempted and the poller spawned.
    started: tokio::sync::OnceCell<()>,
    /// Whether the last poll failed, so failures are logged once, not every second.
    failing: AtomicBool,
}

impl RevocationFeed {
    /// The list to check a request against. The first call loads it and starts the poller
    /// (lazily, so a verifier built outside a runtime or never used polls nothing).
    async fn current(self: &Arc<Self>) -> Arc<RevocationIndex> {
        if self.url.is_some() {
            self.started
                .get_or_init(|| async {
                    self.poll_once().await;
                    spawn_poller(Arc::downgrade(self));
                })
                .await;
        }
        match self.index.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn held_version(&self) -> i64 {
        match self.index.read() {
            Ok(guard) => guard.version(),
            Err(poisoned) => poisoned.into_inner().version(),
        }
    }

    async fn poll_once(&self) {
        match self.fetch().await {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("identity's revocation list is reachable again");
                }
            }
            Err(error) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        %error,
                        "cannot refresh identity's revocation list; the last one fetched applies"
                    );
                }
            }
        }
    }

    async fn fetch(&self) -> Result<(), String> {
        let Some(url) = self.url.as_deref() else {
            return Ok(());
        };
        let held = self.held_version();
        let mut request = self.http.get(url).timeout(REVOCATION_POLL_TIMEOUT);
        if held > 0 {
            request = request.header(reqwest::header::IF_NONE_MATCH, format!("\"{held}\""));
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        if response.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(());
        }
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        let list: RevocationList = response.json().await.map_err(|e| e.to_string())?;
        let index = Arc::new(RevocationIndex::new(&list));
        let mut guard = match self.index.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        // A lagging identity replica may answer with an older list; keep the newer one.
        if index.version() >= guard.version() {
            *guard = index;
        }
        Ok(())
    }
}

/// Polls until the feed is dropped (its verifier is gone).
fn spawn_poller(feed: std::sync::Weak<RevocationFeed>) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(REVOCATION_POLL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let Some(feed) = feed.upgrade() else {
                return;
            };
            feed.poll_once().await;
        }
    });
}

/// `http://identity:8211/graphql` → `http://identity:8211/revocations`; else the same from
/// `http://identity:8211/.well-known/jwks.json`.
fn revocations_url(identity_url: Option<&str>, jwks_url: Option<&str>) -> Option<String> {
    let origin = identity_url
        .and_then(|url| url.trim_end_matches('/').strip_suffix("/graphql"))
        .or_else(|| jwks_url.and_then(|url| url.strip_suffix("/.well-known/jwks.json")))?;
    Some(format!("{origin}{REVOCATIONS_PATH}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revocation_list_lives_at_identitys_origin() {
        assert_eq!(
            revocations_url(Some("http://id:8211/graphql"), None).as_deref(),
            Some("http://id:8211/revocations")
        );
        assert_eq!(
            revocations_url(
                Some("http://id:8211/other"),
                Some("https://id.example/.well-known/jwks.json")
            )
            .as_deref(),
            Some("https://id.example/revocations")
        );
        assert_eq!(revocations_url(Some("http://id/other"), None), None);
        assert_eq!(revocations_url(None, None), None);
    }
}
