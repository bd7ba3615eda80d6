//! Problems found in a user's files, and how they are shown.
//!
//! Every check in crieur produces [`Diagnostic`]s rather than stopping at the
//! first problem: a diagnostic names a file, a byte span in that file, a
//! message in French and an optional hint. [`Report`] keeps the text of each
//! file so that a diagnostic can be printed as `path:line:col` with the
//! source line and a caret under the culprit, the way rustc and just do.

use rustc_hash::FxHashMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};
use serde::Serialize;

/// How serious a problem is: errors make `check` fail, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem, located in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file's path relative to the project root, with `/` separators.
    pub path: String,
    /// Byte range in the file's text; `None` when the problem concerns the
    /// whole file (unreadable, too large...).
    pub span: Option<Range<usize>>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(path: &str, span: Option<Range<usize>>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            path: path.to_owned(),
            span,
            message: message.into(),
            hint: None,
        }
    }

    pub fn warning(path: &str, span: Option<Range<usize>>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(path, span, message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A located diagnostic, ready for machines (the preview page, `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct LocatedDiagnostic {
    pub severity: Severity,
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// The diagnostics of a run together with the text of the files they point
/// into.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// By path: paths are the project's own, hashed the fast way.
    sources: FxHashMap<String, Arc<str>>,
    diagnostics: Vec<Diagnostic>,
    /// Put before each path when rendering for a person: the way from the
    /// current folder to the project (`mon-projet/`), empty when they are
    /// the same. Paths stay relative to the project everywhere else.
    display_prefix: String,
}

impl Report {
    pub fn new() -> Self {
        Report::default()
    }

    /// Remembers the text of `path`, so that diagnostics can quote it.
    pub fn add_source(&mut self, path: &str, text: Arc<str>) {
        self.sources.insert(path.to_owned(), text);
    }

    /// Shows paths from the current folder: `prefix` (`mon-projet/`, or
    /// empty) goes before each path [`Report::render`] prints.
    pub fn set_display_prefix(&mut self, prefix: impl Into<String>) {
        self.display_prefix = prefix.into();
    }

    /// `path`, relative to the project, as a person finds it from the
    /// current folder.
    pub fn display_path(&self, path: &str) -> String {
        format!("{}{path}", self.display_prefix)
    }

    pub fn source(&self, path: &str) -> Option<&str> {
        self.sources.get(path).map(|text| &**text)
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    pub fn extend(&mut self, diagnostics: impl IntoIterator<Item = Diagnostic>) {
        self.diagnostics.extend(diagnostics);
    }

    /// Takes in another report's diagnostics and sources: a part of the
    /// project read on its own.
    /// Makes room for the sources of `more` files.
    pub fn reserve_sources(&mut self, more: usize) {
        self.sources.reserve(more);
    }

    pub fn append(&mut self, other: Report) {
        self.sources.extend(other.sources);
        self.diagnostics.extend(other.diagnostics);
    }

    /// Diagnostics in a stable order: by file, then position, then text.
    pub fn diagnostics(&self) -> Vec<&Diagnostic> {
        let mut sorted: Vec<&Diagnostic> = self.diagnostics.iter().collect();
        sorted.sort_by(|a, b| {
            (&a.path, a.span.as_ref().map(|s| s.start), &a.message).cmp(&(
                &b.path,
                b.span.as_ref().map(|s| s.start),
                &b.message,
            ))
        });
        sorted.dedup();
        sorted
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics().iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics().iter().filter(|d| !d.is_error()).count()
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Line and column (both from 1, the column counted in characters) of
    /// a diagnostic's start.
    pub fn locate(&self, diagnostic: &Diagnostic) -> (usize, usize) {
        match (&diagnostic.span, self.source(&diagnostic.path)) {
            (Some(span), Some(text)) => line_col(text, span.start),
            _ => (1, 1),
        }
    }

    pub fn located(&self) -> Vec<LocatedDiagnostic> {
        self.diagnostics()
            .into_iter()
            .map(|diagnostic| {
                let (line, column) = self.locate(diagnostic);
                LocatedDiagnostic {
                    severity: diagnostic.severity,
                    path: diagnostic.path.clone(),
                    line,
                    column,
                    message: diagnostic.message.clone(),
                    hint: diagnostic.hint.clone(),
                }
            })
            .collect()
    }

    /// Renders every diagnostic, each with its source line and caret.
    pub fn render(&self, color: bool) -> String {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let mut out = String::new();
        for diagnostic in self.diagnostics() {
            let _ = writeln!(out, "{}", self.render_one(&renderer, diagnostic));
            out.push('\n');
        }
        out
    }

    fn render_one(&self, renderer: &Renderer, diagnostic: &Diagnostic) -> String {
        // The renderer writes `name: `; French puts a space before the
        // colon (`erreur : `), as every message of crieur does.
        let level = match diagnostic.severity {
            Severity::Error => Level::ERROR.with_name("erreur "),
            Severity::Warning => Level::WARNING.with_name("avertissement "),
        };
        let title = level.primary_title(diagnostic.message.as_str());
        let source = self.source(&diagnostic.path);
        let path = self.display_path(&diagnostic.path);
        let mut group = match (&diagnostic.span, source) {
            (Some(span), Some(text)) => {
                let span = clamp_span(text, span.clone());
                // Quote only the lines around the span: whole files can be
                // long, and a diagnostic is about one place.
                let (window, window_start, first_line) = window_around(text, &span);
                let local = span.start - window_start..span.end - window_start;
                Group::with_title(title).element(
                    Snippet::source(window)
                        .line_start(first_line)
                        .path(path)
                        .annotation(AnnotationKind::Primary.span(local)),
                )
            }
            _ => Group::with_title(title).element(Origin::path(path)),
        };
        if let Some(hint) = &diagnostic.hint {
            group = group.element(Level::HELP.with_name("aide ").message(hint.as_str()));
        }
        renderer.render(&[group])
    }
}

/// Keeps a span inside the text and on character boundaries.
fn clamp_span(text: &str, span: Range<usize>) -> Range<usize> {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// The lines that contain `span`, as a slice of `text`, with the byte offset
/// of the slice and the number of its first line.
fn window_around<'t>(text: &'t str, span: &Range<usize>) -> (&'t str, usize, usize) {
    let start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let end = text[span.end..]
        .find('\n')
        .map_or(text.len(), |i| span.end + i);
    let first_line = text[..start].matches('\n').count() + 1;
    (&text[start..end], start, first_line)
}

/// Line and column, both from 1, of byte `offset` in `text`; the column is
/// counted in characters, as editors show it.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = clamp_span(text, offset..offset).start;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The candidate closest to `word`, if one is close enough to be a likely
/// typo; used for « vouliez-vous dire … ? » hints.
pub fn closest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let word_lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|candidate| {
            let score = strsim::jaro_winkler(&word_lower, &candidate.to_lowercase());
            (score, candidate)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// The « vouliez-vous dire … ? » hint, or a list of what is allowed.
pub fn suggest(word: &str, candidates: &[&str]) -> Option<String> {
    if let Some(best) = closest(word, candidates.iter().copied()) {
        return Some(format!("vouliez-vous dire `{best}` ?"));
    }
    if candidates.is_empty() {
        return None;
    }
    let list: Vec<String> = candidates.iter().map(|c| format!("`{c}`")).collect();
    Some(format!("valeurs possibles : {}", list.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_columns_in_characters() {
        let text = "a = 1\nété = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        // `=` on line 2 comes after three characters and a space.
        let offset = text.find("= 2").unwrap();
        assert_eq!(line_col(text, offset), (2, 5));
    }

    #[test]
    fn suggests_the_closest_key() {
        assert_eq!(
            suggest("sereis", &["series", "template", "channels"]).as_deref(),
            Some("vouliez-vous dire `series` ?")
        );
        assert_eq!(
            suggest("zzz", &["a", "b"]).as_deref(),
            Some("valeurs possibles : `a`, `b`")
        );
    }

    #[test]
    fn renders_path_line_column_source_and_caret() {
        let mut report = Report::new();
        report.add_source("posts/a.md", Arc::from("+++\nsereis = \"x\"\n+++\nCorps\n"));
        report.push(
            Diagnostic::error("posts/a.md", Some(4..10), "clé inconnue `sereis`")
                .with_hint("vouliez-vous dire `series` ?"),
        );
        let out = report.render(false);
        assert!(out.contains("erreur : clé inconnue `sereis`"), "{out}");
        assert!(out.contains(" --> posts/a.md:2:1\n"), "{out}");
        assert!(out.contains("sereis = \"x\""), "{out}");
        assert!(out.contains("^^^^^^"), "{out}");
        assert!(
            out.contains("= aide : vouliez-vous dire `series` ?"),
            "{out}"
        );
    }

    #[test]
    fn renders_paths_from_the_current_folder_and_keeps_them_for_machines() {
        let mut report = Report::new();
        report.add_source("posts/a.md", Arc::from("+++\nsereis = \"x\"\n+++\nCorps\n"));
        report.push(Diagnostic::error("posts/a.md", Some(4..10), "clé inconnue"));
        report.push(Diagnostic::warning("posts/b.md", None, "fichier vide"));
        report.set_display_prefix("mon-projet/");
        let out = report.render(false);
        assert!(out.contains(" --> mon-projet/posts/a.md:2:1\n"), "{out}");
        assert!(out.contains(" --> mon-projet/posts/b.md\n"), "{out}");
        assert!(out.contains("avertissement : fichier vide"), "{out}");
        let located = report.located();
        assert_eq!(located[0].path, "posts/a.md");
        assert_eq!(located[1].path, "posts/b.md");
    }
}
