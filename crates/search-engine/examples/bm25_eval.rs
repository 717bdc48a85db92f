//! Text-mode nDCG@10 of the embedded full-text engine on one judged set, per split.
//!
//! ```text
//! cargo run -p looma-search-engine --example bm25_eval -- \
//!     /var/cache/looma-ci/eval-data/sets/cranfield-en [--exact] [--title-boost X] [--verbose]
//! ```
//!
//! The set's directory holds `documents.json` (`id`, `title`, `content`) and `queries.json`
//! (`id`, `query`, `relevant` {doc id: grade}, `split`). Every document goes into the knowledge
//! collection of a fresh [`TantivyTextIndex`] in a temporary directory; every query runs as the
//! search subgraph's text mode runs it (top 10, typo tolerance on unless `--exact`, names
//! searched, the engine's default title boost unless `--title-boost`). Compare with `tests/fixtures/search-public/REFERENCE.md`; tune on `dev` only.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use looma_core::metrics::ndcg_at;
use looma_search_engine::embedded::TantivyTextIndex;
use looma_search_engine::{
    Collection, Document, DocumentFields, EngineError, Filters, TextIndex, TextQuery,
};
use serde::Deserialize;

const CUTOFF: usize = 10;
const BATCH: usize = 500;

#[derive(Deserialize)]
struct JudgedDocument {
    id: String,
    title: String,
    content: String,
}

#[derive(Deserialize)]
struct JudgedQuery {
    id: String,
    query: String,
    relevant: HashMap<String, u8>,
    #[serde(default)]
    split: Option<String>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut set: Option<PathBuf> = None;
    let mut fuzzy = true;
    let mut verbose = false;
    let mut title_boost: Option<f32> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--exact" => fuzzy = false,
            "--title-boost" => {
                let value = args.next().ok_or("--title-boost needs a number")?;
                title_boost = Some(value.parse().map_err(|e| format!("--title-boost: {e}"))?);
            }
            "--verbose" => verbose = true,
            other if set.is_none() => set = Some(PathBuf::from(other)),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let set = set.ok_or("usage: bm25_eval SET_DIR [--exact] [--title-boost X] [--verbose]")?;
    let documents: Vec<JudgedDocument> = read_json(&set.join("documents.json"))?;
    let queries: Vec<JudgedQuery> = read_json(&set.join("queries.json"))?;

    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut index = TantivyTextIndex::open(work.path()).map_err(|e| e.to_string())?;
    if let Some(boost) = title_boost {
        index = index.with_title_boost(boost);
    }
    let documents: Vec<Document> = documents
        .into_iter()
        .map(|doc| Document {
            id: doc.id,
            collection: Collection::Knowledge,
            title: doc.title,
            content: doc.content,
            fields: DocumentFields::default(),
            metadata: serde_json::Value::Null,
            vector: None,
        })
        .collect();
    for batch in documents.chunks(BATCH) {
        index.upsert(batch).await.map_err(|e| e.to_string())?;
    }

    let mut per_split: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut refused = 0usize;
    for query in &queries {
        let request = TextQuery {
            collection: Collection::Knowledge,
            query: query.query.clone(),
            filters: Filters::default(),
            facets: Vec::new(),
            limit: CUTOFF,
            offset: 0,
            fuzzy,
            highlight: false,
            only_ids: Vec::new(),
            names: true,
        };
        let score = match index.search(&request).await {
            Ok(results) => {
                let ranked: Vec<String> = results.hits.into_iter().map(|hit| hit.id).collect();
                ndcg_at(&ranked, &query.relevant, CUTOFF)
            }
            // A query with nothing searchable gets nothing: it scores 0.
            Err(EngineError::InvalidQuery(_)) => {
                refused += 1;
                0.0
            }
            Err(other) => return Err(other.to_string()),
        };
        if verbose {
            println!("{}\t{score:.4}\t{}", query.id, query.query);
        }
        let split = query.split.clone().unwrap_or_else(|| "all".to_owned());
        per_split.entry(split).or_default().push(score);
    }

    println!(
        "{} ({} documents, typo tolerance {}, title boost {}): text nDCG@{CUTOFF}",
        set.display(),
        documents.len(),
        if fuzzy { "on" } else { "off" },
        title_boost.map_or("default".to_owned(), |b| b.to_string()),
    );
    for (split, scores) in &per_split {
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        println!("  {split:<5} {mean:.4}  ({} queries)", scores.len());
    }
    if refused > 0 {
        println!("  {refused} queries had nothing searchable");
    }
    Ok(())
}
