//! The shared recruiting vocabulary of Looma: skills with aliases (Chinese and English), education
//! levels, CSCO 2022 job-title normalisation, bilingual city names, a jieba segmenter that keeps
//! domain words whole, and the workspace's one definition of CJK characters (`is_cjk_ideograph`,
//! `is_cjk`, `cjk_ideograph_share`).
//!
//! Used by the resume parser, the job matcher and the search engine so they agree on names.
//! All data is embedded at compile time (`data/`, built by `scripts/taxonomy/build.py` plus
//! hand-written tables) and indexed lazily once per process; nothing here does I/O or panics on
//! user input.

mod city;
mod education;
mod segment;
mod skills;
mod text;
mod titles;

pub use city::{
    City, CityMention, MAX_CITY_SPELLINGS, canonical_city, city_spellings, find_city_in,
    lookup_city,
};
pub use education::EducationLevel;
pub use segment::{Segmenter, is_known_school, user_dictionary};
pub use skills::{Skill, SkillMatch, SkillSource, SkillTaxonomy};
pub use text::{cjk_ideograph_share, is_cjk, is_cjk_ideograph, normalize_text};
pub use titles::{TitleMatch, csco_entries, csco_name, normalize_title};
