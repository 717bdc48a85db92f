//! Pure matching rules: the score and its explanation (`score`), weights (`weights`), the
//! hard filters (`filters`) and the blend behind recommendations (`recommend`). No I/O; the
//! service feeds them what the stores and search return.

pub mod filters;
pub mod recommend;
pub mod score;
pub mod weights;
