//! Fuzz entry points: one function per target, taking arbitrary bytes and driving them through
//! the same public functions production uses. An `Err` is a correct answer to bad input; a
//! panic, a hang or runaway memory is a bug.
//!
//! The functions are shared by the cargo-fuzz crate in `fuzz/` (one `fuzz_targets/<name>.rs`
//! each, run by `scripts/fuzz`) and by `tests/corpora.rs`, which replays the committed corpora
//! in CI without running a fuzzer. Each target's state (the parsed supergraph, the search
//! index) is built once per process. Nothing here does network or file I/O.

use looma_extract::format::{DocumentFormat, detect_format};
use looma_extract::{ExtractLimits, extract_text};
use looma_resume::domain::parse::{parse_profile, prepare_text};
use looma_resume::domain::profile::YearMonth;
use looma_router::RouterConfig;
use looma_router::pipeline::{LoadedSupergraph, prepare};
use looma_router::plan::describe_fetch;
use looma_router::supergraph::Supergraph;
use looma_search::domain::{fusion, validate};
use looma_search_engine::embedded::TantivyTextIndex;
use looma_search_engine::{
    Collection, Document, DocumentFields, EngineError, FacetField, Filters, SuggestQuery,
    SuggestionKind, TextIndex, TextQuery,
};
use std::hint::black_box;
use std::sync::LazyLock;

/// A fuzz entry point: any bytes are a valid call.
pub type FuzzTarget = fn(&[u8]);

/// The targets by name, as `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/` spell them.
pub const TARGETS: &[(&str, FuzzTarget)] = &[
    ("router_request", router_request),
    ("resume_pdf", resume_pdf),
    ("resume_docx", resume_docx),
    ("resume_html", resume_html),
    ("resume_text", resume_text),
    ("search_query", search_query),
];

/// The committed supergraph of the default deployment, the one `looma dev` serves.
const SUPERGRAPH_SDL: &str = include_str!("../../../schema/supergraph.graphql");

/// Separates the operation text from an operation name in a `router_request` input.
pub const OPERATION_NAME_SEPARATOR: char = '\0';

static SUPERGRAPH: LazyLock<LoadedSupergraph> = LazyLock::new(|| {
    let supergraph =
        Supergraph::parse(SUPERGRAPH_SDL).expect("schema/supergraph.graphql is a valid supergraph");
    // No plan cache: every input is prepared from scratch, so a replay sees what the fuzzer saw.
    LoadedSupergraph::new(supergraph, 0)
});

static ROUTER_CONFIG: LazyLock<RouterConfig> = LazyLock::new(RouterConfig::default);

/// Parse → validate → limits → normalise → plan, then render the plan as `looma plan` does.
///
/// The input is UTF-8 operation text, optionally followed by [`OPERATION_NAME_SEPARATOR`] and
/// the operation name to run.
pub fn router_request(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (query, operation_name) = match text.split_once(OPERATION_NAME_SEPARATOR) {
        Some((query, name)) => (query, Some(name)),
        None => (text, None),
    };
    if let Ok(prepared) = prepare(&SUPERGRAPH, &ROUTER_CONFIG, query, operation_name) {
        for fetch in &prepared.plan.fetches {
            black_box(describe_fetch(fetch));
        }
    }
}

/// The resume worker's fixed clock, so that parsing is deterministic.
const AS_OF: YearMonth = YearMonth {
    year: 2026,
    month: Some(5),
};

/// What the resume worker does with stored bytes of a known format: extract the text and, when
/// it is readable, parse it into a profile.
fn resume_document(data: &[u8], format: DocumentFormat, filename: &str) {
    black_box(detect_format(data, filename).ok());
    // No OCR: a fuzzer should not spend its time in a subprocess.
    let limits = ExtractLimits::new(
        looma_resume::ResumeConfig::default().max_docx_decompressed_bytes,
        false,
    );
    if let Ok(extracted) = extract_text(data, format, limits) {
        let text = prepare_text(&extracted.text);
        black_box(parse_profile(&text, AS_OF));
    }
}

/// PDF: the pdf-extract → lopdf → UCS-2 CMap chain, then parsing.
pub fn resume_pdf(data: &[u8]) {
    resume_document(data, DocumentFormat::Pdf, "resume.pdf");
}

/// For the `resume_pdf` fuzzer: keeps libFuzzer's panic hook from aborting on panics that
/// production catches. The PDF extractor runs pdf-extract inside `catch_unwind` (it panics on
/// many real PDFs) and falls back to lopdf; such a panic is an expected answer, not a crash, even
/// when it is raised in one of pdf-extract's dependencies. Every other panic still aborts.
///
/// Call it once, after libFuzzer installed its hook (the `init:` block of `fuzz_target!`).
pub fn tolerate_panics_caught_around_pdf_extract() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let backtrace = std::backtrace::Backtrace::force_capture().to_string();
        if !backtrace.contains("pdf_extract::") {
            previous(info);
        }
    }));
}

/// DOCX: zip + `word/document.xml` under the decompression limit, then parsing.
///
/// Bytes that are not a zip are taken as the XML of `word/document.xml` and stored in a valid
/// container first: mutations inside a real container almost always break its CRC, so the XML
/// reader would otherwise never see fuzzed markup.
pub fn resume_docx(data: &[u8]) {
    if data.starts_with(b"PK") {
        resume_document(data, DocumentFormat::Docx, "resume.docx");
    } else if let Some(container) = docx_containing(data) {
        resume_document(&container, DocumentFormat::Docx, "resume.docx");
    }
}

/// A minimal DOCX whose `word/document.xml` holds `xml`, stored uncompressed.
fn docx_containing(xml: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    writer.start_file("word/document.xml", options).ok()?;
    writer.write_all(xml).ok()?;
    Some(writer.finish().ok()?.into_inner())
}

/// HTML: decoding, markup stripping and entities, then parsing.
pub fn resume_html(data: &[u8]) {
    resume_document(data, DocumentFormat::Html, "resume.html");
}

/// Plain text and Markdown: decoding (BOMs, UTF-8, GB18030) and markup, then parsing.
pub fn resume_text(data: &[u8]) {
    resume_document(data, DocumentFormat::Txt, "resume.txt");
    resume_document(data, DocumentFormat::Markdown, "resume.md");
}

/// An in-memory text index holding a few bilingual documents, with the runtime it runs on.
struct SearchFixture {
    runtime: tokio::runtime::Runtime,
    index: TantivyTextIndex,
}

static SEARCH: LazyLock<SearchFixture> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let index = TantivyTextIndex::in_memory().expect("an in-memory text index");
    runtime
        .block_on(index.upsert(&search_documents()))
        .expect("the fixture documents are indexed");
    SearchFixture { runtime, index }
});

fn search_documents() -> Vec<Document> {
    let document = |id: &str, collection, title: &str, content: &str, skills: &[&str]| Document {
        id: id.into(),
        collection,
        title: title.into(),
        content: content.into(),
        fields: DocumentFields {
            skills: skills.iter().map(|s| (*s).to_owned()).collect(),
            city: Some("上海".into()),
            degree: Some("BACHELOR".into()),
            years: Some(5.0),
            salary_min: Some(20_000.0),
            salary_max: Some(35_000.0),
            status: Some("INDEXED".into()),
            name: Some("陈立伟".into()),
            ..DocumentFields::default()
        },
        metadata: serde_json::json!({"source": "fuzz"}),
        vector: None,
    };
    vec![
        document(
            "r-1",
            Collection::Resumes,
            "高级Java后端开发工程师",
            "8年Java服务端研发经验，主导订单系统拆分为Spring Cloud微服务，熟悉JVM调优、MySQL分库分表、Redis缓存。",
            &["Java", "Spring Cloud", "MySQL", "Redis"],
        ),
        document(
            "r-2",
            Collection::Resumes,
            "Senior Data Engineer",
            "Built streaming pipelines on Kafka and Flink; data warehouse modelling, Airflow, \
             Python and SQL. Node.js side projects, C++ and C# exposure.",
            &["Kafka", "Flink", "Python", "SQL"],
        ),
        document(
            "j-1",
            Collection::Jobs,
            "机器学习工程师 Machine Learning Engineer",
            "负责推荐系统与自然语言处理模型的训练与上线，熟悉PyTorch、大模型微调。",
            &["PyTorch", "Machine Learning", "NLP"],
        ),
    ]
}

/// A search box string through the search subgraph's validation and the embedded engine: the
/// text query syntax (tantivy's grammar, our leaves, fuzzy terms), highlighting, and the
/// suggestion lookup. A user's query may be refused, never fail inside the engine.
pub fn search_query(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fixture = &*SEARCH;
    if let Ok(query) = validate::query_text("query", text, validate::MAX_QUERY_CHARS) {
        black_box(fusion::vector_weight_for(&query, 0.5, 0.7));
        for (collection, fuzzy, names) in [
            (Collection::Resumes, true, true),
            (Collection::Jobs, false, false),
        ] {
            let request = TextQuery {
                collection,
                query: query.clone(),
                filters: Filters::default(),
                facets: vec![FacetField::Skills, FacetField::City],
                limit: 10,
                offset: 0,
                fuzzy,
                highlight: true,
                only_ids: Vec::new(),
                names,
            };
            match fixture.runtime.block_on(fixture.index.search(&request)) {
                Ok(results) => {
                    black_box(results);
                }
                Err(EngineError::InvalidQuery(_)) => {}
                Err(other) => panic!("the query {query:?} failed inside the engine: {other}"),
            }
        }
    }
    if let Ok(prefix) = validate::query_text("prefix", text, validate::MAX_PREFIX_CHARS) {
        let request = SuggestQuery {
            collection: Collection::Resumes,
            prefix,
            limit: 10,
            kinds: vec![
                SuggestionKind::Title,
                SuggestionKind::Skill,
                SuggestionKind::Name,
            ],
        };
        black_box(
            fixture
                .runtime
                .block_on(fixture.index.suggest(&request))
                .ok(),
        );
    }
}
