//! Cities: names in either language mapped to one spelling, so `Zhengzhou`, `郑州`, `郑州市` and
//! `鄭州` compare equal, and cities found in free text (resume lines).
//!
//! The table is `data/cities.tsv` (its header explains the columns): every prefecture-level city
//! of mainland China plus the municipalities, Hong Kong, Macau, the large Taiwanese cities, the
//! world cities the CRM sees and `Remote`, parsed once per process. Cities in China (including
//! Hong Kong, Macau and Taiwan) are canonically named in simplified Chinese, others in English.
//!
//! Free text is searched more carefully than names are looked up, because many Chinese city
//! names are also everyday words or given names:
//! - Latin spellings need word boundaries and a capital first letter (`xian.li@example.com`
//!   is not Xi'an);
//! - rows marked `bounded` (中山, 吉林, 长治, 三明, Jinhua, ...) must stand on their own: in
//!   Chinese, no Han character right before (except a province, 省 or 在/于/居/住/驻) and none
//!   right after (except 市), so 中山大学 and 三明治 are not cities; in Latin script, no
//!   capitalised word joined by a space on either side, so "Li Jinhua" is a person;
//! - `lookup` rows and `=` spellings (Remote, HK, NYC) are never searched.

use std::collections::HashMap;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use unicode_normalization::UnicodeNormalization;

use crate::text::{is_cjk, is_cjk_ideograph};

const CITIES_TSV: &str = include_str!("../data/cities.tsv");

/// [`city_spellings`] returns at most this many values per city: the matching service sends up
/// to 8 cities' spellings to search, which accepts 50 filter values.
pub const MAX_CITY_SPELLINGS: usize = 6;

/// Province short names (space-separated) that may stand right before a bounded city name
/// ("浙江金华").
const PROVINCES: &str = "河北 山西 内蒙古 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 \
                         湖南 广东 广西 海南 四川 贵州 云南 西藏 陕西 甘肃 青海 宁夏 新疆 台湾";

/// Han characters that may stand right before a bounded city name: 省 ends a province ("吉林省
/// 四平"), the others say where someone lives or works ("现居金华", "驻吉林").
const HAN_BEFORE: &[char] = &['省', '在', '于', '居', '住', '驻'];

/// Capitalised words that may follow a bounded Latin name without making it part of a longer
/// name ("Jinhua City", "Jinhua China").
const LATIN_AFTER: &[&str] = &["city", "china"];

/// How free text may mention a city (the `scan` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scan {
    Anywhere,
    Bounded,
    LookupOnly,
}

/// One row of the city table.
#[derive(Debug, PartialEq, Eq)]
pub struct City {
    chinese: &'static str,
    english: &'static str,
    region: &'static str,
    scan: Scan,
    /// More spellings, with whether free text is searched for them.
    others: Vec<(&'static str, bool)>,
}

impl City {
    /// The name every spelling maps to: Chinese for cities in China, Hong Kong, Macau and
    /// Taiwan, English otherwise.
    pub fn canonical(&self) -> &'static str {
        if self.is_chinese_speaking() {
            self.chinese
        } else {
            self.english
        }
    }

    /// Simplified Chinese name, without 市.
    pub fn chinese(&self) -> &'static str {
        self.chinese
    }

    /// English name as usually written (`Xi'an`, `Hong Kong`, `Suzhou, Anhui`).
    pub fn english(&self) -> &'static str {
        self.english
    }

    /// ISO 3166-2 province code for mainland China (`CN-ZJ`), else an ISO 3166-1 country code.
    pub fn region(&self) -> &'static str {
        self.region
    }

    /// Whether the name is found anywhere in free text (a distinctive name such as 上海 or
    /// 石家庄), not only where it stands on its own (中山, 吉林).
    pub fn is_distinctive(&self) -> bool {
        self.scan == Scan::Anywhere
    }

    fn is_chinese_speaking(&self) -> bool {
        self.region.starts_with("CN-") || matches!(self.region, "HK" | "MO" | "TW")
    }

    /// Mainland and Taiwanese cities are also written with the 市 ("city") suffix.
    fn takes_shi(&self) -> bool {
        self.region.starts_with("CN-") || self.region == "TW"
    }

    /// Every spelling, with whether free text is searched for it (the 市 forms are derived).
    fn names(&self) -> Vec<(String, bool)> {
        let searched = self.scan != Scan::LookupOnly;
        let mut names = vec![(self.chinese.to_owned(), searched)];
        names.push((self.english.to_owned(), searched));
        for (other, other_searched) in &self.others {
            names.push(((*other).to_owned(), searched && *other_searched));
        }
        if self.takes_shi() {
            let han: Vec<(String, bool)> = names
                .iter()
                .filter(|(name, _)| name.chars().any(is_cjk_ideograph))
                .map(|(name, searched)| (format!("{name}市"), *searched))
                .collect();
            names.extend(han);
        }
        names
    }

    /// The values a stored city field is likely to hold for this city, canonical first.
    fn filter_spellings(&self) -> Vec<String> {
        let mut spellings = vec![self.canonical().to_owned(), self.chinese.to_owned()];
        if self.takes_shi() {
            spellings.push(format!("{}市", self.chinese));
        }
        if let Some((traditional, _)) = self
            .others
            .iter()
            .find(|(other, _)| other.chars().any(is_cjk_ideograph))
        {
            spellings.push((*traditional).to_owned());
        }
        spellings.push(self.english.to_owned());
        spellings.push(self.english.to_lowercase());
        let mut unique: Vec<String> = Vec::with_capacity(spellings.len());
        for spelling in spellings {
            if !unique.contains(&spelling) {
                unique.push(spelling);
            }
        }
        unique.truncate(MAX_CITY_SPELLINGS);
        unique
    }
}

/// A city found in free text by [`find_city_in`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CityMention {
    pub city: &'static City,
    /// Byte offsets of the mention in the text (a 市 suffix included).
    pub start: usize,
    pub end: usize,
    /// Written in Chinese characters (else in Latin script).
    pub in_chinese: bool,
}

impl CityMention {
    /// The city's name in the language of the text: `郑州` for 郑州市 or 鄭州, `Zhengzhou` for
    /// ZHENGZHOU.
    pub fn name(&self) -> &'static str {
        if self.in_chinese {
            self.city.chinese
        } else {
            self.city.english
        }
    }

    /// Whether the mention is the whole of `text` (`上海`, `上海市`, `Xi'an`).
    pub fn is_whole(&self, text: &str) -> bool {
        self.start == 0 && self.end == text.len()
    }
}

/// A pattern of the free-text automaton.
struct Pattern {
    text: String,
    city: usize,
    latin: bool,
    /// Ends with 市, which settles that the name is meant as a city.
    shi: bool,
}

struct CityTable {
    cities: Vec<City>,
    by_key: HashMap<String, usize>,
    patterns: Vec<Pattern>,
    finder: AhoCorasick,
}

/// What is wrong with a table: rows that could not be read, spellings of two cities.
#[derive(Debug, Default)]
struct TableProblems {
    malformed: Vec<&'static str>,
    conflicts: Vec<String>,
}

impl TableProblems {
    fn is_empty(&self) -> bool {
        self.malformed.is_empty() && self.conflicts.is_empty()
    }
}

static TABLE: LazyLock<CityTable> = LazyLock::new(|| {
    let (table, problems) = CityTable::parse(CITIES_TSV);
    // The embedded table is checked by the tests; a debug build also says so at once.
    debug_assert!(problems.is_empty(), "data/cities.tsv: {problems:?}");
    table
});

impl CityTable {
    /// The table and its problems (the tests require none; a bad row is skipped, a spelling
    /// claimed twice stays with the first city).
    fn parse(tsv: &'static str) -> (CityTable, TableProblems) {
        let mut cities = Vec::new();
        let mut problems = TableProblems::default();
        for line in tsv.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
            let [chinese, english, region, scan, others] = cols[..] else {
                problems.malformed.push(line);
                continue;
            };
            let scan = match scan {
                "any" => Scan::Anywhere,
                "bounded" => Scan::Bounded,
                "lookup" => Scan::LookupOnly,
                _ => {
                    problems.malformed.push(line);
                    continue;
                }
            };
            if chinese.is_empty() || english.is_empty() || region.is_empty() {
                problems.malformed.push(line);
                continue;
            }
            let others = others
                .split('|')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| match s.strip_prefix('=') {
                    Some(lookup_only) => (lookup_only, false),
                    None => (s, true),
                })
                .collect();
            cities.push(City {
                chinese,
                english,
                region,
                scan,
                others,
            });
        }

        let mut by_key: HashMap<String, usize> = HashMap::new();
        let mut patterns: Vec<Pattern> = Vec::new();
        for (index, city) in cities.iter().enumerate() {
            let mut seen_patterns: Vec<String> = Vec::new();
            for (name, searched) in city.names() {
                let key = lookup_key(&name);
                match by_key.get(&key) {
                    Some(&owner) if owner != index => problems.conflicts.push(key),
                    Some(_) => {}
                    None => {
                        by_key.insert(key, index);
                    }
                }
                if !searched {
                    continue;
                }
                let latin = !name.chars().any(is_cjk_ideograph);
                let variants = if latin {
                    latin_variants(&name)
                } else {
                    vec![name.clone()]
                };
                for variant in variants {
                    let folded = variant.to_ascii_lowercase();
                    if seen_patterns.contains(&folded) {
                        continue;
                    }
                    seen_patterns.push(folded);
                    patterns.push(Pattern {
                        shi: !latin && variant.ends_with('市'),
                        text: variant,
                        city: index,
                        latin,
                    });
                }
            }
        }
        let finder = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(patterns.iter().map(|p| &p.text))
            .expect("city patterns build an automaton");
        let table = CityTable {
            cities,
            by_key,
            patterns,
            finder,
        };
        (table, problems)
    }

    fn lookup(&self, name: &str) -> Option<&City> {
        let key = lookup_key(name);
        if key.is_empty() {
            return None;
        }
        let index = self.by_key.get(&key).or_else(|| {
            // "Zhengzhou City", "新加坡市": a suffix the table does not list.
            key.strip_suffix('市')
                .or_else(|| key.strip_suffix("city"))
                .filter(|bare| !bare.is_empty())
                .and_then(|bare| self.by_key.get(bare))
        })?;
        self.cities.get(*index)
    }

    fn find_in(&'static self, text: &str) -> Option<CityMention> {
        let mut best: Option<CityMention> = None;
        for found in self.finder.find_overlapping_iter(text) {
            let (start, end) = (found.start(), found.end());
            let better = best.is_none_or(|b| start < b.start || (start == b.start && end > b.end));
            if !better {
                continue;
            }
            let pattern = &self.patterns[found.pattern().as_usize()];
            let city = &self.cities[pattern.city];
            if accepts(text, start, end, pattern, city) {
                best = Some(CityMention {
                    city,
                    start,
                    end,
                    in_chinese: !pattern.latin,
                });
            }
        }
        best
    }
}

/// Lookup key: compatibility-decomposed, diacritics dropped, lowercase, without spaces,
/// apostrophes, hyphens, dots, commas and middle dots (`Xi'an`, `XIAN`, `Xi’an` → `xian`).
fn lookup_key(name: &str) -> String {
    name.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .filter(|c| {
            !(c.is_whitespace()
                || matches!(
                    c,
                    '\'' | '’' | '‘' | 'ʼ' | '`' | '-' | '‐' | '‑' | '–' | '.' | ',' | '·' | '・'
                ))
        })
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}')
}

/// How a Latin spelling may be written in free text: as in the table, with a typographic or no
/// apostrophe (`Xi’an`, `Xian`), without spaces (`HongKong`), without diacritics (`Zurich`).
fn latin_variants(name: &str) -> Vec<String> {
    let folded: String = name.nfd().filter(|c| !is_combining_mark(*c)).collect();
    let mut variants = Vec::new();
    for base in [name.to_owned(), folded] {
        if base.contains('\'') {
            variants.push(base.replace('\'', "’"));
            variants.push(base.replace('\'', ""));
        }
        if base.contains(' ') && !base.contains(',') {
            variants.push(base.replace(' ', ""));
        }
        variants.push(base);
    }
    variants
}

/// Whether the match `start..end` of `pattern` in `text` is a mention of the city (see the
/// module documentation for the rules).
fn accepts(text: &str, start: usize, end: usize, pattern: &Pattern, city: &City) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    if pattern.latin {
        let is_latin_word_char = |c: char| c.is_alphanumeric() && !is_cjk(c);
        if !text[start..].starts_with(char::is_uppercase)
            || before.is_some_and(is_latin_word_char)
            || after.is_some_and(is_latin_word_char)
        {
            return false;
        }
        return city.scan != Scan::Bounded
            || !(capitalised_word_before(text, start) || capitalised_word_after(text, end));
    }
    if city.scan != Scan::Bounded || pattern.shi {
        return true;
    }
    let prefix = &text[..start];
    let left_ok = before.is_none_or(|c| !is_cjk_ideograph(c) || HAN_BEFORE.contains(&c))
        || prefix.ends_with("自治区")
        || PROVINCES
            .split_whitespace()
            .any(|province| prefix.ends_with(province));
    let right_ok = after.is_none_or(|c| !is_cjk_ideograph(c));
    left_ok && right_ok
}

/// "Li Jinhua": a capitalised word joined to the match by one space.
fn capitalised_word_before(text: &str, start: usize) -> bool {
    let Some(rest) = text[..start].strip_suffix(' ') else {
        return false;
    };
    let word = rest.rsplit(' ').next().unwrap_or_default();
    is_capitalised_word(word)
}

/// "Jinhua Li": a capitalised word joined to the match by one space ("Jinhua City" is fine).
fn capitalised_word_after(text: &str, end: usize) -> bool {
    let Some(rest) = text[end..].strip_prefix(' ') else {
        return false;
    };
    let word = rest
        .split(' ')
        .next()
        .unwrap_or_default()
        .trim_end_matches(|c: char| !c.is_alphanumeric());
    is_capitalised_word(word) && !LATIN_AFTER.contains(&word.to_lowercase().as_str())
}

fn is_capitalised_word(word: &str) -> bool {
    word.starts_with(char::is_uppercase) && word.chars().all(char::is_alphabetic)
}

/// The city a name means, in any listed spelling (case, spaces, apostrophes, diacritics and a
/// trailing 市 / City do not matter): `lookup_city("ZHENGZHOU")`, `lookup_city("鄭州市")`.
pub fn lookup_city(name: &str) -> Option<&'static City> {
    TABLE.lookup(name)
}

/// The canonical spelling of a city name, or the trimmed input when the city is not listed.
pub fn canonical_city(name: &str) -> String {
    match lookup_city(name) {
        Some(city) => city.canonical().to_owned(),
        None => name.trim().to_owned(),
    }
}

/// The spellings a stored city field is likely to hold for the city `name` means (canonical
/// first; Chinese, 市 and traditional forms, English as written and in lowercase), at most
/// [`MAX_CITY_SPELLINGS`], for filters against values written either way. An unknown name is
/// its only spelling.
pub fn city_spellings(name: &str) -> Vec<String> {
    match lookup_city(name) {
        Some(city) => city.filter_spellings(),
        None => vec![name.trim().to_owned()],
    }
}

/// The earliest city mentioned in `text` (the longest spelling when several start there), or
/// `None`. Expects text normalised by [`crate::normalize_text`] (full-width letters as ASCII).
pub fn find_city_in(text: &str) -> Option<CityMention> {
    TABLE.find_in(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Option<(&'static str, &str)> {
        find_city_in(text).map(|m| (m.name(), &text[m.start..m.end]))
    }

    #[test]
    fn both_languages_meet() {
        assert_eq!(canonical_city("Shanghai"), "上海");
        assert_eq!(canonical_city(" 上海市 "), "上海");
        assert_eq!(canonical_city("上海"), "上海");
        assert_eq!(canonical_city("SINGAPORE"), "Singapore");
        assert_eq!(canonical_city("新加坡"), "Singapore");
        assert_eq!(canonical_city("Denver"), "Denver");
        assert_eq!(canonical_city("Springfield"), "Springfield");
        let spellings = city_spellings("beijing");
        assert_eq!(spellings[0], "北京");
        assert!(spellings.contains(&"Beijing".to_owned()));
        assert!(spellings.contains(&"北京市".to_owned()));
    }

    /// Issue 12: a resume in "Zhengzhou" never met a job in "郑州".
    #[test]
    fn zhengzhou_is_zhengzhou_in_every_spelling() {
        for spelling in [
            "Zhengzhou",
            "ZHENGZHOU",
            "zhengzhou city",
            "Zhengzhou City",
            "郑州",
            "郑州市",
            "鄭州",
            "Chengchow",
        ] {
            assert_eq!(canonical_city(spelling), "郑州", "{spelling}");
        }
        assert!(city_spellings("郑州").contains(&"Zhengzhou".to_owned()));
    }

    #[test]
    fn romanisations_and_spacing_do_not_matter() {
        for (spelling, city) in [
            ("Peking", "北京"),
            ("Canton", "广州"),
            ("Amoy", "厦门"),
            ("Tientsin", "天津"),
            ("Xian", "西安"),
            ("xi’an", "西安"),
            ("XI-AN", "西安"),
            ("HongKong", "香港"),
            ("hong kong", "香港"),
            ("HK", "香港"),
            ("Macao", "澳门"),
            ("臺北市", "台北"),
            ("Urumqi", "乌鲁木齐"),
            ("Ürümqi", "乌鲁木齐"),
            ("Ma'anshan", "马鞍山"),
            ("Maanshan", "马鞍山"),
            ("Lvliang", "吕梁"),
            ("Luliang", "吕梁"),
            ("Zürich", "Zurich"),
            ("New York City", "New York"),
            ("NYC", "New York"),
            ("远程", "Remote"),
            ("remote", "Remote"),
            ("Ｓｈｅｎｚｈｅｎ", "深圳"),
        ] {
            assert_eq!(canonical_city(spelling), city, "{spelling}");
        }
    }

    #[test]
    fn shared_pinyin_goes_to_the_bigger_city_or_to_none() {
        assert_eq!(canonical_city("Suzhou"), "苏州");
        assert_eq!(canonical_city("Suzhou, Anhui"), "宿州");
        assert_eq!(canonical_city("Fuzhou"), "福州");
        assert_eq!(canonical_city("Fuzhou Jiangxi"), "抚州");
        assert_eq!(canonical_city("Yichun"), "宜春");
        assert_eq!(canonical_city("Yichun, Heilongjiang"), "伊春");
        assert_eq!(
            canonical_city("Taizhou"),
            "Taizhou",
            "ambiguous: passed through"
        );
        assert_eq!(canonical_city("Taizhou, Zhejiang"), "台州");
        assert_eq!(
            canonical_city("Yulin"),
            "Yulin",
            "ambiguous: passed through"
        );
        assert_eq!(canonical_city("Yulin, Shaanxi"), "榆林");
    }

    #[test]
    fn the_table_is_well_formed() {
        let (table, problems) = CityTable::parse(CITIES_TSV);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(problems.malformed.is_empty(), "{:?}", problems.malformed);
        assert!(
            problems.conflicts.is_empty(),
            "spellings of two cities: {:?}",
            problems.conflicts
        );
        let mainland = table
            .cities
            .iter()
            .filter(|c| c.region.starts_with("CN-"))
            .count();
        // 293 prefecture-level cities and 4 municipalities.
        assert_eq!(mainland, 297);
        for region in ["HK", "MO", "TW", "SG", "GB", "US"] {
            assert!(table.cities.iter().any(|c| c.region == region), "{region}");
        }
    }

    #[test]
    fn every_row_round_trips() {
        for city in &TABLE.cities {
            for (name, _) in city.names() {
                let back = lookup_city(&name).map(City::canonical);
                assert_eq!(back, Some(city.canonical()), "{name}");
            }
            for spelling in city.filter_spellings() {
                assert_eq!(canonical_city(&spelling), city.canonical(), "{spelling}");
            }
            assert!(city.filter_spellings().len() <= MAX_CITY_SPELLINGS);
            if city.scan != Scan::LookupOnly {
                // Every searched city is found when a line names it on its own.
                for text in [
                    city.chinese.to_owned(),
                    city.english.to_owned(),
                    format!("现居：{}", city.chinese),
                    format!("Location: {}, {}", city.english, city.region),
                ] {
                    let mention = find_city_in(&text);
                    assert_eq!(
                        mention.map(|m| m.city.canonical()),
                        Some(city.canonical()),
                        "{text}"
                    );
                }
            }
        }
    }

    #[test]
    fn searched_latin_spellings_are_not_abbreviations() {
        // Two-letter abbreviations ("LA", "HK") are looked up, never searched in free text.
        for pattern in TABLE.patterns.iter().filter(|p| p.latin) {
            assert!(pattern.text.chars().count() >= 4, "{}", pattern.text);
        }
    }

    #[test]
    fn finds_the_earliest_longest_city_in_a_line() {
        assert_eq!(found("张伟 | 郑州 | 138-0000-0000"), Some(("郑州", "郑州")));
        assert_eq!(found("现居:上海市浦东新区"), Some(("上海", "上海市")));
        assert_eq!(found("所在地:广东省深圳市"), Some(("深圳", "深圳市")));
        assert_eq!(
            found("Location: Zhengzhou, China"),
            Some(("Zhengzhou", "Zhengzhou"))
        );
        assert_eq!(found("Based in XI'AN"), Some(("Xi'an", "XI'AN")));
        assert_eq!(
            found("Hong Kong / Shenzhen"),
            Some(("Hong Kong", "Hong Kong"))
        );
        assert_eq!(found("安徽马鞍山"), Some(("马鞍山", "马鞍山")), "not 鞍山");
        assert_eq!(found("北京朝阳区"), Some(("北京", "北京")));
        assert_eq!(
            found("Suzhou, Anhui"),
            Some(("Suzhou, Anhui", "Suzhou, Anhui"))
        );
        assert_eq!(found("no city here"), None);
    }

    #[test]
    fn common_words_and_names_are_not_cities() {
        // 中山 in a university or a road, 三明 in a sandwich, 长治 in a saying, 吉林 the province.
        assert_eq!(found("2012-2016 中山大学 计算机"), None);
        assert_eq!(found("午餐吃三明治"), None);
        assert_eq!(found("长治久安"), None);
        assert_eq!(found("吉林省长春市"), Some(("长春", "长春市")));
        assert_eq!(found("吉林大学"), None);
        assert_eq!(found("德州扑克"), None);
        assert_eq!(found("在平台中负责推荐"), None, "台中 inside 平台中");
        // Standing on their own they are cities.
        assert_eq!(found("广东省中山市"), Some(("中山", "中山市")));
        assert_eq!(found("城市：中山"), Some(("中山", "中山")));
        assert_eq!(found("浙江金华"), Some(("金华", "金华")));
        assert_eq!(found("现居金华"), Some(("金华", "金华")));
        assert_eq!(found("吉林市"), Some(("吉林", "吉林市")));
        // Pinyin given names and e-mail addresses.
        assert_eq!(found("Li Jinhua"), None);
        assert_eq!(found("JINHUA LI"), None);
        assert_eq!(found("xian.li@example.com"), None);
        assert_eq!(found("Nanyang Technological University"), None);
        assert_eq!(found("Jinhua, Zhejiang"), Some(("Jinhua", "Jinhua")));
        assert_eq!(found("Jinhua City"), Some(("Jinhua", "Jinhua")));
        assert_eq!(found("Lixian"), None);
        // Lookup-only spellings are never searched.
        assert_eq!(found("HK$ 30,000"), None);
        assert_eq!(found("Remote"), None);
    }

    #[test]
    fn mentions_know_whether_they_are_the_whole_text() {
        let whole = |text: &str| find_city_in(text).is_some_and(|m| m.is_whole(text));
        assert!(whole("上海"));
        assert!(whole("上海市"));
        assert!(whole("Xi'an"));
        assert!(!whole("上海浦东"));
    }
}
