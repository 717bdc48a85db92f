//! Which numbered sources an answer cites: `[1]`, `[1, 3]`, `[2][3]`, and the full-width
//! `【1】` / `［1］` Chinese models write. Numbers outside `1..=sources` are not citations.

/// The source numbers cited in `answer`, in order of first appearance, without repeats.
pub fn cited(answer: &str, sources: usize) -> Vec<usize> {
    let mut found = Vec::new();
    let mut chars = answer.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        let close = match c {
            '[' => ']',
            '【' => '】',
            '［' => '］',
            _ => continue,
        };
        let mut inside = String::new();
        let mut closed = false;
        while let Some(&(_, next)) = chars.peek() {
            if next == close {
                chars.next();
                closed = true;
                break;
            }
            if inside.chars().count() > 24
                || !(next.is_ascii_digit() || matches!(next, ',' | '，' | ' ' | '、'))
            {
                break;
            }
            inside.push(next);
            chars.next();
        }
        if !closed {
            continue;
        }
        for part in inside.split([',', '，', '、']) {
            if let Ok(number) = part.trim().parse::<usize>()
                && (1..=sources).contains(&number)
                && !found.contains(&number)
            {
                found.push(number);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::cited;

    #[test]
    fn finds_bracketed_numbers_in_order() {
        assert_eq!(
            cited("Leave is 15 days [2]. Sick leave [1][2].", 3),
            vec![2, 1]
        );
        assert_eq!(cited("见【1】和［3］。", 3), vec![1, 3]);
        assert_eq!(cited("Both [1, 3] say so.", 3), vec![1, 3]);
    }

    #[test]
    fn ignores_what_is_not_a_citation() {
        assert_eq!(
            cited("array[0] and [7] and [x] and [1", 3),
            Vec::<usize>::new()
        );
        assert_eq!(cited("no sources", 0), Vec::<usize>::new());
        assert_eq!(cited("[1]", 0), Vec::<usize>::new());
    }
}
