//! Plain text, HTML and Markdown: decode the bytes (UTF-8, UTF-16 with BOM, or GB18030 —
//! Chinese resumes saved on Windows are often GBK) and strip markup to lines of text.

/// Decodes text bytes; never fails (undecodable bytes become U+FFFD and count as garbage).
pub fn decode(bytes: &[u8]) -> String {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return text.into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => {
            let (text, _, _) = encoding_rs::GB18030.decode(bytes);
            text.into_owned()
        }
    }
}

const BLOCK_TAGS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "section",
    "article",
    "header",
    "footer",
    "ul",
    "ol",
    "table",
    "hr",
    "dt",
    "dd",
    "blockquote",
    "pre",
];
const CELL_TAGS: &[&str] = &["td", "th"];

/// Visible text of an HTML document: scripts/styles dropped, block elements on their own
/// lines, table cells separated, entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut skip_until: Option<&'static str> = None;
    let mut link = ContactLink::default();
    while let Some(open) = rest.find('<') {
        if skip_until.is_none() {
            out.push_str(&decode_entities(&rest[..open]));
        }
        rest = &rest[open..];
        if rest.starts_with("<!--") {
            rest = rest.find("-->").map_or("", |end| &rest[end + 3..]);
            continue;
        }
        let Some(close) = rest.find('>') else {
            rest = "";
            break;
        };
        let tag = rest[1..close].trim();
        rest = &rest[close + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(until) = skip_until {
            if closing && name == until {
                skip_until = None;
            }
            continue;
        }
        if name == "a" {
            link.follow(tag, closing, &mut out);
        }
        match name.as_str() {
            "script" if !closing => skip_until = Some("script"),
            "style" if !closing => skip_until = Some("style"),
            "head" if !closing => skip_until = Some("head"),
            n if BLOCK_TAGS.contains(&n) => out.push('\n'),
            n if CELL_TAGS.contains(&n) && !closing => out.push_str("  "),
            _ => {}
        }
    }
    if skip_until.is_none() {
        out.push_str(&decode_entities(rest));
    }
    tidy_lines(&out)
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.replace(['\n', '\r'], " ");
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // Searched in bytes: 12 bytes may end inside a multi-byte character (`R&D部门`), and
        // `;` is ASCII, so where it is found is a character boundary.
        let Some(semi) = rest.as_bytes()[..rest.len().min(12)]
            .iter()
            .position(|&b| b == b';')
        else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            "middot" => Some('·'),
            "ndash" => Some('–'),
            "mdash" => Some('—'),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out.replace(['\n', '\r'], " ")
}

/// Markdown to text: heading marks, emphasis, list bullets and link syntax removed.
pub fn markdown_to_text(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    // A site generator's front matter (`---` … `---` at the top) is configuration, not text.
    let body = markdown
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---").map(|(_, body)| body))
        .unwrap_or(markdown);
    // Markdown may carry inline HTML (`<br>`, `<div>`, links): its text only.
    let body = if body.contains('<') {
        std::borrow::Cow::Owned(strip_inline_html(body))
    } else {
        std::borrow::Cow::Borrowed(body)
    };
    for line in body.lines() {
        let mut line = line.trim();
        while let Some(rest) = line.strip_prefix('#') {
            line = rest;
        }
        let line = line.trim_start();
        let line = line
            .strip_prefix("- ")
            .or_else(|| line.strip_prefix("* "))
            .or_else(|| line.strip_prefix("+ "))
            .map(|rest| format!("• {rest}"))
            .unwrap_or_else(|| line.to_owned());
        let line = strip_emphasis(
            &strip_links(&line)
                .replace("**", "")
                .replace("__", "")
                .replace('`', ""),
        );
        if line
            .chars()
            .all(|c| c == '-' || c == '=' || c == '*' || c == '_')
            && !line.is_empty()
        {
            out.push('\n');
            continue;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `*Acme*`, `_Senior Engineer_` → the words (a `*` or `_` touching a word on one side only).
fn strip_emphasis(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric());
    chars
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            !matches!(c, '*' | '_')
                || word(i.checked_sub(1).and_then(|p| chars.get(p))) == word(chars.get(i + 1))
        })
        .map(|(_, c)| *c)
        .collect()
}

/// Tags out of Markdown (`<br>` and block tags end the line), their text kept.
fn strip_inline_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut link = ContactLink::default();
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let is_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!');
        match after.find('>') {
            // An autolink (`<jane@example.com>`, `<https://…>`): its address is the text.
            Some(close) if is_autolink(&after[..close]) => {
                let inner = &after[..close];
                out.push_str(contact_target(inner).unwrap_or(inner));
                rest = &after[close + 1..];
            }
            Some(close) if is_tag && !after[..close].contains('\n') => {
                let name: String = after
                    .trim_start_matches('/')
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_ascii_lowercase();
                if name == "a" {
                    link.follow(&after[..close], after.starts_with('/'), &mut out);
                }
                if BLOCK_TAGS.contains(&name.as_str()) {
                    out.push('\n');
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Markdown's autolink body: one word holding an address (`jane@example.com`, `mailto:…`,
/// `https://…`), never a tag (`a href="…"` has spaces; `br/` has neither `@` nor `:`).
fn is_autolink(inner: &str) -> bool {
    !inner.is_empty()
        && !inner.chars().any(char::is_whitespace)
        && !inner.contains(['<', '"', '\''])
        && (inner.contains('@') || inner.contains("://") || inner.starts_with("mailto:"))
}

/// The address a `mailto:` or `tel:` link points at (`mailto:jane@example.com?subject=Hi` →
/// `jane@example.com`).
pub(super) fn contact_target(url: &str) -> Option<&str> {
    let url = url.trim();
    let target = url
        .strip_prefix("mailto:")
        .or_else(|| url.strip_prefix("tel:"))?;
    let target = target.split('?').next().unwrap_or("").trim();
    (!target.is_empty()).then_some(target)
}

/// An `<a href="mailto:…">Email</a>` being read: the address is written after the link's text
/// when the text does not show it, so contact details behind a link word are not lost.
#[derive(Default)]
struct ContactLink {
    open: Option<(String, usize)>,
}

impl ContactLink {
    /// `tag`: the text inside `<…>` of an `a` tag.
    fn follow(&mut self, tag: &str, closing: bool, out: &mut String) {
        if closing {
            if let Some((target, start)) = self.open.take()
                && !out.get(start..).is_some_and(|text| text.contains(&target))
            {
                out.push_str(&format!(" ({target})"));
            }
            return;
        }
        let href = tag.find("href=").map(|at| {
            let value = &tag[at + 5..];
            let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'');
            match quote {
                Some(q) => value[1..].split(q).next().unwrap_or(""),
                None => value.split([' ', '>']).next().unwrap_or(""),
            }
        });
        self.open = href
            .and_then(contact_target)
            .map(|target| (target.to_owned(), out.len()));
    }
}

/// `[text](url)` → `text`; images dropped; a `mailto:`/`tel:` address the text does not show
/// is kept after it.
fn strip_links(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|i| open + i) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|i| close + i) else {
            break;
        };
        let is_image = open > 0 && rest.as_bytes()[open - 1] == b'!';
        out.push_str(&rest[..if is_image { open - 1 } else { open }]);
        if !is_image {
            let text = &rest[open + 1..close];
            out.push_str(text);
            if let Some(target) = contact_target(&rest[close + 2..end])
                && !text.contains(target)
            {
                out.push_str(&format!(" ({target})"));
            }
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn tidy_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            continue;
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_gbk_and_utf16() {
        let (gbk, _, _) = encoding_rs::GBK.encode("张伟 工作经历");
        assert_eq!(decode(&gbk), "张伟 工作经历");
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "李娜".encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(decode(&utf16), "李娜");
    }

    #[test]
    fn html_keeps_visible_text_by_line() {
        let html = "<html><head><title>x</title><style>p{}</style></head><body><h1>Jane &amp; Doe</h1><p>Skills:<br>Rust</p><table><tr><td>a</td><td>b</td></tr></table><script>var x=1;</script></body></html>";
        assert_eq!(html_to_text(html), "Jane & Doe\nSkills:\nRust\na b\n");
    }

    #[test]
    fn ampersand_before_multibyte_text_is_not_a_panic() {
        // Found by the resume_html fuzzer: the entity window cut `部` in half.
        assert_eq!(html_to_text("<p>R&D部门经理 &amp;</p>"), "R&D部门经理 &\n");
        assert_eq!(
            html_to_text("&\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"),
            "&\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\n"
        );
        assert_eq!(decode_entities("张&#20013;；&lt;"), "张中；<");
    }

    #[test]
    fn contact_links_keep_their_address() {
        assert_eq!(
            markdown_to_text("[Email](mailto:ana@example.org) | [jane@x.io](mailto:jane@x.io)\n")
                .trim(),
            "Email (ana@example.org) | jane@x.io"
        );
        let md = "<a href=\"mailto:ana@example.org?subject=Hi\">Email</a> | <a href='tel:+15551234567'>Call</a>\n";
        assert_eq!(
            markdown_to_text(md).trim(),
            "Email (ana@example.org) | Call (+15551234567)"
        );
        let html = "<p><a href=\"mailto:ana@example.org\">Write to me</a> or \
                    <a href=\"https://example.org\">my site</a></p>";
        assert_eq!(
            html_to_text(html).trim(),
            "Write to me (ana@example.org) or my site"
        );
    }

    #[test]
    fn markdown_strips_syntax() {
        let md =
            "# Jane Doe\n**Email:** [jane@example.com](mailto:jane@example.com)\n- Rust\n---\n";
        assert_eq!(
            markdown_to_text(md),
            "Jane Doe\nEmail: jane@example.com\n• Rust\n\n"
        );
    }

    #[test]
    fn markdown_autolinks_keep_their_address() {
        let md = "- <mei.li@example.cn>\n> <mailto:jo@example.org> • +1 (555)010-0199<br>\nsite <https://example.org/cv>, 3 < 4 > 2\n";
        assert_eq!(
            markdown_to_text(md),
            "• mei.li@example.cn\n> jo@example.org • +1 (555)010-0199\n\nsite https://example.org/cv, 3 < 4 > 2\n"
        );
    }

    #[test]
    fn markdown_from_site_generators_loses_front_matter_html_and_emphasis() {
        let md = "---\nlayout: cv\ntitle: CV\n---\n<div id=\"x\"><a href=\"mailto:a@b.no\">a@b.no</a></div>\n*Total E&P Dunga*, _Process Engineer_<br>2017 - 2019\nsnake_case stays, 3 * 4 too\n";
        assert_eq!(
            markdown_to_text(md),
            "\n\na@b.no\n\nTotal E&P Dunga, Process Engineer\n2017 - 2019\nsnake_case stays, 3 * 4 too\n"
        );
    }
}
