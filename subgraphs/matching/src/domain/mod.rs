//! Pure matching rules: the score and its explanation (`score`), weights (`weights`) and the
//! hard filters (`filters`). No I/O; the service feeds them what the stores and search return.

pub mod filters;
pub mod score;
pub mod weights;
