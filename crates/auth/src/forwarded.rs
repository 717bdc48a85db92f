//! The principal header the router sets after verifying a caller, so subgraphs need not verify
//! tokens again.
//!
//! Value: a compact JWT signed with HS256 under the secret the router shares with the
//! subgraphs (`server.router_secret`), claims `{principal, exp}` (jsonwebtoken pins the
//! algorithm, so an `alg: none` or ES256 header is refused). Subgraphs trust it only when it
//! verifies; without that secret configured they reject the header outright. The short expiry
//! bounds replay of a captured header.
//!
//! A delegation (`x-looma-delegation`) is the one principal the router's edge accepts from a
//! caller: a component acting for the user who asked it (chat's tools) calls the router as that
//! user. Same secret, but its own claims — an audience only the router accepts and the acting
//! component's name — so a forwarded principal meant for subgraphs is never a delegation, and a
//! delegation is never a forwarded principal.

use crate::{AuthError, Principal};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const FORWARDED_PRINCIPAL_HEADER: &str = "x-looma-principal";
/// How long a forwarded header stays valid.
pub const FORWARDED_TTL_SECONDS: i64 = 60;
pub const MIN_SECRET_LEN: usize = 32;
/// The header carrying a delegation to the router.
pub const DELEGATION_HEADER: &str = "x-looma-delegation";
/// The audience of delegations: the router's edge and nothing else.
const DELEGATION_AUDIENCE: &str = "looma-router";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Claims {
    principal: Principal,
    exp: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DelegationClaims {
    principal: Principal,
    /// The component acting for the principal.
    act: String,
    aud: String,
    exp: i64,
}

/// A verified delegation: who the call is for, and which component makes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delegation {
    pub principal: Principal,
    pub actor: String,
}

/// Cheap to clone: the keys are shared.
#[derive(Clone)]
pub struct ForwardedPrincipalCodec(std::sync::Arc<Keys>);

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    delegation: Validation,
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
        let mut delegation = Validation::new(Algorithm::HS256);
        delegation.leeway = 0;
        delegation.set_audience(&[DELEGATION_AUDIENCE]);
        delegation.set_required_spec_claims(&["exp", "aud"]);
        (secret.len() >= MIN_SECRET_LEN).then(|| {
            ForwardedPrincipalCodec(std::sync::Arc::new(Keys {
                encoding: EncodingKey::from_secret(secret),
                decoding: DecodingKey::from_secret(secret),
                validation,
                delegation,
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
        jsonwebtoken::decode::<Claims>(value, &self.0.decoding, &self.0.validation)
            .map(|data| data.claims.principal)
            .map_err(|error| AuthError::ForwardedPrincipalInvalid(why(&error).to_owned()))
    }

    /// A delegation to the router: `actor` calls it as `principal`, for a minute.
    pub fn encode_delegation(&self, principal: &Principal, actor: &str) -> String {
        let claims = DelegationClaims {
            principal: principal.clone(),
            act: actor.to_owned(),
            aud: DELEGATION_AUDIENCE.to_owned(),
            exp: chrono::Utc::now().timestamp() + FORWARDED_TTL_SECONDS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.0.encoding)
            .expect("HS256 signs any serialisable claims")
    }

    pub fn decode_delegation(&self, value: &str) -> Result<Delegation, AuthError> {
        jsonwebtoken::decode::<DelegationClaims>(value, &self.0.decoding, &self.0.delegation)
            .map(|data| Delegation {
                principal: data.claims.principal,
                actor: data.claims.act,
            })
            .map_err(|error| AuthError::DelegationInvalid(why(&error).to_owned()))
    }
}

/// Why a signed header was refused, in words safe to return.
fn why(error: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidAlgorithm => "wrong algorithm",
        ErrorKind::InvalidAudience => "not meant for this component",
        _ => "malformed",
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

    #[test]
    fn delegations_and_forwarded_principals_are_not_interchangeable() {
        let codec = ForwardedPrincipalCodec::new(&[7u8; 32]).unwrap();
        let delegation = codec.encode_delegation(&principal(), "chat");
        assert_eq!(
            codec.decode_delegation(&delegation).unwrap(),
            Delegation {
                principal: principal(),
                actor: "chat".into()
            }
        );
        // A delegation is not a forwarded principal, nor the other way round.
        assert!(matches!(
            codec.decode(&delegation),
            Err(AuthError::ForwardedPrincipalInvalid(_))
        ));
        assert!(matches!(
            codec.decode_delegation(&codec.encode(&principal())),
            Err(AuthError::DelegationInvalid(_))
        ));
        // Another secret, another audience and an expired delegation are refused.
        let other = ForwardedPrincipalCodec::new(&[8u8; 32]).unwrap();
        assert_eq!(
            other.decode_delegation(&delegation),
            Err(AuthError::DelegationInvalid("bad signature".into()))
        );
        let sign = |aud: &str, exp: i64| {
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &DelegationClaims {
                    principal: principal(),
                    act: "chat".into(),
                    aud: aud.into(),
                    exp,
                },
                &EncodingKey::from_secret(&[7u8; 32]),
            )
            .unwrap()
        };
        let later = chrono::Utc::now().timestamp() + 30;
        assert_eq!(
            codec.decode_delegation(&sign("looma-search", later)),
            Err(AuthError::DelegationInvalid(
                "not meant for this component".into()
            ))
        );
        assert_eq!(
            codec.decode_delegation(&sign(DELEGATION_AUDIENCE, later - 60)),
            Err(AuthError::DelegationInvalid("expired".into()))
        );
    }
}
