//! Resume use cases: accept an upload (validated, de-duplicated, committed before it is
//! acknowledged), the background worker that parses and embeds, and the delivery of outbox
//! rows to search (the dispatcher and its retry policy are `looma_outbox`'s).

use crate::ResumeError;
use crate::config::ResumeConfig;
use crate::domain::parse::{parse_profile, prepare_text};
use crate::domain::pii;
use crate::domain::profile::{Profile, YearMonth};
use crate::store::{self, NewResume, ParsedResume, ResumeFilter, ResumeStore, resume, status};
use chrono::{DateTime, Datelike, Duration as ChronoDuration, Utc};
use looma_embed::{EmbedError, EmbeddingService, TextKind};
use looma_extract::format::{DocumentFormat, FormatError, detect_format};
use looma_extract::{ExtractError, ExtractLimits, extract_text};
use looma_outbox::{Action, Deliver, DeliveryError, Outbox, OutboxMetrics, OutboxRow};
use looma_search_client::{Collection, SearchClient, SearchClientError, SearchDocument};
use sea_orm::{DatabaseTransaction, DbErr};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct ResumeService {
    inner: Arc<Inner>,
}

struct Inner {
    store: ResumeStore,
    config: ResumeConfig,
    embedder: EmbeddingService,
    /// Job family of each parsed profile's headline.
    analyzer: looma_analytics::TextAnalyzer,
    work: Notify,
    outbox: Outbox<ResumeDelivery>,
    flags: looma_server::FeatureFlags,
    /// The shared cache the router keeps `Resume` answers in (see `looma_cache::entities`),
    /// told of every change; `None` for tools that change nothing a client reads.
    entity_cache: Option<Arc<dyn looma_cache::Cache>>,
}

pub struct Upload {
    pub filename: String,
    pub bytes: Vec<u8>,
    pub uploaded_by: Option<String>,
}

impl ResumeService {
    pub fn new(
        store: ResumeStore,
        config: ResumeConfig,
        embedder: EmbeddingService,
        indexer: Option<SearchClient>,
        entity_cache: Option<Arc<dyn looma_cache::Cache>>,
    ) -> Self {
        let outbox = Outbox::new(
            store.connection().clone(),
            store::OUTBOX,
            ResumeDelivery {
                store: store.clone(),
                search: indexer,
                embedder: embedder.clone(),
                entity_cache: entity_cache.clone(),
            },
        );
        ResumeService {
            inner: Arc::new(Inner {
                store,
                config,
                analyzer: looma_analytics::TextAnalyzer::new(embedder.clone()),
                embedder,
                work: Notify::new(),
                outbox,
                flags: looma_server::FeatureFlags::always_on(),
                entity_cache,
            }),
        }
    }

    /// Gates uploads and reprocessing on identity's `resume_processing` flag.
    pub fn with_feature_flags(mut self, flags: looma_server::FeatureFlags) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.flags = flags;
        }
        self
    }

    /// Called after every change to a stored resume (status, profile, deletion).
    async fn changed(&self, id: &str) {
        looma_cache::entities::invalidate_by_id(self.inner.entity_cache.as_deref(), "Resume", id)
            .await;
    }

    async fn require_processing(&self) -> Result<(), ResumeError> {
        if self.inner.flags.enabled("resume_processing").await {
            Ok(())
        } else {
            Err(ResumeError::FeatureDisabled)
        }
    }

    pub fn store(&self) -> &ResumeStore {
        &self.inner.store
    }

    pub fn config(&self) -> &ResumeConfig {
        &self.inner.config
    }

    pub fn embedder(&self) -> &EmbeddingService {
        &self.inner.embedder
    }

    /// Validates and stores an upload. Returns the stored resume and whether it is new
    /// (`false`: the same content was uploaded before, and that resume is returned).
    pub async fn upload(&self, upload: Upload) -> Result<(resume::Model, bool), ResumeError> {
        self.require_processing().await?;
        let config = &self.inner.config;
        let size = upload.bytes.len() as u64;
        if size > config.max_upload_bytes {
            return Err(ResumeError::FileTooLarge {
                size,
                limit: config.max_upload_bytes,
            });
        }
        let filename = sanitize_filename(&upload.filename)?;
        let format = detect_format(&upload.bytes, &filename).map_err(|e| match e {
            FormatError::Empty => ResumeError::invalid("file", "the file is empty"),
            FormatError::Unsupported(_) => ResumeError::UnsupportedFormat(e.to_string()),
        })?;
        if format == DocumentFormat::Docx {
            check_docx_container(&upload.bytes, config.max_docx_decompressed_bytes)?;
        }
        let hash = hex(&Sha256::digest(&upload.bytes));
        let new = NewResume {
            id: uuid::Uuid::now_v7().to_string(),
            content_hash: hash,
            filename,
            content_type: format.mime_type().into(),
            format: format.as_str().into(),
            size_bytes: size as i64,
            uploaded_by: upload.uploaded_by,
        };
        let (model, created) = self
            .inner
            .store
            .insert_upload(new, upload.bytes, Utc::now())
            .await?;
        if created {
            self.inner.work.notify_one();
        }
        Ok((model, created))
    }

    pub async fn get(&self, id: &str) -> Result<resume::Model, ResumeError> {
        self.inner
            .store
            .get(id)
            .await?
            .ok_or_else(|| ResumeError::NotFound(id.to_owned()))
    }

    pub async fn get_many(&self, ids: &[String]) -> Result<Vec<resume::Model>, ResumeError> {
        self.inner.store.get_many(ids).await
    }

    pub async fn list(
        &self,
        filter: &ResumeFilter,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<resume::Model>, ResumeError> {
        self.inner.store.list(filter, after, limit).await
    }

    /// Queues a resume for parsing again (after a failure, or a parser upgrade).
    pub async fn reprocess(&self, id: &str) -> Result<resume::Model, ResumeError> {
        self.require_processing().await?;
        if !self.inner.store.reset_for_reprocess(id, Utc::now()).await? {
            return Err(ResumeError::NotFound(id.to_owned()));
        }
        self.changed(id).await;
        self.inner.work.notify_one();
        self.get(id).await
    }

    pub async fn delete(&self, id: &str) -> Result<(), ResumeError> {
        if !self.inner.store.delete(id, Utc::now()).await? {
            return Err(ResumeError::NotFound(id.to_owned()));
        }
        self.changed(id).await;
        self.inner.outbox.wake();
        Ok(())
    }

    /// Runs the parser worker and the outbox dispatcher until `stop` turns true. A parse in
    /// flight at that moment is abandoned; its lease expires and another worker retakes it.
    pub fn spawn_background(&self, stop: tokio::sync::watch::Receiver<bool>) {
        let worker = self.clone();
        let mut worker_stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = worker.run_worker() => {}
                _ = worker_stop.wait_for(|s| *s) => {}
            }
        });
        let poll = Duration::from_millis(self.inner.config.poll_interval_ms);
        self.inner.outbox.spawn(poll, stop);
    }

    async fn run_worker(self) {
        let poll = Duration::from_millis(self.inner.config.poll_interval_ms);
        loop {
            loop {
                match self.process_next().await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(error) => {
                        tracing::warn!(%error, "resume worker: could not process; retrying later");
                        break;
                    }
                }
            }
            let _ = tokio::time::timeout(poll, self.inner.work.notified()).await;
        }
    }

    /// Claims and processes one resume. `Ok(false)` when nothing is waiting.
    pub async fn process_next(&self) -> Result<bool, ResumeError> {
        let now = Utc::now();
        let lease = now + ChronoDuration::seconds(self.inner.config.lease_secs as i64);
        let Some(claimed) = self.inner.store.claim_next(now, lease).await? else {
            return Ok(false);
        };
        let id = claimed.id.clone();
        self.changed(&id).await;
        let outcome = self.process_claimed(claimed).await;
        self.changed(&id).await;
        outcome
    }

    /// Parses a claimed resume and stores the outcome (parsed, failed or needing OCR).
    async fn process_claimed(&self, claimed: resume::Model) -> Result<bool, ResumeError> {
        let id = claimed.id.clone();
        if claimed.attempts > self.inner.config.max_attempts {
            let reason = format!(
                "gave up after {} attempts (the parser crashed or timed out each time)",
                self.inner.config.max_attempts
            );
            self.inner
                .store
                .save_failed(&id, status::FAILED, &reason, Utc::now())
                .await?;
            record_parse(status::FAILED);
            return Ok(true);
        }
        let Some(bytes) = self.inner.store.file_bytes(&id).await? else {
            self.inner
                .store
                .save_failed(
                    &id,
                    status::FAILED,
                    "the stored file is missing",
                    Utc::now(),
                )
                .await?;
            record_parse(status::FAILED);
            return Ok(true);
        };
        let format = DocumentFormat::parse(&claimed.format).unwrap_or(DocumentFormat::Txt);
        let limits = ExtractLimits::new(
            self.inner.config.max_docx_decompressed_bytes,
            self.inner.config.ocr,
        );
        let as_of = {
            let today = Utc::now().date_naive();
            YearMonth::new(today.year(), Some(today.month()))
        };
        let parse =
            tokio::task::spawn_blocking(move || -> Result<(String, Profile), ExtractError> {
                let extracted = extract_text(&bytes, format, limits)?;
                let text = prepare_text(&extracted.text);
                let profile = parse_profile(&text, as_of);
                Ok((text, profile))
            });
        let timeout = Duration::from_millis(self.inner.config.parse_timeout_ms);
        let outcome = match tokio::time::timeout(timeout, parse).await {
            // The blocking thread finishes on its own; its result is dropped.
            Err(_) => Err((
                status::FAILED,
                format!(
                    "parsing took longer than the {} ms limit (resume.parse_timeout_ms)",
                    timeout.as_millis()
                ),
            )),
            Ok(Err(join_error)) => {
                Err((status::FAILED, format!("the parser crashed: {join_error}")))
            }
            Ok(Ok(Err(ExtractError::NeedsOcr(reason)))) => Err((status::NEEDS_OCR, reason)),
            Ok(Ok(Err(ExtractError::Invalid(reason)))) => Err((status::FAILED, reason)),
            Ok(Ok(Ok(parsed))) => Ok(parsed),
        };
        let (text, mut profile) = match outcome {
            Ok(parsed) => parsed,
            Err((final_status, reason)) => {
                tracing::info!(resume = %id, status = final_status, %reason, "resume not parsed");
                self.inner
                    .store
                    .save_failed(&id, final_status, &reason, Utc::now())
                    .await?;
                record_parse(final_status);
                return Ok(true);
            }
        };
        let embedding = match self
            .inner
            .embedder
            .embed_one(&embedding_text(&profile), TextKind::Passage)
            .await
        {
            Ok(vector) => Some(vector),
            Err(EmbedError::ModelUnavailable { .. }) => {
                tracing::warn!(resume = %id, "embedding model not installed; stored without a vector");
                None
            }
            Err(error) => {
                tracing::warn!(resume = %id, %error, "embedding failed; stored without a vector");
                None
            }
        };
        if let Some(headline) = profile.headline.as_deref() {
            match self.inner.analyzer.job_family(headline).await {
                Ok(family) => profile.job_family = family.map(|f| f.code),
                Err(error) => {
                    tracing::warn!(resume = %id, %error, "job family not found; stored without one")
                }
            }
        }
        let parsed = ParsedResume {
            profile_json: serde_json::to_string(&profile)
                .map_err(|e| ResumeError::Internal(e.to_string()))?,
            text,
            skills: profile.skills.clone(),
            city: profile.city.clone(),
            degree: profile.highest_degree.clone(),
            total_years: profile.total_years,
            embedding_model: embedding.as_ref().map(|_| self.inner.embedder.model_id()),
            embedding,
        };
        self.inner
            .store
            .save_parsed(&id, parsed, Utc::now())
            .await?;
        tracing::info!(resume = %id, "resume parsed");
        record_parse(status::PARSED);
        self.inner.outbox.wake();
        Ok(true)
    }

    /// One outbox pass: sends due index updates to search (see `looma_outbox` for the
    /// retry and failure policy). Returns how many search accepted.
    pub async fn dispatch_outbox(&self) -> Result<usize, ResumeError> {
        Ok(self.inner.outbox.dispatch_due().await?)
    }

    /// The outbox's counters (delivered, failed, pending, lag) for `/metrics`.
    pub async fn outbox_metrics(&self) -> Result<OutboxMetrics, ResumeError> {
        Ok(self.inner.outbox.metrics().await?)
    }

    /// Refreshes what `/metrics` reads from sources rather than counts as it happens: the
    /// store's statement counters and the outbox.
    pub async fn record_metrics(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let counters = self.inner.store.counters();
        // Gauges set to this store's totals (a counter's `absolute` keeps the largest value
        // ever set, which would mix stores when a process holds several, as tests do).
        metrics::gauge!("looma_resume_sql_statements_total", "component" => crate::COMPONENT)
            .set(counters.total.load(Relaxed) as f64);
        metrics::gauge!("looma_resume_sql_lookups_by_id_total", "component" => crate::COMPONENT)
            .set(counters.resume_lookups_by_id.load(Relaxed) as f64);
        match self.outbox_metrics().await {
            Ok(outbox) => outbox.record(crate::COMPONENT),
            Err(error) => tracing::debug!(%error, "outbox counters not read for /metrics"),
        }
    }

    /// Rebuilds the search collection from this subgraph's tables (`looma search reindex
    /// resumes`) without emptying what searches read: begins a reindex (a staged version),
    /// sends every parsed resume into it in batches of `batch`, calling `progress(sent,
    /// total)` after each, then commits it (searches switch at once). A failure aborts the
    /// reindex and leaves the live version as it was. Resumes parsed meanwhile reach search
    /// through the outbox as usual, and search writes them to both versions.
    pub async fn reindex(
        &self,
        indexer: &SearchClient,
        batch: usize,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<u64, ResumeError> {
        let unreachable =
            |e: SearchClientError| ResumeError::Internal(format!("reindex stopped: {e}"));
        // Begun before the tables are read: whatever changes after reaches both versions.
        let reindex = indexer
            .begin_reindex(Collection::Resumes)
            .await
            .map_err(unreachable)?;
        let sent = async {
            let ids = self.inner.store.parsed_ids().await?;
            let total = ids.len() as u64;
            progress(0, total);
            let current = self.inner.embedder.model_id();
            let mut sent = 0u64;
            for chunk in ids.chunks(batch.max(1)) {
                let mut models = self.inner.store.get_many(chunk).await?;
                self.reembed_stale(&mut models, &current).await?;
                let documents: Vec<_> = models
                    .iter()
                    .map(|model| index_document(model, &current))
                    .collect();
                indexer
                    .index_into(&reindex, &documents)
                    .await
                    .map_err(unreachable)?;
                sent += chunk.len() as u64;
                progress(sent, total);
            }
            Ok::<u64, ResumeError>(sent)
        }
        .await;
        match sent {
            Ok(sent) => {
                indexer
                    .commit_reindex(&reindex)
                    .await
                    .map_err(unreachable)?;
                Ok(sent)
            }
            Err(error) => {
                if let Err(abort) = indexer.abort_reindex(&reindex).await {
                    tracing::warn!(%abort, "the failed reindex was not aborted; search drops it at its next reindex or start");
                }
                Err(error)
            }
        }
    }

    /// Embeds again, with the current model, the resumes whose vector another model made
    /// (after `embed.model` changed), and stores the new vectors. Without the model they keep
    /// their old vectors, which `index_document` leaves out.
    async fn reembed_stale(
        &self,
        models: &mut [resume::Model],
        current: &str,
    ) -> Result<(), ResumeError> {
        let stale: Vec<usize> = (0..models.len())
            .filter(|&i| {
                models[i].profile.is_some() && embedding_model(&models[i]) != Some(current)
            })
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        let texts: Vec<String> = stale
            .iter()
            .map(|&i| {
                let profile: Profile = models[i]
                    .profile
                    .as_deref()
                    .and_then(|p| serde_json::from_str(p).ok())
                    .unwrap_or_default();
                embedding_text(&profile)
            })
            .collect();
        let vectors = match self.inner.embedder.embed(texts, TextKind::Passage).await {
            Ok(vectors) => vectors,
            Err(error) => {
                tracing::warn!(%error, "re-embedding failed; these resumes are indexed without vectors");
                return Ok(());
            }
        };
        for (&i, vector) in stale.iter().zip(vectors) {
            self.inner
                .store
                .set_embedding(&models[i].id, &vector, current)
                .await?;
            models[i].embedding = Some(looma_embed::vector_to_bytes(&vector));
            models[i].embedding_model = Some(current.to_owned());
        }
        Ok(())
    }

    /// Queues every parsed resume for indexing again, through the outbox.
    pub async fn requeue_all_for_index(&self) -> Result<usize, ResumeError> {
        let ids = self.inner.store.parsed_ids().await?;
        for id in &ids {
            self.inner.store.enqueue_upsert(id, Utc::now()).await?;
        }
        self.inner.outbox.wake();
        Ok(ids.len())
    }
}

/// What represents a candidate for semantic search: headline, skills, roles, summary.
pub fn embedding_text(profile: &Profile) -> String {
    let mut parts = Vec::new();
    if let Some(headline) = &profile.headline {
        parts.push(headline.clone());
    }
    if !profile.skills.is_empty() {
        parts.push(format!("Skills: {}", profile.skills.join(", ")));
    }
    for job in profile.experience.iter().take(4) {
        let role = [job.title.as_deref(), job.company.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" @ ");
        if !role.is_empty() {
            parts.push(role);
        }
    }
    if let Some(summary) = &profile.summary {
        parts.push(summary.clone());
    }
    parts.join(". ")
}

/// The search document for a parsed resume. Contact details never leave this subgraph
/// unmasked: the content and headline are masked (`domain::pii`), the title is never the
/// file name, and the name travels only in its own field, which search shows to `resume:pii`
/// alone. The vector travels only when `current_model` (the deployment's embedding model)
/// made it: search never mixes models, and a reindex re-embeds the others.
pub fn index_document(model: &resume::Model, current_model: &str) -> SearchDocument {
    let profile: Profile = model
        .profile
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_default();
    let name = profile.name.as_deref();
    let content = pii::mask_contacts(model.text.as_deref().unwrap_or(""), name);
    let headline = profile
        .headline
        .as_deref()
        .map(|h| pii::mask_contacts(h, name));
    let title = headline
        .clone()
        .unwrap_or_else(|| format!("Resume {}", pii::short_id(&model.id)));
    let vector = model
        .embedding
        .as_ref()
        .filter(|_| embedding_model(model) == Some(current_model))
        .map(|bytes| looma_embed::vector_from_bytes(bytes));
    let metadata = json!({
        "language": profile.language,
        "headline": headline,
        "totalYears": profile.total_years,
        "highestDegree": profile.highest_degree,
        "city": profile.city,
        "skills": profile.skills,
    });
    // Keywords are facet values anyone searching may see: none that reveals the candidate.
    let keywords = profile
        .keywords
        .iter()
        .filter(|k| pii::mask_contacts(k, name) == **k)
        .cloned()
        .collect();
    SearchDocument {
        skills: profile.skills,
        city: profile.city,
        degree: profile.highest_degree,
        years: profile.total_years,
        status: Some(model.status.clone()),
        job_family: profile.job_family,
        keywords,
        name: profile.name,
        metadata,
        vector_model: vector.as_ref().map(|_| current_model.to_owned()),
        vector,
        ..SearchDocument::new(model.id.clone(), Collection::Resumes, title, content)
    }
}

/// Delivers resume's outbox rows to search: an upsert sends the resume's current document
/// (nothing when it was deleted since: the delete row that follows removes it), a delete
/// removes it from the collection.
struct ResumeDelivery {
    store: ResumeStore,
    /// `None` while `resume.search_url` or the router secret is missing: rows wait.
    search: Option<SearchClient>,
    /// Whose model's vectors may travel (see `index_document`).
    embedder: EmbeddingService,
    /// Told when a resume becomes `INDEXED`.
    entity_cache: Option<Arc<dyn looma_cache::Cache>>,
}

/// The model that made a resume's stored vector (rows from before models were recorded:
/// all-MiniLM-L6-v2), `None` without a vector.
pub fn embedding_model(model: &resume::Model) -> Option<&str> {
    model.embedding.as_ref()?;
    Some(
        model
            .embedding_model
            .as_deref()
            .unwrap_or(looma_embed::LEGACY_MODEL_ID),
    )
}

fn delivery_error(error: SearchClientError) -> DeliveryError {
    if error.is_unavailable() {
        DeliveryError::Unavailable(error.to_string())
    } else {
        DeliveryError::Rejected(error.to_string())
    }
}

#[async_trait::async_trait]
impl Deliver for ResumeDelivery {
    async fn deliver(&self, row: &OutboxRow) -> Result<(), DeliveryError> {
        let Some(search) = &self.search else {
            return Err(DeliveryError::Unavailable(
                "no search URL configured (`resume.search_url`)".to_owned(),
            ));
        };
        match row.action {
            Action::Delete => search
                .remove(Collection::Resumes, std::slice::from_ref(&row.subject_id))
                .await
                .map(drop)
                .map_err(delivery_error),
            Action::Upsert => {
                let model = self
                    .store
                    .get(&row.subject_id)
                    .await
                    .map_err(|e| DeliveryError::Rejected(e.to_string()))?;
                let Some(model) = model else {
                    return Ok(());
                };
                search
                    .index(&[index_document(&model, &self.embedder.model_id())])
                    .await
                    .map(drop)
                    .map_err(delivery_error)
            }
        }
    }

    async fn delivered(
        &self,
        tx: &DatabaseTransaction,
        row: &OutboxRow,
        now: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        if row.action == Action::Upsert {
            ResumeStore::mark_indexed(tx, &row.subject_id, now).await?;
        }
        Ok(())
    }

    async fn committed(&self, row: &OutboxRow) {
        if row.action == Action::Upsert {
            looma_cache::entities::invalidate_by_id(
                self.entity_cache.as_deref(),
                "Resume",
                &row.subject_id,
            )
            .await;
        }
    }
}

fn sanitize_filename(name: &str) -> Result<String, ResumeError> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name).trim();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if cleaned.is_empty() {
        return Err(ResumeError::invalid("filename", "must not be empty"));
    }
    Ok(cleaned)
}

/// Rejects DOCX containers that declare more decompressed XML than allowed, before storing.
fn check_docx_container(bytes: &[u8], limit: u64) -> Result<(), ResumeError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ResumeError::UnsupportedFormat(format!("damaged DOCX (zip: {e})")))?;
    let mut declared = 0u64;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| ResumeError::UnsupportedFormat(format!("damaged DOCX (zip: {e})")))?;
        declared = declared.saturating_add(entry.size());
    }
    let document_size = archive
        .by_name("word/document.xml")
        .map_err(|_| {
            ResumeError::UnsupportedFormat("not a DOCX: word/document.xml is missing".into())
        })?
        .size();
    if document_size > limit || declared > limit.saturating_mul(2) {
        return Err(ResumeError::invalid(
            "file",
            format!(
                "the DOCX expands to {} MB, over the {} MB limit (a zip bomb?)",
                declared.max(document_size) / (1024 * 1024),
                limit / (1024 * 1024)
            ),
        ));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Counts a finished parse as `looma_resume_parses_total{outcome}` (`parsed`, `failed`,
/// `needs_ocr`).
fn record_parse(final_status: &str) {
    let outcome = match final_status {
        status::PARSED => "parsed",
        status::NEEDS_OCR => "needs_ocr",
        _ => "failed",
    };
    metrics::counter!("looma_resume_parses_total", "component" => crate::COMPONENT, "outcome" => outcome)
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(embedding_model: Option<&str>) -> resume::Model {
        let now = Utc::now();
        resume::Model {
            id: "r-1".into(),
            content_hash: "h".into(),
            filename: "cv.txt".into(),
            content_type: "text/plain".into(),
            format: "txt".into(),
            size_bytes: 10,
            status: "PARSED".into(),
            failure_reason: None,
            attempts: 1,
            lease_until: None,
            profile: Some("{}".into()),
            text: Some("Rust engineer".into()),
            skills: None,
            city: None,
            degree: None,
            total_years: None,
            embedding: Some(looma_embed::vector_to_bytes(&[0.5, -0.5])),
            embedding_model: embedding_model.map(str::to_owned),
            uploaded_by: None,
            created_at: now,
            updated_at: now,
            parsed_at: Some(now),
            indexed_at: None,
        }
    }

    #[test]
    fn a_vector_travels_only_with_the_model_that_made_it() {
        let current = parsed(Some("multilingual-e5-small-q4"));
        let document = index_document(&current, "multilingual-e5-small-q4");
        assert_eq!(document.vector, Some(vec![0.5, -0.5]));
        assert_eq!(
            document.vector_model.as_deref(),
            Some("multilingual-e5-small-q4")
        );

        // Stored before models were recorded: MiniLM's, which an e5 index must not receive.
        let legacy = parsed(None);
        assert_eq!(embedding_model(&legacy), Some("all-MiniLM-L6-v2"));
        let document = index_document(&legacy, "multilingual-e5-small-q4");
        assert_eq!((document.vector, document.vector_model), (None, None));
        assert!(index_document(&legacy, "all-MiniLM-L6-v2").vector.is_some());

        let mut without = parsed(None);
        without.embedding = None;
        assert_eq!(embedding_model(&without), None);
    }
}
