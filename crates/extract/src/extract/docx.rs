//! DOCX: the text of `word/document.xml`, read through zip + quick-xml with a hard limit on
//! decompressed bytes (a zip bomb stops at the limit instead of filling memory).
//!
//! Paragraphs become lines. Table rows whose cells hold one paragraph each become one line
//! with cells separated by two spaces (`姓名  张伟  性别  男`), so key/value tables read like
//! labelled lines; cells holding several paragraphs (two-column layouts) keep their lines.

use super::ExtractError;
use quick_xml::Reader;
use quick_xml::events::Event;
use std::io::{Cursor, Read};

pub fn extract(bytes: &[u8], max_decompressed: u64) -> Result<String, ExtractError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ExtractError::Invalid(format!("not a readable DOCX (zip: {e})")))?;
    let mut part = archive
        .by_name("word/document.xml")
        .map_err(|_| ExtractError::Invalid("not a DOCX: word/document.xml is missing".into()))?;
    if part.size() > max_decompressed {
        return Err(too_large(max_decompressed));
    }
    let mut xml = Vec::new();
    // The declared size can lie: also bound what is actually inflated.
    (&mut part)
        .take(max_decompressed + 1)
        .read_to_end(&mut xml)
        .map_err(|e| ExtractError::Invalid(format!("damaged DOCX: {e}")))?;
    if xml.len() as u64 > max_decompressed {
        return Err(too_large(max_decompressed));
    }
    let xml = String::from_utf8(xml)
        .map_err(|_| ExtractError::Invalid("damaged DOCX: document.xml is not UTF-8".into()))?;
    document_text(&xml)
}

fn too_large(limit: u64) -> ExtractError {
    ExtractError::Invalid(format!(
        "the DOCX expands to more than {} MB of XML (a zip bomb?)",
        limit / (1024 * 1024)
    ))
}

/// One table cell being read: its finished paragraphs.
#[derive(Default)]
struct Cell {
    paragraphs: Vec<String>,
}

/// One table row being read: lines produced so far and inline cells awaiting joining.
#[derive(Default)]
struct Row {
    inline: Vec<String>,
    out: String,
}

impl Row {
    fn flush_inline(&mut self) {
        if !self.inline.is_empty() {
            self.out.push_str(&self.inline.join("  "));
            self.out.push('\n');
            self.inline.clear();
        }
    }
}

fn document_text(xml: &str) -> Result<String, ExtractError> {
    let mut reader = Reader::from_str(xml);
    let mut out = String::new();
    let mut paragraph = String::new();
    let mut in_text = false;
    let mut cells: Vec<Cell> = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| ExtractError::Invalid(format!("damaged DOCX XML: {e}")))?;
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                b"t" => in_text = true,
                b"tc" => cells.push(Cell::default()),
                b"tr" => rows.push(Row::default()),
                b"tab" => paragraph.push('\t'),
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                b"tab" => paragraph.push('\t'),
                b"br" | b"cr" => paragraph.push('\n'),
                _ => {}
            },
            Event::Text(t) if in_text => {
                let text = t
                    .unescape()
                    .map_err(|e| ExtractError::Invalid(format!("damaged DOCX XML: {e}")))?;
                paragraph.push_str(&text);
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => {
                    let text = std::mem::take(&mut paragraph);
                    match cells.last_mut() {
                        Some(cell) => cell.paragraphs.push(text),
                        None => {
                            out.push_str(&text);
                            out.push('\n');
                        }
                    }
                }
                b"tc" => {
                    let cell = cells.pop().unwrap_or_default();
                    let filled: Vec<&String> = cell
                        .paragraphs
                        .iter()
                        .filter(|p| !p.trim().is_empty())
                        .collect();
                    let text = if filled.len() <= 1 {
                        None
                    } else {
                        Some(cell.paragraphs.join("\n"))
                    };
                    let Some(row) = rows.last_mut() else {
                        continue;
                    };
                    match text {
                        None => row.inline.push(
                            filled
                                .first()
                                .map(|p| p.trim().to_owned())
                                .unwrap_or_default(),
                        ),
                        Some(block) => {
                            row.flush_inline();
                            row.out.push_str(&block);
                            row.out.push('\n');
                        }
                    }
                }
                b"tr" => {
                    let mut row = rows.pop().unwrap_or_default();
                    row.inline.retain(|cell| !cell.is_empty());
                    row.flush_inline();
                    // A row nested in a cell belongs to that cell.
                    match cells.last_mut() {
                        Some(cell) => cell.paragraphs.push(row.out.trim_end().to_owned()),
                        None => out.push_str(&row.out),
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docx(document_xml: &str) -> Vec<u8> {
        use std::io::Write;
        let mut buffer = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut buffer);
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("word/document.xml", options).unwrap();
        zip.write_all(document_xml.as_bytes()).unwrap();
        zip.finish().unwrap();
        buffer.into_inner()
    }

    const NS: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main""#;

    #[test]
    fn paragraphs_and_key_value_tables() {
        let xml = format!(
            r#"<w:document {NS}><w:body>
            <w:p><w:r><w:t>个人简历</w:t></w:r></w:p>
            <w:tbl><w:tr>
              <w:tc><w:p><w:r><w:t>姓名</w:t></w:r></w:p></w:tc>
              <w:tc><w:p><w:r><w:t>张伟</w:t></w:r></w:p></w:tc>
            </w:tr></w:tbl>
            <w:p><w:r><w:t xml:space="preserve">Java &amp; Go</w:t><w:tab/><w:t>2019</w:t></w:r></w:p>
            </w:body></w:document>"#
        );
        let text = extract(&docx(&xml), 1 << 20).unwrap();
        assert_eq!(text, "个人简历\n姓名  张伟\nJava & Go\t2019\n");
    }

    #[test]
    fn multi_paragraph_cells_keep_lines() {
        let xml = format!(
            r#"<w:document {NS}><w:body><w:tbl><w:tr>
              <w:tc><w:p><w:r><w:t>Contact</w:t></w:r></w:p><w:p><w:r><w:t>a@b.c</w:t></w:r></w:p></w:tc>
              <w:tc><w:p><w:r><w:t>Experience</w:t></w:r></w:p><w:p><w:r><w:t>Google</w:t></w:r></w:p></w:tc>
            </w:tr></w:tbl></w:body></w:document>"#
        );
        let text = extract(&docx(&xml), 1 << 20).unwrap();
        assert_eq!(text, "Contact\na@b.c\nExperience\nGoogle\n");
    }

    #[test]
    fn zip_bomb_stops_at_the_limit() {
        let filler =
            "<w:p><w:r><w:t>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</w:t></w:r></w:p>".repeat(40_000);
        let xml = format!("<w:document {NS}><w:body>{filler}</w:body></w:document>");
        let bytes = docx(&xml);
        assert!(bytes.len() < 100_000, "compressed {}", bytes.len());
        let error = extract(&bytes, 1024 * 1024).unwrap_err();
        assert!(error.to_string().contains("zip bomb"), "{error}");
    }

    #[test]
    fn not_a_docx() {
        assert!(matches!(
            extract(b"PK\x03\x04garbage", 1 << 20),
            Err(ExtractError::Invalid(_))
        ));
    }
}
