//! Credentials revoked before they expire: access tokens of disabled (or re-enabled) accounts
//! and revoked API keys.
//!
//! Identity publishes a [`RevocationList`] at [`REVOCATIONS_PATH`]; every verifier (identity's
//! own, and `looma-server`'s `RemoteVerifier` in the router and the other subgraphs) holds it as
//! a [`RevocationIndex`] and consults it on every request: hash lookups, no I/O. Subjects are
//! published as SHA-256 digests, so the public list does not enumerate account or key ids; a
//! verifier hashes the subject it already holds.

use crate::{AuthError, token::AccessClaims};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

/// Where identity serves the list, next to `/.well-known/jwks.json`. Verifiers send the
/// version they hold as `If-None-Match: "<version>"` and get `304 Not Modified` when nothing
/// changed.
pub const REVOCATIONS_PATH: &str = "/revocations";

/// What identity publishes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevocationList {
    /// Grows with every revocation and never goes back, so a verifier keeps the newest list it
    /// has seen (identity replicas may lag each other by a reload interval).
    pub version: i64,
    #[serde(default)]
    pub users: Vec<RevokedUser>,
    /// [`subject_digest`]s of revoked API key ids.
    #[serde(default)]
    pub api_keys: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokedUser {
    /// [`subject_digest`] of the user id.
    pub subject: String,
    /// Access tokens issued (`iat`) before this Unix time are refused (the account was
    /// re-enabled; identity dates the tokens it issues afterwards no earlier); `None` refuses
    /// all of them (the account is disabled).
    pub issued_before: Option<i64>,
}

/// SHA-256 (lowercase hex) of a user or API key id, as the list names them.
pub fn subject_digest(subject: &str) -> String {
    Sha256::digest(subject.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A [`RevocationList`] ready for per-request checks.
#[derive(Clone, Debug, Default)]
pub struct RevocationIndex {
    version: i64,
    users: HashMap<String, Option<i64>>,
    api_keys: HashSet<String>,
}

impl RevocationIndex {
    pub fn new(list: &RevocationList) -> Self {
        RevocationIndex {
            version: list.version,
            users: list
                .users
                .iter()
                .map(|user| (user.subject.clone(), user.issued_before))
                .collect(),
            api_keys: list.api_keys.iter().cloned().collect(),
        }
    }

    pub fn version(&self) -> i64 {
        self.version
    }

    /// `Err(TokenRevoked)` when the token's subject was disabled, or re-enabled after the
    /// token was issued.
    pub fn check_token(&self, claims: &AccessClaims) -> Result<(), AuthError> {
        if self.users.is_empty() {
            return Ok(());
        }
        match self.users.get(&subject_digest(&claims.sub)) {
            Some(None) => Err(AuthError::TokenRevoked),
            Some(Some(issued_before)) if claims.iat < *issued_before => {
                Err(AuthError::TokenRevoked)
            }
            _ => Ok(()),
        }
    }

    /// Whether the API key with this id was revoked.
    pub fn api_key_revoked(&self, key_id: &str) -> bool {
        !self.api_keys.is_empty() && self.api_keys.contains(&subject_digest(key_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrincipalKind;

    fn claims(sub: &str, iat: i64) -> AccessClaims {
        AccessClaims {
            iss: "looma".into(),
            sub: sub.into(),
            aud: "looma".into(),
            exp: iat + 900,
            iat,
            jti: "j".into(),
            kind: PrincipalKind::User,
            email: None,
            roles: vec![],
            perms: vec![],
        }
    }

    #[test]
    fn disabled_users_lose_every_token_and_re_enabled_users_only_old_ones() {
        let list = RevocationList {
            version: 3,
            users: vec![
                RevokedUser {
                    subject: subject_digest("disabled"),
                    issued_before: None,
                },
                RevokedUser {
                    subject: subject_digest("re-enabled"),
                    issued_before: Some(1_000),
                },
            ],
            api_keys: vec![subject_digest("key-1")],
        };
        let index = RevocationIndex::new(&list);
        assert_eq!(index.version(), 3);
        assert_eq!(
            index.check_token(&claims("disabled", 5_000)),
            Err(AuthError::TokenRevoked)
        );
        assert_eq!(
            index.check_token(&claims("re-enabled", 999)),
            Err(AuthError::TokenRevoked)
        );
        assert_eq!(index.check_token(&claims("re-enabled", 1_000)), Ok(()));
        assert_eq!(index.check_token(&claims("someone", 1)), Ok(()));
        assert!(index.api_key_revoked("key-1"));
        assert!(!index.api_key_revoked("key-2"));
    }

    #[test]
    fn the_wire_format_is_camel_case_and_tolerates_missing_lists() {
        let list: RevocationList = serde_json::from_str(r#"{"version": 7}"#).unwrap();
        assert_eq!(list.version, 7);
        let json = serde_json::to_value(RevocationList {
            version: 1,
            users: vec![RevokedUser {
                subject: "s".into(),
                issued_before: Some(2),
            }],
            api_keys: vec![],
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"version": 1, "users": [{"subject": "s", "issuedBefore": 2}], "apiKeys": []})
        );
    }
}
