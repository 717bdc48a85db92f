//! Optical character recognition behind one trait, for scanned PDFs and photographed resumes.
//!
//! The engine is Tesseract, found at run time (`tesseract` on `PATH`, or the path in
//! `LOOMA_TESSERACT`): nothing is linked, and a machine without it still parses every document
//! with a text layer; images and scans then end as `NEEDS_OCR` with a reason that says so.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What a `NEEDS_OCR` reason says when no engine is there.
pub const NOT_INSTALLED: &str =
    "OCR is off or not installed (Debian: apt-get install tesseract-ocr tesseract-ocr-chi-sim)";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OcrError {
    #[error("OCR is not available: {0}")]
    Unavailable(String),
    #[error("OCR failed: {0}")]
    Failed(String),
}

/// Text out of an image (PNG, JPEG, or binary PNM).
pub trait Ocr: Send + Sync + std::fmt::Debug {
    fn recognize(&self, image: &[u8]) -> Result<String, OcrError>;
    /// Engine and languages, for the extraction method (`ocr:tesseract chi_sim+eng`).
    fn describe(&self) -> String;
}

/// The Tesseract command-line engine.
#[derive(Clone, Debug)]
pub struct Tesseract {
    program: String,
    languages: String,
    timeout: Duration,
}

impl Tesseract {
    /// The engine on this machine with the Chinese and English models it has installed, looked
    /// up once per process; `None` when `tesseract` does not run.
    pub fn detect() -> Option<&'static Tesseract> {
        static FOUND: OnceLock<Option<Tesseract>> = OnceLock::new();
        FOUND
            .get_or_init(|| {
                let program =
                    std::env::var("LOOMA_TESSERACT").unwrap_or_else(|_| "tesseract".into());
                let output = Command::new(&program)
                    .arg("--list-langs")
                    .stdin(Stdio::null())
                    .output()
                    .ok()?;
                // Tesseract 4 printed the list to stderr, 5 to stdout.
                let listed = format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
                let installed: Vec<&str> = listed.lines().map(str::trim).collect();
                let languages: Vec<&str> = ["chi_sim", "eng"]
                    .into_iter()
                    .filter(|l| installed.contains(l))
                    .collect();
                if languages.is_empty() {
                    tracing::warn!(%program, "tesseract has neither chi_sim nor eng installed");
                    return None;
                }
                Some(Tesseract {
                    program,
                    languages: languages.join("+"),
                    timeout: Duration::from_secs(60),
                })
            })
            .as_ref()
    }

    pub fn languages(&self) -> &str {
        &self.languages
    }
}

impl Ocr for Tesseract {
    fn recognize(&self, image: &[u8]) -> Result<String, OcrError> {
        let mut child = Command::new(&self.program)
            .args(["stdin", "stdout", "-l", &self.languages, "--psm", "3"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| OcrError::Unavailable(format!("{}: {e}", self.program)))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input = image.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let mut stdout = child.stdout.take().expect("piped stdout");
        let reader = std::thread::spawn(move || {
            let mut text = Vec::new();
            stdout.read_to_end(&mut text).map(|_| text)
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(OcrError::Failed(format!(
                        "took longer than {} s",
                        self.timeout.as_secs()
                    )));
                }
                Err(e) => return Err(OcrError::Failed(e.to_string())),
            }
        };
        let _ = writer.join();
        let text = reader
            .join()
            .map_err(|_| OcrError::Failed("reader thread".into()))?
            .map_err(|e| OcrError::Failed(e.to_string()))?;
        if !status.success() {
            let mut detail = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut detail);
            }
            let detail: String = detail
                .lines()
                .last()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            return Err(OcrError::Failed(format!(
                "tesseract exited with {status}: {detail}"
            )));
        }
        Ok(tidy(&String::from_utf8_lossy(&text)))
    }

    fn describe(&self) -> String {
        format!("ocr:tesseract {}", self.languages)
    }
}

/// Tesseract separates Chinese characters with spaces (`工 作 经 历`); a space between two CJK
/// characters is dropped, form feeds become blank lines.
fn tidy(text: &str) -> String {
    let chars: Vec<char> = text.replace('\u{c}', "\n").chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let before = out.chars().last();
            let after = chars[i + 1..].iter().find(|c| **c != ' ').copied();
            if before.is_some_and(chinese) && after.is_some_and(chinese) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// A Chinese character or CJK punctuation (`，`, `：`, full-width forms).
fn chinese(c: char) -> bool {
    looma_taxonomy::is_cjk_ideograph(c)
        || matches!(c, '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}')
}

/// The most pixels an image may have to be sent to OCR: a page scanned at 600 dpi is ~35 MP;
/// beyond this a small file (a decompression bomb) would cost gigabytes to decode.
pub const MAX_OCR_PIXELS: u64 = 60_000_000;

/// Width and height from a PNG's IHDR or a JPEG's start-of-frame, without decoding.
pub fn image_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        let width = u32::from_be_bytes(bytes.get(16..20)?.try_into().ok()?);
        let height = u32::from_be_bytes(bytes.get(20..24)?.try_into().ok()?);
        return Some((width, height));
    }
    if bytes.starts_with(b"\xFF\xD8") {
        let mut at = 2;
        while at + 9 < bytes.len() {
            if bytes[at] != 0xFF {
                return None;
            }
            let marker = bytes[at + 1];
            let length = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
            if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                let height = u16::from_be_bytes([bytes[at + 5], bytes[at + 6]]);
                let width = u16::from_be_bytes([bytes[at + 7], bytes[at + 8]]);
                return Some((u32::from(width), u32::from(height)));
            }
            at += 2 + length;
        }
    }
    None
}

/// Refuses an image OCR should not decode: unknown size or over [`MAX_OCR_PIXELS`].
pub fn check_image_size(width: u64, height: u64) -> Result<(), OcrError> {
    let pixels = width.saturating_mul(height);
    if pixels == 0 || pixels > MAX_OCR_PIXELS {
        return Err(OcrError::Failed(format!(
            "the image is {width}×{height} pixels; OCR takes at most {} megapixels",
            MAX_OCR_PIXELS / 1_000_000
        )));
    }
    Ok(())
}

/// A binary PNM image (PGM for one component, PPM for three) Tesseract reads from stdin.
pub(crate) fn pnm(
    width: usize,
    height: usize,
    components: usize,
    samples: &[u8],
) -> Option<Vec<u8>> {
    let magic = match components {
        1 => "P5",
        3 => "P6",
        _ => return None,
    };
    let expected = width.checked_mul(height)?.checked_mul(components)?;
    if width == 0 || height == 0 || samples.len() < expected {
        return None;
    }
    let mut image = format!("{magic}\n{width} {height}\n255\n").into_bytes();
    image.extend_from_slice(&samples[..expected]);
    Some(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_between_chinese_characters_go() {
        assert_eq!(
            tidy("工 作 经 历\n2019 年 Java 开 发"),
            "工作经历\n2019 年 Java 开发"
        );
    }

    #[test]
    fn image_sizes_are_read_without_decoding_and_bombs_refused() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&40_000u32.to_be_bytes());
        png.extend_from_slice(&40_000u32.to_be_bytes());
        assert_eq!(image_dimensions(&png), Some((40_000, 40_000)));
        assert!(check_image_size(40_000, 40_000).is_err());
        assert!(check_image_size(2480, 3508).is_ok());
        // A JPEG: SOI, an APP0 segment, then SOF0 with height 3508 and width 2480.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00];
        jpeg.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08, 0x0D, 0xB4, 0x09, 0xB0, 0x03]);
        assert_eq!(image_dimensions(&jpeg), Some((2480, 3508)));
        assert_eq!(image_dimensions(b"GIF89a"), None);
    }

    #[test]
    fn pnm_needs_enough_samples() {
        assert_eq!(pnm(2, 1, 1, &[0, 255]).unwrap(), b"P5\n2 1\n255\n\x00\xff");
        assert!(pnm(2, 2, 1, &[0, 255]).is_none());
        assert!(pnm(2, 1, 4, &[0; 8]).is_none());
    }
}
