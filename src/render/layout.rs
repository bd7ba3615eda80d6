//! From a post and a template's format to a [`Card`]: every layer resolved
//! (field values substituted, colours and fonts found, text shaped and
//! fitted), ready to draw. Pure, and shared by `check`, which only wants to
//! know whether a card can be laid out, and by the renderer.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::canvas::Picture;
use crate::config::Brand;
use crate::post::{Post, Visual};
use crate::template::{
    Align, Field, FieldKind, Fit, Format, IconsLayer, LayerKind, Paint, Rect, Template, TextLayer,
    VAlign, placeholders,
};
use crate::typography::{Block, FontFace, Frame, Overflow, Paragraph, french};

/// Fonts and images of a project, loaded.
#[derive(Debug, Clone, Default)]
pub struct Assets {
    /// By file name (`Lato-Black.ttf`).
    pub fonts: BTreeMap<String, FontFace>,
    /// By path under `assets/` (`icons/securise.png`).
    pub images: BTreeMap<String, Arc<Picture>>,
    /// Images found but refused (too large, unreadable), by path under
    /// `assets/`, with the reason: `check` says so where they are named.
    pub refused: BTreeMap<String, String>,
}

/// What the layout needs besides the post and the template.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub brand: &'a Brand,
    pub assets: &'a Assets,
    /// Apply French typographic rules to the text drawn.
    pub french: bool,
}

/// `{brand}` in a template stands for the brand's name.
pub const BRAND_PLACEHOLDER: &str = "brand";

/// An RGBA colour, straight alpha.
pub type Color = [u8; 4];

/// A card ready to draw.
#[derive(Debug, Clone)]
pub struct Card {
    pub width: u32,
    pub height: u32,
    pub ops: Vec<Op>,
    /// For each operation, the index of the template layer it comes from.
    pub sources: Vec<usize>,
}

#[derive(Debug, Clone)]
pub enum Op {
    Fill {
        /// `None` for the whole card.
        rect: Option<Rect>,
        paint: Fill,
        radius: f32,
    },
    Image {
        image: Arc<Picture>,
        rect: Rect,
        fit: Fit,
    },
    Text {
        face: FontFace,
        block: Block,
        /// The baseline origin of each line.
        origins: Vec<(f32, f32)>,
        color: Color,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fill {
    Solid(Color),
    Gradient { from: Color, to: Color, angle: f32 },
}

/// Why a post's card cannot be laid out.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// A text does not fit its box at the smallest size.
    Overflow {
        /// The fields the text is made of.
        fields: Vec<String>,
        overflow: Overflow,
    },
    /// The font lacks characters of the text.
    MissingGlyphs {
        fields: Vec<String>,
        font: String,
        chars: Vec<char>,
    },
    /// The template names something that does not exist; `check` reports
    /// these against the template itself.
    Template(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Overflow { fields, overflow } => {
                write!(
                    f,
                    "{} ne tient pas dans son cadre : {overflow}",
                    describe(fields)
                )
            }
            Problem::MissingGlyphs {
                fields,
                font,
                chars,
            } => {
                let list: Vec<String> = chars
                    .iter()
                    .map(|c| format!("« {c} » (U+{:04X})", u32::from(*c)))
                    .collect();
                write!(
                    f,
                    "{} contient des caractères absents de la police {font} : {}",
                    describe(fields),
                    list.join(", ")
                )
            }
            Problem::Template(message) => f.write_str(message),
        }
    }
}

fn describe(fields: &[String]) -> String {
    match fields {
        [] => "le texte".to_owned(),
        [one] => format!("le champ `{one}`"),
        many => format!(
            "le texte des champs {}",
            many.iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The value of each field for this post: its own, or the field's default.
pub fn values<'p>(template: &'p Template, post: &'p Post) -> BTreeMap<&'p str, Visual> {
    let mut values = BTreeMap::new();
    for (name, field) in &template.fields {
        let own = post
            .visual
            .get(name)
            .map(|value| value.get_ref())
            .filter(|value| !is_empty(value));
        match (own, &field.default) {
            (Some(value), _) => {
                values.insert(name.as_str(), value.clone());
            }
            (None, Some(default)) => {
                values.insert(name.as_str(), Visual::Text(default.clone()));
            }
            (None, None) => {}
        }
    }
    values
}

fn is_empty(value: &Visual) -> bool {
    match value {
        Visual::Text(text) => text.trim().is_empty(),
        Visual::List(items) => items.is_empty(),
    }
}

/// The text a field shows: its label for a choice, its items joined for a
/// list.
fn display(field: Option<&Field>, value: &Visual) -> String {
    let label = |item: &str| -> String {
        field
            .map(|field| field.kind.choices())
            .and_then(|choices| choices.iter().find(|c| c.value == item))
            .map_or_else(|| item.to_owned(), |choice| choice.label.clone())
    };
    match value {
        Visual::Text(text) => label(text),
        Visual::List(items) => items
            .iter()
            .map(|item| label(item))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The raw value (a choice's id), for colours and image paths.
fn raw(value: &Visual) -> String {
    match value {
        Visual::Text(text) => text.clone(),
        Visual::List(items) => items.join(","),
    }
}

/// Substitutes `{field}` placeholders; `None` when one of them has no value.
fn substitute(
    pattern: &str,
    template: &Template,
    values: &BTreeMap<&str, Visual>,
    shown: bool,
) -> Option<String> {
    let mut out = pattern.to_owned();
    for name in placeholders(pattern) {
        let value = values.get(name)?;
        let text = if shown {
            display(template.fields.get(name), value)
        } else {
            raw(value)
        };
        out = out.replace(&format!("{{{name}}}"), &text);
    }
    Some(out)
}

/// A colour: `#RRGGBB`, `#RRGGBBAA`, or a brand colour's name.
pub fn resolve_color(brand: &Brand, name: &str) -> Option<Color> {
    let hex = if name.starts_with('#') {
        name
    } else {
        brand.colors.get(name)?.as_str()
    };
    parse_hex(hex)
}

fn parse_hex(hex: &str) -> Option<Color> {
    let digits = hex.strip_prefix('#')?;
    let byte = |i: usize| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok();
    match digits.len() {
        6 => Some([byte(0)?, byte(2)?, byte(4)?, 255]),
        8 => Some([byte(0)?, byte(2)?, byte(4)?, byte(6)?]),
        _ => None,
    }
}

/// The file of a font: a brand font's, or the name itself.
pub fn font_file<'b>(brand: &'b Brand, name: &'b str) -> &'b str {
    brand
        .fonts
        .get(name)
        .map_or(name, |file| file.get_ref().as_str())
}

/// Lays out the card of `post` in `format`.
pub fn layout(
    context: Context<'_>,
    template: &Template,
    format: Format,
    post: &Post,
) -> Result<Card, Vec<Problem>> {
    let (width, height) = format.size();
    let Some(layers) = template.formats.get(&format) else {
        return Err(vec![Problem::Template(format!(
            "le modèle `{}` n'offre pas le format {format}",
            template.id
        ))]);
    };
    let mut values = values(template, post);
    values.insert(BRAND_PLACEHOLDER, Visual::Text(context.brand.name.clone()));
    let mut ops = Vec::new();
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for (index, layer) in layers.iter().enumerate() {
        sources.resize(ops.len(), index.saturating_sub(1));
        if let Some(when) = &layer.when
            && !values.contains_key(when.as_str())
        {
            continue;
        }
        let color = |pattern: &str, problems: &mut Vec<Problem>| -> Option<Color> {
            let name = substitute(pattern, template, &values, false)?;
            let color = resolve_color(context.brand, &name);
            if color.is_none() {
                problems.push(Problem::Template(format!("couleur inconnue `{name}`")));
            }
            color
        };
        let paint = |paint: &Paint, problems: &mut Vec<Problem>| -> Option<Fill> {
            match paint {
                Paint::Solid(name) => color(name.get_ref(), problems).map(Fill::Solid),
                Paint::Gradient { from, to, angle } => Some(Fill::Gradient {
                    from: color(from.get_ref(), problems)?,
                    to: color(to.get_ref(), problems)?,
                    angle: *angle,
                }),
            }
        };
        match &layer.kind {
            LayerKind::Background(fill) => {
                if let Some(fill) = paint(fill, &mut problems) {
                    ops.push(Op::Fill {
                        rect: None,
                        paint: fill,
                        radius: 0.0,
                    });
                }
            }
            LayerKind::Rect {
                rect,
                paint: fill,
                radius,
            } => {
                if let Some(fill) = paint(fill, &mut problems) {
                    ops.push(Op::Fill {
                        rect: Some(*rect),
                        paint: fill,
                        radius: *radius,
                    });
                }
            }
            LayerKind::Image { rect, src, fit } => {
                let path = match src {
                    Some(src) => substitute(src.get_ref(), template, &values, false),
                    None => context
                        .brand
                        .logo
                        .as_ref()
                        .map(|logo| logo.get_ref().clone()),
                };
                let Some(path) = path else { continue };
                match context.assets.images.get(&path) {
                    Some(image) => ops.push(Op::Image {
                        image: image.clone(),
                        rect: *rect,
                        fit: *fit,
                    }),
                    None => problems.push(Problem::Template(format!(
                        "image introuvable : assets/{path}"
                    ))),
                }
            }
            LayerKind::Text(text) => match text_op(context, template, &values, text) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => {}
                Err(problem) => problems.push(problem),
            },
            LayerKind::Icons(icons) => match icons_ops(context, template, &values, icons) {
                Ok(mut more) => ops.append(&mut more),
                Err(problem) => problems.push(problem),
            },
        }
    }
    sources.resize(ops.len(), layers.len().saturating_sub(1));
    if problems.is_empty() {
        Ok(Card {
            width,
            height,
            ops,
            sources,
        })
    } else {
        Err(problems)
    }
}

fn face<'a>(context: Context<'a>, name: &str) -> Result<&'a FontFace, Problem> {
    let file = font_file(context.brand, name);
    context
        .assets
        .fonts
        .get(file)
        .ok_or_else(|| Problem::Template(format!("police introuvable : assets/fonts/{file}")))
}

/// A colour pattern's colour for this post.
fn pattern_color(
    context: Context<'_>,
    template: &Template,
    values: &BTreeMap<&str, Visual>,
    pattern: &str,
) -> Result<Color, Problem> {
    let name = substitute(pattern, template, values, false).unwrap_or_else(|| pattern.to_owned());
    resolve_color(context.brand, &name)
        .ok_or_else(|| Problem::Template(format!("couleur inconnue `{name}`")))
}

/// Prepares text for drawing: French rules, then capitals.
fn prepare(context: Context<'_>, text: &str, uppercase: bool) -> String {
    let text = if context.french {
        french::apply(text)
    } else {
        text.to_owned()
    };
    if uppercase { text.to_uppercase() } else { text }
}

fn text_op(
    context: Context<'_>,
    template: &Template,
    values: &BTreeMap<&str, Visual>,
    layer: &TextLayer,
) -> Result<Option<Op>, Problem> {
    // The first alternative whose fields all have a value.
    let Some((pattern, text)) = layer.text.iter().find_map(|pattern| {
        substitute(pattern.get_ref(), template, values, true).map(|text| (pattern, text))
    }) else {
        return Ok(None);
    };
    let fields: Vec<String> = placeholders(pattern.get_ref())
        .into_iter()
        .filter(|name| *name != BRAND_PLACEHOLDER)
        .map(str::to_owned)
        .collect();
    let face = face(context, layer.font.get_ref())?;
    let color = pattern_color(context, template, values, layer.color.get_ref())?;
    let text = prepare(context, &text, layer.uppercase);
    let missing = face.missing_chars(&text);
    if !missing.is_empty() {
        return Err(Problem::MissingGlyphs {
            fields,
            font: face.name.clone(),
            chars: missing,
        });
    }
    let frame = Frame {
        width: layer.rect.width,
        height: layer.rect.height,
        min_size: layer.min_size,
        max_size: layer.max_size,
        max_lines: layer.max_lines,
        line_height: layer.line_height,
    };
    let block = Paragraph::cached(face, &text)
        .fit(&frame)
        .map_err(|overflow| Problem::Overflow {
            fields: fields.clone(),
            overflow,
        })?;
    let rect = layer.rect;
    let top = match layer.valign {
        VAlign::Top => rect.y,
        VAlign::Middle => rect.y + (rect.height - block.height()) / 2.0,
        VAlign::Bottom => rect.y + rect.height - block.height(),
    };
    let origins = block
        .lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let x = match layer.align {
                Align::Left => rect.x,
                Align::Center => rect.x + (rect.width - line.width) / 2.0,
                Align::Right => rect.x + rect.width - line.width,
            };
            (x, top + index as f32 * block.line_height + block.baseline)
        })
        .collect();
    Ok(Some(Op::Text {
        face: face.clone(),
        block,
        origins,
        color,
    }))
}

/// A row (wrapping if need be) of icons, each followed by its label.
fn icons_ops(
    context: Context<'_>,
    template: &Template,
    values: &BTreeMap<&str, Visual>,
    layer: &IconsLayer,
) -> Result<Vec<Op>, Problem> {
    let Some(Visual::List(items)) = values.get(layer.field.get_ref().as_str()) else {
        return Ok(Vec::new());
    };
    let field = template.fields.get(layer.field.get_ref());
    let face = face(context, layer.font.get_ref())?;
    let color = pattern_color(context, template, values, layer.color.get_ref())?;
    let rect = layer.rect;
    let row_height = layer.icon_size.max(layer.text_size * 1.3);
    let spacing = layer.icon_size * 0.3;
    let (mut x, mut y) = (rect.x, rect.y);
    let mut ops = Vec::new();
    for item in items {
        let label = display(field, &Visual::Text(item.clone()));
        let text = prepare(context, &label, false);
        let frame = Frame {
            width: rect.width - layer.icon_size - spacing,
            height: row_height,
            min_size: layer.text_size,
            max_size: layer.text_size,
            max_lines: 1,
            line_height: 1.0,
        };
        let block = Paragraph::cached(face, &text)
            .fit(&frame)
            .map_err(|overflow| Problem::Overflow {
                fields: vec![layer.field.get_ref().clone()],
                overflow,
            })?;
        let item_width = layer.icon_size + spacing + block.width();
        if x > rect.x && x + item_width > rect.x + rect.width {
            x = rect.x;
            y += row_height + layer.gap / 2.0;
        }
        if y + row_height > rect.y + rect.height + 0.01 {
            return Err(Problem::Overflow {
                fields: vec![layer.field.get_ref().clone()],
                overflow: Overflow::Height {
                    by: y + row_height - rect.y - rect.height,
                },
            });
        }
        let path = layer.src.get_ref().replace("{value}", item);
        let image = context
            .assets
            .images
            .get(&path)
            .ok_or_else(|| Problem::Template(format!("image introuvable : assets/{path}")))?;
        ops.push(Op::Image {
            image: image.clone(),
            rect: Rect {
                x,
                y: y + (row_height - layer.icon_size) / 2.0,
                width: layer.icon_size,
                height: layer.icon_size,
            },
            fit: Fit::Contain,
        });
        let baseline = y + (row_height - block.line_height) / 2.0 + block.baseline;
        let origins = vec![(x + layer.icon_size + spacing, baseline)];
        ops.push(Op::Text {
            face: face.clone(),
            block: block.clone(),
            origins,
            color,
        });
        x += item_width + layer.gap;
    }
    Ok(ops)
}

/// The alt text of a post's image: its own, or the template's pattern
/// filled with the post's fields.
pub fn alt_text(template: &Template, post: &Post) -> String {
    if let Some(alt) = &post.alt {
        return alt.trim().to_owned();
    }
    let values = values(template, post);
    let text = match &template.alt {
        Some(pattern) => {
            let mut out = pattern.clone();
            for name in placeholders(pattern) {
                let value = values
                    .get(name)
                    .map(|value| display(template.fields.get(name), value))
                    .unwrap_or_default();
                out = out.replace(&format!("{{{name}}}"), &value);
            }
            out
        }
        None => {
            let parts: Vec<String> = template
                .fields
                .iter()
                .filter_map(|(name, field)| {
                    values.get(name.as_str()).map(|v| display(Some(field), v))
                })
                .collect();
            format!("{} : {}", template.name, parts.join(". "))
        }
    };
    tidy(&text)
}

/// Collapses the spaces and empty punctuation an absent field leaves.
fn tidy(text: &str) -> String {
    let mut out = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for (from, to) in [(" .", "."), (" ,", ","), ("..", "."), ("()", "")] {
        while out.contains(from) {
            out = out.replace(from, to);
        }
    }
    out.trim().to_owned()
}

/// Whether a field's kind lets `check` expand a pattern over its choices.
pub fn choice_values(field: &Field) -> Vec<String> {
    match &field.kind {
        FieldKind::Text => Vec::new(),
        FieldKind::Choice(choices) | FieldKind::List(choices) => {
            choices.iter().map(|c| c.value.clone()).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_hex_and_brand_colours() {
        let mut brand = Brand::default();
        brand.colors.insert("accent".into(), "#E4632D".into());
        assert_eq!(
            resolve_color(&brand, "accent"),
            Some([0xE4, 0x63, 0x2D, 255])
        );
        assert_eq!(resolve_color(&brand, "#00000080"), Some([0, 0, 0, 0x80]));
        assert_eq!(resolve_color(&brand, "nope"), None);
    }

    #[test]
    fn tidies_what_an_absent_field_leaves() {
        assert_eq!(
            tidy("Le chiffre : 65,4 millions.  . Source ()"),
            "Le chiffre : 65,4 millions. Source"
        );
    }
}
