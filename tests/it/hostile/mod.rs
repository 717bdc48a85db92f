//! Hostile input: what an anonymous attacker (or a careless client) sends, and the bounded,
//! coded answer the platform gives instead of doing the work. One file per surface.

mod exposure;
mod identity;
mod router;
