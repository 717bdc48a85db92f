//! Throughput and latency of the embedded engines on generated bilingual resumes and jobs.
//!
//! Run: `cargo bench -p looma-search-engine` (documents: `LOOMA_BENCH_DOCS`, default 100000;
//! queries per kind: `LOOMA_BENCH_QUERIES`, default 300). Prints one table; numbers are for the
//! closing note, nothing is asserted.

use std::time::{Duration, Instant};

use looma_search_engine::embedded::{AnnVectorIndex, TantivyTextIndex};
use looma_search_engine::{
    Collection, Document, DocumentFields, FacetField, Filters, Metric, SuggestQuery,
    SuggestionKind, TextIndex, TextQuery, VectorIndex, VectorPoint, VectorQuery,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const DIMENSION: usize = 384;
const BATCH: usize = 5_000;

const SKILLS: &[&str] = &[
    "Java",
    "Python",
    "Go",
    "Rust",
    "Kubernetes",
    "Docker",
    "Spring",
    "React",
    "Vue",
    "MySQL",
    "PostgreSQL",
    "Redis",
    "Kafka",
    "Spark",
    "Flink",
    "TensorFlow",
    "PyTorch",
    "机器学习",
    "深度学习",
    "自然语言处理",
    "数据分析",
    "产品设计",
    "项目管理",
    "微服务",
    "分布式系统",
    "前端开发",
    "后端开发",
    "测试",
    "运维",
    "Linux",
    "AWS",
    "Elasticsearch",
    "GraphQL",
    "TypeScript",
    "Node.js",
    "C++",
    "算法",
    "推荐系统",
    "大数据",
    "Hadoop",
];
const CITIES: &[&str] = &[
    "北京",
    "上海",
    "深圳",
    "杭州",
    "广州",
    "成都",
    "南京",
    "武汉",
    "Singapore",
    "Remote",
];
const DEGREES: &[&str] = &[
    "HIGH_SCHOOL",
    "ASSOCIATE",
    "BACHELOR",
    "MASTER",
    "DOCTORATE",
];
const ZH_TITLES: &[&str] = &[
    "高级后端开发工程师",
    "Java开发工程师",
    "机器学习工程师",
    "算法工程师",
    "前端开发工程师",
    "数据分析师",
    "产品经理",
    "测试工程师",
    "运维工程师",
    "技术总监",
    "大数据开发工程师",
    "推荐算法专家",
];
const EN_TITLES: &[&str] = &[
    "Senior Backend Engineer",
    "Java Developer",
    "Machine Learning Engineer",
    "Data Scientist",
    "Frontend Developer",
    "Product Manager",
    "QA Engineer",
    "Site Reliability Engineer",
    "Engineering Manager",
    "Data Engineer",
    "Full Stack Developer",
    "Platform Engineer",
];
const ZH_SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const ZH_GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "涛", "明",
];
const EN_FIRST: &[&str] = &[
    "James", "Mary", "John", "Linda", "David", "Susan", "Michael", "Karen", "Daniel", "Emma",
];
const EN_LAST: &[&str] = &[
    "Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Clark", "Lewis", "Young",
];
const ZH_SENTENCES: &[&str] = &[
    "负责核心业务系统的设计与开发，保障服务高可用。",
    "参与公司推荐系统从零到一的搭建，提升点击率百分之十五。",
    "熟悉分布式系统原理，有大规模高并发系统的实战经验。",
    "主导数据平台建设，搭建实时计算链路。",
    "带领团队完成微服务改造，缩短发布周期。",
    "具备良好的沟通能力和团队合作精神。",
    "对机器学习和深度学习有深入理解，发表过相关论文。",
];
const EN_SENTENCES: &[&str] = &[
    "Designed and operated high-throughput payment services.",
    "Led the migration of a monolith to microservices on Kubernetes.",
    "Built real-time data pipelines processing billions of events per day.",
    "Mentored junior engineers and ran the hiring loop.",
    "Improved search relevance with learning-to-rank models.",
    "Strong communication skills and ownership mindset.",
    "Shipped features end to end, from design docs to production monitoring.",
];

fn pick<'a>(rng: &mut StdRng, list: &[&'a str]) -> &'a str {
    list.choose(rng).copied().unwrap_or_default()
}

fn generate(rng: &mut StdRng, i: usize) -> Document {
    let chinese = rng.gen_bool(0.5);
    let collection = if i.is_multiple_of(3) {
        Collection::Jobs
    } else {
        Collection::Resumes
    };
    let skill_count = rng.gen_range(2..7);
    let mut skills: Vec<String> = Vec::new();
    while skills.len() < skill_count {
        let skill = pick(rng, SKILLS).to_string();
        if !skills.contains(&skill) {
            skills.push(skill);
        }
    }
    let (title, name, sentences) = if chinese {
        (
            pick(rng, ZH_TITLES).to_string(),
            format!("{}{}", pick(rng, ZH_SURNAMES), pick(rng, ZH_GIVEN)),
            ZH_SENTENCES,
        )
    } else {
        (
            pick(rng, EN_TITLES).to_string(),
            format!("{} {}", pick(rng, EN_FIRST), pick(rng, EN_LAST)),
            EN_SENTENCES,
        )
    };
    let mut content = String::new();
    for _ in 0..rng.gen_range(4..10) {
        content.push_str(pick(rng, sentences));
        content.push(' ');
    }
    content.push_str(&skills.join(", "));
    let salary_min = f64::from(rng.gen_range(10..60u32)) * 1000.0;
    Document {
        id: format!("doc-{i}"),
        collection: Collection::Resumes,
        title,
        content,
        fields: DocumentFields {
            skills,
            city: Some(pick(rng, CITIES).to_string()),
            degree: Some(pick(rng, DEGREES).to_string()),
            years: Some(f64::from(rng.gen_range(0..20u32))),
            salary_min: Some(salary_min),
            salary_max: Some(salary_min + 15000.0),
            status: Some(if rng.gen_bool(0.8) { "open" } else { "closed" }.to_string()),
            name: Some(name),
            ..DocumentFields::default()
        },
        metadata: serde_json::json!({ "kind": if collection == Collection::Jobs { "job" } else { "resume" } }),
        vector: None,
    }
}

fn unit_vector(rng: &mut StdRng) -> Vec<f32> {
    let mut v: Vec<f32> = (0..DIMENSION)
        .map(|_| rng.gen_range(-1.0f32..1.0))
        .collect();
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

struct Row {
    name: String,
    samples: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn typo(word: &str, rng: &mut StdRng) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    if chars.len() > 3 {
        let at = rng.gen_range(1..chars.len() - 1);
        chars.remove(at);
    }
    chars.into_iter().collect()
}

fn main() {
    let docs_wanted = env_usize("LOOMA_BENCH_DOCS", 100_000);
    let queries = env_usize("LOOMA_BENCH_QUERIES", 300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = StdRng::seed_from_u64(42);
    let docs: Vec<Document> = (0..docs_wanted).map(|i| generate(&mut rng, i)).collect();
    println!("generated {} documents", docs.len());

    let text = TantivyTextIndex::open(&dir.path().join("text")).expect("text index");
    let started = Instant::now();
    for batch in docs.chunks(BATCH) {
        runtime.block_on(text.upsert(batch)).expect("upsert");
    }
    let text_elapsed = started.elapsed();

    let vectors = AnnVectorIndex::open(&dir.path().join("vectors"), DIMENSION).expect("vectors");
    let points: Vec<VectorPoint> = docs
        .iter()
        .map(|d| VectorPoint {
            id: d.id.clone(),
            vector: unit_vector(&mut rng),
            fields: d.fields.clone(),
        })
        .collect();
    let started = Instant::now();
    for batch in points.chunks(BATCH) {
        runtime
            .block_on(vectors.upsert(Collection::Resumes, batch))
            .expect("vector upsert");
    }
    let vector_elapsed = started.elapsed();

    let mut rows: Vec<Row> = Vec::new();
    let measure = |name: &str, rows: &mut Vec<Row>, run: &mut dyn FnMut(usize)| {
        for warmup in 0..10 {
            run(warmup);
        }
        let mut samples = Vec::with_capacity(queries);
        for i in 0..queries {
            let started = Instant::now();
            run(i);
            samples.push(started.elapsed());
        }
        samples.sort();
        rows.push(Row {
            name: name.to_string(),
            samples,
        });
    };

    let words: Vec<String> = SKILLS
        .iter()
        .chain(ZH_TITLES)
        .chain(EN_TITLES)
        .map(|s| s.to_string())
        .collect();
    let base_query = |q: String| TextQuery {
        collection: Collection::Resumes,
        query: q,
        filters: Filters::default(),
        facets: Vec::new(),
        limit: 10,
        offset: 0,
        fuzzy: false,
        highlight: true,
        only_ids: Vec::new(),
        names: true,
    };
    let mut text_rng = StdRng::seed_from_u64(7);
    let text_queries: Vec<String> = (0..queries + 10)
        .map(|_| {
            let mut q = pick_owned(&mut text_rng, &words);
            if text_rng.gen_bool(0.5) {
                q.push(' ');
                q.push_str(&pick_owned(&mut text_rng, &words));
            }
            q
        })
        .collect();
    measure("text (top 10, highlights)", &mut rows, &mut |i| {
        runtime
            .block_on(text.search(&base_query(text_queries[i].clone())))
            .expect("text search");
    });
    measure("text + filters + facets", &mut rows, &mut |i| {
        let q = TextQuery {
            filters: Filters {
                cities: vec![CITIES[i % CITIES.len()].to_string()],
                min_years: Some(3.0),
                salary_min: Some(20000.0),
                ..Filters::default()
            },
            facets: vec![FacetField::Skills, FacetField::City, FacetField::Degree],
            ..base_query(text_queries[i].clone())
        };
        runtime.block_on(text.search(&q)).expect("filtered search");
    });
    let fuzzy_words: Vec<String> = (0..queries + 10)
        .map(|_| {
            let word = pick_owned(
                &mut text_rng,
                &EN_TITLES.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            );
            word.split(' ')
                .map(|w| typo(w, &mut text_rng))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    measure("fuzzy text", &mut rows, &mut |i| {
        let q = TextQuery {
            fuzzy: true,
            ..base_query(fuzzy_words[i].clone())
        };
        runtime.block_on(text.search(&q)).expect("fuzzy search");
    });
    let prefixes: Vec<String> = (0..queries + 10)
        .map(|i| {
            let word = pick_owned(&mut text_rng, &words);
            let chars: Vec<char> = word.chars().collect();
            let take = (1 + i % 5).min(chars.len());
            let prefix: String = chars[..take].iter().collect();
            if take >= 4 {
                typo(&prefix, &mut text_rng) + "x"
            } else {
                prefix
            }
        })
        .collect();
    measure("suggest", &mut rows, &mut |i| {
        let q = SuggestQuery {
            collection: Collection::Resumes,
            prefix: prefixes[i].clone(),
            limit: 8,
            kinds: vec![
                SuggestionKind::Title,
                SuggestionKind::Skill,
                SuggestionKind::Name,
            ],
        };
        runtime.block_on(text.suggest(&q)).expect("suggest");
    });
    let query_vectors: Vec<Vec<f32>> = (0..queries + 10)
        .map(|_| unit_vector(&mut text_rng))
        .collect();
    for top_k in [10, 50] {
        measure(&format!("vector top {top_k}"), &mut rows, &mut |i| {
            let q = VectorQuery {
                collection: Collection::Resumes,
                vector: query_vectors[i].clone(),
                top_k,
                filters: Filters::default(),
                metric: Metric::Cosine,
            };
            runtime.block_on(vectors.search(&q)).expect("vector search");
        });
    }
    measure("vector top 10, city filter (~10%)", &mut rows, &mut |i| {
        let q = VectorQuery {
            collection: Collection::Resumes,
            vector: query_vectors[i].clone(),
            top_k: 10,
            filters: Filters {
                cities: vec![CITIES[i % CITIES.len()].to_string()],
                ..Filters::default()
            },
            metric: Metric::Cosine,
        };
        runtime
            .block_on(vectors.search(&q))
            .expect("filtered vector search");
    });
    measure(
        "vector top 10, selective filter (~0.5%)",
        &mut rows,
        &mut |i| {
            let q = VectorQuery {
                collection: Collection::Resumes,
                vector: query_vectors[i].clone(),
                top_k: 10,
                filters: Filters {
                    cities: vec![CITIES[i % CITIES.len()].to_string()],
                    degrees: vec!["DOCTORATE".into()],
                    skills_all: vec!["Rust".into()],
                    ..Filters::default()
                },
                metric: Metric::Dot,
            };
            runtime
                .block_on(vectors.search(&q))
                .expect("selective vector search");
        },
    );

    println!();
    println!(
        "indexing: text {:.0} docs/s ({} docs in {:.1} s), vectors {:.0} vectors/s ({:.1} s)",
        docs.len() as f64 / text_elapsed.as_secs_f64(),
        docs.len(),
        text_elapsed.as_secs_f64(),
        docs.len() as f64 / vector_elapsed.as_secs_f64(),
        vector_elapsed.as_secs_f64(),
    );
    println!();
    println!("| query ({queries} each) | p50 ms | p95 ms | p99 ms |");
    println!("|---|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {:.2} | {:.2} | {:.2} |",
            row.name,
            percentile(&row.samples, 0.50),
            percentile(&row.samples, 0.95),
            percentile(&row.samples, 0.99),
        );
    }
    let started = Instant::now();
    drop(vectors);
    println!(
        "\nvector snapshot on shutdown: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let reopened = AnnVectorIndex::open(&dir.path().join("vectors"), DIMENSION).expect("reopen");
    println!(
        "vector index reopen: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    drop(reopened);
    drop(text);
    let started = Instant::now();
    let reopened = TantivyTextIndex::open(&dir.path().join("text")).expect("reopen");
    println!(
        "text index reopen (suggestions rebuilt from stored documents): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    drop(reopened);
}

fn pick_owned(rng: &mut StdRng, list: &[String]) -> String {
    list.choose(rng).cloned().unwrap_or_default()
}
