//! Hard filters: pairs that fail one are excluded, not just ranked lower.

use looma_taxonomy::canonical_city;

/// What the caller excludes. Empty means no constraint.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HardFilters {
    /// The other side's city must be one of these (remote jobs always pass).
    pub cities: Vec<String>,
    /// Jobs direction: only remote jobs (`true`) or only on-site ones (`false`).
    pub remote: Option<bool>,
    /// The job's salary range (or the candidate's expectation, when known) must overlap.
    pub salary_min: Option<f64>,
    pub salary_max: Option<f64>,
    /// Candidates with fewer years of experience are excluded.
    pub min_years: Option<f64>,
    /// Exclude pairs where the candidate has fewer years than the job's minimum.
    pub enforce_job_minimum_years: bool,
}

/// The side of a pair the filters look at.
pub struct Side<'a> {
    pub city: Option<&'a str>,
    pub remote: bool,
    pub salary_min: Option<f64>,
    pub salary_max: Option<f64>,
}

impl HardFilters {
    pub fn canonical(mut self) -> HardFilters {
        self.cities = self.cities.iter().map(|c| canonical_city(c)).collect();
        self.cities.dedup();
        self
    }

    /// Whether `other` (the job for `matchJobs`, the candidate for `matchCandidates`) passes.
    /// `candidate_years` and `job_min_years` decide the years rules.
    pub fn admits(
        &self,
        other: &Side<'_>,
        candidate_years: Option<f64>,
        job_min_years: Option<f64>,
    ) -> bool {
        if !self.cities.is_empty() && !other.remote {
            let Some(city) = other.city else {
                return false;
            };
            if !self.cities.contains(&canonical_city(city)) {
                return false;
            }
        }
        if let Some(remote) = self.remote
            && other.remote != remote
        {
            return false;
        }
        if self.salary_min.is_some() || self.salary_max.is_some() {
            let low = other.salary_min.or(other.salary_max);
            let high = other.salary_max.or(other.salary_min);
            if let (Some(low), Some(high)) = (low, high)
                && (self.salary_min.is_some_and(|min| high < min)
                    || self.salary_max.is_some_and(|max| low > max))
            {
                return false;
            }
        }
        if let Some(min) = self.min_years
            && candidate_years.is_none_or(|y| y < min)
        {
            return false;
        }
        if self.enforce_job_minimum_years
            && let Some(required) = job_min_years
            && candidate_years.is_none_or(|y| y < required)
        {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(city: Option<&str>, remote: bool, salary: Option<(f64, f64)>) -> Side<'_> {
        Side {
            city,
            remote,
            salary_min: salary.map(|s| s.0),
            salary_max: salary.map(|s| s.1),
        }
    }

    #[test]
    fn each_rule_excludes() {
        let f = HardFilters {
            cities: vec!["Shanghai".into()],
            ..Default::default()
        }
        .canonical();
        assert!(f.admits(&side(Some("上海"), false, None), None, None));
        assert!(
            f.admits(&side(Some("北京"), true, None), None, None),
            "remote passes"
        );
        assert!(!f.admits(&side(Some("北京"), false, None), None, None));
        assert!(!f.admits(&side(None, false, None), None, None));

        let f = HardFilters {
            remote: Some(true),
            ..Default::default()
        };
        assert!(!f.admits(&side(None, false, None), None, None));

        let f = HardFilters {
            salary_min: Some(30_000.0),
            ..Default::default()
        };
        assert!(!f.admits(&side(None, false, Some((10_000.0, 20_000.0))), None, None));
        assert!(f.admits(&side(None, false, Some((25_000.0, 35_000.0))), None, None));
        assert!(
            f.admits(&side(None, false, None), None, None),
            "unknown salary passes"
        );

        let f = HardFilters {
            min_years: Some(3.0),
            ..Default::default()
        };
        assert!(!f.admits(&side(None, false, None), Some(2.0), None));
        assert!(!f.admits(&side(None, false, None), None, None));
        let f = HardFilters {
            enforce_job_minimum_years: true,
            ..Default::default()
        };
        assert!(!f.admits(&side(None, false, None), Some(2.0), Some(5.0)));
        assert!(f.admits(&side(None, false, None), Some(6.0), Some(5.0)));
        assert!(f.admits(&side(None, false, None), Some(1.0), None));
    }

    /// Issue 12: a resume in "Zhengzhou" never matched a job filter "郑州" (the city table
    /// knew 21 cities and passed the others through unchanged).
    #[test]
    fn cities_match_in_either_language() {
        let f = HardFilters {
            cities: vec!["郑州".into()],
            ..Default::default()
        }
        .canonical();
        for city in ["Zhengzhou", "ZHENGZHOU", "郑州市", "鄭州"] {
            assert!(
                f.admits(&side(Some(city), false, None), None, None),
                "{city}"
            );
        }
        assert!(!f.admits(&side(Some("Zhuhai"), false, None), None, None));
        let f = HardFilters {
            cities: vec!["Zhengzhou".into(), "Peking".into()],
            ..Default::default()
        }
        .canonical();
        assert!(f.admits(&side(Some("郑州"), false, None), None, None));
        assert!(f.admits(&side(Some("北京市"), false, None), None, None));
        // A city the table does not know still matches its own spelling.
        let f = HardFilters {
            cities: vec!["Springfield".into()],
            ..Default::default()
        }
        .canonical();
        assert!(f.admits(&side(Some("Springfield"), false, None), None, None));
    }
}
