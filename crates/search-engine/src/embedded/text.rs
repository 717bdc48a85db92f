//! [`TantivyTextIndex`]: the embedded [`TextIndex`], one tantivy index per collection.
//!
//! Writes go through one `IndexWriter` per collection behind a mutex and are committed at the
//! end of every `upsert`/`delete`/`clear` call (callers batch), after which the reader is
//! reloaded, so a write is searchable as soon as the call returns. Stored fields keep the whole
//! document (title, content, typed fields, metadata) so hits and `get` need no other store.
//!
//! Suggestions come from an in-memory [`SuggestionTable`] per collection, rebuilt from the stored
//! documents when the index opens and updated by every write.
//!
//! Each collection is a set of versions ([`Versioned`]): `dir/<collection>/v<N>/` holds one
//! tantivy index (with its writer and suggestion table), `dir/<collection>/LIVE` names the one
//! searches read; a reindex fills a staged version and commits it by swapping that pointer.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use tantivy::collector::sort_key::{SortBySimilarityScore, SortByString};
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::snippet::{Snippet, SnippetGenerator};
use tantivy::{
    Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument, Term,
};

use crate::embedded::analyzer::{SegmentMode, Segmenter, TEXT_TOKENIZER};
use crate::embedded::facets::FacetCounter;
use crate::embedded::suggest::{SuggestionSource, SuggestionTable};
use crate::embedded::text_query::{DEFAULT_TITLE_BOOST, TextQueryBuilder, filter_query};
use crate::embedded::text_schema::{ID_FIELD, SchemaFields, schema};
use crate::embedded::versions::{VersionDirs, Versioned};
use crate::{
    Collection, Document, DocumentFields, EngineError, Highlight, StoredDocument, SuggestQuery,
    Suggestion, TextHit, TextIndex, TextQuery, TextResults,
};

/// Indexing memory per collection, shared by the writer's threads.
const WRITER_HEAP_BYTES: usize = 50_000_000;
const WRITER_THREADS: usize = 2;
pub(crate) const MAX_LIMIT: usize = 1000;
const MAX_OFFSET: usize = 100_000;
const MAX_SUGGESTIONS: usize = 100;
/// Documents per commit when an outdated index is rebuilt from its stored documents.
const REBUILD_BATCH: usize = 5_000;
const SUGGESTION_UPDATE_CHUNK: usize = 1000;
/// Length of the plain-text `snippet` of a hit, in characters.
const SNIPPET_CHARS: usize = 160;
/// Length of highlighted fragments, in characters.
const HIGHLIGHT_CHARS: usize = 200;

fn internal(context: &str) -> impl Fn(tantivy::TantivyError) -> EngineError + '_ {
    move |error| EngineError::Internal(format!("{context}: {error}"))
}

struct CollectionIndex {
    fields: SchemaFields,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    suggestions: RwLock<SuggestionTable>,
}

struct TextEngine {
    segmenter: Segmenter,
    collections: HashMap<Collection, Versioned<CollectionIndex>>,
}

/// The embedded full-text engine (tantivy with the bilingual jieba analyzer).
#[derive(Clone)]
pub struct TantivyTextIndex {
    engine: Arc<TextEngine>,
    title_boost: f32,
}

impl TantivyTextIndex {
    /// Opens (or creates) one index per collection under `dir/<collection>`. Loads
    /// [`default_user_dictionary`](crate::embedded::default_user_dictionary) into jieba.
    ///
    /// An index written by an older analyzer or schema (before stemming, say) is rebuilt at
    /// open from the documents it stores, into a new version that replaces it
    /// ([`upgrade_outdated_index`]); nothing needs reindexing from the owners.
    pub fn open(dir: &Path) -> Result<TantivyTextIndex, EngineError> {
        let dictionary = crate::embedded::default_user_dictionary();
        TantivyTextIndex::open_with_dictionary(dir, dictionary.as_deref())
    }

    /// Like [`open`](Self::open) with an explicit jieba user dictionary (one
    /// `word [frequency [tag]]` per line) so domain words such as 后端开发 stay whole.
    pub fn open_with_dictionary(
        dir: &Path,
        user_dictionary: Option<&str>,
    ) -> Result<TantivyTextIndex, EngineError> {
        TantivyTextIndex::open_versions(Some(dir), user_dictionary)
    }

    /// An index held in memory only, for tests and throwaway use.
    pub fn in_memory() -> Result<TantivyTextIndex, EngineError> {
        let dictionary = crate::embedded::default_user_dictionary();
        TantivyTextIndex::in_memory_with_dictionary(dictionary.as_deref())
    }

    pub fn in_memory_with_dictionary(
        user_dictionary: Option<&str>,
    ) -> Result<TantivyTextIndex, EngineError> {
        TantivyTextIndex::open_versions(None, user_dictionary)
    }

    /// One [`Versioned`] set per collection under `dir/<collection>/` (in memory without `dir`).
    fn open_versions(
        dir: Option<&Path>,
        user_dictionary: Option<&str>,
    ) -> Result<TantivyTextIndex, EngineError> {
        let segmenter = Segmenter::new(user_dictionary)?;
        let mut collections = HashMap::new();
        for collection in Collection::ALL {
            let root = dir.map(|dir| dir.join(collection.as_str()));
            if let Some(root) = &root {
                upgrade_outdated_index(collection, root, &segmenter)?;
            }
            let opener = segmenter.clone();
            let versions = Versioned::open(collection, root.as_deref(), move |path| {
                open_collection_index(path, &opener)
            })?;
            collections.insert(collection, versions);
        }
        Ok(TantivyTextIndex {
            engine: Arc::new(TextEngine {
                segmenter,
                collections,
            }),
            title_boost: DEFAULT_TITLE_BOOST,
        })
    }

    /// Weighs title matches `boost` times a match in the content, skills or name (default
    /// 2). Each field is scored by BM25 on its own and the field scores add up, so a word in both
    /// the title and the content counts `boost + 1` times.
    pub fn with_title_boost(mut self, boost: f32) -> TantivyTextIndex {
        self.title_boost = boost;
        self
    }

    async fn run<T, F>(&self, work: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce(&TextEngine) -> Result<T, EngineError> + Send + 'static,
    {
        let engine = Arc::clone(&self.engine);
        tokio::task::spawn_blocking(move || work(&engine))
            .await
            .map_err(|error| EngineError::Internal(format!("text index task failed: {error}")))?
    }
}

/// Rebuilds the live version under `root` when an older analyzer or schema wrote it: every
/// stored document is read back and indexed into a new version with today's analysis, which then
/// replaces the old one (`VersionDirs::rewrite_live`: a crash part-way leaves the old version
/// live and the rebuild runs again at the next start). Every field the index needs is stored, so
/// the result is what a reindex from the owners would give.
fn upgrade_outdated_index(
    collection: Collection,
    root: &Path,
    segmenter: &Segmenter,
) -> Result<(), EngineError> {
    let (dirs, live) = VersionDirs::open(root)?;
    let path = dirs.path(live);
    let Some(old) = outdated_index(&path)? else {
        return Ok(());
    };
    tracing::warn!(
        collection = collection.as_str(),
        path = %path.display(),
        "the text index was written by an older analyzer or schema; rebuilding it from its stored documents"
    );
    let started = std::time::Instant::now();
    let mut copied = 0;
    let version = dirs.rewrite_live(live, |new| {
        copied = copy_stored_documents(&old, collection, new, segmenter)?;
        Ok(())
    })?;
    tracing::info!(
        collection = collection.as_str(),
        documents = copied,
        version,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "text index rebuilt"
    );
    Ok(())
}

/// The index in `path` when one is there and its schema (which names the analyzer) is not
/// today's.
fn outdated_index(path: &Path) -> Result<Option<Index>, EngineError> {
    if !path.join("meta.json").exists() {
        return Ok(None);
    }
    let directory = MmapDirectory::open(path).map_err(|error| {
        EngineError::Internal(format!("cannot open {}: {error}", path.display()))
    })?;
    let index = Index::open(directory).map_err(internal("cannot open the text index"))?;
    Ok((index.schema() != schema().0).then_some(index))
}

/// Indexes every document stored in `old` into a new index in `new`; returns how many.
fn copy_stored_documents(
    old: &Index,
    collection: Collection,
    new: &Path,
    segmenter: &Segmenter,
) -> Result<usize, EngineError> {
    let old_schema = old.schema();
    let (today, fields) = schema();
    // The stored fields, found in the old schema by today's names.
    let old_field = |field: Field| {
        let name = today.get_field_name(field);
        old_schema.get_field(name).map_err(|_| {
            EngineError::Internal(format!(
                "the text index of {} cannot be rebuilt: it stores no `{name}`; delete its \
                 directory and reindex (`looma search reindex`)",
                collection.as_str()
            ))
        })
    };
    let stored = StoredFields {
        id: old_field(fields.id)?,
        title: old_field(fields.title)?,
        content: old_field(fields.content)?,
        metadata: old_field(fields.metadata)?,
        fields_json: old_field(fields.fields_json)?,
    };
    let reader: IndexReader = old
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(internal("cannot read the old text index"))?;
    let target = open_collection_index(Some(new), segmenter)?;
    let mut batch: Vec<Document> = Vec::with_capacity(REBUILD_BATCH);
    let mut copied = 0;
    let mut flush = |batch: &mut Vec<Document>| -> Result<(), EngineError> {
        target.upsert(&batch.iter().collect::<Vec<_>>())?;
        copied += batch.len();
        batch.clear();
        Ok(())
    };
    let searcher = reader.searcher();
    for segment in searcher.segment_readers() {
        let store = segment
            .get_store_reader(16)
            .map_err(|error| EngineError::Internal(format!("cannot read documents: {error}")))?;
        for doc in store.iter::<TantivyDocument>(segment.alive_bitset()) {
            let doc = doc.map_err(|error| {
                EngineError::Internal(format!("cannot read a stored document: {error}"))
            })?;
            let StoredDocument {
                id,
                title,
                content,
                fields,
                metadata,
            } = stored.read(&doc);
            batch.push(Document {
                id,
                collection,
                title,
                content,
                fields,
                metadata,
                vector: None,
            });
            if batch.len() == REBUILD_BATCH {
                flush(&mut batch)?;
            }
        }
    }
    if !batch.is_empty() {
        flush(&mut batch)?;
    }
    Ok(copied)
}

/// The fields a [`StoredDocument`] is read from, in one schema.
struct StoredFields {
    id: Field,
    title: Field,
    content: Field,
    metadata: Field,
    fields_json: Field,
}

impl StoredFields {
    fn read(&self, doc: &TantivyDocument) -> StoredDocument {
        let text = |field: Field| {
            doc.get_first(field)
                .and_then(|value| value.as_str())
                .unwrap_or_default()
                .to_string()
        };
        StoredDocument {
            id: text(self.id),
            title: text(self.title),
            content: text(self.content),
            fields: serde_json::from_str::<DocumentFields>(&text(self.fields_json))
                .unwrap_or_default(),
            metadata: serde_json::from_str(&text(self.metadata)).unwrap_or(serde_json::Value::Null),
        }
    }
}

impl From<&SchemaFields> for StoredFields {
    fn from(fields: &SchemaFields) -> StoredFields {
        StoredFields {
            id: fields.id,
            title: fields.title,
            content: fields.content,
            metadata: fields.metadata,
            fields_json: fields.fields_json,
        }
    }
}

/// Opens (or creates) one version's tantivy index in `path`, or in memory.
fn open_collection_index(
    path: Option<&Path>,
    segmenter: &Segmenter,
) -> Result<CollectionIndex, EngineError> {
    let (schema, fields) = schema();
    let index = match path {
        None => Index::create_in_ram(schema),
        Some(path) => {
            let directory = MmapDirectory::open(path).map_err(|error| {
                EngineError::Internal(format!("cannot open {}: {error}", path.display()))
            })?;
            Index::open_or_create(directory, schema).map_err(|error| match error {
                tantivy::TantivyError::SchemaError(_) => EngineError::Internal(format!(
                    "the text index in {} has another schema and could not be rebuilt from its \
                     stored documents; delete that directory and reindex (`looma search \
                     reindex`): {error}",
                    path.display()
                )),
                other => internal("cannot open the text index")(other),
            })?
        }
    };
    CollectionIndex::new(index, fields, segmenter)
}

impl TextEngine {
    fn collection(
        &self,
        collection: Collection,
    ) -> Result<&Versioned<CollectionIndex>, EngineError> {
        self.collections.get(&collection).ok_or_else(|| {
            EngineError::Internal(format!("collection {} is not open", collection.as_str()))
        })
    }
}

impl CollectionIndex {
    fn new(
        index: Index,
        fields: SchemaFields,
        segmenter: &Segmenter,
    ) -> Result<CollectionIndex, EngineError> {
        index
            .tokenizers()
            .register(TEXT_TOKENIZER, segmenter.analyzer(SegmentMode::Index));
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(internal("cannot open the index reader"))?;
        let writer = index
            .writer_with_num_threads(WRITER_THREADS, WRITER_HEAP_BYTES)
            .map_err(internal("cannot open the index writer"))?;
        let collection = CollectionIndex {
            fields,
            reader,
            writer: Mutex::new(writer),
            suggestions: RwLock::new(SuggestionTable::new(segmenter.clone())),
        };
        collection.rebuild_suggestions()?;
        Ok(collection)
    }

    fn rebuild_suggestions(&self) -> Result<(), EngineError> {
        let searcher = self.reader.searcher();
        let mut table = self.write_suggestions()?;
        table.clear();
        for segment in searcher.segment_readers() {
            let store = segment.get_store_reader(16).map_err(|error| {
                EngineError::Internal(format!("cannot read documents: {error}"))
            })?;
            for stored in store.iter::<TantivyDocument>(segment.alive_bitset()) {
                let stored = stored.map_err(|error| {
                    EngineError::Internal(format!("cannot read a stored document: {error}"))
                })?;
                let document = self.stored_document(&stored);
                table.put(
                    &document.id,
                    SuggestionSource::new(
                        &document.title,
                        &document.fields.skills,
                        document.fields.name.as_deref(),
                    ),
                );
            }
        }
        Ok(())
    }

    fn lock_writer(&self) -> Result<std::sync::MutexGuard<'_, IndexWriter>, EngineError> {
        self.writer
            .lock()
            .map_err(|_| EngineError::Internal("the index writer lock is poisoned".into()))
    }

    fn write_suggestions(
        &self,
    ) -> Result<std::sync::RwLockWriteGuard<'_, SuggestionTable>, EngineError> {
        self.suggestions
            .write()
            .map_err(|_| EngineError::Internal("the suggestion table lock is poisoned".into()))
    }

    /// Commits the writer's pending operations and makes them visible to searches; on failure
    /// the pending operations are rolled back.
    fn commit(&self, writer: &mut IndexWriter) -> Result<(), EngineError> {
        if let Err(error) = writer.commit() {
            let _ = writer.rollback();
            return Err(internal("cannot commit the text index")(error));
        }
        self.reader
            .reload()
            .map_err(internal("cannot reload the index reader"))
    }

    fn to_tantivy(&self, doc: &Document) -> TantivyDocument {
        let f = &self.fields;
        let mut out = TantivyDocument::default();
        out.add_text(f.id, &doc.id);
        out.add_text(f.title, &doc.title);
        out.add_text(f.content, &doc.content);
        out.add_text(f.text, &doc.title);
        out.add_text(f.text, &doc.content);
        let fields = &doc.fields;
        if let Some(name) = &fields.name {
            out.add_text(f.name, name);
        }
        for skill in &fields.skills {
            out.add_text(f.skills, skill);
            out.add_text(f.skills_text, skill);
        }
        for keyword in &fields.keywords {
            out.add_text(f.keywords, keyword);
        }
        for (field, value) in [
            (f.city, &fields.city),
            (f.degree, &fields.degree),
            (f.status, &fields.status),
            (f.job_family, &fields.job_family),
        ] {
            if let Some(value) = value {
                out.add_text(field, value);
            }
        }
        let low = fields.salary_min.or(fields.salary_max);
        let high = fields.salary_max.or(fields.salary_min);
        for (field, value) in [
            (f.years, fields.years),
            (f.salary_min, fields.salary_min),
            (f.salary_max, fields.salary_max),
            (f.salary_low, low),
            (f.salary_high, high),
        ] {
            if let Some(value) = value.filter(|v| v.is_finite()) {
                out.add_f64(field, value);
            }
        }
        out.add_text(f.metadata, doc.metadata.to_string());
        out.add_text(
            f.fields_json,
            serde_json::to_string(&doc.fields).unwrap_or_default(),
        );
        out
    }

    fn stored_document(&self, doc: &TantivyDocument) -> StoredDocument {
        StoredFields::from(&self.fields).read(doc)
    }

    fn upsert(&self, docs: &[&Document]) -> Result<(), EngineError> {
        let mut writer = self.lock_writer()?;
        for doc in docs {
            writer.delete_term(Term::from_field_text(self.fields.id, &doc.id));
            writer
                .add_document(self.to_tantivy(doc))
                .map_err(internal("cannot add a document"))?;
        }
        self.commit(&mut writer)?;
        // Short lock holds, so suggestions keep answering during a large batch.
        for chunk in docs.chunks(SUGGESTION_UPDATE_CHUNK) {
            let mut table = self.write_suggestions()?;
            for doc in chunk {
                let source = SuggestionSource::new(
                    &doc.title,
                    &doc.fields.skills,
                    doc.fields.name.as_deref(),
                );
                table.put(&doc.id, source);
            }
        }
        Ok(())
    }

    fn delete(&self, ids: &[String]) -> Result<(), EngineError> {
        let mut writer = self.lock_writer()?;
        for id in ids {
            writer.delete_term(Term::from_field_text(self.fields.id, id));
        }
        self.commit(&mut writer)?;
        let mut table = self.write_suggestions()?;
        for id in ids {
            table.remove(id);
        }
        Ok(())
    }

    fn clear(&self) -> Result<(), EngineError> {
        let mut writer = self.lock_writer()?;
        writer
            .delete_all_documents()
            .map_err(internal("cannot clear the collection"))?;
        self.commit(&mut writer)?;
        self.write_suggestions()?.clear();
        Ok(())
    }

    fn search(
        &self,
        segmenter: &Segmenter,
        query: &TextQuery,
        title_boost: f32,
    ) -> Result<TextResults, EngineError> {
        if query.limit > MAX_LIMIT {
            return Err(EngineError::InvalidQuery(format!(
                "limit must be at most {MAX_LIMIT}"
            )));
        }
        if query.offset > MAX_OFFSET {
            return Err(EngineError::InvalidQuery(format!(
                "offset must be at most {MAX_OFFSET}; narrow the query instead of paging further"
            )));
        }
        let searcher = self.reader.searcher();
        let text_query = TextQueryBuilder {
            fields: &self.fields,
            searcher: &searcher,
            analyzer: segmenter.analyzer(SegmentMode::Query),
            fuzzy: query.fuzzy,
            names: query.names,
            title_boost,
            fuzzy_words: std::cell::Cell::new(0),
        }
        .build(&query.query)?;
        let full_query: Box<dyn Query> =
            match filter_query(&query.filters, &query.only_ids, &self.fields) {
                Some(filter) => Box::new(BooleanQuery::new(vec![
                    (Occur::Must, text_query.box_clone()),
                    (Occur::Must, filter),
                ])),
                None => text_query.box_clone(),
            };
        let mut facet_fields = query.facets.clone();
        facet_fields.dedup();
        // Equal scores are common on short documents; ordering them by id keeps the ranking
        // (and every page of it) the same whatever segments the documents landed in.
        let top = TopDocs::with_limit(query.limit.max(1))
            .and_offset(query.offset)
            .order_by((
                (SortBySimilarityScore, Order::Desc),
                (SortByString::for_field(ID_FIELD), Order::Asc),
            ));
        let (top_docs, total, facets) = searcher
            .search(
                &*full_query,
                &(
                    top,
                    Count,
                    FacetCounter {
                        fields: facet_fields,
                    },
                ),
            )
            .map_err(internal("search failed"))?;
        let renderer = HitRenderer::new(&searcher, &*text_query, &self.fields, query.highlight)?;
        let mut hits = Vec::with_capacity(query.limit);
        for ((score, _), address) in top_docs.into_iter().take(query.limit) {
            let doc: TantivyDocument = searcher
                .doc(address)
                .map_err(internal("cannot read a hit"))?;
            hits.push(renderer.render(score, &self.stored_document(&doc)));
        }
        Ok(TextResults {
            hits,
            total: total as u64,
            facets,
        })
    }

    fn get(&self, ids: &[String]) -> Result<Vec<StoredDocument>, EngineError> {
        let searcher = self.reader.searcher();
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let by_id = TermQuery::new(
                Term::from_field_text(self.fields.id, id),
                IndexRecordOption::Basic,
            );
            let top = searcher
                .search(&by_id, &TopDocs::with_limit(1).order_by_score())
                .map_err(internal("lookup by id failed"))?;
            if let Some((_, address)) = top.first() {
                let doc: TantivyDocument = searcher
                    .doc(*address)
                    .map_err(internal("cannot read a document"))?;
                found.push(self.stored_document(&doc));
            }
        }
        Ok(found)
    }
}

/// Builds hits from stored documents: the snippet and, when asked, highlighted fragments.
struct HitRenderer {
    title: Option<SnippetGenerator>,
    content: Option<SnippetGenerator>,
    snippet: SnippetGenerator,
}

impl HitRenderer {
    fn new(
        searcher: &Searcher,
        query: &dyn Query,
        fields: &SchemaFields,
        highlight: bool,
    ) -> Result<HitRenderer, EngineError> {
        let generator = |field: Field, chars: usize| {
            let mut generator = SnippetGenerator::create(searcher, query, field)
                .map_err(internal("cannot prepare highlights"))?;
            generator.set_max_num_chars(chars);
            Ok::<_, EngineError>(generator)
        };
        Ok(HitRenderer {
            title: highlight
                .then(|| generator(fields.title, HIGHLIGHT_CHARS))
                .transpose()?,
            content: highlight
                .then(|| generator(fields.content, HIGHLIGHT_CHARS))
                .transpose()?,
            snippet: generator(fields.content, SNIPPET_CHARS)?,
        })
    }

    fn render(&self, score: f32, doc: &StoredDocument) -> TextHit {
        let mut highlights = Vec::new();
        for (name, generator, text) in [
            ("title", &self.title, &doc.title),
            ("content", &self.content, &doc.content),
        ] {
            let Some(generator) = generator else {
                continue;
            };
            let snippet = generator.snippet(text);
            if snippet.is_empty() {
                continue;
            }
            highlights.push(Highlight {
                field: name.to_string(),
                fragment: highlighted_html(text, &snippet, HIGHLIGHT_CHARS),
            });
        }
        let excerpt = self.snippet.snippet(&doc.content);
        let snippet = if excerpt.is_empty() {
            leading_chars(&doc.content, SNIPPET_CHARS)
        } else {
            excerpt.fragment().trim().to_string()
        };
        TextHit {
            id: doc.id.clone(),
            score,
            title: doc.title.clone(),
            snippet,
            highlights,
            metadata: doc.metadata.clone(),
        }
    }
}

/// The snippet's fragment as HTML with matches in `<em>`; a text short enough to show whole is
/// shown whole (tantivy's fragment stops at the last token, dropping trailing punctuation).
fn highlighted_html(text: &str, snippet: &Snippet, max_chars: usize) -> String {
    let fragment_start = snippet.fragment_range().start;
    let (window_start, window_end) = if text.chars().count() <= max_chars {
        (0, text.len())
    } else {
        let range = snippet.fragment_range();
        (range.start, range.end)
    };
    let mut html = String::with_capacity(text.len() + 32);
    let mut cursor = window_start;
    let mut ranges: Vec<(usize, usize)> = snippet
        .highlighted()
        .iter()
        .map(|r| (r.start + fragment_start, r.end + fragment_start))
        .collect();
    ranges.sort();
    // Adjacent matches (机器 + 学习) read better as one.
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    for (start, end) in merged {
        if start < cursor || end > window_end {
            continue;
        }
        escape_into(&mut html, &text[cursor..start]);
        html.push_str("<em>");
        escape_into(&mut html, &text[start..end]);
        html.push_str("</em>");
        cursor = end;
    }
    escape_into(&mut html, &text[cursor..window_end]);
    html
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
}

fn leading_chars(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((end, _)) => text[..end].trim_end().to_string(),
        None => text.trim_end().to_string(),
    }
}

/// Every document must belong to `collection` (a staged version holds one collection).
fn check_collection(collection: Collection, docs: &[Document]) -> Result<(), EngineError> {
    match docs.iter().find(|doc| doc.collection != collection) {
        Some(doc) => Err(EngineError::InvalidQuery(format!(
            "document {:?} belongs to {}, not to the version of {} being written",
            doc.id,
            doc.collection.as_str(),
            collection.as_str()
        ))),
        None => Ok(()),
    }
}

fn check_ids(docs: &[Document]) -> Result<(), EngineError> {
    match docs.iter().find(|doc| doc.id.trim().is_empty()) {
        Some(doc) => Err(EngineError::InvalidQuery(format!(
            "a document titled {:?} has an empty id",
            doc.title
        ))),
        None => Ok(()),
    }
}

#[async_trait]
impl TextIndex for TantivyTextIndex {
    fn backend(&self) -> &'static str {
        "tantivy"
    }

    async fn upsert(&self, docs: &[Document]) -> Result<(), EngineError> {
        check_ids(docs)?;
        let docs = docs.to_vec();
        self.run(move |engine| {
            for collection in Collection::ALL {
                let batch: Vec<&Document> =
                    docs.iter().filter(|d| d.collection == collection).collect();
                if !batch.is_empty() {
                    engine
                        .collection(collection)?
                        .live_for_write()?
                        .upsert(&batch)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn delete(&self, collection: Collection, ids: &[String]) -> Result<(), EngineError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.run(move |engine| {
            engine
                .collection(collection)?
                .live_for_write()?
                .delete(&ids)
        })
        .await
    }

    async fn clear(&self, collection: Collection) -> Result<(), EngineError> {
        self.run(move |engine| engine.collection(collection)?.live_for_write()?.clear())
            .await
    }

    async fn search(&self, query: &TextQuery) -> Result<TextResults, EngineError> {
        let query = query.clone();
        let title_boost = self.title_boost;
        self.run(move |engine| {
            engine.collection(query.collection)?.live()?.search(
                &engine.segmenter,
                &query,
                title_boost,
            )
        })
        .await
    }

    async fn suggest(&self, query: &SuggestQuery) -> Result<Vec<Suggestion>, EngineError> {
        if query.limit > MAX_SUGGESTIONS {
            return Err(EngineError::InvalidQuery(format!(
                "at most {MAX_SUGGESTIONS} suggestions can be asked for"
            )));
        }
        // A lookup takes microseconds: no need to leave the async thread.
        let collection = self.engine.collection(query.collection)?.live()?;
        let table = collection
            .suggestions
            .read()
            .map_err(|_| EngineError::Internal("the suggestion table lock is poisoned".into()))?;
        Ok(table.suggest(&query.prefix, &query.kinds, query.limit))
    }

    async fn get(
        &self,
        collection: Collection,
        ids: &[String],
    ) -> Result<Vec<StoredDocument>, EngineError> {
        let ids = ids.to_vec();
        self.run(move |engine| engine.collection(collection)?.live()?.get(&ids))
            .await
    }

    async fn count(&self, collection: Collection) -> Result<u64, EngineError> {
        let collection = self.engine.collection(collection)?.live()?;
        Ok(collection.reader.searcher().num_docs())
    }

    async fn begin_version(&self, collection: Collection) -> Result<u64, EngineError> {
        self.run(move |engine| engine.collection(collection)?.begin())
            .await
    }

    async fn upsert_version(
        &self,
        collection: Collection,
        version: u64,
        docs: &[Document],
    ) -> Result<(), EngineError> {
        check_ids(docs)?;
        check_collection(collection, docs)?;
        if docs.is_empty() {
            return Ok(());
        }
        let docs = docs.to_vec();
        self.run(move |engine| {
            let batch: Vec<&Document> = docs.iter().collect();
            engine
                .collection(collection)?
                .staged(version)?
                .upsert(&batch)
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
            if ids.is_empty() {
                return Ok(());
            }
            staged.delete(&ids)
        })
        .await
    }

    async fn commit_version(
        &self,
        collection: Collection,
        version: u64,
    ) -> Result<(), EngineError> {
        // Every write to the staged version was committed when it returned.
        self.run(move |engine| engine.collection(collection)?.commit(version, |_| Ok(())))
            .await
    }

    async fn abort_version(&self, collection: Collection, version: u64) -> Result<(), EngineError> {
        self.run(move |engine| engine.collection(collection)?.abort(version))
            .await
    }
}
