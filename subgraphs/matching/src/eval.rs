//! `looma eval matching`: NDCG@10 of our ranking and of a plain keyword-overlap baseline over
//! the judged jobs × resumes in `tests/fixtures/matching/`, in both directions. Every pair is
//! scored exactly (no search shortlist), with embeddings from the real model when installed.

use crate::MatchingError;
use crate::domain::score::{CandidateFacts, JobFacts, Semantic, SimilarityScale, score};
use crate::domain::weights::Weights;
use crate::service::job_embedding_text;
use looma_core::metrics::ndcg_at;
use looma_embed::{EmbeddingService, TextKind};
use looma_taxonomy::{EducationLevel, Segmenter};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::path::Path;

const CUTOFF: usize = 10;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FixtureJob {
    id: String,
    title: String,
    #[serde(default)]
    company: Option<String>,
    description: String,
    #[serde(default)]
    required_skills: Vec<String>,
    #[serde(default)]
    preferred_skills: Vec<String>,
    min_years: Option<f64>,
    education: Option<String>,
    city: Option<String>,
    #[serde(default)]
    remote: bool,
    salary_min: Option<f64>,
    salary_max: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FixtureResume {
    id: String,
    #[serde(default)]
    headline: Option<String>,
    text: String,
    #[serde(default)]
    skills: Vec<String>,
    total_years: Option<f64>,
    highest_degree: Option<String>,
    city: Option<String>,
    expected_salary_min: Option<f64>,
    expected_salary_max: Option<f64>,
}

#[derive(Deserialize)]
struct Judgments {
    jobs: HashMap<String, HashMap<String, u8>>,
    resumes: HashMap<String, HashMap<String, u8>>,
}

pub struct DirectionReport {
    pub queries: usize,
    pub ours: f64,
    pub baseline: f64,
}

pub struct Report {
    pub candidates_for_jobs: DirectionReport,
    pub jobs_for_resumes: DirectionReport,
    /// Why semantic similarity was left out (the model is missing), if it was.
    pub semantic_skipped: Option<String>,
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = format!("NDCG@{CUTOFF} (mean over judged subjects)\n");
        out.push_str(&format!(
            "{:<24} {:>7} {:>9} {:>9}\n",
            "direction", "queries", "ours", "baseline"
        ));
        for (name, d) in [
            ("candidates for a job", &self.candidates_for_jobs),
            ("jobs for a resume", &self.jobs_for_resumes),
        ] {
            out.push_str(&format!(
                "{name:<24} {:>7} {:>9.3} {:>9.3}\n",
                d.queries, d.ours, d.baseline
            ));
        }
        out.push_str("baseline: share of the job's words (title, description, skills) found in the resume text\n");
        if let Some(reason) = &self.semantic_skipped {
            out.push_str(&format!("semantic similarity skipped: {reason}\n"));
        }
        out
    }
}

fn words(text: &str) -> HashSet<String> {
    Segmenter::builtin()
        .cut(&text.to_lowercase())
        .into_iter()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, MatchingError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| MatchingError::Internal(format!("reading {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| MatchingError::Internal(format!("parsing {}: {e}", path.display())))
}

/// Scores every judged pair both ways and reports NDCG@10 for our ranking and the baseline.
pub async fn evaluate(
    fixtures: &Path,
    embedder: &EmbeddingService,
    weights: &Weights,
) -> Result<Report, MatchingError> {
    let jobs: Vec<FixtureJob> = read(&fixtures.join("jobs.json"))?;
    let resumes: Vec<FixtureResume> = read(&fixtures.join("resumes.json"))?;
    let judgments: Judgments = read(&fixtures.join("judgments.json"))?;

    let job_texts: Vec<String> = jobs
        .iter()
        .map(|j| {
            job_embedding_text(
                &j.title,
                &j.required_skills,
                &j.preferred_skills,
                &j.description,
            )
        })
        .collect();
    let resume_texts: Vec<String> = resumes
        .iter()
        .map(|r| {
            format!(
                "{}. Skills: {}. {}",
                r.headline.as_deref().unwrap_or(""),
                r.skills.join(", "),
                r.text
            )
        })
        .collect();
    let scale = SimilarityScale::for_model(&embedder.model_id());
    let (job_vectors, resume_vectors, semantic_skipped) = match (
        embedder.embed(job_texts, TextKind::Passage).await,
        embedder.embed(resume_texts, TextKind::Passage).await,
    ) {
        (Ok(j), Ok(r)) => (Some(j), Some(r), None),
        (Err(e), _) | (_, Err(e)) => (None, None, Some(e.to_string())),
    };

    let job_words: Vec<HashSet<String>> = jobs
        .iter()
        .map(|j| {
            words(&format!(
                "{} {} {} {}",
                j.title,
                j.description,
                j.required_skills.join(" "),
                j.preferred_skills.join(" ")
            ))
        })
        .collect();
    let resume_words: Vec<HashSet<String>> = resumes.iter().map(|r| words(&r.text)).collect();

    // scores[j][r]: (ours, baseline)
    let mut pair = vec![vec![(0.0f64, 0.0f64); resumes.len()]; jobs.len()];
    for (ji, job) in jobs.iter().enumerate() {
        let education = job.education.as_deref().and_then(EducationLevel::from_code);
        let facts = JobFacts {
            required_skills: &job.required_skills,
            preferred_skills: &job.preferred_skills,
            min_years: job.min_years,
            education,
            city: job.city.as_deref(),
            remote: job.remote,
            salary_min: job.salary_min,
            salary_max: job.salary_max,
        };
        let _ = &job.company;
        for (ri, resume) in resumes.iter().enumerate() {
            let candidate = CandidateFacts {
                skills: &resume.skills,
                years: resume.total_years,
                degree: resume
                    .highest_degree
                    .as_deref()
                    .and_then(EducationLevel::from_code),
                city: resume.city.as_deref(),
                salary_min: resume.expected_salary_min,
                salary_max: resume.expected_salary_max,
            };
            let semantic = match (&job_vectors, &resume_vectors) {
                (Some(j), Some(r)) => Semantic::Similarity(cosine(&j[ji], &r[ri]), scale),
                _ => Semantic::Unknown,
            };
            let ours = score(&facts, &candidate, semantic, weights).total;
            let overlap = job_words[ji].intersection(&resume_words[ri]).count() as f64
                / job_words[ji].len().max(1) as f64;
            pair[ji][ri] = (ours, overlap);
        }
    }

    fn rank(mut scores: Vec<(&str, f64)>) -> Vec<&str> {
        scores.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        scores.into_iter().map(|(id, _)| id).collect()
    }
    let mut candidates = (0usize, 0.0, 0.0);
    for (ji, job) in jobs.iter().enumerate() {
        let Some(relevant) = judgments.jobs.get(&job.id) else {
            continue;
        };
        let ours = rank(
            resumes
                .iter()
                .enumerate()
                .map(|(ri, r)| (r.id.as_str(), pair[ji][ri].0))
                .collect(),
        );
        let base = rank(
            resumes
                .iter()
                .enumerate()
                .map(|(ri, r)| (r.id.as_str(), pair[ji][ri].1))
                .collect(),
        );
        candidates.0 += 1;
        candidates.1 += ndcg_at(&ours, relevant, CUTOFF);
        candidates.2 += ndcg_at(&base, relevant, CUTOFF);
    }
    let mut jobs_for = (0usize, 0.0, 0.0);
    for (ri, resume) in resumes.iter().enumerate() {
        let Some(relevant) = judgments.resumes.get(&resume.id) else {
            continue;
        };
        let ours = rank(
            jobs.iter()
                .enumerate()
                .map(|(ji, j)| (j.id.as_str(), pair[ji][ri].0))
                .collect(),
        );
        let base = rank(
            jobs.iter()
                .enumerate()
                .map(|(ji, j)| (j.id.as_str(), pair[ji][ri].1))
                .collect(),
        );
        jobs_for.0 += 1;
        jobs_for.1 += ndcg_at(&ours, relevant, CUTOFF);
        jobs_for.2 += ndcg_at(&base, relevant, CUTOFF);
    }
    let mean = |(n, a, b): (usize, f64, f64)| DirectionReport {
        queries: n,
        ours: if n == 0 { 0.0 } else { a / n as f64 },
        baseline: if n == 0 { 0.0 } else { b / n as f64 },
    };
    Ok(Report {
        candidates_for_jobs: mean(candidates),
        jobs_for_resumes: mean(jobs_for),
        semantic_skipped,
    })
}
