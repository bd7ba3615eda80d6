//! Typography: French rules, shaping, line breaking and fitting text in a
//! box. Pure: fonts come in as bytes, nothing is read or drawn here.

pub mod french;
pub mod text;

pub use text::{Block, FontFace, Frame, Line, Overflow, Paragraph, Wrap};
