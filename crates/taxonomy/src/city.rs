//! City names in either language mapped to one spelling, so `Shanghai`, `上海` and `上海市`
//! compare equal. Mainland cities map to their Chinese name; others keep an English name.

/// (canonical, other spellings, lowercase for Latin script).
const CITIES: &[(&str, &[&str])] = &[
    ("北京", &["beijing", "peking", "北京市"]),
    ("上海", &["shanghai", "上海市"]),
    ("深圳", &["shenzhen", "深圳市"]),
    ("广州", &["guangzhou", "canton", "广州市"]),
    ("杭州", &["hangzhou", "杭州市"]),
    ("成都", &["chengdu", "成都市"]),
    ("南京", &["nanjing", "南京市"]),
    ("武汉", &["wuhan", "武汉市"]),
    ("西安", &["xi'an", "xian", "西安市"]),
    ("苏州", &["suzhou", "苏州市"]),
    ("天津", &["tianjin", "天津市"]),
    ("重庆", &["chongqing", "重庆市"]),
    ("厦门", &["xiamen", "厦门市"]),
    ("长沙", &["changsha", "长沙市"]),
    ("青岛", &["qingdao", "青岛市"]),
    ("大连", &["dalian", "大连市"]),
    ("合肥", &["hefei", "合肥市"]),
    ("香港", &["hong kong", "hongkong", "hk"]),
    ("Singapore", &["singapore", "新加坡"]),
    ("London", &["london", "伦敦"]),
    ("Remote", &["remote", "远程", "远程办公", "anywhere"]),
];

/// The canonical spelling of a city name, or the trimmed input when the city is not listed.
pub fn canonical_city(name: &str) -> String {
    let trimmed = name.trim();
    let lower = trimmed.to_lowercase();
    for (canonical, others) in CITIES {
        if *canonical == trimmed || others.iter().any(|o| *o == lower || *o == trimmed) {
            return (*canonical).to_owned();
        }
    }
    trimmed.to_owned()
}

/// Every spelling of a city this module knows (the canonical one first), for filters against
/// stored values written either way.
pub fn city_spellings(name: &str) -> Vec<String> {
    let canonical = canonical_city(name);
    let mut spellings = vec![canonical.clone()];
    if let Some((_, others)) = CITIES.iter().find(|(c, _)| *c == canonical) {
        for other in others.iter() {
            let is_latin = other.is_ascii();
            if is_latin {
                // Stored values are usually capitalised: `Shanghai`, `Hong Kong`.
                let titled: String = other
                    .split(' ')
                    .map(|w| {
                        let mut chars = w.chars();
                        chars.next().map_or(String::new(), |f| {
                            f.to_uppercase().collect::<String>() + chars.as_str()
                        })
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                spellings.push(titled);
            }
            spellings.push((*other).to_owned());
        }
    }
    spellings.dedup();
    spellings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_meet() {
        assert_eq!(canonical_city("Shanghai"), "上海");
        assert_eq!(canonical_city(" 上海市 "), "上海");
        assert_eq!(canonical_city("上海"), "上海");
        assert_eq!(canonical_city("SINGAPORE"), "Singapore");
        assert_eq!(canonical_city("新加坡"), "Singapore");
        assert_eq!(canonical_city("Denver"), "Denver");
        let spellings = city_spellings("beijing");
        assert_eq!(spellings[0], "北京");
        assert!(spellings.contains(&"Beijing".to_owned()));
        assert!(spellings.contains(&"北京市".to_owned()));
    }
}
