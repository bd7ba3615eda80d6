//! Typography: French rules, shaping, line breaking and fitting text in a
//! box. Pure: fonts come in as bytes, nothing is read or drawn here.

pub mod french;
pub mod text;

pub use text::{Block, FontFace, Frame, Line, Overflow, Paragraph, Wrap};

/// Runs of white space as one space, ends trimmed.
pub fn squash_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}
