//! Timing prints for load and extraction (numbers go in the closing note, not in assertions
//! beyond a generous sanity bound). Run: `cargo test -p looma-taxonomy --release --test perf -- --nocapture`.

use std::time::Instant;

use looma_taxonomy::{Segmenter, SkillTaxonomy};

const RESUME_PAGE: &str = "张三 | 高级后端开发工程师 | 电话：13800138000 | 邮箱：zhangsan@example.com\n\
教育经历：2012.09-2016.06 北京航空航天大学 计算机科学与技术 本科\n\
工作经历：2019.03-至今 某互联网公司 高级后端开发工程师\n\
负责订单系统的微服务改造，使用Java、Spring Boot、MyBatis开发，数据存储采用MySQL和Redis，消息队列使用Kafka，搜索基于ES；\
服务部署在k8s集群上，通过Jenkins实现持续集成。主导性能优化，接口P99延迟下降40%。\n\
2016.07-2019.02 某金融科技公司 Java开发工程师\n\
参与风控平台建设，使用Python和Pandas进行数据分析，基于Spark和Hive构建离线数仓，Flink实时计算。\n\
Skills: Java, Go, Python, SQL, Docker, Kubernetes, AWS, Terraform, React, TypeScript, GraphQL, PostgreSQL.\n\
Built data pipelines in Python with Pandas and Spark, deployed on AWS using Docker and Kubernetes. \
Led a team of five engineers; strong communication skills; English CET-6, IELTS 7.0.\n";

#[test]
fn load_and_extract_timings() {
    let started = Instant::now();
    let taxonomy = SkillTaxonomy::builtin();
    let load = started.elapsed();

    let resume = RESUME_PAGE.repeat(3); // roughly two pages
    let rounds = 200;
    let started = Instant::now();
    let mut found = 0;
    for _ in 0..rounds {
        found += taxonomy.extract(&resume).len();
    }
    let per_resume = started.elapsed() / rounds;

    let started = Instant::now();
    let segmenter = Segmenter::builtin();
    let segmenter_load = started.elapsed();
    let started = Instant::now();
    let words = segmenter.cut(&resume).len();
    let cut = started.elapsed();

    println!(
        "SkillTaxonomy::builtin(): {load:?} ({} skills); extract on {} bytes: {per_resume:?} per call ({} skills); \
         Segmenter::builtin(): {segmenter_load:?}; cut: {cut:?} ({words} words)",
        taxonomy.len(),
        resume.len(),
        found / rounds as usize
    );
    assert!(found > 0);
}
