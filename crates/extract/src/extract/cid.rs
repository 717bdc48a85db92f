//! Characters of CID fonts that carry no ToUnicode map.
//!
//! Chinese LaTeX resumes (ctex with Adobe Song/Hei/Kai, `Identity-H`) often embed CID-keyed
//! fonts without a ToUnicode map: the text interpreter then knows where each glyph is but not
//! what it is, and a whole Chinese resume reads as its Latin words only. Such a font names its
//! character collection (`CIDSystemInfo`: Adobe-GB1, -CNS1, -Japan1, -Korea1), and with
//! `Identity-H` a code *is* the CID, so Adobe's published CID → Unicode table of the collection
//! recovers the text. The tables are read at run time from the system's CMap resources (Debian:
//! `poppler-data`; or the directory in `LOOMA_CMAP_DIR`), never bundled.
//!
//! The interpreter's glyphs arrive in content-stream order; [`page_codes`] walks the same
//! stream and yields one entry per shown code, so the two line up one to one. A page where
//! the counts differ is left as it is.

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Object, ObjectId};
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// CID → text of one Adobe character collection (`GB1`, `CNS1`, `Japan1`, `Korea1`).
fn collection(ordering: &str) -> Option<&'static HashMap<u32, String>> {
    static TABLES: OnceLock<BTreeMap<&'static str, Option<HashMap<u32, String>>>> = OnceLock::new();
    TABLES
        .get_or_init(|| {
            ["GB1", "CNS1", "Japan1", "Korea1"]
                .into_iter()
                .map(|ordering| (ordering, load(ordering)))
                .collect()
        })
        .get(ordering)?
        .as_ref()
}

/// Whether this machine has Adobe's tables (at least the Simplified Chinese one), i.e. whether
/// Chinese PDFs with fonts lacking a ToUnicode map can be read.
pub fn tables_available() -> bool {
    collection("GB1").is_some()
}

fn load(ordering: &str) -> Option<HashMap<u32, String>> {
    let name = format!("Adobe-{ordering}-UCS2");
    let dirs: Vec<std::path::PathBuf> = std::env::var_os("LOOMA_CMAP_DIR")
        .map(Into::into)
        .into_iter()
        .chain([
            "/usr/share/poppler/cMap".into(),
            "/usr/share/fonts/cmap".into(),
        ])
        .collect();
    for dir in dirs {
        for path in [
            dir.join(format!("Adobe-{ordering}")).join(&name),
            dir.join(&name),
        ] {
            if let Ok(text) = std::fs::read_to_string(&path) {
                let table = parse_ucs2_cmap(&text);
                tracing::debug!(path = %path.display(), entries = table.len(), "CID table loaded");
                return Some(table);
            }
        }
    }
    tracing::debug!(%name, "no CID table on this machine; CID fonts without ToUnicode stay unread");
    None
}

/// The `bfchar` and `bfrange` entries of a CID → UCS-2 CMap.
fn parse_ucs2_cmap(text: &str) -> HashMap<u32, String> {
    let mut table = HashMap::new();
    let mut section = "";
    for line in text.lines() {
        let line = line.trim();
        if line.ends_with("beginbfchar") {
            section = "char";
            continue;
        }
        if line.ends_with("beginbfrange") {
            section = "range";
            continue;
        }
        if line.starts_with("endbf") {
            section = "";
            continue;
        }
        let hexes: Vec<&str> = line
            .split(['<', '>'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        match (section, hexes.as_slice()) {
            ("char", [cid, unicode]) => {
                if let (Ok(cid), Some(text)) = (u32::from_str_radix(cid, 16), utf16_hex(unicode)) {
                    table.insert(cid, text);
                }
            }
            ("range", [lo, hi, first]) if !line.contains('[') => {
                let (Ok(lo), Ok(hi), Ok(first)) = (
                    u32::from_str_radix(lo, 16),
                    u32::from_str_radix(hi, 16),
                    u32::from_str_radix(first, 16),
                ) else {
                    continue;
                };
                for cid in lo..=hi.min(lo + 0xFFFF) {
                    if let Some(c) = char::from_u32(first + (cid - lo)) {
                        table.insert(cid, c.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    table
}

/// `4e2d` or a surrogate pair `d840dc00` as text.
fn utf16_hex(hex: &str) -> Option<String> {
    let units: Vec<u16> = (0..hex.len())
        .step_by(4)
        .map(|at| {
            hex.get(at..at + 4)
                .and_then(|u| u16::from_str_radix(u, 16).ok())
        })
        .collect::<Option<_>>()?;
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
}

/// How to read the codes shown in one font.
#[derive(Clone, Copy)]
enum FontCodes {
    /// One byte per code, decoded by the interpreter.
    Single,
    /// Two bytes per code, decoded by the interpreter (it has a ToUnicode map or a Unicode CMap).
    Double,
    /// Two bytes per code that are CIDs of this collection, without a ToUnicode map.
    Collection(&'static HashMap<u32, String>),
}

fn font_codes(document: &Document, font: &Dictionary) -> FontCodes {
    let deref = |object: &Object| -> Option<Object> {
        match object {
            Object::Reference(id) => document.get_object(*id).ok().cloned(),
            other => Some(other.clone()),
        }
    };
    if font.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Type0") {
        return FontCodes::Single;
    }
    let identity = font
        .get(b"Encoding")
        .and_then(Object::as_name)
        .is_ok_and(|name| name == b"Identity-H" || name == b"Identity-V");
    if font.get(b"ToUnicode").is_ok() || !identity {
        return FontCodes::Double;
    }
    let ordering = font
        .get(b"DescendantFonts")
        .ok()
        .and_then(deref)
        .and_then(|fonts| fonts.as_array().ok().and_then(|a| a.first().cloned()))
        .and_then(|first| deref(&first))
        .and_then(|descendant| {
            let info = deref(descendant.as_dict().ok()?.get(b"CIDSystemInfo").ok()?)?;
            let ordering = deref(info.as_dict().ok()?.get(b"Ordering").ok()?)?;
            match ordering {
                Object::String(bytes, _) => Some(String::from_utf8_lossy(&bytes).into_owned()),
                _ => None,
            }
        });
    match ordering.as_deref().and_then(collection) {
        Some(table) => FontCodes::Collection(table),
        None => FontCodes::Double,
    }
}

/// One entry per code the page's content shows, in the interpreter's order: the text of a
/// collection CID, or `None` where the interpreter's own decoding stands.
pub(crate) fn page_codes(document: &Document, page: ObjectId) -> Vec<Option<&'static str>> {
    let mut codes = Vec::new();
    let fonts: HashMap<Vec<u8>, FontCodes> = document
        .get_page_fonts(page)
        .map(|fonts| {
            fonts
                .into_iter()
                .map(|(name, font)| (name, font_codes(document, font)))
                .collect()
        })
        .unwrap_or_default();
    if !fonts
        .values()
        .any(|f| matches!(f, FontCodes::Collection(_)))
    {
        return codes;
    }
    let Ok(content) = document.get_page_content(page) else {
        return codes;
    };
    let Ok(content) = Content::decode(&content) else {
        return codes;
    };
    let mut current = FontCodes::Single;
    for operation in content.operations {
        match operation.operator.as_str() {
            "Tf" => {
                if let Some(Ok(name)) = operation.operands.first().map(Object::as_name) {
                    current = fonts.get(name).copied().unwrap_or(FontCodes::Single);
                }
            }
            "Tj" | "'" | "\"" => {
                if let Some(Object::String(bytes, _)) = operation.operands.last() {
                    show(bytes, current, &mut codes);
                }
            }
            "TJ" => {
                if let Some(Object::Array(items)) = operation.operands.first() {
                    for item in items {
                        if let Object::String(bytes, _) = item {
                            show(bytes, current, &mut codes);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    codes
}

fn show(bytes: &[u8], font: FontCodes, codes: &mut Vec<Option<&'static str>>) {
    match font {
        FontCodes::Single => codes.extend(std::iter::repeat_n(None, bytes.len())),
        FontCodes::Double => codes.extend(std::iter::repeat_n(None, bytes.len() / 2)),
        FontCodes::Collection(table) => codes.extend(bytes.chunks_exact(2).map(|pair| {
            table
                .get(&u32::from(u16::from_be_bytes([pair[0], pair[1]])))
                .map(String::as_str)
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmap_chars_and_ranges() {
        let table = parse_ucs2_cmap(
            "2 beginbfchar\n<0000> <fffd>\n<0063> <00b7>\nendbfchar\n1 beginbfrange\n<0001> <0003> <0020>\n<0010> <0011> [<0041> <0042>]\nendbfrange\n1 beginbfchar\n<1234> <d840dc00>\nendbfchar\n",
        );
        assert_eq!(table.get(&0x63).map(String::as_str), Some("·"));
        assert_eq!(table.get(&0x3).map(String::as_str), Some("\"")); // 0x20 + 2
        assert_eq!(table.get(&0x1234).map(String::as_str), Some("\u{20000}"));
        assert!(!table.contains_key(&0x10), "array ranges are skipped");
    }
}
