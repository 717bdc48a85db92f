//! Identity's GraphQL surface. Resolvers are thin: check the caller's permission, validate
//! the shape of arguments, call the service, map errors to coded GraphQL errors.

use crate::domain::settings::{ChangeKind, ValueChange};
use crate::service::{
    ConfigEntry, FeatureFlag as FeatureFlagRecord, IdentityService, NewUser, TokenGrant, UserRecord,
};
use crate::store::{self, ApiKeyRow, RoleRow};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{
    Context, EmptySubscription, Enum, ID, InputObject, Json, Object, Result, Schema, SimpleObject,
};
use chrono::{DateTime, Utc};
use looma_auth::{Principal, PrincipalKind, permission};
use looma_core::GraphqlResultExt;
use looma_core::page::{CursorKind, PageError, PageInfo, page_size_up_to};
use looma_server::{caller, require};
use std::collections::HashMap;
use std::sync::Arc;

pub type IdentitySchema = Schema<Query, Mutation, EmptySubscription>;

/// Users are listed up to 200 at a time (more than the shared 100: admin screens list them all).
const MAX_USERS_PAGE: u64 = 200;
const USER_CURSOR: CursorKind = CursorKind::new("user");
const MAX_HISTORY: i32 = 500;

pub fn build_schema(service: IdentityService) -> IdentitySchema {
    looma_server::subgraph_schema(Query, Mutation, EmptySubscription)
        .data(service)
        .finish()
}

/// A paging argument refused by `looma_core::page`, as identity's invalid-input error.
fn paging(error: PageError) -> crate::IdentityError {
    crate::IdentityError::invalid(error.argument(), error.problem())
}

/// Per-request data: the DataLoader batching `User` entity lookups.
pub fn attach_loaders(
    request: async_graphql::Request,
    service: &IdentityService,
) -> async_graphql::Request {
    request.data(DataLoader::new(UserLoader(service.clone()), tokio::spawn))
}

fn service<'a>(ctx: &Context<'a>) -> &'a IdentityService {
    ctx.data_unchecked::<IdentityService>()
}

fn author_of(principal: &Principal) -> String {
    principal
        .email
        .clone()
        .unwrap_or_else(|| format!("service:{}", principal.subject))
}

pub struct UserLoader(IdentityService);

impl Loader<String> for UserLoader {
    type Value = UserRecord;
    type Error = Arc<crate::IdentityError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, UserRecord>, Self::Error> {
        self.0.users_by_ids(keys).await.map_err(Arc::new)
    }
}

// ---- types ---------------------------------------------------------------------------

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum UserStatus {
    Active,
    Disabled,
}

pub struct User(UserRecord);

/// A person who signs in to the CRM.
#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.row.id.clone())
    }

    async fn email(&self) -> &str {
        &self.0.row.email
    }

    async fn display_name(&self) -> &str {
        &self.0.row.display_name
    }

    async fn status(&self) -> UserStatus {
        if self.0.row.status == store::STATUS_ACTIVE {
            UserStatus::Active
        } else {
            UserStatus::Disabled
        }
    }

    async fn roles(&self) -> &[String] {
        &self.0.roles
    }

    /// The union of the permissions of the user's roles.
    async fn permissions(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        service(ctx).permissions_of(&self.0.roles).await.gql()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.row.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.row.updated_at
    }
}

#[derive(SimpleObject)]
pub struct UserConnection {
    nodes: Vec<User>,
    page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct Role {
    name: String,
    description: String,
    permissions: Vec<String>,
    builtin: bool,
}

impl From<RoleRow> for Role {
    fn from(row: RoleRow) -> Self {
        Role {
            permissions: store::permissions_from_json(&row.permissions),
            name: row.name,
            description: row.description,
            builtin: row.builtin,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CallerKind {
    User,
    Service,
}

/// Who the current request is authenticated as.
#[derive(SimpleObject)]
pub struct CallerInfo {
    subject: ID,
    kind: CallerKind,
    email: Option<String>,
    roles: Vec<String>,
    permissions: Vec<String>,
}

/// Tokens issued by `login` and `refreshToken`.
#[derive(SimpleObject)]
pub struct AuthPayload {
    access_token: String,
    token_type: String,
    /// Seconds until the access token expires.
    expires_in: i64,
    access_token_expires_at: DateTime<Utc>,
    /// Single use: exchanging it returns a new one; presenting a spent one revokes the session.
    refresh_token: String,
    refresh_token_expires_at: DateTime<Utc>,
    user: User,
}

impl From<TokenGrant> for AuthPayload {
    fn from(grant: TokenGrant) -> Self {
        AuthPayload {
            expires_in: (grant.access_expires_at - Utc::now()).num_seconds().max(0),
            access_token: grant.access_token,
            token_type: "Bearer".into(),
            access_token_expires_at: grant.access_expires_at,
            refresh_token: grant.refresh_token,
            refresh_token_expires_at: grant.refresh_expires_at,
            user: User(grant.user),
        }
    }
}

/// A service credential. The secret itself is shown only once, in `CreatedApiKey`.
#[derive(SimpleObject)]
pub struct ApiKey {
    id: ID,
    name: String,
    /// Public part of the key (`lk_<prefix>_...`), to recognise it in lists.
    prefix: String,
    permissions: Vec<String>,
    created_by: ID,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        ApiKey {
            id: ID(row.id),
            name: row.name,
            prefix: row.prefix,
            permissions: store::permissions_from_json(&row.permissions),
            created_by: ID(row.created_by),
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct CreatedApiKey {
    api_key: ApiKey,
    /// The full key. Store it now: it cannot be shown again.
    secret: String,
}

/// One version of a setting. Version 0 is the built-in default.
#[derive(SimpleObject)]
pub struct ConfigVersion {
    key: String,
    version: i32,
    value: Json<serde_json::Value>,
    author: Option<String>,
    comment: Option<String>,
    created_at: Option<DateTime<Utc>>,
}

impl From<ConfigEntry> for ConfigVersion {
    fn from(entry: ConfigEntry) -> Self {
        ConfigVersion {
            key: entry.key,
            version: entry.version,
            value: Json(entry.value),
            author: entry.author,
            comment: entry.comment,
            created_at: entry.created_at,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ConfigChangeKind {
    Added,
    Removed,
    Changed,
}

#[derive(SimpleObject)]
pub struct ConfigChange {
    /// Dotted path inside the value; empty for the whole value.
    path: String,
    kind: ConfigChangeKind,
    before: Option<Json<serde_json::Value>>,
    after: Option<Json<serde_json::Value>>,
}

impl From<ValueChange> for ConfigChange {
    fn from(change: ValueChange) -> Self {
        ConfigChange {
            path: change.path,
            kind: match change.kind {
                ChangeKind::Added => ConfigChangeKind::Added,
                ChangeKind::Removed => ConfigChangeKind::Removed,
                ChangeKind::Changed => ConfigChangeKind::Changed,
            },
            before: change.before.map(Json),
            after: change.after.map(Json),
        }
    }
}

#[derive(SimpleObject)]
pub struct FeatureFlag {
    name: String,
    description: String,
    enabled: bool,
    /// Version of `features.<name>` in force; 0 means the default (on).
    version: i32,
}

impl From<FeatureFlagRecord> for FeatureFlag {
    fn from(flag: FeatureFlagRecord) -> Self {
        FeatureFlag {
            name: flag.name,
            description: flag.description,
            enabled: flag.enabled,
            version: flag.version,
        }
    }
}

#[derive(SimpleObject)]
pub struct SigningKeyInfo {
    kid: String,
}

// ---- inputs --------------------------------------------------------------------------

#[derive(InputObject)]
pub struct CreateUserInput {
    email: String,
    password: String,
    display_name: String,
    #[graphql(default)]
    roles: Vec<String>,
}

#[derive(InputObject)]
pub struct CreateRoleInput {
    name: String,
    #[graphql(default)]
    description: String,
    permissions: Vec<String>,
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    name: String,
    permissions: Vec<String>,
    /// 1 to 3650; omit for a key that does not expire.
    expires_in_days: Option<i32>,
}

#[derive(InputObject)]
pub struct SetConfigInput {
    key: String,
    value: Json<serde_json::Value>,
    comment: Option<String>,
    /// Write only if the current version is this one (optimistic concurrency).
    expected_version: Option<i32>,
}

// ---- roots ---------------------------------------------------------------------------

pub struct Query;

#[Object]
impl Query {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let principal = caller(ctx).require_authenticated().gql()?;
        if principal.kind != PrincipalKind::User {
            return Err(crate::IdentityError::NotAUser(
                "`me` is for users; services can read `caller`".into(),
            ))
            .gql();
        }
        let user = service(ctx)
            .user(&principal.subject)
            .await
            .gql()?
            .ok_or_else(|| crate::IdentityError::NotFound("user".into()))
            .gql()?;
        if user.row.status != store::STATUS_ACTIVE {
            return Err(crate::IdentityError::AccountDisabled).gql();
        }
        Ok(User(user))
    }

    /// The authenticated principal of this request (user or service), or null if anonymous.
    async fn caller(&self, ctx: &Context<'_>) -> Option<CallerInfo> {
        caller(ctx).principal().map(|p| CallerInfo {
            subject: ID(p.subject.clone()),
            kind: match p.kind {
                PrincipalKind::User => CallerKind::User,
                PrincipalKind::Service => CallerKind::Service,
            },
            email: p.email.clone(),
            roles: p.roles.clone(),
            permissions: p.permissions.iter().cloned().collect(),
        })
    }

    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        require(ctx, permission::USER_READ)?;
        Ok(service(ctx).user(&id).await.gql()?.map(User))
    }

    /// Users in creation order, `first` at a time (1 to 200).
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> Result<UserConnection> {
        require(ctx, permission::USER_READ)?;
        let size = page_size_up_to(first.into(), MAX_USERS_PAGE)
            .map_err(paging)
            .gql()?;
        let after = after
            .as_deref()
            .map(|cursor| USER_CURSOR.decode(cursor))
            .transpose()
            .map_err(paging)
            .gql()?;
        let users = service(ctx)
            .list_users(after.as_deref(), size + 1)
            .await
            .gql()?;
        let (users, page_info) = USER_CURSOR.page(users, size, |u| &u.row.id);
        Ok(UserConnection {
            page_info,
            nodes: users.into_iter().map(User).collect(),
        })
    }

    async fn roles(&self, ctx: &Context<'_>) -> Result<Vec<Role>> {
        require(ctx, permission::USER_READ)?;
        Ok(service(ctx)
            .roles()
            .await
            .gql()?
            .into_iter()
            .map(Role::from)
            .collect())
    }

    /// Every permission the platform knows.
    async fn permissions(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        caller(ctx).require_authenticated().gql()?;
        Ok(permission::ALL.iter().map(|p| p.to_string()).collect())
    }

    async fn api_keys(&self, ctx: &Context<'_>) -> Result<Vec<ApiKey>> {
        require(ctx, permission::APIKEY_MANAGE)?;
        Ok(service(ctx)
            .api_keys()
            .await
            .gql()?
            .into_iter()
            .map(ApiKey::from)
            .collect())
    }

    /// The current value of a setting, or a given version of it.
    async fn config(
        &self,
        ctx: &Context<'_>,
        key: String,
        version: Option<i32>,
    ) -> Result<ConfigVersion> {
        require(ctx, permission::CONFIG_READ)?;
        Ok(service(ctx).config_entry(&key, version).await.gql()?.into())
    }

    /// Current values of every setting whose key starts with `prefix`.
    async fn configs(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] prefix: String,
    ) -> Result<Vec<ConfigVersion>> {
        require(ctx, permission::CONFIG_READ)?;
        Ok(service(ctx)
            .config_entries(&prefix)
            .await
            .gql()?
            .into_iter()
            .map(ConfigVersion::from)
            .collect())
    }

    /// Versions of a setting, newest first (the default, version 0, last).
    async fn config_history(
        &self,
        ctx: &Context<'_>,
        key: String,
        #[graphql(default = 50)] limit: i32,
    ) -> Result<Vec<ConfigVersion>> {
        require(ctx, permission::CONFIG_READ)?;
        if !(1..=MAX_HISTORY).contains(&limit) {
            return Err(crate::IdentityError::invalid("limit", "must be 1 to 500")).gql();
        }
        Ok(service(ctx)
            .config_history(&key, limit as u64)
            .await
            .gql()?
            .into_iter()
            .map(ConfigVersion::from)
            .collect())
    }

    /// Field-level changes from one version to another.
    async fn config_diff(
        &self,
        ctx: &Context<'_>,
        key: String,
        from_version: i32,
        to_version: i32,
    ) -> Result<Vec<ConfigChange>> {
        require(ctx, permission::CONFIG_READ)?;
        Ok(service(ctx)
            .config_diff(&key, from_version, to_version)
            .await
            .gql()?
            .into_iter()
            .map(ConfigChange::from)
            .collect())
    }

    /// Feature flags; any authenticated caller (including services) may read them.
    async fn feature_flags(&self, ctx: &Context<'_>) -> Result<Vec<FeatureFlag>> {
        caller(ctx).require_authenticated().gql()?;
        Ok(service(ctx)
            .feature_flags()
            .await
            .gql()?
            .into_iter()
            .map(FeatureFlag::from)
            .collect())
    }

    async fn feature_flag(&self, ctx: &Context<'_>, name: String) -> Result<FeatureFlag> {
        caller(ctx).require_authenticated().gql()?;
        Ok(service(ctx).feature_flag(&name).await.gql()?.into())
    }

    /// Federation entity resolver for `User`, batched through the DataLoader. Callers see a
    /// user they may read: themselves, or anyone with `user:read`.
    #[graphql(entity)]
    async fn find_user_by_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(key)] id: ID,
    ) -> Result<Option<User>> {
        let principal = caller(ctx).require_authenticated().gql()?;
        let is_self = principal.kind == PrincipalKind::User && principal.subject == id.as_str();
        if !is_self {
            require(ctx, permission::USER_READ)?;
        }
        let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
        let user = loader
            .load_one(id.to_string())
            .await
            .map_err(|error| looma_core::error::to_graphql_error(error.as_ref()))?;
        Ok(user.map(User))
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Exchanges email and password for an access token and a refresh token. Anonymous.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<AuthPayload> {
        Ok(service(ctx).login(&email, &password).await.gql()?.into())
    }

    /// Spends a refresh token for a new token pair. Anonymous: the refresh token is the
    /// credential.
    async fn refresh_token(&self, ctx: &Context<'_>, refresh_token: String) -> Result<AuthPayload> {
        Ok(service(ctx).refresh(&refresh_token).await.gql()?.into())
    }

    /// Revokes the session of a refresh token.
    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> Result<bool> {
        service(ctx).logout(&refresh_token).await.gql()?;
        Ok(true)
    }

    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<User> {
        require(ctx, permission::USER_WRITE)?;
        let user = service(ctx)
            .create_user(NewUser {
                email: input.email,
                password: input.password,
                display_name: input.display_name,
                roles: input.roles,
            })
            .await
            .gql()?;
        Ok(User(user))
    }

    /// Enables or disables an account. Disabling revokes its refresh tokens.
    async fn set_user_status(&self, ctx: &Context<'_>, id: ID, status: UserStatus) -> Result<User> {
        let actor = require(ctx, permission::USER_WRITE)?;
        let enabled = status == UserStatus::Active;
        Ok(User(
            service(ctx)
                .set_user_status(actor, &id, enabled)
                .await
                .gql()?,
        ))
    }

    async fn set_user_roles(&self, ctx: &Context<'_>, id: ID, roles: Vec<String>) -> Result<User> {
        require(ctx, permission::USER_WRITE)?;
        Ok(User(service(ctx).set_user_roles(&id, &roles).await.gql()?))
    }

    /// Changes the signed-in user's password and ends their other sessions.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> Result<bool> {
        let principal = caller(ctx).require_authenticated().gql()?;
        if principal.kind != PrincipalKind::User {
            return Err(crate::IdentityError::NotAUser(
                "services have no password".into(),
            ))
            .gql();
        }
        service(ctx)
            .change_password(&principal.subject, &current_password, new_password)
            .await
            .gql()?;
        Ok(true)
    }

    async fn create_role(&self, ctx: &Context<'_>, input: CreateRoleInput) -> Result<Role> {
        require(ctx, permission::USER_WRITE)?;
        Ok(service(ctx)
            .create_role(&input.name, &input.description, &input.permissions)
            .await
            .gql()?
            .into())
    }

    /// Creates a service credential with a subset of the caller's own permissions.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> Result<CreatedApiKey> {
        let actor = require(ctx, permission::APIKEY_MANAGE)?;
        let (row, secret) = service(ctx)
            .create_api_key(
                actor,
                &input.name,
                &input.permissions,
                input.expires_in_days,
            )
            .await
            .gql()?;
        Ok(CreatedApiKey {
            api_key: row.into(),
            secret,
        })
    }

    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> Result<ApiKey> {
        require(ctx, permission::APIKEY_MANAGE)?;
        Ok(service(ctx).revoke_api_key(&id).await.gql()?.into())
    }

    /// Writes a new version of a setting.
    async fn set_config(&self, ctx: &Context<'_>, input: SetConfigInput) -> Result<ConfigVersion> {
        let actor = require(ctx, permission::CONFIG_WRITE)?;
        Ok(service(ctx)
            .set_config(
                &input.key,
                input.value.0,
                &author_of(actor),
                input.comment,
                input.expected_version,
            )
            .await
            .gql()?
            .into())
    }

    /// Makes an earlier version current again, as a new version.
    async fn rollback_config(
        &self,
        ctx: &Context<'_>,
        key: String,
        to_version: i32,
        comment: Option<String>,
    ) -> Result<ConfigVersion> {
        let actor = require(ctx, permission::CONFIG_WRITE)?;
        Ok(service(ctx)
            .rollback_config(&key, to_version, &author_of(actor), comment)
            .await
            .gql()?
            .into())
    }

    async fn set_feature_flag(
        &self,
        ctx: &Context<'_>,
        name: String,
        enabled: bool,
    ) -> Result<FeatureFlag> {
        let actor = require(ctx, permission::CONFIG_WRITE)?;
        Ok(service(ctx)
            .set_feature_flag(&name, enabled, &author_of(actor))
            .await
            .gql()?
            .into())
    }

    /// Starts signing with a new key; the old one stays published until its tokens expire.
    async fn rotate_signing_key(&self, ctx: &Context<'_>) -> Result<SigningKeyInfo> {
        require(ctx, permission::SECURITY_ADMIN)?;
        Ok(SigningKeyInfo {
            kid: service(ctx).rotate_signing_key().await.gql()?,
        })
    }
}
