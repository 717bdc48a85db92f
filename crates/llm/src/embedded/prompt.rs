//! The ChatML prompt SmolLM2-Instruct was trained on, from a [`ChatRequest`]'s messages.
//!
//! Each message becomes `<|im_start|>{role}\n{content}<|im_end|>\n` and the prompt ends with
//! `<|im_start|>assistant\n`, as the chat template stored in the GGUF renders it. Choices the
//! template does not make for us:
//! - **No system message first** → the template's own default system turn is inserted
//!   ([`DEFAULT_SYSTEM_PROMPT`]), so the model sees the prompt shape it was tuned on. Callers that
//!   want another persona send their own system message first.
//! - **Tool results** (role `tool`) become `user` turns that say which call they answer: the
//!   model knows only system/user/assistant turns and cannot call tools itself.
//! - **Assistant tool calls** (from a history another provider wrote) are appended to that
//!   assistant turn as plain lines, so the following tool results still make sense.
//!
//! Control tokens are placed here only: message text is encoded as plain text, so a user who
//! types `<|im_end|>` cannot close their turn or open a new one.

use super::tokenizer::ChatTokenizer;
use crate::{ChatMessage, Role};

/// The system turn the model's chat template adds when the first message is not a system one.
pub const DEFAULT_SYSTEM_PROMPT: &str =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// One piece of a rendered prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromptPiece {
    /// `<|im_start|>`.
    TurnStart,
    /// `<|im_end|>`.
    TurnEnd,
    /// Text, tokenized as plain text.
    Text(String),
}

/// The pieces of the ChatML prompt for `messages`, ending with the opened assistant turn.
pub fn chat_pieces(messages: &[ChatMessage]) -> Vec<PromptPiece> {
    let mut pieces = Vec::with_capacity(messages.len() * 4 + 6);
    let mut turn = |role: &str, content: &str| {
        pieces.push(PromptPiece::TurnStart);
        pieces.push(PromptPiece::Text(format!("{role}\n{content}")));
        pieces.push(PromptPiece::TurnEnd);
        pieces.push(PromptPiece::Text("\n".to_string()));
    };
    if messages.first().map(|m| m.role) != Some(Role::System) {
        turn("system", DEFAULT_SYSTEM_PROMPT);
    }
    for message in messages {
        match message.role {
            Role::System => turn("system", &message.content),
            Role::User => turn("user", &message.content),
            Role::Assistant => {
                let mut content = message.content.clone();
                for call in &message.tool_calls {
                    if !content.is_empty() {
                        content.push('\n');
                    }
                    content.push_str(&format!(
                        "(called tool `{}` with arguments {})",
                        call.name, call.arguments
                    ));
                }
                turn("assistant", &content);
            }
            Role::Tool => {
                let call = message.tool_call_id.as_deref().unwrap_or("unknown");
                turn(
                    "user",
                    &format!("Result of tool call `{call}`:\n{}", message.content),
                );
            }
        }
    }
    pieces.push(PromptPiece::TurnStart);
    pieces.push(PromptPiece::Text("assistant\n".to_string()));
    pieces
}

/// The prompt as text, with the control tokens spelled out (for logs and tests).
pub fn render_chatml(messages: &[ChatMessage]) -> String {
    chat_pieces(messages)
        .into_iter()
        .map(|piece| match piece {
            PromptPiece::TurnStart => "<|im_start|>".to_string(),
            PromptPiece::TurnEnd => "<|im_end|>".to_string(),
            PromptPiece::Text(text) => text,
        })
        .collect()
}

/// The prompt's token ids: control ids where the template puts them, everything else as text.
pub fn chat_prompt_ids(
    tokenizer: &ChatTokenizer,
    messages: &[ChatMessage],
) -> Result<Vec<u32>, String> {
    let special = tokenizer.special();
    let mut ids = Vec::new();
    for piece in chat_pieces(messages) {
        match piece {
            PromptPiece::TurnStart => ids.push(special.im_start),
            PromptPiece::TurnEnd => ids.push(special.im_end),
            PromptPiece::Text(text) => ids.extend(tokenizer.encode(&text)?),
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ToolCall;

    #[test]
    fn renders_chatml_with_the_template_default_system_turn() {
        let text = render_chatml(&[ChatMessage::user("hi")]);
        assert_eq!(
            text,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
             Face<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn keeps_the_callers_system_turn_and_folds_tools_into_user_turns() {
        let mut asked = ChatMessage::assistant("Let me look.");
        asked.tool_calls.push(ToolCall {
            id: "c1".into(),
            name: "search".into(),
            arguments: "{\"q\":\"rust\"}".into(),
        });
        let text = render_chatml(&[
            ChatMessage::system("Be brief."),
            ChatMessage::user("Find rust jobs"),
            asked,
            ChatMessage::tool_result("c1", "3 jobs"),
        ]);
        assert_eq!(
            text,
            "<|im_start|>system\nBe brief.<|im_end|>\n\
             <|im_start|>user\nFind rust jobs<|im_end|>\n\
             <|im_start|>assistant\nLet me look.\n(called tool `search` with arguments \
             {\"q\":\"rust\"})<|im_end|>\n\
             <|im_start|>user\nResult of tool call `c1`:\n3 jobs<|im_end|>\n\
             <|im_start|>assistant\n"
        );
    }
}
