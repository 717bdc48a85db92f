//! Matching's tables (`matching_*`) and every query against them: jobs, the outbox of job
//! index updates (committed with the job write, so search never misses one) and match runs.

use crate::MatchingError;
use chrono::{DateTime, Utc};
use looma_outbox::{Action, OutboxTable};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};

pub mod job {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "matching_jobs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub title: String,
        pub company: Option<String>,
        pub description: String,
        /// JSON array of canonical skill names.
        pub required_skills: String,
        pub preferred_skills: String,
        /// The skills were extracted from the description (none were given).
        pub skills_extracted: bool,
        pub min_years: Option<f64>,
        pub education: Option<String>,
        pub city: Option<String>,
        pub remote: bool,
        pub salary_min: Option<f64>,
        pub salary_max: Option<f64>,
        /// `OPEN` or `CLOSED`.
        pub status: String,
        /// Little-endian f32s.
        pub embedding: Option<Vec<u8>>,
        /// The model that made `embedding` (NULL: all-MiniLM-L6-v2, before models were
        /// recorded).
        pub embedding_model: Option<String>,
        /// CSCO job family code (`2-02`) of the title, from text analytics.
        pub job_family: Option<String>,
        /// JSON array of the keywords of the title and description.
        pub keywords: String,
        pub created_by: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        pub fn required(&self) -> Vec<String> {
            serde_json::from_str(&self.required_skills).unwrap_or_default()
        }

        pub fn preferred(&self) -> Vec<String> {
            serde_json::from_str(&self.preferred_skills).unwrap_or_default()
        }

        pub fn keywords(&self) -> Vec<String> {
            serde_json::from_str(&self.keywords).unwrap_or_default()
        }

        /// The model that made the stored vector, `None` without one.
        pub fn vector_model(&self) -> Option<&str> {
            self.embedding.as_ref()?;
            Some(
                self.embedding_model
                    .as_deref()
                    .unwrap_or(looma_embed::LEGACY_MODEL_ID),
            )
        }

        /// The stored vector when `model` made it: vectors of two models are never compared.
        pub fn vector_of(&self, model: &str) -> Option<Vec<f32>> {
            if self.vector_model() != Some(model) {
                return None;
            }
            self.vector()
        }

        pub fn vector(&self) -> Option<Vec<f32>> {
            self.embedding
                .as_deref()
                .map(looma_embed::vector_from_bytes)
        }
    }
}

pub mod run {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "matching_runs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// `JOBS` (jobs for a resume) or `CANDIDATES` (candidates for a job).
        pub direction: String,
        pub subject_id: String,
        pub requested_by: String,
        /// JSON of the hard filters.
        pub filters: String,
        pub result_limit: i32,
        pub weights_version: i32,
        /// JSON of the normalised weights used.
        pub weights: String,
        /// JSON array of `{id, score}`, best first.
        pub results: String,
        pub duration_ms: f64,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod status {
    pub const OPEN: &str = "OPEN";
    pub const CLOSED: &str = "CLOSED";
}

/// Matching's outbox of job index updates (`looma_outbox` dispatches it).
pub const OUTBOX: OutboxTable = OutboxTable {
    table: "matching_outbox",
    subject_column: "job_id",
};

#[derive(Clone)]
pub struct MatchingStore {
    db: DatabaseConnection,
}

impl MatchingStore {
    pub fn new(db: DatabaseConnection) -> Self {
        MatchingStore { db }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Replaces a job's embedding (a re-embed after a model change); nothing else moves and
    /// no index update is queued (the reindex that asks for it sends the job).
    pub async fn set_embedding(
        &self,
        id: &str,
        embedding: &[f32],
        model: &str,
    ) -> Result<(), MatchingError> {
        let bytes = looma_embed::vector_to_bytes(embedding);
        job::Entity::update_many()
            .col_expr(job::Column::Embedding, Expr::value(bytes))
            .col_expr(job::Column::EmbeddingModel, Expr::value(model))
            .filter(job::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Inserts a job (`expected_updated_at: None`) or replaces it if nobody changed it since
    /// `expected_updated_at` (else `CONFLICT`), and queues its index update, in one
    /// transaction.
    pub async fn save_job(
        &self,
        model: job::Model,
        expected_updated_at: Option<DateTime<Utc>>,
    ) -> Result<job::Model, MatchingError> {
        let tx = self.db.begin().await?;
        let now = model.updated_at;
        let id = model.id.clone();
        let active: job::ActiveModel = model.into();
        let active = active.reset_all();
        let saved = match expected_updated_at {
            None => active.insert(&tx).await?,
            Some(expected) => {
                let updated = job::Entity::update_many()
                    .set(active)
                    .filter(job::Column::Id.eq(id.clone()))
                    .filter(job::Column::UpdatedAt.eq(expected))
                    .exec(&tx)
                    .await?;
                if updated.rows_affected != 1 {
                    return Err(MatchingError::Conflict(format!(
                        "job `{id}` changed while this update was prepared; read it and retry"
                    )));
                }
                job::Entity::find_by_id(id.clone())
                    .one(&tx)
                    .await?
                    .ok_or_else(|| MatchingError::NotFound {
                        what: "job",
                        id: id.clone(),
                    })?
            }
        };
        OUTBOX.enqueue(&tx, &id, Action::Upsert, now).await?;
        tx.commit().await?;
        Ok(saved)
    }

    pub async fn job(&self, id: &str) -> Result<Option<job::Model>, MatchingError> {
        Ok(job::Entity::find_by_id(id.to_owned()).one(&self.db).await?)
    }

    /// Jobs by id in one statement (entity batches, shortlists); unknown ids are skipped.
    pub async fn jobs(&self, ids: &[String]) -> Result<Vec<job::Model>, MatchingError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(job::Entity::find()
            .filter(job::Column::Id.is_in(ids.iter().cloned()))
            .all(&self.db)
            .await?)
    }

    /// Jobs newest first, optionally only one status, after the job id `after` (time-ordered
    /// UUIDv7).
    pub async fn list_jobs(
        &self,
        status: Option<&str>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<job::Model>, MatchingError> {
        let mut query = job::Entity::find();
        if let Some(status) = status {
            query = query.filter(job::Column::Status.eq(status));
        }
        if let Some(after) = after {
            query = query.filter(job::Column::Id.lt(after));
        }
        Ok(query
            .order_by_desc(job::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    pub async fn job_ids(&self) -> Result<Vec<String>, MatchingError> {
        Ok(job::Entity::find()
            .select_only()
            .column(job::Column::Id)
            .into_tuple::<String>()
            .all(&self.db)
            .await?)
    }

    /// Job index updates waiting in the outbox.
    pub async fn outbox_len(&self) -> Result<u64, MatchingError> {
        Ok(OUTBOX.pending(&self.db).await?)
    }

    pub async fn record_run(&self, model: run::Model) -> Result<(), MatchingError> {
        let active: run::ActiveModel = model.into();
        active.reset_all().insert(&self.db).await?;
        Ok(())
    }

    pub async fn run(&self, id: &str) -> Result<Option<run::Model>, MatchingError> {
        Ok(run::Entity::find_by_id(id.to_owned()).one(&self.db).await?)
    }

    /// Runs newest first, optionally for one subject, after the run id `after` (ids are
    /// time-ordered UUIDv7, so id order is creation order).
    pub async fn runs(
        &self,
        subject: Option<&str>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<run::Model>, MatchingError> {
        let mut query = run::Entity::find();
        if let Some(subject) = subject {
            query = query.filter(run::Column::SubjectId.eq(subject));
        }
        if let Some(after) = after {
            query = query.filter(run::Column::Id.lt(after));
        }
        Ok(query
            .order_by_desc(run::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }
}
