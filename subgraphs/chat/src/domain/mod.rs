//! Chat's pure rules, no I/O: `chunking` (knowledge text → chunks that respect headings and
//! sentence ends), `prompt` (the prompt within the model's window, and its policy for older
//! turns), `citations` (which numbered sources an answer cites).

pub mod chunking;
pub mod citations;
pub mod prompt;
