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
                text: text.trim().to_owned(),
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
                            format!("colonne inconnue `{name}`"),
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

fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
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
    let mut made = Vec::new();
    for (row, cells) in table.rows.iter().enumerate() {
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
            let line = match *key {
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
            };
            push(&mut text, line, cell);
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
            if title.is_none()
                && matches!(name.as_str(), "title" | "titre" | "tool" | "name" | "nom")
            {
                title = Some(cell.text.clone());
            }
            push(&mut text, format!("{name} = {rendered}\n"), cell);
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
        made.push(Made {
            row,
            text,
            origins,
            row_span: first.start..last.end,
            title,
            cells: named,
        });
    }
    made
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
    fn reads_french_dates() {
        assert_eq!(date("01/12/2026 19:00"), "2026-12-01T19:00:00");
        assert_eq!(date("2026-12-01T19:00"), "2026-12-01T19:00:00");
        assert_eq!(date("mardi"), "\"mardi\"");
    }
}
