//! Resume text → [`Profile`]. Pure: no I/O, no clock (the caller passes `as_of`).
//!
//! Steps: NFKC normalisation, ID-number masking, sections, contact, education, experience,
//! skills on the shared taxonomy, keywords, total years.

mod contact;
pub mod dates;
mod entries;
mod lexicon;
pub mod sections;

use crate::domain::pii;
use crate::domain::profile::{Experience, Profile, YearMonth};
use entries::JobReading;
use looma_taxonomy::{EducationLevel, Segmenter, SkillTaxonomy, is_cjk_ideograph, normalize_text};
use sections::{SectionKind, split_sections};

/// Normalised, ID-masked text: what is stored and what the profile is parsed from.
pub fn prepare_text(raw: &str) -> String {
    pii::mask_id_numbers(&normalize_text(raw))
}

/// Parses prepared text (see [`prepare_text`]). `as_of` ends current positions.
pub fn parse_profile(text: &str, as_of: YearMonth) -> Profile {
    let sections = split_sections(text);
    let header: Vec<String> = sections
        .iter()
        .filter(|s| matches!(s.kind, SectionKind::Header | SectionKind::Basic))
        .flat_map(|s| s.lines.iter().cloned())
        .collect();
    let lines_of = |kind: SectionKind| -> Vec<String> {
        sections
            .iter()
            .filter(|s| s.kind == kind)
            .flat_map(|s| s.lines.iter().cloned())
            .collect()
    };
    let education = entries::education(&lines_of(SectionKind::Education));
    // Jobs listed under a heading shared with education are read from those lines too; an
    // entry there naming a school and a degree stays education (`entries::experience`).
    // Sections of jobs and projects keep the jobs; research sections give only positions (an
    // employer and a job title); project sections give none.
    let mut experience = Vec::new();
    let mut job_lines: Vec<String> = Vec::new();
    for section in &sections {
        let reading = match section.kind {
            SectionKind::Experience if section.projects_too => JobReading::SkipProjects,
            SectionKind::Experience => JobReading::All,
            SectionKind::Education if section.jobs_too => JobReading::All,
            SectionKind::Projects if section.research => JobReading::PositionsOnly,
            _ => continue,
        };
        if reading == JobReading::All {
            job_lines.extend(section.lines.iter().cloned());
        } else {
            experience.extend(entries::experience_as(&section.lines, reading));
        }
    }
    experience.splice(0..0, entries::experience(&job_lines));
    if experience.is_empty() {
        // No job section was found: its heading may be hidden (glued to a line of the other
        // column of a PDF) or unusual. Dated entries outside education, skills, projects and
        // activities that name both an employer and a job title are the jobs.
        let elsewhere: Vec<String> = sections
            .iter()
            .filter(|s| {
                matches!(
                    s.kind,
                    SectionKind::Header
                        | SectionKind::Basic
                        | SectionKind::Summary
                        | SectionKind::Certificates
                )
            })
            .flat_map(|s| s.lines.iter().cloned())
            .collect();
        experience = entries::experience_as(&elsewhere, JobReading::PositionsOnly);
    }
    let skills = skills(text);
    let summary_lines = lines_of(SectionKind::Summary);
    let summary = (!summary_lines.is_empty()).then(|| {
        let joined = summary_lines.join(" ");
        joined.chars().take(500).collect::<String>()
    });
    let highest_degree = education
        .iter()
        .filter_map(|e| e.degree.as_deref().and_then(EducationLevel::from_code))
        .max()
        .map(|d| d.code().to_owned());
    let headline = experience
        .iter()
        .find(|e| e.current)
        .or(experience.first())
        .and_then(|e| e.title.clone());
    let keywords = Segmenter::builtin()
        .keywords(text, 12)
        .into_iter()
        .map(|(word, _)| word)
        .collect();
    Profile {
        language: language(text).into(),
        name: contact::name(&header, text),
        email: contact::email(text),
        phone: contact::phone(text),
        city: contact::city(&header, text),
        total_years: total_years(&experience, as_of),
        education,
        experience,
        skills,
        keywords,
        summary,
        highest_degree,
        headline,
        // Set after parsing, from the headline's embedding (`service.rs`).
        job_family: None,
    }
}

/// Skills the resume claims: every taxonomy skill mentioned, except in links and addresses
/// (`github.com/jane` is not Git) and in lists of courses taken (`Relevant Coursework:
/// Operating Systems`, `主修课程`), which say what was studied, not what is claimed.
fn skills(text: &str) -> Vec<String> {
    let claimed = claimed_text(text);
    let mut skills: Vec<String> = Vec::new();
    for found in SkillTaxonomy::builtin().extract(&claimed) {
        if !skills.contains(&found.skill.name) {
            skills.push(found.skill.name.clone());
        }
    }
    skills
}

fn claimed_text(text: &str) -> String {
    const COURSES: &[&str] = &[
        "coursework",
        "relevant coursework",
        "courses",
        "course work",
        "selected courses",
        "主修课程",
        "相关课程",
        "核心课程",
        "专业课程",
        "课程",
    ];
    let mut out = String::with_capacity(text.len());
    let mut in_courses = false;
    for line in text.lines() {
        let trimmed = line.trim().trim_start_matches(['•', '-', '*', '·']).trim();
        let lower = trimmed.to_lowercase();
        let label = lower
            .split([':', '：'])
            .next()
            .unwrap_or("")
            .trim_matches(|c: char| !c.is_alphanumeric());
        if COURSES.contains(&label) {
            // `Coursework: …` on one line, or a `COURSEWORK` heading over a list.
            in_courses = !lower.contains([':', '：']) || lower.ends_with([':', '：']);
            continue;
        }
        if in_courses {
            if sections::heading(trimmed).is_some() {
                in_courses = false;
            } else {
                continue;
            }
        }
        for word in line.split_whitespace() {
            let link = word.contains('@')
                || word.contains("://")
                || word.starts_with("www.")
                || [".com", ".io", ".org", ".net", ".cn", ".me", ".dev", ".xyz"]
                    .iter()
                    .any(|tld| {
                        word.contains(&format!("{tld}/"))
                            || word.trim_end_matches(['.', ',', ')']).ends_with(tld)
                    });
            if !link {
                out.push_str(word);
            }
            out.push(' ');
        }
        out.push('\n');
    }
    out
}

fn language(text: &str) -> &'static str {
    let han = text.chars().filter(|c| is_cjk_ideograph(*c)).count();
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    if han * 5 >= letters.max(1) {
        "zh"
    } else {
        "en"
    }
}

/// Length of the union of experience intervals in years, one decimal.
pub fn total_years(experience: &[Experience], as_of: YearMonth) -> Option<f64> {
    let mut intervals: Vec<(i32, i32)> = experience
        .iter()
        .filter_map(|e| {
            let start = e.start?.ordinal();
            let end = if e.current {
                as_of.ordinal()
            } else {
                e.end?.ordinal()
            };
            (end >= start).then_some((start, end.min(as_of.ordinal())))
        })
        .collect();
    if intervals.is_empty() {
        return None;
    }
    intervals.sort_unstable();
    let mut months = 0;
    let (mut start, mut end) = intervals[0];
    for &(s, e) in &intervals[1..] {
        if s <= end {
            end = end.max(e);
        } else {
            months += end - start;
            (start, end) = (s, e);
        }
    }
    months += end - start;
    Some((months as f64 / 12.0 * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZH: &str = "个人简历\n张伟\n电话：１３８-1234-5678  邮箱：zhangwei@example.com\n现居：上海\n身份证号：11010519491231002X\n\n【教育背景】\n2012.09-2016.06  浙江大学  计算机科学与技术  本科\n\n【工作经历】\n2019.03 - 至今  阿里巴巴  高级后端开发工程师\n• 负责交易系统，使用 Java、Spring Boot、k8s\n2016.07-2019.02 | 上海某某网络科技有限公司 | Java开发工程师\n• 负责订单服务，MySQL、Redis\n\n【专业技能】\n熟悉机器学习，掌握 Python\n";

    #[test]
    fn parses_a_chinese_resume() {
        let text = prepare_text(ZH);
        assert!(!text.contains("11010519491231002X"));
        let profile = parse_profile(&text, YearMonth::new(2026, Some(11)));
        assert_eq!(profile.language, "zh");
        assert_eq!(profile.name.as_deref(), Some("张伟"));
        assert_eq!(profile.phone.as_deref(), Some("+8613812345678"));
        assert_eq!(profile.email.as_deref(), Some("zhangwei@example.com"));
        assert_eq!(profile.city.as_deref(), Some("上海"));
        assert_eq!(profile.education.len(), 1);
        assert_eq!(profile.experience.len(), 2);
        assert_eq!(profile.headline.as_deref(), Some("高级后端开发工程师"));
        assert_eq!(profile.highest_degree.as_deref(), Some("BACHELOR"));
        // 2016-07 .. 2026-11 without gaps.
        assert_eq!(profile.total_years, Some(10.3));
        for skill in [
            "Java",
            "Spring Boot",
            "Kubernetes",
            "MySQL",
            "Redis",
            "Machine Learning",
            "Python",
        ] {
            assert!(
                profile.skills.iter().any(|s| s == skill),
                "{skill} in {:?}",
                profile.skills
            );
        }
    }

    /// A Markdown resume whose entries carry their dates inside the heading (`### 公司
    /// （2021.01-2021.05）`), as text extraction hands it over: heading marks dropped, list
    /// items as bullets.
    #[test]
    fn markdown_headings_with_dates_are_entries() {
        let text = prepare_text(
            "李静\n\n邮箱：lijing@example.com\n\n工作经历\n\n\
             杭州云帆数据科技有限公司 （2021.01-2021.05）\n\n数据分析实习生\n\n\
             • 负责用户留存分析，使用 SQL 和 Python\n\n\
             上海启明软件有限公司 （2021.07 - 至今）\n\n数据分析师\n\n\
             • 搭建指标体系\n",
        );
        let profile = parse_profile(&text, YearMonth::new(2026, Some(11)));
        assert_eq!(profile.name.as_deref(), Some("李静"));
        assert_eq!(profile.experience.len(), 2, "{:?}", profile.experience);
        let first = profile
            .experience
            .iter()
            .find(|e| e.company.as_deref().is_some_and(|c| c.contains("杭州云帆")))
            .expect("the first job");
        assert_eq!(first.start, Some(YearMonth::new(2021, Some(1))));
        assert_eq!(first.end, Some(YearMonth::new(2021, Some(5))));
        assert!(
            profile
                .experience
                .iter()
                .any(|e| e.current && e.start == Some(YearMonth::new(2021, Some(7))))
        );
    }

    /// An HTML resume rendered to text keeps each `<h2>` as its own line: dates, school and
    /// major arrive as three lines.
    #[test]
    fn date_school_and_major_on_three_lines_are_one_education() {
        let text = prepare_text(
            "王磊\n手机：13912345678\n教育经历\n2015.09 - 2019.06\n华东师范大学\n\
             计算机科学与技术\n本科\n",
        );
        let profile = parse_profile(&text, YearMonth::new(2026, Some(11)));
        assert_eq!(profile.education.len(), 1, "{:?}", profile.education);
        let education = &profile.education[0];
        assert_eq!(education.school.as_deref(), Some("华东师范大学"));
        assert_eq!(education.major.as_deref(), Some("计算机科学与技术"));
        assert_eq!(education.start, Some(YearMonth::new(2015, Some(9))));
        assert_eq!(education.end, Some(YearMonth::new(2019, Some(6))));
    }

    /// An address line above the name is not the name, nor is the district the city.
    #[test]
    fn an_address_line_is_not_the_name() {
        let text = prepare_text(
            "上海市松江区\n赵敏\n电话：13712345678\n工作经历\n\
             2019.03-2022.08 上海某某物流有限公司 仓储主管\n",
        );
        let profile = parse_profile(&text, YearMonth::new(2026, Some(11)));
        assert_eq!(profile.name.as_deref(), Some("赵敏"));
        assert_eq!(profile.city.as_deref(), Some("上海"));
    }

    fn jobs(text: &str) -> Vec<(Option<String>, Option<String>)> {
        parse_profile(&prepare_text(text), YearMonth::new(2026, Some(11)))
            .experience
            .into_iter()
            .map(|e| (e.company, e.title))
            .collect()
    }

    fn job(company: &str, title: &str) -> (Option<String>, Option<String>) {
        (Some(company.into()), Some(title.into()))
    }

    /// A heading shared by jobs and projects keeps the jobs; a research section gives the
    /// positions in it (an employer and a job title), not the projects; a projects section
    /// gives no jobs, whatever its roles are called.
    #[test]
    fn jobs_among_projects_and_positions_in_research() {
        assert_eq!(
            jobs(
                "周明\n工作/项目经历\n摩根士丹利  2016 年 8 月至今\nC++ 工程师 team: 交易基础架构组\n\
                 • 交易组件开发\nAccumulator 程序分析工具开发  2013 年 9 月 - 2016 年 6 月\n\
                 Developer 研究生课题项目\n• 基于 Antlr 的程序分析\n"
            ),
            vec![job("摩根士丹利", "C++ 工程师")]
        );
        assert_eq!(
            jobs(
                "陈晨\n研究经历\n2014.07 - 2014.08  香港大学  暑期实习生\n• 图像分割\n\
                 2013.03 - 2014.06  大学生创新项目  负责人\n• 目标检测\n"
            ),
            vec![job("香港大学", "暑期实习生")]
        );
        assert_eq!(
            jobs(
                "Jane Roe\nResearch Experience\nResearch Fellow, University of Nottingham  \
                 Jul 2015 - Jul 2017\n• fMRI modelling\nThesis project: cortical waves  \
                 2012 - 2014\n"
            ),
            vec![job("University of Nottingham", "Research Fellow")]
        );
        assert_eq!(
            jobs("赵云\n项目经历\n2020.01 - 2021.06  百度智能云  总负责人\n• 多云管理平台\n"),
            vec![]
        );
        // `TCL 销售代表` with no other employer keeps TCL as the employer.
        assert_eq!(
            jobs("李雷\n工作经历\n2008.07 - 2010.02  TCL 销售代表\n"),
            vec![job("TCL", "销售代表")]
        );
    }

    /// Several roles under one employer: the employer's line with the whole span, then each
    /// role with its own dates (and perhaps its team in brackets); or each role's title as the
    /// first bullet under the employer.
    #[test]
    fn roles_under_one_employer() {
        assert_eq!(
            jobs(
                "曹东\n工作经历\n快手,北京  2022/03 - 至今\n(资源管理平台) 后端开发工程师  2023/07 - 至今\n\
                 • 负责多云管理平台的研发\n使用的技术栈: Django REST framework, Go, Python, Redis, MySQL\n\
                 (资源管理平台) 后端开发实习生  2022/03 - 2023/06\n• 负责对账平台的研发工作\n\
                 DELL EMC,上海  2021/10 - 2022/02\n(VxRail Team) 后端开发实习生\n• 自动配置功能\n"
            ),
            vec![
                job("快手", "后端开发工程师"),
                job("快手", "后端开发实习生"),
                job("DELL EMC", "后端开发实习生"),
            ]
        );
        assert_eq!(
            jobs(
                "Per Hansen\nExperience\nRackspace Hosting  Jul 2010 - Oct 2014\n\
                 Systems Engineer III  May 2014 - Oct 2014\n• Ran the fleet\n\
                 Windows System Admin II  Jul 2010 - Feb 2012\n• Patched servers\n\
                 Scholastic  Jun 2010 - Dec 2010\nTechnical Analytics Consultant\n"
            ),
            vec![
                job("Rackspace Hosting", "Systems Engineer III"),
                job("Rackspace Hosting", "Windows System Admin II"),
                job("Scholastic", "Technical Analytics Consultant"),
            ]
        );
        assert_eq!(
            jobs(
                "Ola Nordmann\nOccupation\nMay, 2022 - Currently\nMarin IT AS\n\
                 • Senior Network Specialist, Full time\n\nMay, 2019 - May 2022\nMarin IT AS\n\
                 • Systems Engineer, Full time\n"
            ),
            vec![
                job("Marin IT AS", "Senior Network Specialist"),
                job("Marin IT AS", "Systems Engineer"),
            ]
        );
    }

    /// Blank lines between entries: the wrapped end of one job's last bullet is not the next
    /// job's employer; blank lines inside a header below its dates are passed over until the
    /// header names two things.
    #[test]
    fn blank_lines_end_entries() {
        assert_eq!(
            jobs(
                "Ana Ruiz\nExperience\nAcme Corp\nSite Reliability Engineer  Jan 2015 - Dec 2017\n\
                 • Acted as the after-hours subject matter expert for SSL and\nDNS.\n\n\
                 Globex\nData Analyst  Feb 2018 - Mar 2019\n• Built weekly reports\n"
            ),
            vec![
                job("Acme Corp", "Site Reliability Engineer"),
                job("Globex", "Data Analyst"),
            ]
        );
        assert_eq!(
            jobs(
                "李明\n工作经历\n美团,北京  2020 年 12 月 - 至今\n\n推荐算法 资深算法工程师\n\
                 主要工作:负责推荐排序模型。\n"
            ),
            vec![job("美团", "资深算法工程师")]
        );
        assert_eq!(
            jobs(
                "Ana Ruiz\nExperience\n2017 - 2019\nProcess Engineer, Shell Nigeria\n\n\
                 Supported the Bonga field\n"
            ),
            vec![job("Shell Nigeria", "Process Engineer")]
        );
    }

    /// Titles under their employer's dates: each belongs to the entry above it, not to the
    /// next employer; the role wins over the kind of position (`实习`).
    #[test]
    fn titles_under_the_dates_stay_with_their_employer() {
        assert_eq!(
            jobs(
                "赵明\n工作经历\n清华大学  2025.12 - 至今\n助理教授  中国,北京\n\
                 华为公司  2021.09 - 2025.12\n研发工程师  中国,深圳\n\
                 金蝶软件有限公司  2016.09 - 2019.05\n软件工程师  中国,深圳\n"
            ),
            vec![
                job("清华大学", "助理教授"),
                job("华为公司", "研发工程师"),
                job("金蝶软件有限公司", "软件工程师"),
            ]
        );
        assert_eq!(
            jobs(
                "钱七\n实习经历\n腾讯  2018.07 - 2018.09\n实习 (已转正) 后台开发\n• 完成接入层开发\n"
            ),
            vec![job("腾讯", "后台开发")]
        );
        // `负责人` names a title, not a duty; `核心研发` is a role beside a project's name.
        assert_eq!(
            jobs(
                "孙八\n工作经历\n明略科技,北京  2019 年 7 月 - 2020 年 11 月\n\
                 点击率预估 推荐算法组负责人,下属 5 人\n主要工作:负责推荐平台建设。\n\
                 东软集团股份有限公司  2012 年 7 月 - 2015 年 10 月\n医保结算平台 核心研发,2015\n"
            ),
            vec![
                job("明略科技", "推荐算法组负责人"),
                job("东软集团股份有限公司", "核心研发"),
            ]
        );
    }

    /// Dated bullets with a `技术栈:` line between them, a connector inside a title, and a
    /// range left open at the line's end.
    #[test]
    fn dated_bullets_connectors_and_open_ranges() {
        assert_eq!(
            jobs(
                "王小\n经验\n• 2019/1-Now 随手科技  CTO & 技术合伙人\n为客户交付服务;\n\
                 技术栈: Hadoop, HDFS, Hive\n\n• 2016/3-2016/9  弈汇数据技术有限公司  技术经理\n"
            ),
            vec![
                job("随手科技", "CTO & 技术合伙人"),
                job("弈汇数据技术有限公司", "技术经理"),
            ]
        );
        let profile = parse_profile(
            &prepare_text(
                "姚金\n工作经历\nUpwork, 后端研发 2025/05 --\n\n\
                 广州市正易信息科技有限公司, 后端研发 2021/05 -- 2025/05\n",
            ),
            YearMonth::new(2026, Some(11)),
        );
        let found: Vec<_> = profile
            .experience
            .iter()
            .map(|e| (e.company.as_deref(), e.current))
            .collect();
        assert_eq!(
            found,
            [
                (Some("Upwork"), true),
                (Some("广州市正易信息科技有限公司"), false)
            ]
        );
    }

    /// A pandoc definition list: dates as the term, `: employer, title` and `: place (remark)`
    /// as definitions; a sentence about dates in a bullet is not an entry.
    #[test]
    fn definition_lists_and_dates_in_sentences() {
        assert_eq!(
            jobs(
                "Carl Nunn\nExperience\n12/2020-Present\n: VMware, Solutions Architect, #TeamTanzu\n\
                 : Houston, TX (and other locations)\n\n\
                 • Also was Product Lead for BGP from Jan 2022 to Nov 2023\n\
                 5/2017-6/2020\n: Contino, Technical Principal\n: Dallas, TX (and other locations)\n"
            ),
            vec![
                job("VMware", "Solutions Architect"),
                job("Contino", "Technical Principal"),
            ]
        );
    }

    /// `Occupation` lists jobs; `Military Service` is not a job section.
    #[test]
    fn occupation_and_military_service_headings() {
        assert_eq!(
            jobs(
                "Ola Nordmann\nOccupation\nMarin IT AS, Senior Network Specialist  \
                 May 2022 - Present\nMilitary Service\nIDF, Shooting Instructor  2019 - 2021\n"
            ),
            vec![job("Marin IT AS", "Senior Network Specialist")]
        );
    }

    /// A department or team beside the employer is not the employer; a bracketed city inside
    /// a Chinese employer's name stays in it.
    #[test]
    fn departments_and_bracketed_cities() {
        assert_eq!(
            jobs(
                "Ann Lee\nExperience\nPostdoctoral researcher in Biostatistics, Department of \
                 Public Health, University of Copenhagen  2021 - 2023\n"
            ),
            vec![job(
                "University of Copenhagen",
                "Postdoctoral researcher in Biostatistics"
            )]
        );
        assert_eq!(
            jobs(
                "党林\n工作经历\n亿贝软件工程 (上海) 有限公司  Software Engineer  2019.04 - 至今\n"
            ),
            vec![job("亿贝软件工程 (上海) 有限公司", "Software Engineer")]
        );
    }

    #[test]
    fn overlapping_jobs_count_once() {
        let job = |s: (i32, u32), e: Option<(i32, u32)>| Experience {
            start: Some(YearMonth::new(s.0, Some(s.1))),
            end: e.map(|(y, m)| YearMonth::new(y, Some(m))),
            current: e.is_none(),
            ..Default::default()
        };
        let jobs = [
            job((2018, 1), Some((2020, 1))),
            job((2019, 1), Some((2021, 1))),
            job((2022, 1), None),
        ];
        assert_eq!(total_years(&jobs, YearMonth::new(2023, Some(1))), Some(4.0));
    }

    #[test]
    fn jobs_under_a_hidden_heading_are_found_when_no_job_section_is() {
        // The `experience` heading sits at the end of a line of the other column, so the jobs
        // fall into the languages section.
        let text = prepare_text(
            "Anna Berg\nanna.berg@example.com\n\nLanguages\nswedish native\n\
             german B1  experience\n2015 - 2019  Nordlys Consulting AB, Senior Consultant\n\
             Configured booking systems for hotel chains.\n2021 national chess final, second place\n",
        );
        let profile = parse_profile(&text, YearMonth::new(2024, Some(1)));
        assert_eq!(profile.experience.len(), 1, "{:?}", profile.experience);
        let job = &profile.experience[0];
        assert_eq!(job.company.as_deref(), Some("Nordlys Consulting AB"));
        assert_eq!(job.title.as_deref(), Some("Senior Consultant"));
        // A resume with a job section keeps only what that section lists.
        let with_section = prepare_text(
            "Anna Berg\n\nSummary\n2015 - 2019  Nordlys Consulting AB, Senior Consultant\n\n\
             Experience\n2020 - 2023  Fjord Labs, Data Engineer\n",
        );
        let profile = parse_profile(&with_section, YearMonth::new(2024, Some(1)));
        let companies: Vec<_> = profile
            .experience
            .iter()
            .map(|e| e.company.as_deref())
            .collect();
        assert_eq!(companies, [Some("Fjord Labs")]);
    }
}
