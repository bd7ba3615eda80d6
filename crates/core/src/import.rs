//! Many posts at once from a spreadsheet: one post per row of a CSV file,
//! the way Canva's Bulk Create fills a design from a sheet. Pure: the CSV
//! text in, post files (text) and diagnostics out.
//!
//! Columns are named after a post's front-matter keys (`alt`,
//! `publish_at`, `channels`, `draft`) and its template's fields, plus
//! `caption` (or `légende`) for its text. Each generated line remembers the
//! cell it came from, so that every problem `check` finds in a generated
//! post is reported at its row and column of the CSV file.

use std::ops::Range;

use crate::diagnostic::{Diagnostic, suggest};
use crate::scaffold::{key, quoted};
use crate::template::{FieldKind, Template};

/// One cell: its text and where it is in the CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub span: Range<usize>,
}

/// A CSV file read: its header and its rows.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub headers: Vec<Cell>,
    pub rows: Vec<Vec<Cell>>,
}

/// The keys of the front matter a column may set.
const KEYS: &[&str] = &["alt", "publish_at", "channels", "draft"];
/// The names of the caption's column (`caption` only when the template has
/// no field of that name).
const CAPTION: &[&str] = &["caption", "légende", "legende"];

/// Which separator a CSV file uses: `;` (French spreadsheets) or `,`.
fn separator(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or_default();
    if first.matches(';').count() > first.matches(',').count() {
        b';'
    } else {
        b','
    }
}

/// Where each cell of a record starts and ends in the file, from the
/// record's first byte: the csv crate reads the values, this only finds
/// their place (quotes doubled inside quoted cells included).
fn cell_spans(text: &str, start: usize, count: usize, sep: u8) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut spans = Vec::with_capacity(count);
    let mut at = start;
    while spans.len() < count && at <= bytes.len() {
        let begin = at;
        let mut quoted = false;
        while at < bytes.len() {
            match bytes[at] {
                b'"' if at == begin => quoted = true,
                b'"' if quoted && bytes.get(at + 1) == Some(&b'"') => at += 1,
                b'"' if quoted => quoted = false,
                b'\n' | b'\r' if !quoted => break,
                c if c == sep && !quoted => break,
                _ => {}
            }
            at += 1;
        }
        spans.push(begin..at);
        at += 1;
    }
    spans
}

/// The first character of `text` that has no place in a post, with its
/// byte offset: a control character (C0, DEL, C1) other than a tab or a
/// line feed, a CR that does not end a line (CRLF) included. `check`
/// refuses a post with a NUL as binary, and the others would reach
/// captions and calendars unseen.
pub fn first_control(text: &str) -> Option<(usize, char)> {
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '\t' | '\n' => {}
            '\r' if chars.peek().is_some_and(|(_, next)| *next == '\n') => {}
            c if c.is_control() => return Some((at, c)),
            _ => {}
        }
    }
    None
}

/// How a control character is named in a message.
fn control_name(c: char) -> String {
    let name = match c {
        '\0' => " (octet nul)",
        '\r' => " (retour chariot seul)",
        '\u{1b}' => " (échappement)",
        '\u{7f}' => " (suppression)",
        _ => "",
    };
    format!("U+{:04X}{name}", u32::from(c))
}

/// A text as a terminal may show it: each control character but tab and
/// line ends becomes spaces of the same length in bytes, so that spans
/// keep their place.
pub fn displayable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, c)) = first_control(rest) {
        out.push_str(&rest[..at]);
        out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        rest = &rest[at + c.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// A name as a message quotes it: control characters written as escapes.
fn shown(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Most invalid sequences reported in a file that is not UTF-8.
const MAX_ENCODING_ERRORS: usize = 10;

/// The CSV file's bytes as text; if they are not UTF-8, the text with
/// each invalid sequence replaced by U+FFFD, for showing, and an error at
/// each (the first ten), at its row and column.
pub fn decode(bytes: &[u8], path: &str) -> Result<String, (String, Vec<Diagnostic>)> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_owned());
    }
    let mut text = String::with_capacity(bytes.len() + 16);
    let mut diagnostics = Vec::new();
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        let invalid = chunk.invalid();
        if invalid.is_empty() {
            continue;
        }
        let at = text.len();
        text.push(char::REPLACEMENT_CHARACTER);
        if diagnostics.len() < MAX_ENCODING_ERRORS {
            let shown: Vec<String> = invalid.iter().map(|b| format!("0x{b:02X}")).collect();
            diagnostics.push(
                Diagnostic::error(
                    path,
                    Some(at..text.len()),
                    format!(
                        "le fichier CSV n'est pas en UTF-8 : octet invalide {}",
                        shown.join(" ")
                    ),
                )
                .with_hint(
                    "enregistrez la feuille au format « CSV UTF-8 » (Excel : Fichier > Enregistrer sous > CSV UTF-8 ; LibreOffice : jeu de caractères Unicode (UTF-8))",
                ),
            );
        }
    }
    Err((text, diagnostics))
}

/// An error at each cell that holds a control character (see
/// [`first_control`]), at the character itself.
pub fn controls(text: &str, table: &Table, path: &str) -> Vec<Diagnostic> {
    table
        .headers
        .iter()
        .chain(table.rows.iter().flatten())
        .filter_map(|cell| {
            let (_, c) = first_control(&cell.text)?;
            // The character as it stands in the file (CSV escapes none).
            let at = text
                .get(cell.span.clone())
                .and_then(first_control)
                .map_or(cell.span.start, |(at, _)| cell.span.start + at);
            Some(
                Diagnostic::error(
                    path,
                    Some(at..at + c.len_utf8()),
                    format!(
                        "caractère de contrôle {} dans la cellule : un post n'en contient pas",
                        control_name(c)
                    ),
                )
                .with_hint(
                    "supprimez-le dans le tableur (il vient souvent d'un copier-coller) ; les retours à la ligne et les tabulations sont acceptés",
                ),
            )
        })
        .collect()
}

/// An error if the text of a post to write holds a control character,
/// at the cell it comes from: what is written is what `check` reads.
pub fn unwritable(made: &Made, csv_path: &str) -> Option<Diagnostic> {
    let (at, c) = first_control(&made.text)?;
    Some(Diagnostic::error(
        csv_path,
        Some(made.locate(Some(&(at..at + c.len_utf8())), "")),
        format!(
            "caractère de contrôle {} dans le post à écrire : rien n'est écrit",
            control_name(c)
        ),
    ))
}

/// Reads the CSV text: a header row, then one row per post.
pub fn read(text: &str, path: &str) -> Result<Table, Diagnostic> {
    let offset = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let body = &text[offset..];
    let sep = separator(body);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sep)
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes());
    let mut table = Table::default();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|error| {
            let at = error.position().map_or(0, |p| p.byte() as usize) + offset;
            Diagnostic::error(path, Some(at..at), format!("CSV illisible : {error}"))
                .with_hint("enregistrez la feuille au format CSV (UTF-8), séparateur `;` ou `,`")
        })?;
        let start = record.position().map_or(0, |p| p.byte() as usize);
        let spans = cell_spans(body, start, record.len(), sep);
        let cells: Vec<Cell> = record
            .iter()
            .zip(spans)
            .map(|(text, span)| Cell {
                // A line break in a cell is a post's line break, whatever
                // the spreadsheet's line ends.
                text: text.trim().replace("\r\n", "\n"),
                span: span.start + offset..span.end + offset,
            })
            .collect();
        if index == 0 {
            table.headers = cells;
        } else if cells.iter().any(|cell| !cell.text.is_empty()) {
            table.rows.push(cells);
        }
    }
    Ok(table)
}

/// What a column sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Key(&'static str),
    Field(String),
    Caption,
}

/// The meaning of each header cell, or a diagnostic for each unknown one.
pub fn columns(
    table: &Table,
    template: &Template,
    path: &str,
) -> (Vec<Option<Column>>, Vec<Diagnostic>) {
    let mut known: Vec<&str> = KEYS.to_vec();
    known.extend(CAPTION.iter().take(2));
    known.extend(template.fields.keys().map(String::as_str));
    let mut diagnostics = Vec::new();
    let columns =
        table
            .headers
            .iter()
            .map(|header| {
                let name = header.text.as_str();
                // A template's own field wins over the caption's English name.
                if template.fields.contains_key(name) {
                    Some(Column::Field(name.to_owned()))
                } else if let Some(key) = KEYS.iter().find(|k| **k == name) {
                    Some(Column::Key(key))
                } else if CAPTION.contains(&name) {
                    Some(Column::Caption)
                } else {
                    diagnostics.push(
                        Diagnostic::error(
                            path,
                            Some(header.span.clone()),
                            format!("colonne inconnue `{}`", shown(name)),
                        )
                        .with_hint(suggest(name, &known).unwrap_or_else(
                            || format!("colonnes possibles : {}", known.join(", ")),
                        )),
                    );
                    None
                }
            })
            .collect();
    (columns, diagnostics)
}

/// A post to write, made from one row.
#[derive(Debug, Clone)]
pub struct Made {
    /// The row's index among the rows (0 for the first after the header).
    pub row: usize,
    pub text: String,
    /// Which cell each part of the text comes from: a byte range of `text`
    /// and the cell's span in the CSV file.
    pub origins: Vec<(Range<usize>, Range<usize>)>,
    /// The row's span in the CSV file, for problems of the whole row.
    pub row_span: Range<usize>,
    /// What names the post: its title-like field, or its caption's start.
    pub title: String,
    /// Every cell of the row by its column's name, empty ones included.
    pub cells: Vec<(String, Range<usize>)>,
}

impl Made {
    /// The CSV span of a problem found in the generated text: the cell
    /// its span comes from, else the cell of the column its message names
    /// (a missing field), else the whole row.
    pub fn locate(&self, span: Option<&Range<usize>>, message: &str) -> Range<usize> {
        span.and_then(|span| {
            self.origins
                .iter()
                .find(|(range, _)| {
                    span.start >= range.start && span.start < range.end.max(range.start + 1)
                })
                .map(|(_, cell)| cell.clone())
        })
        .or_else(|| {
            self.cells
                .iter()
                .find(|(name, _)| message.contains(&format!("`{name}`")))
                .map(|(_, cell)| cell.clone())
        })
        .unwrap_or_else(|| self.row_span.clone())
    }
}

fn list(text: &str) -> String {
    let items: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(quoted)
        .collect();
    format!("[{}]", items.join(", "))
}

/// A date as a TOML local date-time: ISO (`2026-12-01T19:00`,
/// `2026-12-01 19:00`) or French (`01/12/2026 19:00`); anything else is
/// kept as text, for `check` to say what is wrong with it.
fn date(text: &str) -> String {
    let text = text.trim();
    let formats = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%d/%m/%Y %H:%M",
        "%d/%m/%Y %Hh%M",
        "%d/%m/%Y %Hh",
    ];
    formats
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
        .map_or_else(
            || quoted(text),
            |at| at.format("%Y-%m-%dT%H:%M:%S").to_string(),
        )
}

/// The head of a post: how it is placed.
pub enum Head<'a> {
    Series(&'a str),
    Template { id: &'a str, channels: Vec<String> },
}

/// The post text of each row.
pub fn make(
    table: &Table,
    columns: &[Option<Column>],
    head: &Head<'_>,
    template: &Template,
) -> Vec<Made> {
    table
        .rows
        .iter()
        .enumerate()
        .map(|(row, cells)| make_row(table, row, cells, columns, head, template))
        .collect()
}

/// The front-matter line of a key read from a cell.
fn key_line(key: &str, cell: &Cell) -> String {
    match key {
        "publish_at" => format!("publish_at = {}\n", date(&cell.text)),
        "channels" => format!("channels = {}\n", list(&cell.text)),
        "draft" => format!(
            "draft = {}\n",
            matches!(
                cell.text.to_lowercase().as_str(),
                "oui" | "true" | "1" | "x"
            )
        ),
        _ => format!("{key} = {}\n", quoted(&cell.text)),
    }
}

/// The post text of one row.
fn make_row(
    table: &Table,
    row: usize,
    cells: &[Cell],
    columns: &[Option<Column>],
    head: &Head<'_>,
    template: &Template,
) -> Made {
    let mut text = String::from("+++\n");
    let mut origins = Vec::new();
    match head {
        Head::Series(series) => text.push_str(&format!("series = {}\n", quoted(series))),
        Head::Template { id, .. } => text.push_str(&format!("template = {}\n", quoted(id))),
    }
    let value = |column: &Column| {
        columns
            .iter()
            .position(|c| c.as_ref() == Some(column))
            .and_then(|index| cells.get(index))
            .filter(|cell| !cell.text.is_empty())
    };
    let mut push = |text: &mut String, line: String, cell: &Cell| {
        let start = text.len();
        text.push_str(&line);
        origins.push((start..text.len(), cell.span.clone()));
    };
    for key in KEYS {
        let Some(cell) = value(&Column::Key(key)) else {
            continue;
        };
        push(&mut text, key_line(key, cell), cell);
    }
    if let Head::Template { channels, .. } = head
        && value(&Column::Key("channels")).is_none()
    {
        text.push_str(&format!("channels = {}\n", list(&channels.join(","))));
    }
    text.push_str("\n[visual]\n");
    let mut title = None;
    for (name, field) in &template.fields {
        let Some(cell) = value(&Column::Field(name.clone())) else {
            continue;
        };
        let rendered = match field.kind {
            FieldKind::List(_) => list(&cell.text),
            _ => quoted(&cell.text),
        };
        if title.is_none() && matches!(name.as_str(), "title" | "titre" | "tool" | "name" | "nom") {
            title = Some(cell.text.clone());
        }
        push(&mut text, format!("{} = {rendered}\n", key(name)), cell);
    }
    text.push_str("+++\n");
    let caption = value(&Column::Caption);
    if let Some(cell) = caption {
        push(&mut text, format!("{}\n", cell.text), cell);
    }
    let first = cells.first().map_or(0..0, |c| c.span.clone());
    let last = cells.last().map_or(0..0, |c| c.span.clone());
    let title = title
        .or_else(|| {
            template
                .fields
                .keys()
                .find_map(|name| value(&Column::Field(name.clone())).map(|c| c.text.clone()))
        })
        .or_else(|| caption.map(|c| c.text.chars().take(60).collect()))
        .unwrap_or_default();
    let named = table
        .headers
        .iter()
        .zip(cells)
        .map(|(header, cell)| (header.text.clone(), cell.span.clone()))
        .collect();
    Made {
        row,
        text,
        origins,
        row_span: first.start..last.end,
        title,
        cells: named,
    }
}

/// Problems found in a generated post, said at the row and column of the
/// CSV file they come from.
pub fn relocate(made: &Made, diagnostics: &[Diagnostic], csv_path: &str) -> Vec<Diagnostic> {
    diagnostics
        .iter()
        .map(|diagnostic| Diagnostic {
            path: csv_path.to_owned(),
            span: Some(made.locate(diagnostic.span.as_ref(), &diagnostic.message)),
            ..diagnostic.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_cell_in_the_file() {
        let text = "\u{feff}number;caption\n\"65,4 millions\";\"Une \"\"phrase\"\"\"\n3 %;Autre\n";
        let table = read(text, "a.csv").unwrap();
        assert_eq!(table.headers[1].text, "caption");
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.rows[0][1].text, "Une \"phrase\"");
        assert_eq!(&text[table.rows[0][0].span.clone()], "\"65,4 millions\"");
        assert_eq!(&text[table.rows[1][0].span.clone()], "3 %");
        assert_eq!(&text[table.rows[1][1].span.clone()], "Autre");
    }

    #[test]
    fn finds_control_characters_at_their_cell_and_keeps_line_breaks() {
        let text = "number;caption\n12;Une\0phrase\n\"13\";\"Deux\r\nlignes\"\n14;\"Un\rretour\"\n15;Un\u{1b}[2J\n";
        let table = read(text, "a.csv").unwrap();
        assert_eq!(table.rows[1][1].text, "Deux\nlignes");
        let found = controls(text, &table, "a.csv");
        let at: Vec<usize> = found
            .iter()
            .map(|d| d.span.clone().unwrap().start)
            .collect();
        let lone_cr = text.find("Un\rretour").unwrap() + 2;
        assert_eq!(
            at,
            vec![
                text.find('\0').unwrap(),
                lone_cr,
                text.find('\u{1b}').unwrap()
            ]
        );
        assert!(found[0].message.contains("U+0000 (octet nul)"), "{found:?}");
        assert!(found[1].message.contains("retour chariot"), "{found:?}");
        // Shown without them, at the same places.
        let shown = displayable(text);
        assert_eq!(shown.len(), text.len());
        assert!(first_control(&shown).is_none());
        assert!(shown.contains("Deux\r\nlignes"));
    }

    #[test]
    fn a_file_not_in_utf8_is_refused_at_each_bad_byte() {
        let bytes = b"number;caption\n12;caf\xe9 cr\xe8me\n";
        let (shown, found) = decode(bytes, "a.csv").unwrap_err();
        assert_eq!(found.len(), 2);
        let at = found[0].span.clone().unwrap().start;
        assert_eq!(crate::diagnostic::line_col(&shown, at), (2, 7));
        assert!(found[0].message.contains("0xE9"), "{found:?}");
        assert_eq!(decode("café".as_bytes(), "a.csv").unwrap(), "café");
    }

    #[test]
    fn a_field_name_is_written_as_a_toml_key() {
        assert_eq!(key("number"), "number");
        for name in [
            "a b",
            "a.b",
            "a\n[publisher]\nkind = \"buffer\"",
            "\"x\" = 1",
        ] {
            let line = format!("{} = 1\n", key(name));
            let table: toml::Table = line.parse().expect(&line);
            assert_eq!(table.len(), 1, "{line}");
            assert!(table.contains_key(name), "{line}");
        }
    }

    #[test]
    fn reads_french_dates() {
        assert_eq!(date("01/12/2026 19:00"), "2026-12-01T19:00:00");
        assert_eq!(date("2026-12-01T19:00"), "2026-12-01T19:00:00");
        assert_eq!(date("mardi"), "\"mardi\"");
    }
}
