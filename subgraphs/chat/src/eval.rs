//! `looma eval chat`: citation recall of the assistant's retrieval over a judged question set
//! (`documents.json`, `questions.json`; `scripts/eval-data/build-chat-set` builds a public
//! one). The knowledge base is built as an upload builds it (text extraction, chunking with
//! the config's sizes, passage vectors, [`search_document`]) and each question retrieves
//! `retrieval_top_k` chunks through a [`Retriever`] (search's hybrid path over KNOWLEDGE, in
//! `looma eval chat`). A question is answered by a chunk of its document whose text holds
//! one of its gold answers. [`generate`] then times the model on the built prompts.

use crate::ChatError;
use crate::config::ChatConfig;
use crate::domain::chunking::{ChunkOptions, chunk};
use crate::domain::prompt::{self, Budget, Source};
use crate::service::{passage_text, search_document};
use crate::store::{self, chunk_id, document};
use futures::StreamExt;
use looma_embed::{EmbeddingService, TextKind};
use looma_extract::{DocumentFormat, ExtractLimits, extract_text};
use looma_llm::{ChatModel, ChatRequest, StreamEvent};
use looma_search_client::SearchDocument;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Instant;

/// Chunks embedded per call (as an upload embeds them).
const EMBED_BATCH: usize = 16;

/// A knowledge document of the judged set: Markdown text, its title also its `# ` heading.
#[derive(Clone, Debug, Deserialize)]
pub struct EvalDocument {
    pub id: String,
    pub language: String,
    pub title: String,
    pub text: String,
}

/// A judged question: the document it was asked on and the answer texts that count.
#[derive(Clone, Debug, Deserialize)]
pub struct EvalQuestion {
    pub id: String,
    pub language: String,
    pub question: String,
    pub answers: Vec<String>,
    pub document: String,
    /// `dev` (set bars on it) or `test` (report it).
    #[serde(default)]
    pub split: Option<String>,
}

/// A judged set.
#[derive(Clone, Debug)]
pub struct EvalSet {
    pub documents: Vec<EvalDocument>,
    pub questions: Vec<EvalQuestion>,
}

impl EvalSet {
    /// Reads `dir/documents.json` and `dir/questions.json`.
    pub fn load(dir: &Path) -> Result<EvalSet, ChatError> {
        Ok(EvalSet {
            documents: read_json(&dir.join("documents.json"))?,
            questions: read_json(&dir.join("questions.json"))?,
        })
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ChatError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ChatError::Internal(format!("reading {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| ChatError::Internal(format!("parsing {}: {e}", path.display())))
}

/// Why a retrieval gave nothing.
#[derive(Debug)]
pub enum RetrieveError {
    /// The search side refused the question (too long, nothing searchable): the user gets
    /// no sources, so the question scores 0 and the run carries on.
    Refused(String),
    /// Anything else: the run stops.
    Failed(String),
}

/// A boxed future of a [`Retriever`] call.
pub type RetrieverFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the knowledge chunks are indexed and searched.
pub trait Retriever: Send + Sync {
    /// Indexes the chunks as chat sends them to search's KNOWLEDGE collection.
    fn index(&self, documents: Vec<SearchDocument>) -> RetrieverFuture<'_, Result<(), String>>;
    /// Chunk ids for `question`, best first, at most `top_k`.
    fn retrieve<'a>(
        &'a self,
        question: &'a str,
        top_k: usize,
    ) -> RetrieverFuture<'a, Result<Vec<String>, RetrieveError>>;
}

/// One question's outcome.
#[derive(Clone, Debug)]
pub struct QuestionResult {
    pub id: String,
    pub language: String,
    pub split: Option<String>,
    /// Chunks of the question's document that hold a gold answer.
    pub relevant: Vec<String>,
    /// What retrieval returned, best first (at most `k`).
    pub retrieved: Vec<String>,
    /// 1-based rank of the first answer-bearing chunk within the top `k`.
    pub rank: Option<usize>,
}

/// Citation recall@k and MRR@k per question.
pub struct Report {
    /// The cutoff: `retrieval_top_k`.
    pub k: usize,
    pub documents: usize,
    pub chunks: usize,
    pub results: Vec<QuestionResult>,
    /// Questions search refused, with the reason (scored 0).
    pub refused: Vec<(String, String)>,
    /// Each chunk as a prompt source (number 0; numbered when used).
    sources: HashMap<String, Source>,
}

/// Aggregates over a group of questions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub questions: usize,
    /// Share with an answer-bearing chunk in the top `k`.
    pub recall: f64,
    /// Mean reciprocal rank of the first answer-bearing chunk (0 beyond `k`).
    pub mrr: f64,
    /// Questions whose answer is in no chunk at all (lost to chunking).
    pub unanswerable: usize,
}

/// Whitespace runs become one space, ends trimmed: answers match across line breaks.
pub fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The 1-based rank of the first of `ranked[..k]` in `relevant`.
pub fn first_relevant_rank(
    ranked: &[String],
    relevant: &HashSet<String>,
    k: usize,
) -> Option<usize> {
    ranked
        .iter()
        .take(k)
        .position(|id| relevant.contains(id))
        .map(|i| i + 1)
}

impl Report {
    /// Summary of the questions `keep` selects; `None` when it selects none.
    pub fn summary(&self, keep: impl Fn(&QuestionResult) -> bool) -> Option<Summary> {
        let picked: Vec<&QuestionResult> = self.results.iter().filter(|r| keep(r)).collect();
        if picked.is_empty() {
            return None;
        }
        let n = picked.len() as f64;
        Some(Summary {
            questions: picked.len(),
            recall: picked.iter().filter(|r| r.rank.is_some()).count() as f64 / n,
            mrr: picked
                .iter()
                .map(|r| r.rank.map_or(0.0, |rank| 1.0 / rank as f64))
                .sum::<f64>()
                / n,
            unanswerable: picked.iter().filter(|r| r.relevant.is_empty()).count(),
        })
    }

    /// Summary of one split and, when given, one language.
    pub fn split_summary(&self, split: &str, language: Option<&str>) -> Option<Summary> {
        self.summary(|r| {
            r.split.as_deref() == Some(split) && language.is_none_or(|l| r.language == l)
        })
    }

    /// The retrieved chunks of result `index` as numbered prompt sources.
    pub fn sources(&self, index: usize) -> Vec<Source> {
        let Some(result) = self.results.get(index) else {
            return Vec::new();
        };
        result
            .retrieved
            .iter()
            .filter_map(|id| self.sources.get(id))
            .enumerate()
            .map(|(i, source)| Source {
                number: i + 1,
                ..source.clone()
            })
            .collect()
    }

    pub fn render(&self, verbose: bool) -> String {
        let k = self.k;
        let mut out = format!(
            "citation recall@{k} over {} questions, {} documents in {} chunks \
             (test split is the headline; dev sets bars)\n",
            self.results.len(),
            self.documents,
            self.chunks
        );
        out.push_str(&format!(
            "{:<10} {:>9} {:>10} {:>7} {:>14}\n",
            "group",
            "questions",
            format!("recall@{k}"),
            format!("MRR@{k}"),
            "no answer chunk"
        ));
        let mut languages: Vec<&str> = self.results.iter().map(|r| r.language.as_str()).collect();
        languages.sort_unstable();
        languages.dedup();
        let mut rows: Vec<(String, Option<Summary>)> = Vec::new();
        for split in ["test", "dev"] {
            rows.push((split.to_owned(), self.split_summary(split, None)));
            for language in &languages {
                rows.push((
                    format!("{split} {language}"),
                    self.split_summary(split, Some(language)),
                ));
            }
        }
        rows.push(("all".to_owned(), self.summary(|_| true)));
        for (name, summary) in rows {
            if let Some(s) = summary {
                out.push_str(&format!(
                    "{name:<10} {:>9} {:>10.3} {:>7.3} {:>14}\n",
                    s.questions, s.recall, s.mrr, s.unanswerable
                ));
            }
        }
        if !self.refused.is_empty() {
            out.push_str(&format!(
                "{} questions refused, scored 0:\n",
                self.refused.len()
            ));
            for (id, reason) in &self.refused {
                out.push_str(&format!("  {id}: {reason}\n"));
            }
        }
        if verbose {
            for r in &self.results {
                out.push_str(&format!(
                    "{} [{} {}] answer chunks {:?}, rank {}\n",
                    r.id,
                    r.language,
                    r.split.as_deref().unwrap_or("-"),
                    r.relevant,
                    r.rank.map_or("-".to_owned(), |rank| rank.to_string())
                ));
            }
        }
        out
    }
}

/// Builds the knowledge base from `set` as an upload does, indexes it through `retriever`
/// and scores every question (none is dropped).
pub async fn evaluate(
    set: &EvalSet,
    config: &ChatConfig,
    embedder: &EmbeddingService,
    retriever: &dyn Retriever,
) -> Result<Report, ChatError> {
    let model_id = embedder.model_id();
    let options = ChunkOptions {
        size: config.chunk_chars,
        overlap: config.chunk_overlap,
    };
    let limits = ExtractLimits::new(config.max_document_bytes.saturating_mul(10), false);
    let mut indexed = Vec::new();
    let mut sources = HashMap::new();
    // document id -> (chunk id, normalised chunk text)
    let mut by_document: HashMap<&str, Vec<(String, String)>> = HashMap::new();
    for doc in &set.documents {
        // Markdown keeps its headings: an upload extracts it as plain text.
        let text = extract_text(doc.text.as_bytes(), DocumentFormat::Txt, limits)
            .map_err(|e| ChatError::Internal(format!("document {}: {e}", doc.id)))?
            .text;
        let chunks = chunk(&text, options);
        let vectors: Vec<Option<Vec<f32>>> = if embedder.is_available() {
            let mut vectors = Vec::with_capacity(chunks.len());
            for batch in chunks.chunks(EMBED_BATCH) {
                let texts: Vec<String> = batch.iter().map(passage_text).collect();
                let embedded = embedder.embed(texts, TextKind::Passage).await?;
                vectors.extend(embedded.into_iter().map(Some));
            }
            vectors
        } else {
            vec![None; chunks.len()]
        };
        let model = document::Model {
            id: doc.id.clone(),
            title: doc.title.clone(),
            filename: format!("{}.md", doc.id),
            format: DocumentFormat::Markdown.as_str().to_owned(),
            size_bytes: doc.text.len() as i64,
            sha256: String::new(),
            language: doc.language.clone(),
            chunk_count: i32::try_from(chunks.len()).unwrap_or(i32::MAX),
            created_by: "eval".to_owned(),
            created_at: chrono::Utc::now(),
            deleted_at: None,
        };
        for (position, (piece, vector)) in chunks.iter().zip(vectors).enumerate() {
            let stored = store::chunk::Model {
                id: chunk_id(&doc.id, position),
                document_id: doc.id.clone(),
                position: i32::try_from(position).unwrap_or(i32::MAX),
                heading: piece.heading.clone(),
                content: piece.text.clone(),
                embedding_model: vector.as_ref().map(|_| model_id.clone()),
                embedding: vector.map(|v| looma_embed::vector_to_bytes(&v)),
            };
            indexed.push(search_document(&model, &stored, &model_id));
            by_document
                .entry(doc.id.as_str())
                .or_default()
                .push((stored.id.clone(), normalize(&stored.content)));
            sources.insert(
                stored.id.clone(),
                Source {
                    number: 0,
                    title: model.title.clone(),
                    heading: stored.heading.clone(),
                    text: stored.content,
                },
            );
        }
    }
    let chunks = indexed.len();
    retriever
        .index(indexed)
        .await
        .map_err(|e| ChatError::Dependency(format!("indexing the knowledge base: {e}")))?;

    let k = config.retrieval_top_k;
    let mut results = Vec::with_capacity(set.questions.len());
    let mut refused = Vec::new();
    for question in &set.questions {
        let answers: Vec<String> = question
            .answers
            .iter()
            .map(|a| normalize(a))
            .filter(|a| !a.is_empty())
            .collect();
        let relevant: Vec<String> = by_document
            .get(question.document.as_str())
            .map(|chunks| {
                chunks
                    .iter()
                    .filter(|(_, text)| answers.iter().any(|a| text.contains(a.as_str())))
                    .map(|(id, _)| id.clone())
                    .collect()
            })
            .unwrap_or_default();
        let retrieved = match retriever.retrieve(&question.question, k).await {
            Ok(mut ids) => {
                ids.truncate(k);
                ids
            }
            Err(RetrieveError::Refused(reason)) => {
                refused.push((question.id.clone(), reason));
                Vec::new()
            }
            Err(RetrieveError::Failed(reason)) => {
                return Err(ChatError::Dependency(format!(
                    "retrieving for {}: {reason}",
                    question.id
                )));
            }
        };
        let wanted: HashSet<String> = relevant.iter().cloned().collect();
        results.push(QuestionResult {
            id: question.id.clone(),
            language: question.language.clone(),
            split: question.split.clone(),
            rank: first_relevant_rank(&retrieved, &wanted, k),
            relevant,
            retrieved,
        });
    }
    Ok(Report {
        k,
        documents: set.documents.len(),
        chunks,
        results,
        refused,
        sources,
    })
}

/// Timings of generated answers.
pub struct GenerationReport {
    pub answers: usize,
    /// Seconds from the request to the first token, per answer.
    pub first_token_seconds: Vec<f64>,
    /// Decoding tokens per second after the first token, per answer with 2+ tokens.
    pub tokens_per_second: Vec<f64>,
    /// Answers that contain one of the question's gold answers (whitespace-normalised).
    pub containing_gold: usize,
    pub prompt_tokens: Vec<u32>,
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The median (the mean of the middle two for an even count).
fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

impl GenerationReport {
    pub fn render(&self, model: &str) -> String {
        let cell = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
        let prompt: Vec<f64> = self.prompt_tokens.iter().map(|&t| f64::from(t)).collect();
        format!(
            "generation with {model} over {} test questions (greedy):\n\
             time to first token  mean {} s  p50 {} s\n\
             decoding tokens/s    mean {}  p50 {}\n\
             prompt tokens        mean {}\n\
             answers containing a gold answer: {}/{}\n",
            self.answers,
            cell(mean(&self.first_token_seconds)),
            cell(median(&self.first_token_seconds)),
            cell(mean(&self.tokens_per_second)),
            cell(median(&self.tokens_per_second)),
            cell(mean(&prompt)),
            self.containing_gold,
            self.answers,
        )
    }
}

/// Answers the first `n` test-split questions with `model` from their retrieved sources
/// (the config's system prompt, no history, greedy, `answer_tokens`) and times them.
pub async fn generate(
    set: &EvalSet,
    report: &Report,
    config: &ChatConfig,
    model: &dyn ChatModel,
    n: usize,
) -> Result<GenerationReport, ChatError> {
    let mut out = GenerationReport {
        answers: 0,
        first_token_seconds: Vec::new(),
        tokens_per_second: Vec::new(),
        containing_gold: 0,
        prompt_tokens: Vec::new(),
    };
    let picked = report
        .results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.split.as_deref() == Some("test"))
        .take(n);
    for (index, result) in picked {
        let Some(question) = set.questions.iter().find(|q| q.id == result.id) else {
            continue;
        };
        let built = prompt::build(
            &config.system_prompt,
            &report.sources(index),
            &[],
            &question.question,
            Budget {
                window: model.context_window().min(config.context_tokens),
                answer_tokens: config.answer_tokens as usize,
            },
            &|text| model.count_tokens(text),
        )
        .map_err(|e| ChatError::invalid("question", format!("{}: {e}", question.id)))?;
        let request = ChatRequest {
            messages: built.messages,
            tools: Vec::new(),
            max_tokens: config.answer_tokens,
            temperature: 0.0,
        };
        let started = Instant::now();
        let mut stream = model.stream(request).await?;
        let mut first: Option<Instant> = None;
        let mut answer = String::new();
        let mut completion = None;
        while let Some(event) = stream.next().await {
            match event? {
                StreamEvent::Delta(text) => {
                    first.get_or_insert_with(Instant::now);
                    answer.push_str(&text);
                }
                StreamEvent::ToolCall(_) => {}
                StreamEvent::Done(done) => completion = Some(done),
            }
        }
        let ended = Instant::now();
        out.answers += 1;
        if let Some(first) = first {
            out.first_token_seconds
                .push(first.duration_since(started).as_secs_f64());
            let tokens = completion.as_ref().map_or(0, |c| c.usage.completion_tokens);
            let decoding = ended.duration_since(first).as_secs_f64();
            if tokens >= 2 && decoding > 0.0 {
                out.tokens_per_second.push(f64::from(tokens - 1) / decoding);
            }
        }
        if let Some(c) = &completion {
            out.prompt_tokens.push(c.usage.prompt_tokens);
        }
        let said = normalize(&answer).to_lowercase();
        if question
            .answers
            .iter()
            .map(|a| normalize(a).to_lowercase())
            .any(|a| !a.is_empty() && said.contains(&a))
        {
            out.containing_gold += 1;
        }
    }
    Ok(out)
}
