//! The revocation list: access tokens of users who were disabled (or re-enabled: their older
//! tokens stay refused) and revoked API keys, published at `GET /revocations` for every
//! verifier and checked by identity's own.
//!
//! Rows live in `identity_revocations`, so replicas and restarts share them. Each replica holds
//! the live ones in memory, rebuilt right after it writes one and otherwise re-read every
//! `identity.revocation_reload_ms` when the newest sequence number changed (or a row expired).
//! A row expires once every credential it concerns has expired by itself.

use crate::IdentityError;
use crate::store::{IdentityStore, REVOKED_API_KEY, REVOKED_USER, RevocationRow};
use chrono::{DateTime, Duration, Utc};
use looma_auth::revocation::{RevocationIndex, RevocationList, RevokedUser, subject_digest};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// One consistent view: the list as served and the index requests are checked against.
pub struct Published {
    pub list: RevocationList,
    pub index: RevocationIndex,
    /// The earliest `expires_at` among the rows, when the view must be rebuilt without them.
    next_expiry: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct Revocations {
    store: IdentityStore,
    /// How long a row is published: the access-token lifetime, clock leeway and a minute for
    /// a login that was already past its status check when the account was disabled.
    retention: Duration,
    published: Arc<RwLock<Arc<Published>>>,
}

impl Revocations {
    pub async fn load(store: IdentityStore, retention: Duration) -> Result<Self, IdentityError> {
        let revocations = Revocations {
            store,
            retention,
            published: Arc::new(RwLock::new(Arc::new(build(0, &[])))),
        };
        revocations.rebuild().await?;
        Ok(revocations)
    }

    pub fn current(&self) -> Arc<Published> {
        match self.published.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Refuses the user's access tokens: all of them (`issued_before: None`, the account was
    /// disabled) or those issued before a Unix time (it was re-enabled).
    pub async fn revoke_user_tokens(
        &self,
        user_id: &str,
        issued_before: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        self.store
            .insert_revocation(
                REVOKED_USER,
                user_id,
                issued_before,
                now,
                now + self.retention,
            )
            .await?;
        self.rebuild().await
    }

    pub async fn revoke_api_key(
        &self,
        key_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        self.store
            .insert_revocation(REVOKED_API_KEY, key_id, None, now, now + self.retention)
            .await?;
        self.rebuild().await
    }

    /// Picks up other replicas' revocations and drops expired rows; cheap when nothing
    /// changed (one `MAX`-style query).
    pub async fn reload(&self) -> Result<(), IdentityError> {
        let held = self.current();
        let expired = held.next_expiry.is_some_and(|at| at <= Utc::now());
        if expired || self.store.revocation_version().await? != held.list.version {
            self.rebuild().await?;
        }
        Ok(())
    }

    async fn rebuild(&self) -> Result<(), IdentityError> {
        // Version first: rows written in between make the view newer than its version, and
        // the next reload sees the version move and rebuilds again.
        let version = self.store.revocation_version().await?;
        let rows = self.store.live_revocations(Utc::now()).await?;
        let published = Arc::new(build(version, &rows));
        let mut guard = match self.published.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        // A concurrent rebuild may have finished with a newer version first.
        if published.list.version >= guard.list.version {
            *guard = published;
        }
        Ok(())
    }
}

/// The newest row per subject wins (`rows` are oldest first).
fn build(version: i64, rows: &[RevocationRow]) -> Published {
    let mut users = BTreeMap::new();
    let mut api_keys = BTreeMap::new();
    for row in rows {
        let digest = subject_digest(&row.subject);
        match row.kind.as_str() {
            REVOKED_USER => {
                users.insert(digest, row.issued_before);
            }
            REVOKED_API_KEY => {
                api_keys.insert(digest, ());
            }
            _ => {}
        }
    }
    let list = RevocationList {
        version,
        users: users
            .into_iter()
            .map(|(subject, issued_before)| RevokedUser {
                subject,
                issued_before,
            })
            .collect(),
        api_keys: api_keys.into_keys().collect(),
    };
    Published {
        index: RevocationIndex::new(&list),
        next_expiry: rows.iter().map(|row| row.expires_at).min(),
        list,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use looma_auth::PrincipalKind;
    use looma_auth::token::AccessClaims;

    fn row(seq: i64, kind: &str, subject: &str, issued_before: Option<i64>) -> RevocationRow {
        let now = Utc::now();
        RevocationRow {
            seq,
            kind: kind.into(),
            subject: subject.into(),
            issued_before,
            created_at: now,
            expires_at: now + Duration::seconds(seq),
        }
    }

    fn token_of(sub: &str, iat: i64) -> AccessClaims {
        AccessClaims {
            iss: "i".into(),
            sub: sub.into(),
            aud: "a".into(),
            exp: iat + 60,
            iat,
            jti: "j".into(),
            kind: PrincipalKind::User,
            email: None,
            roles: vec![],
            perms: vec![],
        }
    }

    #[test]
    fn the_newest_row_per_subject_wins() {
        let rows = [
            row(1, REVOKED_USER, "u1", None),
            row(2, REVOKED_API_KEY, "k1", None),
            row(3, REVOKED_USER, "u1", Some(500)),
            row(4, REVOKED_USER, "u2", None),
        ];
        let published = build(4, &rows);
        assert_eq!(published.list.version, 4);
        assert_eq!(published.list.users.len(), 2);
        assert!(published.index.check_token(&token_of("u1", 499)).is_err());
        assert!(
            published.index.check_token(&token_of("u1", 500)).is_ok(),
            "re-enabled: new tokens work"
        );
        assert!(
            published
                .index
                .check_token(&token_of("u2", 4_000_000_000))
                .is_err()
        );
        assert!(published.index.api_key_revoked("k1"));
        assert_eq!(published.next_expiry, Some(rows[0].expires_at));
        let serialized = serde_json::to_string(&published.list).unwrap();
        assert!(
            !serialized.contains("u1") && !serialized.contains("k1"),
            "ids are published as digests: {serialized}"
        );
    }
}
