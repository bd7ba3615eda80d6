//! Templates: the kinds of image a post can have, described as data in
//! `assets/templates/<name>.toml`.
//!
//! A template declares the visual fields it takes (`[fields.<name>]`): a
//! label, whether it is required, and what values it accepts. `check` uses
//! the declaration to validate each post's `[visual]` table.

use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::DeTable;

use crate::diagnostic::{Diagnostic, suggest};
use crate::table::Reader;

/// Where templates live, relative to the project root.
pub const TEMPLATES_DIR: &str = "assets/templates";

#[derive(Debug, Clone)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Fields in the order the template file declares them... as sorted by
    /// name, which is how toml hands them over.
    pub fields: BTreeMap<String, Field>,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub label: String,
    pub required: bool,
    pub kind: FieldKind,
}

/// What a field's value may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// Any text.
    Text,
    /// One value from a fixed list.
    Choice(Vec<String>),
    /// A list of values from a fixed list.
    List(Vec<String>),
}

const TEMPLATE_KEYS: &[&str] = &["name", "description", "fields"];
const FIELD_KEYS: &[&str] = &["label", "required", "kind", "choices"];
const KINDS: &[&str] = &["text", "choice", "list"];

impl Template {
    /// Parses a template file; `id` is its file name without `.toml`.
    pub fn parse(text: &str, path: &str, id: &str) -> (Option<Template>, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let template = {
            let mut reader = Reader::new(path, 0, &mut diagnostics);
            reader
                .parse(text)
                .map(|table| read_template(&mut reader, &table, id))
        };
        let has_errors = diagnostics.iter().any(Diagnostic::is_error);
        (template.filter(|_| !has_errors), diagnostics)
    }

    pub fn required_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.values().filter(|field| field.required)
    }
}

fn read_template(reader: &mut Reader<'_>, table: &DeTable<'_>, id: &str) -> Template {
    reader.unknown_keys(table, "", TEMPLATE_KEYS);
    let name = reader
        .required_string(table, "name", "", 0..0)
        .map_or_else(|| id.to_owned(), Spanned::into_inner);
    let description = reader.string(table, "description").map(Spanned::into_inner);
    let mut fields = BTreeMap::new();
    for (field_name, entry, span) in reader.tables(table, "fields") {
        let section = format!("fields.{}", field_name.get_ref());
        reader.unknown_keys(entry, &section, FIELD_KEYS);
        let label = reader
            .string(entry, "label")
            .map_or_else(|| field_name.get_ref().clone(), Spanned::into_inner);
        let required = reader
            .bool(entry, "required")
            .is_some_and(Spanned::into_inner);
        let choices: Vec<String> = reader
            .strings(entry, "choices")
            .map(|list| {
                list.into_inner()
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect()
            })
            .unwrap_or_default();
        let kind = match reader.string(entry, "kind") {
            None => FieldKind::Text,
            Some(kind) => match kind.get_ref().as_str() {
                "text" => FieldKind::Text,
                "choice" | "list" if choices.is_empty() => {
                    reader.error(
                        span.clone(),
                        format!(
                            "le champ `{}` doit donner ses `choices`",
                            field_name.get_ref()
                        ),
                    );
                    FieldKind::Text
                }
                "choice" => FieldKind::Choice(choices.clone()),
                "list" => FieldKind::List(choices.clone()),
                other => {
                    let hint = suggest(other, KINDS);
                    reader
                        .error(kind.span(), format!("type de champ inconnu `{other}`"))
                        .hint = hint;
                    FieldKind::Text
                }
            },
        };
        let name = field_name.into_inner();
        fields.insert(
            name.clone(),
            Field {
                name,
                label,
                required,
                kind,
            },
        );
    }
    Template {
        id: id.to_owned(),
        name,
        description,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_their_kinds() {
        let text = r#"
name = "Outil numérique"
[fields.tool]
label = "Nom de l'outil"
required = true
[fields.category]
kind = "choice"
choices = ["medical", "coordination"]
required = true
[fields.marks]
kind = "list"
choices = ["securise", "patients"]
"#;
        let (template, diagnostics) = Template::parse(text, "assets/templates/outil.toml", "outil");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let template = template.unwrap();
        assert_eq!(template.required_fields().count(), 2);
        assert_eq!(
            template.fields["category"].kind,
            FieldKind::Choice(vec!["medical".into(), "coordination".into()])
        );
        assert_eq!(template.fields["tool"].label, "Nom de l'outil");
    }

    #[test]
    fn a_choice_without_choices_is_an_error() {
        let text = "name = \"x\"\n[fields.a]\nkind = \"choice\"\n";
        let (template, diagnostics) = Template::parse(text, "t.toml", "t");
        assert!(template.is_none());
        assert!(diagnostics[0].message.contains("choices"));
    }
}
