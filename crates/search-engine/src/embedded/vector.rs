//! [`AnnVectorIndex`]: the embedded [`VectorIndex`], an HNSW graph (usearch) per collection with
//! the points' filter fields and exact vectors kept in memory beside it.
//!
//! ## Why usearch
//! usearch 2.26 (C++ HNSW behind cxx, Apache-2.0) was picked over hannoy 0.3 (LMDB): in the
//! trial it inserted 5k×64d in 459 ms with 500/500 recall@1, supports removal, in-place upsert,
//! predicate-filtered search and exact search, and keeps the whole graph in memory, which is
//! what low-latency filtered search needs. hannoy is transactional on disk but rebuilds after
//! deletes; durability here comes from our own log instead (below).
//!
//! ## Metrics and exactness
//! Every vector is stored as its unit-length direction plus its norm. The graph (inner-product
//! metric on directions, i.e. cosine) holds the directions rounded to bfloat16, which halves
//! its memory and lets usearch's SIMD kernels (the `numkong` feature, picked at run time for
//! the CPU) insert about three times faster than with f32; the exact f32 direction of every
//! point is kept here beside it (1.5 KB per point at 384 dimensions) and is what every score,
//! compaction and snapshot reads: the graph only proposes candidates and is never read back.
//! Cosine, dot product and euclidean distance are all recomputed exactly from direction and
//! norm for the candidates, and results are ordered by that exact score. Where the candidates
//! come from decides exactness:
//! - collections (or filter matches) of at most `exact_scan_below` points are scanned in full:
//!   exact for every metric;
//! - larger ones take an oversampled candidate set from the cosine graph: cosine results are as
//!   good as HNSW recall; dot and euclidean results are exact re-rankings of cosine neighbours,
//!   which is the true order when vectors have (nearly) equal norms, as normalised embeddings do,
//!   and an approximation otherwise.
//!
//! ## Filters
//! A filtered search first counts the points passing [`Filters::matches`]; up to
//! `exact_scan_below` matches are scored exactly (so a selective filter still returns `top_k`),
//! more go through usearch's predicate-filtered graph search, which falls back to the exact scan
//! if the graph walk finds fewer than `top_k`.
//!
//! ## Durability
//! Files per collection in `dir/<collection>/`: `CURRENT` (JSON: generation, dimension, snapshot
//! format), `graph-<gen>.usearch`, `points-<gen>.json` and `directions-<gen>.bin` (a snapshot:
//! the graph, the points' ids and fields, their exact directions) and `log-<gen>.bin` (every
//! write since, directions included). A write is appended to the log and fsynced before it is
//! applied, so a write that returned `Ok` survives a crash. [`AnnVectorIndex::flush`], a log
//! past `snapshot_log_bytes` and dropping the index write a new snapshot generation; `CURRENT`
//! is replaced atomically only after the new files are synced, so a crash at any moment leaves
//! one complete generation.
//! String ids map to u64 graph keys; the mapping is part of the snapshot and the log.
//!
//! Snapshot formats (`CURRENT.format`): 1 (absent; written before bfloat16) is an f32 graph
//! and no directions file, the graph itself holding the exact directions; 2 is a bfloat16
//! graph plus `directions-<gen>.bin`. A format-1 snapshot is upgraded when it is opened: the
//! exact directions are read out of its f32 graph, a bfloat16 graph is built from them (as a
//! compaction would, so its tombstones go too), and a format-2 snapshot is written, once.
//!
//! ## Versions and compaction
//! Each collection is a set of versions ([`Versioned`]): the files above live in
//! `dir/<collection>/v<N>/`, and `dir/<collection>/LIVE` names the live one; a reindex fills a
//! staged version and commits it by replacing that pointer. Removed and replaced points stay
//! in the usearch graph as tombstones (counted, and kept in `CURRENT`); a compaction rebuilds
//! the graph from the live points while searches and writes go on (writes are recorded and
//! replayed into the new graph before it is swapped in, under the write lock, with a
//! snapshot). It starts in the background once tombstones pass
//! [`AnnVectorOptions::compact_tombstone_share`], or through [`VectorIndex::compact`].
//!
//! ## Cost
//! A batch of upserts is inserted into the graph from one thread per core. Filtered searches
//! evaluate [`Filters::matches`] per point over the in-memory fields (O(n) for a selective filter),
//! which dominates their latency at 100k points; interning the filter fields into a compact
//! array is the next step if that matters.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use usearch::{Index as Graph, IndexOptions, MetricKind, ScalarKind};

use crate::embedded::vector_log::{self, LoggedOperation, OperationLog};
use crate::embedded::versions::Versioned;
use crate::{
    Collection, Compaction, DocumentFields, EngineError, Filters, Metric, VectorHit, VectorIndex,
    VectorPoint, VectorQuery,
};

pub(crate) const MAX_TOP_K: usize = 1000;
/// Concurrent graph operations usearch is prepared for (it needs one context per thread).
const GRAPH_THREADS: usize = 8;

/// Tuning of [`AnnVectorIndex`]; the defaults suit up to a few hundred thousand points.
#[derive(Clone, Debug)]
pub struct AnnVectorOptions {
    /// Collections and filter matches up to this many points are searched exactly.
    pub exact_scan_below: usize,
    /// A snapshot is written when the log grows past this many bytes.
    pub snapshot_log_bytes: u64,
    /// HNSW graph degree (usearch `connectivity`).
    pub connectivity: usize,
    pub expansion_add: usize,
    pub expansion_search: usize,
    /// A compaction starts in the background after a write once removed or replaced points
    /// make up more than this share of the graph (0 < share ≤ 1; above 1: never)...
    pub compact_tombstone_share: f64,
    /// ...and number at least this many.
    pub compact_min_tombstones: u64,
}

impl Default for AnnVectorOptions {
    fn default() -> Self {
        AnnVectorOptions {
            exact_scan_below: 2_000,
            snapshot_log_bytes: 256 * 1024 * 1024,
            connectivity: 16,
            expansion_add: 64,
            expansion_search: 96,
            compact_tombstone_share: 0.25,
            compact_min_tombstones: 1_000,
        }
    }
}

/// Snapshots written before the graph went bfloat16: an f32 graph, no directions file.
const F32_GRAPH_FORMAT: u32 = 1;
/// A bfloat16 graph and the exact directions in `directions-<gen>.bin`.
const SNAPSHOT_FORMAT: u32 = 2;
/// The first bytes of a directions file (its own layout version is the last byte).
const DIRECTIONS_MAGIC: &[u8; 8] = b"LOOMAVD1";

fn f32_graph_format() -> u32 {
    F32_GRAPH_FORMAT
}

#[derive(Serialize, Deserialize)]
struct Current {
    generation: u64,
    dimension: usize,
    /// Removed or replaced points the snapshot's graph still carries.
    #[serde(default)]
    tombstones: u64,
    /// How the snapshot is laid out (see the module docs); absent in the first format.
    #[serde(default = "f32_graph_format")]
    format: u32,
}

#[derive(Clone, Serialize, Deserialize)]
struct StoredPoint {
    key: u64,
    id: String,
    norm: f32,
    fields: DocumentFields,
    /// The exact unit direction (the graph holds it rounded); snapshots keep it in the
    /// directions file, not in the points JSON.
    #[serde(skip)]
    direction: Box<[f32]>,
}

struct PointSet {
    by_key: HashMap<u64, StoredPoint>,
    key_of: HashMap<String, u64>,
    next_key: u64,
}

struct VectorCollection {
    dir: PathBuf,
    dimension: usize,
    options: AnnVectorOptions,
    graph: Graph,
    points: PointSet,
    generation: u64,
    log: OperationLog,
    /// Removed or replaced points the graph still carries (usearch marks them; searches skip
    /// them but walk through them).
    tombstones: u64,
    /// While a compaction rebuilds the graph: every write since it began, replayed into the
    /// new graph before the swap.
    recording: Option<Vec<LoggedOperation>>,
}

/// The embedded vector engine (usearch HNSW, durable through a write-ahead log).
#[derive(Clone)]
pub struct AnnVectorIndex {
    engine: Arc<VectorEngine>,
}

struct VectorEngine {
    dimension: usize,
    collections: HashMap<Collection, Versioned<RwLock<VectorCollection>>>,
    /// One permit per thread context usearch reserved ([`GRAPH_THREADS`]). A search takes one
    /// before it goes to the blocking pool, so searches beyond that wait as tasks, never as
    /// blocked threads.
    graph_slots: Arc<Semaphore>,
}

fn io_error(context: String) -> impl Fn(std::io::Error) -> EngineError {
    move |error| EngineError::Internal(format!("{context}: {error}"))
}

fn graph_error<E: std::fmt::Display>(context: &'static str) -> impl Fn(E) -> EngineError {
    move |error| EngineError::Internal(format!("{context}: {error}"))
}

impl AnnVectorIndex {
    pub fn open(dir: &Path, dimension: usize) -> Result<AnnVectorIndex, EngineError> {
        AnnVectorIndex::open_with_options(dir, dimension, AnnVectorOptions::default())
    }

    pub fn open_with_options(
        dir: &Path,
        dimension: usize,
        options: AnnVectorOptions,
    ) -> Result<AnnVectorIndex, EngineError> {
        if dimension == 0 {
            return Err(EngineError::Internal(
                "a vector index needs a dimension above 0".into(),
            ));
        }
        let mut collections = HashMap::new();
        for collection in Collection::ALL {
            let root = dir.join(collection.as_str());
            let options = options.clone();
            let versions = Versioned::open(collection, Some(&root), move |path| {
                let path = path.ok_or_else(|| {
                    EngineError::Internal("the vector index keeps every version on disk".into())
                })?;
                let opened =
                    VectorCollection::open(path.to_path_buf(), dimension, options.clone())?;
                Ok(RwLock::new(opened))
            })?;
            collections.insert(collection, versions);
        }
        Ok(AnnVectorIndex {
            engine: Arc::new(VectorEngine {
                dimension,
                collections,
                graph_slots: Arc::new(Semaphore::new(GRAPH_THREADS)),
            }),
        })
    }

    /// Starts a compaction of the live version on the blocking pool when its tombstones
    /// passed the configured share ([`AnnVectorOptions::compact_tombstone_share`]).
    fn compact_in_background_if_needed(&self, collection: Collection) {
        let needed = self
            .engine
            .collection(collection)
            .and_then(|versions| versions.live())
            .and_then(|live| read_lock(&live).map(|collection| collection.needs_compaction()));
        if !matches!(needed, Ok(true)) {
            return;
        }
        let engine = Arc::clone(&self.engine);
        tokio::task::spawn_blocking(move || {
            let result = engine
                .collection(collection)
                .and_then(|versions| versions.live())
                .and_then(|live| compact_collection(&live));
            match result {
                Ok(Some(done)) => tracing::info!(
                    collection = collection.as_str(),
                    points = done.points,
                    removed_tombstones = done.removed_tombstones,
                    replayed_writes = done.replayed_writes,
                    seconds = done.seconds,
                    "vector graph compacted"
                ),
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(collection = collection.as_str(), %error, "vector compaction failed; the graph keeps its tombstones")
                }
            }
        });
    }

    /// Writes a snapshot of every collection with pending log records, so the next open does not
    /// replay them. Writes are durable without it; this only shortens start-up.
    pub async fn flush(&self) -> Result<(), EngineError> {
        self.run(|engine| {
            for versions in engine.collections.values() {
                let live = versions.live_for_write()?;
                write_lock(&live)?.snapshot_if_logged()?;
            }
            Ok(())
        })
        .await
    }

    async fn run<T, F>(&self, work: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce(&VectorEngine) -> Result<T, EngineError> + Send + 'static,
    {
        let engine = Arc::clone(&self.engine);
        tokio::task::spawn_blocking(move || work(&engine))
            .await
            .map_err(|error| EngineError::Internal(format!("vector index task failed: {error}")))?
    }
}

impl Drop for VectorEngine {
    fn drop(&mut self) {
        for versions in self.collections.values() {
            let Ok(live) = versions.live() else {
                continue;
            };
            if let Ok(mut collection) = live.write()
                && let Err(error) = collection.snapshot_if_logged()
            {
                tracing::warn!(%error, "vector snapshot on shutdown failed; the log still has every write");
            }
        }
    }
}

impl VectorEngine {
    fn collection(
        &self,
        collection: Collection,
    ) -> Result<&Versioned<RwLock<VectorCollection>>, EngineError> {
        self.collections.get(&collection).ok_or_else(|| {
            EngineError::Internal(format!("collection {} is not open", collection.as_str()))
        })
    }

    fn check_points(&self, points: &[VectorPoint]) -> Result<(), EngineError> {
        for point in points {
            self.check_vector(&point.vector)?;
            if point.id.trim().is_empty() {
                return Err(EngineError::InvalidQuery(
                    "a vector point has an empty id".into(),
                ));
            }
        }
        Ok(())
    }

    fn check_vector(&self, vector: &[f32]) -> Result<(), EngineError> {
        if vector.len() != self.dimension {
            return Err(EngineError::DimensionMismatch {
                expected: self.dimension,
                got: vector.len(),
            });
        }
        if vector.iter().any(|v| !v.is_finite()) {
            return Err(EngineError::InvalidQuery(
                "vectors must not contain NaN or infinite values".into(),
            ));
        }
        Ok(())
    }
}

fn write_lock(
    lock: &RwLock<VectorCollection>,
) -> Result<std::sync::RwLockWriteGuard<'_, VectorCollection>, EngineError> {
    lock.write()
        .map_err(|_| EngineError::Internal("a vector collection lock is poisoned".into()))
}

fn read_lock(
    lock: &RwLock<VectorCollection>,
) -> Result<std::sync::RwLockReadGuard<'_, VectorCollection>, EngineError> {
    lock.read()
        .map_err(|_| EngineError::Internal("a vector collection lock is poisoned".into()))
}

fn new_graph(dimension: usize, options: &AnnVectorOptions) -> Result<Graph, EngineError> {
    new_graph_of(dimension, options, ScalarKind::BF16)
}

fn new_graph_of(
    dimension: usize,
    options: &AnnVectorOptions,
    scalar: ScalarKind,
) -> Result<Graph, EngineError> {
    let graph = Graph::new(&IndexOptions {
        dimensions: dimension,
        metric: MetricKind::IP,
        quantization: scalar,
        connectivity: options.connectivity,
        expansion_add: options.expansion_add,
        expansion_search: options.expansion_search,
        multi: false,
    })
    .map_err(graph_error("cannot create the vector graph"))?;
    graph
        .reserve_capacity_and_threads(1024, GRAPH_THREADS)
        .map_err(graph_error("cannot reserve graph memory"))?;
    Ok(graph)
}

impl VectorCollection {
    fn open(
        dir: PathBuf,
        dimension: usize,
        options: AnnVectorOptions,
    ) -> Result<VectorCollection, EngineError> {
        fs::create_dir_all(&dir).map_err(io_error(format!("cannot create {}", dir.display())))?;
        let current_path = dir.join("CURRENT");
        let current: Current = if current_path.exists() {
            let text = fs::read_to_string(&current_path)
                .map_err(io_error(format!("cannot read {}", current_path.display())))?;
            serde_json::from_str(&text).map_err(|error| {
                EngineError::Internal(format!("{} is damaged: {error}", current_path.display()))
            })?
        } else {
            Current {
                generation: 0,
                dimension,
                tombstones: 0,
                format: SNAPSHOT_FORMAT,
            }
        };
        if current.dimension != dimension {
            return Err(EngineError::DimensionMismatch {
                expected: current.dimension,
                got: dimension,
            });
        }
        let graph = new_graph(dimension, &options)?;
        let mut points = PointSet {
            by_key: HashMap::new(),
            key_of: HashMap::new(),
            next_key: 0,
        };
        let mut tombstones = current.tombstones;
        let mut upgraded = false;
        if current.generation > 0 {
            let generation = current.generation;
            let graph_path = dir.join(format!("graph-{generation}.usearch"));
            let points_path = dir.join(format!("points-{generation}.json"));
            let text = fs::read(&points_path)
                .map_err(io_error(format!("cannot read {}", points_path.display())))?;
            let mut stored: Vec<StoredPoint> = serde_json::from_slice(&text).map_err(|error| {
                EngineError::Internal(format!("{} is damaged: {error}", points_path.display()))
            })?;
            drop(text);
            match current.format {
                SNAPSHOT_FORMAT => {
                    // usearch takes the scalar kind from the file: bfloat16 here.
                    graph
                        .load(&graph_path.to_string_lossy())
                        .map_err(graph_error("cannot load the vector graph"))?;
                    graph
                        .reserve_capacity_and_threads(graph.size().max(1024), GRAPH_THREADS)
                        .map_err(graph_error("cannot reserve graph memory"))?;
                    let directions_path = dir.join(format!("directions-{generation}.bin"));
                    let mut directions = read_directions(&directions_path, dimension)?;
                    for point in &mut stored {
                        point.direction = directions.remove(&point.key).ok_or_else(|| {
                            EngineError::Internal(format!(
                                "{} is damaged: no direction for point {}",
                                directions_path.display(),
                                point.id
                            ))
                        })?;
                    }
                }
                F32_GRAPH_FORMAT => {
                    stored = directions_from_f32_graph(&graph_path, dimension, &options, stored)?;
                    graph
                        .reserve_capacity_and_threads(stored.len().max(1024), GRAPH_THREADS)
                        .map_err(graph_error("cannot reserve graph memory"))?;
                    if let Some(error) = add_in_parallel(&graph, &stored).into_iter().next() {
                        return Err(EngineError::Internal(format!(
                            "cannot rebuild the vector graph of {}: {error}",
                            dir.display()
                        )));
                    }
                    tombstones = 0;
                    upgraded = true;
                }
                newer => {
                    return Err(EngineError::Internal(format!(
                        "{} has snapshot format {newer}, newer than this build reads \
                         ({SNAPSHOT_FORMAT})",
                        current_path.display()
                    )));
                }
            }
            for point in stored {
                points.next_key = points.next_key.max(point.key + 1);
                points.key_of.insert(point.id.clone(), point.key);
                points.by_key.insert(point.key, point);
            }
        }
        tracing::debug!(
            dir = %dir.display(),
            points = points.by_key.len(),
            acceleration = %graph.hardware_acceleration(),
            "vector graph opened"
        );
        let log_path = dir.join(format!("log-{}.bin", current.generation));
        let (operations, log) = vector_log::replay(&log_path)?;
        let mut collection = VectorCollection {
            dir,
            dimension,
            options,
            graph,
            points,
            generation: current.generation,
            log,
            tombstones,
            recording: None,
        };
        collection.apply_all(operations)?;
        if upgraded {
            collection.snapshot()?;
            tracing::info!(
                dir = %collection.dir.display(),
                points = collection.points.by_key.len(),
                "vector snapshot upgraded to a bfloat16 graph with exact directions beside it"
            );
        }
        Ok(collection)
    }

    /// Applies logged operations in order; runs of upserts go into the graph in parallel.
    fn apply_all(&mut self, operations: Vec<LoggedOperation>) -> Result<(), EngineError> {
        let mut upserts: Vec<StoredPoint> = Vec::new();
        for operation in operations {
            match operation {
                LoggedOperation::Upsert {
                    key,
                    id,
                    fields,
                    direction,
                    norm,
                } => upserts.push(StoredPoint {
                    key,
                    id,
                    norm,
                    fields: *fields,
                    direction: direction.into_boxed_slice(),
                }),
                LoggedOperation::Delete { id } => {
                    self.apply_upserts(std::mem::take(&mut upserts))?;
                    self.remove_id(&id)?;
                }
                LoggedOperation::Clear => {
                    upserts.clear();
                    self.graph = new_graph(self.dimension, &self.options)?;
                    self.points.by_key.clear();
                    self.points.key_of.clear();
                    self.tombstones = 0;
                }
            }
        }
        self.apply_upserts(upserts)
    }

    fn apply_upserts(&mut self, upserts: Vec<StoredPoint>) -> Result<(), EngineError> {
        if upserts.is_empty() {
            return Ok(());
        }
        // Within one run the last write of an id wins.
        let mut last_write: HashMap<&str, usize> = HashMap::with_capacity(upserts.len());
        for (index, upsert) in upserts.iter().enumerate() {
            last_write.insert(upsert.id.as_str(), index);
        }
        let keep: Vec<bool> = upserts
            .iter()
            .enumerate()
            .map(|(index, upsert)| last_write.get(upsert.id.as_str()) == Some(&index))
            .collect();
        drop(last_write);
        let upserts: Vec<StoredPoint> = upserts
            .into_iter()
            .zip(keep)
            .filter_map(|(upsert, keep)| keep.then_some(upsert))
            .collect();
        for upsert in &upserts {
            self.remove_id(&upsert.id)?;
        }
        let needed = self.graph.size() + upserts.len();
        if needed > self.graph.capacity() {
            let grown = needed.max(self.graph.capacity() * 2).max(1024);
            self.graph
                .reserve_capacity_and_threads(grown, GRAPH_THREADS)
                .map_err(graph_error("cannot grow the vector graph"))?;
        }
        let failures = add_in_parallel(&self.graph, &upserts);
        for point in upserts {
            // Only points that made it into the graph are recorded.
            if !self.graph.contains(point.key) {
                continue;
            }
            self.points.next_key = self.points.next_key.max(point.key + 1);
            self.points.key_of.insert(point.id.clone(), point.key);
            self.points.by_key.insert(point.key, point);
        }
        match failures.into_iter().next() {
            Some(error) => Err(EngineError::Internal(format!(
                "cannot add a vector: {error}"
            ))),
            None => Ok(()),
        }
    }

    fn remove_id(&mut self, id: &str) -> Result<(), EngineError> {
        if let Some(key) = self.points.key_of.remove(id) {
            self.points.by_key.remove(&key);
            self.graph
                .remove(key)
                .map_err(graph_error("cannot remove a vector"))?;
            self.tombstones += 1;
        }
        Ok(())
    }

    /// Whether removed or replaced points crowd the graph enough for a compaction.
    fn needs_compaction(&self) -> bool {
        let tombstones = self.tombstones;
        let total = tombstones + self.points.by_key.len() as u64;
        self.recording.is_none()
            && tombstones >= self.options.compact_min_tombstones
            && total > 0
            && tombstones as f64 / total as f64 > self.options.compact_tombstone_share
    }

    /// Logs `operations` durably, then applies them.
    fn write(&mut self, operations: Vec<LoggedOperation>) -> Result<(), EngineError> {
        let mut records = Vec::new();
        for operation in &operations {
            vector_log::encode(operation, &mut records);
        }
        self.log.append(&records)?;
        if let Some(recording) = &mut self.recording {
            recording.extend(operations.iter().cloned());
        }
        self.apply_all(operations)?;
        if self.log.len_bytes() > self.options.snapshot_log_bytes {
            self.snapshot()?;
        }
        Ok(())
    }

    fn snapshot_if_logged(&mut self) -> Result<(), EngineError> {
        if self.log.len_bytes() > 0 {
            self.snapshot()?;
        }
        Ok(())
    }

    /// Writes generation `n + 1` (graph, points, directions, empty log), switches `CURRENT` to
    /// it, then removes generation `n`.
    fn snapshot(&mut self) -> Result<(), EngineError> {
        let next = self.generation + 1;
        let graph_path = self.dir.join(format!("graph-{next}.usearch"));
        self.graph
            .save(&graph_path.to_string_lossy())
            .map_err(graph_error("cannot save the vector graph"))?;
        sync_file(&graph_path)?;
        let points: Vec<&StoredPoint> = self.points.by_key.values().collect();
        let points_json = serde_json::to_vec(&points)
            .map_err(|error| EngineError::Internal(format!("cannot encode points: {error}")))?;
        let points_path = self.dir.join(format!("points-{next}.json"));
        write_synced(&points_path, &points_json)?;
        drop(points_json);
        let directions_path = self.dir.join(format!("directions-{next}.bin"));
        write_directions(&directions_path, self.dimension, &points)?;
        let log_path = self.dir.join(format!("log-{next}.bin"));
        let _ = fs::remove_file(&log_path);
        let (_, log) = vector_log::replay(&log_path)?;
        let current = serde_json::to_vec(&Current {
            generation: next,
            dimension: self.dimension,
            tombstones: self.tombstones,
            format: SNAPSHOT_FORMAT,
        })
        .map_err(|error| EngineError::Internal(format!("cannot encode CURRENT: {error}")))?;
        let staged = self.dir.join("CURRENT.tmp");
        write_synced(&staged, &current)?;
        fs::rename(&staged, self.dir.join("CURRENT")).map_err(io_error(format!(
            "cannot replace {}/CURRENT",
            self.dir.display()
        )))?;
        sync_file(&self.dir)?;
        let previous = self.generation;
        self.generation = next;
        self.log = log;
        for stale in [
            format!("graph-{previous}.usearch"),
            format!("points-{previous}.json"),
            format!("directions-{previous}.bin"),
            format!("log-{previous}.bin"),
        ] {
            let _ = fs::remove_file(self.dir.join(stale));
        }
        Ok(())
    }

    /// The caller holds one of the engine's graph slots for the whole search.
    fn search(&self, query: &VectorQuery) -> Result<Vec<VectorHit>, EngineError> {
        if self.points.by_key.is_empty() {
            return Ok(Vec::new());
        }
        let (direction, norm) = split_direction(&query.vector);
        let exact_limit = self.options.exact_scan_below;
        let candidates: Vec<u64> = if query.filters.is_empty() {
            if self.points.by_key.len() <= exact_limit {
                self.points.by_key.keys().copied().collect()
            } else {
                self.graph
                    .search(&direction, oversample(query.top_k))
                    .map_err(graph_error("vector search failed"))?
                    .keys
            }
        } else {
            let mut matching = Vec::new();
            let mut too_many = false;
            for (key, point) in &self.points.by_key {
                if query.filters.matches(&point.fields) {
                    matching.push(*key);
                    if matching.len() > exact_limit {
                        too_many = true;
                        break;
                    }
                }
            }
            if too_many {
                let found = self
                    .graph
                    .filtered_search(&direction, oversample(query.top_k), |key| {
                        passes(&self.points, &query.filters, key)
                    })
                    .map_err(graph_error("filtered vector search failed"))?
                    .keys;
                if found.len() >= query.top_k {
                    found
                } else {
                    self.points
                        .by_key
                        .iter()
                        .filter(|(_, p)| query.filters.matches(&p.fields))
                        .map(|(key, _)| *key)
                        .collect()
                }
            } else {
                matching
            }
        };
        self.rank_exactly(&candidates, &direction, norm, query)
    }

    fn rank_exactly(
        &self,
        candidates: &[u64],
        direction: &[f32],
        norm: f32,
        query: &VectorQuery,
    ) -> Result<Vec<VectorHit>, EngineError> {
        let mut scored: Vec<(f32, Option<f32>, &str)> = Vec::with_capacity(candidates.len());
        for key in candidates {
            let Some(point) = self.points.by_key.get(key) else {
                continue;
            };
            // The exact direction, not the graph's bfloat16 copy.
            let cosine = dot(direction, &point.direction);
            let (score, distance) = match query.metric {
                Metric::Cosine => (cosine, None),
                Metric::Dot => (cosine * norm * point.norm, None),
                Metric::Euclidean => {
                    let squared =
                        norm * norm + point.norm * point.norm - 2.0 * cosine * norm * point.norm;
                    let distance = squared.max(0.0).sqrt();
                    (1.0 / (1.0 + distance), Some(distance))
                }
            };
            scored.push((score, distance, point.id.as_str()));
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.2.cmp(b.2)));
        Ok(scored
            .into_iter()
            .take(query.top_k)
            .map(|(score, distance, id)| VectorHit {
                id: id.to_string(),
                score,
                distance,
            })
            .collect())
    }
}

/// Inserts `upserts` into `graph` from one thread per core; returns the failures.
fn add_in_parallel(graph: &Graph, upserts: &[StoredPoint]) -> Vec<String> {
    if upserts.is_empty() {
        return Vec::new();
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, GRAPH_THREADS);
    let chunk = upserts.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = upserts
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    for upsert in part {
                        if let Err(error) = graph.add(upsert.key, &upsert.direction) {
                            return Some(error.to_string());
                        }
                    }
                    None
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|handle| {
                handle
                    .join()
                    .unwrap_or(Some("a graph insert panicked".into()))
            })
            .collect()
    })
}

/// Stops recording writes when a compaction ends without its swap.
struct RecordingGuard<'a> {
    target: &'a RwLock<VectorCollection>,
    armed: bool,
}

impl Drop for RecordingGuard<'_> {
    fn drop(&mut self) {
        if self.armed
            && let Ok(mut collection) = self.target.write()
        {
            collection.recording = None;
        }
    }
}

/// Rebuilds `target`'s graph from its live points without holding it against searches or
/// writes: writes are recorded from the start, the points copied under a read lock, the new
/// graph built with no lock, then (write lock) the recorded writes replayed into it, the
/// graph and points swapped, and a snapshot written. `None` when a compaction of this
/// collection is already running.
fn compact_collection(
    target: &RwLock<VectorCollection>,
) -> Result<Option<Compaction>, EngineError> {
    let started = std::time::Instant::now();
    {
        let mut collection = write_lock(target)?;
        if collection.recording.is_some() {
            return Ok(None);
        }
        collection.recording = Some(Vec::new());
    }
    let mut guard = RecordingGuard {
        target,
        armed: true,
    };
    let (dimension, options, live, tombstones) = {
        let collection = read_lock(target)?;
        let live: Vec<StoredPoint> = collection.points.by_key.values().cloned().collect();
        (
            collection.dimension,
            collection.options.clone(),
            live,
            collection.tombstones,
        )
    };
    let graph = new_graph(dimension, &options)?;
    graph
        .reserve_capacity_and_threads(live.len().max(1024), GRAPH_THREADS)
        .map_err(graph_error("cannot reserve graph memory"))?;
    if let Some(error) = add_in_parallel(&graph, &live).into_iter().next() {
        return Err(EngineError::Internal(format!(
            "compaction could not add a vector: {error}"
        )));
    }
    let mut points = PointSet {
        by_key: HashMap::with_capacity(live.len()),
        key_of: HashMap::with_capacity(live.len()),
        next_key: 0,
    };
    for point in live {
        points.next_key = points.next_key.max(point.key + 1);
        points.key_of.insert(point.id.clone(), point.key);
        points.by_key.insert(point.key, point);
    }
    let mut collection = write_lock(target)?;
    let recorded = collection.recording.take().unwrap_or_default();
    guard.armed = false;
    let replayed = recorded.len() as u64;
    points.next_key = points.next_key.max(collection.points.next_key);
    collection.graph = graph;
    collection.points = points;
    collection.tombstones = 0;
    collection.apply_all(recorded)?;
    // The compacted graph becomes the snapshot; the log it replaces held the same writes.
    collection.snapshot()?;
    Ok(Some(Compaction {
        points: collection.points.by_key.len() as u64,
        removed_tombstones: tombstones,
        replayed_writes: replayed,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

fn passes(points: &PointSet, filters: &Filters, key: u64) -> bool {
    points
        .by_key
        .get(&key)
        .is_some_and(|point| filters.matches(&point.fields))
}

/// Reads the points' exact directions out of a format-1 snapshot's f32 graph (its own scalar
/// kind comes from the file). A point the graph lacks is dropped with a warning, as a failed
/// insert would have left it.
fn directions_from_f32_graph(
    graph_path: &Path,
    dimension: usize,
    options: &AnnVectorOptions,
    stored: Vec<StoredPoint>,
) -> Result<Vec<StoredPoint>, EngineError> {
    let old = new_graph_of(dimension, options, ScalarKind::F32)?;
    old.load(&graph_path.to_string_lossy())
        .map_err(graph_error("cannot load the vector graph"))?;
    let mut live = Vec::with_capacity(stored.len());
    for mut point in stored {
        let mut direction = vec![0f32; dimension];
        let found = old
            .get(point.key, &mut direction)
            .map_err(graph_error("cannot read a vector"))?;
        if found == 0 {
            tracing::warn!(graph = %graph_path.display(), id = %point.id, "a point of the snapshot is missing from its graph; dropped");
            continue;
        }
        point.direction = direction.into_boxed_slice();
        live.push(point);
    }
    Ok(live)
}

/// Writes the exact directions of `points`: [`DIRECTIONS_MAGIC`], `u32` dimension, `u64`
/// count, then per point its `u64` key and `dimension` `f32`s (little endian); synced.
fn write_directions(
    path: &Path,
    dimension: usize,
    points: &[&StoredPoint],
) -> Result<(), EngineError> {
    use std::io::Write;
    let file =
        fs::File::create(path).map_err(io_error(format!("cannot write {}", path.display())))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut write_all = || -> std::io::Result<()> {
        out.write_all(DIRECTIONS_MAGIC)?;
        out.write_all(&(dimension as u32).to_le_bytes())?;
        out.write_all(&(points.len() as u64).to_le_bytes())?;
        for point in points {
            out.write_all(&point.key.to_le_bytes())?;
            for value in point.direction.iter() {
                out.write_all(&value.to_le_bytes())?;
            }
        }
        out.flush()?;
        out.get_ref().sync_all()
    };
    write_all().map_err(io_error(format!("cannot write {}", path.display())))
}

/// Reads a file [`write_directions`] wrote: the direction of every key in it.
fn read_directions(path: &Path, dimension: usize) -> Result<HashMap<u64, Box<[f32]>>, EngineError> {
    use std::io::Read;
    let damaged =
        |what: &str| EngineError::Internal(format!("{} is damaged: {what}", path.display()));
    let file = fs::File::open(path).map_err(io_error(format!("cannot read {}", path.display())))?;
    let length = file
        .metadata()
        .map_err(io_error(format!("cannot read {}", path.display())))?
        .len();
    let mut input = std::io::BufReader::with_capacity(1 << 20, file);
    let mut header = [0u8; 20];
    input
        .read_exact(&mut header)
        .map_err(|_| damaged("shorter than its header"))?;
    if &header[..8] != DIRECTIONS_MAGIC {
        return Err(damaged("not a directions file"));
    }
    let stored_dimension = u32::from_le_bytes(header[8..12].try_into().unwrap_or_default());
    let count = u64::from_le_bytes(header[12..20].try_into().unwrap_or_default());
    if stored_dimension as usize != dimension {
        return Err(damaged(&format!(
            "dimension {stored_dimension}, expected {dimension}"
        )));
    }
    let record = 8 + 4 * dimension as u64;
    if count.checked_mul(record).and_then(|n| n.checked_add(20)) != Some(length) {
        return Err(damaged(&format!(
            "{length} bytes do not hold {count} directions"
        )));
    }
    let mut directions = HashMap::with_capacity(count as usize);
    let mut bytes = vec![0u8; record as usize];
    for _ in 0..count {
        input
            .read_exact(&mut bytes)
            .map_err(io_error(format!("cannot read {}", path.display())))?;
        let key = u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default());
        let direction: Box<[f32]> = bytes[8..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        directions.insert(key, direction);
    }
    Ok(directions)
}

/// How many graph neighbours to fetch for an exact re-ranking of `top_k`.
fn oversample(top_k: usize) -> usize {
    (top_k * 3).max(64)
}

/// The unit direction and the norm of `vector` (a zero vector keeps a zero direction).
fn split_direction(vector: &[f32]) -> (Vec<f32>, f32) {
    let norm = dot(vector, vector).sqrt();
    if norm == 0.0 {
        return (vector.to_vec(), 0.0);
    }
    (vector.iter().map(|v| v / norm).collect(), norm)
}

/// Dot product in 8 independent lanes so the compiler can vectorise it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks_a = a.chunks_exact(8);
    let chunks_b = b.chunks_exact(8);
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in chunks_a.zip(chunks_b) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

fn sync_file(path: &Path) -> Result<(), EngineError> {
    fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(io_error(format!("cannot sync {}", path.display())))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), EngineError> {
    use std::io::Write;
    fs::File::create(path)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .map_err(io_error(format!("cannot write {}", path.display())))
}

#[async_trait]
impl VectorIndex for AnnVectorIndex {
    fn backend(&self) -> &'static str {
        "usearch"
    }

    fn dimension(&self) -> usize {
        self.engine.dimension
    }

    async fn upsert(
        &self,
        collection: Collection,
        points: &[VectorPoint],
    ) -> Result<(), EngineError> {
        self.engine.check_points(points)?;
        if points.is_empty() {
            return Ok(());
        }
        let points = points.to_vec();
        self.run(move |engine| {
            let live = engine.collection(collection)?.live_for_write()?;
            upsert_points(&live, points)
        })
        .await?;
        self.compact_in_background_if_needed(collection);
        Ok(())
    }

    async fn delete(&self, collection: Collection, ids: &[String]) -> Result<(), EngineError> {
        let ids = ids.to_vec();
        self.run(move |engine| {
            let live = engine.collection(collection)?.live_for_write()?;
            delete_ids(&live, ids)
        })
        .await?;
        self.compact_in_background_if_needed(collection);
        Ok(())
    }

    async fn clear(&self, collection: Collection) -> Result<(), EngineError> {
        self.run(move |engine| {
            let live = engine.collection(collection)?.live_for_write()?;
            write_lock(&live)?.write(vec![LoggedOperation::Clear])
        })
        .await
    }

    async fn search(&self, query: &VectorQuery) -> Result<Vec<VectorHit>, EngineError> {
        if query.top_k == 0 || query.top_k > MAX_TOP_K {
            return Err(EngineError::InvalidQuery(format!(
                "top_k must be between 1 and {MAX_TOP_K}, got {}",
                query.top_k
            )));
        }
        self.engine.check_vector(&query.vector)?;
        let query = query.clone();
        // Owned and moved into the blocking task: it stays taken even if this future is dropped
        // while the search still runs.
        let slot = Arc::clone(&self.engine.graph_slots)
            .acquire_owned()
            .await
            .map_err(|_| EngineError::Internal("the vector index is shutting down".into()))?;
        self.run(move |engine| {
            let _slot = slot;
            let live = engine.collection(query.collection)?.live()?;
            read_lock(&live)?.search(&query)
        })
        .await
    }

    async fn count(&self, collection: Collection) -> Result<u64, EngineError> {
        let live = self.engine.collection(collection)?.live()?;
        let count = read_lock(&live)?.points.by_key.len() as u64;
        Ok(count)
    }

    async fn begin_version(&self, collection: Collection) -> Result<u64, EngineError> {
        self.run(move |engine| engine.collection(collection)?.begin())
            .await
    }

    async fn compact(&self, collection: Collection) -> Result<Option<Compaction>, EngineError> {
        self.run(move |engine| {
            let live = engine.collection(collection)?.live()?;
            compact_collection(&live)
        })
        .await
    }

    async fn upsert_version(
        &self,
        collection: Collection,
        version: u64,
        points: &[VectorPoint],
    ) -> Result<(), EngineError> {
        self.engine.check_points(points)?;
        let points = points.to_vec();
        self.run(move |engine| {
            let staged = engine.collection(collection)?.staged(version)?;
            if points.is_empty() {
                return Ok(());
            }
            upsert_points(&staged, points)
        })
        .await
    }

    async fn delete_version(
        &self,
        collection: Collection,
        version: u64,
        ids: &[String],
    ) -> Result<(), EngineError> {
        let ids = ids.to_vec();
        self.run(move |engine| {
            let staged = engine.collection(collection)?.staged(version)?;
            delete_ids(&staged, ids)
        })
        .await
    }

    async fn commit_version(
        &self,
        collection: Collection,
        version: u64,
    ) -> Result<(), EngineError> {
        // A snapshot first, so the next start loads the new graph instead of replaying its log.
        self.run(move |engine| {
            engine
                .collection(collection)?
                .commit(version, |staged| write_lock(staged)?.snapshot_if_logged())
        })
        .await
    }

    async fn abort_version(&self, collection: Collection, version: u64) -> Result<(), EngineError> {
        self.run(move |engine| engine.collection(collection)?.abort(version))
            .await
    }
}

/// Logs and applies upserts to one version (new keys past the version's last).
fn upsert_points(
    target: &RwLock<VectorCollection>,
    points: Vec<VectorPoint>,
) -> Result<(), EngineError> {
    let mut target = write_lock(target)?;
    let mut next_key = target.points.next_key;
    let operations = points
        .into_iter()
        .map(|point| {
            let (direction, norm) = split_direction(&point.vector);
            next_key += 1;
            LoggedOperation::Upsert {
                key: next_key - 1,
                id: point.id,
                fields: Box::new(point.fields),
                direction,
                norm,
            }
        })
        .collect();
    target.write(operations)
}

/// Logs and applies the removal of the ids one version holds (unknown ids are skipped).
fn delete_ids(target: &RwLock<VectorCollection>, ids: Vec<String>) -> Result<(), EngineError> {
    let mut target = write_lock(target)?;
    let operations: Vec<LoggedOperation> = ids
        .into_iter()
        .filter(|id| target.points.key_of.contains_key(id))
        .map(|id| LoggedOperation::Delete { id })
        .collect();
    if operations.is_empty() {
        return Ok(());
    }
    target.write(operations)
}
