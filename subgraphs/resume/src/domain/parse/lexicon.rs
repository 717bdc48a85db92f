//! Word lists the parser leans on: company and job-title markers, schools; cities come from
//! the shared table in `looma_taxonomy`. `contact` and `entries` read these lists; this module
//! imports neither (only `sections`, for headings), so the dependency runs one way.

use looma_taxonomy::{EducationLevel, find_city_in, is_cjk_ideograph};

/// The earliest known city mentioned in `text`, named in the text's language (`上海` for
/// 上海市, `Xi'an` for XI'AN). The table and the rules for free text live in
/// `looma_taxonomy::find_city_in`.
pub fn city_in(text: &str) -> Option<String> {
    find_city_in(text).map(|mention| mention.name().to_owned())
}

/// Whether `text` is a city name and nothing else (`上海`, `上海市`, `Xi'an`).
pub fn is_city(text: &str) -> bool {
    find_city_in(text).is_some_and(|mention| mention.is_whole(text))
}

/// Position of `word` in `text` at word boundaries (ASCII).
pub fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text[from..].find(word) {
        let at = from + found;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
        {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// Whether `text` mentions one of `words` (lower case): Latin words at word boundaries, any
/// case; Chinese words anywhere.
pub fn mentions_any(text: &str, words: &[&str]) -> bool {
    let lower = text.to_lowercase();
    words.iter().any(|w| {
        if w.is_ascii() {
            find_word(&lower, w).is_some()
        } else {
            lower.contains(w)
        }
    })
}

const TITLE_MARKERS_ZH: &[&str] = &[
    "工程师",
    "经理",
    "总监",
    "专员",
    "分析师",
    "设计师",
    "主管",
    "实习生",
    "实习",
    "顾问",
    "架构师",
    "负责人",
    "运营",
    "助理",
    "组长",
    "主任",
    "会计",
    "出纳",
    "代表",
    "研究员",
    "科学家",
    "总裁",
    "总经理",
    "副总",
    "合伙人",
    "讲师",
    "编辑",
    "策划",
    "秘书",
    "店长",
    "客服",
    "专家",
    "开发",
    "研发",
    "测试",
    "产品",
    "HRBP",
    "招聘",
    "程序员",
    "技术员",
    "leader",
    "Leader",
];
const TITLE_MARKERS_EN: &[&str] = &[
    "engineer",
    "developer",
    "manager",
    "director",
    "analyst",
    "designer",
    "intern",
    "consultant",
    "specialist",
    "scientist",
    "architect",
    "lead",
    "head",
    "officer",
    "representative",
    "recruiter",
    "accountant",
    "administrator",
    "admin",
    "coordinator",
    "associate",
    "executive",
    "vp",
    "president",
    "partner",
    "programmer",
    "tester",
    "assistant",
    "owner",
    "researcher",
    "advisor",
    "auditor",
    "controller",
    "cto",
    "ceo",
    "cfo",
    "coo",
    "hrbp",
    "strategist",
    "writer",
    "editor",
    "marketer",
    "planner",
    "technician",
    "principal",
    "staff",
    "sde",
    "swe",
    "qa",
    "devops",
    "sre",
    "teacher",
    "lecturer",
    "fellow",
    "tutor",
    "instructor",
    "professor",
    "trainee",
    "apprentice",
    "mentor",
    "driver",
    "producer",
    "founder",
    "cofounder",
    "contractor",
    "clerk",
    "nurse",
    "postdoc",
    "coach",
    "supervisor",
    "agent",
    "attorney",
    "lawyer",
    "therapist",
    "pharmacist",
    "operator",
    "mechanic",
    "electrician",
    "inspector",
    "reporter",
    "journalist",
    "photographer",
    "receptionist",
    "cashier",
    "dean",
    "chair",
    "secretary",
    "translator",
    "praktikant",
    "webmaster",
    "worker",
];

pub fn is_title(text: &str) -> bool {
    if text.chars().any(is_cjk_ideograph) {
        return TITLE_MARKERS_ZH.iter().any(|m| text.contains(m)) && !is_company(text);
    }
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words.iter().any(|w| TITLE_MARKERS_EN.contains(w))
        && !words
            .last()
            .is_some_and(|w| COMPANY_SUFFIXES_EN.contains(w))
}

const COMPANY_MARKERS_ZH: &[&str] = &[
    "公司",
    "集团",
    "有限",
    "科技",
    "银行",
    "研究院",
    "研究所",
    "事务所",
    "医院",
    "工作室",
    "网络",
    "证券",
    "基金",
    "保险",
    "传媒",
    "咨询",
    "股份",
    "控股",
    "实验室",
    "中心",
];
const KNOWN_COMPANIES: &[&str] = &[
    "阿里巴巴",
    "阿里云",
    "腾讯",
    "字节跳动",
    "百度",
    "美团",
    "京东",
    "华为",
    "小米",
    "网易",
    "拼多多",
    "滴滴",
    "快手",
    "蚂蚁",
    "携程",
    "微软",
    "谷歌",
    "亚马逊",
    "招商银行",
    "平安",
    "德勤",
    "普华永道",
    "毕马威",
    "安永",
    "联想",
    "中兴",
    "大疆",
    "比亚迪",
    "顺丰",
    "蔚来",
    "小红书",
    "哔哩哔哩",
    "B站",
    "知乎",
    "贝壳",
    "瓜子",
    "唯品会",
    "苏宁",
    "海尔",
    "格力",
    "宁德时代",
    "商汤",
    "旷视",
    "科大讯飞",
    "用友",
    "金蝶",
    "新浪",
    "搜狐",
    "360",
    "OPPO",
    "vivo",
    "Google",
    "Microsoft",
    "Amazon",
    "Meta",
    "Facebook",
    "Apple",
    "Netflix",
    "Uber",
    "Airbnb",
    "Stripe",
    "Salesforce",
    "IBM",
    "Oracle",
    "Intel",
    "ByteDance",
    "Alibaba",
    "Tencent",
    "Baidu",
    "Shopify",
    "Spotify",
    "Deloitte",
    "PwC",
    "KPMG",
    "EY",
    "Accenture",
    "McKinsey",
    "Goldman Sachs",
    "JPMorgan",
    "J.P. Morgan",
    "Morgan Stanley",
    "HSBC",
    "Barclays",
    "Citi",
    "Citibank",
    "Huawei",
    "Xiaomi",
    "NetEase",
    "Meituan",
    "JD.com",
    "Adobe",
    "Nvidia",
    "NVIDIA",
    "SAP",
    "Siemens",
    "Bosch",
    "Unilever",
    "P&G",
    "Procter & Gamble",
    "L'Oréal",
    "Nike",
    "Tesla",
    "LinkedIn",
    "Twitter",
    "Dropbox",
    "Atlassian",
    "Canva",
    "Grab",
    "Shopee",
    "Sea",
    "Revolut",
    "Monzo",
    "Deliveroo",
    "Booking.com",
    "Zalando",
    "Ocado",
    "BBC",
    "Vodafone",
];
const COMPANY_SUFFIXES_EN: &[&str] = &[
    "inc",
    "ltd",
    "llc",
    "corp",
    "corporation",
    "company",
    "co",
    "group",
    "technologies",
    "technology",
    "labs",
    "bank",
    "consulting",
    "partners",
    "systems",
    "solutions",
    "gmbh",
    "plc",
    "studio",
    "studios",
    "agency",
    "software",
    "capital",
    "ventures",
    "holdings",
    "limited",
    "university",
    "institute",
    "games",
    "media",
    "networks",
    "analytics",
    "foundation",
    "hospital",
    "productions",
    "center",
    "centre",
    "llp",
    "ab",
    "as",
    "ag",
    "sa",
    "bv",
];

pub fn is_company(text: &str) -> bool {
    // `Director of Information Technology`, `Head of Data`: a title naming its field.
    let lower_words: Vec<String> = text
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    if lower_words
        .windows(2)
        .take(3)
        .any(|pair| TITLE_MARKERS_EN.contains(&pair[0].as_str()) && pair[1] == "of")
        && !lower_words
            .iter()
            .any(|w| matches!(w.as_str(), "inc" | "llc" | "ltd" | "gmbh" | "plc" | "corp"))
    {
        return false;
    }
    if KNOWN_COMPANIES.iter().any(|c| {
        if c.is_ascii() {
            find_word(text, c).is_some()
        } else {
            text.contains(c)
        }
    }) {
        return true;
    }
    if text.chars().any(is_cjk_ideograph) {
        return COMPANY_MARKERS_ZH.iter().any(|m| text.contains(m));
    }
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words
        .last()
        .is_some_and(|w| COMPANY_SUFFIXES_EN.contains(w))
        || words.iter().any(|w| {
            matches!(
                *w,
                "inc" | "ltd" | "llc" | "gmbh" | "plc" | "corp" | "limited"
            )
        })
}

/// A school name in a fragment, if any (`浙江大学`, `Stanford University`, `University of
/// Oxford`, `University of California, Berkeley`).
pub fn school_in(text: &str) -> Option<String> {
    let school = school_in_parts(text)?;
    // `香港中文大学(深圳)`: the campus's city in brackets belongs to the name.
    if school.chars().any(is_cjk_ideograph)
        && let Some(at) = text.find(&school)
        && let Some((city, _)) = text[at + school.len()..]
            .strip_prefix(['(', '（'])
            .and_then(|rest| rest.split_once([')', '）']))
        && (1..=3).contains(&city.chars().count())
        && city.chars().all(is_cjk_ideograph)
        && degree_level(city).is_none()
    {
        return Some(format!("{school}({city})"));
    }
    // "University of California, Berkeley": a campus after a comma belongs to the name.
    if school.starts_with("University of")
        && let Some(at) = text.find(&school)
        && let Some(rest) = text[at + school.len()..].strip_prefix(", ")
    {
        // `Irvine, CA`: the campus ends at its comma.
        let first_part = rest.split(',').next().unwrap_or("");
        let campus: Vec<&str> = first_part
            .split_whitespace()
            .take_while(|w| {
                w.chars().next().is_some_and(char::is_uppercase)
                    && w.chars().all(|c| c.is_alphabetic())
                    && degree_level(w).is_none()
            })
            .take(2)
            .collect();
        // `University of South Florida, Industrial Engineering` names the field, not a campus.
        if !campus.is_empty() && !campus.iter().any(|w| is_field_word(w)) {
            return Some(format!("{school}, {}", campus.join(" ")));
        }
    }
    Some(school)
}

fn school_in_parts(text: &str) -> Option<String> {
    for part in text.split(['|', ',', '，', '\t', '/', '(', ')', '（', '）', ';', '；']) {
        for piece in part.split("  ").chain(std::iter::once(part)) {
            let piece = piece.trim();
            if piece.is_empty() {
                continue;
            }
            if piece.chars().any(is_cjk_ideograph) {
                for word in piece.split_whitespace() {
                    if let Some(school) = han_school(word) {
                        return Some(school);
                    }
                }
            } else if let Some(school) = latin_school(piece) {
                return Some(school);
            }
        }
    }
    None
}

fn han_school(word: &str) -> Option<String> {
    for suffix in ["大学", "学院", "学校", "中学", "高中"] {
        if let Some(at) = word.find(suffix) {
            let mut end = at + suffix.len();
            // `密西根大学安娜堡分校`: a branch campus is part of the name.
            let rest = &word[end..];
            if let Some(branch) = rest.find("分校")
                && rest[..branch].chars().all(is_cjk_ideograph)
                && rest[..branch].chars().count() <= 5
            {
                end += branch + "分校".len();
            }
            let name: String = word[..end]
                .chars()
                .rev()
                .take_while(|c| is_cjk_ideograph(*c) || *c == '(' || *c == ')')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            // Keep a campus suffix like 北京大学(深圳)?  Rare; the bare name is what recruiters use.
            if name.chars().count() >= 4 {
                return Some(name);
            }
        }
    }
    if looma_taxonomy::is_known_school(word) {
        return Some(word.to_owned());
    }
    None
}

fn latin_school(piece: &str) -> Option<String> {
    let words: Vec<&str> = piece.split_whitespace().collect();
    let markers = [
        "University",
        "College",
        "Institute",
        "School",
        "Academy",
        "Polytechnic",
    ];
    // `University`, `UNIVERSITY` (all-caps headings), `Universität`, `Politecnico`, `Univ.`.
    let is_marker = |w: &str| {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric());
        let capitalised = w.chars().next().is_some_and(char::is_uppercase);
        let lower = w.to_lowercase();
        capitalised
            && (markers.iter().any(|m| m.to_lowercase() == lower)
                || [
                    "universität",
                    "université",
                    "universidad",
                    "università",
                    "universiteit",
                    "hochschule",
                    "politecnico",
                    "institut",
                    "univ",
                ]
                .contains(&lower.as_str()))
    };
    let at = words.iter().position(|w| is_marker(w))?;
    let joiner = |w: &str| {
        matches!(
            w.to_lowercase().as_str(),
            "of" | "at" | "for" | "in" | "and" | "&" | "the" | "de" | "di" | "du"
        )
    };
    // Extend left over capitalised words, right over "of X Y" / "at X".
    let mut start = at;
    while start > 0 {
        let w = words[start - 1];
        // `Computer Engineering. Stevens Institute`: a sentence ends before the name.
        let sentence_end = w
            .strip_suffix('.')
            .is_some_and(|body| body.chars().filter(|c| c.is_alphabetic()).count() > 3);
        if sentence_end {
            break;
        }
        // `Ph.D. Stanford University`: the degree before the name is not part of it.
        if (w.chars().next().is_some_and(|c| c.is_uppercase()) && degree_level(w).is_none())
            || w == "&"
        {
            start -= 1;
        } else {
            break;
        }
    }
    let mut end = at + 1;
    if words.get(end).is_some_and(|w| {
        matches!(
            w.to_lowercase().as_str(),
            "of" | "at" | "for" | "in" | "de" | "di"
        )
    }) {
        end += 1;
        while let Some(w) = words.get(end) {
            let capitalised = w.chars().next().is_some_and(|c| c.is_uppercase());
            // An all-caps word after the name is the next field (`… TECHNOLOGY | BS`) only
            // when it is a degree.
            if (capitalised && degree_level(w).is_none()) || joiner(w) {
                end += 1;
                // `Politecnico di Torino University. Turin`: the name ends with its sentence.
                if w.strip_suffix('.')
                    .is_some_and(|body| body.chars().filter(|c| c.is_alphabetic()).count() > 3)
                {
                    break;
                }
            } else {
                break;
            }
        }
        while end > at + 1 && words.get(end - 1).is_some_and(|w| joiner(w)) {
            end -= 1;
        }
    } else {
        // `Radboud University Nijmegen`, `Southern Illinois University Edwardsville`: one or
        // two capitalised words closing the piece after the marker are part of the name.
        let tail = &words[end..];
        let name_word = |w: &&str| {
            let letters = w.trim_end_matches(['.', ',']);
            letters.chars().next().is_some_and(char::is_uppercase)
                && letters.chars().all(char::is_alphabetic)
                && letters.chars().count() > 2
                && degree_level(letters).is_none()
                && !is_field_word(letters)
                && !is_marker(letters)
                // `Stanford University GPA`: an acronym after a name not in capitals.
                && !(letters.chars().all(|c| c.is_uppercase())
                    && words[at].chars().any(char::is_lowercase))
                && !["expected", "graduated", "honors", "present", "alumni"]
                    .contains(&letters.to_lowercase().as_str())
        };
        if (1..=2).contains(&tail.len()) && tail.iter().all(name_word) {
            end = words.len();
        }
    }
    let name = words[start..end].join(" ");
    let name = name.trim_matches(|c: char| !c.is_alphanumeric() && c != ')');
    (!name.is_empty()).then(|| name.to_owned())
}

/// A word that names a field of study (`Industrial Engineering`, `Computer Science`), never a
/// campus or a town.
fn is_field_word(word: &str) -> bool {
    const FIELDS: &[&str] = &[
        "engineering",
        "science",
        "sciences",
        "studies",
        "communication",
        "mathematics",
        "physics",
        "chemistry",
        "biology",
        "arts",
        "business",
        "management",
        "economics",
        "administration",
        "technology",
        "informatics",
        "statistics",
        "medicine",
        "law",
        "education",
        "psychology",
        "nursing",
        "finance",
        "accounting",
        "design",
        "music",
    ];
    FIELDS.contains(
        &word
            .to_lowercase()
            .trim_matches(|c: char| !c.is_alphabetic()),
    )
}

/// The education level a fragment of an education entry names: the shared cues
/// (`本科`, `Master`, `B.S.`, `PhD`) and the bare abbreviations résumés use in their degree
/// lines (`BS`, `BA`, `MS`, `BSN`, `B.Tech`, `MEng`), which are only read in education entries:
/// elsewhere `MS Office` or `Boston, MA` are not degrees.
pub fn degree_level(fragment: &str) -> Option<EducationLevel> {
    let detected = EducationLevel::detect(fragment);
    // 学硕 / 专硕: academic and professional master's.
    if fragment.contains("学硕") || fragment.contains("专硕") {
        return detected.max(Some(EducationLevel::Master));
    }
    if detected.is_some() {
        return detected;
    }
    const ABBREVIATIONS: &[(&str, EducationLevel)] = &[
        ("BS", EducationLevel::Bachelor),
        ("BA", EducationLevel::Bachelor),
        ("BSN", EducationLevel::Bachelor),
        ("BBA", EducationLevel::Bachelor),
        ("BE", EducationLevel::Bachelor),
        ("B.E.", EducationLevel::Bachelor),
        ("BTech", EducationLevel::Bachelor),
        ("B.Tech", EducationLevel::Bachelor),
        ("B.Tech.", EducationLevel::Bachelor),
        ("BFA", EducationLevel::Bachelor),
        ("BArch", EducationLevel::Bachelor),
        ("LLB", EducationLevel::Bachelor),
        ("AB", EducationLevel::Bachelor),
        ("A.B.", EducationLevel::Bachelor),
        ("MS", EducationLevel::Master),
        ("MA", EducationLevel::Master),
        ("MSN", EducationLevel::Master),
        ("MSE", EducationLevel::Master),
        ("MEd", EducationLevel::Master),
        ("M.Ed.", EducationLevel::Master),
        ("MFA", EducationLevel::Master),
        ("MPhil", EducationLevel::Master),
        ("M.Phil.", EducationLevel::Master),
        ("MTech", EducationLevel::Master),
        ("M.Tech", EducationLevel::Master),
        ("M.Tech.", EducationLevel::Master),
        ("LLM", EducationLevel::Master),
        ("MASc", EducationLevel::Master),
        ("SM", EducationLevel::Master),
        ("S.M.", EducationLevel::Master),
        ("DPhil", EducationLevel::Doctorate),
        ("EdD", EducationLevel::Doctorate),
        ("JD", EducationLevel::Doctorate),
        ("AS", EducationLevel::Associate),
        ("AA", EducationLevel::Associate),
        ("A.S.", EducationLevel::Associate),
        ("A.A.", EducationLevel::Associate),
    ];
    let tokens: Vec<&str> = fragment
        .split(|c: char| c.is_whitespace() || matches!(c, '|' | '(' | ')' | '/' | ';' | ':'))
        .filter(|t| !t.is_empty())
        .collect();
    let mut best: Option<EducationLevel> = None;
    for (i, raw) in tokens.iter().enumerate() {
        let token = raw.trim_end_matches(',');
        let Some(&(_, level)) = ABBREVIATIONS
            .iter()
            .find(|(abbr, _)| *abbr == token || abbr.trim_end_matches('.') == token)
        else {
            continue;
        };
        // `Boston, MA 2015` / `Starkville, MS`: a US state after a city, not a degree; the
        // degree is followed by its field (`MS Computer Science`, `MA, History`).
        if matches!(token, "MA" | "MS" | "AS") {
            let after_city = i > 0 && tokens[i - 1].ends_with(',');
            let field_follows = tokens
                .get(i + 1)
                .is_some_and(|t| t.chars().next().is_some_and(char::is_alphabetic));
            if after_city && !field_follows {
                continue;
            }
            // `AS` inside an all-caps sentence (`WORKED AS ENGINEER`).
            let caps = |t: &str| t.len() > 1 && t.chars().all(|c| c.is_ascii_uppercase());
            if token == "AS"
                && i > 0
                && caps(tokens[i - 1])
                && tokens.get(i + 1).is_some_and(|t| caps(t))
            {
                continue;
            }
        }
        best = best.max(Some(level));
    }
    best
}

/// Words that look like a short Han name but are labels or headings.
pub fn looks_like_heading_word(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "简历",
        "个人简历",
        "基本信息",
        "个人信息",
        "联系方式",
        "教育背景",
        "教育经历",
        "工作经历",
        "工作经验",
        "项目经验",
        "专业技能",
        "技能特长",
        "自我评价",
        "个人简介",
        "求职意向",
        "姓名",
        "性别",
        "年龄",
        "电话",
        "手机",
        "邮箱",
        "地址",
        "学历",
        "籍贯",
        "民族",
        "男",
        "女",
        "汉族",
        "本科",
        "硕士",
        "博士",
        "大专",
        "未婚",
        "已婚",
        "党员",
        "群众",
        "团员",
        "中共党员",
        "共青团员",
    ];
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    WORDS.contains(&compact.as_str())
        || super::sections::heading(&compact).is_some()
        || looma_taxonomy::lookup_city(&compact)
            .is_some_and(|city| city.is_distinctive() && city.chinese() == compact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn school_names_as_written() {
        for (text, school) in [
            // A town closing the name; the campus before its state.
            (
                "- Leiden University Oegstgeest  Sept. 2010 - 2014",
                "Leiden University Oegstgeest",
            ),
            (
                "University of California, Davis, CA",
                "University of California, Davis",
            ),
            // A field after the comma is not a campus; an acronym after the name is not part of it.
            (
                "B.S. University of Texas, Civil Engineering",
                "University of Texas",
            ),
            ("Stanford University GPA 3.9", "Stanford University"),
            // The name ends with its sentence.
            (
                "MSc in Physics, Politecnico di Milano University. Milan, Italy.",
                "Politecnico di Milano University",
            ),
            (
                "PhD in Genetics, Institut Pasteur, Paris",
                "Institut Pasteur",
            ),
            // Branch campuses; a degree in brackets is not a campus.
            ("加州大学伯克利分校  计算机科学", "加州大学伯克利分校"),
            (
                "香港中文大学(深圳), 计算机工程, 工学学士",
                "香港中文大学(深圳)",
            ),
            ("上海交通大学(硕士) 计算机科学与技术", "上海交通大学"),
        ] {
            assert_eq!(school_in(text).as_deref(), Some(school), "{text}");
        }
    }

    #[test]
    fn schools() {
        assert_eq!(
            school_in("2012.09-2016.06 浙江大学 计算机科学与技术 本科"),
            Some("浙江大学".into())
        );
        assert_eq!(
            school_in("Stanford University, B.S. Computer Science"),
            Some("Stanford University".into())
        );
        assert_eq!(
            school_in("University of Oxford | MSc"),
            Some("University of Oxford".into())
        );
        assert_eq!(school_in("Google | Software Engineer"), None);
        // All-caps headings (Deedy, Jake's template), `in`/`at` inside the name.
        assert_eq!(
            school_in("GEORGIA INSTITUTE OF TECHNOLOGY | BS COMPUTER SCIENCE"),
            Some("GEORGIA INSTITUTE OF TECHNOLOGY".into())
        );
        assert_eq!(
            school_in("The University of Texas at Austin, Mechanical Engineering"),
            Some("The University of Texas at Austin".into())
        );
        assert_eq!(
            school_in("Washington University in St. Louis"),
            Some("Washington University in St. Louis".into())
        );
        assert_eq!(
            school_in("STANFORD UNIVERSITY"),
            Some("STANFORD UNIVERSITY".into())
        );
    }

    #[test]
    fn companies_and_titles() {
        assert!(is_company("阿里巴巴集团"));
        assert!(is_company("上海某某网络科技有限公司"));
        assert!(is_company("Google"));
        assert!(is_company("Acme Technologies Inc."));
        assert!(is_title("高级后端开发工程师"));
        assert!(is_title("Senior Software Engineer"));
        assert!(!is_title("Acme Technologies"));
        assert!(!is_company("Senior Software Engineer"));
    }
}
