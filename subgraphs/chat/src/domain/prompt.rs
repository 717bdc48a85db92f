//! The prompt sent to the model, built within its context window.
//!
//! Policy (what users can rely on): the system prompt, the retrieved sources and the new
//! question always come first in the budget; the reply keeps `answer_tokens` free. Sources are
//! added best first while they fit (a source that does not fit is left out, never cut
//! mid-text). Earlier turns are added newest first, a user turn together with the replies
//! that answered it, while they fit; older turns are dropped and the system prompt says how
//! many messages were left out, so the model does not pretend to remember them. Tokens are
//! counted with the model's own tokenizer (`ChatModel::count_tokens`), plus a margin per
//! message for the chat template's markers.

use looma_llm::{ChatMessage, Role};

/// Tokens the chat template adds around each message (`<|im_start|>role\n…<|im_end|>\n`).
pub const TEMPLATE_TOKENS_PER_MESSAGE: usize = 8;

/// A retrieved knowledge chunk, numbered as the answer cites it.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub number: usize,
    pub title: String,
    pub heading: Option<String>,
    pub text: String,
}

/// How much room there is.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// The model's context window (prompt + reply).
    pub window: usize,
    /// Tokens kept free for the reply.
    pub answer_tokens: usize,
}

/// The built prompt and what the policy left out.
#[derive(Clone, Debug)]
pub struct Prompt {
    pub messages: Vec<ChatMessage>,
    /// The sources that made it into the prompt (a prefix of the ones given, best first).
    pub sources: Vec<Source>,
    /// Earlier messages left out for lack of room.
    pub dropped_messages: usize,
    /// Tokens the prompt takes by the model's count.
    pub tokens: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PromptError {
    #[error(
        "the message takes {needed} tokens with the system prompt, but the model's window leaves {available}"
    )]
    TooLong { needed: usize, available: usize },
}

/// Builds the prompt. `history` is the conversation so far, oldest first, without the new
/// question.
pub fn build(
    system: &str,
    sources: &[Source],
    history: &[ChatMessage],
    question: &str,
    budget: Budget,
    count: &dyn Fn(&str) -> usize,
) -> Result<Prompt, PromptError> {
    let cost = |text: &str| count(text) + TEMPLATE_TOKENS_PER_MESSAGE;
    let available = budget.window.saturating_sub(budget.answer_tokens);
    // Room for the note about dropped turns, reserved up front so adding it cannot overflow.
    let note_reserve = count(&dropped_note(999)) + 1;
    let fixed = cost(system) + cost(question) + count(SOURCES_HEADER) + note_reserve;
    if fixed > available {
        return Err(PromptError::TooLong {
            needed: fixed,
            available,
        });
    }
    let mut used = fixed;
    let mut kept_sources = Vec::new();
    for source in sources {
        let text = render_source(source);
        let tokens = count(&text) + 1;
        if used + tokens > available {
            break;
        }
        used += tokens;
        kept_sources.push(source.clone());
    }

    // Group history into turns: a user message with the messages after it up to the next one.
    let mut turns: Vec<&[ChatMessage]> = Vec::new();
    let mut start = 0;
    for index in 1..=history.len() {
        if index == history.len() || history[index].role == Role::User {
            turns.push(&history[start..index]);
            start = index;
        }
    }
    let mut kept_turns: Vec<&[ChatMessage]> = Vec::new();
    for turn in turns.iter().rev() {
        let tokens: usize = turn.iter().map(|m| cost(&m.content)).sum();
        if used + tokens > available {
            break;
        }
        used += tokens;
        kept_turns.push(turn);
    }
    kept_turns.reverse();
    let kept_count: usize = kept_turns.iter().map(|t| t.len()).sum();
    let dropped_messages = history.len() - kept_count;

    let mut system_text = system.trim().to_owned();
    if !kept_sources.is_empty() {
        system_text.push_str("\n\n");
        system_text.push_str(SOURCES_HEADER);
        for source in &kept_sources {
            system_text.push_str("\n\n");
            system_text.push_str(&render_source(source));
        }
    }
    if dropped_messages > 0 {
        system_text.push_str("\n\n");
        system_text.push_str(&dropped_note(dropped_messages));
    }
    let mut messages = vec![ChatMessage::system(system_text)];
    messages.extend(kept_turns.into_iter().flatten().cloned());
    messages.push(ChatMessage::user(question));
    Ok(Prompt {
        messages,
        sources: kept_sources,
        dropped_messages,
        tokens: used,
    })
}

const SOURCES_HEADER: &str =
    "Sources (cite them as [1], [2]; if they do not hold the answer, say so):";

fn render_source(source: &Source) -> String {
    let mut label = source.title.clone();
    if let Some(heading) = &source.heading {
        label.push_str(" — ");
        label.push_str(heading);
    }
    format!("[{}] {}\n{}", source.number, label, source.text)
}

fn dropped_note(count: usize) -> String {
    format!("({count} earlier messages of this conversation are not shown.)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> usize {
        text.split_whitespace().count()
    }

    fn source(number: usize, text: &str) -> Source {
        Source {
            number,
            title: format!("Doc {number}"),
            heading: None,
            text: text.to_owned(),
        }
    }

    #[test]
    fn everything_fits_in_a_large_window() {
        let history = vec![
            ChatMessage::user("hi there"),
            ChatMessage::assistant("hello"),
        ];
        let prompt = build(
            "You help recruiters.",
            &[source(1, "Leave is fifteen days.")],
            &history,
            "How much leave?",
            Budget {
                window: 4096,
                answer_tokens: 256,
            },
            &words,
        )
        .unwrap();
        assert_eq!(prompt.messages.len(), 4);
        assert_eq!(prompt.dropped_messages, 0);
        assert!(
            prompt.messages[0]
                .content
                .contains("[1] Doc 1\nLeave is fifteen days.")
        );
        assert_eq!(prompt.messages[3].content, "How much leave?");
    }

    #[test]
    fn oldest_turns_drop_first_and_whole() {
        let filler = "word ".repeat(30);
        let history = vec![
            ChatMessage::user(format!("first {filler}")),
            ChatMessage::assistant(format!("reply one {filler}")),
            ChatMessage::user("second question"),
            ChatMessage::assistant("second reply"),
        ];
        let prompt = build(
            "sys",
            &[],
            &history,
            "third",
            Budget {
                window: 100,
                answer_tokens: 20,
            },
            &words,
        )
        .unwrap();
        assert_eq!(prompt.dropped_messages, 2);
        let contents: Vec<&str> = prompt.messages.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(
            &contents[1..],
            &["second question", "second reply", "third"]
        );
        assert!(contents[0].contains("2 earlier messages"));
        assert!(prompt.tokens <= 80);
    }

    #[test]
    fn sources_that_do_not_fit_are_left_out_whole() {
        let long = "x ".repeat(60);
        let prompt = build(
            "sys",
            &[
                source(1, "short one"),
                source(2, &long),
                source(3, "short three"),
            ],
            &[],
            "q",
            Budget {
                window: 100,
                answer_tokens: 20,
            },
            &words,
        )
        .unwrap();
        assert_eq!(prompt.sources.len(), 1);
        assert!(!prompt.messages[0].content.contains("[2] Doc 2"));
        assert!(
            !prompt.messages[0].content.contains("[3] Doc 3"),
            "best first: stops at the first that does not fit"
        );
    }

    #[test]
    fn a_question_beyond_the_window_is_refused() {
        let question = "word ".repeat(500);
        let error = build(
            "sys",
            &[],
            &[],
            &question,
            Budget {
                window: 256,
                answer_tokens: 64,
            },
            &words,
        )
        .unwrap_err();
        assert!(matches!(error, PromptError::TooLong { available: 192, .. }));
    }
}
