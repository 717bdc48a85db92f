//! Knowledge text → chunks for retrieval.
//!
//! Text is split into sections at headings (Markdown `#` lines, numbered headings such as
//! `2.1 Leave`, `一、`, `第三章`, and short title-like lines standing alone), each section
//! into sentences (Chinese `。！？；` end a sentence without a following space; `.!?` need
//! whitespace after them; a blank line always ends one), and sentences are packed into chunks
//! of at most `size` characters. Consecutive chunks of a section share up to `overlap`
//! characters of whole sentences, so an answer that straddles a boundary is still found
//! whole in one chunk. A sentence longer than `size` is cut at `size` characters. A chunk
//! never spans two sections; it carries its section's heading.

/// How large chunks are, in characters (Unicode scalar values, so Chinese and English text
/// are measured alike).
#[derive(Clone, Copy, Debug)]
pub struct ChunkOptions {
    pub size: usize,
    pub overlap: usize,
}

/// One chunk of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The heading of the section the chunk belongs to, if the section has one.
    pub heading: Option<String>,
    pub text: String,
}

/// Splits `text` into chunks. Empty or whitespace-only input gives no chunks.
pub fn chunk(text: &str, options: ChunkOptions) -> Vec<Chunk> {
    let size = options.size.max(1);
    let overlap = options.overlap.min(size / 2);
    let mut chunks = Vec::new();
    for section in sections(text) {
        let sentences: Vec<String> = section
            .paragraphs
            .iter()
            .flat_map(|paragraph| sentences(paragraph))
            .flat_map(|sentence| cut(&sentence, size))
            .collect();
        pack(&sentences, size, overlap, &section.heading, &mut chunks);
    }
    chunks
}

struct Section {
    heading: Option<String>,
    paragraphs: Vec<String>,
}

fn sections(text: &str) -> Vec<Section> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut sections = vec![Section {
        heading: None,
        paragraphs: Vec::new(),
    }];
    let mut paragraph = String::new();
    let flush = |paragraph: &mut String, sections: &mut Vec<Section>| {
        if !paragraph.trim().is_empty()
            && let Some(section) = sections.last_mut()
        {
            section.paragraphs.push(std::mem::take(paragraph));
        }
        paragraph.clear();
    };
    for (index, line) in lines.iter().enumerate() {
        if line.is_empty() {
            flush(&mut paragraph, &mut sections);
            continue;
        }
        let before_blank = index == 0 || lines[index - 1].is_empty();
        let after_blank = lines.get(index + 1).is_none_or(|next| next.is_empty());
        if let Some(heading) = heading_of(line, before_blank && after_blank) {
            flush(&mut paragraph, &mut sections);
            sections.push(Section {
                heading: Some(heading),
                paragraphs: Vec::new(),
            });
            continue;
        }
        if !paragraph.is_empty() {
            // A line break inside a paragraph: Chinese runs on, other scripts need a space.
            let joins_cjk = paragraph.chars().last().is_some_and(is_cjk)
                && line.chars().next().is_some_and(is_cjk);
            if !joins_cjk {
                paragraph.push(' ');
            }
        }
        paragraph.push_str(line);
    }
    flush(&mut paragraph, &mut sections);
    sections.retain(|section| !section.paragraphs.is_empty());
    sections
}

/// The heading text when `line` is a heading. `alone`: the line has blank lines around it.
fn heading_of(line: &str, alone: bool) -> Option<String> {
    let hashes = line.chars().take_while(|c| *c == '#').count();
    if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
        let text = line[hashes..].trim().trim_end_matches('#').trim();
        return (!text.is_empty()).then(|| text.to_owned());
    }
    let chars = line.chars().count();
    if chars > 60 || ends_sentence(line) {
        return None;
    }
    if numbered_heading(line) {
        return Some(line.to_owned());
    }
    // A short line standing alone with no closing punctuation reads as a title.
    (alone && chars <= 40 && !line.ends_with([',', '，', ':', '：'])).then(|| line.to_owned())
}

fn ends_sentence(line: &str) -> bool {
    line.ends_with(['.', '!', '?', '。', '！', '？', '；', ';'])
}

/// `1 Scope`, `2.1 Leave`, `一、总则`, `第三章 薪酬`, `（二）`.
fn numbered_heading(line: &str) -> bool {
    let mut chars = line.chars();
    let first = chars.next().unwrap_or(' ');
    if first == '第' {
        return line
            .chars()
            .skip(1)
            .take_while(|c| is_chinese_numeral(*c) || c.is_ascii_digit())
            .count()
            > 0
            && line
                .chars()
                .find(|c| !(*c == '第' || is_chinese_numeral(*c) || c.is_ascii_digit()))
                .is_some_and(|c| matches!(c, '章' | '节' | '条' | '部'));
    }
    if is_chinese_numeral(first) {
        let rest: String = line
            .chars()
            .skip_while(|c| is_chinese_numeral(*c))
            .collect();
        return rest.starts_with('、');
    }
    if first.is_ascii_digit() {
        let rest = line.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
        let number = &line[..line.len() - rest.len()];
        return rest.starts_with(' ')
            && !number.ends_with("..")
            && rest
                .trim_start()
                .chars()
                .next()
                .is_some_and(char::is_alphabetic);
    }
    false
}

fn is_chinese_numeral(c: char) -> bool {
    "一二三四五六七八九十百零".contains(c)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3000..=0x303F | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xFF00..=0xFFEF)
}

/// Sentences of one paragraph, each with its closing punctuation.
fn sentences(paragraph: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = paragraph.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        let boundary = match c {
            '。' | '！' | '？' | '；' => true,
            '.' | '!' | '?' => chars.peek().is_none_or(|next| next.is_whitespace()),
            _ => false,
        };
        if boundary {
            // Closing quotes and brackets stay with their sentence.
            while let Some(&next) = chars.peek() {
                if matches!(next, '”' | '’' | '"' | '\'' | ')' | '）' | '」' | '』') {
                    current.push(next);
                    chars.next();
                } else {
                    break;
                }
            }
            push_sentence(&mut out, &mut current);
        }
    }
    push_sentence(&mut out, &mut current);
    out
}

fn push_sentence(out: &mut Vec<String>, current: &mut String) {
    let sentence = current.trim();
    if !sentence.is_empty() {
        out.push(sentence.to_owned());
    }
    current.clear();
}

/// A sentence longer than `size` characters, cut into pieces of at most `size`.
fn cut(sentence: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = sentence.chars().collect();
    if chars.len() <= size {
        return vec![sentence.to_owned()];
    }
    chars
        .chunks(size)
        .map(|piece| piece.iter().collect::<String>().trim().to_owned())
        .filter(|piece| !piece.is_empty())
        .collect()
}

fn joined_len(parts: &[&String]) -> usize {
    parts.iter().map(|s| s.chars().count()).sum::<usize>() + parts.len().saturating_sub(1)
}

fn join(parts: &[&String]) -> String {
    let mut text = String::new();
    for part in parts {
        if !text.is_empty() {
            let cjk =
                text.chars().last().is_some_and(is_cjk) && part.chars().next().is_some_and(is_cjk);
            if !cjk {
                text.push(' ');
            }
        }
        text.push_str(part);
    }
    text
}

fn pack(
    sentences: &[String],
    size: usize,
    overlap: usize,
    heading: &Option<String>,
    chunks: &mut Vec<Chunk>,
) {
    let mut current: Vec<&String> = Vec::new();
    // How many sentences at the start of `current` were carried over from the last chunk.
    let mut carried = 0usize;
    for sentence in sentences {
        let mut candidate = current.clone();
        candidate.push(sentence);
        if joined_len(&candidate) > size && current.len() > carried {
            chunks.push(Chunk {
                heading: heading.clone(),
                text: join(&current),
            });
            // Carry whole trailing sentences worth at most `overlap` characters.
            let mut tail: Vec<&String> = Vec::new();
            for previous in current.iter().rev() {
                let mut with = vec![*previous];
                with.extend(tail.iter().copied());
                if joined_len(&with) > overlap
                    || joined_len(&with) + sentence.chars().count() + 1 > size
                {
                    break;
                }
                tail = with;
            }
            carried = tail.len();
            current = tail;
        }
        current.push(sentence);
    }
    if current.len() > carried {
        chunks.push(Chunk {
            heading: heading.clone(),
            text: join(&current),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(size: usize, overlap: usize) -> ChunkOptions {
        ChunkOptions { size, overlap }
    }

    #[test]
    fn markdown_headings_start_sections() {
        let text = "# Leave policy\n\nEmployees get 15 days. Unused days expire.\n\n## Sick leave\n\nTen days per year.";
        let chunks = chunk(text, options(200, 0));
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].heading.as_deref(), Some("Leave policy"));
        assert_eq!(chunks[0].text, "Employees get 15 days. Unused days expire.");
        assert_eq!(chunks[1].heading.as_deref(), Some("Sick leave"));
        assert_eq!(chunks[1].text, "Ten days per year.");
    }

    #[test]
    fn chinese_sentences_end_without_spaces() {
        let text =
            "一、年假\n\n员工每年享有十五天年假。未使用的年假在次年三月底前有效。病假另行计算。";
        let chunks = chunk(text, options(20, 0));
        assert!(
            chunks
                .iter()
                .all(|c| c.heading.as_deref() == Some("一、年假"))
        );
        assert_eq!(chunks[0].text, "员工每年享有十五天年假。");
        assert_eq!(chunks[1].text, "未使用的年假在次年三月底前有效。");
        assert_eq!(chunks[2].text, "病假另行计算。");
        for c in &chunks {
            assert!(c.text.chars().count() <= 20, "{c:?}");
        }
    }

    #[test]
    fn chunks_respect_size_and_overlap_whole_sentences() {
        let sentences: Vec<String> = (0..30)
            .map(|i| format!("Sentence number {i} is here."))
            .collect();
        let text = sentences.join(" ");
        let chunks = chunk(&text, options(120, 40));
        assert!(chunks.len() > 3);
        for pair in chunks.windows(2) {
            assert!(pair[0].text.chars().count() <= 120);
            // The next chunk starts with the previous chunk's last sentence.
            let last = pair[0].text.rsplit(". ").next().unwrap_or_default();
            assert!(
                pair[1].text.starts_with(last.trim_end_matches('.')),
                "{pair:?}"
            );
        }
        // Every sentence appears somewhere, in order.
        let all: String = chunks
            .iter()
            .map(|c| c.text.clone())
            .collect::<Vec<_>>()
            .join(" ");
        for sentence in &sentences {
            assert!(all.contains(sentence.as_str()), "{sentence} lost");
        }
    }

    #[test]
    fn long_sentence_is_cut_on_character_boundaries() {
        let text = "长".repeat(250);
        let chunks = chunk(&text, options(100, 20));
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| c.text.chars().count() <= 100));
        assert_eq!(
            chunks.iter().map(|c| c.text.chars().count()).sum::<usize>(),
            250
        );
    }

    #[test]
    fn numbered_and_chinese_chapter_headings() {
        assert!(numbered_heading("2.1 Annual leave"));
        assert!(numbered_heading("第三章 薪酬"));
        assert!(numbered_heading("十二、附则"));
        // A numbered sentence is not a heading.
        assert_eq!(
            heading_of("2024 was a good year for hiring and we grew.", false),
            None
        );
        assert_eq!(
            heading_of("2.1 Annual leave", false).as_deref(),
            Some("2.1 Annual leave")
        );
        assert!(!numbered_heading("3.5"));
        assert!(!numbered_heading("第一"));
    }

    #[test]
    fn empty_text_gives_no_chunks() {
        assert!(chunk("", options(100, 10)).is_empty());
        assert!(chunk(" \n\n \t", options(100, 10)).is_empty());
    }

    #[test]
    fn wrapped_lines_join_into_one_paragraph() {
        let text = "The probation period\nlasts three months.\n招聘流程包括\n两轮面试。";
        let chunks = chunk(text, options(500, 0));
        assert_eq!(chunks.len(), 1);
        assert_eq!(
            chunks[0].text,
            "The probation period lasts three months. 招聘流程包括两轮面试。"
        );
    }
}
