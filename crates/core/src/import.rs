//! Many posts at once from a spreadsheet: one post per row of a CSV file,
//! the way Canva's Bulk Create fills a design from a sheet. Pure: the CSV
//! text in, post files (text) and diagnostics out.
//!
//! Columns are named after a post's front-matter keys (`alt`,
//! `publish_at`, `channels`, `draft`) and its template's fields, plus
//! `caption` for its text, or by their French names: a field's label, and
//! `texte alternatif`, `date de publication`, `canaux`, `brouillon`,
//! `légende`; names are compared without regard to case, accents or a
//! leading article. Each generated line remembers the cell it came from, so
//! that every problem `check` finds in a generated post is reported at its
//! row and column of the CSV file, with a hint that speaks of the sheet.

use std::ops::Range;

use crate::diagnostic::{Diagnostic, closest};
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
    /// The number a spreadsheet shows for each row (the header's is 1, and
    /// a line break inside a cell does not start a row).
    pub numbers: Vec<usize>,
}

/// The keys of the front matter a column may set, in the order they are
/// written, each with its column's French names.
const KEYS: &[(&str, &[&str])] = &[
    ("alt", &["texte alternatif"]),
    (
        "publish_at",
        &["date de publication", "date", "publication"],
    ),
    ("channels", &["canaux", "réseaux"]),
    ("draft", &["brouillon"]),
];
/// The names of the caption's column, the post's text (`caption` only when
/// the template has no field of that name).
const CAPTION: &[&str] = &["légende", "texte", "caption"];
/// Words a column's name may start with and still be the same name:
/// `Le chiffre` is `chiffre`.
const ARTICLES: &[&str] = &["le", "la", "les", "l", "un", "une", "des", "du"];

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

/// How to save a sheet so that it can be read.
const SAVE_AS_UTF8: &str = "enregistrez la feuille au format « CSV UTF-8 » (Excel : Fichier > Enregistrer sous > CSV UTF-8 ; LibreOffice : jeu de caractères Unicode (UTF-8))";

/// The CSV file's bytes as text, as an editor shows it: without the UTF-8
/// byte-order mark, and with LF for each line end that is a lone CR (see
/// `lone_crs`), so that lines and columns are those the editor counts.
/// If the bytes are not UTF-8, the text with each invalid sequence
/// replaced by U+FFFD, for showing, and an error at each (the first ten),
/// at its row and column; a UTF-16 file is refused at once.
pub fn decode(bytes: &[u8], path: &str) -> Result<String, (String, Vec<Diagnostic>)> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes.starts_with(b"\xff\xfe") || bytes.starts_with(b"\xfe\xff") {
        let problem = Diagnostic::error(
            path,
            Some(0..0),
            "le fichier CSV est en UTF-16 (« texte Unicode »), pas en UTF-8",
        )
        .with_hint(SAVE_AS_UTF8);
        return Err((String::new(), vec![problem]));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(lone_crs(text));
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
                .with_hint(SAVE_AS_UTF8),
            );
        }
    }
    Err((lone_crs(&text), diagnostics))
}

/// The text of a sheet whose lines end with a lone CR (the « CSV
/// Macintosh » of old spreadsheets) with an LF in place of each lone CR:
/// the same number of bytes, so the same spans, and lines as an editor
/// counts them. Other texts are kept as they are (a lone CR in a cell of
/// an LF or CRLF sheet is a control character).
fn lone_crs(text: &str) -> String {
    let mac = text
        .find(['\r', '\n'])
        .is_some_and(|at| text[at..].starts_with('\r') && !text[at..].starts_with("\r\n"));
    if !mac {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() != Some(&'\n') {
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
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
    // Lines of the file before the record, and line breaks inside the
    // cells read so far: a spreadsheet's row is a line less those.
    let (mut lines, mut counted, mut inside) = (0, 0, 0);
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|error| {
            let at = error.position().map_or(0, |p| p.byte() as usize) + offset;
            Diagnostic::error(path, Some(at..at), format!("CSV illisible : {error}"))
                .with_hint("enregistrez la feuille au format CSV (UTF-8), séparateur `;` ou `,`")
        })?;
        let start = record_start(body, record.position().map_or(0, |p| p.byte() as usize));
        lines += body[counted..start].matches('\n').count();
        counted = start;
        let number = lines + 1 - inside;
        let spans = cell_spans(body, start, record.len(), sep);
        inside += spans
            .iter()
            .map(|span| body[span.clone()].matches('\n').count())
            .sum::<usize>();
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
            table.numbers.push(number);
        }
    }
    Ok(table)
}

/// Where a record really starts: the csv crate gives the place where it
/// began to read it, which is before the blank lines it skips and, after
/// a CRLF, before the LF (it ends a record at the CR).
fn record_start(body: &str, from: usize) -> usize {
    let skipped = body
        .get(from..)
        .unwrap_or_default()
        .bytes()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    from + skipped
}

/// What a column sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Key(&'static str),
    Field(String),
    Caption,
}

/// A column's name as names are compared: in lower case, without accents,
/// its words apart by one space (`_`, `-`, apostrophes and punctuation
/// part words), a leading article left out (`Le chiffre` is `chiffre`).
fn normal(name: &str) -> String {
    let mut folded = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => folded.push('a'),
            'é' | 'è' | 'ê' | 'ë' => folded.push('e'),
            'î' | 'ï' | 'í' | 'ì' => folded.push('i'),
            'ô' | 'ö' | 'ó' | 'ò' | 'õ' => folded.push('o'),
            'ù' | 'û' | 'ü' | 'ú' => folded.push('u'),
            'ÿ' | 'ý' => folded.push('y'),
            'ç' => folded.push('c'),
            'ñ' => folded.push('n'),
            'œ' => folded.push_str("oe"),
            'æ' => folded.push_str("ae"),
            // Accents written apart from their letter (macOS writes
            // file names, and some sheets, this way).
            '\u{300}'..='\u{36f}' => {}
            c if c.is_alphanumeric() => folded.push(c),
            _ => folded.push(' '),
        }
    }
    let words: Vec<&str> = folded.split_whitespace().collect();
    match words.as_slice() {
        [first, rest @ ..] if !rest.is_empty() && ARTICLES.contains(first) => rest.join(" "),
        all => all.join(" "),
    }
}

/// What a header names: a field of the template by its name, then by its
/// label, then a front-matter key or the caption by any of their names
/// (a template's own field wins over the caption's English name).
fn column_of(header: &str, template: &Template) -> Option<Column> {
    let name = normal(header);
    if name.is_empty() {
        return None;
    }
    let fields = &template.fields;
    fields
        .keys()
        .find(|field| normal(field) == name)
        .or_else(|| {
            fields
                .values()
                .find(|field| normal(&field.label) == name)
                .map(|field| &field.name)
        })
        .map(|field| Column::Field(field.clone()))
        .or_else(|| {
            KEYS.iter()
                .find(|(key, french)| {
                    normal(key) == name || french.iter().any(|f| normal(f) == name)
                })
                .map(|(key, _)| Column::Key(key))
        })
        .or_else(|| {
            CAPTION
                .iter()
                .any(|caption| normal(caption) == name)
                .then_some(Column::Caption)
        })
}

/// Every column a sheet may have for `template`: its fields, the
/// caption, the front-matter keys.
fn all_columns(template: &Template) -> Vec<Column> {
    let fields = template.fields.keys().cloned().map(Column::Field);
    let keys = KEYS.iter().map(|(key, _)| Column::Key(key));
    fields.chain([Column::Caption]).chain(keys).collect()
}

/// The names a column is known by, the one a new column should take
/// first: a field's label and name, a key's French names and the key.
fn names(column: &Column, template: &Template) -> Vec<String> {
    match column {
        Column::Field(name) => {
            let label = template.fields.get(name).map(|f| f.label.clone());
            label
                .filter(|label| !label.trim().is_empty() && normal(label) != normal(name))
                .into_iter()
                .chain([name.clone()])
                .collect()
        }
        Column::Key(key) => KEYS
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, french)| french.iter().map(|f| (*f).to_owned()).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain([(*key).to_owned()])
            .collect(),
        Column::Caption => CAPTION
            .iter()
            .filter(|name| **name != "caption" || !template.fields.contains_key("caption"))
            .map(|name| (*name).to_owned())
            .collect(),
    }
}

/// What a column sets, as a message names it.
fn what(column: &Column, template: &Template) -> String {
    match column {
        Column::Field(name) => match template.fields.get(name) {
            Some(field) if !field.label.trim().is_empty() => {
                format!("le champ `{name}` ({})", field.label)
            }
            _ => format!("le champ `{name}`"),
        },
        Column::Key("alt") => "le texte alternatif (`alt`)".to_owned(),
        Column::Key("publish_at") => "la date de publication (`publish_at`)".to_owned(),
        Column::Key("channels") => "les canaux (`channels`)".to_owned(),
        Column::Key("draft") => "le brouillon (`draft`)".to_owned(),
        Column::Key(key) => format!("`{key}`"),
        Column::Caption => "la légende (le texte du post)".to_owned(),
    }
}

/// The hint for a column no name matches: the closest name, or every
/// column with two of its names.
fn unknown_hint(header: &str, template: &Template) -> String {
    let columns = all_columns(template);
    let known: Vec<String> = columns.iter().flat_map(|c| names(c, template)).collect();
    // `Le chiffre` is also `chiffre`, the closer to a typo of it.
    let bare = known.iter().filter_map(|name| without_article(name));
    let candidates = known.iter().map(String::as_str).chain(bare);
    if let Some(best) = closest(header, candidates) {
        return format!("vouliez-vous dire `{best}` ?");
    }
    let listed: Vec<String> = columns
        .iter()
        .map(|column| {
            let shown: Vec<String> = names(column, template)
                .into_iter()
                .map(|name| format!("« {name} »"))
                .collect();
            // The first name and the last: French, then English.
            let text = match shown.as_slice() {
                [first, .., last] => format!("{first} ou {last}"),
                all => all.concat(),
            };
            match column {
                Column::Caption => format!("{text} (le texte du post)"),
                _ => text,
            }
        })
        .collect();
    format!(
        "colonnes possibles (majuscules et accents au choix) : {}",
        listed.join(", ")
    )
}

/// A name without its leading article, if it has one and more words.
fn without_article(name: &str) -> Option<&str> {
    let (first, rest) = name.split_once([' ', '\'', '’'])?;
    let rest = rest.trim_start();
    (ARTICLES.contains(&first.to_lowercase().as_str()) && !rest.is_empty()).then_some(rest)
}

/// A column's letter in a spreadsheet: A for the first, AA after Z.
fn letter(index: usize) -> String {
    let mut n = index + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rest = (n - 1) % 26;
        letters.push(char::from(b'A' + rest as u8));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

/// The meaning of each header cell, or a diagnostic for each unknown one
/// and for each column that repeats an earlier one (it is left out).
pub fn columns(
    table: &Table,
    template: &Template,
    path: &str,
) -> (Vec<Option<Column>>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut columns: Vec<Option<Column>> = Vec::with_capacity(table.headers.len());
    for (index, header) in table.headers.iter().enumerate() {
        let name = header.text.as_str();
        let Some(column) = column_of(name, template) else {
            diagnostics.push(
                Diagnostic::error(
                    path,
                    Some(header.span.clone()),
                    format!("colonne inconnue `{}`", shown(name)),
                )
                .with_hint(unknown_hint(name, template)),
            );
            columns.push(None);
            continue;
        };
        if let Some(first) = columns.iter().position(|c| c.as_ref() == Some(&column)) {
            diagnostics.push(
                Diagnostic::error(
                    path,
                    Some(header.span.clone()),
                    format!(
                        "deux colonnes pour {} : `{}` (colonne {}) et `{}` (colonne {})",
                        what(&column, template),
                        shown(&table.headers[first].text),
                        letter(first),
                        shown(name),
                        letter(index)
                    ),
                )
                .with_hint("gardez-en une seule : supprimez l'autre, ou renommez-la si elle dit autre chose"),
            );
            columns.push(None);
            continue;
        }
        columns.push(Some(column));
    }
    (columns, diagnostics)
}

/// A post to write, made from one row.
#[derive(Debug, Clone)]
pub struct Made {
    /// The row's index among the rows (0 for the first after the header).
    pub row: usize,
    /// The row's number as a spreadsheet shows it (the header is row 1).
    pub line: usize,
    pub text: String,
    /// Which cell each part of the text comes from: a byte range of `text`
    /// and the cell's span in the CSV file.
    pub origins: Vec<(Range<usize>, Range<usize>)>,
    /// The row's span in the CSV file, for problems of the whole row.
    pub row_span: Range<usize>,
    /// What names the post: its title-like field, or its caption's start.
    pub title: String,
    /// Each column of the sheet, with the row's cell in it.
    pub places: Vec<Place>,
}

/// A column of the sheet as one row has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// What the column sets: `None` for an unknown or repeated column.
    pub column: Option<Column>,
    /// The column's name, as its header writes it.
    pub header: String,
    /// The row's cell in the column, empty ones included; `None` when the
    /// row stops before it.
    pub cell: Option<Range<usize>>,
}

/// Whether a message says that something the post needs is missing: it
/// is then about the column that would give it, not the place `check`
/// points at in the generated post.
fn missing(message: &str) -> bool {
    (message.starts_with("champ `") && message.contains("manquant"))
        || message == "légende vide"
        || message.starts_with("texte alternatif manquant")
        || message.starts_with("ce post ne va sur aucun canal")
        || message.starts_with("ni série ni date")
}

/// The column a message is about, from what it names: the caption, the
/// alt text, the channels, the date, or a field (`fields`) in backquotes.
fn subject<'f>(message: &str, mut fields: impl Iterator<Item = &'f str>) -> Option<Column> {
    if message.starts_with("légende") {
        Some(Column::Caption)
    } else if message.starts_with("texte alternatif") {
        Some(Column::Key("alt"))
    } else if message.contains("aucun canal") || message.starts_with("canal inconnu") {
        Some(Column::Key("channels"))
    } else if message.starts_with("ni série ni date")
        || message.starts_with("date ")
        || message.contains("`publish_at`")
    {
        Some(Column::Key("publish_at"))
    } else {
        fields
            .find(|name| message.contains(&format!("`{name}`")))
            .map(|name| Column::Field(name.to_owned()))
    }
}

impl Made {
    /// The CSV span of a problem found in the generated text: the cell of
    /// the column it is about (see [`Made::column_for`]), or the place
    /// where the row stops when it has no cell there, else the whole row.
    pub fn locate(&self, span: Option<&Range<usize>>, message: &str) -> Range<usize> {
        let fields = self.places.iter().filter_map(|place| match &place.column {
            Some(Column::Field(name)) => Some(name.as_str()),
            _ => None,
        });
        self.column_for(span, message, fields)
            .and_then(|column| self.cell(&column))
            .unwrap_or_else(|| self.row_span.clone())
    }

    /// The column a problem is about: the one its message says is missing,
    /// else the one of the cell its span comes from, else the one its
    /// message names.
    fn column_for<'f>(
        &self,
        span: Option<&Range<usize>>,
        message: &str,
        fields: impl Iterator<Item = &'f str>,
    ) -> Option<Column> {
        let named = subject(message, fields);
        if missing(message) && named.is_some() {
            return named;
        }
        let cell = span.and_then(|span| {
            self.origins
                .iter()
                .find(|(range, _)| {
                    span.start >= range.start && span.start < range.end.max(range.start + 1)
                })
                .map(|(_, cell)| cell)
        });
        cell.and_then(|cell| {
            self.places
                .iter()
                .find(|place| place.cell.as_ref() == Some(cell))
                .and_then(|place| place.column.clone())
        })
        .or(named)
    }

    /// The place of a column in the row: its cell, or where the row stops
    /// when it stops before; `None` when the sheet has no such column.
    fn cell(&self, column: &Column) -> Option<Range<usize>> {
        let place = self
            .places
            .iter()
            .find(|place| place.column.as_ref() == Some(column))?;
        let end = self.row_span.end;
        Some(place.cell.clone().unwrap_or(end..end))
    }

    /// The name of a column as the sheet's header writes it.
    fn header(&self, column: &Column) -> Option<&str> {
        self.places
            .iter()
            .find(|place| place.column.as_ref() == Some(column))
            .map(|place| place.header.as_str())
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

/// The non-empty cell of a column in a row.
fn cell_of<'c>(columns: &[Option<Column>], cells: &'c [Cell], column: &Column) -> Option<&'c Cell> {
    columns
        .iter()
        .position(|c| c.as_ref() == Some(column))
        .and_then(|index| cells.get(index))
        .filter(|cell| !cell.text.is_empty())
}

/// What a row's post is called (its file name): its title field, or its
/// first field, or the start of its caption.
fn title_of(template: &Template, columns: &[Option<Column>], cells: &[Cell]) -> String {
    let field = |name: &String| cell_of(columns, cells, &Column::Field(name.clone()));
    let names = || template.fields.keys();
    names()
        .filter(|name| matches!(name.as_str(), "title" | "titre" | "tool" | "name" | "nom"))
        .find_map(field)
        .or_else(|| names().find_map(field))
        .map(|cell| cell.text.clone())
        .or_else(|| {
            cell_of(columns, cells, &Column::Caption).map(|c| c.text.chars().take(60).collect())
        })
        .unwrap_or_default()
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
    let value = |column: &Column| cell_of(columns, cells, column);
    let mut push = |text: &mut String, line: String, cell: &Cell| {
        let start = text.len();
        text.push_str(&line);
        origins.push((start..text.len(), cell.span.clone()));
    };
    for (key, _) in KEYS {
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
    for (name, field) in &template.fields {
        let Some(cell) = value(&Column::Field(name.clone())) else {
            continue;
        };
        let rendered = match field.kind {
            FieldKind::List(_) => list(&cell.text),
            _ => quoted(&cell.text),
        };
        push(&mut text, format!("{} = {rendered}\n", key(name)), cell);
    }
    text.push_str("+++\n");
    let caption = value(&Column::Caption);
    if let Some(cell) = caption {
        push(&mut text, format!("{}\n", cell.text), cell);
    }
    let first = cells.first().map_or(0..0, |c| c.span.clone());
    let last = cells.last().map_or(0..0, |c| c.span.clone());
    let title = title_of(template, columns, cells);
    let places = table
        .headers
        .iter()
        .enumerate()
        .map(|(index, header)| Place {
            column: columns.get(index).cloned().flatten(),
            header: header.text.clone(),
            cell: cells.get(index).map(|cell| cell.span.clone()),
        })
        .collect();
    Made {
        row,
        line: table.numbers.get(row).copied().unwrap_or(row + 2),
        text,
        origins,
        row_span: first.start..last.end,
        title,
        places,
    }
}

/// Problems found in a generated post, said at the row and column of the
/// CSV file they come from, with a hint that speaks of the sheet.
pub fn relocate(
    made: &Made,
    template: &Template,
    diagnostics: &[Diagnostic],
    csv_path: &str,
) -> Vec<Diagnostic> {
    diagnostics
        .iter()
        .map(|diagnostic| Diagnostic {
            path: csv_path.to_owned(),
            span: Some(made.locate(diagnostic.span.as_ref(), &diagnostic.message)),
            hint: sheet_hint(made, template, diagnostic),
            ..diagnostic.clone()
        })
        .collect()
}

/// How a date is written in a cell.
const DATE_EXAMPLE: &str = "01/12/2026 19:00 ou 2026-12-01 19:00";

/// What a hint tells to do in a post file, not in a sheet: its lines
/// `+++`, its sections, its keys and their TOML values.
const POST_SYNTAX: &[&str] = &[
    "+++",
    "[visual]",
    "[caption",
    "`alt",
    "`publish_at",
    "`draft",
    "`channels",
    "`template",
    "`series =",
    "guillemets",
];

fn speaks_of_posts(hint: &str) -> bool {
    POST_SYNTAX.iter().any(|marker| hint.contains(marker))
}

/// The hint of a problem of a generated post, said of the sheet: which
/// column to fill or correct, at which row.
fn sheet_hint(made: &Made, template: &Template, diagnostic: &Diagnostic) -> Option<String> {
    let message = diagnostic.message.as_str();
    let fields = template.fields.keys().map(String::as_str);
    let column = made.column_for(diagnostic.span.as_ref(), message, fields);
    let line = made.line;
    let at = |column: &Column| {
        made.header(column)
            .map(|header| format!("la colonne « {header} »"))
    };
    if missing(message) {
        return Some(fill_hint(made, template, &column?, message));
    }
    let here = column.as_ref().and_then(at);
    if let Some(here) = &here {
        if message.contains("passage à l'heure") {
            return Some(format!(
                "choisissez dans {here}, à la ligne {line}, une heure avant 2 h ou après 3 h"
            ));
        }
        if message.starts_with("date passée") {
            let draft =
                at(&Column::Key("draft")).unwrap_or_else(|| "une colonne « brouillon »".to_owned());
            return Some(format!(
                "choisissez dans {here}, à la ligne {line}, une date à venir, ou écrivez « oui » dans {draft}"
            ));
        }
        if column == Some(Column::Key("publish_at")) {
            return Some(format!(
                "écrivez dans {here}, à la ligne {line}, une date et une heure : {DATE_EXAMPLE}"
            ));
        }
    }
    let kept = diagnostic.hint.as_deref().and_then(|hint| {
        if !speaks_of_posts(hint) {
            return Some(hint);
        }
        // What comes before another way that only a post file has.
        hint.split(", ou ")
            .next()
            .filter(|first| !speaks_of_posts(first))
    });
    match (kept, here) {
        (Some(hint), Some(here)) => Some(format!("{hint} ({here}, ligne {line})")),
        (Some(hint), None) => Some(hint.to_owned()),
        (None, Some(here)) => Some(format!("corrigez {here} à la ligne {line}")),
        (None, None) if diagnostic.hint.is_some() => {
            Some(format!("corrigez la ligne {line} de la feuille"))
        }
        (None, None) => None,
    }
}

/// The hint for something missing: fill the column at the row, or add
/// the column, under the name it would best take.
fn fill_hint(made: &Made, template: &Template, column: &Column, message: &str) -> String {
    let line = made.line;
    let mut hint = match made.header(column) {
        Some(header) => format!("remplissez la colonne « {header} » à la ligne {line}"),
        None => {
            let name = names(column, template)
                .into_iter()
                .next()
                .unwrap_or_default();
            format!("ajoutez une colonne « {name} » et remplissez-la à la ligne {line}")
        }
    };
    match column {
        Column::Key("alt") => {
            hint.push_str(" : ce que montre l'image, son texte principal compris");
        }
        Column::Key("channels") => {
            hint.push_str(" : les canaux de config/crieur.toml, séparés par des virgules");
        }
        Column::Key("publish_at") if message.starts_with("ni série ni date") => {
            let draft = made.header(&Column::Key("draft")).unwrap_or("brouillon");
            hint.push_str(&format!(
                " ({DATE_EXAMPLE}), ou écrivez « oui » dans la colonne « {draft} »"
            ));
        }
        _ => {}
    }
    hint
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

    fn template(name: &str) -> Template {
        let text = match name {
            "chiffre" => include_str!("../../../assets/templates/chiffre.toml"),
            _ => include_str!("../../../assets/templates/evenement.toml"),
        };
        let path = format!("assets/templates/{name}.toml");
        Template::parse(text, &path, name)
            .0
            .expect("a shipped template")
    }

    /// Line and column of a span's start in the text as decoded.
    fn place(text: &str, span: &Range<usize>) -> (usize, usize) {
        crate::diagnostic::line_col(text, span.start)
    }

    /// A sheet with the given line end and, if asked, a byte-order mark.
    fn sheet(end: &str, bom: bool) -> Vec<u8> {
        let rows = [
            "Légende;Chiffre;caption",
            "Un.;1;Une phrase.",
            "Deux.;\"2\";\"Sur deux|lignes\"",
            "",
            "Trois.;;Sans chiffre.",
        ];
        let text = rows.join(end).replace('|', end) + end;
        let mut bytes = if bom {
            b"\xef\xbb\xbf".to_vec()
        } else {
            Vec::new()
        };
        bytes.extend_from_slice(text.as_bytes());
        bytes
    }

    #[test]
    fn rows_and_cells_are_found_whatever_the_line_ends_and_the_mark() {
        for end in ["\n", "\r\n", "\r"] {
            for bom in [false, true] {
                let text = decode(&sheet(end, bom), "a.csv").unwrap();
                let table = read(&text, "a.csv").unwrap();
                let case = format!("{end:?}, bom {bom}");
                assert_eq!(place(&text, &table.headers[1].span), (1, 9), "{case}");
                assert_eq!(table.rows[1][2].text, "Sur deux\nlignes", "{case}");
                // A line break in a cell does not start a row, a blank
                // line does.
                assert_eq!(table.numbers, vec![2, 3, 5], "{case}");
                assert_eq!(place(&text, &table.rows[0][1].span), (2, 5), "{case}");
                assert_eq!(place(&text, &table.rows[1][0].span), (3, 1), "{case}");
                assert_eq!(place(&text, &table.rows[2][1].span), (6, 8), "{case}");
                assert_eq!(table.rows[2][1].span.len(), 0, "{case}");
                assert!(controls(&text, &table, "a.csv").is_empty(), "{case}");
            }
        }
    }

    #[test]
    fn a_utf16_file_is_refused_at_once() {
        let bytes = b"\xff\xfen\0u\0m\0";
        let (_, found) = decode(bytes, "a.csv").unwrap_err();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].message,
            "le fichier CSV est en UTF-16 (« texte Unicode »), pas en UTF-8"
        );
        assert!(found[0].hint.as_deref().unwrap().contains("CSV UTF-8"));
    }

    #[test]
    fn names_are_compared_without_case_accents_or_article() {
        assert_eq!(normal("Le chiffre"), "chiffre");
        assert_eq!(normal("  DATE_de-publication "), "date de publication");
        assert_eq!(normal("La phrase qui l’explique"), "phrase qui l explique");
        assert_eq!(normal("Le\u{301}gende"), "legende");
        assert_eq!(normal("Légende"), "legende");
        assert_eq!(normal("le"), "le");
    }

    fn columns_of(headers: &str, name: &str) -> (Vec<Option<Column>>, Vec<Diagnostic>) {
        let table = read(&format!("{headers}\n"), "a.csv").unwrap();
        columns(&table, &template(name), "a.csv")
    }

    #[test]
    fn french_names_are_accepted_for_every_column() {
        let field = |name: &str| Some(Column::Field(name.to_owned()));
        let (found, problems) = columns_of(
            "Chiffre;LA PHRASE QUI L'EXPLIQUE;source;Surtitre;Légende;Texte alternatif;Date de publication;Canaux;Brouillon",
            "chiffre",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            found,
            vec![
                field("number"),
                field("caption"),
                field("source"),
                field("kicker"),
                Some(Column::Caption),
                Some(Column::Key("alt")),
                Some(Column::Key("publish_at")),
                Some(Column::Key("channels")),
                Some(Column::Key("draft")),
            ]
        );
        // The English names still work, and other French names.
        let (found, problems) = columns_of(
            "number;caption;legende;ALT;publish_at;Réseaux;draft;Le chiffre;Source du chiffre",
            "chiffre",
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(found[1], field("caption"));
        assert_eq!(found[2], Some(Column::Caption));
        assert_eq!(found[5], Some(Column::Key("channels")));
        assert_eq!(found[7], None, "a second column for `number`");
        assert_eq!(found[8], field("source"));
        // A template's field wins: `date` is the event's date, `texte` the
        // caption, `publication` the instant it goes out.
        let (found, problems) = columns_of("Titre;Date;Texte;Publication;Lieu", "evenement");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            found,
            vec![
                field("title"),
                field("date"),
                Some(Column::Caption),
                Some(Column::Key("publish_at")),
                field("place"),
            ]
        );
    }

    #[test]
    fn two_columns_of_one_name_are_refused_naming_both() {
        let (found, problems) = columns_of("number;légende;Chiffre;Texte", "chiffre");
        assert_eq!(found[2], None);
        assert_eq!(found[3], None);
        let messages: Vec<&str> = problems.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "deux colonnes pour le champ `number` (Le chiffre) : `number` (colonne A) et `Chiffre` (colonne C)",
                "deux colonnes pour la légende (le texte du post) : `légende` (colonne B) et `Texte` (colonne D)",
            ]
        );
        assert_eq!(problems[0].span, Some(16..23));
        assert_eq!(letter(0), "A");
        assert_eq!(letter(25), "Z");
        assert_eq!(letter(26), "AA");
    }

    #[test]
    fn an_unknown_column_is_told_every_column_once() {
        let (_, problems) = columns_of("Remarque", "chiffre");
        assert_eq!(problems[0].message, "colonne inconnue `Remarque`");
        let hint = problems[0].hint.as_deref().unwrap();
        assert_eq!(
            hint,
            "colonnes possibles (majuscules et accents au choix) : « La phrase qui l'explique » ou « caption », « Surtitre » ou « kicker », « Le chiffre » ou « number », « Source du chiffre » ou « source », « légende » ou « texte » (le texte du post), « texte alternatif » ou « alt », « date de publication » ou « publish_at », « canaux » ou « channels », « brouillon » ou « draft »"
        );
        assert_eq!(hint.matches("caption").count(), 1, "{hint}");
        let (_, problems) = columns_of("Chifre;sourc", "chiffre");
        assert_eq!(
            problems[0].hint.as_deref(),
            Some("vouliez-vous dire `chiffre` ?")
        );
        assert_eq!(
            problems[1].hint.as_deref(),
            Some("vouliez-vous dire `source` ?")
        );
    }

    /// The posts of a sheet for `template`, in the series `s`.
    fn made(text: &str, name: &str) -> (Vec<Made>, Template) {
        let template = template(name);
        let table = read(text, "a.csv").unwrap();
        let (columns, problems) = columns(&table, &template, "a.csv");
        assert!(problems.is_empty(), "{problems:?}");
        let posts = make(&table, &columns, &Head::Series("s"), &template);
        (posts, template)
    }

    #[test]
    fn a_missing_value_is_asked_of_its_column_and_row() {
        let text = "Légende;Chiffre;caption\nUn.;1;Une phrase.\n;;Sans rien.\n";
        let (posts, template) = made(text, "chiffre");
        let post = &posts[1];
        assert_eq!(post.line, 3);
        let missing = Diagnostic::error(
            "posts/c/x.md",
            Some(40..48),
            "champ `number` (Le chiffre) manquant : le modèle `chiffre` l'exige",
        )
        .with_hint("ajoutez sous `[visual]` : `number = \"…\"`");
        let empty = Diagnostic::error("posts/c/x.md", Some(0..3), "légende vide")
            .with_hint("écrivez le texte du post sous la seconde ligne `+++`");
        let no_alt = Diagnostic::error("posts/c/x.md", Some(0..3), "texte alternatif manquant : l'image ne peut pas être décrite aux personnes qui ne la voient pas")
            .with_hint("ajoutez `alt = \"…\"` : ce que montre l'image, son texte principal compris");
        let found = relocate(post, &template, &[missing, empty, no_alt], "a.csv");
        let at: Vec<(usize, usize)> = found
            .iter()
            .map(|d| place(text, d.span.as_ref().unwrap()))
            .collect();
        assert_eq!(at, vec![(3, 2), (3, 1), (3, 1)]);
        let hints: Vec<&str> = found.iter().map(|d| d.hint.as_deref().unwrap()).collect();
        assert_eq!(
            hints,
            vec![
                "remplissez la colonne « Chiffre » à la ligne 3",
                "remplissez la colonne « Légende » à la ligne 3",
                "ajoutez une colonne « texte alternatif » et remplissez-la à la ligne 3 : ce que montre l'image, son texte principal compris",
            ]
        );
        assert!(found.iter().all(|d| d.path == "a.csv"));
    }

    #[test]
    fn a_date_is_corrected_in_its_cell() {
        let text = "Titre;Date;Lieu;Date de publication\nSoirée;Mardi;Ici;2026-12-01 19:00\nAtelier;Jeudi;Là;le 12\n";
        let (posts, template) = made(text, "evenement");
        let tz: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        let (_, problems) = crate::post::Post::parse(&posts[1].text, "posts/e/x.md", "e/x", tz);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let found = relocate(&posts[1], &template, &problems, "a.csv");
        assert_eq!(place(text, found[0].span.as_ref().unwrap()), (3, 18));
        assert_eq!(
            found[0].hint.as_deref(),
            Some(
                "écrivez dans la colonne « Date de publication », à la ligne 3, une date et une heure : 01/12/2026 19:00 ou 2026-12-01 19:00"
            )
        );
        // A hint about a post's own syntax keeps only what a sheet can do.
        let long = Diagnostic::error("posts/e/x.md", None, "légende trop longue : 400 caractères pour X (280 au plus)")
            .with_hint("raccourcissez-la de 120 caractères, ou écrivez une version pour ce réseau sous `[caption.x]` avec `text = \"…\"`");
        let past = Diagnostic::error(
            "posts/e/x.md",
            None,
            "date passée (mar. 01/12/2026 19:00) : ce post ne sera pas publié",
        )
        .with_hint("choisissez une date à venir, ou passez le post en brouillon : `draft = true`");
        let found = relocate(&posts[0], &template, &[long, past], "a.csv");
        let hints: Vec<&str> = found.iter().map(|d| d.hint.as_deref().unwrap()).collect();
        assert_eq!(
            hints,
            vec![
                "raccourcissez-la de 120 caractères",
                "choisissez dans la colonne « Date de publication », à la ligne 2, une date à venir, ou écrivez « oui » dans une colonne « brouillon »",
            ]
        );
    }

    #[test]
    fn reads_french_dates() {
        assert_eq!(date("01/12/2026 19:00"), "2026-12-01T19:00:00");
        assert_eq!(date("2026-12-01T19:00"), "2026-12-01T19:00:00");
        assert_eq!(date("mardi"), "\"mardi\"");
    }
}
