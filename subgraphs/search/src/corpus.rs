//! Generated, realistic bilingual documents for benchmarks: resumes and jobs built from role
//! templates (Chinese and English) and the shared skill taxonomy. Deterministic for a seed.
//!
//! Vectors are synthetic: each role has a random unit centroid and every document's vector is
//! its role's centroid plus noise, so the vector index sees clustered data like real
//! embeddings (embedding 100,000 documents with the real model would take most of an hour on
//! this machine). Query vectors for benchmarks come from the same centroids.

use looma_search_engine::{Collection, Document, DocumentFields};
use looma_taxonomy::SkillTaxonomy;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

struct Role {
    title_en: &'static str,
    title_zh: &'static str,
    skills: &'static [&'static str],
    duties_en: &'static [&'static str],
    duties_zh: &'static [&'static str],
}

const ROLES: &[Role] = &[
    Role {
        title_en: "Backend Engineer",
        title_zh: "后端开发工程师",
        skills: &[
            "Java",
            "Go",
            "Spring Boot",
            "MySQL",
            "Redis",
            "Kafka",
            "Microservices",
            "Docker",
            "gRPC",
            "PostgreSQL",
        ],
        duties_en: &[
            "designed and operated high-traffic order and payment services",
            "split a monolith into microservices with clear ownership",
            "tuned slow SQL queries and added caching in front of the database",
            "built message-driven pipelines for inventory updates",
        ],
        duties_zh: &[
            "负责订单与支付系统的设计和开发，支撑日均千万级请求",
            "主导单体应用向微服务架构的拆分",
            "优化慢查询并引入缓存，接口延迟降低一半",
            "基于消息队列搭建库存同步链路",
        ],
    },
    Role {
        title_en: "Frontend Engineer",
        title_zh: "前端开发工程师",
        skills: &[
            "JavaScript",
            "TypeScript",
            "React",
            "Vue.js",
            "HTML",
            "CSS",
            "Webpack",
            "Node.js",
        ],
        duties_en: &[
            "built a component library used by six product teams",
            "rewrote the checkout flow as a single-page application",
            "improved first paint time through code splitting and caching",
            "led the migration from JavaScript to TypeScript",
        ],
        duties_zh: &[
            "搭建公司级组件库，服务六个业务团队",
            "重构下单流程为单页应用",
            "通过代码分割与缓存优化首屏加载时间",
            "推动项目从JavaScript迁移到TypeScript",
        ],
    },
    Role {
        title_en: "Machine Learning Engineer",
        title_zh: "机器学习工程师",
        skills: &[
            "Python",
            "Machine Learning",
            "Deep Learning",
            "PyTorch",
            "TensorFlow",
            "Natural Language Processing",
            "Recommender Systems",
            "Spark",
        ],
        duties_en: &[
            "trained ranking models for the home-page recommendation feed",
            "deployed NLP models for intent classification in customer service",
            "built feature pipelines and offline evaluation for click-through prediction",
            "reduced model serving latency with quantisation",
        ],
        duties_zh: &[
            "负责首页推荐排序模型的训练与上线",
            "搭建客服意图识别的自然语言处理模型",
            "建设点击率预估的特征工程与离线评估体系",
            "通过模型量化降低线上推理延迟",
        ],
    },
    Role {
        title_en: "Data Engineer",
        title_zh: "大数据开发工程师",
        skills: &[
            "Spark", "Flink", "Kafka", "Hadoop", "Hive", "SQL", "Python", "Scala",
        ],
        duties_en: &[
            "built real-time data pipelines on streaming infrastructure",
            "designed the data warehouse layers and governance rules",
            "cut nightly batch runtime from six hours to ninety minutes",
            "maintained the company's Hadoop cluster and job scheduling",
        ],
        duties_zh: &[
            "负责实时数据管道的建设与维护",
            "设计数据仓库分层模型与数据治理规范",
            "将夜间批处理任务耗时从六小时缩短到九十分钟",
            "维护公司Hadoop集群与任务调度平台",
        ],
    },
    Role {
        title_en: "Site Reliability Engineer",
        title_zh: "运维开发工程师",
        skills: &[
            "Kubernetes",
            "Docker",
            "Linux",
            "Prometheus",
            "Terraform",
            "AWS",
            "Ansible",
            "Shell Scripting",
        ],
        duties_en: &[
            "ran the on-call rotation and incident reviews for production",
            "migrated services to Kubernetes with zero downtime",
            "built monitoring dashboards and alerting for all services",
            "automated infrastructure provisioning with code",
        ],
        duties_zh: &[
            "负责线上值班与故障复盘，保障系统稳定性",
            "主导业务容器化并平滑迁移到Kubernetes",
            "搭建全链路监控与告警体系",
            "通过基础设施即代码实现环境自动化交付",
        ],
    },
    Role {
        title_en: "Mobile Developer",
        title_zh: "移动端开发工程师",
        skills: &[
            "iOS",
            "Android",
            "Swift",
            "Kotlin",
            "Flutter",
            "Objective-C",
        ],
        duties_en: &[
            "shipped the shopping app to millions of users on both platforms",
            "reduced crash rate below 0.1 percent",
            "built an offline-first sync layer for the field sales app",
            "introduced a shared Flutter module for new features",
        ],
        duties_zh: &[
            "负责电商App的iOS与Android版本迭代",
            "将崩溃率降低到千分之一以下",
            "为外勤销售App设计离线同步方案",
            "引入Flutter跨端方案开发新功能",
        ],
    },
    Role {
        title_en: "QA Engineer",
        title_zh: "测试开发工程师",
        skills: &[
            "Software Testing",
            "Selenium",
            "Test Automation",
            "Python",
            "Java",
            "JMeter",
        ],
        duties_en: &[
            "built the automated regression suite run on every release",
            "designed performance tests for the payment gateway",
            "introduced contract tests between services",
            "tracked defects and release quality metrics",
        ],
        duties_zh: &[
            "搭建每次发版运行的自动化回归测试体系",
            "设计支付网关的性能压测方案",
            "推动服务间契约测试落地",
            "跟踪缺陷并度量版本质量",
        ],
    },
    Role {
        title_en: "Product Manager",
        title_zh: "产品经理",
        skills: &[
            "Product Management",
            "Axure",
            "Data Analysis",
            "Project Management",
            "User Research",
        ],
        duties_en: &[
            "owned the roadmap of the recruiting SaaS product",
            "ran user interviews and turned findings into requirements",
            "defined metrics and ran A/B tests for onboarding",
            "coordinated design, engineering and sales for launches",
        ],
        duties_zh: &[
            "负责招聘SaaS产品的规划与路线图",
            "组织用户访谈并输出需求文档",
            "制定核心指标并通过A/B测试优化新手引导",
            "协调设计、研发与销售完成产品发布",
        ],
    },
    Role {
        title_en: "Financial Analyst",
        title_zh: "财务分析师",
        skills: &[
            "Financial Analysis",
            "Accounting",
            "Excel",
            "Budgeting",
            "Financial Modeling",
        ],
        duties_en: &[
            "prepared monthly management reports and variance analysis",
            "built the annual budget model with business units",
            "supported audits and tax filings",
            "analysed investment cases and cash flow forecasts",
        ],
        duties_zh: &[
            "编制月度管理报表并进行差异分析",
            "与业务部门共同搭建年度预算模型",
            "配合审计与税务申报工作",
            "分析投资项目与现金流预测",
        ],
    },
    Role {
        title_en: "HR Business Partner",
        title_zh: "人力资源业务伙伴",
        skills: &[
            "Recruitment",
            "Talent Management",
            "Performance Management",
            "Employee Relations",
            "Compensation and Benefits",
        ],
        duties_en: &[
            "hired over a hundred engineers in one year",
            "designed the performance review cycle and calibration",
            "handled employee relations cases and policy updates",
            "built compensation bands with finance",
        ],
        duties_zh: &[
            "一年内完成百余名技术人员的招聘",
            "设计绩效考核周期与校准流程",
            "处理员工关系与制度更新",
            "与财务共同制定薪酬体系",
        ],
    },
];

const COMPANIES_EN: &[&str] = &[
    "Northwind Labs",
    "Bluepeak Systems",
    "Harbor Analytics",
    "Lumen Retail",
    "Quarry Cloud",
    "Atlas Mobility",
    "Cedar Health",
    "Orbit Payments",
];
const COMPANIES_ZH: &[&str] = &[
    "星河科技",
    "云帆网络",
    "青禾数据",
    "远航出行",
    "锦程金融",
    "蓝鲸电商",
    "启明医疗",
    "众合物流",
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
    "ASSOCIATE",
    "BACHELOR",
    "BACHELOR",
    "BACHELOR",
    "MASTER",
    "MASTER",
    "DOCTORATE",
];
const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: &[&str] = &["伟", "芳", "娜", "敏", "静", "磊", "洋", "婷", "杰", "欣怡"];
const FIRST_EN: &[&str] = &[
    "Alex", "Maria", "Daniel", "Priya", "Chen", "Sofia", "Liam", "Aisha",
];
const LAST_EN: &[&str] = &[
    "Walker", "Tan", "Novak", "Kumar", "Lee", "Garcia", "Okafor", "Schmidt",
];

/// A document generator; the same seed yields the same corpus.
pub struct Corpus {
    rng: StdRng,
    centroids: Vec<Vec<f32>>,
    dimension: usize,
}

impl Corpus {
    pub fn new(seed: u64, dimension: usize) -> Corpus {
        let mut rng = StdRng::seed_from_u64(seed);
        let centroids = (0..ROLES.len())
            .map(|_| unit(&mut rng, dimension))
            .collect();
        Corpus {
            rng,
            centroids,
            dimension,
        }
    }

    /// The `i`-th document: four in five are resumes, the rest jobs; half are Chinese.
    pub fn document(&mut self, i: usize) -> Document {
        let role_index = self.rng.gen_range(0..ROLES.len());
        let role = &ROLES[role_index];
        let collection = if i % 5 == 4 {
            Collection::Jobs
        } else {
            Collection::Resumes
        };
        let chinese = self.rng.gen_bool(0.5);
        let rng = &mut self.rng;
        let taxonomy = SkillTaxonomy::builtin();
        let how_many = rng.gen_range(3..=6);
        let mut skills: Vec<String> = role
            .skills
            .choose_multiple(rng, how_many)
            .map(|s| {
                taxonomy
                    .get(s)
                    .map_or_else(|| (*s).to_owned(), |k| k.name.clone())
            })
            .collect();
        skills.sort();
        let years = f64::from(rng.gen_range(0..=15_u8)) + if rng.gen_bool(0.5) { 0.5 } else { 0.0 };
        let senior = years >= 5.0;
        let city = *CITIES.choose(rng).unwrap_or(&"上海");
        let degree = *DEGREES.choose(rng).unwrap_or(&"BACHELOR");
        let (company, duties) = if chinese {
            (
                *COMPANIES_ZH.choose(rng).unwrap_or(&"星河科技"),
                role.duties_zh,
            )
        } else {
            (
                *COMPANIES_EN.choose(rng).unwrap_or(&"Northwind Labs"),
                role.duties_en,
            )
        };
        let picked: Vec<&str> = duties.choose_multiple(rng, 2).copied().collect();
        let skill_list = skills.join(if chinese { "、" } else { ", " });
        let salary_low = 8_000.0 + years * 2_500.0 + f64::from(rng.gen_range(0..8_u8)) * 1_000.0;
        let (title, content, name, status, salary) = match (collection, chinese) {
            (Collection::Jobs, true) => (
                format!("{}{}", if senior { "高级" } else { "" }, role.title_zh),
                format!(
                    "{company}招聘{}，工作地点{city}。岗位职责：{}；{}。任职要求：{}年以上相关经验，熟悉{skill_list}，{}及以上学历。",
                    role.title_zh,
                    picked.first().unwrap_or(&""),
                    picked.get(1).unwrap_or(&""),
                    years.floor(),
                    degree_zh(degree)
                ),
                company.to_owned(),
                "open",
                Some((salary_low, salary_low * 1.6)),
            ),
            (Collection::Jobs, false) => (
                format!("{}{}", if senior { "Senior " } else { "" }, role.title_en),
                format!(
                    "{company} is hiring a {} in {city}. You will have {} and {}. Requirements: {}+ years of experience, hands-on with {skill_list}, {} degree or above.",
                    role.title_en,
                    picked.first().unwrap_or(&""),
                    picked.get(1).unwrap_or(&""),
                    years.floor(),
                    degree.to_lowercase()
                ),
                company.to_owned(),
                "open",
                Some((salary_low, salary_low * 1.6)),
            ),
            (_, true) => {
                let name = format!(
                    "{}{}",
                    SURNAMES.choose(rng).unwrap_or(&"王"),
                    GIVEN.choose(rng).unwrap_or(&"伟")
                );
                (
                    format!("{}{}", if senior { "资深" } else { "" }, role.title_zh),
                    format!(
                        "{years}年{}经验，现就职于{company}，常驻{city}。工作经历：{}；{}。专业技能：{skill_list}。学历：{}。",
                        role.title_zh,
                        picked.first().unwrap_or(&""),
                        picked.get(1).unwrap_or(&""),
                        degree_zh(degree)
                    ),
                    name,
                    "INDEXED",
                    None,
                )
            }
            (_, false) => {
                let name = format!(
                    "{} {}",
                    FIRST_EN.choose(rng).unwrap_or(&"Alex"),
                    LAST_EN.choose(rng).unwrap_or(&"Lee")
                );
                (
                    format!("{}{}", if senior { "Senior " } else { "" }, role.title_en),
                    format!(
                        "{} with {years} years of experience, currently at {company} in {city}. Experience: {} and {}. Skills: {skill_list}. Education: {} degree.",
                        role.title_en,
                        picked.first().unwrap_or(&""),
                        picked.get(1).unwrap_or(&""),
                        degree.to_lowercase()
                    ),
                    name,
                    "INDEXED",
                    None,
                )
            }
        };
        let vector = self.vector_near(role_index, 0.35);
        let id = match collection {
            Collection::Jobs => format!("bench-job-{i}"),
            _ => format!("bench-resume-{i}"),
        };
        Document {
            id,
            collection,
            // Resumes carry what the resume subgraph indexes (matching scores from it).
            metadata: json!({
                "language": if chinese { "zh" } else { "en" },
                "role": role.title_en,
                "skills": skills,
                "totalYears": years,
                "highestDegree": degree,
                "city": city,
            }),
            title,
            content,
            fields: DocumentFields {
                skills,
                city: Some(city.to_owned()),
                degree: Some(degree.to_owned()),
                years: Some(years),
                salary_min: salary.map(|s| s.0),
                salary_max: salary.map(|s| s.1),
                status: Some(status.to_owned()),
                name: Some(name),
                ..DocumentFields::default()
            },
            vector: Some(vector),
        }
    }

    /// A unit vector near a random role's centroid (a query vector for benchmarks).
    pub fn query_vector(&mut self) -> Vec<f32> {
        let role = self.rng.gen_range(0..ROLES.len());
        self.vector_near(role, 0.5)
    }

    /// Queries a recruiter might type, in both languages.
    pub fn text_queries() -> Vec<&'static str> {
        let mut queries: Vec<&'static str> = Vec::new();
        for role in ROLES {
            queries.push(role.title_en);
            queries.push(role.title_zh);
        }
        queries.extend([
            "Java 微服务",
            "Kubernetes on-call",
            "推荐系统 深度学习",
            "\"data warehouse\"",
            "React TypeScript",
            "实时数据 Flink",
            "+Python -Java",
            "performance review",
        ]);
        queries
    }

    fn vector_near(&mut self, role: usize, noise: f32) -> Vec<f32> {
        let dimension = self.dimension;
        let jitter = unit(&mut self.rng, dimension);
        let centroid = &self.centroids[role % self.centroids.len()];
        let mut v: Vec<f32> = centroid
            .iter()
            .zip(jitter)
            .map(|(c, j)| c + noise * j)
            .collect();
        normalize(&mut v);
        v
    }
}

fn degree_zh(code: &str) -> &'static str {
    match code {
        "DOCTORATE" => "博士",
        "MASTER" => "硕士",
        "ASSOCIATE" => "大专",
        "HIGH_SCHOOL" => "高中",
        _ => "本科",
    }
}

fn unit(rng: &mut StdRng, dimension: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dimension).map(|_| rng.gen_range(-1.0..1.0)).collect();
    normalize(&mut v);
    v
}

fn normalize(v: &mut [f32]) {
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    for x in v {
        *x /= norm;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_bilingual_and_well_formed() {
        let mut a = Corpus::new(7, 16);
        let mut b = Corpus::new(7, 16);
        let docs: Vec<Document> = (0..200).map(|i| a.document(i)).collect();
        let again: Vec<Document> = (0..200).map(|i| b.document(i)).collect();
        assert_eq!(docs, again);
        let chinese = docs
            .iter()
            .filter(|d| d.metadata["language"] == "zh")
            .count();
        assert!((60..=140).contains(&chinese), "{chinese} of 200 Chinese");
        assert_eq!(
            docs.iter()
                .filter(|d| d.collection == Collection::Jobs)
                .count(),
            40
        );
        for doc in &docs {
            assert!(!doc.content.is_empty() && !doc.fields.skills.is_empty());
            let v = doc.vector.as_ref().expect("vector");
            let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4);
        }
    }
}
