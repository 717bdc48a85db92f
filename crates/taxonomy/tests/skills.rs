//! Alias resolution, extraction precision on realistic resume text, relatedness.

use std::collections::BTreeSet;

use looma_taxonomy::{SkillSource, SkillTaxonomy};

/// Canonical names other crates' fixtures rely on.
const REQUIRED: &[&str] = &[
    "Java",
    "Python",
    "Go",
    "C++",
    "C",
    "C#",
    "JavaScript",
    "TypeScript",
    "Rust",
    "PHP",
    "Ruby",
    "Kotlin",
    "Swift",
    "Scala",
    "SQL",
    "MySQL",
    "PostgreSQL",
    "Redis",
    "MongoDB",
    "Elasticsearch",
    "Kafka",
    "RabbitMQ",
    "Spring Boot",
    "Spring Cloud",
    "Django",
    "Flask",
    "React",
    "Vue.js",
    "Angular",
    "Node.js",
    "HTML",
    "CSS",
    "Docker",
    "Kubernetes",
    "Linux",
    "Git",
    "AWS",
    "Microsoft Azure",
    "Google Cloud",
    "Terraform",
    "Jenkins",
    "CI/CD",
    "Microservices",
    "RESTful API",
    "GraphQL",
    "Machine Learning",
    "Deep Learning",
    "Natural Language Processing",
    "Computer Vision",
    "TensorFlow",
    "PyTorch",
    "Pandas",
    "NumPy",
    "Spark",
    "Hadoop",
    "Hive",
    "Flink",
    "Data Analysis",
    "Tableau",
    "Excel",
    "Power BI",
    "Product Management",
    "Project Management",
    "Agile",
    "Scrum",
    "UI Design",
    "Figma",
    "Photoshop",
    "Android",
    "iOS",
    "Flutter",
    "Unity",
    "Selenium",
    "Software Testing",
    "Financial Analysis",
    "Accounting",
    "SAP",
    "Salesforce",
    "Marketing",
    "SEO",
    "Sales",
    "Recruiting",
    "Negotiation",
    "English",
    "Japanese",
    "Communication",
    "Team Leadership",
    "Nginx",
    "Oracle Database",
];

fn taxonomy() -> &'static SkillTaxonomy {
    SkillTaxonomy::builtin()
}

fn extracted(text: &str) -> Vec<String> {
    taxonomy()
        .extract(text)
        .into_iter()
        .map(|m| m.skill.name.clone())
        .collect()
}

fn extracted_set(text: &str) -> BTreeSet<String> {
    extracted(text).into_iter().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_required_canonical_name_exists_with_exact_spelling() {
    for name in REQUIRED {
        let skill = taxonomy()
            .get(name)
            .unwrap_or_else(|| panic!("missing {name}"));
        assert_eq!(&skill.name, name);
        assert_eq!(skill.source, SkillSource::Curated);
        assert_eq!(
            taxonomy().get(&name.to_lowercase()).map(|s| &s.name),
            Some(&skill.name)
        );
    }
}

#[test]
fn curated_table_is_the_promised_size_and_consistent() {
    let curated: Vec<_> = taxonomy()
        .skills()
        .filter(|s| s.source == SkillSource::Curated)
        .collect();
    assert!(
        curated.len() >= 300,
        "only {} curated skills",
        curated.len()
    );
    let ids: BTreeSet<_> = taxonomy().skills().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), taxonomy().len(), "skill ids must be unique");
    for skill in &curated {
        for related in &skill.related {
            assert!(
                taxonomy().get(related).is_some(),
                "{} relates to unknown {related}",
                skill.name
            );
        }
        assert!(!skill.category.is_empty());
    }
    assert!(taxonomy().skills().any(|s| s.source == SkillSource::Esco));
    assert!(
        taxonomy()
            .skills()
            .any(|s| s.source == SkillSource::SkillExtractor)
    );
}

#[test]
fn aliases_resolve_to_canonical_names() {
    let cases = [
        ("k8s", "Kubernetes"),
        ("K8S", "Kubernetes"),
        ("JS", "JavaScript"),
        ("js", "JavaScript"),
        ("TS", "TypeScript"),
        ("golang", "Go"),
        ("Postgres", "PostgreSQL"),
        ("ES", "Elasticsearch"),
        ("SpringBoot", "Spring Boot"),
        ("Vue", "Vue.js"),
        ("VueJS", "Vue.js"),
        ("NodeJS", "Node.js"),
        ("ML", "Machine Learning"),
        ("机器学习", "Machine Learning"),
        ("深度学习", "Deep Learning"),
        ("NLP", "Natural Language Processing"),
        ("自然语言处理", "Natural Language Processing"),
        ("CV", "Computer Vision"),
        ("计算机视觉", "Computer Vision"),
        ("数据分析", "Data Analysis"),
        ("产品管理", "Product Management"),
        ("项目管理", "Project Management"),
        ("敏捷开发", "Agile"),
        ("软件测试", "Software Testing"),
        ("财务分析", "Financial Analysis"),
        ("会计", "Accounting"),
        ("市场营销", "Marketing"),
        ("销售", "Sales"),
        ("招聘", "Recruiting"),
        ("谈判", "Negotiation"),
        ("英语", "English"),
        ("CET-6", "English"),
        ("CET-4", "English"),
        ("IELTS", "English"),
        ("TOEFL", "English"),
        ("日语", "Japanese"),
        ("JLPT N1", "Japanese"),
        ("沟通能力", "Communication"),
        ("团队管理", "Team Leadership"),
        ("团队领导", "Team Leadership"),
        ("微服务", "Microservices"),
        ("持续集成", "CI/CD"),
        ("阿里云", "Alibaba Cloud"),
        ("  Ｐｙｔｈｏｎ  ", "Python"),
        ("c++", "C++"),
        ("c#", "C#"),
    ];
    for (alias, canonical) in cases {
        assert_eq!(
            taxonomy().get(alias).map(|s| s.name.as_str()),
            Some(canonical),
            "alias {alias}"
        );
    }
    assert!(taxonomy().get("no such skill at all").is_none());
    assert_eq!(
        taxonomy()
            .get("Alibaba Cloud")
            .and_then(|s| s.name_zh.as_deref()),
        Some("阿里云")
    );
}

#[test]
fn chinese_resume_paragraph_exact_skill_set() {
    let text = "工作经历：2019.03-至今 某互联网公司 高级后端开发工程师\n\
        负责订单系统的微服务改造，使用Java、Spring Boot、MyBatis开发，数据存储采用MySQL和Redis，\
        消息队列使用Kafka，搜索基于ES；服务部署在k8s集群上，通过Jenkins实现持续集成。\n\
        技能：熟悉Go语言和Python，了解机器学习；英语CET-6，具备良好的沟通能力和团队管理经验。";
    // 后端开发 inside the job title is a skill mention too.
    let expected = set(&[
        "Backend Development",
        "Microservices",
        "Java",
        "Spring Boot",
        "MyBatis",
        "MySQL",
        "Redis",
        "Kafka",
        "Elasticsearch",
        "Kubernetes",
        "Jenkins",
        "CI/CD",
        "Go",
        "Python",
        "Machine Learning",
        "English",
        "Communication",
        "Team Leadership",
        "Message Queue",
    ]);
    assert_eq!(extracted_set(text), expected, "got {:?}", extracted(text));
}

#[test]
fn english_resume_paragraph_exact_skill_set() {
    let text = "Senior Software Engineer, 2018 - present. Built data pipelines in Python with Pandas and Spark, \
        deployed on AWS using Docker and Kubernetes. Developed a React and TypeScript front end backed by a \
        GraphQL API and PostgreSQL. I am going to go further: I excel at mentoring and led a team of five; \
        strong communication skills. Tools: Git, Jira, Tableau.";
    let expected = set(&[
        "Python",
        "Pandas",
        "Spark",
        "AWS",
        "Docker",
        "Kubernetes",
        "React",
        "TypeScript",
        "GraphQL",
        "PostgreSQL",
        "Coaching",
        "Communication",
        "Git",
        "Jira",
        "Tableau",
    ]);
    assert_eq!(extracted_set(text), expected, "got {:?}", extracted(text));
}

#[test]
fn negative_cases_do_not_fire() {
    assert!(extracted("I am going to go to the store").is_empty());
    assert_eq!(extracted("JavaScript"), vec!["JavaScript"]);
    assert!(
        !extracted("Modern JavaScript (ES6+) and ES2015 modules")
            .contains(&"Elasticsearch".to_string())
    );
    assert!(!extracted("ES6").contains(&"Elasticsearch".to_string()));
    assert!(extracted("The grade was C and the plan was R").is_empty());
    assert!(extracted("Let's go over the spring schedule and react to feedback").is_empty());
}

#[test]
fn matches_are_deduplicated_in_order_of_first_appearance() {
    assert_eq!(
        extracted("k8s, Python, Kubernetes, python3"),
        vec!["Kubernetes", "Python"]
    );
    let found = taxonomy().extract("熟悉 Kubernetes");
    assert_eq!(
        (found[0].start, found[0].end),
        ("熟悉 ".len(), "熟悉 Kubernetes".len())
    );
}

#[test]
fn relatedness_is_symmetric_and_graded() {
    let t = taxonomy();
    assert_eq!(t.relatedness("k8s", "Kubernetes"), 1.0);
    assert_eq!(t.relatedness("Docker", "Kubernetes"), 0.5);
    assert_eq!(t.relatedness("MySQL", "PostgreSQL"), 0.5);
    assert_eq!(t.relatedness("Java", "Photoshop"), 0.0);
    assert_eq!(t.relatedness("Java", "not a skill"), 0.0);
    let names: Vec<&str> = t
        .skills()
        .filter(|s| s.source == SkillSource::Curated)
        .map(|s| s.name.as_str())
        .collect();
    for a in names.iter().step_by(7) {
        for b in names.iter().step_by(11) {
            assert_eq!(t.relatedness(a, b), t.relatedness(b, a), "{a} vs {b}");
        }
    }
}
