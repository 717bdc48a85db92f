//! What kind of document an upload is, decided from its bytes (magic numbers and content),
//! never from the name the client sent. The name only separates Markdown from plain text.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum DocumentFormat {
    Pdf,
    Docx,
    Txt,
    Html,
    Markdown,
    /// A photographed or scanned page (read by OCR).
    Png,
    Jpeg,
}

impl DocumentFormat {
    pub const fn as_str(self) -> &'static str {
        match self {
            DocumentFormat::Pdf => "PDF",
            DocumentFormat::Docx => "DOCX",
            DocumentFormat::Txt => "TXT",
            DocumentFormat::Html => "HTML",
            DocumentFormat::Markdown => "MARKDOWN",
            DocumentFormat::Png => "PNG",
            DocumentFormat::Jpeg => "JPEG",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            DocumentFormat::Pdf,
            DocumentFormat::Docx,
            DocumentFormat::Txt,
            DocumentFormat::Html,
            DocumentFormat::Markdown,
            DocumentFormat::Png,
            DocumentFormat::Jpeg,
        ]
        .into_iter()
        .find(|f| f.as_str() == value)
    }

    pub const fn mime_type(self) -> &'static str {
        match self {
            DocumentFormat::Pdf => "application/pdf",
            DocumentFormat::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            DocumentFormat::Txt => "text/plain",
            DocumentFormat::Html => "text/html",
            DocumentFormat::Markdown => "text/markdown",
            DocumentFormat::Png => "image/png",
            DocumentFormat::Jpeg => "image/jpeg",
        }
    }
}

/// Why bytes are not a resume we can read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("the file is empty")]
    Empty,
    #[error("{0} files are not supported; upload PDF, DOCX, TXT, HTML, Markdown, PNG or JPEG")]
    Unsupported(&'static str),
}

/// Detects the format from content. `filename` only distinguishes Markdown from plain text.
pub fn detect_format(bytes: &[u8], filename: &str) -> Result<DocumentFormat, FormatError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(FormatError::Empty);
    }
    let head = &bytes[..bytes.len().min(1024)];
    if find(head, b"%PDF-").is_some() {
        return Ok(DocumentFormat::Pdf);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(DocumentFormat::Png);
    }
    if bytes.starts_with(b"\xFF\xD8\xFF") {
        return Ok(DocumentFormat::Jpeg);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        // A DOCX is a zip whose central directory names word/document.xml; the name is stored
        // uncompressed, so a byte search is enough to tell DOCX from other zips.
        return if find(bytes, b"word/document.xml").is_some() {
            Ok(DocumentFormat::Docx)
        } else {
            Err(FormatError::Unsupported("ZIP archives other than DOCX"))
        };
    }
    const BINARY: &[(&[u8], &str)] = &[
        (
            b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
            "Legacy Word/Excel (.doc/.xls)",
        ),
        (b"GIF8", "GIF image"),
        (b"{\\rtf", "RTF"),
        (b"\x1F\x8B", "GZIP"),
        (b"Rar!", "RAR"),
        (b"7z\xBC\xAF", "7-Zip"),
    ];
    for (magic, name) in BINARY {
        if bytes.starts_with(magic) {
            return Err(FormatError::Unsupported(name));
        }
    }
    if !looks_like_text(head) {
        return Err(FormatError::Unsupported("Binary"));
    }
    let lower: String = String::from_utf8_lossy(head).to_lowercase();
    let trimmed = lower.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with("<!doctype html")
        || trimmed.starts_with("<html")
        || lower.contains("<body")
    {
        return Ok(DocumentFormat::Html);
    }
    let name = filename.to_lowercase();
    // A page fragment (a template's body without `<html>`) is still HTML when named so.
    if (name.ends_with(".html") || name.ends_with(".htm")) && lower.contains('<') {
        return Ok(DocumentFormat::Html);
    }
    if name.ends_with(".md") || name.ends_with(".markdown") {
        return Ok(DocumentFormat::Markdown);
    }
    Ok(DocumentFormat::Txt)
}

/// Text has no NUL bytes (except in UTF-16, recognised by its BOM) and few control characters.
fn looks_like_text(head: &[u8]) -> bool {
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return true;
    }
    let controls = head
        .iter()
        .filter(|&&b| b < 0x09 || (b > 0x0D && b < 0x20 && b != 0x1B))
        .count();
    controls * 100 <= head.len()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content_not_name() {
        assert_eq!(
            detect_format(b"%PDF-1.7\n...", "cv.txt"),
            Ok(DocumentFormat::Pdf)
        );
        assert_eq!(
            detect_format(b"\x89PNG\r\n\x1a\n....", "cv.pdf"),
            Ok(DocumentFormat::Png)
        );
        assert_eq!(
            detect_format(b"GIF89a....", "cv.png"),
            Err(FormatError::Unsupported("GIF image"))
        );
        assert_eq!(detect_format(b"   \n", "cv.pdf"), Err(FormatError::Empty));
        assert_eq!(
            detect_format("张伟\n电话".as_bytes(), "cv.pdf"),
            Ok(DocumentFormat::Txt)
        );
        assert_eq!(
            detect_format(b"# Jane Doe\n", "jane.md"),
            Ok(DocumentFormat::Markdown)
        );
        assert_eq!(
            detect_format(b"<!DOCTYPE html><html>", "jane.txt"),
            Ok(DocumentFormat::Html)
        );
        assert!(detect_format(b"PK\x03\x04rest-of-zip", "cv.docx").is_err());
        assert!(detect_format(&[0u8, 1, 2, 3, 4, 5, 6, 7], "cv.txt").is_err());
    }
}
