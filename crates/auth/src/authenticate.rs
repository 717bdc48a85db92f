use crate::forwarded::{DELEGATION_HEADER, FORWARDED_PRINCIPAL_HEADER, ForwardedPrincipalCodec};
use crate::{AuthError, Caller, Principal};
use http::HeaderMap;
use std::sync::Arc;

pub const API_KEY_HEADER: &str = "x-api-key";

/// Checks credentials against whoever owns them: identity checks its own keys and API key
/// table; other components ask identity (JWKS for tokens, its API for API keys).
#[async_trait::async_trait]
pub trait CredentialVerifier: Send + Sync + 'static {
    async fn verify_access_token(&self, token: &str) -> Result<Principal, AuthError>;
    async fn verify_api_key(&self, key: &str) -> Result<Principal, AuthError>;
}

/// Turns request headers into a [`Caller`].
///
/// Order: a delegation (only where accepted: the router's edge), a router-forwarded principal
/// (trusted only with a valid HMAC), then `Authorization: Bearer`, then `x-api-key`; no
/// credentials means anonymous. Credentials that are present but wrong are an error, never a
/// silent fall-back to anonymous.
#[derive(Clone)]
pub struct Authenticator {
    verifier: Arc<dyn CredentialVerifier>,
    forwarded: Option<ForwardedPrincipalCodec>,
    delegations: Option<ForwardedPrincipalCodec>,
}

impl Authenticator {
    pub fn new(
        verifier: Arc<dyn CredentialVerifier>,
        forwarded: Option<ForwardedPrincipalCodec>,
    ) -> Self {
        Authenticator {
            verifier,
            forwarded,
            delegations: None,
        }
    }

    /// Also accepts delegations (`x-looma-delegation`) verified with `codec`: the router's
    /// edge, where a component calls as the user it acts for.
    pub fn accepting_delegations(mut self, codec: ForwardedPrincipalCodec) -> Self {
        self.delegations = Some(codec);
        self
    }

    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, AuthError> {
        if let Some(value) = headers.get(DELEGATION_HEADER) {
            let codec = self.delegations.as_ref().ok_or_else(|| {
                AuthError::DelegationInvalid("this component accepts no delegations".into())
            })?;
            let value = value
                .to_str()
                .map_err(|_| AuthError::DelegationInvalid("not ASCII".into()))?;
            return codec
                .decode_delegation(value)
                .map(|delegation| Caller::authenticated(delegation.principal));
        }
        if let Some(value) = headers.get(FORWARDED_PRINCIPAL_HEADER) {
            let codec = self.forwarded.as_ref().ok_or_else(|| {
                AuthError::ForwardedPrincipalInvalid("this component trusts no router".into())
            })?;
            let value = value
                .to_str()
                .map_err(|_| AuthError::ForwardedPrincipalInvalid("not ASCII".into()))?;
            return codec.decode(value).map(Caller::authenticated);
        }
        if let Some(value) = headers.get(http::header::AUTHORIZATION) {
            let value = value
                .to_str()
                .map_err(|_| AuthError::TokenInvalid("authorization header is not ASCII".into()))?;
            let token = bearer_token(value)?;
            return self
                .verifier
                .verify_access_token(token)
                .await
                .map(Caller::authenticated);
        }
        if let Some(value) = headers.get(API_KEY_HEADER) {
            let key = value.to_str().map_err(|_| AuthError::ApiKeyInvalid)?.trim();
            return self
                .verifier
                .verify_api_key(key)
                .await
                .map(Caller::authenticated);
        }
        Ok(Caller::anonymous())
    }
}

fn bearer_token(value: &str) -> Result<&str, AuthError> {
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| AuthError::TokenInvalid("expected `Bearer <token>`".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::TokenInvalid("expected `Bearer <token>`".into()));
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrincipalKind;

    struct FixedVerifier;

    fn principal(subject: &str) -> Principal {
        Principal {
            subject: subject.into(),
            kind: PrincipalKind::User,
            email: None,
            roles: vec![],
            permissions: Default::default(),
        }
    }

    #[async_trait::async_trait]
    impl CredentialVerifier for FixedVerifier {
        async fn verify_access_token(&self, token: &str) -> Result<Principal, AuthError> {
            if token == "good" {
                Ok(principal("from-token"))
            } else {
                Err(AuthError::TokenInvalid("bad".into()))
            }
        }
        async fn verify_api_key(&self, key: &str) -> Result<Principal, AuthError> {
            if key == "key" {
                Ok(principal("from-key"))
            } else {
                Err(AuthError::ApiKeyInvalid)
            }
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[tokio::test]
    async fn credentials_in_order() {
        let codec = ForwardedPrincipalCodec::new(&[1u8; 32]).unwrap();
        let auth = Authenticator::new(Arc::new(FixedVerifier), Some(codec.clone()));
        let subject = |caller: Caller| caller.principal().map(|p| p.subject.clone());

        assert_eq!(
            subject(auth.authenticate(&headers(&[])).await.unwrap()),
            None
        );
        let bearer = headers(&[("authorization", "bearer good")]);
        assert_eq!(
            subject(auth.authenticate(&bearer).await.unwrap()).as_deref(),
            Some("from-token")
        );
        let key = headers(&[("x-api-key", "key")]);
        assert_eq!(
            subject(auth.authenticate(&key).await.unwrap()).as_deref(),
            Some("from-key")
        );
        let forwarded_value = codec.encode(&principal("from-router"));
        let forwarded = headers(&[
            ("x-looma-principal", &forwarded_value),
            ("authorization", "Bearer bad"),
        ]);
        assert_eq!(
            subject(auth.authenticate(&forwarded).await.unwrap()).as_deref(),
            Some("from-router")
        );
        assert!(
            auth.authenticate(&headers(&[("authorization", "Bearer bad")]))
                .await
                .is_err()
        );
        assert!(
            auth.authenticate(&headers(&[("authorization", "Basic xyz")]))
                .await
                .is_err()
        );
        assert!(
            auth.authenticate(&headers(&[("x-api-key", "nope")]))
                .await
                .is_err()
        );

        let untrusting = Authenticator::new(Arc::new(FixedVerifier), None);
        assert!(untrusting.authenticate(&forwarded).await.is_err());
    }

    #[tokio::test]
    async fn delegations_only_where_accepted() {
        let codec = ForwardedPrincipalCodec::new(&[1u8; 32]).unwrap();
        let delegation = codec.encode_delegation(&principal("recruiter"), "chat");
        let delegated = headers(&[("x-looma-delegation", &delegation)]);
        // A subgraph (which trusts the router's forwarded principals) takes no delegation.
        let subgraph = Authenticator::new(Arc::new(FixedVerifier), Some(codec.clone()));
        assert!(matches!(
            subgraph.authenticate(&delegated).await,
            Err(AuthError::DelegationInvalid(_))
        ));
        // The router's edge does, and a forwarded principal is still refused there.
        let edge =
            Authenticator::new(Arc::new(FixedVerifier), None).accepting_delegations(codec.clone());
        let caller = edge.authenticate(&delegated).await.unwrap();
        assert_eq!(
            caller.principal().map(|p| p.subject.as_str()),
            Some("recruiter")
        );
        let forwarded_value = codec.encode(&principal("recruiter"));
        let forwarded = headers(&[("x-looma-principal", &forwarded_value)]);
        assert!(edge.authenticate(&forwarded).await.is_err());
        let as_delegation = headers(&[("x-looma-delegation", &forwarded_value)]);
        assert!(matches!(
            edge.authenticate(&as_delegation).await,
            Err(AuthError::DelegationInvalid(_))
        ));
    }
}
