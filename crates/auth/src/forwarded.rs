//! The principal header the router sets after verifying a caller, so subgraphs need not verify
//! tokens again.
//!
//! Value: `base64url(json {principal, exp}) "." base64url(HMAC-SHA256(secret, first part))`.
//! Subgraphs trust it only when the HMAC verifies with the secret they share with the router
//! (`server.router_secret`); without that secret configured they reject the header outright.
//! The short expiry bounds replay of a captured header.

use crate::{AuthError, Principal};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const FORWARDED_PRINCIPAL_HEADER: &str = "x-looma-principal";
/// How long a forwarded header stays valid.
pub const FORWARDED_TTL_SECONDS: i64 = 60;
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Serialize, Deserialize)]
struct Envelope {
    principal: Principal,
    exp: i64,
}

#[derive(Clone)]
pub struct ForwardedPrincipalCodec {
    secret: Vec<u8>,
}

impl std::fmt::Debug for ForwardedPrincipalCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForwardedPrincipalCodec(***)")
    }
}

impl ForwardedPrincipalCodec {
    /// `None` when the secret is too short to be safe.
    pub fn new(secret: &[u8]) -> Option<Self> {
        (secret.len() >= MIN_SECRET_LEN).then(|| ForwardedPrincipalCodec {
            secret: secret.to_vec(),
        })
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("HMAC takes any key length")
    }

    pub fn encode(&self, principal: &Principal) -> String {
        let envelope = Envelope {
            principal: principal.clone(),
            exp: chrono::Utc::now().timestamp() + FORWARDED_TTL_SECONDS,
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&envelope).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    pub fn decode(&self, value: &str) -> Result<Principal, AuthError> {
        let invalid = |why: &str| AuthError::ForwardedPrincipalInvalid(why.to_owned());
        let (payload, signature) = value.split_once('.').ok_or_else(|| invalid("malformed"))?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| invalid("malformed signature"))?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| invalid("bad signature"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| invalid("malformed payload"))?;
        let envelope: Envelope =
            serde_json::from_slice(&bytes).map_err(|_| invalid("malformed payload"))?;
        if envelope.exp < chrono::Utc::now().timestamp() {
            return Err(invalid("expired"));
        }
        Ok(envelope.principal)
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

        let (payload, signature) = header.split_once('.').unwrap();
        let forged_payload = format!("{payload}A");
        assert!(
            codec
                .decode(&format!("{forged_payload}.{signature}"))
                .is_err()
        );
        assert!(codec.decode("garbage").is_err());
        assert!(ForwardedPrincipalCodec::new(b"short").is_none());
    }
}
