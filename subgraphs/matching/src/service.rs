//! Matching use cases: jobs (create, update, close; skills extracted when not given; embedded;
//! indexed into search through the outbox), matches in both directions (search shortlist,
//! then exact scoring, hard filters, history) and the delivery of job index updates (the
//! dispatcher and its retry policy are `looma_outbox`'s).

use crate::clients::{Candidate, Clients, ResumeFacts, ShortlistQuery, strings};
use crate::domain::filters::{HardFilters, Side};
use crate::domain::recommend::{Blend, Evidence, Noun, Recommendation, SkillSets, rank, recommend};
use crate::domain::score::{
    CandidateFacts, JobFacts, MatchScore, Semantic, SimilarityScale, score,
};
use crate::domain::weights::Weights;
use crate::store::{self, MatchingStore, job, run, status};
use crate::{MatchingConfig, MatchingError};
use chrono::Utc;
use looma_embed::{EmbeddingService, TextKind};
use looma_outbox::{Action, Deliver, DeliveryError, Outbox, OutboxMetrics, OutboxRow};
use looma_search_client::{Collection, SearchClient, SearchClientError, SearchDocument};
use looma_taxonomy::{EducationLevel, SkillTaxonomy, city_spellings};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 50_000;
const MAX_SKILLS: usize = 50;
const EXTRACTED_SKILLS: usize = 12;
/// Each city expands to up to six spellings in the search filter (search takes 50 values).
const MAX_FILTER_CITIES: usize = 8;

#[derive(Clone)]
pub struct MatchingService {
    inner: Arc<Inner>,
}

struct Inner {
    store: MatchingStore,
    config: MatchingConfig,
    embedder: EmbeddingService,
    /// Job family and keywords of each saved job.
    analyzer: looma_analytics::TextAnalyzer,
    clients: Option<Clients>,
    flags: looma_server::FeatureFlags,
    /// `None` without clients: job index updates wait in the table.
    outbox: Option<Outbox<JobDelivery>>,
    /// The shared cache the router keeps `Job` answers in, told of every change.
    entity_cache: Option<Arc<dyn looma_cache::Cache>>,
}

/// Keywords kept per job (search filter and facet values).
const JOB_KEYWORDS: usize = 10;

/// A job as created or updated (all fields for create; `None` keeps the value on update).
#[derive(Clone, Debug, Default)]
pub struct JobInput {
    pub title: Option<String>,
    pub company: Option<String>,
    pub description: Option<String>,
    pub required_skills: Option<Vec<String>>,
    pub preferred_skills: Option<Vec<String>>,
    pub min_years: Option<Option<f64>>,
    pub education: Option<Option<String>>,
    pub city: Option<Option<String>>,
    pub remote: Option<bool>,
    pub salary_min: Option<Option<f64>>,
    pub salary_max: Option<Option<f64>>,
}

/// One scored pair, ready to show.
#[derive(Clone, Debug)]
pub struct Scored {
    /// The job id (jobs direction) or resume id (candidates direction).
    pub id: String,
    pub score: MatchScore,
}

pub struct MatchOutcome {
    pub run_id: String,
    pub weights: Weights,
    pub matches: Vec<Scored>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Direction {
    /// Jobs for a resume.
    Jobs,
    /// Candidates for a job.
    Candidates,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Jobs => "JOBS",
            Direction::Candidates => "CANDIDATES",
        }
    }
}

fn canonical_skills(field: &str, skills: Vec<String>) -> Result<Vec<String>, MatchingError> {
    if skills.len() > MAX_SKILLS {
        return Err(MatchingError::invalid(
            field,
            format!("at most {MAX_SKILLS} skills"),
        ));
    }
    let taxonomy = SkillTaxonomy::builtin();
    let mut out: Vec<String> = Vec::new();
    for skill in skills {
        let trimmed = skill.trim();
        if trimmed.is_empty() || trimmed.chars().count() > 100 {
            return Err(MatchingError::invalid(
                field,
                "skills must be 1 to 100 characters",
            ));
        }
        let name = taxonomy
            .get(trimmed)
            .map_or_else(|| trimmed.to_owned(), |s| s.name.clone());
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

fn optional_number(field: &str, value: Option<f64>) -> Result<Option<f64>, MatchingError> {
    match value {
        Some(v) if !(v.is_finite() && v >= 0.0) => {
            Err(MatchingError::invalid(field, "must be a finite number ≥ 0"))
        }
        other => Ok(other),
    }
}

/// The job as the scorer sees it (skills parsed once per job).
pub struct JobView {
    pub required: Vec<String>,
    pub preferred: Vec<String>,
    pub education: Option<EducationLevel>,
    pub model: job::Model,
}

impl JobView {
    pub fn new(model: job::Model) -> JobView {
        JobView {
            required: model.required(),
            preferred: model.preferred(),
            education: model
                .education
                .as_deref()
                .and_then(EducationLevel::from_code),
            model,
        }
    }

    /// Required then preferred skills.
    pub fn all_skills(&self) -> Vec<String> {
        let mut skills = self.required.clone();
        skills.extend(self.preferred.iter().cloned());
        skills
    }

    pub fn facts(&self) -> JobFacts<'_> {
        JobFacts {
            required_skills: &self.required,
            preferred_skills: &self.preferred,
            min_years: self.model.min_years,
            education: self.education,
            city: self.model.city.as_deref(),
            remote: self.model.remote,
            salary_min: self.model.salary_min,
            salary_max: self.model.salary_max,
        }
    }

    fn side(&self) -> Side<'_> {
        Side {
            city: self.model.city.as_deref(),
            remote: self.model.remote,
            salary_min: self.model.salary_min,
            salary_max: self.model.salary_max,
        }
    }
}

/// A candidate as the scorer sees it, from a search hit's metadata or a resume profile.
pub struct CandidateView {
    pub skills: Vec<String>,
    pub years: Option<f64>,
    pub degree: Option<EducationLevel>,
    pub city: Option<String>,
}

impl CandidateView {
    pub fn from_metadata(metadata: &Value) -> CandidateView {
        CandidateView {
            skills: strings(&metadata["skills"]),
            years: metadata["totalYears"].as_f64(),
            degree: metadata["highestDegree"]
                .as_str()
                .and_then(EducationLevel::from_code),
            city: metadata["city"].as_str().map(str::to_owned),
        }
    }

    pub fn from_resume(resume: &ResumeFacts) -> CandidateView {
        CandidateView {
            skills: resume.skills.clone(),
            years: resume.years,
            degree: resume.degree.as_deref().and_then(EducationLevel::from_code),
            city: resume.city.clone(),
        }
    }

    pub fn facts(&self) -> CandidateFacts<'_> {
        CandidateFacts {
            skills: &self.skills,
            years: self.years,
            degree: self.degree,
            city: self.city.as_deref(),
            salary_min: None,
            salary_max: None,
        }
    }

    fn side(&self) -> Side<'_> {
        Side {
            city: self.city.as_deref(),
            remote: false,
            salary_min: None,
            salary_max: None,
        }
    }
}

/// What a job's embedding represents: title, skills and description.
pub fn job_embedding_text(
    title: &str,
    required: &[String],
    preferred: &[String],
    description: &str,
) -> String {
    let mut skills = required.to_vec();
    skills.extend(preferred.iter().cloned());
    let head: String = description.chars().take(1500).collect();
    format!("{title}. Skills: {}. {head}", skills.join(", "))
}

/// The search document for a job; its vector travels only when `current_model` made it.
pub fn index_document(model: &job::Model, current_model: &str) -> SearchDocument {
    let required = model.required();
    let preferred = model.preferred();
    let mut skills = required.clone();
    skills.extend(preferred.iter().cloned());
    let metadata = json!({
        "company": model.company,
        "remote": model.remote,
        "requiredSkills": required,
        "preferredSkills": preferred,
        "minYears": model.min_years,
        "education": model.education,
        "city": model.city,
    });
    SearchDocument {
        skills,
        job_family: model.job_family.clone(),
        keywords: model.keywords(),
        city: model.city.clone(),
        degree: model.education.clone(),
        years: model.min_years,
        salary_min: model.salary_min,
        salary_max: model.salary_max,
        status: Some(model.status.clone()),
        name: model.company.clone(),
        metadata,
        vector: model.vector_of(current_model),
        vector_model: model
            .vector_of(current_model)
            .map(|_| current_model.to_owned()),
        ..SearchDocument::new(
            model.id.clone(),
            Collection::Jobs,
            model.title.clone(),
            format!(
                "{}\n{}",
                model.company.as_deref().unwrap_or(""),
                model.description
            ),
        )
    }
}

/// Delivers matching's outbox rows to search: an upsert sends the job's current document
/// (nothing if it no longer exists), a delete removes it from the JOBS collection.
struct JobDelivery {
    store: MatchingStore,
    search: SearchClient,
    /// Whose model's vectors may travel (see `index_document`).
    embedder: EmbeddingService,
}

#[async_trait::async_trait]
impl Deliver for JobDelivery {
    async fn deliver(&self, row: &OutboxRow) -> Result<(), DeliveryError> {
        let failed = |error: SearchClientError| {
            if error.is_unavailable() {
                DeliveryError::Unavailable(error.to_string())
            } else {
                DeliveryError::Rejected(error.to_string())
            }
        };
        match row.action {
            Action::Delete => self
                .search
                .remove(Collection::Jobs, std::slice::from_ref(&row.subject_id))
                .await
                .map(drop)
                .map_err(failed),
            Action::Upsert => {
                let model = self
                    .store
                    .job(&row.subject_id)
                    .await
                    .map_err(|e| DeliveryError::Rejected(e.to_string()))?;
                match model {
                    Some(model) => self
                        .search
                        .index(&[index_document(&model, &self.embedder.model_id())])
                        .await
                        .map(drop)
                        .map_err(failed),
                    None => Ok(()),
                }
            }
        }
    }
}

fn search_error(error: SearchClientError) -> MatchingError {
    match error {
        SearchClientError::Call(call) => call.into(),
        other => MatchingError::Dependency(other.to_string()),
    }
}

impl MatchingService {
    pub fn new(
        store: MatchingStore,
        config: MatchingConfig,
        embedder: EmbeddingService,
        clients: Option<Clients>,
    ) -> Self {
        let outbox = clients.as_ref().map(|clients| {
            Outbox::new(
                store.connection().clone(),
                store::OUTBOX,
                JobDelivery {
                    store: store.clone(),
                    search: clients.search_index(),
                    embedder: embedder.clone(),
                },
            )
        });
        MatchingService {
            inner: Arc::new(Inner {
                store,
                config,
                analyzer: looma_analytics::TextAnalyzer::new(embedder.clone()),
                embedder,
                clients,
                flags: looma_server::FeatureFlags::always_on(),
                outbox,
                entity_cache: None,
            }),
        }
    }

    /// Gates matching on identity's `job_matching` flag (cached, fail-open).
    pub fn with_feature_flags(mut self, flags: looma_server::FeatureFlags) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.flags = flags;
        }
        self
    }

    /// Tells the router's entity cache (through the shared cache) about every change to a
    /// job, so no cached `Job` outlives it.
    pub fn with_entity_cache(mut self, cache: Arc<dyn looma_cache::Cache>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.entity_cache = Some(cache);
        }
        self
    }

    /// Called after every change to a stored job.
    async fn changed(&self, id: &str) {
        looma_cache::entities::invalidate_by_id(self.inner.entity_cache.as_deref(), "Job", id)
            .await;
    }

    pub fn store(&self) -> &MatchingStore {
        &self.inner.store
    }

    pub fn config(&self) -> &MatchingConfig {
        &self.inner.config
    }

    fn clients(&self) -> Result<&Clients, MatchingError> {
        self.inner.clients.as_ref().ok_or_else(|| {
            MatchingError::Dependency(
                "matching cannot reach search, resume and identity: set server.router_secret"
                    .into(),
            )
        })
    }

    // ---- jobs --------------------------------------------------------------------------

    pub async fn create_job(
        &self,
        input: JobInput,
        author: &str,
    ) -> Result<job::Model, MatchingError> {
        let now = Utc::now();
        let blank = job::Model {
            id: uuid::Uuid::now_v7().to_string(),
            title: String::new(),
            company: None,
            description: String::new(),
            required_skills: "[]".into(),
            preferred_skills: "[]".into(),
            skills_extracted: false,
            min_years: None,
            education: None,
            city: None,
            remote: false,
            salary_min: None,
            salary_max: None,
            status: status::OPEN.into(),
            embedding: None,
            embedding_model: None,
            job_family: None,
            keywords: "[]".into(),
            created_by: Some(author.to_owned()),
            created_at: now,
            updated_at: now,
        };
        let model = self.apply(blank, input, true).await?;
        let saved = self.inner.store.save_job(model, None).await?;
        self.wake_outbox();
        Ok(saved)
    }

    pub async fn update_job(&self, id: &str, input: JobInput) -> Result<job::Model, MatchingError> {
        let current = self.job(id).await?;
        let expected = current.updated_at;
        let model = self.apply(current, input, false).await?;
        let saved = self.inner.store.save_job(model, Some(expected)).await?;
        self.changed(id).await;
        self.wake_outbox();
        Ok(saved)
    }

    pub async fn set_status(&self, id: &str, open: bool) -> Result<job::Model, MatchingError> {
        let mut model = self.job(id).await?;
        let expected = model.updated_at;
        model.status = if open { status::OPEN } else { status::CLOSED }.into();
        model.updated_at = Utc::now();
        let saved = self.inner.store.save_job(model, Some(expected)).await?;
        self.changed(id).await;
        self.wake_outbox();
        Ok(saved)
    }

    pub async fn job(&self, id: &str) -> Result<job::Model, MatchingError> {
        self.inner
            .store
            .job(id)
            .await?
            .ok_or_else(|| MatchingError::NotFound {
                what: "job",
                id: id.to_owned(),
            })
    }

    async fn apply(
        &self,
        mut model: job::Model,
        input: JobInput,
        create: bool,
    ) -> Result<job::Model, MatchingError> {
        if let Some(title) = input.title {
            let title = title.trim().to_owned();
            if title.is_empty() || title.chars().count() > MAX_TITLE {
                return Err(MatchingError::invalid(
                    "title",
                    format!("1 to {MAX_TITLE} characters"),
                ));
            }
            model.title = title;
        } else if create {
            return Err(MatchingError::invalid("title", "is required"));
        }
        if let Some(company) = input.company {
            model.company = Some(company.trim().to_owned()).filter(|c| !c.is_empty());
        }
        let description_changed = input.description.is_some();
        if let Some(description) = input.description {
            if description.chars().count() > MAX_DESCRIPTION {
                return Err(MatchingError::invalid(
                    "description",
                    format!("at most {MAX_DESCRIPTION} characters"),
                ));
            }
            model.description = description;
        }
        let mut required = match input.required_skills {
            Some(skills) => {
                model.skills_extracted = false;
                Some(canonical_skills("requiredSkills", skills)?)
            }
            None => None,
        };
        if let Some(skills) = input.preferred_skills {
            model.preferred_skills =
                serde_json::to_string(&canonical_skills("preferredSkills", skills)?)
                    .unwrap_or_else(|_| "[]".into());
        }
        // Skills come from the description when none were given (or the extracted ones are
        // refreshed when the description changes).
        let extract = match &required {
            Some(skills) => skills.is_empty(),
            None => create || (model.skills_extracted && description_changed),
        };
        if extract {
            let text = format!("{}\n{}", model.title, model.description);
            let mut found: Vec<String> = Vec::new();
            for m in SkillTaxonomy::builtin().extract(&text) {
                if !found.contains(&m.skill.name) {
                    found.push(m.skill.name.clone());
                }
            }
            found.truncate(EXTRACTED_SKILLS);
            model.skills_extracted = true;
            required = Some(found);
        }
        if let Some(required) = required {
            model.required_skills =
                serde_json::to_string(&required).unwrap_or_else(|_| "[]".into());
        }
        if let Some(min_years) = input.min_years {
            model.min_years = optional_number("minYears", min_years)?;
            if model.min_years.is_some_and(|y| y > 60.0) {
                return Err(MatchingError::invalid("minYears", "at most 60"));
            }
        }
        if let Some(education) = input.education {
            model.education = match education {
                Some(code) => Some(
                    EducationLevel::from_code(&code)
                        .ok_or_else(|| {
                            MatchingError::invalid(
                                "education",
                                "one of HIGH_SCHOOL, ASSOCIATE, BACHELOR, MASTER, DOCTORATE",
                            )
                        })?
                        .code()
                        .to_owned(),
                ),
                None => None,
            };
        }
        if let Some(city) = input.city {
            model.city = city.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
        }
        if let Some(remote) = input.remote {
            model.remote = remote;
        }
        if let Some(min) = input.salary_min {
            model.salary_min = optional_number("salaryMin", min)?;
        }
        if let Some(max) = input.salary_max {
            model.salary_max = optional_number("salaryMax", max)?;
        }
        if let (Some(min), Some(max)) = (model.salary_min, model.salary_max)
            && min > max
        {
            return Err(MatchingError::invalid(
                "salaryMin",
                "is greater than salaryMax",
            ));
        }
        model.updated_at = Utc::now();
        let text = job_embedding_text(
            &model.title,
            &model.required(),
            &model.preferred(),
            &model.description,
        );
        model.embedding = match self
            .inner
            .embedder
            .embed_one(&text, TextKind::Passage)
            .await
        {
            Ok(vector) => Some(looma_embed::vector_to_bytes(&vector)),
            Err(error) => {
                tracing::warn!(%error, "job saved without an embedding; semantic scores are neutral");
                None
            }
        };
        model.embedding_model = model
            .embedding
            .as_ref()
            .map(|_| self.inner.embedder.model_id());
        model.job_family = match self.inner.analyzer.job_family(&model.title).await {
            Ok(family) => family.map(|f| f.code),
            Err(error) => {
                tracing::warn!(%error, "job saved without a job family");
                None
            }
        };
        let words = format!("{}\n{}", model.title, model.description);
        let language = looma_analytics::detect_language(&words);
        let keywords: Vec<String> = self
            .inner
            .analyzer
            .keywords(&words, language.code, JOB_KEYWORDS)
            .into_iter()
            .map(|k| k.term)
            .collect();
        model.keywords = serde_json::to_string(&keywords).unwrap_or_else(|_| "[]".into());
        Ok(model)
    }

    // ---- matching ----------------------------------------------------------------------

    async fn settings(&self) -> Result<Weights, MatchingError> {
        if !self.inner.flags.enabled("job_matching").await {
            return Err(MatchingError::FeatureDisabled);
        }
        self.clients()?.weights().await
    }

    fn check_limit(&self, limit: i32) -> Result<usize, MatchingError> {
        let max = self.inner.config.max_limit;
        match usize::try_from(limit) {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(MatchingError::invalid(
                "limit",
                format!("must be between 1 and {max} (got {limit})"),
            )),
        }
    }

    fn check_filters(filters: HardFilters) -> Result<HardFilters, MatchingError> {
        for (field, value) in [
            ("filter.salaryMin", filters.salary_min),
            ("filter.salaryMax", filters.salary_max),
            ("filter.minYears", filters.min_years),
        ] {
            optional_number(field, value)?;
        }
        if let (Some(min), Some(max)) = (filters.salary_min, filters.salary_max)
            && min > max
        {
            return Err(MatchingError::invalid(
                "filter.salaryMin",
                "is greater than salaryMax",
            ));
        }
        if filters.cities.len() > MAX_FILTER_CITIES {
            return Err(MatchingError::invalid(
                "filter.cities",
                format!("at most {MAX_FILTER_CITIES} cities"),
            ));
        }
        Ok(filters.canonical())
    }

    /// Search filters that implement the hard filters early (they are checked again exactly).
    fn search_filter(filters: &HardFilters, extra: Value) -> Value {
        let mut filter = extra;
        if !filters.cities.is_empty() {
            let mut cities: Vec<String> = filters
                .cities
                .iter()
                .flat_map(|c| city_spellings(c))
                .collect();
            cities.dedup();
            filter["cities"] = json!(cities);
        }
        filter
    }

    /// Candidates for a job: a shortlist from search (nearest profiles + text matches on the
    /// job's skills), scored exactly, filtered, best first; recorded in the history.
    pub async fn match_candidates(
        &self,
        job_id: &str,
        filters: HardFilters,
        limit: i32,
        requested_by: &str,
    ) -> Result<MatchOutcome, MatchingError> {
        let started = Instant::now();
        let limit = self.check_limit(limit)?;
        let filters = Self::check_filters(filters)?;
        let weights = self.settings().await?;
        let job = JobView::new(self.job(job_id).await?);
        let mut extra = json!({});
        let min_years = match (
            filters.min_years,
            filters
                .enforce_job_minimum_years
                .then_some(job.model.min_years)
                .flatten(),
        ) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if let Some(min) = min_years {
            extra["minYears"] = json!(min);
        }
        let scale = SimilarityScale::for_model(&self.inner.embedder.model_id());
        let vector = self.current_vector(&job.model).await;
        let text = skill_query(&job.required, &job.preferred);
        let shortlist = self
            .clients()?
            .shortlist(ShortlistQuery {
                collection: "RESUMES",
                vector: vector.as_deref(),
                vector_model: self.inner.embedder.model_id(),
                text,
                filter: Self::search_filter(&filters, extra),
                vector_candidates: self.inner.config.vector_candidates,
                text_candidates: self.inner.config.text_candidates,
            })
            .await?;
        // `remote` describes jobs; it does not apply to candidates.
        let candidate_filters = HardFilters {
            remote: None,
            ..filters.clone()
        };
        let mut scored: Vec<Scored> = Vec::with_capacity(shortlist.candidates.len());
        for Candidate {
            id,
            similarity,
            metadata,
        } in shortlist.candidates
        {
            let candidate = CandidateView::from_metadata(&metadata);
            if !candidate_filters.admits(&candidate.side(), candidate.years, job.model.min_years) {
                continue;
            }
            let semantic = semantic_evidence(
                similarity,
                shortlist.similarity_floor,
                vector.is_some(),
                scale,
            );
            scored.push(Scored {
                score: score(&job.facts(), &candidate.facts(), semantic, &weights),
                id,
            });
        }
        self.finish(
            Direction::Candidates,
            job_id,
            filters,
            limit,
            weights,
            scored,
            requested_by,
            started,
        )
        .await
    }

    /// Open jobs for a resume: a shortlist of jobs from search, scored exactly against the
    /// resume's profile.
    pub async fn match_jobs(
        &self,
        resume_id: &str,
        filters: HardFilters,
        limit: i32,
        requested_by: &str,
    ) -> Result<MatchOutcome, MatchingError> {
        let started = Instant::now();
        let limit = self.check_limit(limit)?;
        let filters = Self::check_filters(filters)?;
        let weights = self.settings().await?;
        let clients = self.clients()?;
        let resume = clients
            .resume(resume_id)
            .await?
            .ok_or_else(|| MatchingError::NotFound {
                what: "resume",
                id: resume_id.to_owned(),
            })?;
        if !resume.parsed {
            return Err(MatchingError::invalid(
                "resumeId",
                "the resume is not parsed yet (see its status)",
            ));
        }
        let candidate = CandidateView::from_resume(&resume);
        // The resume's vector joins the search only if this deployment's model made it.
        let current = self.inner.embedder.model_id();
        let scale = SimilarityScale::for_model(&current);
        let resume_vector = resume
            .embedding
            .as_deref()
            .filter(|_| resume.embedding_model.as_deref() == Some(current.as_str()));
        // Salary and cities are applied exactly below, not in search: jobs without a posted
        // salary pass a salary filter, and remote jobs pass a city filter.
        let extra = json!({ "statuses": [status::OPEN] });
        let search_filters = HardFilters {
            cities: Vec::new(),
            ..filters.clone()
        };
        let shortlist = clients
            .shortlist(ShortlistQuery {
                collection: "JOBS",
                vector: resume_vector,
                vector_model: current.clone(),
                text: skill_query(&resume.skills, &[]),
                filter: Self::search_filter(&search_filters, extra),
                vector_candidates: self.inner.config.vector_candidates,
                text_candidates: self.inner.config.text_candidates,
            })
            .await?;
        let similarity: std::collections::HashMap<String, Option<f32>> = shortlist
            .candidates
            .iter()
            .map(|c| (c.id.clone(), c.similarity))
            .collect();
        let ids: Vec<String> = shortlist.candidates.iter().map(|c| c.id.clone()).collect();
        let jobs = self.inner.store.jobs(&ids).await?;
        let mut scored = Vec::with_capacity(jobs.len());
        for model in jobs {
            if model.status != status::OPEN {
                continue;
            }
            let job = JobView::new(model);
            if !filters.admits(&job.side(), candidate.years, job.model.min_years) {
                continue;
            }
            let semantic = semantic_evidence(
                similarity.get(&job.model.id).copied().flatten(),
                shortlist.similarity_floor,
                resume_vector.is_some(),
                scale,
            );
            scored.push(Scored {
                score: score(&job.facts(), &candidate.facts(), semantic, &weights),
                id: job.model.id.clone(),
            });
        }
        self.finish(
            Direction::Jobs,
            resume_id,
            filters,
            limit,
            weights,
            scored,
            requested_by,
            started,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        direction: Direction,
        subject: &str,
        filters: HardFilters,
        limit: usize,
        weights: Weights,
        mut scored: Vec<Scored>,
        requested_by: &str,
        started: Instant,
    ) -> Result<MatchOutcome, MatchingError> {
        scored.sort_by(|a, b| {
            b.score
                .total
                .total_cmp(&a.score.total)
                .then_with(|| a.id.cmp(&b.id))
        });
        scored.truncate(limit);
        let run_id = uuid::Uuid::now_v7().to_string();
        let results: Vec<Value> = scored
            .iter()
            .map(|s| json!({ "id": s.id, "score": s.score.total }))
            .collect();
        self.inner
            .store
            .record_run(run::Model {
                id: run_id.clone(),
                direction: direction.as_str().into(),
                subject_id: subject.to_owned(),
                requested_by: requested_by.to_owned(),
                filters: serde_json::to_string(&filters).unwrap_or_else(|_| "{}".into()),
                result_limit: limit as i32,
                weights_version: weights.version,
                weights: weights.to_json().to_string(),
                results: Value::Array(results).to_string(),
                duration_ms: started.elapsed().as_secs_f64() * 1000.0,
                created_at: Utc::now(),
            })
            .await?;
        Ok(MatchOutcome {
            run_id,
            weights,
            matches: scored,
        })
    }

    // ---- recommendations ---------------------------------------------------------------

    /// A `topK` of a recommendation list, checked.
    pub fn check_top_k(top_k: i32) -> Result<usize, MatchingError> {
        match usize::try_from(top_k) {
            Ok(n) if (1..=MAX_RECOMMENDATIONS).contains(&n) => Ok(n),
            _ => Err(MatchingError::invalid(
                "topK",
                format!("must be between 1 and {MAX_RECOMMENDATIONS} (got {top_k})"),
            )),
        }
    }

    /// How many nearest neighbours are re-ranked for `top_k` recommendations (the blend can
    /// lift a slightly less similar item with more skills in common or a fresher update).
    fn pool(&self, top_k: usize) -> usize {
        (top_k * 4).max(20).min(self.inner.config.vector_candidates)
    }

    /// Resumes like each query's resume (itself excluded), best first: the resume's stored
    /// vector searched among RESUMES, then blended with shared skills and recency. One request
    /// to resume for the subjects, one to search for all the neighbours, one to resume for
    /// their profiles, however many queries.
    pub async fn similar_resumes(
        &self,
        queries: &[RecommendQuery],
    ) -> Result<Vec<Recommendations>, MatchingError> {
        let clients = self.clients()?;
        let current = self.inner.embedder.model_id();
        let scale = SimilarityScale::for_model(&current);
        let subjects: HashMap<String, ResumeFacts> = clients
            .resumes(&unique_subjects(queries), true)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let mut outcomes: Vec<Option<Recommendations>> = queries.iter().map(|_| None).collect();
        let mut searches = Vec::new();
        let mut searched = Vec::new();
        for (i, query) in queries.iter().enumerate() {
            let vector = subjects
                .get(&query.subject)
                .ok_or_else(|| MatchingError::NotFound {
                    what: "resume",
                    id: query.subject.clone(),
                })
                .and_then(|resume| resume_vector(resume, &current));
            match vector {
                Ok(vector) => {
                    searches.push(ShortlistQuery {
                        collection: "RESUMES",
                        vector: Some(vector),
                        vector_model: current.clone(),
                        text: String::new(),
                        filter: json!({}),
                        vector_candidates: self.pool(query.top_k) + 1,
                        text_candidates: 0,
                    });
                    searched.push(i);
                }
                Err(error) => outcomes[i] = Some(Err(error)),
            }
        }
        let lists = clients.shortlists(&searches).await?;
        let mut found: Vec<String> = lists
            .iter()
            .flat_map(|list| list.candidates.iter().map(|c| c.id.clone()))
            .collect();
        found.sort();
        found.dedup();
        let others: HashMap<String, ResumeFacts> = clients
            .resumes(&found, false)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let now = Utc::now();
        for (i, list) in searched.into_iter().zip(lists) {
            let query = &queries[i];
            let Some(subject) = subjects.get(&query.subject) else {
                continue;
            };
            let scored = list
                .candidates
                .into_iter()
                .filter(|c| c.id != query.subject)
                .filter_map(|candidate| {
                    let other = others.get(&candidate.id)?;
                    let evidence = Evidence {
                        similarity: semantic_evidence(candidate.similarity, None, true, scale),
                        noun: Noun::Profile,
                        skills: SkillSets::Between {
                            subject: &subject.skills,
                            other: &other.skills,
                        },
                        updated_at: other.updated_at,
                        now,
                    };
                    Some((candidate.id, recommend(&evidence, Blend::SIMILAR), ()))
                })
                .collect();
            outcomes[i] = Some(Ok(recommended(rank(scored, query.top_k))));
        }
        Ok(outcomes.into_iter().map(finished).collect())
    }

    /// Open jobs like each query's job (itself excluded), best first: the job's vector
    /// searched among open JOBS, blended with shared skills and recency. One request to
    /// search however many queries.
    pub async fn similar_jobs(
        &self,
        queries: &[RecommendQuery],
    ) -> Result<Vec<Recommendations>, MatchingError> {
        let clients = self.clients()?;
        let current = self.inner.embedder.model_id();
        let scale = SimilarityScale::for_model(&current);
        let (subjects, vectors) = self.query_jobs(queries).await?;
        let mut outcomes: Vec<Option<Recommendations>> = queries.iter().map(|_| None).collect();
        let mut searches = Vec::new();
        let mut searched = Vec::new();
        for (i, query) in queries.iter().enumerate() {
            if !subjects.contains_key(&query.subject) {
                outcomes[i] = Some(Err(MatchingError::NotFound {
                    what: "job",
                    id: query.subject.clone(),
                }));
                continue;
            }
            let Some(vector) = vectors.get(&query.subject) else {
                outcomes[i] = Some(Err(no_job_vector(&query.subject)));
                continue;
            };
            searches.push(ShortlistQuery {
                collection: "JOBS",
                vector: Some(vector.as_slice()),
                vector_model: current.clone(),
                text: String::new(),
                filter: json!({ "statuses": [status::OPEN] }),
                vector_candidates: self.pool(query.top_k) + 1,
                text_candidates: 0,
            });
            searched.push(i);
        }
        let lists = clients.shortlists(&searches).await?;
        let mut found: Vec<String> = lists
            .iter()
            .flat_map(|list| list.candidates.iter().map(|c| c.id.clone()))
            .collect();
        found.sort();
        found.dedup();
        let others: HashMap<String, JobView> = self
            .inner
            .store
            .jobs(&found)
            .await?
            .into_iter()
            .filter(|j| j.status == status::OPEN)
            .map(|j| (j.id.clone(), JobView::new(j)))
            .collect();
        let now = Utc::now();
        for (i, list) in searched.into_iter().zip(lists) {
            let query = &queries[i];
            let Some(subject) = subjects.get(&query.subject).map(JobView::all_skills) else {
                continue;
            };
            let scored = list
                .candidates
                .into_iter()
                .filter(|c| c.id != query.subject)
                .filter_map(|candidate| {
                    let other = others.get(&candidate.id)?;
                    let other_skills = other.all_skills();
                    let evidence = Evidence {
                        similarity: semantic_evidence(candidate.similarity, None, true, scale),
                        noun: Noun::Posting,
                        skills: SkillSets::Between {
                            subject: &subject,
                            other: &other_skills,
                        },
                        updated_at: Some(other.model.updated_at),
                        now,
                    };
                    Some((candidate.id, recommend(&evidence, Blend::SIMILAR), ()))
                })
                .collect();
            outcomes[i] = Some(Ok(recommended(rank(scored, query.top_k))));
        }
        Ok(outcomes.into_iter().map(finished).collect())
    }

    /// Candidates recommended for each query's job, best first: a shortlist from search (the
    /// job's nearest profiles plus text matches on its skills, the hard filters applied
    /// early), blended from similarity, the job's skills the candidate covers and how recently
    /// the resume was updated. One request to search and one to resume however many queries.
    pub async fn recommend_candidates(
        &self,
        queries: &[RecommendQuery],
    ) -> Result<Vec<Recommendations>, MatchingError> {
        let clients = self.clients()?;
        let current = self.inner.embedder.model_id();
        let scale = SimilarityScale::for_model(&current);
        let (jobs, vectors) = self.query_jobs(queries).await?;
        let mut outcomes: Vec<Option<Recommendations>> = queries.iter().map(|_| None).collect();
        let mut searches = Vec::new();
        let mut searched: Vec<(usize, HardFilters)> = Vec::new();
        for (i, query) in queries.iter().enumerate() {
            let Some(job) = jobs.get(&query.subject) else {
                outcomes[i] = Some(Err(MatchingError::NotFound {
                    what: "job",
                    id: query.subject.clone(),
                }));
                continue;
            };
            let Some(vector) = vectors.get(&query.subject) else {
                outcomes[i] = Some(Err(no_job_vector(&query.subject)));
                continue;
            };
            let filters = match Self::check_filters(query.filters.clone()) {
                Ok(filters) => filters,
                Err(error) => {
                    outcomes[i] = Some(Err(error));
                    continue;
                }
            };
            let mut extra = json!({});
            if let Some(min) = filters.min_years {
                extra["minYears"] = json!(min);
            }
            let pool = self.pool(query.top_k);
            searches.push(ShortlistQuery {
                collection: "RESUMES",
                vector: Some(vector.as_slice()),
                vector_model: current.clone(),
                text: skill_query(&job.required, &job.preferred),
                filter: Self::search_filter(&filters, extra),
                vector_candidates: pool,
                text_candidates: pool.min(self.inner.config.text_candidates),
            });
            // `remote` describes jobs; it does not apply to candidates.
            searched.push((
                i,
                HardFilters {
                    remote: None,
                    ..filters
                },
            ));
        }
        let lists = clients.shortlists(&searches).await?;
        let mut found: Vec<String> = lists
            .iter()
            .flat_map(|list| list.candidates.iter().map(|c| c.id.clone()))
            .collect();
        found.sort();
        found.dedup();
        let resumes: HashMap<String, ResumeFacts> = clients
            .resumes(&found, false)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let now = Utc::now();
        for ((i, filters), list) in searched.into_iter().zip(lists) {
            let query = &queries[i];
            let Some(job) = jobs.get(&query.subject) else {
                continue;
            };
            let floor = list.similarity_floor;
            let scored = list
                .candidates
                .into_iter()
                .filter_map(|candidate| {
                    let resume = resumes.get(&candidate.id)?;
                    let view = CandidateView::from_resume(resume);
                    if !filters.admits(&view.side(), view.years, job.model.min_years) {
                        return None;
                    }
                    let evidence = Evidence {
                        similarity: semantic_evidence(candidate.similarity, floor, true, scale),
                        noun: Noun::Profile,
                        skills: SkillSets::Wanted {
                            required: &job.required,
                            preferred: &job.preferred,
                            have: &resume.skills,
                        },
                        updated_at: resume.updated_at,
                        now,
                    };
                    Some((candidate.id, recommend(&evidence, Blend::CANDIDATES), ()))
                })
                .collect();
            outcomes[i] = Some(Ok(recommended(rank(scored, query.top_k))));
        }
        Ok(outcomes.into_iter().map(finished).collect())
    }

    /// Rebuilds the JOBS search collection from this subgraph's table (`looma search reindex
    /// jobs`) into a staged version, committed once every job is sent (searches switch at
    /// once; a failure aborts it and leaves the live version as it was), calling
    /// `progress(sent, total)` after each batch.
    pub async fn reindex(
        &self,
        search: &SearchClient,
        batch: usize,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<u64, MatchingError> {
        // Begun before the table is read: whatever changes after reaches both versions.
        let reindex = search
            .begin_reindex(Collection::Jobs)
            .await
            .map_err(search_error)?;
        let sent = async {
            let ids = self.inner.store.job_ids().await?;
            let total = ids.len() as u64;
            progress(0, total);
            let current = self.inner.embedder.model_id();
            let mut sent = 0u64;
            for chunk in ids.chunks(batch.max(1)) {
                let mut jobs = self.inner.store.jobs(chunk).await?;
                for job in jobs.iter_mut() {
                    if job.vector_model() != Some(current.as_str())
                        && let Some(vector) = self.embed_job(job).await
                    {
                        self.inner
                            .store
                            .set_embedding(&job.id, &vector, &current)
                            .await?;
                        job.embedding = Some(looma_embed::vector_to_bytes(&vector));
                        job.embedding_model = Some(current.clone());
                    }
                }
                let documents: Vec<SearchDocument> = jobs
                    .iter()
                    .map(|job| index_document(job, &current))
                    .collect();
                search
                    .index_into(&reindex, &documents)
                    .await
                    .map_err(search_error)?;
                sent += chunk.len() as u64;
                progress(sent, total);
            }
            Ok::<u64, MatchingError>(sent)
        }
        .await;
        match sent {
            Ok(sent) => {
                search
                    .commit_reindex(&reindex)
                    .await
                    .map_err(search_error)?;
                Ok(sent)
            }
            Err(error) => {
                if let Err(abort) = search.abort_reindex(&reindex).await {
                    tracing::warn!(%abort, "the failed reindex was not aborted; search drops it at its next reindex or start");
                }
                Err(error)
            }
        }
    }

    /// The job's vector from the deployment's model: the stored one, or (after a model change,
    /// until the reindex re-embeds it) a fresh one; `None` without the model.
    /// The jobs `queries` ask about, by id, and the vectors of those embedded by the current
    /// model.
    async fn query_jobs(
        &self,
        queries: &[RecommendQuery],
    ) -> Result<(HashMap<String, JobView>, HashMap<String, Vec<f32>>), MatchingError> {
        let jobs: HashMap<String, JobView> = self
            .inner
            .store
            .jobs(&unique_subjects(queries))
            .await?
            .into_iter()
            .map(|j| (j.id.clone(), JobView::new(j)))
            .collect();
        let mut vectors = HashMap::new();
        for job in jobs.values() {
            if let Some(vector) = self.current_vector(&job.model).await {
                vectors.insert(job.model.id.clone(), vector);
            }
        }
        Ok((jobs, vectors))
    }

    async fn current_vector(&self, job: &job::Model) -> Option<Vec<f32>> {
        match job.vector_of(&self.inner.embedder.model_id()) {
            Some(vector) => Some(vector),
            None if job.embedding.is_some() => self.embed_job(job).await,
            None => None,
        }
    }

    async fn embed_job(&self, job: &job::Model) -> Option<Vec<f32>> {
        let text = job_embedding_text(
            &job.title,
            &job.required(),
            &job.preferred(),
            &job.description,
        );
        match self
            .inner
            .embedder
            .embed_one(&text, TextKind::Passage)
            .await
        {
            Ok(vector) => Some(vector),
            Err(error) => {
                tracing::warn!(job = %job.id, %error, "re-embedding failed; semantic scores are neutral");
                None
            }
        }
    }

    // ---- outbox ------------------------------------------------------------------------

    fn wake_outbox(&self) {
        if let Some(outbox) = &self.inner.outbox {
            outbox.wake();
        }
    }

    /// One outbox pass: delivers due job index updates to search (see `looma_outbox` for the
    /// retry and failure policy); returns how many were delivered.
    pub async fn dispatch_outbox(&self) -> Result<usize, MatchingError> {
        match &self.inner.outbox {
            Some(outbox) => Ok(outbox.dispatch_due().await?),
            None => Ok(0),
        }
    }

    /// Refreshes what `/metrics` reads from the outbox.
    pub async fn record_metrics(&self) {
        match self.outbox_metrics().await {
            Ok(outbox) => outbox.record(crate::COMPONENT),
            Err(error) => tracing::debug!(%error, "outbox counters not read for /metrics"),
        }
    }

    /// The outbox's counters (delivered, failed, pending, lag) for `/metrics`.
    pub async fn outbox_metrics(&self) -> Result<OutboxMetrics, MatchingError> {
        match &self.inner.outbox {
            Some(outbox) => Ok(outbox.metrics().await?),
            None => Ok(OutboxMetrics {
                pending: self.inner.store.outbox_len().await?,
                ..OutboxMetrics::default()
            }),
        }
    }

    /// Runs the outbox dispatcher until `stop` turns true.
    pub fn spawn_background(&self, stop: tokio::sync::watch::Receiver<bool>) {
        if let Some(outbox) = &self.inner.outbox {
            let poll = Duration::from_millis(self.inner.config.poll_interval_ms);
            outbox.spawn(poll, stop);
        }
    }
}

/// The most a recommendation list returns (`topK`).
pub const MAX_RECOMMENDATIONS: usize = 50;

/// One recommendation list asked for: whose (a resume or a job id), how many, and (for
/// candidates) the hard filters.
#[derive(Clone, Debug, Default)]
pub struct RecommendQuery {
    pub subject: String,
    pub top_k: usize,
    pub filters: HardFilters,
}

/// One recommended resume or job with its blended score and reasons.
#[derive(Clone, Debug)]
pub struct Recommended {
    pub id: String,
    pub recommendation: Recommendation,
}

/// One query's recommendations, best first, or why there are none.
pub type Recommendations = Result<Vec<Recommended>, MatchingError>;

fn unique_subjects(queries: &[RecommendQuery]) -> Vec<String> {
    let mut ids: Vec<String> = queries.iter().map(|q| q.subject.clone()).collect();
    ids.sort();
    ids.dedup();
    ids
}

fn recommended(ranked: Vec<(String, Recommendation, ())>) -> Vec<Recommended> {
    ranked
        .into_iter()
        .map(|(id, recommendation, ())| Recommended { id, recommendation })
        .collect()
}

/// Every query got an outcome; a missing one would be a bug, reported rather than panicked.
fn finished(outcome: Option<Recommendations>) -> Recommendations {
    outcome.unwrap_or_else(|| Err(MatchingError::Internal("a recommendation was lost".into())))
}

/// The resume's vector when this deployment's model made it; otherwise why there is none.
fn resume_vector<'a>(resume: &'a ResumeFacts, current: &str) -> Result<&'a [f32], MatchingError> {
    if !resume.parsed {
        return Err(MatchingError::invalid(
            "id",
            format!(
                "resume `{}` is not parsed yet, so it has no embedding (see its status)",
                resume.id
            ),
        ));
    }
    match (&resume.embedding, resume.embedding_model.as_deref()) {
        (Some(vector), Some(model)) if model == current => Ok(vector.as_slice()),
        (Some(_), _) => Err(MatchingError::invalid(
            "id",
            format!(
                "resume `{}` was embedded by another model than {current}; \
                 `looma search reindex resumes` re-embeds it",
                resume.id
            ),
        )),
        (None, _) => Err(MatchingError::invalid(
            "id",
            format!("resume `{}` has no embedding yet", resume.id),
        )),
    }
}

fn no_job_vector(id: &str) -> MatchingError {
    MatchingError::invalid(
        "id",
        format!(
            "job `{id}` has no embedding (the embedding model was unavailable when it was \
             saved; updating the job embeds it)"
        ),
    )
}

/// A text query over skills: multi-word skills quoted, all alternatives.
fn skill_query(first: &[String], second: &[String]) -> String {
    first
        .iter()
        .chain(second)
        .take(20)
        .map(|s| {
            let cleaned: String = s.chars().filter(|c| !matches!(c, '"' | '\\')).collect();
            if cleaned.chars().all(char::is_alphanumeric) {
                cleaned
            } else {
                format!("\"{cleaned}\"")
            }
        })
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn semantic_evidence(
    similarity: Option<f32>,
    floor: Option<f32>,
    has_vector: bool,
    scale: SimilarityScale,
) -> Semantic {
    match (similarity, floor) {
        (Some(s), _) => Semantic::Similarity(s, scale),
        (None, Some(f)) if has_vector => Semantic::AtMost(f, scale),
        _ => Semantic::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_vector_travels_only_with_the_model_that_made_it() {
        let now = Utc::now();
        let mut job = job::Model {
            id: "j-1".into(),
            title: "Rust engineer".into(),
            company: None,
            description: String::new(),
            required_skills: "[]".into(),
            preferred_skills: "[]".into(),
            skills_extracted: false,
            min_years: None,
            education: None,
            city: None,
            remote: false,
            salary_min: None,
            salary_max: None,
            status: status::OPEN.into(),
            embedding: Some(looma_embed::vector_to_bytes(&[1.0, 0.0])),
            embedding_model: None,
            job_family: None,
            keywords: "[]".into(),
            created_by: None,
            created_at: now,
            updated_at: now,
        };
        // Unrecorded: MiniLM's vector, kept away from an e5 index.
        assert_eq!(job.vector_model(), Some("all-MiniLM-L6-v2"));
        let document = index_document(&job, "multilingual-e5-small-q4");
        assert_eq!((document.vector, document.vector_model), (None, None));
        job.embedding_model = Some("multilingual-e5-small-q4".into());
        let document = index_document(&job, "multilingual-e5-small-q4");
        assert_eq!(document.vector, Some(vec![1.0, 0.0]));
        assert_eq!(
            document.vector_model.as_deref(),
            Some("multilingual-e5-small-q4")
        );
    }
}
