//! Text search's page cursors. Search pages by offset (a relevance ranking has no stable
//! keyset), so its cursor carries the offset of the next page plus a fingerprint of the search
//! it came from: a cursor replayed against a different query or filter is refused instead of
//! silently paging through something else. The encoding is `looma_core::page`'s codec with
//! the kind `text` and the key `<offset>:<fingerprint>`.

use crate::SearchError;
use looma_core::page::{CursorKind, PageError};
use sha2::{Digest, Sha256};

const TEXT_CURSOR: CursorKind = CursorKind::new("text");

/// A short digest of everything that defines a result list (collection, query, filters...).
pub fn fingerprint(parts: &serde_json::Value) -> String {
    let digest = Sha256::digest(parts.to_string().as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

pub fn encode(offset: usize, fingerprint: &str) -> String {
    TEXT_CURSOR.encode(&format!("{offset}:{fingerprint}"))
}

/// The offset a cursor points at; `BAD_USER_INPUT` for anything this API did not return for
/// the same search. The offset is not range-checked here (the caller bounds it).
pub fn decode(cursor: &str, fingerprint: &str) -> Result<usize, SearchError> {
    let malformed = || {
        let error = PageError::Cursor;
        SearchError::invalid(error.argument(), error.problem())
    };
    let key = TEXT_CURSOR.decode(cursor).map_err(|_| malformed())?;
    let (offset, print) = key.split_once(':').ok_or_else(malformed)?;
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
        let other_kind = CursorKind::new("resume").encode(&format!("40:{a}"));
        for bad in ["", "!!!", "dGV4dDo=", "dGV4dDp4OnU", &other_kind] {
            assert!(decode(bad, &a).is_err(), "{bad}");
        }
    }
}
