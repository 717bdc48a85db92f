//! The principal header the router sets after verifying a caller, so subgraphs need not verify
//! tokens again.
//!
//! Value: a compact JWT signed with HS256 under the secret the router shares with the
//! subgraphs (`server.router_secret`), claims `{principal, exp}` (jsonwebtoken pins the
//! algorithm, so an `alg: none` or ES256 header is refused). Subgraphs trust it only when it
//! verifies; without that secret configured they reject the header outright. The short expiry
//! bounds replay of a captured header.

use crate::{AuthError, Principal};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const FORWARDED_PRINCIPAL_HEADER: &str = "x-looma-principal";
/// How long a forwarded header stays valid.
pub const FORWARDED_TTL_SECONDS: i64 = 60;
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Serialize, Deserialize)]
struct Claims {
    principal: Principal,
    exp: i64,
}

/// Cheap to clone: the keys are shared.
#[derive(Clone)]
pub struct ForwardedPrincipalCodec(std::sync::Arc<Keys>);

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for ForwardedPrincipalCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForwardedPrincipalCodec(***)")
    }
}

impl ForwardedPrincipalCodec {
    /// `None` when the secret is too short to be safe.
    pub fn new(secret: &[u8]) -> Option<Self> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        (secret.len() >= MIN_SECRET_LEN).then(|| {
            ForwardedPrincipalCodec(std::sync::Arc::new(Keys {
                encoding: EncodingKey::from_secret(secret),
                decoding: DecodingKey::from_secret(secret),
                validation,
            }))
        })
    }

    pub fn encode(&self, principal: &Principal) -> String {
        let claims = Claims {
            principal: principal.clone(),
            exp: chrono::Utc::now().timestamp() + FORWARDED_TTL_SECONDS,
        };
        // Serialising a principal and signing with an HMAC key cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.0.encoding)
            .expect("HS256 signs any serialisable claims")
    }

    pub fn decode(&self, value: &str) -> Result<Principal, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        jsonwebtoken::decode::<Claims>(value, &self.0.decoding, &self.0.validation)
            .map(|data| data.claims.principal)
            .map_err(|error| {
                let why = match error.kind() {
                    ErrorKind::ExpiredSignature => "expired",
                    ErrorKind::InvalidSignature => "bad signature",
                    ErrorKind::InvalidAlgorithm => "wrong algorithm",
                    _ => "malformed",
                };
                AuthError::ForwardedPrincipalInvalid(why.to_owned())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrincipalKind;

    fn principal() -> Principal {
        Principal {
            subject: "svc-1".into(),
            kind: PrincipalKind::Service,
            email: None,
            roles: vec![],
            permissions: ["search:index".to_owned()].into(),
        }
    }

    #[test]
    fn round_trip_and_rejection() {
        let codec = ForwardedPrincipalCodec::new(&[7u8; 32]).unwrap();
        let header = codec.encode(&principal());
        assert_eq!(codec.decode(&header).unwrap(), principal());

        let other = ForwardedPrincipalCodec::new(&[8u8; 32]).unwrap();
        assert!(
            other.decode(&header).is_err(),
            "other secret must not verify"
        );

        let (signed, signature) = header.rsplit_once('.').unwrap();
        let forged = format!("{signed}A.{signature}");
        assert_eq!(
            codec.decode(&forged),
            Err(AuthError::ForwardedPrincipalInvalid("bad signature".into()))
        );
        // An unsigned token with the same claims is refused (the algorithm is pinned).
        let (_, claims, _) = {
            let mut parts = header.splitn(3, '.');
            (parts.next(), parts.next().unwrap(), parts.next())
        };
        let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{claims}.");
        assert!(codec.decode(&unsigned).is_err());
        // Expired headers are refused.
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Claims {
                principal: principal(),
                exp: chrono::Utc::now().timestamp() - 1,
            },
            &EncodingKey::from_secret(&[7u8; 32]),
        )
        .unwrap();
        assert_eq!(
            codec.decode(&expired),
            Err(AuthError::ForwardedPrincipalInvalid("expired".into()))
        );
        assert!(codec.decode("garbage").is_err());
        assert!(ForwardedPrincipalCodec::new(b"short").is_none());
    }
}
