//! PDF text through a fallback chain:
//! 1. `pdf-extract`, inside `catch_unwind`: it panics on CJK fonts without a ToUnicode map;
//! 2. lopdf's own text extraction;
//! 3. our content-stream reader, which decodes CID fonts whose CMap *is* Unicode
//!    (`UniGB-UCS2-H`, `UniGB-UTF16-H`, ...: common in Chinese PDFs made with standard CJK
//!    fonts, which carry no ToUnicode map but whose string bytes are UTF-16 code units).
//!
//! The first result that passes the quality check wins; if none does, the document needs OCR.

use super::{ExtractError, Extracted, assess};
use lopdf::content::Content;
use lopdf::{Document, Object};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Panics inside pdf-extract are expected (and caught): keep them out of stderr, which the
/// default hook would fill with a message and backtrace per CJK PDF. Every other panic still
/// reaches the previous hook.
fn quiet_pdf_extract_panics() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_pdf_extract = info
                .location()
                .is_some_and(|l| l.file().contains("pdf-extract"));
            if in_pdf_extract {
                tracing::debug!(panic = %info, "pdf-extract panicked (caught)");
            } else {
                previous(info);
            }
        }));
    });
}

pub fn extract(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    quiet_pdf_extract_panics();
    let mut last_problem = String::from("no text layer");
    match catch_unwind(AssertUnwindSafe(|| {
        pdf_extract::extract_text_from_mem(bytes)
    })) {
        Ok(Ok(text)) => match assess(&text) {
            Ok(()) => {
                return Ok(Extracted {
                    text,
                    method: "pdf-extract",
                });
            }
            Err(problem) => last_problem = problem.to_string(),
        },
        Ok(Err(error)) => tracing::debug!(%error, "pdf-extract failed; trying lopdf"),
        Err(_) => tracing::debug!("pdf-extract panicked; trying lopdf"),
    }
    let document = Document::load_mem(bytes)
        .map_err(|e| ExtractError::Invalid(format!("damaged or unreadable PDF ({e})")))?;
    if document.is_encrypted() {
        return Err(ExtractError::Invalid(
            "the PDF is password-protected; upload an unprotected copy".into(),
        ));
    }
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    if let Ok(text) = document.extract_text(&pages) {
        match assess(&text) {
            Ok(()) => {
                return Ok(Extracted {
                    text,
                    method: "lopdf",
                });
            }
            Err(problem) => last_problem = problem.to_string(),
        }
    }
    let text = unicode_cmap_text(&document);
    match assess(&text) {
        Ok(()) => Ok(Extracted {
            text,
            method: "pdf-ucs2",
        }),
        Err(ExtractError::NeedsOcr(reason)) if !text.trim().is_empty() => {
            Err(ExtractError::NeedsOcr(reason))
        }
        Err(_) => Err(ExtractError::NeedsOcr(last_problem)),
    }
}

/// How the bytes of a string shown in a font map to characters.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FontDecoding {
    /// Two-byte big-endian UTF-16 (Unicode CMaps).
    Utf16,
    /// A simple font: one byte per character, Latin-1 is the best guess.
    SingleByte,
    /// CIDs without a way to Unicode.
    Opaque,
}

fn font_decodings(document: &Document, page: lopdf::ObjectId) -> BTreeMap<Vec<u8>, FontDecoding> {
    let mut decodings = BTreeMap::new();
    let Ok(fonts) = document.get_page_fonts(page) else {
        return decodings;
    };
    for (name, font) in fonts {
        let encoding = font
            .get(b"Encoding")
            .ok()
            .and_then(|e| e.as_name().ok())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let subtype = font
            .get(b"Subtype")
            .ok()
            .and_then(|s| s.as_name().ok())
            .unwrap_or(b"");
        let decoding = if encoding.contains("UCS2") || encoding.contains("UTF16") {
            FontDecoding::Utf16
        } else if subtype == b"Type0" {
            FontDecoding::Opaque
        } else {
            FontDecoding::SingleByte
        };
        decodings.insert(name, decoding);
    }
    decodings
}

fn decode_string(bytes: &[u8], decoding: FontDecoding, out: &mut String) {
    match decoding {
        FontDecoding::Utf16 => {
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|pair| u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]))
                .collect();
            out.extend(char::decode_utf16(units).map(|c| c.unwrap_or('\u{FFFD}')));
        }
        FontDecoding::SingleByte => out.extend(bytes.iter().map(|&b| char::from(b))),
        FontDecoding::Opaque => out.extend(std::iter::repeat_n('\u{FFFD}', bytes.len() / 2)),
    }
}

/// Text shown by every page's content stream, one line per text line (a vertical move).
fn unicode_cmap_text(document: &Document) -> String {
    let mut out = String::new();
    for (_, page) in document.get_pages() {
        let decodings = font_decodings(document, page);
        let Ok(content) = document.get_page_content(page) else {
            continue;
        };
        let Ok(content) = Content::decode(&content) else {
            continue;
        };
        let mut decoding = FontDecoding::SingleByte;
        let mut last_y: Option<f32> = None;
        for operation in content.operations {
            let operands = &operation.operands;
            match operation.operator.as_str() {
                "Tf" => {
                    if let Some(Ok(name)) = operands.first().map(Object::as_name) {
                        decoding = decodings
                            .get(name)
                            .copied()
                            .unwrap_or(FontDecoding::SingleByte);
                    }
                }
                "Td" | "TD" => {
                    let ty = operands.get(1).and_then(number).unwrap_or(0.0);
                    if ty.abs() > 0.01 {
                        out.push('\n');
                    }
                }
                "Tm" => {
                    let y = operands.get(5).and_then(number);
                    if y.is_some() && last_y.is_some() && y != last_y {
                        out.push('\n');
                    }
                    last_y = y;
                }
                "T*" => out.push('\n'),
                "Tj" | "'" | "\"" => {
                    if matches!(operation.operator.as_str(), "'" | "\"") {
                        out.push('\n');
                    }
                    if let Some(Object::String(bytes, _)) = operands.last() {
                        decode_string(bytes, decoding, &mut out);
                    }
                }
                "TJ" => {
                    if let Some(Object::Array(items)) = operands.first() {
                        for item in items {
                            match item {
                                Object::String(bytes, _) => {
                                    decode_string(bytes, decoding, &mut out)
                                }
                                other => {
                                    if number(other).is_some_and(|n| n < -250.0) {
                                        out.push(' ');
                                    }
                                }
                            }
                        }
                    }
                }
                "ET" => out.push(' '),
                _ => {}
            }
        }
        out.push('\n');
    }
    out
}

fn number(object: &Object) -> Option<f32> {
    match object {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_pdf_is_invalid_not_a_panic() {
        let bytes = b"%PDF-1.4\n1 0 obj << /Type /Catalog";
        assert!(matches!(extract(bytes), Err(ExtractError::Invalid(_))));
    }

    #[test]
    fn utf16_strings_decode() {
        let mut out = String::new();
        decode_string(&[0x5F, 0x20, 0x4F, 0x1F], FontDecoding::Utf16, &mut out);
        assert_eq!(out, "张伟");
    }
}
