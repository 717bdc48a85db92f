//! Identity's use cases: each public method is one thing a caller can ask for (log in, create
//! a user, change a setting), composed from the pure rules in `domain/` and the queries in
//! `store.rs`. Authorization is the schema's job; this layer trusts its caller's permission
//! checks but enforces the rules that depend on data (no privilege escalation, no reuse of a
//! refresh token).

use crate::IdentityError;
use crate::config::IdentityConfig;
use crate::domain::settings::{self, ValueChange};
use crate::domain::{credentials, password, validate};
use crate::keys::KeyRing;
use crate::revocations::Revocations;
use crate::store::{
    self, ApiKeyRow, ConfigVersionRow, IdentityStore, RefreshTokenRow, RoleRow, UserRow,
};
use chrono::{DateTime, Duration, Utc};
use looma_auth::token::{AccessClaims, JwkSet};
use looma_auth::{AuthError, CredentialVerifier, Principal, PrincipalKind, permission};
use looma_cache::{Cache, LocalCache};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A user with their role names.
#[derive(Clone, Debug)]
pub struct UserRecord {
    pub row: UserRow,
    pub roles: Vec<String>,
}

pub struct NewUser {
    pub email: String,
    pub password: String,
    pub display_name: String,
    pub roles: Vec<String>,
}

/// What a successful login or refresh returns.
pub struct TokenGrant {
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub user: UserRecord,
}

/// A stored value of a setting at one version; version 0 is the built-in default.
#[derive(Clone, Debug)]
pub struct ConfigEntry {
    pub key: String,
    pub version: i32,
    pub value: Value,
    pub author: Option<String>,
    pub comment: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

pub struct FeatureFlag {
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub version: i32,
}

/// A precomputed argon2 hash of a random password, verified against when an email is
/// unknown so that login takes as long for unknown emails as for wrong passwords.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    password::hash(&credentials::new_refresh_token().plaintext).unwrap_or_default()
});

#[derive(Clone)]
pub struct IdentityService {
    inner: Arc<Inner>,
}

struct Inner {
    store: IdentityStore,
    keys: KeyRing,
    revocations: Revocations,
    cache: Arc<dyn Cache>,
    /// Counts login attempts while the shared cache is unreachable, so throttling degrades
    /// to per-process instead of switching off.
    fallback_attempts: LocalCache,
    /// Whether the last use of the shared cache for throttling failed, so an outage is
    /// logged when it starts and ends, not on every attempt.
    throttle_degraded: AtomicBool,
    config: IdentityConfig,
}

/// Memory for the in-process fallback counters (a couple of hundred bytes per email).
const FALLBACK_THROTTLE_BYTES: u64 = 16 * 1024 * 1024;
/// A revocation is published a minute longer than the tokens it concerns can live, for a
/// login that had already passed its status check when the account was disabled.
const REVOCATION_MARGIN_SECS: i64 = 60;

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl IdentityService {
    /// Seeds the built-in roles and loads (or creates) the signing keys.
    pub async fn start(
        store: IdentityStore,
        cache: Arc<dyn Cache>,
        config: IdentityConfig,
    ) -> Result<Self, IdentityError> {
        for role in permission::BUILTIN_ROLES {
            let permissions: Vec<String> = role.permissions.iter().map(|p| p.to_string()).collect();
            store
                .upsert_builtin_role(role.name, role.description, &permissions, now())
                .await?;
        }
        let retention = Duration::seconds(
            (config.access_token_ttl_secs + looma_auth::token::LEEWAY_SECONDS) as i64,
        );
        let keys =
            KeyRing::load(store.clone(), &config.issuer, &config.audience, retention).await?;
        let revocations = Revocations::load(
            store.clone(),
            retention + Duration::seconds(REVOCATION_MARGIN_SECS),
        )
        .await?;
        Ok(IdentityService {
            inner: Arc::new(Inner {
                store,
                keys,
                revocations,
                cache,
                fallback_attempts: LocalCache::new("identity-fallback:", FALLBACK_THROTTLE_BYTES),
                throttle_degraded: AtomicBool::new(false),
                config,
            }),
        })
    }

    pub fn store(&self) -> &IdentityStore {
        &self.inner.store
    }

    pub fn config(&self) -> &IdentityConfig {
        &self.inner.config
    }

    pub fn keys(&self) -> &KeyRing {
        &self.inner.keys
    }

    /// Revoked tokens and API keys, as published at `GET /revocations`.
    pub fn revocations(&self) -> &Revocations {
        &self.inner.revocations
    }

    /// Re-reads the revocation list every `every` (other replicas' revocations, expired
    /// rows) until the service is dropped.
    pub fn spawn_revocation_reloader(&self, every: std::time::Duration) {
        let service = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            let mut failing = false;
            loop {
                ticker.tick().await;
                let Some(inner) = service.upgrade() else {
                    return;
                };
                match inner.revocations.reload().await {
                    Ok(()) => failing = false,
                    Err(error) if !failing => {
                        failing = true;
                        tracing::warn!(%error, "could not reload the revocation list");
                    }
                    Err(_) => {}
                }
            }
        });
    }

    pub fn jwks(&self) -> JwkSet {
        self.inner.keys.jwks()
    }

    pub async fn ping_cache(&self) -> Result<(), String> {
        self.inner.cache.ping().await.map_err(|e| e.to_string())
    }

    // ---- users -------------------------------------------------------------------------

    /// Validates everything before writing anything.
    pub async fn create_user(&self, input: NewUser) -> Result<UserRecord, IdentityError> {
        let email = validate::normalize_email(&input.email)?;
        let display_name = validate::normalize_display_name(&input.display_name)?;
        password::check_strength(&input.password, &email)?;
        let roles = self.known_roles(&input.roles).await?;
        if self.inner.store.user_by_email(&email).await?.is_some() {
            return Err(IdentityError::DuplicateEmail(email));
        }
        let password_hash = hash_password(input.password).await?;
        let at = now();
        let row = self
            .inner
            .store
            .insert_user(
                UserRow {
                    id: new_id(),
                    email,
                    display_name,
                    password_hash,
                    status: store::STATUS_ACTIVE.to_owned(),
                    created_at: at,
                    updated_at: at,
                },
                &roles,
            )
            .await?;
        Ok(UserRecord { row, roles })
    }

    /// Role names, de-duplicated and sorted, each of which must exist.
    async fn known_roles(&self, requested: &[String]) -> Result<Vec<String>, IdentityError> {
        let existing: BTreeSet<String> = self
            .inner
            .store
            .all_roles()
            .await?
            .into_iter()
            .map(|role| role.name)
            .collect();
        let mut roles = BTreeSet::new();
        for role in requested {
            let role = role.trim();
            if !existing.contains(role) {
                return Err(IdentityError::UnknownRole(role.to_owned()));
            }
            roles.insert(role.to_owned());
        }
        Ok(roles.into_iter().collect())
    }

    pub async fn user(&self, id: &str) -> Result<Option<UserRecord>, IdentityError> {
        let Some(row) = self.inner.store.user_by_id(id).await? else {
            return Ok(None);
        };
        let roles = self
            .inner
            .store
            .roles_of_users(std::slice::from_ref(&row.id))
            .await?
            .remove(&row.id)
            .unwrap_or_default();
        Ok(Some(UserRecord { row, roles }))
    }

    /// Users by id in two queries, whatever the number of ids.
    pub async fn users_by_ids(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, UserRecord>, IdentityError> {
        let rows = self.inner.store.users_by_ids(ids).await?;
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        let mut roles = self.inner.store.roles_of_users(&ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let user_roles = roles.remove(&row.id).unwrap_or_default();
                (
                    row.id.clone(),
                    UserRecord {
                        row,
                        roles: user_roles,
                    },
                )
            })
            .collect())
    }

    /// Up to `limit` users in creation order after the user id `after` (the caller asks for one
    /// more than it shows to learn whether there is a next page).
    pub async fn list_users(
        &self,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<UserRecord>, IdentityError> {
        let rows = self.inner.store.list_users(after, limit).await?;
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        let mut roles = self.inner.store.roles_of_users(&ids).await?;
        let users = rows
            .into_iter()
            .map(|row| {
                let user_roles = roles.remove(&row.id).unwrap_or_default();
                UserRecord {
                    row,
                    roles: user_roles,
                }
            })
            .collect();
        Ok(users)
    }

    async fn existing_user(&self, id: &str) -> Result<UserRecord, IdentityError> {
        self.user(id)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("user `{id}`")))
    }

    /// Disabling revokes every refresh token of the user and publishes the revocation of
    /// their access tokens, which every verifier refuses within seconds. Re-enabling keeps the
    /// tokens issued before it refused; new logins work.
    pub async fn set_user_status(
        &self,
        actor: &Principal,
        id: &str,
        enabled: bool,
    ) -> Result<UserRecord, IdentityError> {
        let before = self.existing_user(id).await?;
        if !enabled && actor.kind == PrincipalKind::User && actor.subject == id {
            return Err(IdentityError::invalid(
                "id",
                "you cannot disable your own account",
            ));
        }
        let status = if enabled {
            store::STATUS_ACTIVE
        } else {
            store::STATUS_DISABLED
        };
        let at = now();
        self.inner.store.set_user_status(id, status, at).await?;
        if !enabled {
            self.inner.store.revoke_user_refresh_tokens(id, at).await?;
            self.inner
                .revocations
                .revoke_user_tokens(id, None, at)
                .await?;
        } else if before.row.status != store::STATUS_ACTIVE {
            // Every token issued up to this second stays refused; `grant` dates new ones
            // after it. An account that was active keeps its sessions.
            self.inner
                .revocations
                .revoke_user_tokens(id, Some(at.timestamp() + 1), at)
                .await?;
        }
        self.existing_user(id).await
    }

    pub async fn set_user_roles(
        &self,
        id: &str,
        roles: &[String],
    ) -> Result<UserRecord, IdentityError> {
        let roles = self.known_roles(roles).await?;
        self.existing_user(id).await?;
        self.inner
            .store
            .replace_user_roles(id, &roles, now())
            .await?;
        self.existing_user(id).await
    }

    pub async fn change_password(
        &self,
        user_id: &str,
        current: &str,
        new_password: String,
    ) -> Result<(), IdentityError> {
        let user = self.existing_user(user_id).await?;
        // The current password is guessed through here as through `login`: same budget.
        self.reserve_login_attempt(&user.row.email).await?;
        if !verify_password(current.to_owned(), user.row.password_hash.clone()).await? {
            return Err(IdentityError::InvalidCredentials);
        }
        self.clear_login_attempts(&user.row.email).await;
        password::check_strength(&new_password, &user.row.email)?;
        let hash = hash_password(new_password).await?;
        let at = now();
        self.inner
            .store
            .set_password_hash(user_id, &hash, at)
            .await?;
        self.inner
            .store
            .revoke_user_refresh_tokens(user_id, at)
            .await?;
        Ok(())
    }

    // ---- roles -------------------------------------------------------------------------

    pub async fn roles(&self) -> Result<Vec<RoleRow>, IdentityError> {
        self.inner.store.all_roles().await
    }

    pub async fn create_role(
        &self,
        name: &str,
        description: &str,
        permissions: &[String],
    ) -> Result<RoleRow, IdentityError> {
        validate::validate_role_name(name)?;
        validate::validate_permissions(permissions)?;
        let permissions: Vec<String> = permissions
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        self.inner
            .store
            .insert_role(IdentityStore::role_row(
                name,
                description.trim(),
                &permissions,
                now(),
            ))
            .await
    }

    /// The union of the permissions of `roles`.
    pub async fn permissions_of(&self, roles: &[String]) -> Result<Vec<String>, IdentityError> {
        let all = self.inner.store.all_roles().await?;
        let mut permissions = BTreeSet::new();
        for role in all.iter().filter(|role| roles.contains(&role.name)) {
            permissions.extend(store::permissions_from_json(&role.permissions));
        }
        Ok(permissions.into_iter().collect())
    }

    // ---- sessions ----------------------------------------------------------------------

    fn attempts_key(email: &str) -> String {
        format!("identity:login-attempts:{}", credentials::digest(email))
    }

    /// Takes one of the `login_max_failures` password checks an email gets per
    /// `login_failure_window_secs`, before the password is checked, so concurrent attempts
    /// cannot all pass a read-then-check. The counter is the shared cache's (one budget across
    /// replicas); while that is unreachable, an in-process counter stands in (a budget per
    /// process), never no limit at all.
    async fn reserve_login_attempt(&self, email: &str) -> Result<(), IdentityError> {
        let key = Self::attempts_key(email);
        let window = std::time::Duration::from_secs(self.inner.config.login_failure_window_secs);
        let attempts = match self.inner.cache.increment(&key, window).await {
            Ok(attempts) => {
                if self.inner.throttle_degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("login throttle: shared cache reachable again");
                }
                attempts
            }
            Err(error) => {
                if !self.inner.throttle_degraded.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        %error,
                        "login throttle: shared cache unavailable; counting in process until it is back"
                    );
                }
                self.inner
                    .fallback_attempts
                    .increment(&key, window)
                    .await
                    .unwrap_or(u64::MAX)
            }
        };
        if attempts > self.inner.config.login_max_failures {
            return Err(IdentityError::TooManyAttempts);
        }
        Ok(())
    }

    /// A successful login gives the email its whole budget back: only failures accumulate
    /// (an attacker gains a new budget only when the owner signs in). Once the budget is
    /// spent, even the right password waits out the window, since it is never checked.
    async fn clear_login_attempts(&self, email: &str) {
        let key = Self::attempts_key(email);
        if let Err(error) = self.inner.cache.delete(&key).await
            && !self.inner.throttle_degraded.load(Ordering::Relaxed)
        {
            tracing::warn!(%error, "login throttle: could not reset the attempt counter");
        }
        let _ = self.inner.fallback_attempts.delete(&key).await;
    }

    /// Email + password → tokens. Unknown email and wrong password are indistinguishable;
    /// a disabled account is reported only to someone who knows its password.
    pub async fn login(&self, email: &str, password: &str) -> Result<TokenGrant, IdentityError> {
        let email =
            validate::normalize_email(email).map_err(|_| IdentityError::InvalidCredentials)?;
        self.reserve_login_attempt(&email).await?;
        let user = self.inner.store.user_by_email(&email).await?;
        let stored_hash = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| DUMMY_HASH.clone());
        let matches = verify_password(password.to_owned(), stored_hash).await?;
        let Some(user) = user.filter(|_| matches) else {
            return Err(IdentityError::InvalidCredentials);
        };
        if user.status != store::STATUS_ACTIVE {
            return Err(IdentityError::AccountDisabled);
        }
        let record = self.existing_user(&user.id).await?;
        let grant = self.grant(record, new_id()).await?;
        self.clear_login_attempts(&email).await;
        Ok(grant)
    }

    /// Rotates a refresh token: the presented one is spent and a new one of the same family
    /// issued. Presenting a spent token means it leaked (or a client misbehaves): the whole
    /// family is revoked.
    pub async fn refresh(&self, presented: &str) -> Result<TokenGrant, IdentityError> {
        let at = now();
        let Some(token) = self
            .inner
            .store
            .refresh_token_by_hash(&credentials::digest(presented.trim()))
            .await?
        else {
            return Err(IdentityError::RefreshTokenInvalid);
        };
        if token.revoked_at.is_some() {
            return Err(IdentityError::RefreshTokenInvalid);
        }
        if token.used_at.is_some() || !self.inner.store.claim_refresh_token(&token.id, at).await? {
            let revoked = self
                .inner
                .store
                .revoke_refresh_family(&token.family_id, at)
                .await?;
            tracing::warn!(
                family = %token.family_id,
                user = %token.user_id,
                revoked,
                "refresh token reuse detected; family revoked"
            );
            return Err(IdentityError::RefreshTokenReused);
        }
        if token.expires_at <= at {
            return Err(IdentityError::RefreshTokenInvalid);
        }
        let user = self.existing_user(&token.user_id).await?;
        if user.row.status != store::STATUS_ACTIVE {
            self.inner
                .store
                .revoke_refresh_family(&token.family_id, at)
                .await?;
            return Err(IdentityError::AccountDisabled);
        }
        self.grant(user, token.family_id).await
    }

    /// Revokes the session the refresh token belongs to. Unknown tokens are not an error:
    /// logging out twice is fine.
    pub async fn logout(&self, presented: &str) -> Result<(), IdentityError> {
        if let Some(token) = self
            .inner
            .store
            .refresh_token_by_hash(&credentials::digest(presented.trim()))
            .await?
        {
            self.inner
                .store
                .revoke_refresh_family(&token.family_id, now())
                .await?;
        }
        Ok(())
    }

    async fn grant(
        &self,
        user: UserRecord,
        family_id: String,
    ) -> Result<TokenGrant, IdentityError> {
        let at = now();
        let config = &self.inner.config;
        let access_expires_at = at + Duration::seconds(config.access_token_ttl_secs as i64);
        // `iat` has a resolution of one second: a user re-enabled this second has a cutoff
        // of the next one, which their new tokens must not fall before.
        let cutoff = self.inner.store.user_token_cutoff(&user.row.id, at).await?;
        let claims = AccessClaims {
            iss: config.issuer.clone(),
            sub: user.row.id.clone(),
            aud: config.audience.clone(),
            exp: access_expires_at.timestamp(),
            iat: cutoff.map_or(at.timestamp(), |cutoff| cutoff.max(at.timestamp())),
            jti: new_id(),
            kind: PrincipalKind::User,
            email: Some(user.row.email.clone()),
            roles: user.roles.clone(),
            perms: self.permissions_of(&user.roles).await?,
        };
        let access_token = self.inner.keys.sign(&claims)?;
        let refresh = credentials::new_refresh_token();
        let refresh_expires_at = at + Duration::seconds(config.refresh_token_ttl_secs as i64);
        self.inner
            .store
            .insert_refresh_token(RefreshTokenRow {
                id: new_id(),
                token_hash: refresh.digest,
                family_id,
                user_id: user.row.id.clone(),
                created_at: at,
                expires_at: refresh_expires_at,
                used_at: None,
                revoked_at: None,
            })
            .await?;
        Ok(TokenGrant {
            access_token,
            access_expires_at,
            refresh_token: refresh.plaintext,
            refresh_expires_at,
            user,
        })
    }

    pub async fn rotate_signing_key(&self) -> Result<String, IdentityError> {
        self.inner.keys.rotate().await
    }

    // ---- API keys ----------------------------------------------------------------------

    /// Creates a service credential. Returns the stored row and the plaintext key, which is
    /// never retrievable again.
    pub async fn create_api_key(
        &self,
        actor: &Principal,
        name: &str,
        permissions: &[String],
        expires_in_days: Option<i32>,
    ) -> Result<(ApiKeyRow, String), IdentityError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(IdentityError::invalid(
                "name",
                "must be 1 to 200 characters",
            ));
        }
        if permissions.is_empty() {
            return Err(IdentityError::invalid(
                "permissions",
                "grant at least one permission",
            ));
        }
        validate::validate_permissions(permissions)?;
        if let Some(missing) = permissions.iter().find(|p| !actor.has(p)) {
            return Err(IdentityError::PermissionEscalation(missing.clone()));
        }
        let expires_at = match expires_in_days {
            None => None,
            Some(days) if (1..=3650).contains(&days) => Some(now() + Duration::days(days.into())),
            Some(_) => {
                return Err(IdentityError::invalid("expiresInDays", "must be 1 to 3650"));
            }
        };
        let permissions: Vec<String> = permissions
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let key = credentials::new_api_key();
        let row = self
            .inner
            .store
            .insert_api_key(ApiKeyRow {
                id: new_id(),
                name: name.to_owned(),
                prefix: key.prefix,
                key_hash: key.digest,
                permissions: IdentityStore::api_key_permissions_json(&permissions),
                created_by: actor.subject.clone(),
                created_at: now(),
                expires_at,
                last_used_at: None,
                revoked_at: None,
            })
            .await?;
        Ok((row, key.plaintext))
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, IdentityError> {
        self.inner.store.list_api_keys().await
    }

    pub async fn revoke_api_key(&self, id: &str) -> Result<ApiKeyRow, IdentityError> {
        if self.inner.store.api_key_by_id(id).await?.is_none() {
            return Err(IdentityError::NotFound(format!("API key `{id}`")));
        }
        let at = now();
        self.inner.store.revoke_api_key(id, at).await?;
        self.inner.revocations.revoke_api_key(id, at).await?;
        self.inner
            .store
            .api_key_by_id(id)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("API key `{id}`")))
    }

    /// Checks a presented key; records when it was last used (at most once a minute, so a
    /// busy service does not turn every request into a write).
    pub async fn authenticate_api_key(&self, presented: &str) -> Result<Principal, IdentityError> {
        let invalid = || IdentityError::Auth(AuthError::ApiKeyInvalid);
        let prefix = credentials::api_key_prefix(presented).ok_or_else(invalid)?;
        let row = self
            .inner
            .store
            .api_key_by_prefix(prefix)
            .await?
            .ok_or_else(invalid)?;
        let at = now();
        let usable = credentials::digests_match(&credentials::digest(presented), &row.key_hash)
            && row.revoked_at.is_none()
            && row.expires_at.is_none_or(|expiry| expiry > at);
        if !usable {
            return Err(invalid());
        }
        if row
            .last_used_at
            .is_none_or(|last| at - last > Duration::seconds(60))
        {
            self.inner.store.touch_api_key(&row.id, at).await?;
        }
        Ok(Principal {
            subject: row.id,
            kind: PrincipalKind::Service,
            email: None,
            roles: vec![],
            permissions: store::permissions_from_json(&row.permissions)
                .into_iter()
                .collect(),
        })
    }

    // ---- configuration -----------------------------------------------------------------

    fn entry_from_row(row: ConfigVersionRow) -> Result<ConfigEntry, IdentityError> {
        let value = serde_json::from_str(&row.value).map_err(|e| {
            IdentityError::Internal(format!("stored value of `{}` is not JSON: {e}", row.key))
        })?;
        Ok(ConfigEntry {
            key: row.key,
            version: row.version,
            value,
            author: Some(row.author),
            comment: row.comment,
            created_at: Some(row.created_at),
        })
    }

    fn default_entry(spec: &settings::SettingSpec) -> Option<ConfigEntry> {
        spec.default.clone().map(|value| ConfigEntry {
            key: spec.key.clone(),
            version: 0,
            value,
            author: None,
            comment: Some("built-in default".into()),
            created_at: None,
        })
    }

    /// The current value, or a given version (0 is the built-in default).
    pub async fn config_entry(
        &self,
        key: &str,
        version: Option<i32>,
    ) -> Result<ConfigEntry, IdentityError> {
        let spec = settings::spec(key)?;
        let not_found = || match version {
            Some(v) => IdentityError::NotFound(format!("version {v} of `{key}`")),
            None => IdentityError::NotFound(format!("setting `{key}` (never set, no default)")),
        };
        let row = match version {
            Some(0) => None,
            Some(v) => Some(
                self.inner
                    .store
                    .config_version(key, v)
                    .await?
                    .ok_or_else(not_found)?,
            ),
            None => self.inner.store.latest_config(key).await?,
        };
        match row {
            Some(row) => Self::entry_from_row(row),
            None => Self::default_entry(&spec).ok_or_else(not_found),
        }
    }

    async fn current_version(&self, key: &str) -> Result<i32, IdentityError> {
        Ok(self
            .inner
            .store
            .latest_config(key)
            .await?
            .map_or(0, |row| row.version))
    }

    /// Writes a new version. With `expected_version`, the write happens only if nobody wrote
    /// since that version was read (optimistic concurrency).
    pub async fn set_config(
        &self,
        key: &str,
        value: Value,
        author: &str,
        comment: Option<String>,
        expected_version: Option<i32>,
    ) -> Result<ConfigEntry, IdentityError> {
        let spec = settings::spec(key)?;
        settings::validate_value(&spec, &value)?;
        let comment = normalize_comment(comment)?;
        let current = self.current_version(key).await?;
        if let Some(expected) = expected_version
            && expected != current
        {
            return Err(IdentityError::VersionConflict {
                key: key.to_owned(),
                expected,
                current,
            });
        }
        let row = self
            .inner
            .store
            .insert_config_version(ConfigVersionRow {
                key: key.to_owned(),
                version: current + 1,
                value: value.to_string(),
                author: author.to_owned(),
                comment,
                created_at: now(),
            })
            .await?;
        Self::entry_from_row(row)
    }

    /// Rolling back writes the old value as a new version: history is never rewritten.
    pub async fn rollback_config(
        &self,
        key: &str,
        to_version: i32,
        author: &str,
        comment: Option<String>,
    ) -> Result<ConfigEntry, IdentityError> {
        let target = self.config_entry(key, Some(to_version)).await?;
        let comment = normalize_comment(comment)?
            .unwrap_or_else(|| format!("rollback to version {to_version}"));
        self.set_config(key, target.value, author, Some(comment), None)
            .await
    }

    pub async fn config_history(
        &self,
        key: &str,
        limit: u64,
    ) -> Result<Vec<ConfigEntry>, IdentityError> {
        let spec = settings::spec(key)?;
        let mut entries = self
            .inner
            .store
            .config_history(key, limit)
            .await?
            .into_iter()
            .map(Self::entry_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        if (entries.len() as u64) < limit
            && let Some(default) = Self::default_entry(&spec)
        {
            entries.push(default);
        }
        Ok(entries)
    }

    pub async fn config_diff(
        &self,
        key: &str,
        from_version: i32,
        to_version: i32,
    ) -> Result<Vec<ValueChange>, IdentityError> {
        let from = self.config_entry(key, Some(from_version)).await?;
        let to = self.config_entry(key, Some(to_version)).await?;
        Ok(settings::diff(&from.value, &to.value))
    }

    /// Current values of all catalogue keys and of every stored key under `prefix`.
    pub async fn config_entries(&self, prefix: &str) -> Result<Vec<ConfigEntry>, IdentityError> {
        let mut by_key: std::collections::BTreeMap<String, ConfigEntry> = settings::catalogue()
            .iter()
            .filter(|spec| spec.key.starts_with(prefix))
            .filter_map(Self::default_entry)
            .map(|entry| (entry.key.clone(), entry))
            .collect();
        for row in self.inner.store.latest_configs(prefix).await? {
            let entry = Self::entry_from_row(row)?;
            by_key.insert(entry.key.clone(), entry);
        }
        Ok(by_key.into_values().collect())
    }

    pub async fn feature_flags(&self) -> Result<Vec<FeatureFlag>, IdentityError> {
        let stored = self.config_entries(settings::FEATURE_PREFIX).await?;
        Ok(settings::FEATURE_FLAGS
            .iter()
            .map(|(name, description)| {
                let key = settings::feature_key(name);
                let entry = stored.iter().find(|entry| entry.key == key);
                FeatureFlag {
                    name: (*name).to_owned(),
                    description: (*description).to_owned(),
                    enabled: entry.and_then(|e| e.value.as_bool()).unwrap_or(true),
                    version: entry.map_or(0, |e| e.version),
                }
            })
            .collect())
    }

    pub async fn feature_flag(&self, name: &str) -> Result<FeatureFlag, IdentityError> {
        self.feature_flags()
            .await?
            .into_iter()
            .find(|flag| flag.name == name)
            .ok_or_else(|| {
                IdentityError::UnknownConfigKey(format!("unknown feature flag `{name}`"))
            })
    }

    pub async fn set_feature_flag(
        &self,
        name: &str,
        enabled: bool,
        author: &str,
    ) -> Result<FeatureFlag, IdentityError> {
        self.feature_flag(name).await?;
        self.set_config(
            &settings::feature_key(name),
            Value::Bool(enabled),
            author,
            None,
            None,
        )
        .await?;
        self.feature_flag(name).await
    }
}

fn normalize_comment(comment: Option<String>) -> Result<Option<String>, IdentityError> {
    match comment
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
    {
        Some(c) if c.chars().count() > 1000 => {
            Err(IdentityError::invalid("comment", "at most 1000 characters"))
        }
        other => Ok(other),
    }
}

async fn hash_password(password: String) -> Result<String, IdentityError> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| IdentityError::Internal(format!("hashing task failed: {e}")))?
}

async fn verify_password(password: String, stored_hash: String) -> Result<bool, IdentityError> {
    tokio::task::spawn_blocking(move || password::verify(&password, &stored_hash))
        .await
        .map_err(|e| IdentityError::Internal(format!("verification task failed: {e}")))
}

/// Identity verifies credentials against its own key ring and API key table.
#[async_trait::async_trait]
impl CredentialVerifier for IdentityService {
    async fn verify_access_token(&self, token: &str) -> Result<Principal, AuthError> {
        match self.inner.keys.verify(token).await {
            Ok(claims) => {
                self.inner
                    .revocations
                    .current()
                    .index
                    .check_token(&claims)?;
                Ok(claims.into_principal())
            }
            Err(IdentityError::Auth(error)) => Err(error),
            Err(other) => Err(AuthError::Unavailable(other.to_string())),
        }
    }

    async fn verify_api_key(&self, key: &str) -> Result<Principal, AuthError> {
        match self.authenticate_api_key(key).await {
            Ok(principal) => Ok(principal),
            Err(IdentityError::Auth(error)) => Err(error),
            Err(other) => Err(AuthError::Unavailable(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use looma_cache::UnreachableCache;
    use std::time::Duration as StdDuration;

    const EMAIL: &str = "kim@looma.test";
    const PASSWORD: &str = "Sturdy-Passw0rd-42";

    async fn service_with(cache: Arc<dyn Cache>, window_secs: u64) -> IdentityService {
        let db = looma_db::connect(&looma_db::DatabaseConfig {
            url: "sqlite::memory:".into(),
            max_connections: 1,
            ..Default::default()
        })
        .await
        .unwrap();
        looma_db::migrate(&db).await.unwrap();
        let config = IdentityConfig {
            login_max_failures: 3,
            login_failure_window_secs: window_secs,
            ..Default::default()
        };
        let service = IdentityService::start(IdentityStore::new(db), cache, config)
            .await
            .unwrap();
        service
            .create_user(NewUser {
                email: EMAIL.into(),
                password: PASSWORD.into(),
                display_name: "Kim".into(),
                roles: vec![],
            })
            .await
            .unwrap();
        service
    }

    fn outcome(result: Result<TokenGrant, IdentityError>) -> &'static str {
        match result {
            Ok(_) => "ok",
            Err(IdentityError::InvalidCredentials) => "checked",
            Err(IdentityError::TooManyAttempts) => "limited",
            Err(other) => panic!("unexpected {other}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_guesses_get_the_budget_and_no_more() {
        let service = service_with(Arc::new(LocalCache::new("t:", 1 << 20)), 900).await;
        let guesses: Vec<_> = (0..20)
            .map(|i| {
                let service = service.clone();
                tokio::spawn(async move {
                    outcome(service.login(EMAIL, &format!("Guess-{i}-Passw0rd")).await)
                })
            })
            .collect();
        let mut checked = 0;
        for guess in guesses {
            if guess.await.unwrap() == "checked" {
                checked += 1;
            }
        }
        assert_eq!(checked, 3, "exactly the budget is checked");
        assert_eq!(outcome(service.login(EMAIL, PASSWORD).await), "limited");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreachable_cache_falls_back_to_an_in_process_limit() {
        let service = service_with(Arc::new(UnreachableCache), 900).await;
        let outcomes: Vec<&str> = {
            let mut outcomes = Vec::new();
            for _ in 0..6 {
                outcomes.push(outcome(service.login(EMAIL, "Wrong-Passw0rd-1").await));
            }
            outcomes
        };
        assert_eq!(
            outcomes,
            [
                "checked", "checked", "checked", "limited", "limited", "limited"
            ]
        );
        assert_eq!(outcome(service.login(EMAIL, PASSWORD).await), "limited");
        assert_eq!(
            outcome(service.login("other@looma.test", PASSWORD).await),
            "checked",
            "still per account"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn success_restores_the_budget_and_so_does_the_window() {
        let service = service_with(Arc::new(LocalCache::new("t:", 1 << 20)), 1).await;
        for _ in 0..2 {
            assert_eq!(
                outcome(service.login(EMAIL, "Wrong-Passw0rd-1").await),
                "checked"
            );
        }
        assert_eq!(outcome(service.login(EMAIL, PASSWORD).await), "ok");
        for _ in 0..3 {
            assert_eq!(
                outcome(service.login(EMAIL, "Wrong-Passw0rd-1").await),
                "checked",
                "a successful login resets the count"
            );
        }
        assert_eq!(outcome(service.login(EMAIL, PASSWORD).await), "limited");
        tokio::time::sleep(StdDuration::from_millis(1_200)).await;
        assert_eq!(
            outcome(service.login(EMAIL, PASSWORD).await),
            "ok",
            "the window passed"
        );
    }

    fn admin() -> Principal {
        Principal {
            subject: "admin".into(),
            kind: PrincipalKind::User,
            email: None,
            roles: vec![],
            permissions: Default::default(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_replica_picks_revocations_up_when_it_reloads() {
        let service = service_with(Arc::new(LocalCache::new("t:", 1 << 20)), 900).await;
        let replica = IdentityService::start(
            service.store().clone(),
            Arc::new(LocalCache::new("t:", 1 << 20)),
            service.config().clone(),
        )
        .await
        .unwrap();
        let grant = replica.login(EMAIL, PASSWORD).await.unwrap();
        service
            .set_user_status(&admin(), &grant.user.row.id, false)
            .await
            .unwrap();
        replica.revocations().reload().await.unwrap();
        assert_eq!(
            replica.verify_access_token(&grant.access_token).await,
            Err(AuthError::TokenRevoked)
        );
        assert_eq!(
            replica.revocations().current().list,
            service.revocations().current().list
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn re_enabled_users_get_tokens_dated_after_the_cutoff() {
        let service = service_with(Arc::new(LocalCache::new("t:", 1 << 20)), 900).await;
        let admin = admin();
        let old = service.login(EMAIL, PASSWORD).await.unwrap();
        let id = old.user.row.id.clone();
        assert!(service.verify_access_token(&old.access_token).await.is_ok());
        service.set_user_status(&admin, &id, false).await.unwrap();
        assert_eq!(
            service.verify_access_token(&old.access_token).await,
            Err(AuthError::TokenRevoked)
        );
        service.set_user_status(&admin, &id, true).await.unwrap();
        let new = service.login(EMAIL, PASSWORD).await.unwrap();
        assert!(
            service.verify_access_token(&new.access_token).await.is_ok(),
            "a new login works at once, even within the second of re-enabling"
        );
        assert_eq!(
            service.verify_access_token(&old.access_token).await,
            Err(AuthError::TokenRevoked),
            "the old token stays refused"
        );
        service.set_user_status(&admin, &id, true).await.unwrap();
        assert!(
            service.verify_access_token(&new.access_token).await.is_ok(),
            "enabling an active account ends no session"
        );
    }
}
