//! Translates the search syntax promised by `TextIndex::search` (words, `"phrases"`, `+must`,
//! `-mustnot`, `AND`/`OR`/`NOT`, parentheses) into Lucene `query_string` syntax.
//!
//! Everything outside that syntax is escaped, so a user cannot reach fields (`city:x`), regular
//! expressions, wildcards, ranges or boosts. Structural mistakes (a dangling `AND`, an unclosed
//! parenthesis) are passed through and reported by the server as a parse error, which the
//! adapter maps to `EngineError::InvalidQuery`.

use looma_taxonomy::is_cjk;

/// Characters Lucene's classic query parser treats specially inside a bare term.
const LUCENE_SPECIAL: &[char] = &[
    '\\', '+', '-', '!', '(', ')', '{', '}', '[', ']', '^', '"', '~', '*', '?', ':', '/', '&', '|',
    '=',
];

/// Fuzzy matching starts at this many characters (edit distance 1), as the trait documents.
pub const FUZZY_MIN_CHARS: usize = 5;
/// Edit distance 2 from this many characters on.
pub const FUZZY_TWO_EDITS_CHARS: usize = 9;
/// Elasticsearch's spelling of the same rule.
pub const FUZZINESS: &str = "AUTO:5,9";

/// Rewrites `query` for `query_string`. With `fuzzy`, bare Latin-script terms long enough to be
/// typo tolerant get a `~` so the request's `fuzziness` applies to them (terms with CJK characters
/// are left exact: they are segmented into several tokens and a fuzzy term query cannot be).
pub fn to_lucene(query: &str, fuzzy: bool) -> String {
    let mut out = String::with_capacity(query.len() + 8);
    let mut chars = query.chars().peekable();
    let mut at_clause_start = true;
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                out.push(' ');
                at_clause_start = true;
                continue;
            }
            '"' => {
                out.push('"');
                for inner in chars.by_ref() {
                    if inner == '"' {
                        break;
                    }
                    if inner == '\\' {
                        out.push('\\');
                    }
                    out.push(inner);
                }
                out.push('"');
            }
            '(' | ')' => out.push(c),
            '+' | '-' if at_clause_start => {
                out.push(c);
                // The operator belongs to the clause that follows.
                continue;
            }
            _ => {
                let mut term = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || next == '(' || next == ')' || next == '"' {
                        break;
                    }
                    term.push(next);
                    chars.next();
                }
                push_term(&mut out, &term, fuzzy);
            }
        }
        at_clause_start = false;
    }
    out.trim().to_string()
}

fn push_term(out: &mut String, term: &str, fuzzy: bool) {
    if matches!(term, "AND" | "OR" | "NOT") {
        out.push_str(term);
        return;
    }
    let mut written = 0;
    for c in term.chars() {
        // `<` and `>` cannot be escaped in Elasticsearch's query_string: drop them.
        if c == '<' || c == '>' {
            continue;
        }
        if LUCENE_SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
        written += 1;
    }
    let typo_tolerant = fuzzy
        && written >= FUZZY_MIN_CHARS
        && term.chars().all(|c| c.is_alphanumeric() && !is_cjk(c));
    if typo_tolerant {
        out.push('~');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_documented_syntax() {
        assert_eq!(
            to_lucene(
                r#"rust +"backend engineer" -java (go OR python) AND NOT php"#,
                false
            ),
            r#"rust +"backend engineer" -java (go OR python) AND NOT php"#
        );
    }

    #[test]
    fn escapes_field_access_regex_wildcards_and_ranges() {
        assert_eq!(to_lucene("city:北京", false), r"city\:北京");
        assert_eq!(to_lucene("/ja.*/ ru?t *", false), r"\/ja.\*\/ ru\?t \*");
        assert_eq!(to_lucene("c++ c# node.js", false), r"c\+\+ c# node.js");
        assert_eq!(to_lucene("years:>5 a^3 b~2", false), r"years\:5 a\^3 b\~2");
        assert_eq!(
            to_lucene("[1 TO 5] !x a&&b", false),
            r"\[1 TO 5\] \!x a\&\&b"
        );
    }

    #[test]
    fn hyphen_inside_a_word_is_not_an_operator() {
        assert_eq!(to_lucene("front-end -php", false), r"front\-end -php");
    }

    #[test]
    fn fuzzy_marks_only_long_latin_terms() {
        assert_eq!(
            to_lucene(
                r#"rust enginer "exact phrase" 工程师 kubernetes AND go"#,
                true
            ),
            r#"rust enginer~ "exact phrase" 工程师 kubernetes~ AND go"#
        );
    }

    #[test]
    fn unclosed_phrase_is_closed_and_quotes_inside_are_safe() {
        assert_eq!(to_lucene(r#""senior rust"#, false), r#""senior rust""#);
        assert_eq!(to_lucene(r#""a\b""#, false), r#""a\\b""#);
    }
}
