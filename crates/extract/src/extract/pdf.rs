//! PDF text through a fallback chain:
//! 1. `pdf-extract`'s interpreter, inside `catch_unwind` (it panics on CJK fonts without a
//!    ToUnicode map), feeding glyph positions to [`super::layout`], which rebuilds lines,
//!    columns and reading order;
//! 2. lopdf's own text extraction;
//! 3. our content-stream reader, which decodes CID fonts whose CMap *is* Unicode
//!    (`UniGB-UCS2-H`, `UniGB-UTF16-H`, ...: common in Chinese PDFs made with standard CJK
//!    fonts, which carry no ToUnicode map but whose string bytes are UTF-16 code units).
//!
//! The first result that passes the quality check wins; if none does, the document needs OCR.

use super::cid;
use super::layout::{self, Glyph, Page};
use super::{ExtractError, Extracted, assess};
use crate::ocr::{Ocr, check_image_size, pnm};
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
    let document = Document::load_mem(bytes)
        .map_err(|e| ExtractError::Invalid(format!("damaged or unreadable PDF ({e})")))?;
    check_page_tree(&document)?;
    match catch_unwind(AssertUnwindSafe(|| positioned_pages(&document))) {
        Ok(Ok(pages)) => {
            let text = with_contact_links(layout::reading_order(&pages), &document);
            match assess(&text) {
                Ok(()) => {
                    return Ok(Extracted {
                        text,
                        method: "pdf-layout",
                    });
                }
                Err(problem) => last_problem = problem.to_string(),
            }
        }
        Ok(Err(error)) => tracing::debug!(%error, "pdf-extract failed; trying lopdf"),
        Err(_) => tracing::debug!("pdf-extract panicked; trying lopdf"),
    }
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

/// The text with the `mailto:`/`tel:` addresses of the pages' link annotations it does not
/// show (`email me` linked to the address) on a last line, so they are not lost.
fn with_contact_links(mut text: String, document: &Document) -> String {
    let mut targets: Vec<String> = Vec::new();
    for page in document.get_pages().values() {
        let Some(annotations) = document
            .get_object(*page)
            .and_then(Object::as_dict)
            .ok()
            .and_then(|page| page.get(b"Annots").ok())
            .and_then(|annots| document.dereference(annots).ok())
            .and_then(|(_, annots)| annots.as_array().ok())
        else {
            continue;
        };
        for annotation in annotations {
            let uri = document
                .dereference(annotation)
                .ok()
                .and_then(|(_, a)| a.as_dict().ok())
                .and_then(|a| a.get(b"A").ok())
                .and_then(|action| document.dereference(action).ok())
                .and_then(|(_, action)| action.as_dict().ok())
                .and_then(|action| action.get(b"URI").ok())
                .and_then(|uri| uri.as_str().ok())
                .map(|uri| String::from_utf8_lossy(uri).into_owned());
            if let Some(target) = uri.as_deref().and_then(super::text::contact_target)
                && !text.contains(target)
                && !targets.iter().any(|t| t == target)
            {
                targets.push(target.to_owned());
            }
        }
    }
    if !targets.is_empty() {
        text.push_str(&format!("\n{}\n", targets.join("  ")));
    }
    text
}

/// Refuses a page tree whose `Parent` links loop (a page that is its own ancestor): the
/// interpreters walk that chain to inherit resources and would never come back.
fn check_page_tree(document: &Document) -> Result<(), ExtractError> {
    for (_, page) in document.get_pages() {
        let mut seen = std::collections::HashSet::new();
        let mut current = page;
        loop {
            if !seen.insert(current) || seen.len() > 256 {
                return Err(ExtractError::Invalid(
                    "damaged PDF: its page tree loops back on itself".into(),
                ));
            }
            match document
                .get_dictionary(current)
                .ok()
                .and_then(|page| page.get(b"Parent").ok())
                .and_then(|parent| parent.as_reference().ok())
            {
                Some(parent) => current = parent,
                None => break,
            }
        }
    }
    Ok(())
}

/// Pages read by OCR at most (a resume is one to three pages; this bounds a hostile file).
const MAX_OCR_PAGES: usize = 8;

/// The text of a PDF without a text layer (a scan), read by OCR from its page images.
pub(super) fn ocr_pages(
    bytes: &[u8],
    engine: &dyn Ocr,
    reason: &str,
) -> Result<Extracted, ExtractError> {
    let document = Document::load_mem(bytes)
        .map_err(|e| ExtractError::Invalid(format!("damaged or unreadable PDF ({e})")))?;
    let mut text = String::new();
    let mut read = 0usize;
    for (_, page) in document.get_pages() {
        let Ok(images) = document.get_page_images(page) else {
            continue;
        };
        for image in images {
            if read == MAX_OCR_PAGES {
                break;
            }
            let Some(encoded) = image_for_ocr(&document, &image) else {
                continue;
            };
            read += 1;
            let page_text = engine
                .recognize(&encoded)
                .map_err(|e| ExtractError::NeedsOcr(format!("{reason}; {e}")))?;
            text.push_str(&page_text);
            text.push('\n');
        }
    }
    if read == 0 {
        return Err(ExtractError::NeedsOcr(format!(
            "{reason}; no page image in a form OCR can read"
        )));
    }
    assess(&text)
        .map_err(|e| ExtractError::NeedsOcr(format!("OCR found no readable text ({e})")))?;
    Ok(Extracted {
        text,
        method: "ocr",
    })
}

/// An image XObject as bytes Tesseract reads: JPEG as it is, 8-bit grey or RGB samples as PNM.
fn image_for_ocr(document: &Document, image: &lopdf::xobject::PdfImage) -> Option<Vec<u8>> {
    check_image_size(
        u64::try_from(image.width).ok()?,
        u64::try_from(image.height).ok()?,
    )
    .ok()?;
    let filters = image.filters.clone().unwrap_or_default();
    if filters.iter().any(|f| f == "DCTDecode") {
        return (filters.len() == 1).then(|| image.content.to_vec());
    }
    if image.bits_per_component != Some(8) {
        return None;
    }
    let components = match image.color_space.as_deref() {
        Some("DeviceGray") | Some("CalGray") => 1,
        Some("DeviceRGB") | Some("CalRGB") => 3,
        _ => return None,
    };
    // Flate, LZW and ASCII85, alone or chained (reportlab writes ASCII85 over Flate).
    let samples = if filters
        .iter()
        .all(|f| matches!(f.as_str(), "FlateDecode" | "LZWDecode" | "ASCII85Decode"))
    {
        document
            .get_object(image.id)
            .and_then(Object::as_stream)
            .ok()?
            .decompressed_content()
            .ok()?
    } else {
        return None;
    };
    pnm(
        usize::try_from(image.width).ok()?,
        usize::try_from(image.height).ok()?,
        components,
        &samples,
    )
}

/// Every page's glyphs with their positions, through pdf-extract's content interpreter.
fn positioned_pages(document: &Document) -> Result<Vec<Page>, pdf_extract::OutputError> {
    if document.is_encrypted() {
        // The lopdf fallback below reports it to the user.
        return Err(pdf_extract::OutputError::FormatError(std::fmt::Error));
    }
    let mut collector = GlyphCollector::default();
    pdf_extract::output_doc(document, &mut collector)?;
    let mut pages = collector.pages;
    // Glyphs of CID fonts without a ToUnicode map arrive without text: read their CIDs.
    for (page, (_, page_id)) in pages.iter_mut().zip(document.get_pages()) {
        let codes = cid::page_codes(document, page_id);
        if codes.is_empty() {
            continue;
        }
        if codes.len() != page.glyphs.len() {
            tracing::debug!(
                codes = codes.len(),
                glyphs = page.glyphs.len(),
                "CID codes do not line up"
            );
            continue;
        }
        for (glyph, code) in page.glyphs.iter_mut().zip(codes) {
            if let Some(text) = code
                && glyph.text.is_empty()
            {
                glyph.text = text.to_owned();
            }
        }
    }
    Ok(pages)
}

/// An [`pdf_extract::OutputDev`] that keeps each glyph's position instead of writing text.
#[derive(Default)]
struct GlyphCollector {
    pages: Vec<Page>,
}

impl pdf_extract::OutputDev for GlyphCollector {
    fn begin_page(
        &mut self,
        _page_num: u32,
        media_box: &pdf_extract::MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), pdf_extract::OutputError> {
        let height = media_box.ury - media_box.lly;
        self.pages.push(Page {
            width: media_box.urx - media_box.llx,
            height,
            glyphs: Vec::new(),
        });
        Ok(())
    }
    fn end_page(&mut self) -> Result<(), pdf_extract::OutputError> {
        Ok(())
    }
    fn output_character(
        &mut self,
        trm: &pdf_extract::Transform,
        width: f64,
        _spacing: f64,
        font_size: f64,
        text: &str,
    ) -> Result<(), pdf_extract::OutputError> {
        let Some(page) = self.pages.last_mut() else {
            return Ok(());
        };
        // The text rendering matrix scales the font size; y is flipped to grow downwards.
        let scaled_x = font_size * (trm.m11 + trm.m21);
        let scaled_y = font_size * (trm.m12 + trm.m22);
        let size = (scaled_x * scaled_y).abs().sqrt();
        page.glyphs.push(Glyph {
            x: trm.m31,
            y: page.height - trm.m32,
            width: width * size,
            size,
            text: text.to_owned(),
        });
        Ok(())
    }
    fn begin_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        Ok(())
    }
    fn end_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        Ok(())
    }
    fn end_line(&mut self) -> Result<(), pdf_extract::OutputError> {
        Ok(())
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
    fn a_page_that_is_its_own_parent_is_refused_not_a_hang() {
        // Found by the resume_pdf fuzzer: `/Parent 4 0 R` on page 4 itself.
        let bytes =
            include_bytes!("../../../../fuzz/regressions/resume_pdf/page-is-its-own-parent.pdf");
        match extract(bytes) {
            Err(ExtractError::Invalid(reason)) => assert!(reason.contains("loops"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    /// A page whose text says `email me` over a `mailto:` link annotation (made here with
    /// lopdf: a base-14 font, one line of text, one link).
    fn page_with_contact_link(uri: &str) -> Vec<u8> {
        use lopdf::content::Operation;
        use lopdf::{Stream, dictionary};
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        });
        let content = Content {
            operations: vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 12.into()]),
                Operation::new("Td", vec![72.into(), 700.into()]),
                Operation::new(
                    "Tj",
                    vec![Object::string_literal("Jane Doe, data engineer; email me")],
                ),
                Operation::new("ET", vec![]),
            ],
        };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
        let link_id = doc.add_object(dictionary! {
            "Type" => "Annot", "Subtype" => "Link",
            "Rect" => vec![250.into(), 695.into(), 300.into(), 712.into()],
            "A" => dictionary! { "S" => "URI", "URI" => Object::string_literal(uri) },
        });
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font_id } },
            "Annots" => vec![link_id.into()],
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            }),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn contact_links_behind_words_are_kept() {
        let extracted = extract(&page_with_contact_link("mailto:jane@example.org")).unwrap();
        assert!(extracted.text.contains("email me"), "{}", extracted.text);
        assert!(
            extracted.text.trim_end().ends_with("jane@example.org"),
            "{}",
            extracted.text
        );
        // A web link is not contact data.
        let extracted = extract(&page_with_contact_link("https://example.org")).unwrap();
        assert!(
            !extracted.text.contains("example.org"),
            "{}",
            extracted.text
        );
    }

    #[test]
    fn utf16_strings_decode() {
        let mut out = String::new();
        decode_string(&[0x5F, 0x20, 0x4F, 0x1F], FontDecoding::Utf16, &mut out);
        assert_eq!(out, "张伟");
    }
}
