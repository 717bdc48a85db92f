//! Splitting a resume into sections by its headings, in Chinese and English
//! (`【教育背景】`, `一、工作经历`, `PROFESSIONAL EXPERIENCE`, `Skills:` ...).

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SectionKind {
    /// Lines before the first heading: name, contact, headline.
    Header,
    Basic,
    Education,
    Experience,
    Projects,
    Skills,
    Summary,
    Certificates,
    Other,
}

impl SectionKind {
    /// Sections of dated entries, whose blank lines are kept as entry boundaries.
    pub fn holds_entries(self) -> bool {
        matches!(
            self,
            SectionKind::Education | SectionKind::Experience | SectionKind::Projects
        )
    }
}

const HEADINGS: &[(&str, SectionKind)] = &[
    ("基本信息", SectionKind::Basic),
    ("个人信息", SectionKind::Basic),
    ("联系方式", SectionKind::Basic),
    ("个人资料", SectionKind::Basic),
    ("contact", SectionKind::Basic),
    ("contact information", SectionKind::Basic),
    ("contact info", SectionKind::Basic),
    ("personal information", SectionKind::Basic),
    ("personal details", SectionKind::Basic),
    ("personal info", SectionKind::Basic),
    ("教育经历", SectionKind::Education),
    ("教育背景", SectionKind::Education),
    ("教育经验", SectionKind::Education),
    ("学历背景", SectionKind::Education),
    ("学习经历", SectionKind::Education),
    ("教育", SectionKind::Education),
    ("education", SectionKind::Education),
    ("education background", SectionKind::Education),
    ("educational background", SectionKind::Education),
    ("academic background", SectionKind::Education),
    ("education & training", SectionKind::Education),
    ("工作经历", SectionKind::Experience),
    ("工作经验", SectionKind::Experience),
    ("实习经历", SectionKind::Experience),
    ("实习经验", SectionKind::Experience),
    ("职业经历", SectionKind::Experience),
    ("工作履历", SectionKind::Experience),
    ("工作及实习经历", SectionKind::Experience),
    ("experience", SectionKind::Experience),
    ("work experience", SectionKind::Experience),
    ("professional experience", SectionKind::Experience),
    ("employment history", SectionKind::Experience),
    ("employment", SectionKind::Experience),
    ("work history", SectionKind::Experience),
    ("career history", SectionKind::Experience),
    ("internship", SectionKind::Experience),
    ("internships", SectionKind::Experience),
    ("internship experience", SectionKind::Experience),
    ("relevant experience", SectionKind::Experience),
    ("occupation", SectionKind::Experience),
    ("occupations", SectionKind::Experience),
    ("military service", SectionKind::Other),
    ("项目经验", SectionKind::Projects),
    ("科研项目", SectionKind::Projects),
    ("科研经历", SectionKind::Projects),
    ("研究经历", SectionKind::Projects),
    ("research experience", SectionKind::Projects),
    ("research projects", SectionKind::Projects),
    ("校园经历", SectionKind::Other),
    ("社会实践", SectionKind::Other),
    ("实践经历", SectionKind::Other),
    ("volunteer experience", SectionKind::Other),
    ("leadership", SectionKind::Other),
    ("项目经历", SectionKind::Projects),
    ("项目", SectionKind::Projects),
    ("主要项目", SectionKind::Projects),
    ("projects", SectionKind::Projects),
    ("project experience", SectionKind::Projects),
    ("selected projects", SectionKind::Projects),
    ("key projects", SectionKind::Projects),
    ("专业技能", SectionKind::Skills),
    ("技能特长", SectionKind::Skills),
    ("技能", SectionKind::Skills),
    ("技术栈", SectionKind::Skills),
    ("个人技能", SectionKind::Skills),
    ("技能证书", SectionKind::Skills),
    ("技术能力", SectionKind::Skills),
    ("专业能力", SectionKind::Skills),
    ("skills", SectionKind::Skills),
    ("technical skills", SectionKind::Skills),
    ("core skills", SectionKind::Skills),
    ("skills & tools", SectionKind::Skills),
    ("skills and tools", SectionKind::Skills),
    ("core competencies", SectionKind::Skills),
    ("key skills", SectionKind::Skills),
    ("tech stack", SectionKind::Skills),
    ("自我评价", SectionKind::Summary),
    ("个人简介", SectionKind::Summary),
    ("个人总结", SectionKind::Summary),
    ("自我介绍", SectionKind::Summary),
    ("个人优势", SectionKind::Summary),
    ("个人评价", SectionKind::Summary),
    ("求职意向", SectionKind::Summary),
    ("职业目标", SectionKind::Summary),
    ("summary", SectionKind::Summary),
    ("profile", SectionKind::Summary),
    ("professional summary", SectionKind::Summary),
    ("career summary", SectionKind::Summary),
    ("about me", SectionKind::Summary),
    ("about", SectionKind::Summary),
    ("objective", SectionKind::Summary),
    ("career objective", SectionKind::Summary),
    ("证书", SectionKind::Certificates),
    ("资格证书", SectionKind::Certificates),
    ("证书资质", SectionKind::Certificates),
    ("荣誉奖项", SectionKind::Certificates),
    ("获奖情况", SectionKind::Certificates),
    ("获奖经历", SectionKind::Certificates),
    ("语言能力", SectionKind::Certificates),
    ("certifications", SectionKind::Certificates),
    ("certificates", SectionKind::Certificates),
    ("awards", SectionKind::Certificates),
    ("honors", SectionKind::Certificates),
    ("honors & awards", SectionKind::Certificates),
    ("languages", SectionKind::Certificates),
    ("兴趣爱好", SectionKind::Other),
    ("interests", SectionKind::Other),
    ("hobbies", SectionKind::Other),
    ("references", SectionKind::Other),
    ("publications", SectionKind::Other),
];

#[derive(Clone, Debug)]
pub struct Section {
    pub kind: SectionKind,
    pub lines: Vec<String>,
    /// An education heading that names jobs too (`教育背景及求职经历`, `Education and
    /// Employment`): its dated lines are read for jobs as well.
    pub jobs_too: bool,
    /// A jobs heading that names projects or research too (`工作/项目经历`, `Work Experience and
    /// Projects`): its dated entries include projects.
    pub projects_too: bool,
    /// A heading that names research (`研究经历`, `Research Experience`): positions held there
    /// (research assistant, fellow) are jobs.
    pub research: bool,
}

/// Removes numbering and decoration around a heading: `一、`, `1.`, `【】`, `■`, `:`.
fn strip_decoration(line: &str) -> &str {
    let mut t = line.trim();
    for prefix in [
        "一、", "二、", "三、", "四、", "五、", "六、", "七、", "八、", "九、", "十、",
    ] {
        if let Some(rest) = t.strip_prefix(prefix) {
            t = rest;
        }
    }
    let t = t.trim_start_matches(|c: char| {
        c.is_ascii_digit() || matches!(c, '.' | '、' | ')' | '(' | '#' | ' ')
    });
    t.trim_matches(|c: char| {
        c.is_whitespace()
            // Icon fonts (private use), emoji and other symbols before a heading.
            || ('\u{E000}'..='\u{F8FF}').contains(&c)
            || (!c.is_alphanumeric() && !c.is_ascii() && !matches!(c, '（' | '）'))
            || matches!(
                c,
                '【' | '】'
                    | '['
                    | ']'
                    | '「'
                    | '」'
                    | '《'
                    | '》'
                    | '■'
                    | '□'
                    | '●'
                    | '◆'
                    | '◇'
                    | '▶'
                    | '►'
                    | '*'
                    | '#'
                    | '='
                    | '-'
                    | '_'
                    | '|'
                    | ':'
                    | '：'
                    | '>'
                    | '·'
                    | '•'
                    | '/'
            )
    })
}

fn lookup(candidate: &str) -> Option<SectionKind> {
    let lower = candidate.to_lowercase();
    let lower = lower.trim();
    HEADINGS
        .iter()
        .find(|(name, _)| *name == lower)
        .map(|(_, kind)| *kind)
        .or_else(|| classify_chinese(lower))
        .or_else(|| classify_english(lower))
}

/// A short Chinese heading by its words: `工作及项目经历`, `实习/项目经历`, `个人技能与证书`.
fn classify_chinese(heading: &str) -> Option<SectionKind> {
    let chars = heading.chars().count();
    if !(2..=10).contains(&chars)
        || !heading.chars().any(looma_taxonomy::is_cjk_ideograph)
        || heading.chars().any(|c| c.is_ascii_digit())
        || heading.contains(['，', '。', ',', '、'])
    {
        return None;
    }
    let has = |words: &[&str]| words.iter().any(|w| heading.contains(w));
    // A bare `经历` / `经验` / `履历` heading lists jobs.
    if matches!(heading, "经历" | "经验" | "履历" | "工作") {
        return Some(SectionKind::Experience);
    }
    let story = has(&["经历", "经验", "履历", "背景"]);
    if story && has(&["工作", "实习", "职业", "任职", "从业", "技术"]) && !has(&["教育", "学历"])
    {
        Some(SectionKind::Experience)
    } else if has(&["教育", "学历"]) || heading == "学习经历" {
        Some(SectionKind::Education)
    } else if has(&["项目", "科研", "研究经历"]) {
        Some(SectionKind::Projects)
    } else if has(&["技能", "技术栈", "技术能力", "专业能力"]) {
        Some(SectionKind::Skills)
    } else if has(&["获奖", "荣誉", "奖项", "证书"]) {
        Some(SectionKind::Certificates)
    } else if has(&["自我评价", "个人简介", "个人总结", "求职意向"]) {
        Some(SectionKind::Summary)
    } else if has(&[
        "论文", "发表", "校园", "社团", "活动", "志愿", "爱好", "其他", "其它",
    ]) {
        Some(SectionKind::Other)
    } else {
        None
    }
}

/// Words English section headings are made of; a line of only these words is a heading when
/// one of them names the kind (`Work & Research Experience`, `Employment`, `SELECTED PROJECTS`).
const ENGLISH_HEADING_WORDS: &[&str] = &[
    "work",
    "professional",
    "relevant",
    "industry",
    "technical",
    "selected",
    "other",
    "additional",
    "academic",
    "research",
    "teaching",
    "volunteer",
    "volunteering",
    "and",
    "&",
    "experience",
    "experiences",
    "employment",
    "history",
    "career",
    "education",
    "skills",
    "skill",
    "projects",
    "project",
    "publications",
    "awards",
    "honors",
    "honours",
    "activities",
    "leadership",
    "summary",
    "profile",
    "objective",
    "certifications",
    "certificates",
    "languages",
    "interests",
    "extracurricular",
    "positions",
    "appointments",
    "training",
    "qualifications",
    "expertise",
    "tools",
    "technologies",
    "key",
    "core",
    "personal",
    "highlights",
    "current",
    "previous",
    "past",
    "recent",
    "services",
    "service",
    "grants",
    "presentations",
];

fn classify_english(heading: &str) -> Option<SectionKind> {
    let words: Vec<&str> = heading
        .split(|c: char| c.is_whitespace() || c == '/' || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty()
        || words.len() > 5
        || !words.iter().all(|w| ENGLISH_HEADING_WORDS.contains(w))
    {
        return None;
    }
    let has = |word: &str| words.contains(&word);
    let non_jobs = has("research") && !has("work")
        || has("volunteer")
        || has("volunteering")
        || has("teaching")
        || has("leadership")
        || has("project")
        || has("projects");
    if (has("experience")
        || has("experiences")
        || has("employment")
        || has("career")
        || has("appointments")
        || has("positions"))
        && !non_jobs
        || has("work") && (has("history") || has("experience"))
    {
        Some(SectionKind::Experience)
    } else if has("education") || has("qualifications") || has("training") {
        Some(SectionKind::Education)
    } else if has("projects") || has("project") || has("research") {
        Some(SectionKind::Projects)
    } else if has("skills")
        || has("skill")
        || has("expertise")
        || has("technologies")
        || has("tools")
    {
        Some(SectionKind::Skills)
    } else if has("summary") || has("profile") || has("objective") {
        Some(SectionKind::Summary)
    } else if has("awards")
        || has("honors")
        || has("honours")
        || has("certifications")
        || has("certificates")
    {
        Some(SectionKind::Certificates)
    } else if [
        "publications",
        "activities",
        "interests",
        "extracurricular",
        "languages",
        "services",
        "service",
        "grants",
        "presentations",
        "leadership",
        "volunteer",
        "volunteering",
        "teaching",
    ]
    .iter()
    .any(|w| has(w))
    {
        Some(SectionKind::Other)
    } else {
        None
    }
}

/// The section a line opens, and the content that follows the heading on the same line
/// (`Skills: Rust, Go` → Skills with `Rust, Go`).
pub fn heading(line: &str) -> Option<(SectionKind, Option<String>)> {
    let stripped = strip_decoration(line);
    if stripped.is_empty() || stripped.chars().count() > 40 {
        return None;
    }
    if let Some(kind) = lookup(stripped) {
        return Some((kind, None));
    }
    if let Some((head, rest)) = stripped.split_once([':', '：']) {
        let rest = rest.trim();
        if let Some(kind) = lookup(strip_decoration(head)) {
            return Some((kind, (!rest.is_empty()).then(|| rest.to_owned())));
        }
    }
    None
}

/// Whether a heading names jobs (`求职经历`, `工作`, `Employment`, `Work`).
fn names_jobs(heading: &str) -> bool {
    let lower = heading.to_lowercase();
    ["工作", "实习", "求职", "任职", "职业"]
        .iter()
        .any(|w| heading.contains(w))
        || lower
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| matches!(w, "work" | "employment" | "experience" | "career"))
}

/// Whether a heading names projects or research (`实习/项目经历`, `Experience and Projects`).
fn names_projects(heading: &str) -> bool {
    heading.contains("项目")
        || names_research(heading)
        || heading
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| matches!(w, "project" | "projects"))
}

/// Whether a heading names research (`科研经历`, `研究经历`, `Research Experience`).
fn names_research(heading: &str) -> bool {
    ["科研", "研究", "课题"].iter().any(|w| heading.contains(w))
        || heading
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == "research")
}

/// Also accepts `Skills: Rust, Go` lines longer than a heading.
fn inline_heading(line: &str) -> Option<(SectionKind, Option<String>)> {
    let (head, rest) = line.split_once(':')?;
    let kind = lookup(strip_decoration(head))?;
    if !matches!(kind, SectionKind::Skills | SectionKind::Summary) {
        return None;
    }
    Some((kind, Some(rest.trim().to_owned())))
}

pub fn split_sections(text: &str) -> Vec<Section> {
    let mut sections = vec![Section {
        kind: SectionKind::Header,
        lines: Vec::new(),
        jobs_too: false,
        projects_too: false,
        research: false,
    }];
    let mut previous = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() {
            // In entry sections a blank line is kept (once): it ends an entry, and the wrapped
            // end of one job's last bullet (`DNS.`) is then not the next job's employer.
            if let Some(current) = sections.last_mut()
                && current.kind.holds_entries()
                && current.lines.last().is_some_and(|l| !l.is_empty())
            {
                current.lines.push(String::new());
            }
            continue;
        }
        // `• Skills: Python, PyTorch` inside a job is part of the job, not a section.
        let bullet_with_content = line.starts_with(['•', '-', '*', '·', '●', '▪'])
            && line
                .split_once([':', '：'])
                .is_some_and(|(_, rest)| !rest.trim().is_empty());
        // `使用的技术栈: Go, Redis` inside a job lists that job's tools; it opens no section.
        let in_entries = sections
            .last()
            .is_some_and(|s| matches!(s.kind, SectionKind::Experience | SectionKind::Projects));
        // `… and several internal` / `projects`: a lower-case word ending a wrapped sentence.
        let wrapped_end = line.starts_with(|c: char| c.is_ascii_lowercase())
            && previous.chars().count() > 40
            && previous.ends_with(|c: char| c.is_alphanumeric() || c == ',');
        previous = line.to_owned();
        if let Some((kind, rest)) = (!bullet_with_content && !wrapped_end)
            .then(|| heading(line).or_else(|| inline_heading(line)))
            .flatten()
            .filter(|(kind, rest)| !(in_entries && *kind == SectionKind::Skills && rest.is_some()))
        {
            let mut lines = Vec::new();
            if let Some(rest) = rest {
                lines.push(rest);
            }
            let jobs_too = kind == SectionKind::Education && names_jobs(line);
            let projects_too = kind == SectionKind::Experience && names_projects(line);
            let research = names_research(line);
            sections.push(Section {
                kind,
                lines,
                jobs_too,
                projects_too,
                research,
            });
            continue;
        }
        if let Some(current) = sections.last_mut() {
            current.lines.push(line.to_owned());
        }
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_in_many_styles() {
        assert_eq!(
            heading("【教育背景】"),
            Some((SectionKind::Education, None))
        );
        assert_eq!(
            heading("一、工作经历"),
            Some((SectionKind::Experience, None))
        );
        assert_eq!(heading("教育经历："), Some((SectionKind::Education, None)));
        assert_eq!(
            heading("PROFESSIONAL EXPERIENCE"),
            Some((SectionKind::Experience, None))
        );
        assert_eq!(heading("## Skills"), Some((SectionKind::Skills, None)));
        assert_eq!(
            heading("Skills: Rust, Go"),
            Some((SectionKind::Skills, Some("Rust, Go".into())))
        );
        assert_eq!(heading("负责教育经历相关系统的开发"), None);
        assert_eq!(heading("Experience with Kubernetes"), None);
        // Headings seen in real resumes, not in the table: classified by their words.
        for (line, kind) in [
            ("工作及项目经历", SectionKind::Experience),
            ("\u{f19d} 实习/项目经历", SectionKind::Experience),
            ("★ 教育经历与荣誉", SectionKind::Education),
            ("Work & Research Experience", SectionKind::Experience),
            ("RESEARCH EXPERIENCE", SectionKind::Projects),
            ("Volunteer Experience", SectionKind::Other),
            ("Technical Skills and Tools", SectionKind::Skills),
        ] {
            assert_eq!(heading(line), Some((kind, None)), "{line}");
        }
        assert_eq!(heading("User Experience Designer"), None);
        assert_eq!(heading("技术经历"), Some((SectionKind::Experience, None)));
        let sections = split_sections("教育及工作经历\n2015.9-2019.6 四川大学 本科");
        assert_eq!(sections[1].kind, SectionKind::Education);
        assert!(sections[1].jobs_too);
    }

    #[test]
    fn splits_in_order() {
        let sections = split_sections("张伟\n电话\n\n教育背景\n浙江大学\n工作经历\n阿里巴巴\n");
        let kinds: Vec<_> = sections.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                SectionKind::Header,
                SectionKind::Education,
                SectionKind::Experience
            ]
        );
        assert_eq!(sections[0].lines, ["张伟", "电话"]);
        // A bulleted `Skills:` line inside a job stays in the job.
        let sections = split_sections(
            "Employment\nEngineer - Acme 2020 - 2022\n• Skills: Python\nAnalyst - Beta 2018 - 2020\nSkills\nSQL",
        );
        let kinds: Vec<_> = sections.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                SectionKind::Header,
                SectionKind::Experience,
                SectionKind::Skills
            ]
        );
        // So is an unbulleted `使用的技术栈: …` line, however long.
        let sections = split_sections(
            "工作经历\n快手,北京  2022/03 - 至今\n使用的技术栈: Django REST framework, Go, Python, \
             Redis, MySQL\nDELL EMC,上海  2021/10 - 2022/02\n技能\nJava",
        );
        assert_eq!(sections[1].kind, SectionKind::Experience);
        assert_eq!(sections[1].lines.len(), 3, "{:?}", sections[1].lines);
        assert_eq!(sections[2].kind, SectionKind::Skills);
        // A wrapped sentence ending in `projects` opens no section.
        let sections = split_sections(
            "Experience\nRackspace  2010 - 2014\n• Designated as primary expert for Cloud Load \
             Balancers, and several internal\nprojects\nLinux Engineer II  2012 - 2013\n",
        );
        assert_eq!(sections.len(), 2, "{sections:?}");
    }
}
