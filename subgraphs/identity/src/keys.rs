//! The key ring: identity's signing keys, kept in the database so they survive restarts and
//! are shared by replicas.
//!
//! One key is active (it signs); retired keys stay published in the JWKS until every token
//! they signed has expired, so rotation never invalidates a live session.

use crate::IdentityError;
use crate::store::{IdentityStore, KEY_ACTIVE, SigningKeyRow};
use chrono::{DateTime, Duration, Utc};
use looma_auth::token::{self, AccessClaims, JwkSet, SigningKeyMaterial, VerificationKeys};
use std::sync::{Arc, RwLock};

struct Ring {
    signer: SigningKeyMaterial,
    verification: VerificationKeys,
    jwks: JwkSet,
}

#[derive(Clone)]
pub struct KeyRing {
    store: IdentityStore,
    issuer: String,
    audience: String,
    /// How long a retired key stays published: the access-token lifetime plus clock leeway.
    retention: Duration,
    ring: Arc<RwLock<Ring>>,
}

impl KeyRing {
    /// Loads the keys, creating the first one on a fresh database.
    pub async fn load(
        store: IdentityStore,
        issuer: &str,
        audience: &str,
        retention: Duration,
    ) -> Result<Self, IdentityError> {
        let mut rows = store.signing_keys().await?;
        if !rows.iter().any(|row| row.status == KEY_ACTIVE) {
            store.activate_signing_key(new_key_row()?).await?;
            rows = store.signing_keys().await?;
        }
        let ring = build_ring(&rows, issuer, audience, retention, Utc::now())?;
        Ok(KeyRing {
            store,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            retention,
            ring: Arc::new(RwLock::new(ring)),
        })
    }

    /// Re-reads the keys from the database (another replica may have rotated).
    pub async fn reload(&self) -> Result<(), IdentityError> {
        let rows = self.store.signing_keys().await?;
        let ring = build_ring(
            &rows,
            &self.issuer,
            &self.audience,
            self.retention,
            Utc::now(),
        )?;
        self.replace(ring);
        Ok(())
    }

    /// Makes a new key active; the old one keeps verifying until its tokens expire.
    pub async fn rotate(&self) -> Result<String, IdentityError> {
        let row = new_key_row()?;
        let kid = row.kid.clone();
        self.store.activate_signing_key(row).await?;
        self.reload().await?;
        Ok(kid)
    }

    fn replace(&self, ring: Ring) {
        match self.ring.write() {
            Ok(mut guard) => *guard = ring,
            Err(poisoned) => *poisoned.into_inner() = ring,
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Ring) -> T) -> T {
        match self.ring.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    pub fn sign(&self, claims: &AccessClaims) -> Result<String, IdentityError> {
        self.read(|ring| ring.signer.sign(claims))
            .map_err(IdentityError::from)
    }

    pub fn active_kid(&self) -> String {
        self.read(|ring| ring.signer.kid.clone())
    }

    pub fn jwks(&self) -> JwkSet {
        self.read(|ring| ring.jwks.clone())
    }

    /// Verifies an access token, re-reading the keys once if it names a key we do not know.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, IdentityError> {
        let first = self.read(|ring| ring.verification.verify(token));
        match first {
            Err(looma_auth::AuthError::UnknownSigningKey(_)) => {
                self.reload().await?;
                Ok(self.read(|ring| ring.verification.verify(token))?)
            }
            other => Ok(other?),
        }
    }
}

fn new_key_row() -> Result<SigningKeyRow, IdentityError> {
    let material = SigningKeyMaterial::generate()?;
    Ok(SigningKeyRow {
        kid: material.kid,
        algorithm: token::ALGORITHM.to_owned(),
        private_key_pem: material.private_pem,
        status: KEY_ACTIVE.to_owned(),
        created_at: Utc::now(),
        retired_at: None,
    })
}

fn build_ring(
    rows: &[SigningKeyRow],
    issuer: &str,
    audience: &str,
    retention: Duration,
    now: DateTime<Utc>,
) -> Result<Ring, IdentityError> {
    let published: Vec<&SigningKeyRow> = rows
        .iter()
        .filter(|row| {
            row.status == KEY_ACTIVE || row.retired_at.is_some_and(|at| at + retention > now)
        })
        .collect();
    let signer_row = published
        .iter()
        .filter(|row| row.status == KEY_ACTIVE)
        .max_by_key(|row| row.created_at)
        .ok_or_else(|| IdentityError::Internal("no active signing key".into()))?;
    let signer = SigningKeyMaterial::from_pem(&signer_row.kid, &signer_row.private_key_pem)?;
    let mut keys = Vec::with_capacity(published.len());
    for row in &published {
        keys.push(SigningKeyMaterial::from_pem(&row.kid, &row.private_key_pem)?.public);
    }
    let jwks = JwkSet { keys };
    Ok(Ring {
        verification: VerificationKeys::from_jwks(&jwks, issuer, audience),
        signer,
        jwks,
    })
}
