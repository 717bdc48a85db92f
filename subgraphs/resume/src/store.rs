//! Resume's tables (`resume_*`) and every query against them: the only module that touches
//! the database. Uploads commit the file bytes and the metadata in one transaction; a parse
//! result and its outbox row commit together, so indexing can never be forgotten.

use crate::ResumeError;
use chrono::{DateTime, Utc};
use looma_db::is_unique_violation;
use looma_outbox::{Action, OutboxTable};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub mod resume {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "resume_resumes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub content_hash: String,
        pub filename: String,
        pub content_type: String,
        pub format: String,
        pub size_bytes: i64,
        pub status: String,
        pub failure_reason: Option<String>,
        pub attempts: i32,
        pub lease_until: Option<DateTimeUtc>,
        /// JSON of `domain::profile::Profile`.
        pub profile: Option<String>,
        pub text: Option<String>,
        /// `|`-delimited canonical skills (`|Java|Go|`) so a skill filter is a LIKE.
        pub skills: Option<String>,
        pub city: Option<String>,
        pub degree: Option<String>,
        pub total_years: Option<f64>,
        /// Little-endian f32s.
        pub embedding: Option<Vec<u8>>,
        /// The model that made `embedding` (NULL: all-MiniLM-L6-v2, before models were
        /// recorded).
        pub embedding_model: Option<String>,
        pub uploaded_by: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub parsed_at: Option<DateTimeUtc>,
        pub indexed_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod file {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "resume_files")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub resume_id: String,
        pub bytes: Vec<u8>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Processing status values stored in `resume_resumes.status`.
pub mod status {
    pub const RECEIVED: &str = "RECEIVED";
    pub const PARSED: &str = "PARSED";
    pub const INDEXED: &str = "INDEXED";
    pub const FAILED: &str = "FAILED";
    pub const NEEDS_OCR: &str = "NEEDS_OCR";
}

/// Resume's outbox of index updates (`looma_outbox` dispatches it).
pub const OUTBOX: OutboxTable = OutboxTable {
    table: "resume_outbox",
    subject_column: "resume_id",
};

/// A new upload's metadata.
pub struct NewResume {
    pub id: String,
    pub content_hash: String,
    pub filename: String,
    pub content_type: String,
    pub format: String,
    pub size_bytes: i64,
    pub uploaded_by: Option<String>,
}

/// What a parse produced, stored together with its outbox row.
pub struct ParsedResume {
    pub profile_json: String,
    pub text: String,
    pub skills: Vec<String>,
    pub city: Option<String>,
    pub degree: Option<String>,
    pub total_years: Option<f64>,
    pub embedding: Option<Vec<f32>>,
    /// The model that made `embedding`.
    pub embedding_model: Option<String>,
}

/// Filters of the `resumes` list.
#[derive(Clone, Debug, Default)]
pub struct ResumeFilter {
    pub statuses: Vec<String>,
    pub skill: Option<String>,
    pub city: Option<String>,
    pub degree: Option<String>,
    pub min_years: Option<f64>,
}

/// Statement counters, observed at the driver (see `ResumeStore::new`).
#[derive(Default)]
pub struct StatementCounters {
    pub total: AtomicU64,
    pub resume_lookups_by_id: AtomicU64,
}

#[derive(Clone)]
pub struct ResumeStore {
    db: DatabaseConnection,
    counters: Arc<StatementCounters>,
    /// Seals uploaded files at rest (`server.encryption_keys`).
    keyring: Arc<looma_core::envelope::Keyring>,
}

impl ResumeStore {
    /// Wraps the shared pool in a connection handle of our own whose driver callback counts
    /// the statements this store sends (exported on `/metrics`; the DataLoader test asserts
    /// one lookup per entity batch with it).
    pub fn new(db: DatabaseConnection) -> Self {
        let counters = Arc::new(StatementCounters::default());
        let mut db = db;
        let observed = counters.clone();
        db.set_metric_callback(move |info| {
            observed.total.fetch_add(1, Ordering::Relaxed);
            let sql = info.statement.sql.as_str();
            if sql.starts_with("SELECT")
                && sql.contains("FROM \"resume_resumes\"")
                && sql.contains("\"resume_resumes\".\"id\" IN")
            {
                observed
                    .resume_lookups_by_id
                    .fetch_add(1, Ordering::Relaxed);
            }
        });
        ResumeStore {
            db,
            counters,
            keyring: Arc::new(looma_core::envelope::Keyring::disabled()),
        }
    }

    /// Uploaded files sealed with `keyring` from now on (files stored before encryption was
    /// configured are read as they are until `rewrap_files` seals them).
    pub fn with_keyring(mut self, keyring: Arc<looma_core::envelope::Keyring>) -> Self {
        self.keyring = keyring;
        self
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn counters(&self) -> &StatementCounters {
        &self.counters
    }

    /// Stores a new upload (metadata and bytes in one transaction) unless one with the same
    /// content hash exists, which is returned instead. `Ok((resume, created))`.
    pub async fn insert_upload(
        &self,
        new: NewResume,
        bytes: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Result<(resume::Model, bool), ResumeError> {
        if let Some(existing) = self.find_by_hash(&new.content_hash).await? {
            return Ok((existing, false));
        }
        let hash = new.content_hash.clone();
        let tx = self.db.begin().await?;
        let model = resume::ActiveModel {
            id: Set(new.id.clone()),
            content_hash: Set(new.content_hash),
            filename: Set(new.filename),
            content_type: Set(new.content_type),
            format: Set(new.format),
            size_bytes: Set(new.size_bytes),
            status: Set(status::RECEIVED.into()),
            failure_reason: Set(None),
            attempts: Set(0),
            lease_until: Set(None),
            profile: Set(None),
            text: Set(None),
            skills: Set(None),
            city: Set(None),
            degree: Set(None),
            total_years: Set(None),
            embedding: Set(None),
            embedding_model: Set(None),
            uploaded_by: Set(new.uploaded_by),
            created_at: Set(now),
            updated_at: Set(now),
            parsed_at: Set(None),
            indexed_at: Set(None),
        };
        let inserted = match model.insert(&tx).await {
            Ok(inserted) => inserted,
            Err(error) if is_unique_violation(&error) => {
                // A concurrent upload of the same content won the race.
                drop(tx);
                return match self.find_by_hash(&hash).await? {
                    Some(existing) => Ok((existing, false)),
                    None => Err(ResumeError::Storage(error)),
                };
            }
            Err(error) => return Err(error.into()),
        };
        file::ActiveModel {
            resume_id: Set(new.id),
            bytes: Set(self.keyring.seal(&bytes)),
        }
        .insert(&tx)
        .await?;
        tx.commit().await?;
        Ok((inserted, true))
    }

    pub async fn find_by_hash(&self, hash: &str) -> Result<Option<resume::Model>, ResumeError> {
        Ok(resume::Entity::find()
            .filter(resume::Column::ContentHash.eq(hash))
            .one(&self.db)
            .await?)
    }

    pub async fn get(&self, id: &str) -> Result<Option<resume::Model>, ResumeError> {
        Ok(resume::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    /// Many resumes in one statement (the entity DataLoader's batch).
    pub async fn get_many(&self, ids: &[String]) -> Result<Vec<resume::Model>, ResumeError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(resume::Entity::find()
            .filter(resume::Column::Id.is_in(ids.iter().cloned()))
            .all(&self.db)
            .await?)
    }

    /// A page of resumes, newest first, after the cursor id (ids are time-ordered UUIDv7).
    pub async fn list(
        &self,
        filter: &ResumeFilter,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<resume::Model>, ResumeError> {
        let mut condition = Condition::all();
        if !filter.statuses.is_empty() {
            condition = condition.add(resume::Column::Status.is_in(filter.statuses.clone()));
        }
        if let Some(skill) = &filter.skill {
            let escaped = skill
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            condition = condition
                .add(Expr::col(resume::Column::Skills).like(
                    sea_orm::sea_query::LikeExpr::new(format!("%|{escaped}|%")).escape('\\'),
                ));
        }
        if let Some(city) = &filter.city {
            condition = condition.add(resume::Column::City.eq(city.clone()));
        }
        if let Some(degree) = &filter.degree {
            condition = condition.add(resume::Column::Degree.eq(degree.clone()));
        }
        if let Some(min_years) = filter.min_years {
            condition = condition.add(resume::Column::TotalYears.gte(min_years));
        }
        if let Some(after) = after {
            condition = condition.add(resume::Column::Id.lt(after.to_owned()));
        }
        Ok(resume::Entity::find()
            .filter(condition)
            .order_by_desc(resume::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    pub async fn file_bytes(&self, id: &str) -> Result<Option<Vec<u8>>, ResumeError> {
        let Some(file) = file::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let bytes = self
            .keyring
            .open(&file.bytes)
            .map_err(|e| ResumeError::Internal(format!("resume file {id}: {e}")))?;
        Ok(Some(bytes.into_owned()))
    }

    /// Seals every stored file under the active master key (after a rotation, or when
    /// encryption was just configured), one file at a time; returns how many were rewritten.
    pub async fn rewrap_files(&self) -> Result<usize, ResumeError> {
        let ids: Vec<String> = file::Entity::find()
            .select_only()
            .column(file::Column::ResumeId)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut rewritten = 0;
        for id in ids {
            let Some(file) = file::Entity::find_by_id(id.clone()).one(&self.db).await? else {
                continue;
            };
            let Some(sealed) = self
                .keyring
                .rewrap(&file.bytes)
                .map_err(|e| ResumeError::Internal(format!("resume file {id}: {e}")))?
            else {
                continue;
            };
            file::Entity::update_many()
                .col_expr(file::Column::Bytes, Expr::value(sealed))
                .filter(file::Column::ResumeId.eq(id))
                .exec(&self.db)
                .await?;
            rewritten += 1;
        }
        Ok(rewritten)
    }

    /// Claims one resume awaiting processing (`RECEIVED`, lease free or expired) by writing a
    /// lease; another worker or replica cannot claim it until the lease runs out.
    pub async fn claim_next(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<resume::Model>, ResumeError> {
        let candidates = resume::Entity::find()
            .filter(resume::Column::Status.eq(status::RECEIVED))
            .filter(
                Condition::any()
                    .add(resume::Column::LeaseUntil.is_null())
                    .add(resume::Column::LeaseUntil.lt(now)),
            )
            .order_by_asc(resume::Column::CreatedAt)
            .limit(4)
            .all(&self.db)
            .await?;
        for candidate in candidates {
            // Conditional on the lease still being free: of two workers racing for the same
            // row, exactly one update matches.
            let claim = resume::Entity::update_many()
                .col_expr(resume::Column::LeaseUntil, Expr::value(lease_until))
                .col_expr(
                    resume::Column::Attempts,
                    Expr::col(resume::Column::Attempts).add(1),
                )
                .filter(resume::Column::Id.eq(candidate.id.clone()))
                .filter(resume::Column::Status.eq(status::RECEIVED))
                .filter(
                    Condition::any()
                        .add(resume::Column::LeaseUntil.is_null())
                        .add(resume::Column::LeaseUntil.lt(now)),
                );
            if claim.exec(&self.db).await?.rows_affected == 1 {
                return self.get(&candidate.id).await;
            }
        }
        Ok(None)
    }

    /// Replaces a resume's embedding (a re-embed after a model change); nothing else moves.
    pub async fn set_embedding(
        &self,
        id: &str,
        embedding: &[f32],
        model: &str,
    ) -> Result<(), ResumeError> {
        let bytes = looma_embed::vector_to_bytes(embedding);
        resume::Entity::update_many()
            .col_expr(resume::Column::Embedding, Expr::value(bytes))
            .col_expr(resume::Column::EmbeddingModel, Expr::value(model))
            .filter(resume::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Stores a parse result and queues it for indexing, atomically.
    pub async fn save_parsed(
        &self,
        id: &str,
        parsed: ParsedResume,
        now: DateTime<Utc>,
    ) -> Result<(), ResumeError> {
        let tx = self.db.begin().await?;
        let skills = if parsed.skills.is_empty() {
            String::new()
        } else {
            format!("|{}|", parsed.skills.join("|"))
        };
        let embedding = parsed
            .embedding
            .map(|vector| looma_embed::vector_to_bytes(&vector));
        resume::Entity::update_many()
            .col_expr(resume::Column::Status, Expr::value(status::PARSED))
            .col_expr(
                resume::Column::FailureReason,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                resume::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(resume::Column::Profile, Expr::value(parsed.profile_json))
            .col_expr(resume::Column::Text, Expr::value(parsed.text))
            .col_expr(resume::Column::Skills, Expr::value(skills))
            .col_expr(resume::Column::City, Expr::value(parsed.city))
            .col_expr(resume::Column::Degree, Expr::value(parsed.degree))
            .col_expr(resume::Column::TotalYears, Expr::value(parsed.total_years))
            .col_expr(resume::Column::Embedding, Expr::value(embedding))
            .col_expr(
                resume::Column::EmbeddingModel,
                Expr::value(parsed.embedding_model),
            )
            .col_expr(resume::Column::ParsedAt, Expr::value(now))
            .col_expr(resume::Column::UpdatedAt, Expr::value(now))
            .filter(resume::Column::Id.eq(id))
            .exec(&tx)
            .await?;
        OUTBOX.enqueue(&tx, id, Action::Upsert, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends processing without a profile (`FAILED` or `NEEDS_OCR`).
    pub async fn save_failed(
        &self,
        id: &str,
        final_status: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ResumeError> {
        resume::Entity::update_many()
            .col_expr(resume::Column::Status, Expr::value(final_status))
            .col_expr(resume::Column::FailureReason, Expr::value(reason))
            .col_expr(
                resume::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(resume::Column::UpdatedAt, Expr::value(now))
            .filter(resume::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Puts a resume back to `RECEIVED` so the worker parses it again.
    pub async fn reset_for_reprocess(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ResumeError> {
        let result = resume::Entity::update_many()
            .col_expr(resume::Column::Status, Expr::value(status::RECEIVED))
            .col_expr(
                resume::Column::FailureReason,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                resume::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(resume::Column::Attempts, Expr::value(0))
            .col_expr(resume::Column::UpdatedAt, Expr::value(now))
            .filter(resume::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Deletes a resume (its file cascades) and queues its removal from the index.
    pub async fn delete(&self, id: &str, now: DateTime<Utc>) -> Result<bool, ResumeError> {
        let tx = self.db.begin().await?;
        file::Entity::delete_by_id(id.to_owned()).exec(&tx).await?;
        let deleted = resume::Entity::delete_by_id(id.to_owned())
            .exec(&tx)
            .await?;
        if deleted.rows_affected == 1 {
            OUTBOX.enqueue(&tx, id, Action::Delete, now).await?;
        }
        tx.commit().await?;
        Ok(deleted.rows_affected == 1)
    }

    /// Marks a resume indexed once search accepted its upsert; runs in the transaction that
    /// removes the outbox row (`looma_outbox::Deliver::delivered`).
    pub async fn mark_indexed<C: sea_orm::ConnectionTrait>(
        db: &C,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sea_orm::DbErr> {
        resume::Entity::update_many()
            .col_expr(resume::Column::Status, Expr::value(status::INDEXED))
            .col_expr(resume::Column::IndexedAt, Expr::value(now))
            .col_expr(resume::Column::UpdatedAt, Expr::value(now))
            .filter(resume::Column::Id.eq(id))
            .filter(resume::Column::Status.eq(status::PARSED))
            .exec(db)
            .await?;
        Ok(())
    }

    /// Index updates waiting in the outbox.
    pub async fn outbox_len(&self) -> Result<u64, ResumeError> {
        Ok(OUTBOX.pending(&self.db).await?)
    }

    pub async fn enqueue_upsert(&self, id: &str, now: DateTime<Utc>) -> Result<(), ResumeError> {
        Ok(OUTBOX.enqueue(&self.db, id, Action::Upsert, now).await?)
    }

    /// Every resume id with a profile, for a full reindex.
    pub async fn parsed_ids(&self) -> Result<Vec<String>, ResumeError> {
        Ok(resume::Entity::find()
            .select_only()
            .column(resume::Column::Id)
            .filter(resume::Column::Status.is_in([status::PARSED, status::INDEXED]))
            .into_tuple::<String>()
            .all(&self.db)
            .await?)
    }
}
