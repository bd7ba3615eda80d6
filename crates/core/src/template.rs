//! Templates: the kinds of image a post can have, described as data in
//! `assets/templates/<name>.toml`.
//!
//! A template declares the visual fields it takes (`[fields.<name>]`), the
//! alt text it writes from them, and for each format it offers (`carre`,
//! `portrait`, `paysage`) the layers drawn in order: backgrounds, rounded
//! rectangles, images, text boxes and rows of icons. Text, colours and image
//! paths may name fields as `{field}`. Parsing is pure; whether the fonts,
//! images and brand colours a template names exist is checked by `check`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::Serialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Diagnostic, suggest};
use crate::table::{Reader, type_name};
pub use crate::typography::Wrap;

/// Where templates live, relative to the project root.
pub const TEMPLATES_DIR: &str = "assets/templates";

#[derive(Debug, Clone)]
pub struct Template {
    pub id: String,
    pub path: String,
    pub name: String,
    pub description: Option<String>,
    /// The alt text pattern, with `{field}` placeholders.
    pub alt: Option<String>,
    /// Fields by name.
    pub fields: BTreeMap<String, Field>,
    /// The formats the template offers, each with its layers.
    pub formats: BTreeMap<Format, Vec<Layer>>,
    /// The type scale (`scale`), largest first: the sizes its texts take.
    /// Empty when the template declares none: its texts take any whole
    /// size between their smallest and largest.
    pub scale: Vec<f32>,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub label: String,
    pub required: bool,
    pub kind: FieldKind,
    /// The value when the post gives none.
    pub default: Option<String>,
}

/// What a field's value may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// Any text.
    Text,
    /// One value from a fixed list.
    Choice(Vec<Choice>),
    /// A list of values from a fixed list.
    List(Vec<Choice>),
}

/// An allowed value and how it reads on the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

impl FieldKind {
    pub fn choices(&self) -> &[Choice] {
        match self {
            FieldKind::Text => &[],
            FieldKind::Choice(choices) | FieldKind::List(choices) => choices,
        }
    }
}

/// The image sizes crieur renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// 1080x1080, for every network.
    Carre,
    /// 1080x1350, Instagram's tallest.
    Portrait,
    /// 1200x630, Facebook and LinkedIn links.
    Paysage,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Carre, Format::Portrait, Format::Paysage];
    pub const NAMES: [&'static str; 3] = ["carre", "portrait", "paysage"];

    pub fn as_str(self) -> &'static str {
        Format::NAMES[self as usize]
    }

    pub fn size(self) -> (u32, u32) {
        match self {
            Format::Carre => (1080, 1080),
            Format::Portrait => (1080, 1350),
            Format::Paysage => (1200, 630),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = ();

    fn from_str(name: &str) -> Result<Format, ()> {
        Format::ALL
            .into_iter()
            .find(|format| format.as_str() == name)
            .ok_or(())
    }
}

/// A rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

/// How an area is filled. Colours are brand colour names, `#RRGGBB[AA]`,
/// or patterns naming a field (`{category}`).
#[derive(Debug, Clone, PartialEq)]
pub enum Paint {
    Solid(Spanned<String>),
    /// A linear gradient; the angle as in CSS (0 upwards, 90 to the right).
    Gradient {
        from: Spanned<String>,
        to: Spanned<String>,
        angle: f32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VAlign {
    Top,
    Middle,
    Bottom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// The whole image, inside the box.
    Contain,
    /// The box, filled, the image cropped.
    Cover,
}

/// One drawing step of a format.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Where the layer is declared in the template file.
    pub span: Range<usize>,
    /// Draw only when this field has a value.
    pub when: Option<String>,
    pub kind: LayerKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LayerKind {
    /// Fills the whole image.
    Background(Paint),
    Rect {
        rect: Rect,
        paint: Paint,
        radius: f32,
    },
    Image {
        rect: Rect,
        /// Path under `assets/`, with placeholders; `None` for the brand's
        /// logo.
        src: Option<Spanned<String>>,
        fit: Fit,
    },
    Text(TextLayer),
    /// One icon and its label per value of a list field.
    Icons(IconsLayer),
    /// Texts one under the other in a box that fits them.
    Stack(StackLayer),
}

#[derive(Debug, Clone, PartialEq)]
pub struct TextLayer {
    pub rect: Rect,
    /// The text, with `{field}` placeholders; when several are given, the
    /// first whose fields all have a value is drawn.
    pub text: Vec<Spanned<String>>,
    /// A brand font name or a file of `assets/fonts/`.
    pub font: Spanned<String>,
    pub color: Spanned<String>,
    pub align: Align,
    pub valign: VAlign,
    pub min_size: f32,
    pub max_size: f32,
    pub max_lines: usize,
    pub line_height: f32,
    pub uppercase: bool,
    /// How the words are shared among the lines.
    pub wrap: Wrap,
    /// The steps of the template's scale this text may take, largest
    /// first: those between `min_size` and `max_size`. Empty for a text of
    /// one size, or in a template without a scale.
    pub steps: Vec<f32>,
    /// A qualifier before a number ("Plus de", "Près de", "Environ") is
    /// set on its own line above it, at this fraction of its size.
    pub qualifier: Option<f32>,
}

impl TextLayer {
    /// What identifies this text among the template's: where it is
    /// declared in the file. Every card of a series sets it at one size.
    pub fn key(&self) -> usize {
        self.text.first().map_or(0, |pattern| pattern.span().start)
    }
}

impl Layer {
    /// The texts the layer sets, those of a stack and its boxes included.
    pub fn texts(&self) -> Vec<&TextLayer> {
        match &self.kind {
            LayerKind::Text(text) => vec![text],
            LayerKind::Stack(stack) => stack.texts(),
            _ => Vec::new(),
        }
    }
}

/// Texts (and boxes of texts) set one under the other, `gap` apart, in a
/// box as tall as they are (and, with `hug`, as wide as their longest
/// line): a text whose fields have no value takes no room. The box sits in
/// `rect` as `align` and `valign` say.
#[derive(Debug, Clone, PartialEq)]
pub struct StackLayer {
    /// Where the box may extend.
    pub rect: Rect,
    /// The box's fill; none for texts alone.
    pub paint: Option<Paint>,
    pub radius: f32,
    /// From the box's edges to its texts: across, then down.
    pub padding: (f32, f32),
    pub gap: f32,
    pub align: Align,
    pub valign: VAlign,
    /// The box is as wide as its longest line plus the padding (a pill).
    pub hug: bool,
    /// In order; each one's rect gives its width and the height it may
    /// take.
    pub items: Vec<StackItem>,
}

/// What a stack holds.
#[derive(Debug, Clone, PartialEq)]
pub enum StackItem {
    Text(TextLayer),
    /// A box of its own (`kind = "stack"`), placed as `align` says.
    Stack(StackLayer),
    /// A short bar between two texts (`kind = "rule"`), placed as `align`
    /// says.
    Rule(RuleItem),
    /// A row of icons and their labels (`kind = "icons"`), from the top.
    Icons(IconsLayer),
}

/// A bar in a stack: an accent under a figure.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleItem {
    pub width: f32,
    pub height: f32,
    pub paint: Paint,
    pub radius: f32,
    pub align: Align,
}

impl StackLayer {
    /// Every text of the stack, those of the boxes inside included.
    pub fn texts(&self) -> Vec<&TextLayer> {
        let mut texts = Vec::new();
        for item in &self.items {
            match item {
                StackItem::Text(text) => texts.push(text),
                StackItem::Stack(stack) => texts.extend(stack.texts()),
                StackItem::Rule(_) | StackItem::Icons(_) => {}
            }
        }
        texts
    }

    /// Every text of the stack, to change.
    fn texts_mut(&mut self) -> Vec<&mut TextLayer> {
        let mut texts = Vec::new();
        for item in &mut self.items {
            match item {
                StackItem::Text(text) => texts.push(text),
                StackItem::Stack(stack) => texts.extend(stack.texts_mut()),
                StackItem::Rule(_) | StackItem::Icons(_) => {}
            }
        }
        texts
    }

    /// Every paint of the stack, those of the boxes inside included.
    pub fn paints(&self) -> Vec<&Paint> {
        let mut paints: Vec<&Paint> = self.paint.iter().collect();
        for item in &self.items {
            match item {
                StackItem::Stack(stack) => paints.extend(stack.paints()),
                StackItem::Rule(rule) => paints.push(&rule.paint),
                StackItem::Text(_) | StackItem::Icons(_) => {}
            }
        }
        paints
    }

    /// Every row of icons of the stack, those of the boxes inside included.
    pub fn icons(&self) -> Vec<&IconsLayer> {
        let mut icons = Vec::new();
        for item in &self.items {
            match item {
                StackItem::Stack(stack) => icons.extend(stack.icons()),
                StackItem::Icons(row) => icons.push(row),
                StackItem::Text(_) | StackItem::Rule(_) => {}
            }
        }
        icons
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct IconsLayer {
    pub rect: Rect,
    pub field: Spanned<String>,
    /// Path under `assets/` with `{value}` for the item's value.
    pub src: Spanned<String>,
    pub icon_size: f32,
    pub gap: f32,
    pub font: Spanned<String>,
    pub color: Spanned<String>,
    pub text_size: f32,
    /// Where the rows sit in the layer when they do not fill it.
    pub valign: VAlign,
}

/// The smallest text size, in pixels; the largest is the image's height.
pub const MIN_TEXT_SIZE: f32 = 4.0;

/// The smallest text that reads on a phone, where an image is seen about
/// 360 px wide: 1/36 of the image's width (30 px at 1080, 34 at 1200).
pub fn legible_size(format: Format) -> f32 {
    (format.size().0 as f32 / 36.0).ceil()
}

/// The range of `line_height`, a multiple of the text size.
pub const LINE_HEIGHTS: std::ops::RangeInclusive<f32> = 0.5..=3.0;

/// The most lines a text box may have.
pub const MAX_LINES: f32 = 100.0;

const TEMPLATE_KEYS: &[&str] = &["name", "description", "alt", "scale", "fields", "formats"];
const FIELD_KEYS: &[&str] = &["label", "required", "kind", "choices", "default"];
const KINDS: &[&str] = &["text", "choice", "list"];
const LAYER_KINDS: &[&str] = &["background", "rect", "image", "text", "icons", "stack"];
/// The keys of a text, in a text layer or a stack.
const TEXT_KEYS: &[&str] = &[
    "text",
    "field",
    "font",
    "color",
    "align",
    "size",
    "min_size",
    "max_size",
    "max_lines",
    "line_height",
    "uppercase",
    "wrap",
    "qualifier",
];
const GEOMETRY: &[&str] = &["x", "y", "width", "height"];

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
    let fields = read_fields(reader, table);
    let alt = reader.string(table, "alt");
    if let Some(alt) = &alt {
        check_placeholders(reader, alt, &fields);
    }
    let scale = read_scale(reader, table);
    let mut formats = BTreeMap::new();
    for (format_name, entry, span) in reader.tables(table, "formats") {
        let Ok(format) = format_name.get_ref().parse::<Format>() else {
            let hint = suggest(format_name.get_ref(), &Format::NAMES);
            reader
                .error(
                    format_name.span(),
                    format!("format inconnu `{}`", format_name.get_ref()),
                )
                .hint = hint;
            continue;
        };
        let section = format!("formats.{format}");
        reader.unknown_keys(entry, &section, &["layers"]);
        let mut layers = read_layers(reader, entry, &fields, format);
        assign_steps(reader, &mut layers, &scale);
        if layers.is_empty() {
            reader
                .error(span, format!("le format `{format}` n'a aucun calque"))
                .hint = Some(format!(
                "ajoutez des calques : `[[formats.{format}.layers]]`"
            ));
        }
        formats.insert(format, layers);
    }
    if formats.is_empty() {
        reader.error(0..0, "ce modèle n'offre aucun format").hint =
            Some("ajoutez au moins `[[formats.carre.layers]]` (1080x1080)".to_owned());
    }
    Template {
        id: id.to_owned(),
        path: reader.path().to_owned(),
        name,
        description,
        alt: alt.map(Spanned::into_inner),
        fields,
        formats,
        scale,
    }
}

/// The template's type scale, `scale = [30, 36, 44, …]`: the sizes its
/// texts take, largest first; empty when it declares none.
fn read_scale(reader: &mut Reader<'_>, table: &DeTable<'_>) -> Vec<f32> {
    let Some((_, value)) = Reader::get(table, "scale") else {
        return Vec::new();
    };
    let hint = "une liste de tailles en pixels : `scale = [30, 36, 44, 54, 66, 80]`";
    let DeValue::Array(items) = value.get_ref() else {
        reader
            .error(value.span(), "`scale` doit être une liste de tailles")
            .hint = Some(hint.to_owned());
        return Vec::new();
    };
    let mut scale = Vec::new();
    for item in items.iter() {
        let size = match item.get_ref() {
            DeValue::Integer(integer) => integer.as_str().replace('_', "").parse::<f32>().ok(),
            DeValue::Float(float) => float.as_str().replace('_', "").parse::<f32>().ok(),
            _ => None,
        };
        match size {
            Some(size) if (MIN_TEXT_SIZE..=MAX_SCALE_STEP).contains(&size) => scale.push(size),
            _ => {
                reader
                    .error(
                        item.span(),
                        format!(
                            "un pas de `scale` doit être une taille entre {} et {} pixels",
                            MIN_TEXT_SIZE, MAX_SCALE_STEP
                        ),
                    )
                    .hint = Some(hint.to_owned());
            }
        }
    }
    scale.sort_by(|a, b| b.total_cmp(a));
    scale.dedup();
    scale
}

/// The largest step a scale may have: the tallest image's height.
const MAX_SCALE_STEP: f32 = 1350.0;

/// Gives each text of `layers` the steps of `scale` between its smallest
/// and largest sizes; a text whose range holds no step is an error.
fn assign_steps(reader: &mut Reader<'_>, layers: &mut [Layer], scale: &[f32]) {
    if scale.is_empty() {
        return;
    }
    for layer in layers {
        let span = layer.span.clone();
        let texts: Vec<&mut TextLayer> = match &mut layer.kind {
            LayerKind::Text(text) => vec![text],
            LayerKind::Stack(stack) => stack.texts_mut(),
            _ => Vec::new(),
        };
        for text in texts {
            if text.min_size >= text.max_size {
                continue;
            }
            text.steps = scale
                .iter()
                .copied()
                .filter(|step| (text.min_size..=text.max_size).contains(step))
                .collect();
            if text.steps.is_empty() {
                reader
                    .error(
                        span.clone(),
                        format!(
                            "aucun pas de `scale` entre `min_size` {} et `max_size` {}",
                            text.min_size, text.max_size
                        ),
                    )
                    .hint = Some(
                    "ajoutez un pas à `scale`, ou élargissez `min_size`..`max_size`".to_owned(),
                );
            }
        }
    }
}

fn read_fields(reader: &mut Reader<'_>, table: &DeTable<'_>) -> BTreeMap<String, Field> {
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
        let default = reader.string(entry, "default").map(Spanned::into_inner);
        let choices = read_choices(reader, entry);
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
                "choice" => FieldKind::Choice(choices),
                "list" => FieldKind::List(choices),
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
                default,
            },
        );
    }
    fields
}

/// `choices = ["a", "b"]` or, with labels, `choices = { a = "Label A" }`.
fn read_choices(reader: &mut Reader<'_>, entry: &DeTable<'_>) -> Vec<Choice> {
    let Some((_, value)) = Reader::get(entry, "choices") else {
        return Vec::new();
    };
    match value.get_ref() {
        DeValue::Table(labels) => labels
            .iter()
            .filter_map(|(key, label)| match label.get_ref() {
                DeValue::String(text) => Some(Choice {
                    value: key.get_ref().to_string(),
                    label: text.to_string(),
                }),
                other => {
                    let found = type_name(other);
                    reader.error(
                        label.span(),
                        format!("le libellé d'un choix doit être un texte, pas {found}"),
                    );
                    None
                }
            })
            .collect(),
        _ => reader
            .strings(entry, "choices")
            .map(|list| {
                list.into_inner()
                    .into_iter()
                    .map(|value| Choice {
                        label: value.get_ref().clone(),
                        value: value.into_inner(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn read_layers(
    reader: &mut Reader<'_>,
    entry: &DeTable<'_>,
    fields: &BTreeMap<String, Field>,
    format: Format,
) -> Vec<Layer> {
    let Some((_, value)) = Reader::get(entry, "layers") else {
        return Vec::new();
    };
    let DeValue::Array(items) = value.get_ref() else {
        reader
            .error(value.span(), "`layers` doit être une liste de calques")
            .hint = Some(format!(
            "écrivez chaque calque sous `[[formats.{format}.layers]]`"
        ));
        return Vec::new();
    };
    let mut layers = Vec::new();
    for item in items.iter() {
        let DeValue::Table(layer) = item.get_ref() else {
            reader.error(item.span(), "un calque doit être une table");
            continue;
        };
        if let Some(layer) = read_layer(reader, layer, item.span(), fields, format) {
            layers.push(layer);
        }
    }
    layers
}

fn read_layer(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    span: Range<usize>,
    fields: &BTreeMap<String, Field>,
    format: Format,
) -> Option<Layer> {
    let kind = reader.required_string(table, "kind", "calque", span.clone())?;
    let section = format!("calque {}", kind.get_ref());
    let when = reader.string(table, "when");
    if let Some(when) = &when {
        check_when(reader, when, fields);
    }
    let layer_kind = match kind.get_ref().as_str() {
        "background" => {
            reader.unknown_keys(table, &section, &with_common(&["color", "gradient"]));
            LayerKind::Background(read_paint(reader, table, span.clone(), fields)?)
        }
        "rect" => read_rect_layer(reader, table, &section, span.clone(), fields, format)?,
        "image" => read_image_layer(reader, table, &section, span.clone(), fields, format)?,
        "text" => {
            let mut keys = GEOMETRY.to_vec();
            keys.extend(TEXT_KEYS);
            keys.push("valign");
            reader.unknown_keys(table, &section, &with_common(&keys));
            let rect = read_rect(reader, table, span.clone(), format)?;
            LayerKind::Text(read_text_layer(
                reader,
                table,
                span.clone(),
                fields,
                format,
                rect,
            )?)
        }
        "stack" => {
            let mut keys = GEOMETRY.to_vec();
            keys.extend([
                "color", "gradient", "radius", "padding", "gap", "align", "valign", "hug", "items",
            ]);
            reader.unknown_keys(table, &section, &with_common(&keys));
            let rect = read_rect(reader, table, span.clone(), format)?;
            LayerKind::Stack(read_stack(
                reader,
                table,
                span.clone(),
                fields,
                format,
                rect,
            )?)
        }
        "icons" => read_icons_layer(reader, table, &section, span.clone(), fields, format)?,
        other => {
            reader
                .error(kind.span(), format!("type de calque inconnu `{other}`"))
                .hint = suggest(other, LAYER_KINDS);
            return None;
        }
    };
    Some(Layer {
        span: reader.span(span),
        when: when.map(Spanned::into_inner),
        kind: layer_kind,
    })
}

/// Reports a layer's `when` that names no field of the template.
fn check_when(reader: &mut Reader<'_>, when: &Spanned<String>, fields: &BTreeMap<String, Field>) {
    if fields.contains_key(when.get_ref()) {
        return;
    }
    let known: Vec<&str> = fields.keys().map(String::as_str).collect();
    reader
        .error(
            when.span(),
            format!("`when` nomme un champ inconnu `{}`", when.get_ref()),
        )
        .hint = suggest(when.get_ref(), &known);
}

/// A `rect` layer: its box, its fill and the radius of its corners.
fn read_rect_layer(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    section: &str,
    span: Range<usize>,
    fields: &BTreeMap<String, Field>,
    format: Format,
) -> Option<LayerKind> {
    let mut keys = GEOMETRY.to_vec();
    keys.extend(["color", "gradient", "radius"]);
    reader.unknown_keys(table, section, &with_common(&keys));
    let rect = read_rect(reader, table, span.clone(), format)?;
    let paint = read_paint(reader, table, span, fields)?;
    let radius = read_radius(reader, table, format);
    Some(LayerKind::Rect {
        rect,
        paint,
        radius,
    })
}

/// `radius`, in pixels up to the image's longer side; 0 when not given.
fn read_radius(reader: &mut Reader<'_>, table: &DeTable<'_>, format: Format) -> f32 {
    let (width, height) = format.size();
    number_in(
        reader,
        table,
        "radius",
        0.0..=width.max(height) as f32,
        " pixels",
    )
    .unwrap_or(0.0)
}

/// An `image` layer: its box, its `src` (none for the brand's logo) and how
/// the image fits the box.
fn read_image_layer(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    section: &str,
    span: Range<usize>,
    fields: &BTreeMap<String, Field>,
    format: Format,
) -> Option<LayerKind> {
    let mut keys = GEOMETRY.to_vec();
    keys.extend(["src", "fit"]);
    reader.unknown_keys(table, section, &with_common(&keys));
    let rect = read_rect(reader, table, span, format)?;
    let src = reader.string(table, "src");
    if let Some(src) = &src {
        check_placeholders(reader, src, fields);
    }
    let fit = read_fit(reader, table);
    Some(LayerKind::Image { rect, src, fit })
}

fn read_fit(reader: &mut Reader<'_>, table: &DeTable<'_>) -> Fit {
    read_choice(
        reader,
        table,
        "fit",
        "`fit`",
        &[("contain", Fit::Contain), ("cover", Fit::Cover)],
    )
}

/// One of a few words (`choices`, the first the default when the key is
/// absent); another word is an error at its place, with the nearest one.
fn read_choice<T: Copy>(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    key: &str,
    what: &str,
    choices: &[(&str, T)],
) -> T {
    let default = choices[0].1;
    let Some(word) = reader.string(table, key) else {
        return default;
    };
    if let Some((_, value)) = choices.iter().find(|(name, _)| name == word.get_ref()) {
        return *value;
    }
    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
    let other = word.get_ref();
    reader
        .error(word.span(), format!("{what} inconnu `{other}`"))
        .hint = suggest(other, &names);
    default
}

/// An `icons` layer: its box, the `list` field whose values it shows, and
/// how each icon and its label are drawn.
fn read_icons_layer(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    section: &str,
    span: Range<usize>,
    fields: &BTreeMap<String, Field>,
    format: Format,
) -> Option<LayerKind> {
    let mut keys = GEOMETRY.to_vec();
    keys.extend(ICONS_KEYS);
    keys.push("valign");
    reader.unknown_keys(table, section, &with_common(&keys));
    let rect = read_rect(reader, table, span.clone(), format)?;
    let valign = read_valign(reader, table);
    read_icons(reader, table, (section, span), fields, (format, rect))
        .map(|icons| LayerKind::Icons(IconsLayer { valign, ..icons }))
}

/// The keys of a row of icons, in an `icons` layer or a stack.
const ICONS_KEYS: [&str; 7] = [
    "field",
    "src",
    "icon_size",
    "gap",
    "font",
    "color",
    "text_size",
];

/// A row of icons in `rect`, from the top.
fn read_icons(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    (section, span): (&str, Range<usize>),
    fields: &BTreeMap<String, Field>,
    (format, rect): (Format, Rect),
) -> Option<IconsLayer> {
    let field = reader.required_string(table, "field", section, span.clone())?;
    check_list_field(reader, &field, fields);
    let src = reader.required_string(table, "src", section, span.clone())?;
    let font = reader.required_string(table, "font", section, span.clone())?;
    let color = reader.required_string(table, "color", section, span)?;
    let inside = " (la hauteur du calque)".to_owned();
    let across = " (la largeur du calque)".to_owned();
    let sizes = MIN_TEXT_SIZE..=rect.height.max(MIN_TEXT_SIZE);
    let text_size = number_in(reader, table, "text_size", sizes.clone(), &inside);
    if let Some(size) = text_size
        && sizes.contains(&size)
    {
        check_legible(reader, table, "text_size", size, format);
    }
    Some(IconsLayer {
        rect,
        field,
        src,
        icon_size: number_in(reader, table, "icon_size", 1.0..=rect.height, &inside)
            .unwrap_or(48.0),
        gap: number_in(reader, table, "gap", 0.0..=rect.width, &across).unwrap_or(24.0),
        font,
        color,
        text_size: text_size.unwrap_or_else(|| legible_size(format)),
        valign: VAlign::Top,
    })
}

/// Reports an icons layer's `field` that is unknown or not of kind `list`.
fn check_list_field(
    reader: &mut Reader<'_>,
    field: &Spanned<String>,
    fields: &BTreeMap<String, Field>,
) {
    match fields.get(field.get_ref()).map(|f| &f.kind) {
        Some(FieldKind::List(_)) => {}
        Some(_) => {
            reader.error(
                field.span(),
                format!("`{}` doit être un champ de type `list`", field.get_ref()),
            );
        }
        None => {
            let known: Vec<&str> = fields.keys().map(String::as_str).collect();
            reader
                .error(field.span(), format!("champ inconnu `{}`", field.get_ref()))
                .hint = suggest(field.get_ref(), &known);
        }
    }
}

/// A layer's own keys and those every layer takes.
fn with_common<'k>(keys: &[&'k str]) -> Vec<&'k str> {
    let mut all = vec!["kind", "when"];
    all.extend_from_slice(keys);
    all
}

/// A stack: its box, then its texts (and boxes) under
/// `[[…layers.items]]`. `rect` is the stack's area; a stack inside another
/// gets its width and height from the one around it.
fn read_stack(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    span: Range<usize>,
    fields: &BTreeMap<String, Field>,
    format: Format,
    rect: Rect,
) -> Option<StackLayer> {
    let paint = if Reader::get(table, "color").is_some() || Reader::get(table, "gradient").is_some()
    {
        Some(read_paint(reader, table, span.clone(), fields)?)
    } else {
        None
    };
    let radius = read_radius(reader, table, format);
    let padding = read_padding(reader, table, rect);
    let gap = number_in(
        reader,
        table,
        "gap",
        0.0..=rect.height,
        " (la hauteur du calque)",
    )
    .unwrap_or(0.0);
    let align = read_align(reader, table);
    let valign = read_valign(reader, table);
    let hug = reader.bool(table, "hug").is_some_and(Spanned::into_inner);
    let inner = Rect {
        x: rect.x + padding.0,
        y: rect.y + padding.1,
        width: rect.width - 2.0 * padding.0,
        height: rect.height - 2.0 * padding.1,
    };
    let items = read_stack_items(reader, table, span, fields, format, inner)?;
    Some(StackLayer {
        rect,
        paint,
        radius,
        padding,
        gap,
        align,
        valign,
        hug,
        items,
    })
}

/// A stack's `items`, laid in `inner`, the stack's area less its padding;
/// `None` when the stack gives no list of them.
fn read_stack_items(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    span: Range<usize>,
    fields: &BTreeMap<String, Field>,
    format: Format,
    inner: Rect,
) -> Option<Vec<StackItem>> {
    let Some((_, value)) = Reader::get(table, "items") else {
        reader
            .error(span, "un calque `stack` doit donner ses textes")
            .hint = Some(format!(
            "ajoutez-les sous `[[formats.{format}.layers.items]]`"
        ));
        return None;
    };
    let DeValue::Array(entries) = value.get_ref() else {
        reader
            .error(value.span(), "`items` doit être une liste de textes")
            .hint = Some(format!(
            "écrivez chaque texte sous `[[formats.{format}.layers.items]]`"
        ));
        return None;
    };
    let mut items = Vec::new();
    for entry in entries.iter() {
        let DeValue::Table(item) = entry.get_ref() else {
            reader.error(entry.span(), "un texte de `items` doit être une table");
            continue;
        };
        items.extend(read_stack_item(
            reader,
            item,
            entry.span(),
            fields,
            format,
            inner,
        ));
    }
    Some(items)
}

/// One item of a stack: a text, or a stack inside it (`kind = "stack"`),
/// as wide as `inner` and as tall as its `height` says.
fn read_stack_item(
    reader: &mut Reader<'_>,
    item: &DeTable<'_>,
    span: Range<usize>,
    fields: &BTreeMap<String, Field>,
    format: Format,
    inner: Rect,
) -> Option<StackItem> {
    let kind = reader.string(item, "kind");
    match kind.as_ref().map(|kind| kind.get_ref().as_str()) {
        None | Some("text" | "stack") => {}
        Some("rule") => return read_rule(reader, item, span, fields, format, inner),
        Some("icons") => {
            let mut keys = vec!["kind", "height"];
            keys.extend(ICONS_KEYS);
            let section = "élément icons d'un calque stack";
            reader.unknown_keys(item, section, &keys);
            let height = item_height(reader, item, inner);
            let rect = Rect { height, ..inner };
            return read_icons(reader, item, (section, span), fields, (format, rect))
                .map(StackItem::Icons);
        }
        Some(other) => {
            reader
                .error(
                    kind.as_ref().map_or(span.clone(), Spanned::span),
                    format!("type d'élément inconnu `{other}` dans un calque stack"),
                )
                .hint = suggest(other, &["text", "stack", "rule", "icons"]);
            return None;
        }
    }
    let nested = kind.is_some_and(|kind| kind.get_ref() == "stack");
    let mut keys = if nested {
        vec![
            "kind", "color", "gradient", "radius", "padding", "gap", "align", "hug", "items",
        ]
    } else {
        TEXT_KEYS.to_vec()
    };
    keys.push("height");
    reader.unknown_keys(item, "élément d'un calque stack", &keys);
    let height = item_height(reader, item, inner);
    let rect = Rect { height, ..inner };
    if nested {
        read_stack(reader, item, span, fields, format, rect).map(StackItem::Stack)
    } else {
        read_text_layer(reader, item, span, fields, format, rect).map(StackItem::Text)
    }
}

/// The height an item of a stack may take: its `height`, or the whole.
fn item_height(reader: &mut Reader<'_>, item: &DeTable<'_>, inner: Rect) -> f32 {
    number_in(
        reader,
        item,
        "height",
        1.0..=inner.height.max(1.0),
        " (la hauteur du calque, marges ôtées)",
    )
    .unwrap_or(inner.height)
}

/// A bar in a stack (`kind = "rule"`): its width and height, colour,
/// rounding and alignment.
fn read_rule(
    reader: &mut Reader<'_>,
    item: &DeTable<'_>,
    span: Range<usize>,
    fields: &BTreeMap<String, Field>,
    format: Format,
    inner: Rect,
) -> Option<StackItem> {
    reader.unknown_keys(
        item,
        "élément rule d'un calque stack",
        &[
            "kind", "width", "height", "color", "gradient", "radius", "align",
        ],
    );
    let why = " (la largeur du calque, marges ôtées)";
    let width = number_in(reader, item, "width", 1.0..=inner.width.max(1.0), why);
    let why = " (la hauteur du calque, marges ôtées)";
    let height = number_in(reader, item, "height", 1.0..=inner.height.max(1.0), why);
    let (Some(width), Some(height)) = (width, height) else {
        reader
            .error(span, "un élément `rule` doit donner `width` et `height`")
            .hint = Some("`width = 140`, `height = 10`".to_owned());
        return None;
    };
    let paint = read_paint(reader, item, span, fields)?;
    let radius = read_radius(reader, item, format);
    let align = read_align(reader, item);
    Some(StackItem::Rule(RuleItem {
        width,
        height,
        paint,
        radius,
        align,
    }))
}

/// `padding = 24` (all round) or `padding = [28, 14]` (across, down);
/// the texts keep some room inside.
fn read_padding(reader: &mut Reader<'_>, table: &DeTable<'_>, rect: Rect) -> (f32, f32) {
    let Some((_, value)) = Reader::get(table, "padding") else {
        return (0.0, 0.0);
    };
    let read = |value: &DeValue<'_>| match value {
        DeValue::Integer(integer) => integer.as_str().replace('_', "").parse::<f32>().ok(),
        DeValue::Float(float) => float.as_str().replace('_', "").parse::<f32>().ok(),
        _ => None,
    };
    let padding = match value.get_ref() {
        DeValue::Array(items) if items.len() == 2 => {
            read(items[0].get_ref()).zip(read(items[1].get_ref()))
        }
        other => read(other).map(|all| (all, all)),
    };
    match padding {
        Some((across, down))
            if across.is_finite()
                && down.is_finite()
                && across >= 0.0
                && down >= 0.0
                && 2.0 * across < rect.width
                && 2.0 * down < rect.height =>
        {
            (across, down)
        }
        _ => {
            reader
                .error(
                    value.span(),
                    "`padding` doit être un nombre de pixels, ou deux (en largeur, en hauteur), qui laissent de la place au texte",
                )
                .hint = Some("`padding = 24` ou `padding = [28, 14]`".to_owned());
            (0.0, 0.0)
        }
    }
}

fn read_align(reader: &mut Reader<'_>, table: &DeTable<'_>) -> Align {
    read_choice(
        reader,
        table,
        "align",
        "alignement",
        &[
            ("left", Align::Left),
            ("center", Align::Center),
            ("right", Align::Right),
        ],
    )
}

fn read_valign(reader: &mut Reader<'_>, table: &DeTable<'_>) -> VAlign {
    read_choice(
        reader,
        table,
        "valign",
        "alignement vertical",
        &[
            ("top", VAlign::Top),
            ("middle", VAlign::Middle),
            ("bottom", VAlign::Bottom),
        ],
    )
}

/// Reports a text size under [`legible_size`], at its value.
fn check_legible(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    key: &str,
    size: f32,
    format: Format,
) {
    let least = legible_size(format);
    if size >= least {
        return;
    }
    let Some((_, value)) = Reader::get(table, key) else {
        return;
    };
    let (width, _) = format.size();
    reader
        .error(
            value.span(),
            format!(
                "`{key}` vaut {} : un texte de moins de {} px (1/36 de la largeur de l'image {format}, {width} px) ne se lit pas sur un téléphone",
                french_number(size),
                french_number(least)
            ),
        )
        .hint = Some(format!(
        "une image se voit sur environ 360 px de large : donnez au moins `{key} = {}`",
        french_number(least)
    ));
}

fn read_text_layer(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    span: Range<usize>,
    fields: &BTreeMap<String, Field>,
    format: Format,
    rect: Rect,
) -> Option<TextLayer> {
    let texts = read_texts(reader, table, span.clone())?;
    if texts.is_empty() {
        return None;
    }
    for text in &texts {
        check_placeholders(reader, text, fields);
    }
    let font = reader.required_string(table, "font", "calque text", span.clone())?;
    let color = reader.required_string(table, "color", "calque text", span.clone())?;
    let (min_size, max_size) = read_text_sizes(reader, table, span, format)?;
    let align = read_align(reader, table);
    let valign = read_valign(reader, table);
    let wrap = read_wrap(reader, table);
    let max_lines = number_in(reader, table, "max_lines", 1.0..=MAX_LINES, "")
        .map_or(1, |n| n.max(1.0) as usize);
    let line_height = number_in(
        reader,
        table,
        "line_height",
        LINE_HEIGHTS,
        " fois la taille",
    )
    .unwrap_or(1.2);
    Some(TextLayer {
        rect,
        text: texts,
        font,
        color,
        align,
        valign,
        min_size,
        max_size,
        max_lines,
        line_height,
        uppercase: reader
            .bool(table, "uppercase")
            .is_some_and(Spanned::into_inner),
        wrap,
        steps: Vec::new(),
        qualifier: number_in(
            reader,
            table,
            "qualifier",
            0.2..=0.8,
            " fois la taille du texte",
        ),
    })
}

/// A text layer's texts: `text`, one or a list, or `field`, which stands
/// for `text = "{field}"`; exactly one of the two.
fn read_texts(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    span: Range<usize>,
) -> Option<Vec<Spanned<String>>> {
    let texts = match (Reader::get(table, "text"), reader.string(table, "field")) {
        (Some((_, value)), None) => match value.get_ref() {
            DeValue::String(_) => reader.string(table, "text").into_iter().collect(),
            DeValue::Array(_) => reader
                .strings(table, "text")
                .map(Spanned::into_inner)
                .unwrap_or_default(),
            other => {
                let found = type_name(other);
                reader
                    .error(
                        value.span(),
                        format!("`text` doit être un texte ou une liste de textes, pas {found}"),
                    )
                    .hint = Some("`text = \"Source : {source}\"`".to_owned());
                return None;
            }
        },
        (None, Some(field)) => vec![Spanned::new(
            field.span(),
            format!("{{{}}}", field.get_ref()),
        )],
        (Some((_, value)), Some(_)) => {
            reader.error(value.span(), "donnez `text` ou `field`, pas les deux");
            return None;
        }
        (None, None) => {
            reader.error(span, "un calque `text` doit donner `text` ou `field`");
            return None;
        }
    };
    Some(texts)
}

/// A text layer's smallest and largest sizes, from `size` or from
/// `min_size` and `max_size`; the smallest must be legible.
fn read_text_sizes(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    span: Range<usize>,
    format: Format,
) -> Option<(f32, f32)> {
    // A text is at most as tall as its image: larger sizes are typing
    // mistakes, and would make glyphs of gigabytes.
    let (_, format_height) = format.size();
    let sizes = MIN_TEXT_SIZE..=format_height as f32;
    let why = format!(" (la hauteur de l'image {format})");
    let size = number_in(reader, table, "size", sizes.clone(), &why);
    let min_size = number_in(reader, table, "min_size", sizes.clone(), &why).or(size);
    let max_size = number_in(reader, table, "max_size", sizes, &why).or(size);
    let (Some(min_size), Some(max_size)) = (min_size, max_size) else {
        reader
            .error(span, "un calque `text` doit donner sa taille")
            .hint = Some("`size = 40`, ou `min_size` et `max_size` pour l'ajuster".to_owned());
        return None;
    };
    if min_size > max_size {
        reader.error(
            span,
            format!("tailles incohérentes : `min_size` {min_size} et `max_size` {max_size}"),
        );
        return None;
    }
    if (MIN_TEXT_SIZE..=format_height as f32).contains(&min_size) {
        let key = if Reader::get(table, "min_size").is_some() {
            "min_size"
        } else {
            "size"
        };
        check_legible(reader, table, key, min_size, format);
    }
    Some((min_size, max_size))
}

fn read_wrap(reader: &mut Reader<'_>, table: &DeTable<'_>) -> Wrap {
    read_choice(
        reader,
        table,
        "wrap",
        "`wrap`",
        &[("pretty", Wrap::Pretty), ("balance", Wrap::Balance)],
    )
}

fn read_rect(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    span: Range<usize>,
    format: Format,
) -> Option<Rect> {
    let mut values = [0.0f32; 4];
    let mut complete = true;
    for (slot, key) in values.iter_mut().zip(GEOMETRY) {
        match number(reader, table, key) {
            Some(value) => *slot = value,
            None => {
                if Reader::get(table, key).is_none() {
                    reader.error(
                        span.clone(),
                        format!("clé `{key}` manquante dans le calque"),
                    );
                }
                complete = false;
            }
        }
    }
    if !complete {
        return None;
    }
    let rect = Rect {
        x: values[0],
        y: values[1],
        width: values[2],
        height: values[3],
    };
    let (width, height) = format.size();
    if rect.width <= 0.0
        || rect.height <= 0.0
        || rect.x < 0.0
        || rect.y < 0.0
        || rect.x + rect.width > width as f32
        || rect.y + rect.height > height as f32
    {
        reader
            .error(
                span,
                format!(
                    "le calque sort de l'image {format} ({width}x{height}) : x={}, y={}, largeur {}, hauteur {}",
                    rect.x, rect.y, rect.width, rect.height
                ),
            )
            .hint = Some("ramenez-le dans les limites du format".to_owned());
        return None;
    }
    Some(rect)
}

fn read_paint(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    span: Range<usize>,
    fields: &BTreeMap<String, Field>,
) -> Option<Paint> {
    if let Some((gradient, gradient_span)) = reader.table(table, "gradient") {
        reader.unknown_keys(gradient, "gradient", &["from", "to", "angle"]);
        let from = reader.required_string(gradient, "from", "gradient", gradient_span.clone());
        let to = reader.required_string(gradient, "to", "gradient", gradient_span);
        let angle = number(reader, gradient, "angle").unwrap_or(180.0);
        for color in from.iter().chain(to.iter()) {
            check_placeholders(reader, color, fields);
        }
        return Some(Paint::Gradient {
            from: from?,
            to: to?,
            angle,
        });
    }
    let color = reader.required_string(table, "color", "calque", span)?;
    check_placeholders(reader, &color, fields);
    Some(Paint::Solid(color))
}

/// A number, integer or not, and finite: `nan` and `inf` are reported.
fn number(reader: &mut Reader<'_>, table: &DeTable<'_>, key: &str) -> Option<f32> {
    let (_, value) = Reader::get(table, key)?;
    let number = match value.get_ref() {
        DeValue::Integer(integer) => integer.as_str().replace('_', "").parse::<f32>().ok(),
        DeValue::Float(float) => float.as_str().replace('_', "").parse::<f32>().ok(),
        other => {
            let found = type_name(other);
            reader.error(
                value.span(),
                format!("`{key}` doit être un nombre, pas {found}"),
            );
            return None;
        }
    };
    match number {
        Some(number) if number.is_finite() => Some(number),
        _ => {
            reader
                .error(value.span(), format!("`{key}` doit être un nombre fini"))
                .hint = Some("écrivez un nombre de pixels : `40`, `1.5`".to_owned());
            None
        }
    }
}

/// A number that must lie in `range`; one outside is reported at its
/// value, and still returned (the template has an error either way).
fn number_in(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    key: &str,
    range: std::ops::RangeInclusive<f32>,
    why: &str,
) -> Option<f32> {
    let number = number(reader, table, key)?;
    if !range.contains(&number) {
        let (_, value) = Reader::get(table, key)?;
        reader.error(
            value.span(),
            format!(
                "`{key}` vaut {} : il doit être compris entre {} et {}{why}",
                french_number(number),
                french_number(*range.start()),
                french_number(*range.end())
            ),
        );
    }
    Some(number)
}

/// A number as French readers write it: `0,5`.
fn french_number(number: f32) -> String {
    number.to_string().replace('.', ",")
}

/// The names of the `{field}` placeholders of a pattern.
pub fn placeholders(pattern: &str) -> Vec<&str> {
    each_placeholder(pattern).collect()
}

/// [`placeholders`], one by one.
pub fn each_placeholder(pattern: &str) -> impl Iterator<Item = &str> {
    let mut rest = pattern;
    std::iter::from_fn(move || {
        // Patterns are short: a plain scan beats a searcher's set-up.
        let start = rest.bytes().position(|b| b == b'{')?;
        let length = rest[start + 1..].bytes().position(|b| b == b'}')?;
        let name = &rest[start + 1..start + 1 + length];
        rest = &rest[start + 1 + length + 1..];
        Some(name)
    })
}

/// Reports each placeholder that names no field.
fn check_placeholders(
    reader: &mut Reader<'_>,
    pattern: &Spanned<String>,
    fields: &BTreeMap<String, Field>,
) {
    let known: Vec<&str> = fields.keys().map(String::as_str).collect();
    let mut reported = BTreeSet::new();
    for name in placeholders(pattern.get_ref()) {
        let special = name == "value" || name == "brand";
        if !special && !fields.contains_key(name) && reported.insert(name) {
            reader
                .error(
                    pattern.span(),
                    format!("`{{{name}}}` ne nomme aucun champ du modèle"),
                )
                .hint = suggest(name, &known);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r##"
name = "Outil numérique"
alt = "Outil : {tool}."
[fields.tool]
label = "Nom de l'outil"
required = true
[fields.category]
kind = "choice"
choices = { medical = "Outils médicaux", coordination = "Outils de coordination" }
required = true
[fields.marks]
kind = "list"
choices = ["securise", "patients"]

[[formats.carre.layers]]
kind = "background"
color = "paper"

[[formats.carre.layers]]
kind = "rect"
x = 0
y = 0
width = 1080
height = 200
color = "{category}"

[[formats.carre.layers]]
kind = "text"
field = "tool"
x = 80
y = 300
width = 920
height = 300
font = "title"
color = "#1D2733"
min_size = 60
max_size = 140
max_lines = 2

[[formats.carre.layers]]
kind = "icons"
field = "marks"
src = "icons/{value}.png"
x = 80
y = 900
width = 920
height = 80
font = "body"
color = "ink"
"##;

    fn parse(text: &str) -> (Option<Template>, Vec<Diagnostic>) {
        Template::parse(text, "assets/templates/outil.toml", "outil")
    }

    #[test]
    fn reads_fields_formats_and_layers() {
        let (template, diagnostics) = parse(TEMPLATE);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let template = template.unwrap();
        assert_eq!(template.required_fields().count(), 2);
        assert_eq!(
            template.fields["category"].kind.choices()[0],
            Choice {
                value: "coordination".into(),
                label: "Outils de coordination".into()
            }
        );
        let layers = &template.formats[&Format::Carre];
        assert_eq!(layers.len(), 4);
        let LayerKind::Text(text) = &layers[2].kind else {
            panic!("a text layer")
        };
        assert_eq!(text.text[0].get_ref(), "{tool}");
        assert_eq!(text.max_lines, 2);
        assert_eq!(template.alt.as_deref(), Some("Outil : {tool}."));
    }

    #[rstest::rstest]
    #[case::unknown_placeholder(
        "field = \"tool\"",
        "field = \"tol\"",
        "`{tol}` ne nomme aucun champ"
    )]
    #[case::outside(
        "width = 920\nheight = 300",
        "width = 1920\nheight = 300",
        "sort de l'image carre"
    )]
    #[case::unknown_kind("kind = \"rect\"", "kind = \"rectangle\"", "type de calque inconnu")]
    #[case::size_missing("min_size = 60\nmax_size = 140", "", "doit donner sa taille")]
    #[case::unknown_format(
        "formats.carre.layers]]\nkind = \"background\"",
        "formats.caree.layers]]\nkind = \"background\"",
        "format inconnu `caree`"
    )]
    #[case::icons_of_a_text_field("field = \"marks\"", "field = \"tool\"", "de type `list`")]
    #[case::line_height_zero(
        "max_lines = 2",
        "max_lines = 2\nline_height = 0",
        "`line_height` vaut 0 : il doit être compris entre 0,5 et 3 fois la taille"
    )]
    #[case::line_height_nan(
        "max_lines = 2",
        "max_lines = 2\nline_height = nan",
        "`line_height` doit être un nombre fini"
    )]
    #[case::line_height_negative(
        "max_lines = 2",
        "max_lines = 2\nline_height = -1.5",
        "`line_height` vaut -1,5"
    )]
    #[case::min_size_negative(
        "min_size = 60",
        "min_size = -60",
        "`min_size` vaut -60 : il doit être compris entre 4 et 1080 (la hauteur de l'image carre)"
    )]
    #[case::max_size_huge(
        "max_size = 140",
        "max_size = 1e9",
        "`max_size` vaut 1000000000 : il doit être compris entre 4 et 1080"
    )]
    #[case::max_size_infinite(
        "max_size = 140",
        "max_size = inf",
        "`max_size` doit être un nombre fini"
    )]
    #[case::size_nan(
        "min_size = 60\nmax_size = 140",
        "size = nan",
        "`size` doit être un nombre fini"
    )]
    #[case::geometry_nan("x = 80\ny = 300", "x = nan\ny = 300", "`x` doit être un nombre fini")]
    #[case::max_lines_huge("max_lines = 2", "max_lines = 1e12", "`max_lines` vaut")]
    #[case::icon_size_huge(
        "font = \"body\"",
        "font = \"body\"\nicon_size = 1e6",
        "`icon_size` vaut 1000000 : il doit être compris entre 1 et 80 (la hauteur du calque)"
    )]
    #[case::text_too_small(
        "min_size = 60",
        "min_size = 22",
        "`min_size` vaut 22 : un texte de moins de 30 px (1/36 de la largeur de l'image carre, 1080 px) ne se lit pas sur un téléphone"
    )]
    #[case::fixed_size_too_small(
        "min_size = 60\nmax_size = 140",
        "size = 29",
        "`size` vaut 29 : un texte de moins de 30 px"
    )]
    #[case::icon_label_too_small(
        "font = \"body\"",
        "font = \"body\"\ntext_size = 24",
        "`text_size` vaut 24 : un texte de moins de 30 px"
    )]
    #[case::unknown_wrap(
        "max_lines = 2",
        "max_lines = 2\nwrap = \"balanced\"",
        "`wrap` inconnu `balanced`"
    )]
    #[case::stack_without_texts(
        "[[formats.carre.layers]]\nkind = \"icons\"",
        "[[formats.carre.layers]]\nkind = \"stack\"\nx = 80\ny = 600\nwidth = 920\nheight = 200\n\n[[formats.carre.layers]]\nkind = \"icons\"",
        "un calque `stack` doit donner ses textes"
    )]
    #[case::stack_padding_too_wide(
        "[[formats.carre.layers]]\nkind = \"icons\"",
        "[[formats.carre.layers]]\nkind = \"stack\"\nx = 80\ny = 600\nwidth = 920\nheight = 200\npadding = [500, 10]\n[[formats.carre.layers.items]]\nfield = \"tool\"\nfont = \"body\"\ncolor = \"ink\"\nsize = 40\n\n[[formats.carre.layers]]\nkind = \"icons\"",
        "`padding` doit être un nombre de pixels"
    )]
    #[case::stack_text_too_small(
        "[[formats.carre.layers]]\nkind = \"icons\"",
        "[[formats.carre.layers]]\nkind = \"stack\"\nx = 80\ny = 600\nwidth = 920\nheight = 200\n[[formats.carre.layers.items]]\nfield = \"tool\"\nfont = \"body\"\ncolor = \"ink\"\nsize = 20\n\n[[formats.carre.layers]]\nkind = \"icons\"",
        "`size` vaut 20 : un texte de moins de 30 px"
    )]
    #[case::radius_negative(
        "height = 200\ncolor = \"{category}\"",
        "height = 200\ncolor = \"{category}\"\nradius = -4",
        "`radius` vaut -4"
    )]
    fn rejects(#[case] from: &str, #[case] to: &str, #[case] expected: &str) {
        let text = TEMPLATE.replacen(from, to, 1);
        assert_ne!(text, TEMPLATE, "the case changes the template");
        let (template, diagnostics) = parse(&text);
        assert!(template.is_none());
        assert!(
            diagnostics.iter().any(|d| d.message.contains(expected)),
            "{diagnostics:?}"
        );
    }

    #[test]
    fn points_at_a_number_out_of_its_range() {
        let text = TEMPLATE.replacen("max_lines = 2", "max_lines = 2\nline_height = 0", 1);
        let (_, diagnostics) = parse(&text);
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        let span = diagnostics[0].span.clone().unwrap();
        assert_eq!(&text[span.clone()], "0");
        assert_eq!(&text[span.start - 14..span.start], "line_height = ");
    }

    #[test]
    fn reads_a_stack_of_texts() {
        let stack = r##"
[[formats.carre.layers]]
kind = "stack"
x = 80
y = 600
width = 920
height = 200
color = "accent"
radius = 32
padding = [30, 14]
gap = 12
hug = true
align = "center"
valign = "middle"

[[formats.carre.layers.items]]
field = "tool"
height = 80
font = "body"
color = "ink"
min_size = 30
max_size = 40
wrap = "balance"

[[formats.carre.layers.items]]
text = ["{category} · {tool}", "{tool}"]
font = "body"
color = "ink"
size = 30

[[formats.carre.layers.items]]
kind = "stack"
height = 100
color = "#FFFFFF1F"
padding = 20

[[formats.carre.layers.items.items]]
field = "tool"
font = "body"
color = "ink"
size = 30
"##;
        let (template, diagnostics) = parse(&format!("{TEMPLATE}{stack}"));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let layers = &template.unwrap().formats[&Format::Carre];
        let LayerKind::Stack(stack) = &layers[4].kind else {
            panic!("a stack layer")
        };
        assert_eq!(stack.padding, (30.0, 14.0));
        assert!(stack.hug);
        let texts = stack.texts();
        assert_eq!(texts.len(), 3);
        assert_eq!(texts[0].wrap, Wrap::Balance);
        assert_eq!(texts[0].rect.width, 860.0);
        assert_eq!(texts[0].rect.height, 80.0);
        // A text without `height` may take the whole box.
        assert_eq!(texts[1].rect.height, 172.0);
        // A box inside: its width and its texts' within its padding.
        let StackItem::Stack(inner) = &stack.items[2] else {
            panic!("a box inside")
        };
        assert_eq!(inner.rect.width, 860.0);
        assert_eq!(inner.rect.height, 100.0);
        assert_eq!(texts[2].rect.width, 820.0);
        assert_eq!(stack.paints().len(), 2);
    }

    #[test]
    fn legible_sizes_are_a_36th_of_the_width() {
        assert_eq!(legible_size(Format::Carre), 30.0);
        assert_eq!(legible_size(Format::Portrait), 30.0);
        assert_eq!(legible_size(Format::Paysage), 34.0);
    }

    #[test]
    fn finds_placeholders() {
        assert_eq!(
            placeholders("Source : {source} ({year})"),
            vec!["source", "year"]
        );
        assert!(placeholders("plain").is_empty());
    }

    #[test]
    fn gives_each_text_the_steps_of_the_scale_within_its_sizes() {
        let text = TEMPLATE.replacen("[fields.", "scale = [30, 60, 90, 140, 200]\n\n[fields.", 1);
        let (template, diagnostics) = parse(&text);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let template = template.unwrap();
        assert_eq!(template.scale, [200.0, 140.0, 90.0, 60.0, 30.0]);
        let steps: Vec<Vec<f32>> = template.formats[&Format::Carre]
            .iter()
            .flat_map(Layer::texts)
            .map(|text| text.steps.clone())
            .collect();
        assert!(steps.contains(&vec![140.0, 90.0, 60.0]), "{steps:?}");
    }

    #[rstest::rstest]
    #[case::not_a_list("scale = 40", "`scale` doit être une liste de tailles")]
    #[case::not_a_size(
        "scale = [40, \"grand\"]",
        "un pas de `scale` doit être une taille entre 4 et 1350 pixels"
    )]
    #[case::no_step_in_range(
        "scale = [20, 400]",
        "aucun pas de `scale` entre `min_size` 60 et `max_size` 140"
    )]
    fn rejects_a_scale(#[case] scale: &str, #[case] expected: &str) {
        let text = TEMPLATE.replacen("[fields.", &format!("{scale}\n\n[fields."), 1);
        let (_, diagnostics) = parse(&text);
        assert!(
            diagnostics.iter().any(|d| d.message.contains(expected)),
            "{diagnostics:?}"
        );
    }

    #[test]
    fn reads_rules_icons_and_qualifiers_in_a_stack() {
        let stack = r##"
[[formats.carre.layers]]
kind = "stack"
x = 80
y = 600
width = 920
height = 300

[[formats.carre.layers.items]]
field = "tool"
height = 120
font = "body"
color = "ink"
min_size = 60
max_size = 100
qualifier = 0.3

[[formats.carre.layers.items]]
kind = "rule"
width = 140
height = 10
color = "accent"
align = "center"

[[formats.carre.layers.items]]
kind = "icons"
field = "marks"
src = "icons/{value}.png"
height = 80
font = "body"
color = "ink"
text_size = 30
"##;
        let text = format!("{TEMPLATE}{stack}");
        let (template, diagnostics) = parse(&text);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let layers = &template.unwrap().formats[&Format::Carre];
        let LayerKind::Stack(stack) = &layers.last().unwrap().kind else {
            panic!("a stack layer")
        };
        let StackItem::Text(figure) = &stack.items[0] else {
            panic!("a text")
        };
        assert_eq!(figure.qualifier, Some(0.3));
        let StackItem::Rule(rule) = &stack.items[1] else {
            panic!("a rule")
        };
        assert_eq!(
            (rule.width, rule.height, rule.align),
            (140.0, 10.0, Align::Center)
        );
        let StackItem::Icons(icons) = &stack.items[2] else {
            panic!("a row of icons")
        };
        assert_eq!(icons.rect.height, 80.0);
        assert_eq!(stack.icons().len(), 1);
    }
}
