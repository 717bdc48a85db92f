//! Generations of entities, the router's entity cache's way of forgetting.
//!
//! Every entity the router caches (a `Resume` as the resume subgraph answered it, say) is
//! stored under a key that includes its entity's current *generation*: a random token kept in
//! the shared cache under [`generation_key`]. A subgraph that changes an entity calls
//! [`invalidate`], which gives the entity a new generation, so every answer cached for it —
//! by any router replica, for any selection and caller — is never read again and expires on
//! its own. A generation that is missing (never set, expired or evicted) is created with a
//! fresh token on the next read, which orphans whatever was cached before: losing a generation
//! costs a miss, never a stale answer. An answer fetched before a change but stored after it
//! is stored under the old generation, so it is not read either.
//!
//! The router and the subgraphs must share the cache for this to reach the router: Redis in
//! production, the one process of `looma dev` otherwise.

use crate::{Cache, CacheError};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The longest an entity answer may stay cached (the router's config is checked against it).
pub const MAX_ENTRY_TTL: Duration = Duration::from_secs(24 * 3600);

/// How long a generation is kept after it was set; when it goes, a new one orphans every
/// answer cached under it (so the time only needs to be long enough to keep hits coming).
pub const GENERATION_TTL: Duration = Duration::from_secs(2 * 24 * 3600);

/// Where an entity's generation is kept: its type and a digest of its key fields, written as
/// canonical JSON (object members sorted), so `{"id": "r1"}` built by a subgraph and the key
/// the router reads from a representation name the same generation.
pub fn generation_key(typename: &str, key: &Value) -> String {
    let mut canonical = Vec::new();
    write_canonical(key, &mut canonical);
    let digest = Sha256::digest(&canonical);
    format!("entity-gen:{typename}:{}", hex::encode(&digest[..16]))
}

/// A new generation token.
pub fn new_generation() -> Vec<u8> {
    uuid::Uuid::new_v4().simple().to_string().into_bytes()
}

/// Forgets every cached answer about one entity: call it after changing the entity (in a
/// mutation, or in background work such as a parse finishing). `key` holds the entity's key
/// fields, e.g. `{"id": "…"}`.
pub async fn invalidate(cache: &dyn Cache, typename: &str, key: &Value) -> Result<(), CacheError> {
    cache
        .set(
            &generation_key(typename, key),
            &new_generation(),
            GENERATION_TTL,
        )
        .await
}

/// [`invalidate`] for the `id`-keyed entities of a subgraph, logging a failure instead of
/// returning it: the change itself has been made, and the cached answers then expire with
/// their time to live.
pub async fn invalidate_by_id(cache: Option<&dyn Cache>, typename: &str, id: &str) {
    let Some(cache) = cache else { return };
    let key = serde_json::json!({ "id": id });
    if let Err(error) = invalidate(cache, typename, &key).await {
        tracing::warn!(%error, typename, id, "could not invalidate the entity's cached answers; they expire with their ttl");
    }
}

/// JSON with object members in sorted order and no spaces.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(&Value::String(name.clone()), out);
                out.push(b':');
                write_canonical(member, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalCache;
    use serde_json::json;

    #[test]
    fn the_key_does_not_depend_on_member_order() {
        let a = json!({"id": "r1", "org": {"b": 2, "a": 1}});
        let b: Value = serde_json::from_str(r#"{"org":{"a":1,"b":2},"id":"r1"}"#).unwrap();
        assert_eq!(generation_key("Resume", &a), generation_key("Resume", &b));
        assert_ne!(
            generation_key("Resume", &a),
            generation_key("Job", &a),
            "the type is part of the key"
        );
        assert_ne!(
            generation_key("Resume", &json!({"id": "r1"})),
            generation_key("Resume", &json!({"id": "r2"}))
        );
    }

    #[tokio::test]
    async fn invalidating_changes_the_generation_readers_see() {
        let cache = LocalCache::new("t:", 1 << 20);
        let key = generation_key("Resume", &json!({"id": "r1"}));
        let read = |candidate: &'static [u8]| {
            let cache = &cache;
            let key = key.clone();
            async move {
                cache
                    .get_or_insert_many(&[key], &[candidate.to_vec()], GENERATION_TTL)
                    .await
                    .unwrap()
                    .remove(0)
            }
        };
        let first = read(b"g1").await;
        assert_eq!(first, b"g1", "a missing generation is created");
        assert_eq!(read(b"g2").await, b"g1", "and then kept");
        invalidate_by_id(Some(&cache), "Resume", "r1").await;
        let after = read(b"g3").await;
        assert_ne!(after, first, "a change moves the generation on");
        assert_ne!(after, b"g3", "to the token the change set");
    }
}
