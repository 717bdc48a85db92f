//! Document bytes → plain text, shared by every component that accepts uploads (resume's
//! résumés, chat's knowledge documents): `format` says what the bytes are (magic numbers and
//! the file name, never the client's word alone), `extract` turns them into text (PDF with a
//! fallback chain, DOCX with a decompression limit, TXT in any common encoding, HTML,
//! Markdown, and PNG/JPEG images and scanned PDFs through `ocr` when an engine is installed) and
//! refuses text that is empty or garbage as needing OCR.
//!
//! Pure and synchronous; callers run it on a blocking thread under a time limit.

pub mod extract;
pub mod format;
pub mod ocr;

pub use extract::{ExtractError, ExtractLimits, Extracted, cid_tables_available, extract_text};
pub use format::{DocumentFormat, FormatError, detect_format};
pub use ocr::{Ocr, OcrError, Tesseract};
