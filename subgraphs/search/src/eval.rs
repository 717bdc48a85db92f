//! `looma eval search`: nDCG@10 of text, semantic and hybrid search over the judged set in
//! `tests/fixtures/search/` (documents, queries with graded relevance). The documents are
//! embedded with the real model and indexed into fresh embedded engines; the queries run
//! through [`SearchService`], exactly as the API runs them.

use crate::service::{Hit, RankedRequest, TextRequest};
use crate::{Engines, SearchConfig, SearchError, SearchService};
use looma_core::metrics::ndcg_at;
use looma_embed::{EmbeddingService, TextKind};
use looma_search_engine::{Collection, Document, DocumentFields, Filters};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

const CUTOFF: usize = 10;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JudgedDocument {
    id: String,
    collection: String,
    title: String,
    content: String,
    #[serde(default)]
    skills: Vec<String>,
    city: Option<String>,
    degree: Option<String>,
    years: Option<f64>,
    salary_min: Option<f64>,
    salary_max: Option<f64>,
    status: Option<String>,
    name: Option<String>,
}

/// What `evaluate` does besides scoring every query in every mode.
#[derive(Clone, Debug, Default)]
pub struct EvalOptions {
    /// Hybrid vector weights to try on the dev split (`Report::tuning`).
    pub tune_weights: Vec<f64>,
    /// A directory where the documents' vectors are kept between runs, named by the model and
    /// a digest of the texts, so a second run over the same set does not embed it again.
    pub vector_cache: Option<PathBuf>,
    /// A file to write every query's text and vector candidate lists to (JSON lines: id,
    /// split, language, relevant, `text` and `vector` as `[id, score]` pairs, as many as
    /// hybrid search fuses), to study fusion offline.
    pub runs: Option<PathBuf>,
}

#[derive(Deserialize, Serialize)]
pub struct JudgedQuery {
    pub id: String,
    pub collection: String,
    pub query: String,
    pub language: String,
    pub kind: String,
    pub relevant: HashMap<String, u8>,
    /// `dev` (tune on it) or `test` (report it); sets without splits leave it out.
    #[serde(default)]
    pub split: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Text,
    Semantic,
    Hybrid,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Text, Mode::Semantic, Mode::Hybrid];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Text => "text",
            Mode::Semantic => "semantic",
            Mode::Hybrid => "hybrid",
        }
    }
}

/// nDCG@10 per query and mode.
pub struct Report {
    pub queries: Vec<JudgedQuery>,
    /// `scores[mode][query index]`.
    pub scores: BTreeMap<Mode, Vec<f64>>,
    /// Modes that could not run, with the reason (the model is missing).
    pub skipped: Vec<(Mode, String)>,
    /// Queries the service refused in a mode, with its reason: scored 0, never dropped.
    pub refused: Vec<(usize, Mode, String)>,
    /// Hybrid nDCG on the dev split per vector weight tried (`looma eval search --tune`),
    /// by query language: what the weights in `SearchConfig` are chosen from.
    pub tuning: Vec<(f64, BTreeMap<String, f64>)>,
}

impl Report {
    pub fn mean(&self, mode: Mode) -> Option<f64> {
        self.mean_where(mode, |_| true)
    }

    /// The mean over the queries `keep` selects.
    pub fn mean_where(&self, mode: Mode, keep: impl Fn(&JudgedQuery) -> bool) -> Option<f64> {
        let scores = self.scores.get(&mode)?;
        let picked: Vec<f64> = self
            .queries
            .iter()
            .zip(scores)
            .filter(|(q, _)| keep(q))
            .map(|(_, s)| *s)
            .collect();
        (!picked.is_empty()).then(|| picked.iter().sum::<f64>() / picked.len() as f64)
    }

    /// The mean over the queries of one split (`dev`, `test`).
    pub fn split_mean(&self, mode: Mode, split: &str) -> Option<f64> {
        self.mean_where(mode, |q| q.split.as_deref() == Some(split))
    }

    pub fn render(&self, verbose: bool) -> String {
        let mut out = format!("nDCG@{CUTOFF} over {} judged queries", self.queries.len());
        let count = |split: &str| {
            self.queries
                .iter()
                .filter(|q| q.split.as_deref() == Some(split))
                .count()
        };
        let split = self.queries.iter().any(|q| q.split.is_some());
        if split {
            out.push_str(&format!(
                " ({} dev, {} test: tune on dev, report test)",
                count("dev"),
                count("test")
            ));
        }
        out.push('\n');
        out.push_str(&format!(
            "{:<10} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>10}\n",
            "mode", "all", "dev", "test", "zh", "en", "mixed", "keyword", "paraphrase"
        ));
        for mode in Mode::ALL {
            if let Some((_, reason)) = self.skipped.iter().find(|(m, _)| *m == mode) {
                out.push_str(&format!("{:<10} skipped: {reason}\n", mode.name()));
                continue;
            }
            let cell = |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{v:.3}"));
            out.push_str(&format!(
                "{:<10} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>10}\n",
                mode.name(),
                cell(self.mean(mode)),
                cell(self.split_mean(mode, "dev")),
                cell(self.split_mean(mode, "test")),
                cell(self.mean_where(mode, |q| q.language == "zh")),
                cell(self.mean_where(mode, |q| q.language == "en")),
                cell(self.mean_where(mode, |q| q.language == "mixed")),
                cell(self.mean_where(mode, |q| q.kind == "keyword")),
                cell(self.mean_where(mode, |q| q.kind == "paraphrase")),
            ));
        }
        if !self.refused.is_empty() {
            out.push_str(&format!(
                "{} refused query runs scored 0:\n",
                self.refused.len()
            ));
            for (i, mode, reason) in &self.refused {
                out.push_str(&format!(
                    "  {} {}: {reason}\n",
                    self.queries[*i].id,
                    mode.name()
                ));
            }
        }
        if !self.tuning.is_empty() {
            out.push_str("hybrid on the dev split by vector weight (choose here, report test):\n");
            for (weight, by_language) in &self.tuning {
                let cells: Vec<String> = by_language
                    .iter()
                    .map(|(language, mean)| format!("{language} {mean:.3}"))
                    .collect();
                out.push_str(&format!("  weight {weight:<5} {}\n", cells.join("  ")));
            }
        }
        if verbose {
            for (i, query) in self.queries.iter().enumerate() {
                let per_mode: Vec<String> = Mode::ALL
                    .iter()
                    .filter_map(|m| {
                        self.scores
                            .get(m)
                            .map(|s| format!("{} {:.2}", m.name(), s[i]))
                    })
                    .collect();
                out.push_str(&format!(
                    "{} [{} {}] {:?}: {}\n",
                    query.id,
                    query.language,
                    query.kind,
                    query.query,
                    per_mode.join("  ")
                ));
            }
        }
        out
    }
}

fn collection(name: &str) -> Result<Collection, SearchError> {
    Collection::parse(&name.to_ascii_lowercase())
        .ok_or_else(|| SearchError::invalid("collection", format!("unknown collection `{name}`")))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, SearchError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SearchError::Internal(format!("reading {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| SearchError::Internal(format!("parsing {}: {e}", path.display())))
}

/// Indexes the judged documents into fresh engines under `work_dir` and runs every query in
/// every mode the model allows, with `config`'s ranking settings (hybrid weights, RRF k).
/// Each weight of `options.tune_weights` is also tried as the hybrid vector weight on the dev
/// split.
pub async fn evaluate(
    fixtures: &Path,
    embedder: EmbeddingService,
    config: SearchConfig,
    work_dir: &Path,
    options: &EvalOptions,
) -> Result<Report, SearchError> {
    let judged: Vec<JudgedDocument> = read_json(&fixtures.join("documents.json"))?;
    let queries: Vec<JudgedQuery> = read_json(&fixtures.join("queries.json"))?;
    let engines = Engines::ephemeral(work_dir, embedder.dimension())?;
    let service = SearchService::new(engines, embedder.clone(), config);

    let mut skipped = Vec::new();
    let texts: Vec<String> = judged
        .iter()
        .map(|d| format!("{}. {}", d.title, d.content))
        .collect();
    let vectors = match embed_documents(&embedder, texts, options.vector_cache.as_deref()).await {
        Ok(vectors) => Some(vectors),
        Err(error) => {
            let reason = error.to_string();
            skipped.push((Mode::Semantic, reason.clone()));
            skipped.push((Mode::Hybrid, reason));
            None
        }
    };
    let mut documents = Vec::with_capacity(judged.len());
    for (i, doc) in judged.into_iter().enumerate() {
        documents.push(Document {
            collection: collection(&doc.collection)?,
            id: doc.id,
            title: doc.title,
            content: doc.content,
            fields: DocumentFields {
                skills: doc.skills,
                city: doc.city,
                degree: doc.degree,
                years: doc.years,
                salary_min: doc.salary_min,
                salary_max: doc.salary_max,
                status: doc.status,
                name: doc.name,
                ..DocumentFields::default()
            },
            metadata: serde_json::Value::Null,
            vector: vectors.as_ref().and_then(|v| v.get(i).cloned()),
        });
    }
    // The service takes at most `max_batch` documents per call; a judged set may hold more.
    let batch = service.max_batch().max(1);
    while !documents.is_empty() {
        let rest = documents.split_off(documents.len().min(batch));
        service
            .index(std::mem::replace(&mut documents, rest))
            .await?;
    }

    let mut scores: BTreeMap<Mode, Vec<f64>> = BTreeMap::new();
    let mut refused = Vec::new();
    for (i, query) in queries.iter().enumerate() {
        let collection = collection(&query.collection)?;
        for mode in Mode::ALL {
            if skipped.iter().any(|(m, _)| *m == mode) {
                continue;
            }
            let score = match run(&service, mode, collection, &query.query).await {
                Ok(hits) => {
                    let ranked: Vec<String> = hits.into_iter().map(|h| h.id).collect();
                    ndcg_at(&ranked, &query.relevant, CUTOFF)
                }
                // A query the service refuses (too long, nothing searchable) is a query the
                // user got nothing for: it scores 0 and the run carries on.
                Err(error @ SearchError::InvalidInput { .. }) => {
                    refused.push((i, mode, error.to_string()));
                    0.0
                }
                Err(other) => return Err(other),
            };
            scores.entry(mode).or_default().push(score);
        }
    }
    let mut tuning = Vec::new();
    if !skipped.iter().any(|(m, _)| *m == Mode::Hybrid) {
        if let Some(path) = &options.runs {
            write_runs(&service, &queries, path).await?;
        }
        for &weight in &options.tune_weights {
            tuning.push((weight, tune(&service, &queries, weight).await?));
        }
    }
    Ok(Report {
        queries,
        scores,
        skipped,
        refused,
        tuning,
    })
}

/// The documents' passage vectors, from `cache` when an earlier run left them there.
async fn embed_documents(
    embedder: &EmbeddingService,
    texts: Vec<String>,
    cache: Option<&Path>,
) -> Result<Vec<Vec<f32>>, looma_embed::EmbedError> {
    let Some(cache) = cache else {
        return embedder.embed(texts, TextKind::Passage).await;
    };
    let mut digest = Sha256::new();
    digest.update(embedder.model_id().as_bytes());
    for text in &texts {
        digest.update((text.len() as u64).to_le_bytes());
        digest.update(text.as_bytes());
    }
    let hex: String = digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = cache.join(format!("{hex}.f32"));
    let dimension = embedder.dimension();
    if let Ok(bytes) = std::fs::read(&path)
        && dimension > 0
        && bytes.len() == texts.len() * dimension * 4
    {
        let values = looma_embed::vector_from_bytes(&bytes);
        return Ok(values.chunks(dimension).map(<[f32]>::to_vec).collect());
    }
    let vectors = embedder.embed(texts, TextKind::Passage).await?;
    let bytes: Vec<u8> = vectors
        .iter()
        .flat_map(|v| looma_embed::vector_to_bytes(v))
        .collect();
    // A cache that cannot be written only costs the next run the embedding.
    if std::fs::create_dir_all(cache).is_ok() {
        let _ = std::fs::write(&path, bytes);
    }
    Ok(vectors)
}

#[derive(Serialize)]
struct QueryRuns<'a> {
    id: &'a str,
    split: Option<&'a str>,
    language: &'a str,
    relevant: &'a HashMap<String, u8>,
    text: Vec<(String, f32)>,
    vector: Vec<(String, f32)>,
}

/// Every query's text and vector candidates (as many as hybrid search fuses) as JSON lines.
async fn write_runs(
    service: &SearchService,
    queries: &[JudgedQuery],
    path: &Path,
) -> Result<(), SearchError> {
    let candidates = service.config().hybrid_candidates;
    let failed = |error: std::io::Error| {
        SearchError::Internal(format!("writing {}: {error}", path.display()))
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(failed)?);
    for query in queries {
        let collection = collection(&query.collection)?;
        let text = service
            .text_search(TextRequest {
                collection,
                query: query.query.clone(),
                filters: Filters::default(),
                facets: Vec::new(),
                first: candidates,
                after: None,
                fuzzy: true,
                highlight: false,
                names: true,
            })
            .await;
        let ranked = RankedRequest {
            collection,
            names: true,
            top_k: candidates,
            filters: Filters::default(),
        };
        let vector = service.semantic_search(ranked, &query.query).await;
        let (text, vector) = match (text, vector) {
            (Ok(text), Ok(vector)) => (
                text.hits
                    .into_iter()
                    .map(|h| (h.id, h.score as f32))
                    .collect(),
                vector.into_iter().map(|h| (h.id, h.score as f32)).collect(),
            ),
            (Err(SearchError::InvalidInput { .. }), _)
            | (_, Err(SearchError::InvalidInput { .. })) => (Vec::new(), Vec::new()),
            (Err(other), _) | (_, Err(other)) => return Err(other),
        };
        let line = QueryRuns {
            id: &query.id,
            split: query.split.as_deref(),
            language: &query.language,
            relevant: &query.relevant,
            text,
            vector,
        };
        serde_json::to_writer(&mut out, &line)
            .map_err(|e| SearchError::Internal(format!("writing {}: {e}", path.display())))?;
        out.write_all(b"\n").map_err(failed)?;
    }
    out.flush().map_err(failed)
}

/// Mean hybrid nDCG of the dev queries with `weight` as the vector weight, per language.
async fn tune(
    service: &SearchService,
    queries: &[JudgedQuery],
    weight: f64,
) -> Result<BTreeMap<String, f64>, SearchError> {
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for query in queries.iter().filter(|q| q.split.as_deref() == Some("dev")) {
        let ranked = RankedRequest {
            collection: collection(&query.collection)?,
            names: true,
            top_k: CUTOFF,
            filters: Filters::default(),
        };
        let score = match service
            .hybrid_search(ranked, &query.query, None, Some(weight))
            .await
        {
            Ok(hits) => {
                let ids: Vec<String> = hits.into_iter().map(|h| h.id).collect();
                ndcg_at(&ids, &query.relevant, CUTOFF)
            }
            Err(SearchError::InvalidInput { .. }) => 0.0,
            Err(other) => return Err(other),
        };
        let entry = sums.entry(query.language.clone()).or_default();
        entry.0 += score;
        entry.1 += 1;
    }
    Ok(sums
        .into_iter()
        .map(|(language, (sum, count))| (language, sum / count as f64))
        .collect())
}

async fn run(
    service: &SearchService,
    mode: Mode,
    collection: Collection,
    query: &str,
) -> Result<Vec<Hit>, SearchError> {
    let ranked = RankedRequest {
        collection,
        names: true,
        top_k: CUTOFF,
        filters: Filters::default(),
    };
    match mode {
        Mode::Text => Ok(service
            .text_search(TextRequest {
                collection,
                query: query.to_owned(),
                filters: Filters::default(),
                facets: Vec::new(),
                first: CUTOFF,
                after: None,
                fuzzy: true,
                highlight: false,
                names: true,
            })
            .await?
            .hits),
        Mode::Semantic => service.semantic_search(ranked, query).await,
        Mode::Hybrid => service.hybrid_search(ranked, query, None, None).await,
    }
}
