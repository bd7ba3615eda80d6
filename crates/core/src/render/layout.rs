//! From a post and a template's format to a [`Card`]: every layer resolved
//! (field values substituted, colours and fonts found, text shaped and
//! fitted), ready to draw. Pure, and shared by `check`, which only wants to
//! know whether a card can be laid out, and by the renderer.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::picture::Picture;
pub use super::scale::{Scaled, Sizes};
use crate::config::{Brand, Config};
use crate::post::{Post, Visual, template_of};
use crate::template::{
    Align, Field, FieldKind, Fit, Format, IconsLayer, LayerKind, Paint, Rect, RuleItem, StackItem,
    StackLayer, Template, TextLayer, VAlign, each_placeholder, placeholders,
};
use crate::typography::{Block, FontFace, Frame, Overflow, Paragraph, Wrap, french};

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
    /// Names never broken across lines ([`crate::config::Typography::no_break`]).
    pub no_break: &'a [String],
    /// The size each text of a series takes ([`Sizes`]); none: each card
    /// takes its own.
    pub sizes: Option<&'a Sizes>,
    /// The sizes of this card's series in its format, by text
    /// ([`TextLayer::key`]): set by [`layout`] from `sizes`.
    pub caps: Option<&'a BTreeMap<usize, f32>>,
    /// Where texts already fitted are remembered, for a run that lays out
    /// many cards in this context; none: each text is fitted afresh.
    pub fits: Option<&'a Fits>,
}

impl<'a> Context<'a> {
    /// What a project's configuration says of its cards: its brand, its
    /// typographic rules and the names it keeps whole.
    pub fn of(config: &'a crate::config::Config, assets: &'a Assets) -> Context<'a> {
        Context {
            brand: &config.brand,
            assets,
            french: config.typography.visuals,
            no_break: &config.typography.no_break,
            sizes: None,
            caps: None,
            fits: None,
        }
    }

    /// The same, the texts of a series set at the sizes `sizes` gives.
    pub fn with_sizes(self, sizes: &'a Sizes) -> Context<'a> {
        Context {
            sizes: Some(sizes),
            ..self
        }
    }
}

impl Sizes {
    /// The sizes of the series of `posts`: each post laid out alone, then
    /// for each text the size most of its series' cards reach. Pass every
    /// post of the series concerned (a series is judged whole); posts
    /// without a series, or whose template is unknown, are left out.
    pub fn of(
        context: Context<'_>,
        (config, templates): (&Config, &BTreeMap<String, Template>),
        posts: &[&Post],
    ) -> Sizes {
        let context = Context {
            sizes: None,
            caps: None,
            ..context
        };
        // Laying every card out is the costly part: spread over the cores.
        let cards: Vec<(&Post, &Template, Format, Scaled)> = posts
            .par_iter()
            .flat_map_iter(|post| {
                let template = template_of(post, config).and_then(|id| templates.get(id));
                let Some(template) = template.filter(|_| post.series.is_some()) else {
                    return Vec::new();
                };
                template
                    .formats
                    .keys()
                    .filter_map(|&format| {
                        let card = layout(context, template, format, post).ok()?;
                        Some((*post, template, format, card.scaled))
                    })
                    .collect()
            })
            .collect();
        Sizes::from_cards(
            cards
                .iter()
                .map(|(post, template, format, scaled)| (*post, *template, *format, &scaled[..])),
        )
    }
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
    /// The field each [`Op::Text`] shows, by the op's index.
    pub fields: Vec<(usize, Arc<str>)>,
    /// The size of each text set on the template's scale, by
    /// [`TextLayer::key`]: what [`Sizes`] reads.
    pub scaled: Vec<(usize, f32)>,
}

/// A text as a card sets it: what `crieur render --layout-json` prints.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TextBox {
    /// The fields it shows, joined by `+` (`time+place`); `brand` for the
    /// brand's name.
    pub field: String,
    /// Its size, in pixels.
    pub size: f32,
    pub bold: bool,
    /// The text of each line.
    pub lines: Vec<String>,
    /// Where its lines lie: x, y, width, height, in pixels.
    #[serde(rename = "box")]
    pub rect: [f64; 4],
}

impl Card {
    /// The fill of a card whose first operation paints the whole canvas
    /// opaque: its canvas is then RGB, that fill its start.
    pub fn opaque_base(&self) -> Option<Fill> {
        match self.ops.first()? {
            Op::Fill {
                rect: None,
                paint: paint @ Fill::Solid(color),
                ..
            } if color[3] == 255 => Some(*paint),
            Op::Fill {
                rect: None,
                paint: paint @ Fill::Gradient { from, to, .. },
                radius,
            } if from[3] == 255 && to[3] == 255 && *radius <= 0.0 => Some(*paint),
            _ => None,
        }
    }

    /// Every text of the card, in drawing order.
    pub fn texts(&self) -> Vec<TextBox> {
        self.fields
            .iter()
            .filter_map(|(index, field)| {
                let Some(Op::Text {
                    face,
                    block,
                    origins,
                    ..
                }) = self.ops.get(*index)
                else {
                    return None;
                };
                let left = origins.iter().map(|o| o.0).fold(f32::INFINITY, f32::min);
                let right = block
                    .lines
                    .iter()
                    .zip(origins)
                    .map(|(line, origin)| origin.0 + line.width)
                    .fold(f32::NEG_INFINITY, f32::max);
                let top = origins.first().map_or(0.0, |o| o.1 - block.baseline);
                let round = |v: f32| (f64::from(v) * 100.0).round() / 100.0;
                Some(TextBox {
                    field: field.to_string(),
                    size: block.size,
                    bold: face.is_bold(),
                    lines: block.lines.iter().map(|line| line.text.clone()).collect(),
                    rect: [
                        round(left),
                        round(top),
                        round(right - left),
                        round(block.height()),
                    ],
                })
            })
            .collect()
    }
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
    let mut out = String::new();
    display_into(&mut out, field, value);
    out
}

/// [`display`], written at the end of `out`.
fn display_into(out: &mut String, field: Option<&Field>, value: &Visual) {
    let label = |out: &mut String, item: &str| {
        let choice = field
            .map(|field| field.kind.choices())
            .and_then(|choices| choices.iter().find(|c| c.value == item));
        out.push_str(choice.map_or(item, |choice| choice.label.as_str()));
    };
    match value {
        Visual::Text(text) => label(out, text),
        Visual::List(items) => {
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                label(out, item);
            }
        }
    }
}

/// The raw value (a choice's id), for colours and image paths, written
/// at the end of `out`.
fn raw_into(out: &mut String, value: &Visual) {
    match value {
        Visual::Text(text) => out.push_str(text),
        Visual::List(items) => {
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(item);
            }
        }
    }
}

/// Substitutes `{field}` placeholders, in one pass; `None` when one of
/// them has no value. A pattern without any is handed back as it is.
fn substitute<'p>(
    pattern: &'p str,
    template: &'p Template,
    values: &'p BTreeMap<&str, Visual>,
    shown: bool,
) -> Option<Cow<'p, str>> {
    if !pattern.as_bytes().contains(&b'{') {
        return Some(Cow::Borrowed(pattern));
    }
    // A pattern that is one field's text (`{number}`) is that text.
    if let Some(name) = pattern
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .filter(|name| !name.contains(['{', '}']))
        && let Visual::Text(text) = values.get(name)?
    {
        let label = shown
            .then(|| template.fields.get(name))
            .flatten()
            .and_then(|field| field.kind.choices().iter().find(|c| c.value == *text))
            .map(|choice| choice.label.as_str());
        return Some(Cow::Borrowed(label.unwrap_or(text)));
    }
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut rest = pattern;
    // Patterns are short: a plain scan beats a searcher's set-up.
    let at = |text: &str, wanted: u8| text.bytes().position(|b| b == wanted);
    while let Some(start) = at(rest, b'{') {
        let Some(length) = at(&rest[start + 1..], b'}') else {
            break;
        };
        let name = &rest[start + 1..start + 1 + length];
        let value = values.get(name)?;
        out.push_str(&rest[..start]);
        if shown {
            display_into(&mut out, template.fields.get(name), value);
        } else {
            raw_into(&mut out, value);
        }
        rest = &rest[start + 1 + length + 1..];
    }
    out.push_str(rest);
    Some(Cow::Owned(out))
}

/// The roles the shipped templates give colours, and the colour each
/// takes when a brand does not name it: a brand made before the roles
/// keeps its cards as they were.
pub const ROLES: &[(&str, &str)] = &[
    // Text on the primary colour (and on `deep`).
    ("primary-ink", "white"),
    // Text on the accent colour.
    ("accent-ink", "white"),
    // Large text in the accent's place on paper (a figure): the accent
    // where it reads there, else the primary.
    ("highlight", "accent"),
    // The accent as text on the primary (a call to action).
    ("accent-on-primary", "accent-light"),
    // The primary as small text on paper and on `mist` (the brand's name).
    ("primary-text", "primary"),
];

/// A colour: `#RRGGBB`, `#RRGGBBAA`, or a brand colour's name; a role the
/// brand does not name takes its fallback ([`ROLES`]).
pub fn resolve_color(brand: &Brand, name: &str) -> Option<Color> {
    let hex = if name.starts_with('#') {
        name
    } else {
        match brand.colors.get(name) {
            Some(color) => color.get_ref().as_str(),
            None => {
                let (_, fallback) = ROLES.iter().find(|(role, _)| *role == name)?;
                return resolve_color(brand, fallback);
            }
        }
    };
    parse_hex(hex)
}

fn parse_hex(hex: &str) -> Option<Color> {
    let digits = hex.strip_prefix('#')?.as_bytes();
    let nibble = |i: usize| Some(char::from(*digits.get(i)?).to_digit(16)? as u8);
    let byte = |i: usize| Some(nibble(i)? << 4 | nibble(i + 1)?);
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
    let values = card_values(context, template, post);
    layout_with(context, template, (format, post), &values)
}

/// What the placeholders of a post's cards stand for: its fields'
/// values ([`values`]) and the brand's name.
pub fn card_values<'p>(
    context: Context<'_>,
    template: &'p Template,
    post: &'p Post,
) -> BTreeMap<&'p str, Visual> {
    let mut values = values(template, post);
    values.insert(BRAND_PLACEHOLDER, Visual::Text(context.brand.name.clone()));
    values
}

/// [`layout`], with the post's [`card_values`] made once for all its
/// formats.
pub fn layout_with(
    context: Context<'_>,
    template: &Template,
    (format, post): (Format, &Post),
    values: &BTreeMap<&str, Visual>,
) -> Result<Card, Vec<Problem>> {
    let (width, height) = format.size();
    let Some(layers) = template.formats.get(&format) else {
        return Err(vec![Problem::Template(format!(
            "le modèle `{}` n'offre pas le format {format}",
            template.id
        ))]);
    };
    let caps = match (context.sizes, &post.series) {
        (Some(sizes), Some(series)) => sizes.caps(series.get_ref(), &template.id, format),
        _ => None,
    };
    let context = Context { caps, ..context };
    // About an operation a layer: room made once, not grown op by op.
    let mut drawing = Drawing {
        ops: Vec::with_capacity(layers.len() + 8),
        fields: Vec::with_capacity(layers.len()),
        scaled: Vec::with_capacity(layers.len()),
        problems: Vec::new(),
    };
    let mut sources = Vec::with_capacity(layers.len() + 8);
    for (index, layer) in layers.iter().enumerate() {
        sources.resize(drawing.ops.len(), index.saturating_sub(1));
        if let Some(when) = &layer.when
            && !values.contains_key(when.as_str())
        {
            continue;
        }
        draw_layer(context, template, values, &layer.kind, &mut drawing);
    }
    sources.resize(drawing.ops.len(), layers.len().saturating_sub(1));
    if drawing.problems.is_empty() {
        Ok(Card {
            width,
            height,
            ops: drawing.ops,
            sources,
            fields: drawing.fields,
            scaled: drawing.scaled,
        })
    } else {
        Err(drawing.problems)
    }
}

/// What the layers of a card draw, and the problems met.
#[derive(Default)]
struct Drawing {
    ops: Vec<Op>,
    /// The field each [`Op::Text`] shows, by the op's index.
    fields: Vec<(usize, Arc<str>)>,
    /// The size of each text set on the scale, by its key.
    scaled: Vec<(usize, f32)>,
    problems: Vec<Problem>,
}

/// An operation, with what it shows when it is a text: its field, and its
/// key when it is set on the template's scale.
struct Shown {
    op: Op,
    field: Option<Arc<str>>,
    key: Option<usize>,
}

impl Shown {
    /// An operation that shows no text.
    fn plain(op: Op) -> Shown {
        Shown {
            op,
            field: None,
            key: None,
        }
    }
}

impl Drawing {
    /// Adds an operation, with the field it shows if it is a text.
    fn push(&mut self, shown: Shown) {
        if let Some(field) = shown.field {
            self.fields.push((self.ops.len(), field));
        }
        if let (Some(key), Op::Text { block, .. }) = (shown.key, &shown.op) {
            self.scaled.push((key, block.size));
        }
        self.ops.push(shown.op);
    }
}

/// Draws one layer for this post: its operations, or its problems.
fn draw_layer(
    context: Context<'_>,
    template: &Template,
    values: &BTreeMap<&str, Visual>,
    kind: &LayerKind,
    drawing: &mut Drawing,
) {
    let paint = |paint: &Paint, problems: &mut Vec<Problem>| {
        resolve_paint(context, template, values, paint, problems)
    };
    match kind {
        LayerKind::Background(fill) => {
            if let Some(fill) = paint(fill, &mut drawing.problems) {
                let op = Op::Fill {
                    rect: None,
                    paint: fill,
                    radius: 0.0,
                };
                drawing.push(Shown::plain(op));
            }
        }
        LayerKind::Rect {
            rect,
            paint: fill,
            radius,
        } => {
            if let Some(fill) = paint(fill, &mut drawing.problems) {
                let op = Op::Fill {
                    rect: Some(*rect),
                    paint: fill,
                    radius: *radius,
                };
                drawing.push(Shown::plain(op));
            }
        }
        LayerKind::Image { rect, src, fit } => {
            match image_op(context, template, values, src.as_ref(), *rect, *fit) {
                Ok(Some(op)) => drawing.push(Shown::plain(op)),
                Ok(None) => {}
                Err(problem) => drawing.problems.push(problem),
            }
        }
        LayerKind::Text(text) => match fit_text(context, template, values, (text, false)) {
            Ok(Some(fitted)) => {
                fitted.ops(text.rect, text.align, text.valign, |shown| {
                    drawing.push(shown);
                });
            }
            Ok(None) => {}
            Err(problem) => drawing.problems.push(problem),
        },
        LayerKind::Icons(icons) => match icons_ops(context, template, values, icons) {
            Ok(more) => {
                for op in more {
                    let field = matches!(op, Op::Text { .. })
                        .then(|| Arc::from(icons.field.get_ref().as_str()));
                    drawing.push(Shown {
                        op,
                        field,
                        key: None,
                    });
                }
            }
            Err(problem) => drawing.problems.push(problem),
        },
        LayerKind::Stack(stack) => {
            match stack_ops(context, template, values, stack, &mut drawing.problems) {
                Ok(more) => {
                    for shown in more {
                        drawing.push(shown);
                    }
                }
                Err(problem) => drawing.problems.push(problem),
            }
        }
    }
}

/// An image layer's image: the one its pattern names for this post, or
/// the brand's logo; `None` when the pattern lacks a field or there is no
/// logo.
fn image_op(
    context: Context<'_>,
    template: &Template,
    values: &BTreeMap<&str, Visual>,
    src: Option<&toml::Spanned<String>>,
    rect: Rect,
    fit: Fit,
) -> Result<Option<Op>, Problem> {
    let path = match src {
        Some(src) => substitute(src.get_ref(), template, values, false),
        None => context
            .brand
            .logo
            .as_ref()
            .map(|logo| Cow::Borrowed(logo.get_ref().as_str())),
    };
    let Some(path) = path else { return Ok(None) };
    match context.assets.images.get(path.as_ref()) {
        Some(image) => Ok(Some(Op::Image {
            image: image.clone(),
            rect,
            fit,
        })),
        None => Err(Problem::Template(format!(
            "image introuvable : assets/{path}"
        ))),
    }
}

/// A paint's fill for this post; an unknown colour is a problem.
fn resolve_paint(
    context: Context<'_>,
    template: &Template,
    values: &BTreeMap<&str, Visual>,
    paint: &Paint,
    problems: &mut Vec<Problem>,
) -> Option<Fill> {
    let mut color = |pattern: &str| -> Option<Color> {
        let name = substitute(pattern, template, values, false)?;
        let color = resolve_color(context.brand, &name);
        if color.is_none() {
            problems.push(Problem::Template(format!("couleur inconnue `{name}`")));
        }
        color
    };
    match paint {
        Paint::Solid(name) => color(name.get_ref()).map(Fill::Solid),
        Paint::Gradient { from, to, angle } => {
            let from = color(from.get_ref());
            let to = color(to.get_ref());
            Some(Fill::Gradient {
                from: from?,
                to: to?,
                angle: *angle,
            })
        }
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
    // Most colours name a role or a brand colour, not a field.
    if !pattern.as_bytes().contains(&b'{') {
        return resolve_color(context.brand, pattern)
            .ok_or_else(|| Problem::Template(format!("couleur inconnue `{pattern}`")));
    }
    let name = substitute(pattern, template, values, false).unwrap_or(Cow::Borrowed(pattern));
    resolve_color(context.brand, &name)
        .ok_or_else(|| Problem::Template(format!("couleur inconnue `{name}`")))
}

/// Texts as cards draw them, remembered by thread: the same kicker,
/// caption or name recurs in every format and on many cards.
#[derive(Default)]
struct Prepared {
    /// Whether French rules apply, and the names kept whole, as written
    /// and as drawn: the memo holds for these only.
    french: bool,
    no_break: Vec<String>,
    names: Vec<String>,
    /// By text written: as drawn, without then with capitals.
    texts: FxHashMap<String, [Option<Arc<str>>; 2]>,
    /// By text drawn: the same with the names kept whole.
    whole: FxHashMap<Arc<str>, Arc<str>>,
}

thread_local! {
    static PREPARED: std::cell::RefCell<Prepared> = std::cell::RefCell::default();
}

/// Past this many texts, the memo starts afresh.
const MOST_PREPARED: usize = 4096;

impl Prepared {
    /// The memo for `context`, afresh when its rules differ.
    fn fit(&mut self, context: Context<'_>) {
        if self.french != context.french || self.no_break != context.no_break {
            let names = if context.french {
                context.no_break.iter().map(|n| french::apply(n)).collect()
            } else {
                context.no_break.to_vec()
            };
            *self = Prepared {
                french: context.french,
                no_break: context.no_break.to_vec(),
                names,
                ..Prepared::default()
            };
        }
        if self.texts.len() + self.whole.len() >= MOST_PREPARED {
            self.texts.clear();
            self.whole.clear();
        }
    }
}

/// Prepares text for drawing: French rules, then capitals.
fn prepare(context: Context<'_>, text: &str, uppercase: bool) -> Arc<str> {
    PREPARED.with(|memo| {
        let mut memo = memo.borrow_mut();
        memo.fit(context);
        if let Some(found) = memo
            .texts
            .get(text)
            .and_then(|t| t[usize::from(uppercase)].clone())
        {
            return found;
        }
        let drawn = if context.french {
            french::apply(text)
        } else {
            text.to_owned()
        };
        let drawn: Arc<str> = if uppercase {
            drawn.to_uppercase().into()
        } else {
            drawn.into()
        };
        memo.texts.entry(text.to_owned()).or_default()[usize::from(uppercase)] =
            Some(drawn.clone());
        drawn
    })
}

/// `text` fitted in `frame`, the names of [`Context::no_break`] whole at
/// the largest size they fit at; a name too long for its box even at the
/// smallest size breaks like any other words.
fn fit_names_whole(
    context: Context<'_>,
    face: &FontFace,
    text: &str,
    (frame, steps): (&Frame, &[f32]),
) -> Result<Block, Overflow> {
    let whole = names_kept_whole(context, text);
    match Paragraph::cached(face, &whole).fit_remembered(frame, steps) {
        Err(Overflow::Word { .. }) if *whole != *text => {
            Paragraph::cached(face, text).fit_remembered(frame, steps)
        }
        fitted => fitted,
    }
}

/// `text` with the names of [`Context::no_break`] kept on one line.
fn names_kept_whole(context: Context<'_>, text: &str) -> Arc<str> {
    PREPARED.with(|memo| {
        let mut memo = memo.borrow_mut();
        memo.fit(context);
        if let Some(found) = memo.whole.get(text) {
            return found.clone();
        }
        let whole: Arc<str> = french::keep_whole(text, &memo.names).into();
        memo.whole.insert(text.into(), whole.clone());
        whole
    })
}

/// A text fitted in its box, not yet placed.
struct Fitted<'a> {
    face: &'a FontFace,
    block: Block,
    color: Color,
    /// The fields it shows, joined by `+`.
    field: Arc<str>,
    /// Its key when it is set on the template's scale.
    key: Option<usize>,
    /// The qualifier set smaller above it ("Plus de"), if any.
    lead: Option<Block>,
}

impl Fitted<'_> {
    fn height(&self) -> f32 {
        self.block.height() + self.lead.as_ref().map_or(0.0, Block::height)
    }

    fn width(&self) -> f32 {
        let lead = self.lead.as_ref().map_or(0.0, Block::width);
        self.block.width().max(lead)
    }

    /// Its operations, placed in `rect`, handed to `put`: the text, then
    /// its qualifier above it.
    fn ops(self, rect: Rect, align: Align, valign: VAlign, mut put: impl FnMut(Shown)) {
        let lead_height = self.lead.as_ref().map_or(0.0, Block::height);
        let height = self.height();
        let top = match valign {
            VAlign::Top => rect.y,
            VAlign::Middle => rect.y + (rect.height - height) / 2.0,
            VAlign::Bottom => rect.y + rect.height - height,
        };
        let Fitted {
            face,
            block,
            color,
            field,
            key,
            lead,
        } = self;
        let below = Rect {
            y: top + lead_height,
            height: block.height(),
            ..rect
        };
        let text = |block: Block, area: Rect, key: Option<usize>, field: Arc<str>| Shown {
            op: Op::Text {
                face: face.clone(),
                origins: place(&block, area, align, VAlign::Top),
                block,
                color,
            },
            field: Some(field),
            key,
        };
        match lead {
            None => put(text(block, below, key, field)),
            Some(lead) => {
                let above = Rect {
                    y: top,
                    height: lead_height,
                    ..rect
                };
                put(text(block, below, key, field.clone()));
                put(text(lead, above, None, field));
            }
        }
    }
}

/// The text of a layer for this post, fitted in its box; `None` when no
/// alternative has all its fields. `loose`: a qualifier's line is added to
/// the box, not taken from it (in a stack, which checks the whole).
fn fit_text<'a>(
    context: Context<'a>,
    template: &Template,
    values: &BTreeMap<&str, Visual>,
    (layer, loose): (&TextLayer, bool),
) -> Result<Option<Fitted<'a>>, Problem> {
    // The first alternative whose fields all have a value.
    let Some((alternative, text)) =
        layer
            .text
            .iter()
            .enumerate()
            .find_map(|(alternative, pattern)| {
                substitute(pattern.get_ref(), template, values, true)
                    .map(|text| (alternative, text))
            })
    else {
        return Ok(None);
    };
    let face = face(context, layer.font.get_ref())?;
    let key = (!layer.steps.is_empty()).then(|| layer.key());
    let cap = key
        .and_then(|key| context.caps?.get(&key).copied())
        .unwrap_or(layer.max_size);
    let text_fit = (alternative, &*text, cap);
    // A colour taken from a field may differ from card to card: such a
    // text is fitted afresh.
    let fit = match context
        .fits
        .filter(|_| !layer.color.get_ref().as_bytes().contains(&b'{'))
    {
        Some(fits) => fits.get_or_fit((layer, loose), text_fit, || {
            fit_afresh(context, (template, values), (layer, loose), face, text_fit)
        })?,
        None => fit_afresh(context, (template, values), (layer, loose), face, text_fit)?,
    };
    Ok(Some(Fitted {
        face,
        block: fit.block,
        color: fit.color,
        field: fit.field,
        key,
        lead: fit.lead,
    }))
}

/// [`fit_text`] of the text of its `alternative` pattern, at most `cap`
/// large, in `face`: what [`Fits`] remembers.
fn fit_afresh(
    context: Context<'_>,
    (template, values): (&Template, &BTreeMap<&str, Visual>),
    (layer, loose): (&TextLayer, bool),
    face: &FontFace,
    (alternative, text, cap): (usize, &str, f32),
) -> Result<TextFit, Problem> {
    let pattern = layer.text[alternative].get_ref();
    // The fields a problem names; most texts have none.
    let fields = || -> Vec<String> {
        each_placeholder(pattern)
            .filter(|name| *name != BRAND_PLACEHOLDER)
            .map(str::to_owned)
            .collect()
    };
    let color = pattern_color(context, template, values, layer.color.get_ref())?;
    let text = prepare(context, text, layer.uppercase);
    let missing = Paragraph::cached(face, &text).missing().to_vec();
    if !missing.is_empty() {
        return Err(Problem::MissingGlyphs {
            fields: fields(),
            font: face.name.to_string(),
            chars: missing,
        });
    }
    let frame = Frame {
        width: layer.rect.width,
        height: layer.rect.height,
        min_size: layer.min_size,
        max_size: layer.max_size.min(cap).max(layer.min_size),
        max_lines: layer.max_lines,
        line_height: layer.line_height,
        wrap: layer.wrap,
    };
    let fitted =
        |text: &str, frame: &Frame| fit_names_whole(context, face, text, (frame, &layer.steps));
    let (block, lead) = match qualified(context, (template, layer), face, (&text, &frame, loose)) {
        Some(split) => split,
        None => (
            fitted(&text, &frame).map_err(|overflow| Problem::Overflow {
                fields: fields(),
                overflow,
            })?,
            None,
        ),
    };
    Ok(TextFit {
        block,
        color,
        field: joined(pattern),
        lead,
    })
}

/// A text fitted in its box, but for its face and key: what [`Fits`]
/// remembers.
#[derive(Debug, Clone)]
struct TextFit {
    block: Block,
    color: Color,
    field: Arc<str>,
    lead: Option<Block>,
}

/// The texts fitted so far for cards that share a [`Context`] (brand,
/// fonts, rules), by layer and text: a kicker, a brand's name or a
/// source recurs on many cards of a project, each fitted once. Made by
/// whoever lays out many cards ([`Context::fits`]); it must not outlive
/// the templates it saw, as it knows their layers by address.
#[derive(Debug, Default)]
pub struct Fits {
    /// One memo per thread of the pool, and one for any other thread, so
    /// that no thread waits on another's: by layer (its address, whether
    /// loose, the size cap and the alternative taken), then text.
    shards: std::sync::OnceLock<Vec<Mutex<FitsByLayer>>>,
}

type FitsByLayer =
    FxHashMap<(usize, bool, u32, usize), FxHashMap<String, Result<TextFit, Problem>>>;

/// Past this many texts of a layer, its memo starts afresh. What recurs
/// (kickers, names, sources) is a few texts a layer, fitted again once per
/// fresh start; the rest is each post's own, read again only when its
/// card is laid out a second time: kept longer, it only costs memory
/// (12 MB and a fifth of the page faults in `check` of 10,000 posts, at
/// 4,096 rather than 512).
const MOST_FITS: usize = 512;

impl Fits {
    fn get_or_fit(
        &self,
        (layer, loose): (&TextLayer, bool),
        (alternative, text, cap): (usize, &str, f32),
        fit: impl FnOnce() -> Result<TextFit, Problem>,
    ) -> Result<TextFit, Problem> {
        let key = (
            std::ptr::from_ref(layer) as usize,
            loose,
            cap.to_bits(),
            alternative,
        );
        let shards = self.shards.get_or_init(|| {
            (0..=rayon::current_num_threads())
                .map(|_| Mutex::default())
                .collect()
        });
        let shard = rayon::current_thread_index()
            .and_then(|index| shards.get(index))
            .unwrap_or(&shards[shards.len() - 1]);
        let known = shard
            .lock()
            .ok()
            .and_then(|found| found.get(&key)?.get(text).cloned());
        if let Some(known) = known {
            return known;
        }
        let fitted = fit();
        if let Ok(mut found) = shard.lock() {
            let texts = found.entry(key).or_default();
            if texts.len() >= MOST_FITS {
                texts.clear();
            }
            texts.insert(text.to_owned(), fitted.clone());
        }
        fitted
    }
}

/// The fields a pattern shows, joined by `+`.
fn joined(pattern: &str) -> Arc<str> {
    let mut field = String::new();
    for (index, name) in each_placeholder(pattern).enumerate() {
        if index > 0 {
            field.push('+');
        }
        field.push_str(name);
    }
    field.into()
}

/// A text that opens with a qualifier ("Plus de 1 200"), when its layer
/// sets qualifiers apart: the rest fitted in the room the qualifier leaves,
/// and the qualifier, on its own line above at the layer's fraction of the
/// rest's size (the scale's step just under it). `None` when there is no
/// qualifier, or the text does not fit so.
fn qualified(
    context: Context<'_>,
    (template, layer): (&Template, &TextLayer),
    face: &FontFace,
    (text, frame, loose): (&str, &Frame, bool),
) -> Option<(Block, Option<Block>)> {
    let ratio = layer.qualifier?;
    let (lead, rest) = french::qualifier(text)?;
    // One line of the qualifier takes about `ratio` of a line of the rest.
    let share = 1.0 + ratio * QUALIFIER_LINE_HEIGHT / frame.line_height;
    let room = Frame {
        height: if loose {
            frame.height
        } else {
            frame.height / share
        },
        ..*frame
    };
    let block = fit_names_whole(context, face, rest, (&room, &layer.steps)).ok()?;
    let wanted = (block.size * ratio).round();
    let size = template
        .scale
        .iter()
        .copied()
        .find(|step| *step <= wanted)
        .unwrap_or(wanted)
        .max(crate::template::MIN_TEXT_SIZE);
    let lead_frame = Frame {
        min_size: size,
        max_size: size,
        max_lines: 1,
        line_height: QUALIFIER_LINE_HEIGHT,
        ..*frame
    };
    let lead = Paragraph::cached(face, lead).fit(&lead_frame).ok()?;
    (loose || lead.height() + block.height() <= frame.height + 0.01).then_some((block, Some(lead)))
}

/// The line height of a qualifier, a multiple of its size.
const QUALIFIER_LINE_HEIGHT: f32 = 1.15;

/// The baseline origin of each line of `block` in `rect`.
fn place(block: &Block, rect: Rect, align: Align, valign: VAlign) -> Vec<(f32, f32)> {
    let top = match valign {
        VAlign::Top => rect.y,
        VAlign::Middle => rect.y + (rect.height - block.height()) / 2.0,
        VAlign::Bottom => rect.y + rect.height - block.height(),
    };
    block
        .lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let x = match align {
                Align::Left => rect.x,
                Align::Center => rect.x + (rect.width - line.width) / 2.0,
                Align::Right => rect.x + rect.width - line.width,
            };
            (x, top + index as f32 * block.line_height + block.baseline)
        })
        .collect()
}

/// A stack's texts fitted, and its size.
struct Measured<'a> {
    pieces: Vec<Piece<'a>>,
    /// The height of its texts and gaps, padding aside.
    height: f32,
    /// Its longest line, or its widest box inside.
    width: f32,
}

enum Piece<'a> {
    Text(&'a TextLayer, Fitted<'a>),
    Stack(&'a StackLayer, Measured<'a>),
    Rule(&'a RuleItem),
    /// A row of icons, laid out where the template declares it.
    Icons(&'a IconsLayer, Vec<Op>),
}

impl Piece<'_> {
    fn height(&self) -> f32 {
        match self {
            Piece::Text(_, text) => text.height(),
            Piece::Stack(stack, measured) => measured.height + 2.0 * stack.padding.1,
            Piece::Rule(rule) => rule.height,
            Piece::Icons(row, ops) => extent(ops).map_or(0.0, |(_, bottom)| bottom - row.rect.y),
        }
    }

    fn width(&self) -> f32 {
        match self {
            Piece::Text(_, text) => text.width(),
            Piece::Stack(stack, measured) => outer_width(stack, measured),
            Piece::Rule(rule) => rule.width,
            Piece::Icons(row, ops) => extent(ops).map_or(0.0, |(right, _)| right - row.rect.x),
        }
    }
}

/// How far right and down a row of icons reaches.
fn extent(ops: &[Op]) -> Option<(f32, f32)> {
    ops.iter()
        .filter_map(|op| match op {
            Op::Image { rect, .. } => Some((rect.x + rect.width, rect.y + rect.height)),
            _ => None,
        })
        .reduce(|a, b| (a.0.max(b.0), a.1.max(b.1)))
}

/// A box's width: its content's and padding with `hug`, else its own.
fn outer_width(stack: &StackLayer, measured: &Measured<'_>) -> f32 {
    if stack.hug {
        measured.width.ceil() + 2.0 * stack.padding.0
    } else {
        stack.rect.width
    }
}

/// Fits the texts of a stack and of the boxes inside; `None` when none of
/// them has a value. `loose`: a qualifier's line is added to its text's
/// room, not taken from it.
fn measure<'a>(
    context: Context<'a>,
    template: &Template,
    values: &BTreeMap<&str, Visual>,
    (stack, loose): (&'a StackLayer, bool),
) -> Result<Option<Measured<'a>>, Problem> {
    let mut pieces = Vec::with_capacity(stack.items.len());
    for item in &stack.items {
        match item {
            StackItem::Text(layer) => {
                if let Some(text) = fit_text(context, template, values, (layer, loose))? {
                    pieces.push(Piece::Text(layer, text));
                }
            }
            StackItem::Stack(inner) => {
                if let Some(measured) = measure(context, template, values, (inner, loose))? {
                    pieces.push(Piece::Stack(inner, measured));
                }
            }
            StackItem::Rule(rule) => pieces.push(Piece::Rule(rule)),
            StackItem::Icons(row) => {
                let ops = icons_ops(context, template, values, row)?;
                if !ops.is_empty() {
                    pieces.push(Piece::Icons(row, ops));
                }
            }
        }
    }
    // A rule alone marks nothing.
    if pieces.iter().all(|piece| matches!(piece, Piece::Rule(_))) {
        return Ok(None);
    }
    let gaps = stack.gap * (pieces.len() - 1) as f32;
    let height = pieces.iter().map(Piece::height).sum::<f32>() + gaps;
    let room = stack.rect.height - 2.0 * stack.padding.1;
    if height > room + 0.01 {
        let fields = stack
            .texts()
            .into_iter()
            .flat_map(|text| text.text.iter())
            .flat_map(|pattern| placeholders(pattern.get_ref()))
            .filter(|name| *name != BRAND_PLACEHOLDER)
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        return Err(Problem::Overflow {
            fields,
            overflow: Overflow::Height { by: height - room },
        });
    }
    let width = pieces.iter().map(Piece::width).fold(0.0, f32::max);
    Ok(Some(Measured {
        pieces,
        height,
        width,
    }))
}

/// Draws a measured stack's box at `x`, `y`, `width` wide, then its texts
/// and boxes, each text with its field.
fn emit(
    context: Context<'_>,
    template: &Template,
    values: &BTreeMap<&str, Visual>,
    (stack, measured): (&StackLayer, Measured<'_>),
    (x, y, width): (f32, f32, f32),
    out: &mut Output,
) {
    let (across, down) = stack.padding;
    let height = (measured.height + 2.0 * down).round();
    if let Some(paint) = &stack.paint
        && let Some(fill) = resolve_paint(context, template, values, paint, &mut out.problems)
    {
        out.ops.push(Shown::plain(Op::Fill {
            rect: Some(Rect {
                x,
                y,
                width,
                height,
            }),
            paint: fill,
            radius: stack.radius,
        }));
    }
    let inner = width - 2.0 * across;
    let mut top = y + down;
    for piece in measured.pieces {
        let piece_height = piece.height();
        match piece {
            Piece::Text(layer, text) => {
                let area = Rect {
                    x: x + across,
                    y: top,
                    width: inner,
                    height: piece_height,
                };
                text.ops(area, layer.align, VAlign::Top, |shown| out.ops.push(shown));
            }
            Piece::Icons(row, mut ops) => {
                shift(&mut ops, x + across - row.rect.x, top - row.rect.y);
                let field: Arc<str> = row.field.get_ref().as_str().into();
                out.ops.extend(ops.into_iter().map(|op| Shown {
                    field: matches!(op, Op::Text { .. }).then(|| field.clone()),
                    op,
                    key: None,
                }));
            }
            Piece::Rule(rule) => {
                let rect = Rect {
                    x: x + across + offset(rule.align, inner, rule.width),
                    y: top,
                    width: rule.width.min(inner),
                    height: rule.height,
                };
                if let Some(fill) =
                    resolve_paint(context, template, values, &rule.paint, &mut out.problems)
                {
                    out.ops.push(Shown::plain(Op::Fill {
                        rect: Some(rect),
                        paint: fill,
                        radius: rule.radius,
                    }));
                }
            }
            Piece::Stack(nested, measured) => {
                let box_width = outer_width(nested, &measured).min(inner);
                let offset = offset(nested.align, inner, box_width);
                emit(
                    context,
                    template,
                    values,
                    (nested, measured),
                    (x + across + offset, top, box_width),
                    out,
                );
            }
        }
        top += piece_height + stack.gap;
    }
}

/// How far from the left of `room` something `width` wide sits.
fn offset(align: Align, room: f32, width: f32) -> f32 {
    match align {
        Align::Left => 0.0,
        Align::Center => ((room - width) / 2.0).round(),
        Align::Right => room - width,
    }
}

/// What a stack draws, each text with its field, and the problems met.
#[derive(Default)]
struct Output {
    ops: Vec<Shown>,
    problems: Vec<Problem>,
}

/// A stack's boxes and texts, each text with its field; an unknown colour
/// goes to `problems`, a text that does not fit is the error.
fn stack_ops(
    context: Context<'_>,
    template: &Template,
    values: &BTreeMap<&str, Visual>,
    stack: &StackLayer,
    problems: &mut Vec<Problem>,
) -> Result<Vec<Shown>, Problem> {
    // A qualifier takes room of its own first, and, when the stack would
    // not hold it so, room from its figure.
    let measured = match measure(context, template, values, (stack, true)) {
        Err(Problem::Overflow { .. }) => measure(context, template, values, (stack, false)),
        measured => measured,
    };
    let Some(measured) = measured? else {
        return Ok(Vec::new());
    };
    let rect = stack.rect;
    let width = outer_width(stack, &measured).min(rect.width);
    let height = (measured.height + 2.0 * stack.padding.1).round();
    let x = match stack.align {
        Align::Left => rect.x,
        Align::Center => rect.x + ((rect.width - width) / 2.0).round(),
        Align::Right => rect.x + rect.width - width,
    };
    let y = match stack.valign {
        VAlign::Top => rect.y,
        VAlign::Middle => rect.y + ((rect.height - height) / 2.0).round(),
        VAlign::Bottom => rect.y + rect.height - height,
    };
    let mut out = Output::default();
    emit(
        context,
        template,
        values,
        (stack, measured),
        (x, y, width),
        &mut out,
    );
    problems.append(&mut out.problems);
    Ok(out.ops)
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
    // Each label on one line, beside its icon.
    let frame = Frame {
        width: rect.width - layer.icon_size - spacing,
        height: row_height,
        min_size: layer.text_size,
        max_size: layer.text_size,
        max_lines: 1,
        line_height: 1.0,
        wrap: Wrap::Pretty,
    };
    let mut ops = Vec::new();
    for item in items {
        let block = fit_label(context, layer, (face, &frame), field, item)?;
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
    // Rows are laid from the top; move them down as the layer says.
    let used = y + row_height - rect.y;
    let shift_down = match layer.valign {
        VAlign::Top => 0.0,
        VAlign::Middle => ((rect.height - used) / 2.0).round(),
        VAlign::Bottom => rect.height - used,
    };
    if shift_down > 0.0 {
        shift(&mut ops, 0.0, shift_down);
    }
    Ok(ops)
}

/// The label of one icon, fitted in `frame` with `face`.
fn fit_label(
    context: Context<'_>,
    layer: &IconsLayer,
    (face, frame): (&FontFace, &Frame),
    field: Option<&Field>,
    item: &str,
) -> Result<Block, Problem> {
    let label = display(field, &Visual::Text(item.to_owned()));
    let text = prepare(context, &label, false);
    fit_names_whole(context, face, &text, (frame, &[])).map_err(|overflow| Problem::Overflow {
        fields: vec![layer.field.get_ref().clone()],
        overflow,
    })
}

/// Moves images and texts `across` pixels right and `down` pixels down.
fn shift(ops: &mut [Op], across: f32, down: f32) {
    for op in ops {
        match op {
            Op::Image { rect, .. } => {
                rect.x += across;
                rect.y += down;
            }
            Op::Text { origins, .. } => {
                for origin in origins {
                    origin.0 += across;
                    origin.1 += down;
                }
            }
            Op::Fill { .. } => {}
        }
    }
}

/// The alt text of a post's image: its own, or the template's pattern
/// filled with the post's fields.
pub fn alt_text(template: &Template, post: &Post) -> String {
    if let Some(alt) = &post.alt {
        return alt.get_ref().trim().to_owned();
    }
    let values = values(template, post);
    let text = match &template.alt {
        // Each placeholder replaced by its field's value, or by nothing.
        Some(pattern) => {
            let mut out = String::with_capacity(pattern.len() + 64);
            let mut rest = pattern.as_str();
            while let Some(start) = rest.find('{') {
                let Some(length) = rest[start + 1..].find('}') else {
                    break;
                };
                let name = &rest[start + 1..start + 1 + length];
                out.push_str(&rest[..start]);
                if let Some(value) = values.get(name) {
                    out.push_str(&display(template.fields.get(name), value));
                }
                rest = &rest[start + 1 + length + 1..];
            }
            out.push_str(rest);
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
    let mut out = crate::typography::squash_spaces(text);
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

    const EVENT: &str = r##"
name = "Événement"
[fields.kicker]
default = "Agenda"
[fields.date]
required = true
[fields.time]
[fields.place]
required = true

[[formats.paysage.layers]]
kind = "background"
color = "#1F4E79"

[[formats.paysage.layers]]
kind = "stack"
x = 60
y = 40
width = 700
height = 62
color = "#E4632D"
radius = 31
padding = [28, 10]
hug = true

[[formats.paysage.layers.items]]
field = "kicker"
font = "Lato-Black.ttf"
color = "#FFFFFF"
size = 34
uppercase = true

[[formats.paysage.layers]]
kind = "stack"
x = 780
y = 40
width = 360
height = 440
color = "#FFFFFF1F"
padding = 30
gap = 20
valign = "middle"

[[formats.paysage.layers.items]]
field = "date"
height = 160
font = "Lato-Black.ttf"
color = "#FFFFFF"
min_size = 36
max_size = 44
max_lines = 3

[[formats.paysage.layers.items]]
field = "time"
height = 50
font = "Lato-Black.ttf"
color = "#FFFFFF"
size = 34

[[formats.paysage.layers.items]]
field = "place"
height = 130
font = "Lato-Black.ttf"
color = "#FFFFFF"
size = 34
max_lines = 3
"##;

    fn card(visual: &str) -> Card {
        let (template, diagnostics) = Template::parse(EVENT, "assets/templates/e.toml", "e");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let template = template.unwrap();
        let text = format!("+++\ntemplate = \"e\"\n[visual]\n{visual}\n+++\nTexte.\n");
        let (post, diagnostics) = Post::parse(&text, "posts/e.md", "e", chrono_tz::Europe::Paris);
        let post = post.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let (assets, brand) = (assets(), Brand::default());
        let context = plain(&brand, &assets);
        layout(context, &template, Format::Paysage, &post).unwrap()
    }

    /// The boxes the card fills, whole card aside.
    fn boxes(card: &Card) -> Vec<Rect> {
        card.ops
            .iter()
            .filter_map(|op| match op {
                Op::Fill {
                    rect: Some(rect), ..
                } => Some(*rect),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_pill_is_as_wide_as_its_label() {
        let short = card("kicker = \"Agenda\"\ndate = \"Mardi\"\nplace = \"Ici\"");
        let long = card("kicker = \"Publication du guide\"\ndate = \"Mardi\"\nplace = \"Ici\"");
        let (short_pill, long_pill) = (boxes(&short)[0], boxes(&long)[0]);
        let label = |card: &Card| card.texts()[0].rect;
        for (pill, label) in [(short_pill, label(&short)), (long_pill, label(&long))] {
            assert!(
                (pill.width - (label[2] as f32).ceil() - 56.0).abs() < 1.0,
                "{pill:?} around {label:?}"
            );
            assert!(
                label[0] as f32 >= pill.x + 27.0,
                "{pill:?} around {label:?}"
            );
            assert_eq!(pill.height, (34.0f32 * 1.2 + 20.0).round(), "{pill:?}");
        }
        assert!(short_pill.width < 250.0 && long_pill.width > 450.0);
    }

    #[test]
    fn an_absent_field_leaves_no_hole() {
        let with = card("date = \"Mardi 19 janvier\"\ntime = \"20h00\"\nplace = \"Visio\"");
        let without = card("date = \"Mardi 19 janvier\"\nplace = \"Visio\"");
        let (with_box, without_box) = (boxes(&with)[1], boxes(&without)[1]);
        // The box loses the time's line and one gap, and stays centred.
        let time = with.texts()[2].rect[3] as f32;
        assert!((with_box.height - without_box.height - time - 20.0).abs() < 1.0);
        let centre = |rect: Rect| rect.y + rect.height / 2.0;
        assert!(
            (centre(with_box) - 260.0).abs() < 1.0 && (centre(without_box) - 260.0).abs() < 1.0
        );
        // The place follows the date a gap below.
        let texts = without.texts();
        let (date, place) = (texts[1].rect, texts[2].rect);
        assert_eq!(texts[2].field, "place");
        assert!(
            (place[1] - (date[1] + date[3]) - 20.0).abs() < 0.5,
            "{date:?} then {place:?}"
        );
        // And the box holds them, padding included.
        assert!((f64::from(without_box.y) + 30.0 - date[1]).abs() < 0.5);
        assert!(
            (f64::from(without_box.y + without_box.height) - 30.0 - (place[1] + place[3])).abs()
                < 0.5
        );
    }

    #[test]
    fn texts_name_their_fields_sizes_and_lines() {
        let card = card("date = \"Mardi 19 janvier 2027\"\ntime = \"20h00\"\nplace = \"Visio\"");
        let texts = card.texts();
        let fields: Vec<&str> = texts.iter().map(|t| t.field.as_str()).collect();
        assert_eq!(fields, ["kicker", "date", "time", "place"]);
        assert_eq!(texts[0].lines, ["AGENDA"]);
        assert!(texts[0].bold);
        assert_eq!(texts[2].size, 34.0);
        assert!(
            texts[1].lines.iter().all(|line| !line.ends_with("19")),
            "{:?}",
            texts[1].lines
        );
    }

    #[test]
    fn resolves_hex_and_brand_colours() {
        let mut brand = Brand::default();
        brand
            .colors
            .insert("accent".into(), toml::Spanned::new(0..0, "#E4632D".into()));
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

    const FIGURE: &str = r##"
name = "Chiffre"
scale = [34, 48, 68, 96, 136]
[fields.number]
required = true
[fields.caption]

[[formats.paysage.layers]]
kind = "stack"
x = 60
y = 40
width = 1080
height = 500
valign = "middle"
gap = 20

[[formats.paysage.layers.items]]
field = "number"
height = 200
font = "Lato-Black.ttf"
color = "#C0392B"
min_size = 34
max_size = 136
qualifier = 0.35

[[formats.paysage.layers.items]]
kind = "rule"
width = 120
height = 8
color = "#1F4E79"

[[formats.paysage.layers.items]]
field = "caption"
height = 150
font = "Lato-Black.ttf"
color = "#222222"
min_size = 34
max_size = 48
max_lines = 3
"##;

    /// A context with French rules, no names kept whole, no series sizes.
    fn plain<'a>(brand: &'a Brand, assets: &'a Assets) -> Context<'a> {
        Context {
            brand,
            assets,
            french: true,
            no_break: &[],
            sizes: None,
            caps: None,
            fits: None,
        }
    }

    fn assets() -> Assets {
        let file = "Lato-Black.ttf";
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../assets/fonts")
            .join(file);
        let mut assets = Assets::default();
        assets.fonts.insert(
            file.to_owned(),
            FontFace::from_bytes(file, std::fs::read(path).unwrap()).unwrap(),
        );
        assets
    }

    fn figure_post(id: &str, number: &str) -> Post {
        let text = format!(
            "+++\nseries = \"s\"\ntemplate = \"f\"\n[visual]\nnumber = \"{number}\"\ncaption = \"Une phrase.\"\n+++\nTexte.\n"
        );
        let (post, diagnostics) = Post::parse(&text, "posts/f.md", id, chrono_tz::Europe::Paris);
        post.unwrap_or_else(|| panic!("{diagnostics:?}"))
    }

    /// A configuration with the series `s`, and `template` as `f`.
    fn series_of(template: &Template) -> (crate::config::Config, BTreeMap<String, Template>) {
        let config = crate::config::Config::parse(
            "timezone = \"Europe/Paris\"\n[brand]\nname = \"CPTS\"\n[series.s]\ncron = \"0 19 * * tue\"\nchannels = [\"facebook\"]\n[channels.facebook]\nnetwork = \"facebook\"\n",
            "config/crieur.toml",
        )
        .0
        .expect("a configuration");
        (config, BTreeMap::from([("f".to_owned(), template.clone())]))
    }

    fn figure() -> Template {
        let (template, diagnostics) = Template::parse(FIGURE, "assets/templates/f.toml", "f");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        template.unwrap()
    }

    #[test]
    fn texts_remembered_from_card_to_card_lay_out_as_fitted_afresh() {
        let template = figure();
        let (assets, brand) = (assets(), Brand::default());
        let afresh = plain(&brand, &assets);
        let fits = Fits::default();
        let remembering = Context {
            fits: Some(&fits),
            ..afresh
        };
        let long = "240 008 consultations de télémédecine ".repeat(12);
        // Most of the series is long: it sets "12 %" smaller than alone.
        // "Une phrase." is also the caption, in another layer.
        let posts = [
            figure_post("a", "12 %"),
            figure_post("b", "240 008 consultations de télémédecine"),
            figure_post("c", "240 009 consultations de télémédecine"),
            figure_post("d", &long),
            figure_post("e", &long),
            figure_post("f", "Une phrase."),
        ];
        let (config, templates) = series_of(&template);
        let all: Vec<&Post> = posts.iter().collect();
        let sizes = Sizes::of(afresh, (&config, &templates), &all);
        let seen = |context: Context<'_>, post: &Post| {
            format!("{:?}", layout(context, &template, Format::Paysage, post))
        };
        // Twice over, alone then in the series' sizes: the second time
        // every text is remembered, under another cap for the series.
        let mut overflows = 0;
        for _ in 0..2 {
            for post in &posts {
                let alone = seen(afresh, post);
                overflows += usize::from(alone.starts_with("Err"));
                assert_eq!(seen(remembering, post), alone, "{}", post.id);
                assert_eq!(
                    seen(remembering.with_sizes(&sizes), post),
                    seen(afresh.with_sizes(&sizes), post),
                    "{}",
                    post.id
                );
            }
        }
        assert_eq!(
            overflows, 4,
            "the long text does not fit, and says so each time"
        );
    }

    #[test]
    fn texts_take_the_steps_of_the_scale() {
        let template = figure();
        let (assets, brand) = (assets(), Brand::default());
        let context = plain(&brand, &assets);
        let card = layout(
            context,
            &template,
            Format::Paysage,
            &figure_post("a", "12 %"),
        )
        .unwrap();
        let texts = card.texts();
        assert_eq!(texts[0].size, 136.0, "{texts:?}");
        // The rule lies between the figure and the sentence.
        let rule = card.ops.iter().find_map(|op| match op {
            Op::Fill {
                rect: Some(rect), ..
            } => Some(*rect),
            _ => None,
        });
        let rule = rule.expect("a rule");
        assert!(rule.y >= texts[0].rect[1] as f32 + texts[0].rect[3] as f32);
        assert!(rule.y + rule.height <= texts[1].rect[1] as f32);
        assert!([34.0, 48.0].contains(&texts[1].size), "{texts:?}");
    }

    #[test]
    fn a_qualifier_goes_smaller_on_its_own_line() {
        let template = figure();
        let (assets, brand) = (assets(), Brand::default());
        let context = plain(&brand, &assets);
        let post = figure_post("a", "Plus de 1 200");
        let texts = layout(context, &template, Format::Paysage, &post)
            .unwrap()
            .texts();
        let figure = texts
            .iter()
            .find(|t| t.lines == ["1\u{202f}200"])
            .unwrap_or_else(|| panic!("{texts:?}"));
        let lead = texts
            .iter()
            .find(|t| t.lines == ["Plus de"])
            .expect("the qualifier");
        assert_eq!(figure.size, 136.0);
        // 0.35 of 136, 47.6, rounds to 48: a step of the scale.
        assert_eq!(lead.size, 48.0);
        assert!(lead.rect[1] + lead.rect[3] <= figure.rect[1] + 0.01);
    }

    #[test]
    fn every_card_of_a_series_sets_a_text_at_one_size() {
        let template = figure();
        let (assets, brand) = (assets(), Brand::default());
        let context = plain(&brand, &assets);
        let posts = [
            figure_post("a", "12 %"),
            figure_post("b", "3 000"),
            figure_post("c", "240 008 consultations de télémédecine"),
        ];
        let size = |context: Context<'_>, post: &Post| {
            layout(context, &template, Format::Paysage, post)
                .unwrap()
                .texts()[0]
                .size
        };
        let alone: Vec<f32> = posts.iter().map(|post| size(context, post)).collect();
        assert_eq!(&alone[..2], [136.0, 136.0]);
        assert!(alone[2] < 136.0, "{alone:?}");
        let (config, templates) = series_of(&template);
        let all: Vec<&Post> = posts.iter().collect();
        let sizes = Sizes::of(context, (&config, &templates), &all);
        let context = context.with_sizes(&sizes);
        let set: Vec<f32> = posts.iter().map(|post| size(context, post)).collect();
        // Two of three reach 136: the series takes it; the long one keeps
        // the size it fits at.
        assert_eq!(set, alone);
        // A series where most cards are long sets the short one smaller.
        let posts = [
            figure_post("a", "12 %"),
            figure_post("b", "240 008 consultations de télémédecine"),
            figure_post("c", "240 009 consultations de télémédecine"),
        ];
        let all: Vec<&Post> = posts.iter().collect();
        let sizes = Sizes::of(context, (&config, &templates), &all);
        let context = context.with_sizes(&sizes);
        let set: Vec<f32> = posts.iter().map(|post| size(context, post)).collect();
        assert_eq!(set[0], set[1], "{set:?}");
        assert_eq!(set[1], set[2], "{set:?}");
    }
}
