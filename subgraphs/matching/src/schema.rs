//! The matching subgraph's GraphQL surface: jobs (`Job @key(fields: "id")`), matches in both
//! directions (also as `Resume.jobMatches` and `Job.candidateMatches`, joined by the router),
//! and the match history.

use crate::MatchingError;
use crate::domain::filters::HardFilters;
use crate::domain::recommend::{Factor, FactorScore};
use crate::domain::score::{ComponentScore, MatchScore};
use crate::domain::weights::Component;
use crate::service::{
    JobInput, MatchOutcome, MatchingService, RecommendQuery, Recommendations, Recommended, Scored,
};
use crate::store::{job, run};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::types::Json;
use async_graphql::{
    ComplexObject, Context, EmptySubscription, Enum, ID, InputObject, MaybeUndefined, Object,
    Result, Schema, SimpleObject,
};
use chrono::{DateTime, Utc};
use looma_auth::{Principal, permission};
use looma_core::GraphqlResultExt;
use looma_core::page::{CursorKind, PageError, PageInfo, page_size};
use looma_server::require;
use std::collections::HashMap;
use std::sync::Arc;

pub type MatchingSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn build_schema(service: MatchingService) -> MatchingSchema {
    looma_server::subgraph_schema(Query, Mutation, EmptySubscription)
        .data(service)
        .finish()
}

pub fn attach_loaders(
    request: async_graphql::Request,
    service: &MatchingService,
) -> async_graphql::Request {
    request
        .data(DataLoader::new(JobLoader(service.clone()), tokio::spawn))
        .data(DataLoader::new(
            RecommendationLoader(service.clone()),
            tokio::spawn,
        ))
}

fn service<'a>(ctx: &Context<'a>) -> &'a MatchingService {
    ctx.data_unchecked::<MatchingService>()
}

pub struct JobLoader(MatchingService);

impl Loader<String> for JobLoader {
    type Value = Arc<job::Model>;
    type Error = Arc<MatchingError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        let jobs = self.0.store().jobs(keys).await.map_err(Arc::new)?;
        Ok(jobs
            .into_iter()
            .map(|j| (j.id.clone(), Arc::new(j)))
            .collect())
    }
}

async fn load_job(ctx: &Context<'_>, id: &str) -> Result<Option<Job>> {
    let loader = ctx.data_unchecked::<DataLoader<JobLoader>>();
    let model = loader
        .load_one(id.to_owned())
        .await
        .map_err(|error| looma_core::error::to_graphql_error(error.as_ref()))?;
    Ok(model.map(Job::new))
}

/// Which recommendation list a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecommendationKind {
    SimilarResumes,
    SimilarJobs,
    Candidates,
}

/// One recommendation list of one entity, as the resolvers of a request ask for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecommendationKey {
    pub kind: RecommendationKind,
    pub subject: String,
    pub top_k: usize,
    /// The hard filters as JSON (candidates; empty otherwise): keys must hash.
    pub filter: String,
}

/// Batches the recommendation fields of one request (`resumes { similarResumes }` over a
/// page of resumes): one call per kind to the service, which asks search once for all.
pub struct RecommendationLoader(MatchingService);

impl Loader<RecommendationKey> for RecommendationLoader {
    type Value = Arc<Recommendations>;
    type Error = Arc<MatchingError>;

    async fn load(
        &self,
        keys: &[RecommendationKey],
    ) -> Result<HashMap<RecommendationKey, Self::Value>, Self::Error> {
        let mut loaded = HashMap::with_capacity(keys.len());
        for kind in [
            RecommendationKind::SimilarResumes,
            RecommendationKind::SimilarJobs,
            RecommendationKind::Candidates,
        ] {
            let group: Vec<&RecommendationKey> = keys.iter().filter(|k| k.kind == kind).collect();
            if group.is_empty() {
                continue;
            }
            let queries: Vec<RecommendQuery> = group
                .iter()
                .map(|key| RecommendQuery {
                    subject: key.subject.clone(),
                    top_k: key.top_k,
                    filters: serde_json::from_str(&key.filter).unwrap_or_default(),
                })
                .collect();
            let results = match kind {
                RecommendationKind::SimilarResumes => self.0.similar_resumes(&queries).await,
                RecommendationKind::SimilarJobs => self.0.similar_jobs(&queries).await,
                RecommendationKind::Candidates => self.0.recommend_candidates(&queries).await,
            }
            .map_err(Arc::new)?;
            for (key, result) in group.into_iter().zip(results) {
                loaded.insert(key.clone(), Arc::new(result));
            }
        }
        Ok(loaded)
    }
}

/// Recommendations show what searching the collections would, so they need what search
/// needs: `search:read` plus the read permission of every collection involved (`resume:read`
/// for resumes, `job:read` for jobs).
fn require_recommendations<'a>(ctx: &Context<'a>, reads: &[&str]) -> Result<&'a Principal> {
    let principal = require(ctx, permission::SEARCH_READ)?;
    for read in reads {
        require(ctx, read)?;
    }
    Ok(principal)
}

/// One recommendation list: permission and `topK` checked by the caller, then batched with
/// the request's other lists.
async fn recommendations(
    ctx: &Context<'_>,
    kind: RecommendationKind,
    subject: &str,
    top_k: i32,
    filter: Option<HardFilters>,
) -> Result<Vec<Recommended>> {
    let top_k = MatchingService::check_top_k(top_k).gql()?;
    let filter = match filter {
        Some(filter) => serde_json::to_string(&filter)
            .map_err(|e| MatchingError::Internal(e.to_string()))
            .gql()?,
        None => String::new(),
    };
    let loader = ctx.data_unchecked::<DataLoader<RecommendationLoader>>();
    let loaded = loader
        .load_one(RecommendationKey {
            kind,
            subject: subject.to_owned(),
            top_k,
            filter,
        })
        .await
        .map_err(|error| looma_core::error::to_graphql_error(error.as_ref()))?;
    match loaded.as_deref() {
        Some(Ok(list)) => Ok(list.clone()),
        Some(Err(error)) => Err(looma_core::error::to_graphql_error(error)),
        None => Err(looma_core::error::to_graphql_error(
            &MatchingError::Internal("a recommendation list was not loaded".into()),
        )),
    }
}

// ---- types ---------------------------------------------------------------------------

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum JobStatus {
    Open,
    Closed,
}

/// A job posting.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Job {
    pub id: ID,
    #[graphql(skip)]
    model: Arc<job::Model>,
}

impl Job {
    fn new(model: Arc<job::Model>) -> Self {
        Job {
            id: ID(model.id.clone()),
            model,
        }
    }
}

#[ComplexObject]
impl Job {
    async fn title(&self) -> &str {
        &self.model.title
    }
    async fn company(&self) -> Option<&str> {
        self.model.company.as_deref()
    }
    async fn description(&self) -> &str {
        &self.model.description
    }
    /// Canonical skill names (aliases such as `k8s` are resolved on save).
    async fn required_skills(&self) -> Vec<String> {
        self.model.required()
    }
    /// The CSCO 2022 job family (middle group, `2-02`) of the title; a search filter and
    /// facet (`jobFamilies`, `JOB_FAMILY`).
    async fn job_family(&self) -> Option<&str> {
        self.model.job_family.as_deref()
    }
    /// Its CSCO name (`工程技术人员`).
    async fn job_family_name(&self) -> Option<&'static str> {
        self.model
            .job_family
            .as_deref()
            .and_then(looma_analytics::family::family_name)
    }
    /// Keywords of the title and description (text analytics), best first.
    async fn keywords(&self) -> Vec<String> {
        self.model.keywords()
    }
    async fn preferred_skills(&self) -> Vec<String> {
        self.model.preferred()
    }
    /// True when the required skills were extracted from the description.
    async fn skills_extracted(&self) -> bool {
        self.model.skills_extracted
    }
    async fn min_years(&self) -> Option<f64> {
        self.model.min_years
    }
    /// Education level code.
    async fn education(&self) -> Option<&str> {
        self.model.education.as_deref()
    }
    async fn city(&self) -> Option<&str> {
        self.model.city.as_deref()
    }
    async fn remote(&self) -> bool {
        self.model.remote
    }
    async fn salary_min(&self) -> Option<f64> {
        self.model.salary_min
    }
    async fn salary_max(&self) -> Option<f64> {
        self.model.salary_max
    }
    async fn status(&self) -> JobStatus {
        if self.model.status == crate::store::status::OPEN {
            JobStatus::Open
        } else {
            JobStatus::Closed
        }
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model.updated_at
    }

    /// Candidates for this job, best first (recorded in the match history). Needs `match:run`.
    async fn candidate_matches(
        &self,
        ctx: &Context<'_>,
        filter: Option<MatchFilter>,
        #[graphql(default = 20)] limit: i32,
    ) -> Result<Vec<CandidateMatch>> {
        let principal = require_matching(ctx)?;
        let outcome = service(ctx)
            .match_candidates(
                &self.model.id,
                filter.map(Into::into).unwrap_or_default(),
                limit,
                &principal.subject,
            )
            .await
            .gql()?;
        Ok(candidate_matches(outcome))
    }

    /// Open jobs like this one (itself excluded), best first: the postings' vector
    /// similarity blended with shared skills and recency, with the reasons. Needs
    /// `search:read` and `job:read` (what searching jobs needs).
    async fn similar_jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] top_k: i32,
    ) -> Result<Vec<SimilarJob>> {
        require_recommendations(ctx, &[permission::JOB_READ])?;
        let list = recommendations(
            ctx,
            RecommendationKind::SimilarJobs,
            &self.model.id,
            top_k,
            None,
        )
        .await?;
        Ok(list.into_iter().map(SimilarJob::from).collect())
    }

    /// Candidates recommended for this job, best first: profile similarity to the job
    /// blended with the job's skills they have and how recently their resume was updated,
    /// with the reasons; hard filters exclude. Unlike `candidateMatches`, nothing is recorded
    /// and no `match:run` is needed: `search:read`, `resume:read` and `job:read` (what
    /// searching both collections needs).
    async fn recommended_candidates(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] top_k: i32,
        filter: Option<MatchFilter>,
    ) -> Result<Vec<RecommendedCandidate>> {
        require_recommendations(ctx, &[permission::JOB_READ, permission::RESUME_READ])?;
        let list = recommendations(
            ctx,
            RecommendationKind::Candidates,
            &self.model.id,
            top_k,
            Some(filter.map(Into::into).unwrap_or_default()),
        )
        .await?;
        Ok(list.into_iter().map(RecommendedCandidate::from).collect())
    }
}

/// A resume (owned by the resume subgraph); matching adds its job matches.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Resume {
    pub id: ID,
}

#[ComplexObject]
impl Resume {
    /// Open jobs for this candidate, best first (recorded in the match history). Needs
    /// `match:run`.
    async fn job_matches(
        &self,
        ctx: &Context<'_>,
        filter: Option<MatchFilter>,
        #[graphql(default = 20)] limit: i32,
    ) -> Result<Vec<JobMatch>> {
        let principal = require_matching(ctx)?;
        let outcome = service(ctx)
            .match_jobs(
                &self.id,
                filter.map(Into::into).unwrap_or_default(),
                limit,
                &principal.subject,
            )
            .await
            .gql()?;
        Ok(job_matches(outcome))
    }

    /// Resumes like this one (itself excluded), best first: the profiles' vector similarity
    /// blended with shared skills and recency, with the reasons. Needs `search:read` and
    /// `resume:read` (what searching resumes needs); contacts stay masked as resume masks
    /// them.
    async fn similar_resumes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] top_k: i32,
    ) -> Result<Vec<SimilarResume>> {
        require_recommendations(ctx, &[permission::RESUME_READ])?;
        let list = recommendations(
            ctx,
            RecommendationKind::SimilarResumes,
            &self.id,
            top_k,
            None,
        )
        .await?;
        Ok(list.into_iter().map(SimilarResume::from).collect())
    }
}

/// The factors a recommendation blends.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum RecommendationFactor {
    /// The embeddings' cosine, read on the model's scale.
    Similarity,
    /// Skills in common (for candidates: the job's skills they have, required ones first).
    Skills,
    /// How recently the recommended resume or job was updated (half-life 90 days).
    Recency,
}

impl From<Factor> for RecommendationFactor {
    fn from(f: Factor) -> Self {
        match f {
            Factor::Similarity => RecommendationFactor::Similarity,
            Factor::Skills => RecommendationFactor::Skills,
            Factor::Recency => RecommendationFactor::Recency,
        }
    }
}

/// One factor of a recommendation: `contribution = weight × score`; the contributions sum to
/// the recommendation's `score`.
#[derive(SimpleObject)]
pub struct RecommendationComponent {
    pub factor: RecommendationFactor,
    pub weight: f64,
    /// In [0, 1].
    pub score: f64,
    pub contribution: f64,
    pub reason: String,
}

impl From<FactorScore> for RecommendationComponent {
    fn from(f: FactorScore) -> Self {
        RecommendationComponent {
            factor: f.factor.into(),
            weight: f.weight,
            score: f.score,
            contribution: f.contribution,
            reason: f.reason,
        }
    }
}

/// A resume like another.
#[derive(SimpleObject)]
pub struct SimilarResume {
    pub resume: Resume,
    /// In [0, 1]: the sum of the components' contributions.
    pub score: f64,
    /// One reason per factor, the largest contribution first ("similar profile 0.91",
    /// "shares Rust, Kubernetes", "updated 3 days ago").
    pub reasons: Vec<String>,
    /// Skills both resumes have.
    pub shared_skills: Vec<String>,
    pub components: Vec<RecommendationComponent>,
}

impl From<Recommended> for SimilarResume {
    fn from(r: Recommended) -> Self {
        SimilarResume {
            resume: Resume { id: ID(r.id) },
            score: r.recommendation.total,
            reasons: r.recommendation.reasons,
            shared_skills: r.recommendation.shared_skills,
            components: components(r.recommendation.components),
        }
    }
}

/// A job like another.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct SimilarJob {
    #[graphql(skip)]
    job_id: String,
    /// In [0, 1]: the sum of the components' contributions.
    pub score: f64,
    /// One reason per factor, the largest contribution first.
    pub reasons: Vec<String>,
    /// Skills both jobs list.
    pub shared_skills: Vec<String>,
    pub components: Vec<RecommendationComponent>,
}

#[ComplexObject]
impl SimilarJob {
    /// The job (null if it was deleted since).
    async fn job(&self, ctx: &Context<'_>) -> Result<Option<Job>> {
        load_job(ctx, &self.job_id).await
    }
}

impl From<Recommended> for SimilarJob {
    fn from(r: Recommended) -> Self {
        SimilarJob {
            job_id: r.id,
            score: r.recommendation.total,
            reasons: r.recommendation.reasons,
            shared_skills: r.recommendation.shared_skills,
            components: components(r.recommendation.components),
        }
    }
}

/// A candidate recommended for a job.
#[derive(SimpleObject)]
pub struct RecommendedCandidate {
    pub resume: Resume,
    /// In [0, 1]: the sum of the components' contributions.
    pub score: f64,
    /// One reason per factor, the largest contribution first ("has Rust, Kubernetes;
    /// missing Go", "similar profile 0.88", "updated yesterday").
    pub reasons: Vec<String>,
    /// The job's required and preferred skills the candidate has.
    pub matched_skills: Vec<String>,
    /// Required skills the candidate lacks.
    pub missing_skills: Vec<String>,
    pub components: Vec<RecommendationComponent>,
}

impl From<Recommended> for RecommendedCandidate {
    fn from(r: Recommended) -> Self {
        RecommendedCandidate {
            resume: Resume { id: ID(r.id) },
            score: r.recommendation.total,
            reasons: r.recommendation.reasons,
            matched_skills: r.recommendation.shared_skills,
            missing_skills: r.recommendation.missing_skills,
            components: components(r.recommendation.components),
        }
    }
}

fn components(factors: Vec<FactorScore>) -> Vec<RecommendationComponent> {
    factors.into_iter().map(Into::into).collect()
}

/// Hard filters: pairs that fail one are excluded, not ranked lower.
#[derive(InputObject, Default)]
pub struct MatchFilter {
    /// The other side's city must be one of these (either language; remote jobs pass).
    pub cities: Option<Vec<String>>,
    /// Jobs: only remote (`true`) or only on-site (`false`) ones (ignored for candidates).
    pub remote: Option<bool>,
    /// The job's salary range must overlap `[salaryMin, salaryMax]`.
    pub salary_min: Option<f64>,
    pub salary_max: Option<f64>,
    /// Candidates with fewer years of experience are excluded.
    pub min_years: Option<f64>,
    /// Exclude pairs where the candidate has fewer years than the job's minimum.
    #[graphql(default)]
    pub enforce_job_minimum_years: bool,
}

impl From<MatchFilter> for HardFilters {
    fn from(f: MatchFilter) -> Self {
        HardFilters {
            cities: f.cities.unwrap_or_default(),
            remote: f.remote,
            salary_min: f.salary_min,
            salary_max: f.salary_max,
            min_years: f.min_years,
            enforce_job_minimum_years: f.enforce_job_minimum_years,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum MatchComponent {
    RequiredSkills,
    PreferredSkills,
    Semantic,
    Experience,
    Education,
    Location,
    Salary,
}

impl From<Component> for MatchComponent {
    fn from(c: Component) -> Self {
        match c {
            Component::RequiredSkills => MatchComponent::RequiredSkills,
            Component::PreferredSkills => MatchComponent::PreferredSkills,
            Component::Semantic => MatchComponent::Semantic,
            Component::Experience => MatchComponent::Experience,
            Component::Education => MatchComponent::Education,
            Component::Location => MatchComponent::Location,
            Component::Salary => MatchComponent::Salary,
        }
    }
}

/// One part of a match score: `contribution = weight × score`; the contributions of a match
/// sum to its `score`.
#[derive(SimpleObject)]
pub struct MatchComponentScore {
    pub component: MatchComponent,
    /// Normalised weight (all weights sum to 1).
    pub weight: f64,
    /// In [0, 1].
    pub score: f64,
    pub contribution: f64,
    pub explanation: String,
}

impl From<ComponentScore> for MatchComponentScore {
    fn from(c: ComponentScore) -> Self {
        MatchComponentScore {
            component: c.component.into(),
            weight: c.weight,
            score: c.score,
            contribution: c.contribution,
            explanation: c.explanation,
        }
    }
}

/// A required skill covered through a related one (half credit).
#[derive(SimpleObject)]
pub struct RelatedSkill {
    pub skill: String,
    pub via: String,
}

/// The explained score of one pair.
#[derive(SimpleObject)]
pub struct MatchExplanation {
    pub score: f64,
    pub components: Vec<MatchComponentScore>,
    /// Required and preferred skills the candidate has.
    pub matched_skills: Vec<String>,
    pub related_skills: Vec<RelatedSkill>,
    /// Required skills the candidate lacks (the skill gap).
    pub missing_skills: Vec<String>,
}

impl From<MatchScore> for MatchExplanation {
    fn from(s: MatchScore) -> Self {
        MatchExplanation {
            score: s.total,
            components: s.components.into_iter().map(Into::into).collect(),
            matched_skills: s.matched_skills,
            related_skills: s
                .partial_skills
                .into_iter()
                .map(|p| RelatedSkill {
                    skill: p.skill,
                    via: p.via,
                })
                .collect(),
            missing_skills: s.missing_skills,
        }
    }
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct JobMatch {
    #[graphql(skip)]
    job_id: String,
    pub score: f64,
    pub explanation: MatchExplanation,
}

#[ComplexObject]
impl JobMatch {
    /// The job (null if it was deleted since). Needs `job:read`.
    async fn job(&self, ctx: &Context<'_>) -> Result<Option<Job>> {
        require(ctx, permission::JOB_READ)?;
        load_job(ctx, &self.job_id).await
    }
}

#[derive(SimpleObject)]
pub struct CandidateMatch {
    pub resume: Resume,
    pub score: f64,
    pub explanation: MatchExplanation,
}

fn job_matches(outcome: MatchOutcome) -> Vec<JobMatch> {
    outcome
        .matches
        .into_iter()
        .map(|Scored { id, score }| JobMatch {
            job_id: id,
            score: score.total,
            explanation: score.into(),
        })
        .collect()
}

fn candidate_matches(outcome: MatchOutcome) -> Vec<CandidateMatch> {
    outcome
        .matches
        .into_iter()
        .map(|Scored { id, score }| CandidateMatch {
            resume: Resume { id: ID(id) },
            score: score.total,
            explanation: score.into(),
        })
        .collect()
}

#[derive(SimpleObject)]
pub struct JobMatchResult {
    /// The history entry of this run.
    pub run_id: ID,
    /// The `matching.weights` version used.
    pub weights_version: i32,
    pub matches: Vec<JobMatch>,
}

#[derive(SimpleObject)]
pub struct CandidateMatchResult {
    pub run_id: ID,
    pub weights_version: i32,
    pub matches: Vec<CandidateMatch>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum MatchDirection {
    /// Jobs for a resume.
    Jobs,
    /// Candidates for a job.
    Candidates,
}

#[derive(SimpleObject)]
pub struct MatchRunResult {
    pub id: ID,
    pub score: f64,
}

/// One recorded match run.
#[derive(SimpleObject)]
pub struct MatchRun {
    pub id: ID,
    pub direction: MatchDirection,
    /// The resume (JOBS) or job (CANDIDATES) matched.
    pub subject_id: ID,
    /// Who ran it (user or service id).
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub filter: Json<serde_json::Value>,
    pub limit: i32,
    pub weights_version: i32,
    pub weights: Json<serde_json::Value>,
    pub results: Vec<MatchRunResult>,
    pub duration_ms: f64,
}

impl From<run::Model> for MatchRun {
    fn from(m: run::Model) -> Self {
        let results: Vec<serde_json::Value> = serde_json::from_str(&m.results).unwrap_or_default();
        MatchRun {
            id: ID(m.id),
            direction: if m.direction == "JOBS" {
                MatchDirection::Jobs
            } else {
                MatchDirection::Candidates
            },
            subject_id: ID(m.subject_id),
            requested_by: m.requested_by,
            created_at: m.created_at,
            filter: Json(serde_json::from_str(&m.filters).unwrap_or_default()),
            limit: m.result_limit,
            weights_version: m.weights_version,
            weights: Json(serde_json::from_str(&m.weights).unwrap_or_default()),
            results: results
                .into_iter()
                .map(|r| MatchRunResult {
                    id: ID(r["id"].as_str().unwrap_or_default().to_owned()),
                    score: r["score"].as_f64().unwrap_or(0.0),
                })
                .collect(),
            duration_ms: m.duration_ms,
        }
    }
}

#[derive(SimpleObject)]
pub struct MatchRunConnection {
    pub nodes: Vec<MatchRun>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct JobConnection {
    pub nodes: Vec<Job>,
    pub page_info: PageInfo,
}

#[derive(InputObject)]
pub struct CreateJobInput {
    pub title: String,
    pub company: Option<String>,
    #[graphql(default)]
    pub description: String,
    /// Canonical names or aliases; when empty, extracted from the title and description.
    pub required_skills: Option<Vec<String>>,
    pub preferred_skills: Option<Vec<String>>,
    pub min_years: Option<f64>,
    /// HIGH_SCHOOL, ASSOCIATE, BACHELOR, MASTER or DOCTORATE.
    pub education: Option<String>,
    pub city: Option<String>,
    #[graphql(default)]
    pub remote: bool,
    pub salary_min: Option<f64>,
    pub salary_max: Option<f64>,
}

/// Fields to change; omitted fields keep their value, `null` clears an optional one.
#[derive(InputObject)]
pub struct UpdateJobInput {
    pub title: Option<String>,
    pub company: MaybeUndefined<String>,
    pub description: Option<String>,
    pub required_skills: Option<Vec<String>>,
    pub preferred_skills: Option<Vec<String>>,
    pub min_years: MaybeUndefined<f64>,
    pub education: MaybeUndefined<String>,
    pub city: MaybeUndefined<String>,
    pub remote: Option<bool>,
    pub salary_min: MaybeUndefined<f64>,
    pub salary_max: MaybeUndefined<f64>,
}

fn maybe<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

const JOB_CURSOR: CursorKind = CursorKind::new("job");
const RUN_CURSOR: CursorKind = CursorKind::new("run");

/// A paging argument refused by `looma_core::page`, as matching's invalid-input error.
fn paging(error: PageError) -> MatchingError {
    MatchingError::invalid(error.argument(), error.problem())
}

fn subject(principal: &Principal) -> &str {
    &principal.subject
}

/// Matching reads both sides: `match:run` plus read access to resumes and jobs.
fn require_matching<'a>(ctx: &Context<'a>) -> Result<&'a Principal> {
    let principal = require(ctx, permission::MATCH_RUN)?;
    require(ctx, permission::RESUME_READ)?;
    require(ctx, permission::JOB_READ)?;
    Ok(principal)
}

// ---- operations ------------------------------------------------------------------------

pub struct Query;

#[Object]
impl Query {
    /// One job (null when unknown). Needs `job:read`.
    async fn job(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Job>> {
        require(ctx, permission::JOB_READ)?;
        load_job(ctx, &id).await
    }

    /// Jobs, newest first. Needs `job:read`.
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        status: Option<JobStatus>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<JobConnection> {
        require(ctx, permission::JOB_READ)?;
        let size = page_size(first).map_err(paging).gql()?;
        let after = after
            .as_deref()
            .map(|cursor| JOB_CURSOR.decode(cursor))
            .transpose()
            .map_err(paging)
            .gql()?;
        let status = status.map(|s| match s {
            JobStatus::Open => crate::store::status::OPEN,
            JobStatus::Closed => crate::store::status::CLOSED,
        });
        let jobs = service(ctx)
            .store()
            .list_jobs(status, after.as_deref(), size + 1)
            .await
            .gql()?;
        let (jobs, page_info) = JOB_CURSOR.page(jobs, size, |j| &j.id);
        Ok(JobConnection {
            page_info,
            nodes: jobs.into_iter().map(|j| Job::new(Arc::new(j))).collect(),
        })
    }

    /// Open jobs for a resume, best first, each with its explained score. Recorded in the
    /// history. Needs `match:run`.
    async fn match_jobs(
        &self,
        ctx: &Context<'_>,
        resume_id: ID,
        filter: Option<MatchFilter>,
        #[graphql(default = 20)] limit: i32,
    ) -> Result<JobMatchResult> {
        let principal = require_matching(ctx)?;
        let outcome = service(ctx)
            .match_jobs(
                &resume_id,
                filter.map(Into::into).unwrap_or_default(),
                limit,
                subject(principal),
            )
            .await
            .gql()?;
        looma_server::usage::record(ctx, "matching.runs", 1.0);
        Ok(JobMatchResult {
            run_id: ID(outcome.run_id.clone()),
            weights_version: outcome.weights.version,
            matches: job_matches(outcome),
        })
    }

    /// Candidates for a job, best first, each with its explained score. Recorded in the
    /// history. Needs `match:run`.
    async fn match_candidates(
        &self,
        ctx: &Context<'_>,
        job_id: ID,
        filter: Option<MatchFilter>,
        #[graphql(default = 20)] limit: i32,
    ) -> Result<CandidateMatchResult> {
        let principal = require_matching(ctx)?;
        let outcome = service(ctx)
            .match_candidates(
                &job_id,
                filter.map(Into::into).unwrap_or_default(),
                limit,
                subject(principal),
            )
            .await
            .gql()?;
        looma_server::usage::record(ctx, "matching.runs", 1.0);
        Ok(CandidateMatchResult {
            run_id: ID(outcome.run_id.clone()),
            weights_version: outcome.weights.version,
            matches: candidate_matches(outcome),
        })
    }

    /// Recorded match runs, newest first, optionally for one resume or job. Needs `match:run`.
    async fn match_runs(
        &self,
        ctx: &Context<'_>,
        subject_id: Option<ID>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<MatchRunConnection> {
        require(ctx, permission::MATCH_RUN)?;
        let size = page_size(first).map_err(paging).gql()?;
        let after = after
            .as_deref()
            .map(|cursor| RUN_CURSOR.decode(cursor))
            .transpose()
            .map_err(paging)
            .gql()?;
        let runs = service(ctx)
            .store()
            .runs(
                subject_id.as_ref().map(|id| id.as_str()),
                after.as_deref(),
                size + 1,
            )
            .await
            .gql()?;
        let (runs, page_info) = RUN_CURSOR.page(runs, size, |r| &r.id);
        Ok(MatchRunConnection {
            page_info,
            nodes: runs.into_iter().map(MatchRun::from).collect(),
        })
    }

    /// One recorded run. Needs `match:run`.
    async fn match_run(&self, ctx: &Context<'_>, id: ID) -> Result<Option<MatchRun>> {
        require(ctx, permission::MATCH_RUN)?;
        Ok(service(ctx)
            .store()
            .run(&id)
            .await
            .gql()?
            .map(MatchRun::from))
    }

    #[graphql(entity)]
    async fn find_job_by_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(key)] id: ID,
    ) -> Result<Option<Job>> {
        require(ctx, permission::JOB_READ)?;
        load_job(ctx, &id).await
    }

    #[graphql(entity)]
    async fn find_resume_by_id(&self, #[graphql(key)] id: ID) -> Resume {
        Resume { id }
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Creates an open job. Skills are normalised (`k8s` → Kubernetes) and, when none are
    /// given, extracted from the title and description. Needs `job:write`.
    async fn create_job(&self, ctx: &Context<'_>, input: CreateJobInput) -> Result<Job> {
        let principal = require(ctx, permission::JOB_WRITE)?;
        let model = service(ctx)
            .create_job(
                JobInput {
                    title: Some(input.title),
                    company: input.company,
                    description: Some(input.description),
                    required_skills: input.required_skills,
                    preferred_skills: input.preferred_skills,
                    min_years: Some(input.min_years),
                    education: Some(input.education),
                    city: Some(input.city),
                    remote: Some(input.remote),
                    salary_min: Some(input.salary_min),
                    salary_max: Some(input.salary_max),
                },
                subject(principal),
            )
            .await
            .gql()?;
        Ok(Job::new(Arc::new(model)))
    }

    /// Changes a job. Needs `job:write`.
    async fn update_job(&self, ctx: &Context<'_>, id: ID, input: UpdateJobInput) -> Result<Job> {
        require(ctx, permission::JOB_WRITE)?;
        let model = service(ctx)
            .update_job(
                &id,
                JobInput {
                    title: input.title,
                    company: maybe(input.company).map(Option::unwrap_or_default),
                    description: input.description,
                    required_skills: input.required_skills,
                    preferred_skills: input.preferred_skills,
                    min_years: maybe(input.min_years),
                    education: maybe(input.education),
                    city: maybe(input.city),
                    remote: input.remote,
                    salary_min: maybe(input.salary_min),
                    salary_max: maybe(input.salary_max),
                },
            )
            .await
            .gql()?;
        Ok(Job::new(Arc::new(model)))
    }

    /// Closes a job: it stops appearing in job matches. Needs `job:write`.
    async fn close_job(&self, ctx: &Context<'_>, id: ID) -> Result<Job> {
        require(ctx, permission::JOB_WRITE)?;
        let model = service(ctx).set_status(&id, false).await.gql()?;
        Ok(Job::new(Arc::new(model)))
    }

    /// Opens a closed job again. Needs `job:write`.
    async fn reopen_job(&self, ctx: &Context<'_>, id: ID) -> Result<Job> {
        require(ctx, permission::JOB_WRITE)?;
        let model = service(ctx).set_status(&id, true).await.gql()?;
        Ok(Job::new(Arc::new(model)))
    }
}
