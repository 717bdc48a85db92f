//! Identity's tables (`identity_*`) and every query against them. The only module that
//! touches the database; it enforces no business rule beyond what a single statement or
//! transaction must guarantee (atomic rotation, version uniqueness).

use crate::IdentityError;
use crate::error::is_unique_violation;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use std::collections::HashMap;

pub mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub email: String,
        pub display_name: String,
        pub password_hash: String,
        pub status: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod role {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_roles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub description: String,
        /// JSON array of permission strings.
        pub permissions: String,
        pub builtin: bool,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod user_role {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_user_roles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub role_name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod signing_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_signing_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kid: String,
        pub algorithm: String,
        pub private_key_pem: String,
        pub status: String,
        pub created_at: DateTimeUtc,
        pub retired_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod refresh_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub token_hash: String,
        pub family_id: String,
        pub user_id: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub used_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod api_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_api_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub prefix: String,
        pub key_hash: String,
        /// JSON array of permission strings.
        pub permissions: String,
        pub created_by: String,
        pub created_at: DateTimeUtc,
        pub expires_at: Option<DateTimeUtc>,
        pub last_used_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod config_version {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_config_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i32,
        /// The value as JSON text.
        pub value: String,
        pub author: String,
        pub comment: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod revocation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_revocations")]
    pub struct Model {
        /// Grows with every row: the version of the published list.
        #[sea_orm(primary_key)]
        pub seq: i64,
        /// `user` or `api_key`.
        pub kind: String,
        /// User id or API key id.
        pub subject: String,
        /// Tokens issued before this Unix time are refused; null refuses all (users only).
        pub issued_before: Option<i64>,
        pub created_at: DateTimeUtc,
        /// After this, no credential the row concerns can still be valid.
        pub expires_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub type UserRow = user::Model;
pub type RoleRow = role::Model;
pub type SigningKeyRow = signing_key::Model;
pub type RefreshTokenRow = refresh_token::Model;
pub type ApiKeyRow = api_key::Model;
pub type ConfigVersionRow = config_version::Model;
pub type RevocationRow = revocation::Model;

pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_DISABLED: &str = "disabled";
pub const KEY_ACTIVE: &str = "active";
pub const KEY_RETIRED: &str = "retired";
pub const REVOKED_USER: &str = "user";
pub const REVOKED_API_KEY: &str = "api_key";

pub fn permissions_from_json(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn permissions_to_json(permissions: &[String]) -> String {
    serde_json::to_string(permissions).unwrap_or_else(|_| "[]".into())
}

#[derive(Clone)]
pub struct IdentityStore {
    db: DatabaseConnection,
    /// Seals signing keys' private halves at rest (`server.encryption_keys`).
    keyring: std::sync::Arc<looma_core::envelope::Keyring>,
}

impl IdentityStore {
    /// A store that keeps private keys as they are (no master key configured).
    pub fn new(db: DatabaseConnection) -> Self {
        Self::with_keyring(
            db,
            std::sync::Arc::new(looma_core::envelope::Keyring::disabled()),
        )
    }

    /// A store that seals private keys with `keyring` (and reads unsealed ones written
    /// before encryption was configured).
    pub fn with_keyring(
        db: DatabaseConnection,
        keyring: std::sync::Arc<looma_core::envelope::Keyring>,
    ) -> Self {
        IdentityStore { db, keyring }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    // ---- users -------------------------------------------------------------------------

    /// Inserts the user and their role links in one transaction.
    pub async fn insert_user(
        &self,
        row: UserRow,
        roles: &[String],
    ) -> Result<UserRow, IdentityError> {
        let txn = self.db.begin().await?;
        let email = row.email.clone();
        let inserted = user::ActiveModel {
            id: Set(row.id.clone()),
            email: Set(row.email),
            display_name: Set(row.display_name),
            password_hash: Set(row.password_hash),
            status: Set(row.status),
            created_at: Set(row.created_at),
            updated_at: Set(row.updated_at),
        }
        .insert(&txn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                IdentityError::DuplicateEmail(email)
            } else {
                e.into()
            }
        })?;
        for role_name in roles {
            user_role::ActiveModel {
                user_id: Set(inserted.id.clone()),
                role_name: Set(role_name.clone()),
            }
            .insert(&txn)
            .await?;
        }
        txn.commit().await?;
        Ok(inserted)
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, IdentityError> {
        Ok(user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .one(&self.db)
            .await?)
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, IdentityError> {
        Ok(user::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    /// Users by id in one query (the DataLoader's batch).
    pub async fn users_by_ids(&self, ids: &[String]) -> Result<Vec<UserRow>, IdentityError> {
        Ok(user::Entity::find()
            .filter(user::Column::Id.is_in(ids.iter().cloned()))
            .all(&self.db)
            .await?)
    }

    /// Users ordered by id (ids are time-ordered UUIDv7), after an optional cursor.
    pub async fn list_users(
        &self,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<UserRow>, IdentityError> {
        let mut query = user::Entity::find().order_by_asc(user::Column::Id);
        if let Some(after) = after {
            query = query.filter(user::Column::Id.gt(after));
        }
        Ok(query.limit(limit).all(&self.db).await?)
    }

    pub async fn count_users(&self) -> Result<u64, IdentityError> {
        use sea_orm::PaginatorTrait;
        Ok(user::Entity::find().count(&self.db).await?)
    }

    pub async fn set_user_status(
        &self,
        id: &str,
        status: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, IdentityError> {
        let result = user::Entity::update_many()
            .col_expr(user::Column::Status, Expr::value(status))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    pub async fn set_password_hash(
        &self,
        id: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(password_hash))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Replaces a user's roles atomically.
    pub async fn replace_user_roles(
        &self,
        user_id: &str,
        roles: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let txn = self.db.begin().await?;
        user_role::Entity::delete_many()
            .filter(user_role::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        for role_name in roles {
            user_role::ActiveModel {
                user_id: Set(user_id.to_owned()),
                role_name: Set(role_name.clone()),
            }
            .insert(&txn)
            .await?;
        }
        user::Entity::update_many()
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(user_id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Role names per user, for a batch of users.
    pub async fn roles_of_users(
        &self,
        user_ids: &[String],
    ) -> Result<HashMap<String, Vec<String>>, IdentityError> {
        let links = user_role::Entity::find()
            .filter(user_role::Column::UserId.is_in(user_ids.iter().cloned()))
            .order_by_asc(user_role::Column::RoleName)
            .all(&self.db)
            .await?;
        let mut by_user: HashMap<String, Vec<String>> = HashMap::new();
        for link in links {
            by_user
                .entry(link.user_id)
                .or_default()
                .push(link.role_name);
        }
        Ok(by_user)
    }

    // ---- roles -------------------------------------------------------------------------

    pub async fn all_roles(&self) -> Result<Vec<RoleRow>, IdentityError> {
        Ok(role::Entity::find()
            .order_by_asc(role::Column::Name)
            .all(&self.db)
            .await?)
    }

    pub async fn insert_role(&self, row: RoleRow) -> Result<RoleRow, IdentityError> {
        let name = row.name.clone();
        role::ActiveModel {
            name: Set(row.name),
            description: Set(row.description),
            permissions: Set(row.permissions),
            builtin: Set(row.builtin),
            created_at: Set(row.created_at),
        }
        .insert(&self.db)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                IdentityError::DuplicateRole(name)
            } else {
                e.into()
            }
        })
    }

    /// Creates or refreshes a built-in role so its permissions match the code's catalogue.
    pub async fn upsert_builtin_role(
        &self,
        name: &str,
        description: &str,
        permissions: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let existing = role::Entity::find_by_id(name.to_owned())
            .one(&self.db)
            .await?;
        match existing {
            Some(_) => {
                role::Entity::update_many()
                    .col_expr(role::Column::Description, Expr::value(description))
                    .col_expr(
                        role::Column::Permissions,
                        Expr::value(permissions_to_json(permissions)),
                    )
                    .col_expr(role::Column::Builtin, Expr::value(true))
                    .filter(role::Column::Name.eq(name))
                    .exec(&self.db)
                    .await?;
            }
            None => {
                let inserted = self
                    .insert_role(RoleRow {
                        name: name.to_owned(),
                        description: description.to_owned(),
                        permissions: permissions_to_json(permissions),
                        builtin: true,
                        created_at: now,
                    })
                    .await;
                // Another replica may have created it between our read and write.
                match inserted {
                    Ok(_) | Err(IdentityError::DuplicateRole(_)) => {}
                    Err(other) => return Err(other),
                }
            }
        }
        Ok(())
    }

    pub fn role_row(
        name: &str,
        description: &str,
        permissions: &[String],
        now: DateTime<Utc>,
    ) -> RoleRow {
        RoleRow {
            name: name.to_owned(),
            description: description.to_owned(),
            permissions: permissions_to_json(permissions),
            builtin: false,
            created_at: now,
        }
    }

    // ---- signing keys ------------------------------------------------------------------

    /// Every signing key, private halves opened.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, IdentityError> {
        let rows = signing_key::Entity::find()
            .order_by_asc(signing_key::Column::CreatedAt)
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|mut row| {
                row.private_key_pem =
                    self.keyring.open_text(&row.private_key_pem).map_err(|e| {
                        IdentityError::Internal(format!("signing key {}: {e}", row.kid))
                    })?;
                Ok(row)
            })
            .collect()
    }

    /// Seals every private key under the active master key (after a rotation, or when
    /// encryption was just configured); returns how many were rewritten.
    pub async fn rewrap_signing_keys(&self) -> Result<usize, IdentityError> {
        let rows = signing_key::Entity::find().all(&self.db).await?;
        let mut rewritten = 0;
        for row in rows {
            let Some(sealed) = self
                .keyring
                .rewrap_text(&row.private_key_pem)
                .map_err(|e| IdentityError::Internal(format!("signing key {}: {e}", row.kid)))?
            else {
                continue;
            };
            signing_key::Entity::update_many()
                .col_expr(signing_key::Column::PrivateKeyPem, Expr::value(sealed))
                .filter(signing_key::Column::Kid.eq(row.kid))
                .exec(&self.db)
                .await?;
            rewritten += 1;
        }
        Ok(rewritten)
    }

    /// Inserts a new active key and retires the previous active ones, atomically.
    pub async fn activate_signing_key(&self, row: SigningKeyRow) -> Result<(), IdentityError> {
        let txn = self.db.begin().await?;
        let now = row.created_at;
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::Status, Expr::value(KEY_RETIRED))
            .col_expr(signing_key::Column::RetiredAt, Expr::value(Some(now)))
            .filter(signing_key::Column::Status.eq(KEY_ACTIVE))
            .exec(&txn)
            .await?;
        signing_key::ActiveModel {
            kid: Set(row.kid),
            algorithm: Set(row.algorithm),
            private_key_pem: Set(self.keyring.seal_text(&row.private_key_pem)),
            status: Set(KEY_ACTIVE.to_owned()),
            created_at: Set(row.created_at),
            retired_at: Set(None),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    // ---- refresh tokens ----------------------------------------------------------------

    pub async fn insert_refresh_token(&self, row: RefreshTokenRow) -> Result<(), IdentityError> {
        refresh_token::ActiveModel {
            id: Set(row.id),
            token_hash: Set(row.token_hash),
            family_id: Set(row.family_id),
            user_id: Set(row.user_id),
            created_at: Set(row.created_at),
            expires_at: Set(row.expires_at),
            used_at: Set(row.used_at),
            revoked_at: Set(row.revoked_at),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    pub async fn refresh_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRow>, IdentityError> {
        Ok(refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(token_hash))
            .one(&self.db)
            .await?)
    }

    /// Marks the token used, only if nobody else has; false means it was used already (a
    /// concurrent or replayed refresh), which the caller treats as reuse.
    pub async fn claim_refresh_token(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, IdentityError> {
        let result = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::UsedAt, Expr::value(Some(now)))
            .filter(refresh_token::Column::Id.eq(id))
            .filter(refresh_token::Column::UsedAt.is_null())
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    pub async fn revoke_refresh_family(
        &self,
        family_id: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, IdentityError> {
        let result = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(Some(now)))
            .filter(refresh_token::Column::FamilyId.eq(family_id))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected)
    }

    pub async fn revoke_user_refresh_tokens(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, IdentityError> {
        let result = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(Some(now)))
            .filter(refresh_token::Column::UserId.eq(user_id))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected)
    }

    // ---- API keys ----------------------------------------------------------------------

    pub async fn insert_api_key(&self, row: ApiKeyRow) -> Result<ApiKeyRow, IdentityError> {
        Ok(api_key::ActiveModel {
            id: Set(row.id),
            name: Set(row.name),
            prefix: Set(row.prefix),
            key_hash: Set(row.key_hash),
            permissions: Set(row.permissions),
            created_by: Set(row.created_by),
            created_at: Set(row.created_at),
            expires_at: Set(row.expires_at),
            last_used_at: Set(row.last_used_at),
            revoked_at: Set(row.revoked_at),
        }
        .insert(&self.db)
        .await?)
    }

    pub fn api_key_permissions_json(permissions: &[String]) -> String {
        permissions_to_json(permissions)
    }

    pub async fn api_key_by_prefix(
        &self,
        prefix: &str,
    ) -> Result<Option<ApiKeyRow>, IdentityError> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::Prefix.eq(prefix))
            .one(&self.db)
            .await?)
    }

    pub async fn api_key_by_id(&self, id: &str) -> Result<Option<ApiKeyRow>, IdentityError> {
        Ok(api_key::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRow>, IdentityError> {
        Ok(api_key::Entity::find()
            .order_by_asc(api_key::Column::CreatedAt)
            .all(&self.db)
            .await?)
    }

    pub async fn touch_api_key(&self, id: &str, now: DateTime<Utc>) -> Result<(), IdentityError> {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(Some(now)))
            .filter(api_key::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    pub async fn revoke_api_key(&self, id: &str, now: DateTime<Utc>) -> Result<(), IdentityError> {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(Some(now)))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    // ---- revocations -------------------------------------------------------------------

    pub async fn insert_revocation(
        &self,
        kind: &str,
        subject: &str,
        issued_before: Option<i64>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        revocation::ActiveModel {
            kind: Set(kind.to_owned()),
            subject: Set(subject.to_owned()),
            issued_before: Set(issued_before),
            created_at: Set(now),
            expires_at: Set(expires_at),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// The newest sequence number, expired rows included (0 before the first revocation).
    pub async fn revocation_version(&self) -> Result<i64, IdentityError> {
        let newest = revocation::Entity::find()
            .select_only()
            .column(revocation::Column::Seq)
            .order_by_desc(revocation::Column::Seq)
            .limit(1)
            .into_tuple::<i64>()
            .one(&self.db)
            .await?;
        Ok(newest.unwrap_or(0))
    }

    /// The `issued_before` of the user's newest live revocation: tokens issued to them from
    /// now on must not be older.
    pub async fn user_token_cutoff(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, IdentityError> {
        let newest = revocation::Entity::find()
            .filter(revocation::Column::Kind.eq(REVOKED_USER))
            .filter(revocation::Column::Subject.eq(user_id))
            .filter(revocation::Column::ExpiresAt.gt(now))
            .order_by_desc(revocation::Column::Seq)
            .one(&self.db)
            .await?;
        Ok(newest.and_then(|row| row.issued_before))
    }

    /// Rows that still matter at `now`, oldest first.
    pub async fn live_revocations(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<RevocationRow>, IdentityError> {
        Ok(revocation::Entity::find()
            .filter(revocation::Column::ExpiresAt.gt(now))
            .order_by_asc(revocation::Column::Seq)
            .all(&self.db)
            .await?)
    }

    // ---- configuration -----------------------------------------------------------------

    pub async fn latest_config(
        &self,
        key: &str,
    ) -> Result<Option<ConfigVersionRow>, IdentityError> {
        Ok(config_version::Entity::find()
            .filter(config_version::Column::Key.eq(key))
            .order_by_desc(config_version::Column::Version)
            .one(&self.db)
            .await?)
    }

    pub async fn config_version(
        &self,
        key: &str,
        version: i32,
    ) -> Result<Option<ConfigVersionRow>, IdentityError> {
        Ok(
            config_version::Entity::find_by_id((key.to_owned(), version))
                .one(&self.db)
                .await?,
        )
    }

    /// Every version of `key`, newest first.
    pub async fn config_history(
        &self,
        key: &str,
        limit: u64,
    ) -> Result<Vec<ConfigVersionRow>, IdentityError> {
        Ok(config_version::Entity::find()
            .filter(config_version::Column::Key.eq(key))
            .order_by_desc(config_version::Column::Version)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// The newest version of every key under `prefix`.
    pub async fn latest_configs(
        &self,
        prefix: &str,
    ) -> Result<Vec<ConfigVersionRow>, IdentityError> {
        let rows = config_version::Entity::find()
            .filter(config_version::Column::Key.starts_with(prefix))
            .order_by_asc(config_version::Column::Key)
            .order_by_desc(config_version::Column::Version)
            .all(&self.db)
            .await?;
        let mut latest: Vec<ConfigVersionRow> = Vec::new();
        for row in rows {
            if latest.last().is_none_or(|last| last.key != row.key) {
                latest.push(row);
            }
        }
        Ok(latest)
    }

    /// Appends a version. The (key, version) primary key makes concurrent writers of the same
    /// version collide; the loser gets `VersionConflict` and nothing is written.
    pub async fn insert_config_version(
        &self,
        row: ConfigVersionRow,
    ) -> Result<ConfigVersionRow, IdentityError> {
        let key = row.key.clone();
        let version = row.version;
        config_version::ActiveModel {
            key: Set(row.key),
            version: Set(row.version),
            value: Set(row.value),
            author: Set(row.author),
            comment: Set(row.comment),
            created_at: Set(row.created_at),
        }
        .insert(&self.db)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                IdentityError::VersionConflict {
                    key,
                    expected: version - 1,
                    current: version,
                }
            } else {
                e.into()
            }
        })
    }
}
