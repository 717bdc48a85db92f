//! ES256 access tokens.
//!
//! Identity signs with its active [`SigningKeyMaterial`]; anyone holding the published
//! [`JwkSet`] verifies with [`VerificationKeys`]. Only `ES256` is accepted: a token whose header
//! names another algorithm (including `none`) fails before any key is looked at.

use crate::{AuthError, Principal, PrincipalKind};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const ALGORITHM: &str = "ES256";
/// Clock skew tolerated between the issuer and verifiers.
pub const LEEWAY_SECONDS: u64 = 30;

/// The payload of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub kind: PrincipalKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub perms: Vec<String>,
}

impl AccessClaims {
    pub fn into_principal(self) -> Principal {
        Principal {
            subject: self.sub,
            kind: self.kind,
            email: self.email,
            roles: self.roles,
            permissions: self.perms.into_iter().collect(),
        }
    }
}

/// A private signing key and its public half, as stored by identity.
#[derive(Clone)]
pub struct SigningKeyMaterial {
    pub kid: String,
    /// PKCS#8 PEM of the P-256 private key.
    pub private_pem: String,
    pub public: Jwk,
}

impl std::fmt::Debug for SigningKeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyMaterial")
            .field("kid", &self.kid)
            .field("private_pem", &"***")
            .finish()
    }
}

impl SigningKeyMaterial {
    /// A fresh P-256 key pair with a new key id.
    pub fn generate() -> Result<Self, AuthError> {
        let signing_key = SigningKey::random(&mut rand::rngs::OsRng);
        let kid = format!("k{}", uuid::Uuid::now_v7().simple());
        let private_pem = signing_key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| AuthError::Unavailable(format!("encoding signing key: {e}")))?
            .to_string();
        let public = public_jwk(&signing_key, &kid)?;
        Ok(SigningKeyMaterial {
            kid,
            private_pem,
            public,
        })
    }

    /// Rebuilds the material from a stored PEM, deriving the public key again.
    pub fn from_pem(kid: &str, private_pem: &str) -> Result<Self, AuthError> {
        let signing_key = SigningKey::from_pkcs8_pem(private_pem)
            .map_err(|e| AuthError::Unavailable(format!("stored signing key `{kid}`: {e}")))?;
        Ok(SigningKeyMaterial {
            kid: kid.to_owned(),
            private_pem: private_pem.to_owned(),
            public: public_jwk(&signing_key, kid)?,
        })
    }

    /// Signs `claims` with this key, putting its key id in the header.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, AuthError> {
        let key = EncodingKey::from_ec_pem(self.private_pem.as_bytes())
            .map_err(|e| AuthError::Unavailable(format!("loading signing key: {e}")))?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &key)
            .map_err(|e| AuthError::Unavailable(format!("signing token: {e}")))
    }
}

fn public_jwk(signing_key: &SigningKey, kid: &str) -> Result<Jwk, AuthError> {
    let point = signing_key.verifying_key().to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(AuthError::Unavailable(
            "public key has no coordinates".into(),
        ));
    };
    Ok(Jwk {
        kty: "EC".into(),
        crv: "P-256".into(),
        x: URL_SAFE_NO_PAD.encode(x),
        y: URL_SAFE_NO_PAD.encode(y),
        kid: kid.to_owned(),
        alg: ALGORITHM.into(),
        key_use: "sig".into(),
    })
}

/// One public key in JWK form (RFC 7517), as published at `/.well-known/jwks.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub key_use: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// Public keys by key id, with the issuer and audience every token must name.
#[derive(Clone)]
pub struct VerificationKeys {
    keys: HashMap<String, DecodingKey>,
    issuer: String,
    audience: String,
}

impl VerificationKeys {
    /// Keys from a JWKS document; entries that are not P-256 ES256 keys are skipped.
    pub fn from_jwks(jwks: &JwkSet, issuer: &str, audience: &str) -> Self {
        let keys = jwks
            .keys
            .iter()
            .filter(|jwk| jwk.kty == "EC" && jwk.crv == "P-256" && jwk.alg == ALGORITHM)
            .filter_map(|jwk| {
                DecodingKey::from_ec_components(&jwk.x, &jwk.y)
                    .ok()
                    .map(|key| (jwk.kid.clone(), key))
            })
            .collect();
        VerificationKeys {
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        }
    }

    pub fn knows(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// Verifies signature, algorithm, issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| AuthError::TokenInvalid(format!("unreadable header: {e}")))?;
        if header.alg != Algorithm::ES256 {
            return Err(AuthError::TokenInvalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::TokenInvalid("no key id in header".into()))?;
        let key = self
            .keys
            .get(&kid)
            .ok_or_else(|| AuthError::UnknownSigningKey(kid.clone()))?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<AccessClaims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::TokenExpired,
                other => AuthError::TokenInvalid(format!("{other:?}")),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp_offset: i64) -> AccessClaims {
        let now = chrono::Utc::now().timestamp();
        AccessClaims {
            iss: "looma".into(),
            sub: "user-1".into(),
            aud: "looma-api".into(),
            exp: now + exp_offset,
            iat: now,
            jti: "j1".into(),
            kind: PrincipalKind::User,
            email: Some("a@b.c".into()),
            roles: vec!["admin".into()],
            perms: vec!["user:read".into()],
        }
    }

    fn keys_for(material: &SigningKeyMaterial) -> VerificationKeys {
        let jwks = JwkSet {
            keys: vec![material.public.clone()],
        };
        VerificationKeys::from_jwks(&jwks, "looma", "looma-api")
    }

    #[test]
    fn signed_token_verifies_and_survives_pem_round_trip() {
        let material = SigningKeyMaterial::generate().unwrap();
        let reloaded = SigningKeyMaterial::from_pem(&material.kid, &material.private_pem).unwrap();
        assert_eq!(reloaded.public, material.public);
        let token = reloaded.sign(&claims(600)).unwrap();
        let verified = keys_for(&material).verify(&token).unwrap();
        assert_eq!(verified, claims_with_same_times(&verified));
        assert_eq!(verified.sub, "user-1");
    }

    fn claims_with_same_times(verified: &AccessClaims) -> AccessClaims {
        let mut expected = claims(600);
        expected.exp = verified.exp;
        expected.iat = verified.iat;
        expected
    }

    #[test]
    fn expired_tampered_and_unsigned_tokens_fail() {
        let material = SigningKeyMaterial::generate().unwrap();
        let keys = keys_for(&material);

        let expired = material.sign(&claims(-3600)).unwrap();
        assert_eq!(keys.verify(&expired), Err(AuthError::TokenExpired));

        let token = material.sign(&claims(600)).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        payload["perms"] = serde_json::json!(["user:read", "user:write"]);
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
        let tampered = parts.join(".");
        assert!(matches!(
            keys.verify(&tampered),
            Err(AuthError::TokenInvalid(_))
        ));

        let none_header = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"alg": "none", "typ": "JWT", "kid": material.kid}).to_string(),
        );
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(matches!(
            keys.verify(&unsigned),
            Err(AuthError::TokenInvalid(_))
        ));

        let other = SigningKeyMaterial::generate().unwrap();
        let foreign = other.sign(&claims(600)).unwrap();
        assert_eq!(
            keys.verify(&foreign),
            Err(AuthError::UnknownSigningKey(other.kid.clone()))
        );
    }
}
