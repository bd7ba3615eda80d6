//! The rules that span files: a post against the configuration, its
//! template, the networks of its channels and the calendar.
//!
//! Pure: a loaded [`Project`] and the current instant in, diagnostics out.
//! Parsing problems were found while loading; these are the problems of
//! files that parse.

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::{DateTime, Duration, Utc};

use crate::caption::{hashtags_in, render as render_caption};
use crate::config::{CONFIG_PATH, Config, Series};
use crate::diagnostic::{Diagnostic, suggest};
use crate::network::Network;
use crate::plan::{Plan, Window, channels_of, format_local, plan_with};
use crate::post::{Post, Visual};
use crate::project::Project;
use crate::render::layout::Sizes;
use crate::render::layout::{choice_values, font_file, layout_with, resolve_color};
use crate::render::scale::Scaled;
use crate::render::{Assets, Context, Problem, layout};
use crate::scaffold::{EXAMPLE_CAPTIONS, NEW_CAPTION, PLACEHOLDERS};
use crate::template::{FieldKind, Format, LayerKind, Paint, Template, placeholders};
use crate::typography::squash_spaces;
use rayon::prelude::*;

/// How far ahead `check` looks for empty slots and collisions, by default.
pub const DEFAULT_WEEKS: i64 = 4;

/// Every cross-file problem of the project, as of `now`.
pub fn check(project: &Project, now: DateTime<Utc>) -> Vec<Diagnostic> {
    judge(project, now).0
}

/// Every cross-file problem of the project, as of `now`, and the size each
/// text of a series takes, found on the way: a command that draws cards
/// after judging the project lays none out twice.
pub fn judge(project: &Project, now: DateTime<Utc>) -> (Vec<Diagnostic>, Sizes) {
    let Some(config) = &project.config else {
        return (Vec::new(), Sizes::default());
    };
    let mut diagnostics = Vec::new();
    check_series(config, project, now, &mut diagnostics);
    check_brand(config, &project.assets, &mut diagnostics);
    let mut sound_templates = BTreeMap::new();
    for (id, template) in &project.templates {
        let before = diagnostics.len();
        check_template(config, &project.assets, template, &mut diagnostics);
        if diagnostics.len() == before {
            sound_templates.insert(id.as_str(), template);
        }
    }
    let words = crate::access::Words::from_texts(project.posts.iter().flat_map(|post| {
        std::iter::once(post.body.as_str())
            .chain(post.visual.values().filter_map(|v| v.get_ref().as_text()))
    }));
    check_series_hashtags(config, project, &words, &mut diagnostics);
    // Each post is judged on its own: spread over the cores, then said in
    // the order of the posts.
    let judged: Vec<(&Post, Vec<Diagnostic>, bool)> = project
        .posts
        .par_iter()
        .map(|post| {
            let mut own = Vec::new();
            check_post(config, project, post, now, &mut own);
            check_access(config, project, post, &words, &mut own);
            let drawable = !own.iter().any(Diagnostic::is_error);
            // An example left in place does not keep the card from being
            // laid out: its other problems are said at once.
            check_examples(config, project, post, &mut own);
            (post, own, drawable)
        })
        .collect();
    let mut drawable = Vec::new();
    for (post, own, sound) in judged {
        diagnostics.extend(own);
        if sound {
            drawable.push(post);
        }
    }
    let (layouts, sizes) = check_cards(config, project, &drawable, &sound_templates);
    // A template's contrast problem is said once per layer, whatever the
    // posts (a gradient may differ by a shade from one card to the next);
    // a problem of the brand, once per key of the configuration.
    let mut seen = std::collections::BTreeSet::new();
    let mut layouts = layouts;
    layouts.sort_by(|a, b| (&a.path, &a.message).cmp(&(&b.path, &b.message)));
    diagnostics.extend(layouts.into_iter().filter(|d| {
        d.path == post_path_of(d)
            || seen.insert((d.path.clone(), d.span.as_ref().map(|s| (s.start, s.end))))
    }));
    check_calendar(config, &project.posts, &project.pins, now, &mut diagnostics);
    (diagnostics, sizes)
}

/// Lays out every card of the drawable posts: what `check` says of them,
/// and the size each text of a series takes.
fn check_cards(
    config: &Config,
    project: &Project,
    drawable: &[&Post],
    sound_templates: &BTreeMap<&str, &Template>,
) -> (Vec<Diagnostic>, Sizes) {
    // Laying out every card is the costly part: spread it over the cores,
    // each text fitted once for all the cards that show it.
    let fits = crate::render::layout::Fits::default();
    let context = Context {
        fits: Some(&fits),
        ..Context::of(config, &project.assets)
    };
    let contrast = crate::contrast::Cache::default();
    let alone: Vec<(&Post, &Template, Laid)> = drawable
        .par_iter()
        .filter_map(|post| {
            let template =
                crate::post::template_of(post, config).and_then(|id| sound_templates.get(id))?;
            Some((
                *post,
                *template,
                check_layout(context, template, post, &contrast),
            ))
        })
        .collect();
    // Every card of a series sets each text at its series' size: the few
    // cards set smaller than alone are laid out again.
    let sizes = Sizes::from_cards(alone.iter().flat_map(|(post, template, laid)| {
        laid.scaled
            .iter()
            .map(move |(format, scaled)| (*post, *template, *format, &scaled[..]))
    }));
    let sized = context.with_sizes(&sizes);
    let layouts: Vec<Diagnostic> = alone
        .into_par_iter()
        .flat_map_iter(|(post, template, laid)| {
            let changes = laid
                .scaled
                .iter()
                .any(|(format, scaled)| sizes.changes(post, template, *format, scaled));
            if changes {
                check_layout(sized, template, post, &contrast).diagnostics
            } else {
                laid.diagnostics
            }
        })
        .collect();
    (layouts, sizes)
}

fn check_brand(config: &Config, assets: &Assets, diagnostics: &mut Vec<Diagnostic>) {
    for (name, file) in &config.brand.fonts {
        if !assets.fonts.contains_key(file.get_ref()) {
            diagnostics.push(
                Diagnostic::error(
                    CONFIG_PATH,
                    Some(file.span()),
                    format!(
                        "police `{name}` introuvable : assets/fonts/{}",
                        file.get_ref()
                    ),
                )
                .with_hint_opt(font_hint(file.get_ref(), assets).or_else(|| {
                    Some(
                        "placez le fichier de la police (.ttf ou .otf) dans assets/fonts/, ou corrigez son nom"
                            .to_owned(),
                    )
                })),
            );
        }
    }
    if let Some(logo) = &config.brand.logo {
        let missing = match image_problem(assets, logo.get_ref()) {
            Some(ImageProblem::Missing) => Some((
                format!("logo introuvable : assets/{}", logo.get_ref()),
                "placez le logo (PNG) dans assets/ et donnez son chemin depuis ce dossier",
            )),
            Some(problem) => Some((problem.describe("logo", logo.get_ref()), problem.hint())),
            None => None,
        };
        if let Some((message, hint)) = missing {
            diagnostics
                .push(Diagnostic::error(CONFIG_PATH, Some(logo.span()), message).with_hint(hint));
        }
    }
}

/// Why an image named by its path under `assets/` cannot be drawn.
enum ImageProblem {
    /// The path leaves `assets/` (absolute, or through `..`): crieur only
    /// reads images of the project.
    Outside,
    /// The file was found and refused (too large, unreadable).
    Refused(String),
    Missing,
}

impl ImageProblem {
    /// The message about `noun` (« logo », « image ») at `path`.
    fn describe(&self, noun: &str, path: &str) -> String {
        match self {
            ImageProblem::Outside => {
                format!("{noun} `{path}` : chemin hors du dossier assets/, refusé")
            }
            ImageProblem::Refused(reason) => {
                format!("{noun} assets/{path} inutilisable : {reason}")
            }
            ImageProblem::Missing => format!("{noun} introuvable : assets/{path}"),
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            ImageProblem::Outside => {
                "donnez le chemin de l'image depuis le dossier assets/ du projet, sans `..` : `logos/logo.png`"
            }
            ImageProblem::Refused(_) => {
                "réduisez l'image (une carte fait au plus 1200x1350 pixels) et enregistrez-la en PNG"
            }
            ImageProblem::Missing => "placez l'image (PNG) dans assets/ ou corrigez le chemin",
        }
    }
}

fn image_problem(assets: &Assets, path: &str) -> Option<ImageProblem> {
    if assets.images.contains_key(path) {
        return None;
    }
    let outside = std::path::Path::new(path).components().any(|part| {
        !matches!(
            part,
            std::path::Component::Normal(_) | std::path::Component::CurDir
        )
    }) || path.contains('\\');
    Some(if outside {
        ImageProblem::Outside
    } else if let Some(reason) = assets.refused.get(path) {
        ImageProblem::Refused(reason.clone())
    } else {
        ImageProblem::Missing
    })
}

fn font_hint(file: &str, assets: &Assets) -> Option<String> {
    let known: Vec<&str> = assets.fonts.keys().map(String::as_str).collect();
    suggest(file, &known)
}

/// An image a layer names: its `src` (`None` for the brand's logo), the
/// layer's span, and the list field whose values `{value}` stands for.
type ImageRef<'t> = (
    Option<&'t toml::Spanned<String>>,
    &'t std::ops::Range<usize>,
    Option<&'t str>,
);

/// Whether the fonts, colours and images a template names exist, for every
/// value its choice fields can take.
fn check_template(
    config: &Config,
    assets: &Assets,
    template: &Template,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let path = template.path.as_str();
    let brand = &config.brand;
    let named = Named::of(template);
    for color in named.paints.iter().chain(named.colors) {
        check_color(brand, template, path, color, diagnostics);
    }
    let mut reported = std::collections::BTreeSet::new();
    check_fonts(
        brand,
        assets,
        path,
        &named.fonts,
        &mut reported,
        diagnostics,
    );
    check_images(
        brand,
        assets,
        template,
        &named.images,
        &mut reported,
        diagnostics,
    );
}

/// What the layers of a template name, in layer order: the colours of
/// fills and gradients, then those of texts and icons, fonts and images.
struct Named<'t> {
    paints: Vec<toml::Spanned<String>>,
    colors: Vec<&'t toml::Spanned<String>>,
    fonts: Vec<&'t toml::Spanned<String>>,
    images: Vec<ImageRef<'t>>,
}

impl<'t> Named<'t> {
    fn of(template: &'t Template) -> Self {
        let mut named = Named {
            paints: Vec::new(),
            colors: Vec::new(),
            fonts: Vec::new(),
            images: Vec::new(),
        };
        let paint = |paint: &'_ Paint| match paint {
            Paint::Solid(color) => vec![color.clone()],
            Paint::Gradient { from, to, .. } => vec![from.clone(), to.clone()],
        };
        for layer in template.formats.values().flatten() {
            match &layer.kind {
                LayerKind::Background(fill) | LayerKind::Rect { paint: fill, .. } => {
                    named.paints.extend(paint(fill));
                }
                LayerKind::Image { src, .. } => {
                    named.images.push((src.as_ref(), &layer.span, None));
                }
                LayerKind::Text(text) => {
                    named.fonts.push(&text.font);
                    named.colors.push(&text.color);
                }
                LayerKind::Icons(icons) => {
                    named.fonts.push(&icons.font);
                    named.colors.push(&icons.color);
                    let field = Some(icons.field.get_ref().as_str());
                    named.images.push((Some(&icons.src), &layer.span, field));
                }
                LayerKind::Stack(stack) => {
                    named
                        .paints
                        .extend(stack.paints().into_iter().flat_map(paint));
                    for text in stack.texts() {
                        named.fonts.push(&text.font);
                        named.colors.push(&text.color);
                    }
                    for icons in stack.icons() {
                        named.fonts.push(&icons.font);
                        named.colors.push(&icons.color);
                        let field = Some(icons.field.get_ref().as_str());
                        named.images.push((Some(&icons.src), &layer.span, field));
                    }
                }
            }
        }
        named
    }
}

/// Whether the fonts a template names have their file in `assets/fonts/`;
/// each missing file is reported once.
fn check_fonts(
    brand: &crate::config::Brand,
    assets: &Assets,
    path: &str,
    fonts: &[&toml::Spanned<String>],
    reported: &mut std::collections::BTreeSet<String>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for font in fonts {
        let file = font_file(brand, font.get_ref());
        if !assets.fonts.contains_key(file) && reported.insert(file.to_owned()) {
            // A brand font's file is named in the configuration, which
            // reports it at that line: here, the template is only told why.
            if brand.fonts.contains_key(font.get_ref()) {
                diagnostics.push(
                    Diagnostic::error(
                        path,
                        Some(font.span()),
                        format!(
                            "police `{}` de la marque introuvable : assets/fonts/{file}",
                            font.get_ref()
                        ),
                    )
                    .with_hint(format!(
                        "son fichier est nommé sous [brand.fonts] dans config/crieur.toml : placez {file} dans assets/fonts/, ou corrigez ce nom"
                    )),
                );
                continue;
            }
            diagnostics.push(
                Diagnostic::error(
                    path,
                    Some(font.span()),
                    format!("police introuvable : `{}` (assets/fonts/{file})", font.get_ref()),
                )
                .with_hint_opt(font_hint(file, assets).or_else(|| {
                    Some("nommez une police de la marque ([brand.fonts]) ou un fichier de assets/fonts/".to_owned())
                })),
            );
        }
    }
}

/// Whether the images a template names exist, for every value their
/// pattern can take, and whether the brand has a logo for layers that draw
/// it; each missing image is reported once.
fn check_images(
    brand: &crate::config::Brand,
    assets: &Assets,
    template: &Template,
    images: &[ImageRef<'_>],
    reported: &mut std::collections::BTreeSet<String>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let path = template.path.as_str();
    for &(src, span, list_field) in images {
        let Some(src) = src else {
            match &brand.logo {
                None => diagnostics.push(
                    Diagnostic::error(path, Some(span.clone()), "ce calque dessine le logo, mais la marque n'en a pas")
                        .with_hint("ajoutez `logo = \"logos/….png\"` sous [brand] dans config/crieur.toml, ou donnez `src`"),
                ),
                // The logo is reported at its line of the configuration;
                // here, the template's posts are kept from going out
                // without it.
                Some(logo) => {
                    if let Some(problem) = image_problem(assets, logo.get_ref())
                        && reported.insert(format!("logo:{}", logo.get_ref()))
                    {
                        diagnostics.push(
                            Diagnostic::error(
                                path,
                                Some(span.clone()),
                                problem.describe("logo de la marque", logo.get_ref()),
                            )
                            .with_hint("ce calque dessine le logo que nomme `logo` sous [brand] dans config/crieur.toml : corrigez-le là"),
                        );
                    }
                }
            }
            continue;
        };
        for candidate in expand(template, src.get_ref(), list_field) {
            if let Some(problem) = image_problem(assets, &candidate)
                && reported.insert(candidate.clone())
            {
                diagnostics.push(
                    Diagnostic::error(
                        path,
                        Some(src.span()),
                        problem.describe("image", &candidate),
                    )
                    .with_hint(problem.hint()),
                );
            }
        }
    }
}

/// Every value a pattern can take: `{field}` replaced by each choice of the
/// field (`{value}` by each choice of `list_field`).
fn expand(template: &Template, pattern: &str, list_field: Option<&str>) -> Vec<String> {
    let mut results = vec![pattern.to_owned()];
    let mut names: Vec<&str> = placeholders(pattern);
    names.dedup();
    for name in names {
        let field = if name == "value" {
            list_field
        } else {
            Some(name)
        };
        let choices = field
            .and_then(|field| template.fields.get(field))
            .map(choice_values)
            .unwrap_or_default();
        if choices.is_empty() {
            continue;
        }
        results = results
            .iter()
            .flat_map(|result| {
                choices
                    .iter()
                    .map(move |choice| result.replace(&format!("{{{name}}}"), choice))
            })
            .collect();
    }
    results
}

fn check_color(
    brand: &crate::config::Brand,
    template: &Template,
    path: &str,
    color: &toml::Spanned<String>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let names = placeholders(color.get_ref());
    if let Some(field) = names.iter().find(|name| {
        template
            .fields
            .get(**name)
            .is_some_and(|f| choice_values(f).is_empty())
    }) {
        diagnostics.push(
            Diagnostic::error(
                path,
                Some(color.span()),
                format!("une couleur ne peut dépendre que d'un champ à choix, pas de `{field}`"),
            )
            .with_hint("donnez au champ `kind = \"choice\"` et des `choices` nommant des couleurs de la marque"),
        );
        return;
    }
    for candidate in expand(template, color.get_ref(), None) {
        if resolve_color(brand, &candidate).is_none() {
            let known: Vec<&str> = brand.colors.keys().map(String::as_str).collect();
            diagnostics.push(
                Diagnostic::error(path, Some(color.span()), format!("couleur inconnue `{candidate}`"))
                    .with_hint_opt(suggest(&candidate, &known).or_else(|| {
                        Some(format!(
                            "déclarez-la sous [brand.colors] dans config/crieur.toml : `{candidate} = \"#RRGGBB\"`, ou écrivez-la en hexadécimal"
                        ))
                    })),
            );
        }
    }
}

/// Lays the post out in every format of its template and reports what
/// does not fit or cannot be drawn.
/// The post's alt text and hashtags, as screen readers meet them.
fn check_access(
    config: &Config,
    project: &Project,
    post: &Post,
    words: &crate::access::Words,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if let Some(template) =
        crate::post::template_of(post, config).and_then(|id| project.templates.get(id))
    {
        crate::access::check_alt(template, post, diagnostics);
    }
    if let Some(body) = project
        .report
        .source(&post.path)
        .and_then(|source| source.get(post.body_span.clone()))
    {
        crate::access::check_hashtags(&post.path, body, post.body_span.start, words, diagnostics);
    }
}

/// The series' hashtags, where the configuration writes them.
fn check_series_hashtags(
    config: &Config,
    project: &Project,
    words: &crate::access::Words,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let Some(source) = project.report.source(CONFIG_PATH) else {
        return;
    };
    for series in config.series.values() {
        let Some(section) = source.get(series.span.start..) else {
            continue;
        };
        let end = section[1..].find("\n[").map_or(section.len(), |i| i + 1);
        crate::access::check_hashtags(
            CONFIG_PATH,
            &section[..end],
            series.span.start,
            words,
            diagnostics,
        );
    }
}

/// Diagnostics about a post's own file are kept as they are; the others
/// (about a template) are said once.
fn post_path_of(diagnostic: &Diagnostic) -> String {
    if diagnostic.path.starts_with(crate::post::POSTS_DIR) {
        diagnostic.path.clone()
    } else {
        String::new()
    }
}

/// Whether every text of the post's cards can be read by everyone
/// (WCAG 1.4.3, RGAA 3.2): an error at the template's layer otherwise,
/// and at the colour of the brand it comes from, if any.
fn check_contrast(
    context: Context<'_>,
    template: &Template,
    (format, post): (Format, &Post),
    card: &crate::render::Card,
    cache: &crate::contrast::Cache,
) -> Vec<Diagnostic> {
    use crate::contrast::{format as ratio, hex, measure, nearest_passing};
    let mut found = Vec::new();
    if let Some(layers) = template.formats.get(&format) {
        for reading in measure(card, cache).iter().filter(|r| !r.passes()) {
            let index = card.sources.get(reading.op).copied().unwrap_or_default();
            let Some(layer) = layers.get(index) else {
                continue;
            };
            let span = match &layer.kind {
                LayerKind::Text(text) => text.color.span(),
                LayerKind::Icons(icons) => icons.color.span(),
                _ => layer.span.clone(),
            };
            let fix = nearest_passing(reading.text, reading.background, reading.required);
            let ground = nearest_passing(reading.background, reading.text, reading.required);
            let place = format!(
                "modèle `{}`, format {format}, calque {}",
                template.id,
                index + 1
            );
            let measured = format!(
                "texte {} sur {}, {} pour {} au moins",
                hex(reading.text),
                hex(reading.background),
                ratio(reading.ratio),
                ratio(reading.required)
            );
            let culprit =
                brand_culprit(context.brand, template, layer, post, reading, (fix, ground));
            let mut hint = format!(
                "les couleurs les plus proches, de même teinte, qui se lisent bien : texte {} sur ce fond, ou ce texte sur un fond {} ; un texte lisible par tous (RGAA 3.2) demande 4,5:1, ou 3:1 pour un grand texte (au moins 1/15 de la largeur de l'image, 1/19 en gras)",
                hex(fix),
                hex(ground)
            );
            if let Some((name, color)) = &culprit {
                hint.push_str(&format!(
                    " ; `{name}` est une couleur de la marque : changez-la sous [brand.colors] dans config/crieur.toml, par exemple en {}",
                    hex(*color)
                ));
                found.push(brand_contrast(
                    context.brand,
                    (name, *color),
                    &measured,
                    &place,
                ));
            }
            found.push(
                Diagnostic::error(
                    &template.path,
                    Some(span),
                    format!(
                        "contraste insuffisant : {measured} ({place}, texte de {} px)",
                        reading.size.round()
                    ),
                )
                .with_hint(hint),
            );
        }
    }
    found
}

/// A text that does not read because of a colour of the brand, said at its
/// line of the configuration with the colour that would read.
fn brand_contrast(
    brand: &crate::config::Brand,
    (name, color): (&str, [u8; 3]),
    measured: &str,
    place: &str,
) -> Diagnostic {
    Diagnostic::error(
        CONFIG_PATH,
        brand.colors.get(name).map(toml::Spanned::span),
        format!("contraste insuffisant avec la couleur `{name}` de la marque : {measured} ({place})"),
    )
    .with_hint(format!(
        "la couleur la plus proche, de même teinte, qui se lit là : `{name} = \"{}\"` ; un texte lisible par tous (RGAA 3.2) demande 4,5:1, ou 3:1 pour un grand texte",
        crate::contrast::hex(color)
    ))
}

/// The brand colour a text that does not read comes from, with the colour
/// that would read: the text's own colour or the one beneath it, whichever
/// needs the smaller change (`fix` for the text, `ground` for beneath).
/// `None` when neither is a colour of the brand.
fn brand_culprit(
    brand: &crate::config::Brand,
    template: &Template,
    layer: &crate::template::Layer,
    post: &Post,
    reading: &crate::contrast::Reading,
    (fix, ground): ([u8; 3], [u8; 3]),
) -> Option<(String, [u8; 3])> {
    // A colour of the brand, or a role it may name (the hint then says to
    // name it).
    let is = |name: &str, rgb: [u8; 3]| {
        !name.starts_with('#')
            && resolve_color(brand, name).is_some_and(|c| c[3] == 255 && c[..3] == rgb)
    };
    let patterns: Vec<&str> = match &layer.kind {
        LayerKind::Text(text) => vec![text.color.get_ref().as_str()],
        LayerKind::Icons(icons) => vec![icons.color.get_ref().as_str()],
        LayerKind::Stack(stack) => stack
            .texts()
            .into_iter()
            .map(|t| t.color.get_ref().as_str())
            .collect(),
        _ => Vec::new(),
    };
    let values = crate::render::layout::values(template, post);
    let text = patterns
        .into_iter()
        .map(|pattern| colour_name(pattern, &values))
        .find(|name| is(name, reading.text));
    // Several names may share the background's colour: those the template
    // paints with come first.
    let painted: Vec<String> = Named::of(template)
        .paints
        .iter()
        .map(|paint| colour_name(paint.get_ref(), &values))
        .collect();
    let mut beneath: Vec<&String> = brand
        .colors
        .keys()
        .filter(|name| is(name, reading.background))
        .collect();
    beneath.sort_by_key(|name| !painted.contains(name));
    let distance = |a: [u8; 3], b: [u8; 3]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (i32::from(*x) - i32::from(y)).pow(2))
            .sum::<i32>()
    };
    match (text, beneath.first()) {
        (Some(_), Some(under))
            if distance(reading.background, ground) < distance(reading.text, fix) =>
        {
            Some(((*under).clone(), ground))
        }
        (Some(text), _) => Some((text, fix)),
        (None, Some(under)) => Some(((*under).clone(), ground)),
        (None, None) => None,
    }
}

/// A colour pattern with the post's values in place of its fields.
fn colour_name(pattern: &str, values: &BTreeMap<&str, Visual>) -> String {
    let mut name = pattern.to_owned();
    for field in placeholders(pattern) {
        if let Some(Visual::Text(value)) = values.get(field) {
            name = name.replace(&format!("{{{field}}}"), value);
        }
    }
    name
}

/// Splits the problems of a card into the post's and those of the brand's
/// name: a text that shows the name and no field of the post, and that
/// lays out once the name is left out.
fn name_problems(
    context: Context<'_>,
    template: &Template,
    (format, post): (Format, &Post),
    problems: Vec<Problem>,
) -> (Vec<Problem>, Vec<Problem>) {
    let fieldless = |problem: &Problem| {
        matches!(problem,
            Problem::Overflow { fields, .. } | Problem::MissingGlyphs { fields, .. }
                if fields.is_empty())
    };
    if context.brand.name.is_empty() || !problems.iter().any(fieldless) {
        return (problems, Vec::new());
    }
    let nameless = crate::config::Brand {
        name: String::new(),
        name_span: None,
        ..context.brand.clone()
    };
    let context = Context {
        brand: &nameless,
        // Another brand: texts fitted for the project's do not hold.
        fits: None,
        ..context
    };
    let left = layout(context, template, format, post)
        .err()
        .unwrap_or_default();
    problems
        .into_iter()
        .partition(|problem| !fieldless(problem) || left.contains(problem))
}

/// The first text of a format that shows the brand's name: its pattern,
/// and the layer it lies in.
fn name_layer(
    template: &Template,
    format: Format,
) -> Option<(&toml::Spanned<String>, &crate::template::Layer)> {
    let shows = |text: &'_ crate::template::TextLayer| {
        text.text.iter().position(|pattern| {
            placeholders(pattern.get_ref()).contains(&crate::render::layout::BRAND_PLACEHOLDER)
        })
    };
    template.formats.get(&format)?.iter().find_map(|layer| {
        let texts = match &layer.kind {
            LayerKind::Text(text) => vec![text],
            LayerKind::Stack(stack) => stack.texts(),
            _ => Vec::new(),
        };
        texts
            .into_iter()
            .find_map(|text| shows(text).map(|index| (&text.text[index], layer)))
    })
}

/// A problem of the brand's name on a template's cards, said where the
/// name is written (`config/crieur.toml`) and at the layer that shows it,
/// which keeps the posts of the template from going out.
fn name_diagnostics(
    brand: &crate::config::Brand,
    template: &Template,
    problem: &str,
    formats: &[Format],
) -> [Diagnostic; 2] {
    let names: Vec<&str> = formats.iter().map(|f| f.as_str()).collect();
    let plural = if names.len() > 1 { "s" } else { "" };
    let names = names.join(", ");
    let glyphs = problem.contains("absents de la police");
    let layer = formats
        .first()
        .and_then(|format| name_layer(template, *format));
    // About as many characters as the box takes, as `new` says of fields.
    let room = layer.and_then(|(_, layer)| match &layer.kind {
        LayerKind::Text(text) => {
            let per_line = (text.rect.width / (text.min_size * 0.5)).floor().max(1.0) as usize;
            Some(per_line * text.max_lines.max(1))
        }
        _ => None,
    });
    let config_hint = match (glyphs, room) {
        (true, _) => "remplacez ces caractères dans `name`, ou choisissez pour ce texte une police qui les contient".to_owned(),
        (false, Some(room)) => format!(
            "raccourcissez `name` : il est écrit sur chaque image, où tiennent environ {room} caractères (il en a {})",
            brand.name.chars().count()
        ),
        (false, None) => "raccourcissez `name` : il est écrit sur chaque image".to_owned(),
    };
    let template_hint = if glyphs {
        "le nom est `name` sous [brand] dans config/crieur.toml : remplacez-y ces caractères, ou choisissez pour ce calque une police qui les contient"
    } else {
        "le nom est `name` sous [brand] dans config/crieur.toml : raccourcissez-le, ou agrandissez ce cadre"
    };
    [
        Diagnostic::error(
            CONFIG_PATH,
            brand.name_span.clone(),
            format!(
                "images du modèle `{}` (format{plural} {names}) : {problem}",
                template.id
            ),
        )
        .with_hint(config_hint),
        Diagnostic::error(
            &template.path,
            layer.map(|(pattern, _)| pattern.span()),
            format!("image (format{plural} {names}) : {problem}"),
        )
        .with_hint(template_hint),
    ]
}

/// Lays out each of the post's cards: what does not fit or cannot be
/// drawn, and what cannot be read; and the sizes its texts take.
fn check_layout(
    context: Context<'_>,
    template: &Template,
    post: &Post,
    cache: &crate::contrast::Cache,
) -> Laid {
    // The same problem in several formats is said once, naming them all.
    let mut found: Vec<(String, Vec<Format>, Vec<String>)> = Vec::new();
    let mut of_name: Vec<(String, Vec<Format>, Vec<String>)> = Vec::new();
    let mut contrast = Vec::new();
    let mut scaled = Vec::new();
    let values = crate::render::layout::card_values(context, template, post);
    for &format in template.formats.keys() {
        let problems = match layout_with(context, template, (format, post), &values) {
            Ok(mut card) => {
                scaled.push((format, std::mem::take(&mut card.scaled)));
                contrast.extend(check_contrast(
                    context,
                    template,
                    (format, post),
                    &card,
                    cache,
                ));
                continue;
            }
            Err(problems) => problems,
        };
        let (own, name) = name_problems(context, template, (format, post), problems);
        for problem in name {
            // `le texte …`: the text is the brand's name.
            let message = problem.to_string();
            let message = match message.strip_prefix("le texte") {
                Some(rest) => format!("le nom de la marque{rest}"),
                None => message,
            };
            group(&mut of_name, message, format, Vec::new());
        }
        for problem in own {
            let fields = match &problem {
                Problem::Overflow { fields, .. } | Problem::MissingGlyphs { fields, .. } => {
                    fields.clone()
                }
                // Reported against the template itself.
                Problem::Template(_) => continue,
            };
            group(&mut found, problem.to_string(), format, fields);
        }
    }
    let of_name = of_name.into_iter().flat_map(|(message, formats, _)| {
        name_diagnostics(context.brand, template, &message, &formats)
    });
    let diagnostics = found
        .into_iter()
        .map(|(message, formats, fields)| layout_diagnostic(post, &message, &formats, &fields))
        .chain(of_name)
        .chain(contrast)
        .collect();
    Laid {
        diagnostics,
        scaled,
    }
}

/// A post's cards laid out: what `check` says of them, and the sizes of
/// their texts set on the scale, by format.
struct Laid {
    diagnostics: Vec<Diagnostic>,
    scaled: Vec<(Format, Scaled)>,
}

/// Adds a problem met in `format`, or the format to the same problem met
/// in others.
fn group(
    found: &mut Vec<(String, Vec<Format>, Vec<String>)>,
    message: String,
    format: Format,
    fields: Vec<String>,
) {
    match found.iter_mut().find(|(m, _, _)| *m == message) {
        Some((_, formats, _)) => formats.push(format),
        None => found.push((message, vec![format], fields)),
    }
}

/// A problem of the post's cards, at the first of its fields the post
/// gives, or at its `[visual]` line.
fn layout_diagnostic(
    post: &Post,
    message: &str,
    formats: &[Format],
    fields: &[String],
) -> Diagnostic {
    let span = fields
        .iter()
        .find_map(|field| post.visual.get(field))
        .map_or_else(|| post.visual_span.clone(), |value| value.span());
    let names: Vec<&str> = formats.iter().map(|f| f.as_str()).collect();
    let plural = if names.len() > 1 { "s" } else { "" };
    let hint = if message.contains("absents de la police") {
        "remplacez ces caractères, ou choisissez une police qui les contient"
    } else {
        "raccourcissez le texte"
    };
    Diagnostic::error(
        &post.path,
        Some(span),
        format!(
            "image ({}{plural} {}) : {message}",
            "format",
            names.join(", ")
        ),
    )
    .with_hint(hint)
}

fn check_series(
    config: &Config,
    project: &Project,
    now: DateTime<Utc>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for series in config.series.values() {
        if let Some(template) = &series.template
            && !project.templates.contains_key(template.get_ref())
            && !project.broken_templates.contains(template.get_ref())
        {
            diagnostics.push(unknown_template(CONFIG_PATH, template, &project.templates));
        }
        if series.schedule.next_after(config.timezone, now).is_none() {
            diagnostics.push(
                Diagnostic::warning(
                    CONFIG_PATH,
                    Some(series.cron_span.clone()),
                    format!(
                        "la série `{}` ne se déclenche plus jamais (`{}`)",
                        series.id,
                        series.schedule.expression()
                    ),
                )
                .with_hint("vérifiez le jour du mois et le mois : `0 0 30 2 *` (30 février) n'arrive jamais"),
            );
        }
    }
}

fn unknown_template(
    path: &str,
    name: &toml::Spanned<String>,
    templates: &BTreeMap<String, Template>,
) -> Diagnostic {
    let known: Vec<&str> = templates.keys().map(String::as_str).collect();
    Diagnostic::error(
        path,
        Some(name.span()),
        format!("modèle inconnu `{}`", name.get_ref()),
    )
    .with_hint_opt(suggest(name.get_ref(), &known).or_else(|| {
        Some(format!(
            "créez assets/templates/{}.toml, ou choisissez un modèle existant",
            name.get_ref()
        ))
    }))
}

fn check_post(
    config: &Config,
    project: &Project,
    post: &Post,
    now: DateTime<Utc>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let path = post.path.as_str();
    let Some(series) = series_of(config, post, diagnostics) else {
        return;
    };
    check_post_template(project, post, series, diagnostics);

    // The channels: the post's, or its series'.
    let channels = channels_of(post, config);
    check_post_channels(config, post, &channels, diagnostics);

    let hashtags = series.map(|s| s.hashtags.as_slice()).unwrap_or_default();
    let mut networks: Vec<Network> = channels
        .iter()
        .filter_map(|name| config.channels.get(name))
        .map(|channel| channel.network)
        .collect();
    networks.sort();
    networks.dedup();
    check_captions(
        post,
        &networks,
        hashtags,
        config.typography.captions,
        project.report.source(path),
        diagnostics,
    );

    if post.draft {
        return;
    }
    check_post_date(config, post, series, now, diagnostics);
}

/// The series a post names, if any. `None` when it names an unknown
/// series: that is reported, and the post is checked no further. A series
/// with errors in the configuration gives a note and `Some(None)`.
fn series_of<'c>(
    config: &'c Config,
    post: &Post,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Option<&'c Series>> {
    let path = post.path.as_str();
    let Some(name) = &post.series else {
        return Some(None);
    };
    match config.series.get(name.get_ref()) {
        Some(series) => Some(Some(series)),
        // The series' own errors are reported in the configuration:
        // one note here, and the post is checked for all the rest.
        None if config
            .broken
            .contains_key(&format!("series.{}", name.get_ref())) =>
        {
            diagnostics.push(
                Diagnostic::warning(
                    path,
                    Some(name.span()),
                    format!(
                        "la série `{}` a des erreurs dans config/crieur.toml : ce post ne partira pas tant qu'elle n'est pas corrigée",
                        name.get_ref()
                    ),
                )
                .with_hint("corrigez la série (voir les erreurs de config/crieur.toml)"),
            );
            Some(None)
        }
        None => {
            let known: Vec<&str> = config.series.keys().map(String::as_str).collect();
            diagnostics.push(
                Diagnostic::error(
                    path,
                    Some(name.span()),
                    format!("série inconnue `{}`", name.get_ref()),
                )
                .with_hint_opt(suggest(name.get_ref(), &known)),
            );
            None
        }
    }
}

/// The post's template, or its series': whether there is one, and whether
/// it exists; if it does, the post's visual is checked against it.
fn check_post_template(
    project: &Project,
    post: &Post,
    series: Option<&Series>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let path = post.path.as_str();
    let templates = &project.templates;
    match post.template.as_ref().or(series.and_then(|s| s.template.as_ref())) {
        None => diagnostics.push(
            Diagnostic::error(path, Some(post.header_span.clone()), "aucun modèle d'image pour ce post")
                .with_hint("ajoutez `template = \"chiffre\"` (ou un autre modèle de assets/templates/), ou rattachez le post à une série qui en a un"),
        ),
        Some(name) => match templates.get(name.get_ref()) {
            Some(template) => check_visual(post, template, diagnostics),
            // A series' unknown template is reported once, in the config;
            // a broken template, in its own file.
            None if post.template.is_some() && !project.broken_templates.contains(name.get_ref()) => {
                diagnostics.push(unknown_template(path, name, templates));
            }
            None => {}
        },
    }
}

/// Texts `new` and `init` write as examples, still in a post: in its
/// caption (or a network's), or as the whole value of a text field.
fn check_examples(
    config: &Config,
    project: &Project,
    post: &Post,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let path = post.path.as_str();
    if let Some(example) = example_caption(&post.body, path) {
        let span = project
            .report
            .source(path)
            .and_then(|source| find_first_line(source, post.body_span.clone(), example))
            .unwrap_or_else(|| first_line(post));
        diagnostics.push(example_caption_error(path, span, "légende", example));
    }
    for (network, caption) in &post.captions {
        if let Some(example) = example_caption(caption.get_ref(), path) {
            let what = format!("légende `[caption.{network}]`");
            diagnostics.push(example_caption_error(path, caption.span(), &what, example));
        }
    }
    // A choice or a list is checked against its values already.
    let Some(template) =
        crate::post::template_of(post, config).and_then(|id| project.templates.get(id))
    else {
        return;
    };
    for (name, value) in &post.visual {
        let (Some(field), Some(text)) = (template.fields.get(name), value.get_ref().as_text())
        else {
            continue;
        };
        if !matches!(field.kind, FieldKind::Text) || !is_placeholder(text) {
            continue;
        }
        diagnostics.push(
            Diagnostic::error(
                path,
                Some(value.span()),
                format!(
                    "champ `{name}` ({}) : texte d'exemple « {} » laissé tel quel",
                    field.label,
                    text.trim()
                ),
            )
            .with_hint(format!(
                "remplacez ce texte d'exemple par la valeur du champ : {}",
                field.label
            )),
        );
    }
}

/// Whether a value is only one of the placeholders hints show (`…`).
fn is_placeholder(text: &str) -> bool {
    PLACEHOLDERS.contains(&text.trim())
}

/// The example a caption still holds, if any: only a placeholder, the
/// caption `new` writes (with or without its full stop, among other
/// text), or that of one of `init`'s example posts in any other file
/// than its own.
fn example_caption(caption: &str, path: &str) -> Option<&'static str> {
    if let Some(placeholder) = PLACEHOLDERS.iter().copied().find(|p| *p == caption.trim()) {
        return Some(placeholder);
    }
    // Squashing spaces changes no other character: a caption that holds
    // none of the examples' longest words holds none of the examples.
    static TELLING: std::sync::LazyLock<Vec<memchr::memmem::Finder<'static>>> =
        std::sync::LazyLock::new(|| {
            std::iter::once(NEW_CAPTION.trim_end_matches('.'))
                .chain(EXAMPLE_CAPTIONS.iter().map(|(_, example)| *example))
                .filter_map(|text| text.split_whitespace().max_by_key(|word| word.len()))
                .map(|word| memchr::memmem::Finder::new(word).into_owned())
                .collect()
        });
    if !TELLING
        .iter()
        .any(|word| word.find(caption.as_bytes()).is_some())
    {
        return None;
    }
    let caption = squash_spaces(caption);
    if caption.contains(NEW_CAPTION.trim_end_matches('.')) {
        return Some(NEW_CAPTION);
    }
    /// The examples' captions, squashed once.
    static SQUASHED: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        EXAMPLE_CAPTIONS
            .iter()
            .map(|(_, example)| squash_spaces(example))
            .collect()
    });
    EXAMPLE_CAPTIONS
        .iter()
        .zip(SQUASHED.iter())
        .find(|((file, _), squashed)| *file != path && caption.contains(squashed.as_str()))
        .map(|((_, example), _)| *example)
}

/// The span of the first line of `example` within `region` of `source`.
fn find_first_line(source: &str, region: Range<usize>, example: &str) -> Option<Range<usize>> {
    let line = example.lines().next()?;
    let line = line.trim_end_matches('.');
    let start = region.start + source.get(region)?.find(line)?;
    let end = start + line.len();
    let end = if source[end..].starts_with('.') {
        end + 1
    } else {
        end
    };
    Some(start..end)
}

/// A caption (`what`) that still holds an example.
fn example_caption_error(path: &str, span: Range<usize>, what: &str, example: &str) -> Diagnostic {
    let copied = EXAMPLE_CAPTIONS
        .iter()
        .find(|(_, caption)| *caption == example)
        .map(|(file, _)| *file);
    let message = match copied {
        Some(file) => format!("{what} reprise du post d'exemple {file}"),
        None => format!("{what} d'exemple laissée telle quelle : « {example} »"),
    };
    let hint = match copied {
        Some(_) => "remplacez ce texte d'exemple par la légende de ce post",
        None => {
            "remplacez ce texte d'exemple par la légende du post : le texte que liront ses abonnés"
        }
    };
    Diagnostic::error(path, Some(span), message).with_hint(hint)
}

/// Whether the channels a post names exist, and whether it goes to any
/// (`channels`: its own, or its series').
fn check_post_channels(
    config: &Config,
    post: &Post,
    channels: &[String],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let path = post.path.as_str();
    if let Some(own) = &post.channels {
        let known: Vec<&str> = config.channels.keys().map(String::as_str).collect();
        for name in own {
            let broken = config
                .broken
                .contains_key(&format!("channels.{}", name.get_ref()));
            if !config.channels.contains_key(name.get_ref()) && !broken {
                diagnostics.push(
                    Diagnostic::error(
                        path,
                        Some(name.span()),
                        format!("canal inconnu `{}`", name.get_ref()),
                    )
                    .with_hint_opt(suggest(name.get_ref(), &known)),
                );
            }
        }
    }
    let series_broken = post.series.as_ref().is_some_and(|name| {
        config
            .broken
            .contains_key(&format!("series.{}", name.get_ref()))
    });
    if channels.is_empty() && !series_broken {
        diagnostics.push(
            Diagnostic::error(
                path,
                Some(post.header_span.clone()),
                "ce post ne va sur aucun canal",
            )
            .with_hint(
                "ajoutez `channels = [\"facebook\"]`, ou rattachez le post à une série qui en a",
            ),
        );
    }
}

/// The place of a post that is no draft in the calendar: a date already
/// past (late within the grace, lost beyond it), or neither series nor
/// date.
fn check_post_date(
    config: &Config,
    post: &Post,
    series: Option<&Series>,
    now: DateTime<Utc>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let path = post.path.as_str();
    match &post.publish_at {
        Some(at) if at.get_ref().with_timezone(&Utc) < now => diagnostics.push(
            Diagnostic::warning(
                path,
                Some(at.span()),
                if now - at.get_ref().with_timezone(&Utc) <= config.grace {
                    format!(
                        "date passée ({}) : s'il n'est pas déjà parti, ce post part en retard, dans le délai de grâce ({})",
                        format_local(at.get_ref()),
                        crate::config::format_duration(config.grace)
                    )
                } else {
                    format!(
                        "date passée ({}) : ce post ne sera pas publié",
                        format_local(at.get_ref())
                    )
                },
            )
            .with_hint(
                "choisissez une date à venir, ou passez le post en brouillon : `draft = true`",
            ),
        ),
        None if series.is_none() && post.series.is_none() => diagnostics.push(
            Diagnostic::error(
                path,
                Some(post.header_span.clone()),
                "ni série ni date : ce post n'a pas de place dans le calendrier",
            )
            .with_hint("ajoutez `publish_at = 2026-12-01T19:00:00` ou `series = \"…\"`, ou gardez-le en brouillon : `draft = true`"),
        ),
        _ => {}
    }
}

/// Whether the post gives every field its template requires, with a
/// value that is not blank: a field left out is said at `[visual]`, a
/// field left empty at its own line.
fn check_required_fields(post: &Post, template: &Template, diagnostics: &mut Vec<Diagnostic>) {
    let path = post.path.as_str();
    for field in template.required_fields() {
        let Some(value) = post.visual.get(&field.name) else {
            diagnostics.push(
                Diagnostic::error(
                    path,
                    Some(post.visual_span.clone()),
                    format!(
                        "champ `{}` ({}) manquant : le modèle `{}` l'exige",
                        field.name, field.label, template.id
                    ),
                )
                .with_hint(format!(
                    "ajoutez sous `[visual]` : `{} = \"…\"`",
                    field.name
                )),
            );
            continue;
        };
        let hint = match value.get_ref() {
            Visual::Text(text) if text.trim().is_empty() => match field.kind.choices() {
                [] => "écrivez sa valeur entre les guillemets".to_owned(),
                choices => format!(
                    "écrivez entre les guillemets une valeur parmi : {}",
                    choices
                        .iter()
                        .map(|c| c.value.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
            Visual::List(items) if items.is_empty() => {
                let first = field
                    .kind
                    .choices()
                    .first()
                    .map_or("…", |c| c.value.as_str());
                format!(
                    "donnez-lui au moins une valeur : `{} = [\"{first}\"]`",
                    field.name
                )
            }
            _ => continue,
        };
        diagnostics.push(
            Diagnostic::error(
                path,
                Some(value.span()),
                format!(
                    "champ `{}` ({}) vide : le modèle `{}` l'exige",
                    field.name, field.label, template.id
                ),
            )
            .with_hint(hint),
        );
    }
}

fn check_visual(post: &Post, template: &Template, diagnostics: &mut Vec<Diagnostic>) {
    let path = post.path.as_str();
    check_required_fields(post, template, diagnostics);
    let known: Vec<&str> = template.fields.keys().map(String::as_str).collect();
    for (name, value) in &post.visual {
        let Some(field) = template.fields.get(name) else {
            diagnostics.push(
                Diagnostic::error(
                    path,
                    Some(value.span()),
                    format!("champ `{name}` inconnu du modèle `{}`", template.id),
                )
                .with_hint_opt(suggest(name, &known)),
            );
            continue;
        };
        let choices: Vec<&str> = field
            .kind
            .choices()
            .iter()
            .map(|choice| choice.value.as_str())
            .collect();
        let bad_choice = |item: &str| {
            Diagnostic::error(
                path,
                Some(value.span()),
                format!("valeur `{item}` impossible pour `{name}`"),
            )
            .with_hint_opt(suggest(item, &choices))
        };
        match (&field.kind, value.get_ref()) {
            (FieldKind::Text, Visual::Text(_)) => {}
            (FieldKind::Choice(_), Visual::Text(item)) => {
                if !choices.contains(&item.as_str()) {
                    diagnostics.push(bad_choice(item));
                }
            }
            (FieldKind::List(_), Visual::List(items)) => {
                for item in items
                    .iter()
                    .filter(|item| !choices.contains(&item.as_str()))
                {
                    diagnostics.push(bad_choice(item));
                }
            }
            (FieldKind::List(_), Visual::Text(_)) => diagnostics.push(
                Diagnostic::error(
                    path,
                    Some(value.span()),
                    format!("`{name}` doit être une liste"),
                )
                .with_hint(format!("écrivez `{name} = [\"…\", \"…\"]`")),
            ),
            (_, Visual::List(_)) => diagnostics.push(
                Diagnostic::error(
                    path,
                    Some(value.span()),
                    format!("`{name}` doit être un seul texte, pas une liste"),
                )
                .with_hint(format!("écrivez `{name} = \"…\"`")),
            ),
        }
    }
}

fn check_captions(
    post: &Post,
    networks: &[Network],
    hashtags: &[String],
    french: bool,
    source: Option<&str>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let path = post.path.as_str();
    let uses_body = networks
        .iter()
        .any(|network| !post.captions.contains_key(network));
    if post.body.is_empty() && (uses_body || networks.is_empty()) {
        diagnostics.push(
            Diagnostic::error(path, Some(post.header_span.clone()), "légende vide")
                .with_hint("écrivez le texte du post sous la seconde ligne `+++`"),
        );
        return;
    }
    // The networks each caption is too long for: the body is shared by
    // every network without a caption of its own, and is said once.
    let mut too_long: Vec<(std::ops::Range<usize>, Overruns)> = Vec::new();
    for &network in networks {
        let text = render_caption(post.caption_for(network), hashtags, french);
        let span = match post.captions.get(&network) {
            Some(caption) => caption.span(),
            None => first_line(post),
        };
        let length = network.count(&text);
        if length > network.text_limit() {
            match too_long.iter_mut().find(|(place, _)| *place == span) {
                Some((_, over)) => over.push((network, length)),
                None => too_long.push((span.clone(), vec![(network, length)])),
            }
        }
        if let Some(bytes) = network.byte_limit()
            && text.len() > bytes
        {
            diagnostics.push(Diagnostic::error(
                path,
                Some(span.clone()),
                format!(
                    "légende trop lourde pour {} : {} octets, {} au plus",
                    network.display_name(),
                    thousands(text.len()),
                    thousands(bytes)
                ),
            ));
        }
        if let Some(most) = network.hashtag_limit() {
            diagnostics.extend(too_many_hashtags(post, network, &text, most, source));
        }
    }
    let own = |network: Network| post.captions.contains_key(&network);
    let series_tags = !hashtags.is_empty();
    for (span, over) in too_long {
        diagnostics.push(too_long_caption(path, span, over, own, series_tags));
    }
}

/// The networks a caption is too long for, each with the caption's length
/// as it counts it.
type Overruns = Vec<(Network, usize)>;

/// One error for a caption too long for one network or several: each
/// network with its count and its limit, the most generous first.
fn too_long_caption(
    path: &str,
    span: std::ops::Range<usize>,
    mut over: Overruns,
    own: impl Fn(Network) -> bool,
    series_tags: bool,
) -> Diagnostic {
    over.sort_by_key(|&(network, _)| (std::cmp::Reverse(network.text_limit()), network));
    let mut parts = Vec::new();
    let mut unit = "";
    for &(network, length) in &over {
        // The unit is said once while it stays the same.
        let shown = if network.unit() == unit {
            String::new()
        } else {
            format!(" {}", network.unit())
        };
        unit = network.unit();
        parts.push(format!(
            "{}{shown} pour {} ({} au plus)",
            thousands(length),
            network.display_name(),
            thousands(network.text_limit())
        ));
    }
    let mut message = format!("légende trop longue : {}", parts.join(", "));
    if series_tags {
        message.push_str(" (hashtags de la série compris)");
    }
    let (network, length) = *over
        .iter()
        .max_by_key(|(network, length)| length - network.text_limit())
        .expect("a caption too long for at least one network");
    let shorter = format!(
        "raccourcissez-la de {} {}",
        thousands(length - network.text_limit()),
        network.unit()
    );
    let hint = match over.as_slice() {
        [(network, _)] if own(*network) => shorter,
        [(network, _)] => format!(
            "{shorter}, ou écrivez une version pour ce réseau sous `[caption.{network}]` avec `text = \"…\"`"
        ),
        _ => {
            let sections: Vec<String> = over
                .iter()
                .map(|(network, _)| format!("`[caption.{network}]`"))
                .collect();
            format!(
                "{shorter} au moins, ou écrivez pour un réseau sa propre version : {} avec `text = \"…\"`",
                sections.join(", ")
            )
        }
    };
    Diagnostic::error(path, Some(span), message).with_hint(hint)
}

/// More distinct hashtags than `network` takes in `text`, the caption it
/// receives (series' hashtags added).
///
/// Where it points: when the caption carries more than it has room for
/// beside the series' hashtags, at its first hashtag without room: where
/// cutting starts. When the caption has no more than the limit and the
/// series' hashtags push it over, those are not in the post's file: the
/// post's `series` line brings them, so it points there. The message says
/// how many come from the caption and how many from the series.
fn too_many_hashtags(
    post: &Post,
    network: Network,
    text: &str,
    most: usize,
    source: Option<&str>,
) -> Option<Diagnostic> {
    let total = distinct_hashtags(text).len();
    if total <= most {
        return None;
    }
    let caption = post.captions.get(&network);
    let own = distinct_hashtags(post.caption_for(network)).len();
    let added = total.saturating_sub(own);
    let excess = total - most;
    let mut message = format!(
        "{total} hashtags pour {}, {most} au plus",
        network.display_name()
    );
    let series = post.series.as_ref().filter(|_| added > 0);
    if let Some(series) = series {
        let plural = if added > 1 { "s" } else { "" };
        message.push_str(&format!(
            " : {own} dans la légende et {added} ajouté{plural} par la série `{}`",
            series.get_ref()
        ));
    }
    let (span, hint) = match series {
        Some(series) if own <= most || added >= most => {
            let cut = if own >= excess {
                format!("retirez-en {excess} de la légende, ou ")
            } else {
                String::new()
            };
            (
                series.span(),
                format!(
                    "{cut}retirez des hashtags de la série : `hashtags` de `[series.{}]` dans config/crieur.toml",
                    series.get_ref()
                ),
            )
        }
        _ => {
            let region = caption.map_or_else(|| post.body_span.clone(), |caption| caption.span());
            let fallback = caption.map_or_else(|| first_line(post), |caption| caption.span());
            let version = if caption.is_some() {
                String::new()
            } else {
                format!(", ou écrivez une version sous `[caption.{network}]`")
            };
            (
                source
                    .and_then(|source| nth_hashtag(source, region, most - added))
                    .unwrap_or(fallback),
                format!("retirez-en {excess}{version}"),
            )
        }
    };
    Some(Diagnostic::error(&post.path, Some(span), message).with_hint(hint))
}

/// The hashtags of `text`, each once whatever its case, in order.
fn distinct_hashtags(text: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for tag in hashtags_in(text) {
        let tag = tag.to_lowercase();
        if !seen.contains(&tag) {
            seen.push(tag);
        }
    }
    seen
}

/// The span, in the file, of the distinct hashtag after the first `index`
/// ones within `region` of `source`.
fn nth_hashtag(
    source: &str,
    region: std::ops::Range<usize>,
    index: usize,
) -> Option<std::ops::Range<usize>> {
    let raw = source.get(region.clone())?;
    let mut seen: Vec<String> = Vec::new();
    for tag in hashtags_in(raw) {
        let lower = tag.to_lowercase();
        if seen.contains(&lower) {
            continue;
        }
        if seen.len() == index {
            let start = region.start + (tag.as_ptr() as usize - raw.as_ptr() as usize);
            return Some(start..start + tag.len());
        }
        seen.push(lower);
    }
    None
}

/// The first line of the body, where caption problems are shown.
fn first_line(post: &Post) -> std::ops::Range<usize> {
    let length = post.body.find('\n').unwrap_or(post.body.len());
    post.body_span.start..post.body_span.start + length
}

/// `12345` as French readers write it: `12 345`.
pub fn thousands(number: usize) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(digit);
    }
    out
}

fn check_calendar(
    config: &Config,
    posts: &[Post],
    pins: &crate::plan::Pins,
    now: DateTime<Utc>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let horizon = now + Duration::weeks(DEFAULT_WEEKS);
    // Collisions are checked up to the last dated post, however far.
    let last_pinned = posts
        .iter()
        .filter_map(|post| post.publish_at.as_ref())
        .map(|at| at.get_ref().with_timezone(&Utc) + Duration::seconds(1))
        .max()
        .unwrap_or(horizon);
    let window = Window {
        from: now,
        until: horizon.max(last_pinned),
    };
    let plan = plan_with(config, posts, window, pins);
    check_collisions(posts, &plan, diagnostics);
    check_dry_series(config, &plan, horizon, diagnostics);
}

/// Two posts at the same instant on the same channel: the later in the
/// plan's order is reported, at its date, its series or its header.
fn check_collisions(posts: &[Post], plan: &Plan, diagnostics: &mut Vec<Diagnostic>) {
    let by_id: BTreeMap<&str, &Post> = posts.iter().map(|post| (post.id.as_str(), post)).collect();
    let mut seen: BTreeMap<(DateTime<Utc>, &str), &str> = BTreeMap::new();
    for slot in &plan.slots {
        for channel in &slot.channels {
            let key = (slot.at.with_timezone(&Utc), channel.as_str());
            let Some(first) = seen.get(&key) else {
                seen.insert(key, slot.post.as_str());
                continue;
            };
            let Some(post) = by_id.get(slot.post.as_str()) else {
                continue;
            };
            let span = post
                .publish_at
                .as_ref()
                .map(|at| at.span())
                .or_else(|| post.series.as_ref().map(|s| s.span()))
                .unwrap_or_else(|| post.header_span.clone());
            diagnostics.push(
                Diagnostic::error(
                    &post.path,
                    Some(span),
                    format!(
                        "deux posts au même instant ({}) sur le canal `{channel}` : celui-ci et `{first}`",
                        format_local(&slot.at)
                    ),
                )
                .with_hint("décalez l'un des deux d'au moins une minute, ou retirez ce canal de l'un d'eux"),
            );
        }
    }
}

/// The series whose timetable has empty slots before `horizon`: one
/// warning per series, at its declaration, from its first empty slot.
fn check_dry_series(
    config: &Config,
    plan: &Plan,
    horizon: DateTime<Utc>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut dry: BTreeMap<&str, Vec<&crate::plan::EmptySlot>> = BTreeMap::new();
    for empty in plan
        .empty
        .iter()
        .filter(|slot| slot.at.with_timezone(&Utc) < horizon)
    {
        dry.entry(empty.series.as_str()).or_default().push(empty);
    }
    for (id, empties) in dry {
        let Some(series) = config.series.get(id) else {
            continue;
        };
        let count = empties.len();
        let plural = if count > 1 { "s" } else { "" };
        diagnostics.push(
            Diagnostic::warning(
                CONFIG_PATH,
                Some(series.span.clone()),
                format!(
                    "la série `{id}` manque de posts : {count} créneau{} vide{plural} dans les {DEFAULT_WEEKS} prochaines semaines, dès le {}",
                    if count > 1 { "x" } else { "" },
                    format_local(&empties[0].at)
                ),
            )
            .with_hint(format!("ajoutez des posts avec `series = \"{id}\"` dans posts/")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Report, line_col};
    use std::sync::Arc;

    const CONFIG: &str = "timezone = \"Europe/Paris\"\n\
[brand]\n\
name = \"CPTS\"\n\
[brand.fonts]\n\
titre = \"Absente-Black.ttf\"\n\
[series.chiffre]\n\
cron = \"0 19 * * tue\"\n\
channels = [\"instagram\"]\n\
hashtags = [\"#Chiffre\", \"#CPTS\", \"#Sante\"]\n\
[channels.instagram]\n\
network = \"instagram\"\n\
[channels.linkedin]\n\
network = \"linkedin\"\n\
[channels.facebook]\n\
network = \"facebook\"\n\
[channels.bluesky]\n\
network = \"bluesky\"\n";

    /// A project made of `CONFIG` and the posts given as `(id, text)`,
    /// checked on a day before every date of the tests.
    fn check_posts(posts: &[(&str, &str)]) -> (Vec<Diagnostic>, Report) {
        check_project(None, posts)
    }

    /// A template of one required text field, one choice (its alt text)
    /// and one text with a default, drawn on a plain background.
    const TEMPLATE: &str = "name = \"Chiffre\"\n\
alt = \"{tone}\"\n\
[fields.number]\n\
label = \"Le chiffre\"\n\
required = true\n\
[fields.tone]\n\
label = \"Le ton\"\n\
kind = \"choice\"\n\
choices = [\"calme\", \"vif\"]\n\
[fields.source]\n\
label = \"La source\"\n\
default = \"CPTS\"\n\
[[formats.carre.layers]]\n\
kind = \"background\"\n\
color = \"#FFFFFF\"\n";

    /// A project made of `CONFIG`, the template `TEMPLATE` as `chiffre`
    /// when `template` is given, and the posts.
    fn check_project(template: Option<&str>, posts: &[(&str, &str)]) -> (Vec<Diagnostic>, Report) {
        let mut templates = BTreeMap::new();
        if let Some(text) = template {
            let path = "assets/templates/chiffre.toml";
            let (template, diagnostics) = Template::parse(text, path, "chiffre");
            let template = template.unwrap_or_else(|| panic!("{diagnostics:?}"));
            templates.insert("chiffre".to_owned(), template);
        }
        let (config, diagnostics) = Config::parse(CONFIG, CONFIG_PATH);
        assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
        let mut report = Report::new();
        report.add_source(CONFIG_PATH, Arc::from(CONFIG));
        let tz = chrono_tz::Europe::Paris;
        let mut parsed = Vec::new();
        for (id, text) in posts {
            let path = format!("posts/{id}.md");
            let (post, diagnostics) = Post::parse(text, &path, id, tz);
            assert!(diagnostics.is_empty(), "{diagnostics:?}");
            report.add_source(&path, Arc::from(*text));
            parsed.extend(post);
        }
        let project = Project {
            root: std::path::PathBuf::from("."),
            config,
            templates,
            broken_templates: std::collections::BTreeSet::new(),
            post_files: parsed.len(),
            post_ids: parsed.iter().map(|post| post.id.clone()).collect(),
            posts: parsed,
            assets: Assets::default(),
            pins: crate::plan::Pins::new(),
            report: report.clone(),
            sizes: Default::default(),
        };
        let now = "2026-11-22T08:00:00Z".parse().unwrap();
        (check(&project, now), report)
    }

    /// The text a diagnostic's span covers, and its line and column.
    fn pointed<'r>(report: &'r Report, diagnostic: &Diagnostic) -> (&'r str, (usize, usize)) {
        let text = report.source(&diagnostic.path).expect("the file's text");
        let span = diagnostic.span.clone().expect("a span");
        (&text[span.clone()], line_col(text, span.start))
    }

    fn with_message<'d>(diagnostics: &'d [Diagnostic], part: &str) -> Vec<&'d Diagnostic> {
        diagnostics
            .iter()
            .filter(|d| d.message.contains(part))
            .collect()
    }

    #[test]
    fn a_missing_brand_font_is_reported_at_the_value_naming_it() {
        let (diagnostics, report) = check_posts(&[]);
        let fonts = with_message(&diagnostics, "police `titre`");
        assert_eq!(fonts.len(), 1, "{diagnostics:#?}");
        assert_eq!(fonts[0].path, CONFIG_PATH);
        assert_eq!(
            pointed(&report, fonts[0]),
            ("\"Absente-Black.ttf\"", (5, 9))
        );
    }

    const HEAD: &str = "+++\npublish_at = 2026-12-01T19:00:00\nchannels = [\"instagram\"]\n+++\n";

    #[test]
    fn too_many_hashtags_point_at_the_first_beyond_the_fifth() {
        let text =
            format!("{HEAD}Des nouvelles.\n#Un #deux #UN #Trois #Quatre\n#Cinq #Six #Sept\n");
        let (diagnostics, report) = check_posts(&[("a", &text)]);
        let tags = with_message(&diagnostics, "hashtags pour Instagram");
        assert_eq!(tags.len(), 1, "{diagnostics:#?}");
        // `#UN` repeats `#Un`: the sixth distinct one is `#Six`.
        assert_eq!(pointed(&report, tags[0]), ("#Six", (7, 7)));
        assert!(
            tags[0]
                .message
                .starts_with("7 hashtags pour Instagram, 5 au plus")
        );
    }

    #[test]
    fn too_many_hashtags_in_an_instagram_caption_point_into_it() {
        let text = "+++\npublish_at = 2026-12-01T19:00:00\nchannels = [\"instagram\"]\n[caption.instagram]\ntext = \"Court #a #b #c #d #e #f\"\n+++\nLong.\n";
        let (diagnostics, report) = check_posts(&[("a", text)]);
        let tags = with_message(&diagnostics, "hashtags pour Instagram");
        assert_eq!(tags.len(), 1, "{diagnostics:#?}");
        assert_eq!(pointed(&report, tags[0]), ("#f", (5, 30)));
    }

    #[test]
    fn too_many_hashtags_because_of_the_series_point_at_the_series() {
        let text = "+++\nseries = \"chiffre\"\n+++\nDes nouvelles. #Un #Deux #Trois\n";
        let (diagnostics, report) = check_posts(&[("a", text)]);
        let tags = with_message(&diagnostics, "hashtags pour Instagram");
        assert_eq!(tags.len(), 1, "{diagnostics:#?}");
        assert_eq!(pointed(&report, tags[0]), ("\"chiffre\"", (2, 10)));
        assert!(
            tags[0]
                .message
                .contains("3 dans la légende et 3 ajoutés par la série `chiffre`"),
            "{}",
            tags[0].message
        );
    }

    #[test]
    fn too_many_hashtags_in_the_caption_beside_the_series_point_at_the_first_without_room() {
        let text = "+++\nseries = \"chiffre\"\n+++\nDes nouvelles. #A #B #C #D #E #F\n";
        let (diagnostics, report) = check_posts(&[("a", text)]);
        let tags = with_message(&diagnostics, "hashtags pour Instagram");
        assert_eq!(tags.len(), 1, "{diagnostics:#?}");
        // The series brings three: the caption has room for two.
        assert_eq!(pointed(&report, tags[0]), ("#C", (4, 22)));
        assert_eq!(
            tags[0].message,
            "9 hashtags pour Instagram, 5 au plus : 6 dans la légende et 3 ajoutés par la série `chiffre`"
        );
        assert_eq!(
            tags[0].hint.as_deref(),
            Some("retirez-en 4, ou écrivez une version sous `[caption.instagram]`")
        );
    }

    #[test]
    fn a_caption_too_long_for_several_networks_is_one_error_naming_each() {
        let long = "Une phrase de quarante caractères ou pr. ".repeat(80);
        let text = format!(
            "+++\npublish_at = 2026-12-01T19:00:00\nchannels = [\"instagram\", \"linkedin\", \"facebook\", \"bluesky\"]\n+++\n{long}\n"
        );
        let (diagnostics, report) = check_posts(&[("a", &text)]);
        let long_ones = with_message(&diagnostics, "légende trop longue");
        assert_eq!(long_ones.len(), 1, "{diagnostics:#?}");
        assert_eq!(
            long_ones[0].message,
            "légende trop longue : 3 279 caractères pour LinkedIn (3 000 au plus), 3 279 pour Instagram (2 200 au plus), 3 279 graphèmes pour Bluesky (300 au plus)"
        );
        assert_eq!(
            long_ones[0].hint.as_deref(),
            Some(
                "raccourcissez-la de 2 979 graphèmes au moins, ou écrivez pour un réseau sa propre version : `[caption.linkedin]`, `[caption.instagram]`, `[caption.bluesky]` avec `text = \"…\"`"
            )
        );
        assert_eq!(pointed(&report, long_ones[0]).1, (5, 1));
    }

    const FILLED: &str = "+++\n\
publish_at = 2026-12-01T19:00:00\n\
channels = [\"instagram\"]\n\
template = \"chiffre\"\n\
alt = \"Le chiffre : 12.\"\n\
[visual]\n\
number = \"12\"\n\
+++\n";

    const BODY: &str = "Le chiffre de la semaine est 12.\n";

    /// The errors in posts (the configuration's brand font is missing).
    fn errors(diagnostics: &[Diagnostic]) -> Vec<&Diagnostic> {
        diagnostics
            .iter()
            .filter(|d| d.is_error() && d.path.starts_with("posts/"))
            .collect()
    }

    #[test]
    fn a_caption_left_as_new_wrote_it_is_an_error_at_its_line() {
        for body in [
            "Écrivez ici la légende du post.\n",
            "  Écrivez ici la légende du post.  \n",
            "Écrivez ici la légende du post\n\nLe chiffre de la semaine est 12.\n",
        ] {
            let text = format!("{FILLED}{body}");
            let (diagnostics, report) = check_project(Some(TEMPLATE), &[("a", &text)]);
            let errors = errors(&diagnostics);
            assert_eq!(errors.len(), 1, "{body:?}: {diagnostics:#?}");
            assert_eq!(
                errors[0].message,
                "légende d'exemple laissée telle quelle : « Écrivez ici la légende du post. »"
            );
            let (pointed, (line, _)) = pointed(&report, errors[0]);
            assert_eq!(line, 9, "{body:?}");
            assert!(
                pointed.starts_with("Écrivez ici la légende du post"),
                "{pointed:?}"
            );
            assert!(
                errors[0]
                    .hint
                    .as_deref()
                    .is_some_and(|hint| hint.starts_with("remplacez ce texte d'exemple par")),
                "{:?}",
                errors[0].hint
            );
        }
        let text = format!("{FILLED}{BODY}");
        let (diagnostics, _) = check_project(Some(TEMPLATE), &[("a", &text)]);
        assert!(errors(&diagnostics).is_empty(), "{diagnostics:#?}");
    }

    #[test]
    fn a_network_caption_or_a_field_left_as_a_placeholder_is_an_error_at_its_value() {
        let text = FILLED
            .replace("number = \"12\"", "number = \" … \"")
            .replace("[visual]", "[caption.instagram]\ntext = \"...\"\n[visual]")
            + BODY;
        let (diagnostics, report) = check_project(Some(TEMPLATE), &[("a", &text)]);
        let field = with_message(
            &diagnostics,
            "champ `number` (Le chiffre) : texte d'exemple « … » laissé tel quel",
        );
        assert_eq!(field.len(), 1, "{diagnostics:#?}");
        assert_eq!(pointed(&report, field[0]), ("\" … \"", (9, 10)));
        let caption = with_message(&diagnostics, "légende `[caption.instagram]` d'exemple");
        assert_eq!(caption.len(), 1, "{diagnostics:#?}");
        assert_eq!(pointed(&report, caption[0]), ("\"...\"", (7, 8)));
        // A choice that is no choice is said once, as such.
        let text = FILLED.replace("number = \"12\"", "number = \"12\"\ntone = \"…\"") + BODY;
        let (diagnostics, _) = check_project(Some(TEMPLATE), &[("a", &text)]);
        let messages: Vec<&str> = errors(&diagnostics)
            .into_iter()
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(messages, ["valeur `…` impossible pour `tone`"]);
    }

    #[test]
    fn the_caption_of_an_example_post_of_init_is_an_error_in_any_other_file() {
        let (own, caption) = EXAMPLE_CAPTIONS[0];
        let text = format!("{FILLED}{caption}\n");
        let id = own.trim_start_matches("posts/").trim_end_matches(".md");
        let (diagnostics, _) = check_project(Some(TEMPLATE), &[(id, &text)]);
        assert!(errors(&diagnostics).is_empty(), "{diagnostics:#?}");
        let (diagnostics, report) = check_project(Some(TEMPLATE), &[("chiffre/03-copie", &text)]);
        let copied = with_message(&diagnostics, "légende reprise du post d'exemple");
        assert_eq!(copied.len(), 1, "{diagnostics:#?}");
        assert_eq!(
            copied[0].message,
            format!("légende reprise du post d'exemple {own}")
        );
        let first = caption.lines().next().unwrap();
        assert_eq!(pointed(&report, copied[0]), (first, (9, 1)));
    }

    #[test]
    fn an_empty_required_field_is_empty_at_its_own_line_and_a_missing_one_missing() {
        let text = FILLED.replace("number = \"12\"", "number = \"  \"") + BODY;
        let (diagnostics, report) = check_project(Some(TEMPLATE), &[("a", &text)]);
        let empty = with_message(&diagnostics, "champ `number`");
        assert_eq!(empty.len(), 1, "{diagnostics:#?}");
        assert_eq!(
            empty[0].message,
            "champ `number` (Le chiffre) vide : le modèle `chiffre` l'exige"
        );
        assert_eq!(pointed(&report, empty[0]), ("\"  \"", (7, 10)));
        assert_eq!(
            empty[0].hint.as_deref(),
            Some("écrivez sa valeur entre les guillemets")
        );
        let text = FILLED.replace("number = \"12\"\n", "") + BODY;
        let (diagnostics, report) = check_project(Some(TEMPLATE), &[("a", &text)]);
        let missing = with_message(&diagnostics, "champ `number`");
        assert_eq!(missing.len(), 1, "{diagnostics:#?}");
        assert!(
            missing[0].message.contains("manquant"),
            "{}",
            missing[0].message
        );
        assert_eq!(pointed(&report, missing[0]), ("[visual]", (6, 1)));
    }

    #[test]
    fn an_empty_or_example_alt_text_is_an_error_at_its_value() {
        let text = FILLED.replace("alt = \"Le chiffre : 12.\"", "alt = \"\"") + BODY;
        let (diagnostics, report) = check_project(Some(TEMPLATE), &[("a", &text)]);
        let empty = with_message(&diagnostics, "texte alternatif");
        assert_eq!(empty.len(), 1, "{diagnostics:#?}");
        assert!(
            empty[0].message.starts_with("texte alternatif vide"),
            "{}",
            empty[0].message
        );
        assert_eq!(pointed(&report, empty[0]), ("\"\"", (5, 7)));
        let text = FILLED.replace(
            "alt = \"Le chiffre : 12.\"",
            "# Ce que montre l'image.\nalt = '''\n…'''",
        ) + BODY;
        let (diagnostics, report) = check_project(Some(TEMPLATE), &[("a", &text)]);
        let example = with_message(&diagnostics, "texte alternatif d'exemple");
        assert_eq!(example.len(), 1, "{diagnostics:#?}");
        assert_eq!(pointed(&report, example[0]).1, (6, 7));
        // Without `alt`, and no `tone` for the template's: at the header.
        let text = FILLED.replace("alt = \"Le chiffre : 12.\"\n", "") + BODY;
        let (diagnostics, report) = check_project(Some(TEMPLATE), &[("a", &text)]);
        let missing = with_message(&diagnostics, "texte alternatif");
        assert_eq!(missing.len(), 1, "{diagnostics:#?}");
        assert!(missing[0].message.starts_with("texte alternatif manquant"));
        assert_eq!(pointed(&report, missing[0]), ("+++", (1, 1)));
    }

    #[test]
    fn groups_thousands_the_french_way() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(2200), "2 200");
        assert_eq!(thousands(1234567), "1 234 567");
    }
}
