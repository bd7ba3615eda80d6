//! Typed reading of TOML documents that reports every problem, with spans.
//!
//! serde stops at the first error of a document, yet a communication officer
//! fixing a post wants to see all its mistakes at once. So the config, the
//! templates and each post's front matter are parsed into toml's spanned
//! document tree, and read key by key through a [`Reader`]: each unknown key,
//! wrong type or bad value becomes a [`Diagnostic`] at its exact place, and
//! reading goes on.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Diagnostic, suggest};

/// A key and its value in a spanned TOML table.
pub type Entry<'t, 'i> = (
    &'t Spanned<toml::de::DeString<'i>>,
    &'t Spanned<DeValue<'i>>,
);

/// Reads one TOML document of one file, collecting diagnostics.
pub struct Reader<'r> {
    path: &'r str,
    /// Byte offset of the document in its file (front matter starts after
    /// the opening `+++`), so that spans point into the whole file.
    offset: usize,
    diagnostics: &'r mut Vec<Diagnostic>,
}

impl<'r> Reader<'r> {
    pub fn new(path: &'r str, offset: usize, diagnostics: &'r mut Vec<Diagnostic>) -> Self {
        Reader {
            path,
            offset,
            diagnostics,
        }
    }

    pub fn path(&self) -> &str {
        self.path
    }

    /// Parses `text`, reporting every syntax error; `None` when the document
    /// cannot be trusted.
    pub fn parse<'i>(&mut self, text: &'i str) -> Option<DeTable<'i>> {
        let (table, errors) = DeTable::parse_recoverable(text);
        if errors.is_empty() {
            return Some(table.into_inner());
        }
        for error in errors {
            let span = error.span().unwrap_or(0..0);
            let message = error.message().trim().to_owned();
            let diagnostic = Diagnostic::error(
                self.path,
                Some(self.span(span)),
                format!("syntaxe TOML invalide : {message}"),
            )
            .with_hint_opt(syntax_hint(&message));
            self.diagnostics.push(diagnostic);
        }
        None
    }

    /// A span of the document as a span of the file.
    pub fn span(&self, span: Range<usize>) -> Range<usize> {
        span.start + self.offset..span.end + self.offset
    }

    pub fn error(&mut self, span: Range<usize>, message: impl Into<String>) -> &mut Diagnostic {
        let span = self.span(span);
        self.diagnostics
            .push(Diagnostic::error(self.path, Some(span), message));
        self.diagnostics.last_mut().expect("just pushed")
    }

    pub fn warning(&mut self, span: Range<usize>, message: impl Into<String>) -> &mut Diagnostic {
        let span = self.span(span);
        self.diagnostics
            .push(Diagnostic::warning(self.path, Some(span), message));
        self.diagnostics.last_mut().expect("just pushed")
    }

    /// The last diagnostic pushed, to complete it.
    /// How many errors were reported so far.
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// The message of the last error reported, if any.
    pub fn last_error(&self) -> Option<String> {
        self.diagnostics
            .iter()
            .rev()
            .find(|d| d.is_error())
            .map(|d| d.message.clone())
    }

    pub fn last(&mut self) -> Option<&mut Diagnostic> {
        self.diagnostics.last_mut()
    }

    /// Reports every key of `table` that is not in `allowed`.
    pub fn unknown_keys(&mut self, table: &DeTable<'_>, section: &str, allowed: &[&str]) {
        for (key, _) in table.iter() {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                continue;
            }
            let place = if section.is_empty() {
                String::new()
            } else {
                format!(" dans `{section}`")
            };
            let hint = suggest(name, allowed);
            self.error(key.span(), format!("clé inconnue `{name}`{place}"))
                .hint = hint;
        }
    }

    pub fn get<'t, 'i>(table: &'t DeTable<'i>, key: &str) -> Option<Entry<'t, 'i>> {
        table.iter().find(|(k, _)| {
            let name: &str = k.get_ref();
            name == key
        })
    }

    fn wrong_type(&mut self, key: &str, value: &Spanned<DeValue<'_>>, expected: &str) {
        let found = type_name(value.get_ref());
        let hint = match (expected, value.get_ref()) {
            (STRING, _) => Some("entourez la valeur de guillemets : `\"…\"`".to_owned()),
            (BOOL, DeValue::String(_)) => {
                Some("écrivez `true` ou `false`, sans guillemets".to_owned())
            }
            (LIST, DeValue::String(_)) => Some("écrivez une liste : `[\"…\", \"…\"]`".to_owned()),
            _ => None,
        };
        self.error(
            value.span(),
            format!("`{key}` doit être {expected}, pas {found}"),
        )
        .hint = hint;
    }

    pub fn string(&mut self, table: &DeTable<'_>, key: &str) -> Option<Spanned<String>> {
        let (_, value) = Self::get(table, key)?;
        match value.get_ref() {
            DeValue::String(text) => Some(Spanned::new(value.span(), text.to_string())),
            _ => {
                self.wrong_type(key, value, STRING);
                None
            }
        }
    }

    /// A string that must be present; `section_span` locates the complaint
    /// when it is missing.
    pub fn required_string(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
        section: &str,
        section_span: Range<usize>,
    ) -> Option<Spanned<String>> {
        if Self::get(table, key).is_none() {
            let place = if section.is_empty() {
                String::new()
            } else {
                format!(" dans `{section}`")
            };
            self.error(section_span, format!("clé `{key}` manquante{place}"));
            return None;
        }
        self.string(table, key)
    }

    /// A whole number; one too large for 64 bits is reported.
    pub fn integer(&mut self, table: &DeTable<'_>, key: &str) -> Option<Spanned<i64>> {
        let (_, value) = Self::get(table, key)?;
        match value.get_ref() {
            DeValue::Integer(integer) => {
                let parsed =
                    i64::from_str_radix(&integer.as_str().replace('_', ""), integer.radix());
                match parsed {
                    Ok(number) => Some(Spanned::new(value.span(), number)),
                    Err(_) => {
                        self.error(
                            value.span(),
                            format!("nombre trop grand `{}`", integer.as_str()),
                        );
                        None
                    }
                }
            }
            _ => {
                self.wrong_type(key, value, INTEGER);
                None
            }
        }
    }

    pub fn bool(&mut self, table: &DeTable<'_>, key: &str) -> Option<Spanned<bool>> {
        let (_, value) = Self::get(table, key)?;
        match value.get_ref() {
            DeValue::Boolean(flag) => Some(Spanned::new(value.span(), *flag)),
            _ => {
                self.wrong_type(key, value, BOOL);
                None
            }
        }
    }

    /// A list of strings; an element of another type is reported and left
    /// out.
    pub fn strings(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
    ) -> Option<Spanned<Vec<Spanned<String>>>> {
        let (_, value) = Self::get(table, key)?;
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(key, value, LIST);
            return None;
        };
        let mut strings = Vec::with_capacity(items.len());
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(text) => strings.push(Spanned::new(item.span(), text.to_string())),
                other => {
                    let found = type_name(other);
                    self.error(
                        item.span(),
                        format!(
                            "`{key}` ne doit contenir que des chaînes de caractères, pas {found}"
                        ),
                    );
                }
            }
        }
        Some(Spanned::new(value.span(), strings))
    }

    /// A sub-table and its span.
    pub fn table<'t, 'i>(
        &mut self,
        table: &'t DeTable<'i>,
        key: &str,
    ) -> Option<(&'t DeTable<'i>, Range<usize>)> {
        let (_, value) = Self::get(table, key)?;
        match value.get_ref() {
            DeValue::Table(inner) => Some((inner, value.span())),
            _ => {
                self.wrong_type(key, value, TABLE);
                None
            }
        }
    }

    /// Each entry of a table whose values must all be tables (`[series.x]`).
    pub fn tables<'t, 'i>(
        &mut self,
        table: &'t DeTable<'i>,
        key: &str,
    ) -> Vec<(Spanned<String>, &'t DeTable<'i>, Range<usize>)> {
        let Some((inner, _)) = self.table(table, key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, value) in inner.iter() {
            match value.get_ref() {
                DeValue::Table(entry) => out.push((
                    Spanned::new(name.span(), name.get_ref().to_string()),
                    entry,
                    value.span(),
                )),
                _ => {
                    let field = format!("{key}.{}", name.get_ref());
                    self.wrong_type(&field, value, TABLE);
                }
            }
        }
        out
    }
}

const STRING: &str = "une chaîne de caractères";
const BOOL: &str = "un booléen (`true` ou `false`)";
const INTEGER: &str = "un nombre entier";
const LIST: &str = "une liste";
const TABLE: &str = "une table";

/// The French name of a TOML value's type, for messages.
pub fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => STRING,
        DeValue::Integer(_) => "un nombre entier",
        DeValue::Float(_) => "un nombre décimal",
        DeValue::Boolean(_) => "un booléen",
        DeValue::Datetime(_) => "une date",
        DeValue::Array(_) => LIST,
        DeValue::Table(_) => TABLE,
    }
}

/// A hint for the syntax errors people make most.
fn syntax_hint(message: &str) -> Option<String> {
    let message = message.to_lowercase();
    if message.contains("duplicate key") {
        Some("chaque clé ne peut apparaître qu'une fois : supprimez le doublon".to_owned())
    } else if message.contains("string") && message.contains("invalid") || message.contains("quote")
    {
        Some("les textes s'écrivent entre guillemets : `clé = \"texte\"`".to_owned())
    } else if message.contains("date") || message.contains("time") {
        Some("écrivez une date sous la forme `2026-12-01T19:00:00`, sans guillemets".to_owned())
    } else if message.contains("recursion") || message.contains("nest") {
        Some("le document est trop imbriqué : simplifiez-le".to_owned())
    } else {
        Some("chaque ligne s'écrit `clé = valeur` ; les textes entre guillemets".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(
        text: &str,
    ) -> (
        Vec<Diagnostic>,
        Option<Spanned<String>>,
        Option<Spanned<bool>>,
    ) {
        let mut diagnostics = Vec::new();
        let mut reader = Reader::new("f.toml", 10, &mut diagnostics);
        let table = reader.parse(text);
        let (name, flag) = match &table {
            Some(table) => {
                reader.unknown_keys(table, "", &["name", "flag"]);
                (reader.string(table, "name"), reader.bool(table, "flag"))
            }
            None => (None, None),
        };
        (diagnostics, name, flag)
    }

    #[test]
    fn reads_typed_values_with_spans_offset_into_the_file() {
        let (diagnostics, name, flag) = read("name = \"x\"\nflag = true\n");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(name.unwrap().into_inner(), "x");
        assert!(flag.unwrap().into_inner());
    }

    #[test]
    fn reports_every_unknown_key_and_wrong_type_at_once() {
        let (diagnostics, _, _) = read("nmae = \"x\"\nflag = \"oui\"\nother = 1\n");
        let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(diagnostics.len(), 3, "{messages:?}");
        let typo = diagnostics
            .iter()
            .find(|d| d.message.contains("nmae"))
            .unwrap();
        assert_eq!(typo.span, Some(10..14));
        assert_eq!(typo.hint.as_deref(), Some("vouliez-vous dire `name` ?"));
        assert!(
            messages
                .iter()
                .any(|m| m.contains("`flag` doit être un booléen"))
        );
    }

    #[test]
    fn reports_syntax_errors_in_french() {
        let (diagnostics, _, _) = read("name = \n");
        assert_eq!(diagnostics.len(), 1);
        assert!(diagnostics[0].message.starts_with("syntaxe TOML invalide"));
    }
}
