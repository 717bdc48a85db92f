//! Relay-style paging, the same in every subgraph: the `PageInfo` GraphQL type (`@shareable`,
//! so its field set must be identical wherever it is served, hence one definition), the opaque
//! cursor codec, and the page-size rule.
//!
//! A cursor is `base64url("<kind>:<key>")` without padding. `kind` names the list it pages
//! (`user`, `resume`, `job`, `run`, `text`), so a cursor from one list is refused by another;
//! `key` is the keyset position (the last row's id) or, for a list that needs more, whatever
//! its subgraph puts there. Cursors are opaque to clients but not signed: a decoded key is
//! untrusted input, bounded in length here and compared or range-checked by the subgraph.
//!
//! Knows no row type and touches no database; subgraphs map [`PageError`] onto their own
//! invalid-input error (`BAD_USER_INPUT` naming the argument).

use crate::{CodedError, ErrorCode};
use async_graphql::SimpleObject;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The largest `first` a list accepts unless it documents its own limit.
pub const MAX_PAGE_SIZE: u64 = 100;
/// The longest key a cursor carries, in bytes (ids are 36-character UUIDs).
pub const MAX_KEY_BYTES: usize = 128;
/// The longest cursor accepted, in characters; longer input is refused before decoding.
pub const MAX_CURSOR_CHARS: usize = 256;
const MAX_KIND_BYTES: usize = 32;

/// Relay page information, shared by every subgraph's connections.
#[derive(Clone, Debug, Default, PartialEq, Eq, SimpleObject)]
#[graphql(shareable)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

/// A paging argument a client got wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("invalid `after`: not a cursor this API returned")]
    Cursor,
    #[error("invalid `first`: must be between 1 and {max}")]
    Size { max: u64 },
}

impl PageError {
    /// The argument at fault: `after` or `first`.
    pub fn argument(&self) -> &'static str {
        match self {
            PageError::Cursor => "after",
            PageError::Size { .. } => "first",
        }
    }

    /// What is wrong with the argument, without its name.
    pub fn problem(&self) -> String {
        match self {
            PageError::Cursor => "not a cursor this API returned".to_owned(),
            PageError::Size { max } => format!("must be between 1 and {max}"),
        }
    }
}

impl CodedError for PageError {
    fn code(&self) -> ErrorCode {
        ErrorCode::BadUserInput
    }
}

/// `first` checked against the shared limit, 1 to [`MAX_PAGE_SIZE`].
pub fn page_size(first: i32) -> Result<u64, PageError> {
    page_size_up_to(first.into(), MAX_PAGE_SIZE)
}

/// `first` checked against a list's own limit, 1 to `max`.
pub fn page_size_up_to(first: i64, max: u64) -> Result<u64, PageError> {
    u64::try_from(first)
        .ok()
        .filter(|size| (1..=max).contains(size))
        .ok_or(PageError::Size { max })
}

/// The cursors of one paged list, e.g. `CursorKind::new("resume")`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CursorKind(&'static str);

impl CursorKind {
    /// `name`: 1 to 32 lowercase ASCII letters or `_` (checked at compile time in a `const`).
    pub const fn new(name: &'static str) -> CursorKind {
        let bytes = name.as_bytes();
        assert!(
            !bytes.is_empty() && bytes.len() <= MAX_KIND_BYTES,
            "a cursor kind has 1 to 32 characters"
        );
        let mut i = 0;
        while i < bytes.len() {
            assert!(
                bytes[i].is_ascii_lowercase() || bytes[i] == b'_',
                "a cursor kind is lowercase ASCII letters or `_`"
            );
            i += 1;
        }
        CursorKind(name)
    }

    /// The cursor pointing after `key` (at most [`MAX_KEY_BYTES`]; ids always are).
    pub fn encode(self, key: &str) -> String {
        debug_assert!(
            !key.is_empty() && key.len() <= MAX_KEY_BYTES,
            "cursor key of {} bytes",
            key.len()
        );
        URL_SAFE_NO_PAD.encode(format!("{}:{key}", self.0))
    }

    /// The key of a cursor this kind encoded; [`PageError::Cursor`] for anything else (another
    /// kind, not base64url, too long, an empty key or control characters).
    pub fn decode(self, cursor: &str) -> Result<String, PageError> {
        if cursor.len() > MAX_CURSOR_CHARS {
            return Err(PageError::Cursor);
        }
        let text = URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(PageError::Cursor)?;
        let key = text
            .strip_prefix(self.0)
            .and_then(|rest| rest.strip_prefix(':'))
            .ok_or(PageError::Cursor)?;
        if key.is_empty() || key.len() > MAX_KEY_BYTES || key.chars().any(char::is_control) {
            return Err(PageError::Cursor);
        }
        Ok(key.to_owned())
    }

    /// Splits the rows of a keyset query that asked for `size + 1` into the page (at most
    /// `size` rows) and its [`PageInfo`], the end cursor encoding the last row's `key`.
    pub fn page<T>(
        self,
        mut rows: Vec<T>,
        size: u64,
        key: impl Fn(&T) -> &str,
    ) -> (Vec<T>, PageInfo) {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let has_next_page = rows.len() > size;
        rows.truncate(size);
        let end_cursor = rows.last().map(|row| self.encode(key(row)));
        (
            rows,
            PageInfo {
                has_next_page,
                end_cursor,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESUME: CursorKind = CursorKind::new("resume");
    const JOB: CursorKind = CursorKind::new("job");

    #[test]
    fn cursors_round_trip_and_stay_url_safe() {
        let id = "01890a5d-ac96-774b-bcce-b302099a8057";
        let cursor = RESUME.encode(id);
        assert!(
            cursor
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{cursor}"
        );
        assert_eq!(RESUME.decode(&cursor), Ok(id.to_owned()));
        // The wire format the subgraphs have always used: clients' stored cursors stay valid.
        assert_eq!(RESUME.encode("r1"), URL_SAFE_NO_PAD.encode("resume:r1"));
    }

    #[test]
    fn foreign_and_malformed_cursors_are_refused() {
        let job = JOB.encode("j1");
        assert_eq!(RESUME.decode(&job), Err(PageError::Cursor));
        let long = URL_SAFE_NO_PAD.encode(format!("resume:{}", "x".repeat(MAX_KEY_BYTES + 1)));
        let huge = "A".repeat(MAX_CURSOR_CHARS + 1);
        let padded = format!("{}=", RESUME.encode("r1"));
        for bad in [
            "",
            "garbage!",
            "01890a5d-ac96-774b-bcce-b302099a8057",
            &URL_SAFE_NO_PAD.encode("resume:"),
            &URL_SAFE_NO_PAD.encode("resume"),
            &URL_SAFE_NO_PAD.encode("resume:a\nb"),
            &URL_SAFE_NO_PAD.encode("resumes:r1"),
            &base64::engine::general_purpose::STANDARD.encode("resume:r1??"),
            &padded,
            &long,
            &huge,
        ] {
            assert_eq!(RESUME.decode(bad), Err(PageError::Cursor), "{bad:?}");
        }
    }

    #[test]
    fn pages_split_off_the_probe_row() {
        let rows = vec!["a", "b", "c"];
        let (page, info) = JOB.page(rows.clone(), 2, |r| r);
        assert_eq!(page, ["a", "b"]);
        assert!(info.has_next_page);
        assert_eq!(
            info.end_cursor.as_deref().map(|c| JOB.decode(c)),
            Some(Ok("b".into()))
        );
        let (page, info) = JOB.page(rows, 3, |r| r);
        assert_eq!(page.len(), 3);
        assert!(!info.has_next_page);
        let (page, info) = JOB.page(Vec::<&str>::new(), 3, |r| r);
        assert!(page.is_empty());
        assert_eq!(info, PageInfo::default());
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(1), Ok(1));
        assert_eq!(page_size(100), Ok(100));
        for bad in [0, -1, 101, i32::MIN, i32::MAX] {
            let error = page_size(bad).unwrap_err();
            assert_eq!(error.argument(), "first");
            assert_eq!(
                error.to_string(),
                "invalid `first`: must be between 1 and 100"
            );
            assert_eq!(error.code(), ErrorCode::BadUserInput);
        }
        assert_eq!(page_size_up_to(200, 200), Ok(200));
        assert_eq!(page_size_up_to(201, 200), Err(PageError::Size { max: 200 }));
        assert_eq!(PageError::Cursor.argument(), "after");
    }
}
