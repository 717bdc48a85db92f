//! Bytes → plain text, per format, with a quality check: text that is empty or mostly garbage
//! is reported as [`ExtractError::NeedsOcr`] instead of being parsed into a fake profile.
//!
//! Pure and synchronous; the service runs it on a blocking thread under a time limit.

mod cid;

pub use cid::tables_available as cid_tables_available;
mod docx;
mod layout;
mod pdf;
mod text;

use crate::format::DocumentFormat;
use crate::ocr::Ocr;

/// Resource limits and engines for one extraction.
#[derive(Clone, Copy, Debug)]
pub struct ExtractLimits {
    /// Upper bound on the decompressed size of a DOCX's XML parts (zip bombs).
    pub max_decompressed_bytes: u64,
    /// Reads images and scanned PDFs; without it they end as [`ExtractError::NeedsOcr`].
    pub ocr: Option<&'static dyn Ocr>,
}

impl ExtractLimits {
    /// The limit, and OCR by the engine this machine has ([`crate::ocr::Tesseract::detect`])
    /// when `ocr` is on.
    pub fn new(max_decompressed_bytes: u64, ocr: bool) -> Self {
        ExtractLimits {
            max_decompressed_bytes,
            ocr: if ocr {
                crate::ocr::Tesseract::detect().map(|engine| engine as &'static dyn Ocr)
            } else {
                None
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    /// Which extractor produced the text (`pdf-extract`, `lopdf`, `pdf-ucs2`, `docx`, ...).
    pub method: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The document has no extractable text layer (scanned, outlined or undecodable).
    #[error("no readable text layer ({0}); the document needs OCR")]
    NeedsOcr(String),
    /// The document is damaged or violates a limit; retrying will not help.
    #[error("{0}")]
    Invalid(String),
}

pub fn extract_text(
    bytes: &[u8],
    format: DocumentFormat,
    limits: ExtractLimits,
) -> Result<Extracted, ExtractError> {
    let extracted = match format {
        DocumentFormat::Pdf => {
            return match pdf::extract(bytes) {
                Err(ExtractError::NeedsOcr(reason)) => match limits.ocr {
                    Some(engine) => pdf::ocr_pages(bytes, engine, &reason),
                    None => Err(ExtractError::NeedsOcr(format!(
                        "{reason}; {}",
                        crate::ocr::NOT_INSTALLED
                    ))),
                },
                other => other,
            };
        }
        DocumentFormat::Png | DocumentFormat::Jpeg => {
            let Some(engine) = limits.ocr else {
                return Err(ExtractError::NeedsOcr(format!(
                    "an image has no text layer; {}",
                    crate::ocr::NOT_INSTALLED
                )));
            };
            let (width, height) = crate::ocr::image_dimensions(bytes).ok_or_else(|| {
                ExtractError::Invalid("the image is damaged (no size in its header)".into())
            })?;
            crate::ocr::check_image_size(u64::from(width), u64::from(height))
                .map_err(|e| ExtractError::Invalid(e.to_string()))?;
            let text = engine
                .recognize(bytes)
                .map_err(|e| ExtractError::NeedsOcr(e.to_string()))?;
            Extracted {
                text,
                method: "ocr",
            }
        }
        DocumentFormat::Docx => Extracted {
            text: docx::extract(bytes, limits.max_decompressed_bytes)?,
            method: "docx",
        },
        DocumentFormat::Txt => Extracted {
            text: text::decode(bytes),
            method: "text",
        },
        DocumentFormat::Html => Extracted {
            text: text::html_to_text(&text::decode(bytes)),
            method: "html",
        },
        DocumentFormat::Markdown => Extracted {
            text: text::markdown_to_text(&text::decode(bytes)),
            method: "markdown",
        },
    };
    assess(&extracted.text)?;
    Ok(extracted)
}

/// Rejects text that cannot be a real document: too short, or mostly characters that real
/// resumes never contain (replacement characters, private-use glyph codes, control bytes).
pub(crate) fn assess(text: &str) -> Result<(), ExtractError> {
    let mut meaningful = 0usize;
    let mut garbage = 0usize;
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        if c == '\u{FFFD}' || ('\u{E000}'..='\u{F8FF}').contains(&c) || (c.is_control()) {
            garbage += 1;
        } else if c.is_alphanumeric() {
            meaningful += 1;
        }
    }
    if meaningful < 20 {
        return Err(ExtractError::NeedsOcr(format!(
            "only {meaningful} letters or digits found"
        )));
    }
    let total = meaningful + garbage;
    if garbage * 100 > total * 20 {
        return Err(ExtractError::NeedsOcr(format!(
            "{}% of the characters are undecodable",
            garbage * 100 / total.max(1)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_garbage_text_needs_ocr() {
        assert!(matches!(assess("  \n "), Err(ExtractError::NeedsOcr(_))));
        let garbage: String = std::iter::repeat_n('\u{E001}', 200).collect::<String>() + "abc";
        assert!(matches!(assess(&garbage), Err(ExtractError::NeedsOcr(_))));
        assert!(assess("张伟 高级后端开发工程师 熟悉 Java Spring Boot Kubernetes").is_ok());
    }
}
