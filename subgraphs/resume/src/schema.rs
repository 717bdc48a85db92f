//! The resume subgraph's GraphQL surface: thin resolvers that check permissions, call the
//! service and map errors. `Resume @key(fields: "id")` resolves in batches (one SQL
//! statement per `_entities` batch) through a DataLoader.

use crate::ResumeError;
use crate::domain::pii;
use crate::domain::profile::{
    Education as EducationRecord, Experience as ExperienceRecord, Profile,
};
use crate::service::{ResumeService, Upload as UploadInput};
use crate::store::{ResumeFilter as StoreFilter, resume};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{
    ComplexObject, Context, EmptySubscription, Enum, ID, InputObject, Object, Result, Schema,
    SimpleObject, Upload,
};
use base64::Engine;
use chrono::{DateTime, Utc};
use looma_auth::{Principal, permission};
use looma_core::GraphqlResultExt;
use looma_core::page::{CursorKind, PageError, PageInfo, page_size};
use looma_server::{caller, require};
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

pub type ResumeSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn build_schema(service: ResumeService) -> ResumeSchema {
    looma_server::subgraph_schema(Query, Mutation, EmptySubscription)
        .data(service)
        .finish()
}

/// Per-request data: the DataLoader batching `Resume` entity lookups.
pub fn attach_loaders(
    request: async_graphql::Request,
    service: &ResumeService,
) -> async_graphql::Request {
    request.data(DataLoader::new(ResumeLoader(service.clone()), tokio::spawn))
}

fn service<'a>(ctx: &Context<'a>) -> &'a ResumeService {
    ctx.data_unchecked::<ResumeService>()
}

fn sees_pii(ctx: &Context<'_>) -> bool {
    caller(ctx)
        .principal()
        .is_some_and(|p| p.has(permission::RESUME_PII))
}

pub struct ResumeLoader(ResumeService);

impl Loader<String> for ResumeLoader {
    type Value = Arc<resume::Model>;
    type Error = Arc<ResumeError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        let models = self.0.get_many(keys).await.map_err(Arc::new)?;
        Ok(models
            .into_iter()
            .map(|m| (m.id.clone(), Arc::new(m)))
            .collect())
    }
}

// ---- types ---------------------------------------------------------------------------

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ResumeStatus {
    /// Stored; waiting for (or in) parsing.
    Received,
    /// Parsed into a profile; waiting to be indexed into search.
    Parsed,
    /// Parsed and searchable.
    Indexed,
    /// Could not be processed; see `failureReason`. `reprocessResume` retries.
    Failed,
    /// No readable text layer (scanned document); OCR is needed.
    NeedsOcr,
}

impl ResumeStatus {
    fn from_store(value: &str) -> Self {
        match value {
            crate::store::status::PARSED => ResumeStatus::Parsed,
            crate::store::status::INDEXED => ResumeStatus::Indexed,
            crate::store::status::FAILED => ResumeStatus::Failed,
            crate::store::status::NEEDS_OCR => ResumeStatus::NeedsOcr,
            _ => ResumeStatus::Received,
        }
    }

    fn to_store(self) -> &'static str {
        match self {
            ResumeStatus::Received => crate::store::status::RECEIVED,
            ResumeStatus::Parsed => crate::store::status::PARSED,
            ResumeStatus::Indexed => crate::store::status::INDEXED,
            ResumeStatus::Failed => crate::store::status::FAILED,
            ResumeStatus::NeedsOcr => crate::store::status::NEEDS_OCR,
        }
    }
}

/// The uploaded file as received.
#[derive(SimpleObject)]
pub struct ResumeFile {
    pub filename: String,
    /// Detected from the content, not taken from the client.
    pub content_type: String,
    pub format: looma_extract::format::DocumentFormat,
    pub size_bytes: i64,
    /// SHA-256 of the content (duplicates share it).
    pub sha256: String,
    pub uploaded_at: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct Education {
    pub school: Option<String>,
    /// `HIGH_SCHOOL`, `ASSOCIATE`, `BACHELOR`, `MASTER` or `DOCTORATE`.
    pub degree: Option<String>,
    pub major: Option<String>,
    /// `YYYY-MM` or `YYYY`.
    pub start: Option<String>,
    pub end: Option<String>,
}

impl From<&EducationRecord> for Education {
    fn from(e: &EducationRecord) -> Self {
        Education {
            school: e.school.clone(),
            degree: e.degree.clone(),
            major: e.major.clone(),
            start: e.start.map(|d| d.to_string()),
            end: e.end.map(|d| d.to_string()),
        }
    }
}

#[derive(SimpleObject)]
pub struct Experience {
    pub company: Option<String>,
    pub title: Option<String>,
    pub start: Option<String>,
    /// Null with `current: true` for a position held today.
    pub end: Option<String>,
    pub current: bool,
    pub description: String,
}

impl From<&ExperienceRecord> for Experience {
    fn from(e: &ExperienceRecord) -> Self {
        Experience {
            company: e.company.clone(),
            title: e.title.clone(),
            start: e.start.map(|d| d.to_string()),
            end: e.end.map(|d| d.to_string()),
            current: e.current,
            description: e.description.clone(),
        }
    }
}

/// The structured profile. Contact fields (name, email, phone) are masked unless the caller
/// holds `resume:pii`; `contactMasked` says which the caller got.
#[derive(SimpleObject)]
pub struct CandidateProfile {
    /// `zh` or `en`.
    pub language: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub city: Option<String>,
    pub contact_masked: bool,
    pub education: Vec<Education>,
    pub experience: Vec<Experience>,
    /// Canonical skill names (the shared taxonomy).
    pub skills: Vec<String>,
    pub keywords: Vec<String>,
    pub summary: Option<String>,
    /// Years of experience: the union of the positions' intervals.
    pub total_years: Option<f64>,
    pub highest_degree: Option<String>,
    pub headline: Option<String>,
    /// The CSCO 2022 job family (middle group, `2-02`) of the headline; a search filter and
    /// facet (`jobFamilies`, `JOB_FAMILY`).
    pub job_family: Option<String>,
    /// Its CSCO name (`工程技术人员`).
    pub job_family_name: Option<String>,
}

/// The profile as the caller may see it; without `resume:pii`, masked as `domain::pii`'s
/// audit table says.
fn profile_view(profile: &Profile, unmasked: bool) -> CandidateProfile {
    let view = CandidateProfile {
        language: profile.language.clone(),
        name: profile.name.clone(),
        email: profile.email.clone(),
        phone: profile.phone.clone(),
        city: profile.city.clone(),
        contact_masked: !unmasked,
        education: profile.education.iter().map(Education::from).collect(),
        experience: profile.experience.iter().map(Experience::from).collect(),
        skills: profile.skills.clone(),
        keywords: profile.keywords.clone(),
        summary: profile.summary.clone(),
        total_years: profile.total_years,
        highest_degree: profile.highest_degree.clone(),
        headline: profile.headline.clone(),
        job_family: profile.job_family.clone(),
        job_family_name: profile
            .job_family
            .as_deref()
            .and_then(looma_analytics::family::family_name)
            .map(str::to_owned),
    };
    if unmasked {
        return view;
    }
    let name = profile.name.as_deref();
    let free_text = |value: Option<String>| value.map(|v| pii::mask_contacts(&v, name));
    let reveals = |keyword: &str| pii::mask_contacts(keyword, name) != keyword;
    CandidateProfile {
        name: view.name.as_deref().map(pii::mask_name),
        email: view.email.as_deref().map(pii::mask_email),
        phone: view.phone.as_deref().map(pii::mask_phone),
        experience: view
            .experience
            .into_iter()
            .map(|e| Experience {
                title: free_text(e.title),
                description: pii::mask_contacts(&e.description, name),
                ..e
            })
            .collect(),
        keywords: view.keywords.into_iter().filter(|k| !reveals(k)).collect(),
        summary: free_text(view.summary),
        headline: free_text(view.headline),
        ..view
    }
}

/// A candidate's resume: the file, its processing status and the parsed profile.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Resume {
    pub id: ID,
    #[graphql(skip)]
    model: Arc<resume::Model>,
}

impl Resume {
    fn new(model: Arc<resume::Model>) -> Self {
        Resume {
            id: ID(model.id.clone()),
            model,
        }
    }

    fn parsed_profile(&self) -> Option<Profile> {
        self.model
            .profile
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
    }
}

#[ComplexObject]
impl Resume {
    async fn status(&self) -> ResumeStatus {
        ResumeStatus::from_store(&self.model.status)
    }

    /// Why the last processing attempt failed (`FAILED`, `NEEDS_OCR`).
    async fn failure_reason(&self) -> Option<&str> {
        self.model.failure_reason.as_deref()
    }

    /// Processing attempts so far.
    async fn attempts(&self) -> i32 {
        self.model.attempts
    }

    /// The file; without `resume:pii` its name is `resume-<short id>.<ext>` (clients name
    /// files after the candidate).
    async fn file(&self, ctx: &Context<'_>) -> ResumeFile {
        let filename = if sees_pii(ctx) {
            self.model.filename.clone()
        } else {
            pii::masked_filename(&self.model.id, &self.model.filename)
        };
        ResumeFile {
            filename,
            content_type: self.model.content_type.clone(),
            format: looma_extract::format::DocumentFormat::parse(&self.model.format)
                .unwrap_or(looma_extract::format::DocumentFormat::Txt),
            size_bytes: self.model.size_bytes,
            sha256: self.model.content_hash.clone(),
            uploaded_at: self.model.created_at,
        }
    }

    /// Null until the resume is parsed.
    async fn profile(&self, ctx: &Context<'_>) -> Option<CandidateProfile> {
        self.parsed_profile()
            .map(|p| profile_view(&p, sees_pii(ctx)))
    }

    /// Canonical skills (empty until parsed).
    async fn skills(&self) -> Vec<String> {
        self.parsed_profile().map(|p| p.skills).unwrap_or_default()
    }

    /// The extracted text (ID numbers always masked; contacts masked without `resume:pii`).
    async fn text(&self, ctx: &Context<'_>) -> Option<String> {
        let text = self.model.text.as_deref()?;
        if sees_pii(ctx) {
            return Some(text.to_owned());
        }
        let name = self.parsed_profile().and_then(|p| p.name);
        Some(pii::mask_contacts(text, name.as_deref()))
    }

    /// The model that made `embedding` (`searchBackends.vectorModel` names the index's).
    async fn embedding_model(&self) -> Option<String> {
        crate::service::embedding_model(&self.model).map(str::to_owned)
    }

    /// The profile's sentence embedding (384 dimensions, by `embeddingModel`), once parsed.
    async fn embedding(&self) -> Option<Vec<f32>> {
        self.model
            .embedding
            .as_deref()
            .map(looma_embed::vector_from_bytes)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.model.updated_at
    }

    async fn parsed_at(&self) -> Option<DateTime<Utc>> {
        self.model.parsed_at
    }

    async fn indexed_at(&self) -> Option<DateTime<Utc>> {
        self.model.indexed_at
    }
}

#[derive(SimpleObject)]
pub struct UploadResult {
    pub resume: Resume,
    /// True when the same content was uploaded before; `resume` is that earlier upload.
    pub duplicate: bool,
}

#[derive(InputObject, Default)]
pub struct ResumeFilter {
    pub status: Option<Vec<ResumeStatus>>,
    /// A canonical skill name or an alias (`k8s`).
    pub skill: Option<String>,
    pub city: Option<String>,
    /// Highest degree code.
    pub degree: Option<String>,
    pub min_years: Option<f64>,
}

#[derive(SimpleObject)]
pub struct ResumeEdge {
    pub cursor: String,
    pub node: Resume,
}

#[derive(SimpleObject)]
pub struct ResumeConnection {
    pub edges: Vec<ResumeEdge>,
    pub page_info: PageInfo,
}

const RESUME_CURSOR: CursorKind = CursorKind::new("resume");

/// A paging argument refused by `looma_core::page`, as resume's invalid-input error.
fn paging(error: PageError) -> ResumeError {
    ResumeError::invalid(error.argument(), error.problem())
}

// ---- operations ------------------------------------------------------------------------

pub struct Query;

#[Object]
impl Query {
    /// One resume by id (null when it does not exist). Needs `resume:read`.
    async fn resume(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Resume>> {
        require(ctx, permission::RESUME_READ)?;
        let loader = ctx.data_unchecked::<DataLoader<ResumeLoader>>();
        let model = loader
            .load_one(id.to_string())
            .await
            .map_err(|error| looma_core::error::to_graphql_error(error.as_ref()))?;
        Ok(model.map(Resume::new))
    }

    /// Resumes, newest first, with filters and cursor pagination (`first` ≤ 100).
    async fn resumes(
        &self,
        ctx: &Context<'_>,
        filter: Option<ResumeFilter>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<ResumeConnection> {
        require(ctx, permission::RESUME_READ)?;
        let size = page_size(first).map_err(paging).gql()?;
        let after = after
            .as_deref()
            .map(|cursor| RESUME_CURSOR.decode(cursor))
            .transpose()
            .map_err(paging)
            .gql()?;
        let filter = filter.unwrap_or_default();
        if filter.min_years.is_some_and(|y| !(0.0..=80.0).contains(&y)) {
            return Err(ResumeError::invalid(
                "filter.minYears",
                "must be between 0 and 80",
            ))
            .gql();
        }
        let skill = filter.skill.as_deref().map(|s| {
            looma_taxonomy::SkillTaxonomy::builtin()
                .get(s)
                .map(|skill| skill.name.clone())
                .unwrap_or_else(|| s.trim().to_owned())
        });
        let store_filter = StoreFilter {
            statuses: filter
                .status
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.to_store().to_owned())
                .collect(),
            skill,
            city: filter.city,
            degree: filter.degree,
            min_years: filter.min_years,
        };
        let models = service(ctx)
            .list(&store_filter, after.as_deref(), size + 1)
            .await
            .gql()?;
        let (models, page_info) = RESUME_CURSOR.page(models, size, |m| &m.id);
        Ok(ResumeConnection {
            edges: models
                .into_iter()
                .map(|m| ResumeEdge {
                    cursor: RESUME_CURSOR.encode(&m.id),
                    node: Resume::new(Arc::new(m)),
                })
                .collect(),
            page_info,
        })
    }

    /// Federation entity resolver for `Resume`, batched through the DataLoader.
    #[graphql(entity)]
    async fn find_resume_by_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(key)] id: ID,
    ) -> Result<Option<Resume>> {
        require(ctx, permission::RESUME_READ)?;
        let loader = ctx.data_unchecked::<DataLoader<ResumeLoader>>();
        let model = loader
            .load_one(id.to_string())
            .await
            .map_err(|error| looma_core::error::to_graphql_error(error.as_ref()))?;
        Ok(model.map(Resume::new))
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Uploads a resume file (GraphQL multipart request). Acknowledged once the file and
    /// its metadata are stored; parsing continues in the background (watch `status`).
    /// Uploading the same content again returns the existing resume. Needs `resume:write`.
    async fn upload_resume(&self, ctx: &Context<'_>, file: Upload) -> Result<UploadResult> {
        let principal = require(ctx, permission::RESUME_WRITE)?;
        let value = file
            .value(ctx)
            .map_err(|_| ResumeError::invalid("file", "no file was attached under this variable"))
            .gql()?;
        let filename = file_name(&value.filename);
        let mut bytes = Vec::new();
        value
            .into_read()
            .read_to_end(&mut bytes)
            .map_err(|e| ResumeError::invalid("file", format!("could not read the upload: {e}")))
            .gql()?;
        upload(ctx, principal, &filename, bytes).await
    }

    /// Uploads a resume sent as base64 (for clients that cannot send multipart).
    async fn upload_resume_base64(
        &self,
        ctx: &Context<'_>,
        filename: String,
        content_base64: String,
    ) -> Result<UploadResult> {
        let principal = require(ctx, permission::RESUME_WRITE)?;
        let limit = service(ctx).config().max_upload_bytes;
        if content_base64.len() as u64 > limit.saturating_mul(4) / 3 + 4 {
            return Err(ResumeError::FileTooLarge {
                size: content_base64.len() as u64 * 3 / 4,
                limit,
            })
            .gql();
        }
        let compact: String = content_base64.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|e| ResumeError::invalid("contentBase64", format!("not valid base64: {e}")))
            .gql()?;
        upload(ctx, principal, &filename, bytes).await
    }

    /// Parses a resume again (after `FAILED`/`NEEDS_OCR`, or to pick up parser improvements).
    async fn reprocess_resume(&self, ctx: &Context<'_>, id: ID) -> Result<Resume> {
        require(ctx, permission::RESUME_WRITE)?;
        let model = service(ctx).reprocess(id.as_str()).await.gql()?;
        Ok(Resume::new(Arc::new(model)))
    }

    /// Deletes a resume and its file, and removes it from search.
    async fn delete_resume(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        require(ctx, permission::RESUME_WRITE)?;
        service(ctx).delete(id.as_str()).await.gql()?;
        Ok(true)
    }
}

fn file_name(name: &str) -> String {
    if name.trim().is_empty() {
        "resume".into()
    } else {
        name.to_owned()
    }
}

async fn upload(
    ctx: &Context<'_>,
    principal: &Principal,
    filename: &str,
    bytes: Vec<u8>,
) -> Result<UploadResult> {
    let (model, created) = service(ctx)
        .upload(UploadInput {
            filename: filename.to_owned(),
            bytes,
            uploaded_by: Some(principal.subject.clone()),
        })
        .await
        .gql()?;
    looma_server::usage::record(ctx, "resume.uploads", 1.0);
    Ok(UploadResult {
        resume: Resume::new(Arc::new(model)),
        duplicate: !created,
    })
}
