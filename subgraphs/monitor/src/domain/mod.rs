//! The monitor's pure rules, no I/O, no async, no clocks (time comes in as unix milliseconds):
//! `exposition` (Prometheus text format 0.0.4 → samples, histograms and their quantiles),
//! `rules` (the alert rules of the metrics contract and how one observation is judged),
//! `alerts` (pending → firing → resolved, de-duplicated, restorable after a restart),
//! `webhook` (the notification payload, its signature and the retry schedule).

pub mod alerts;
pub mod exposition;
pub mod rules;
pub mod webhook;
