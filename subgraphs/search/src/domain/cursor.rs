//! Opaque page cursors for text search. A cursor carries the offset of the next page and a
//! fingerprint of the search it came from, so a cursor replayed against a different query or
//! filter is refused instead of silently paging through something else.

use crate::SearchError;
use base64::Engine;
use sha2::{Digest, Sha256};

const PREFIX: &str = "text:";

/// A short digest of everything that defines a result list (collection, query, filters...).
pub fn fingerprint(parts: &serde_json::Value) -> String {
    let digest = Sha256::digest(parts.to_string().as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

pub fn encode(offset: usize, fingerprint: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{PREFIX}{offset}:{fingerprint}"))
}

/// The offset a cursor points at; `BAD_USER_INPUT` for anything this API did not return for
/// the same search.
pub fn decode(cursor: &str, fingerprint: &str) -> Result<usize, SearchError> {
    let malformed = || SearchError::invalid("after", "not a cursor this API returned");
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(malformed)?;
    let rest = text.strip_prefix(PREFIX).ok_or_else(malformed)?;
    let (offset, print) = rest.split_once(':').ok_or_else(malformed)?;
    let offset: usize = offset.parse().map_err(|_| malformed())?;
    if print != fingerprint {
        return Err(SearchError::invalid(
            "after",
            "this cursor belongs to a different search (query, collection or filters changed)",
        ));
    }
    Ok(offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_and_mismatch() {
        let a = fingerprint(&json!(["resumes", "java"]));
        let b = fingerprint(&json!(["resumes", "rust"]));
        assert_ne!(a, b);
        let cursor = encode(40, &a);
        assert_eq!(decode(&cursor, &a).ok(), Some(40));
        let error = decode(&cursor, &b).unwrap_err().to_string();
        assert!(error.contains("different search"), "{error}");
        for bad in ["", "!!!", "dGV4dDo=", "dGV4dDp4OnU"] {
            assert!(decode(bad, &a).is_err(), "{bad}");
        }
    }
}
