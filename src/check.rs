//! The rules that span files: a post against the configuration, its
//! template, the networks of its channels and the calendar.
//!
//! Pure: a loaded [`Project`] and the current instant in, diagnostics out.
//! Parsing problems were found while loading; these are the problems of
//! files that parse.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::caption::{hashtags_in, render as render_caption};
use crate::config::{CONFIG_PATH, Config};
use crate::diagnostic::{Diagnostic, suggest};
use crate::network::Network;
use crate::plan::{Window, channels_of, format_local, plan_with};
use crate::post::{Post, Visual};
use crate::project::Project;
use crate::render::layout::{choice_values, font_file, resolve_color};
use crate::render::{Assets, Context, Problem, layout};
use crate::template::{FieldKind, Format, LayerKind, Paint, Template, placeholders};
use rayon::prelude::*;

/// How far ahead `check` looks for empty slots and collisions, by default.
pub const DEFAULT_WEEKS: i64 = 4;

/// Every cross-file problem of the project, as of `now`.
pub fn check(project: &Project, now: DateTime<Utc>) -> Vec<Diagnostic> {
    let Some(config) = &project.config else {
        return Vec::new();
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
    let mut drawable = Vec::new();
    for post in &project.posts {
        let before = diagnostics.len();
        check_post(config, project, post, now, &mut diagnostics);
        if !diagnostics[before..].iter().any(Diagnostic::is_error) {
            drawable.push(post);
        }
    }
    // Laying out every card is the costly part: spread it over the cores.
    let context = Context {
        brand: &config.brand,
        assets: &project.assets,
        french: config.typography.visuals,
    };
    let layouts: Vec<Diagnostic> = drawable
        .par_iter()
        .flat_map_iter(|post| {
            let template = template_of(post, config).and_then(|id| sound_templates.get(id));
            match template {
                Some(template) => check_layout(context, template, post),
                None => Vec::new(),
            }
        })
        .collect();
    diagnostics.extend(layouts);
    check_calendar(config, &project.posts, &project.pins, now, &mut diagnostics);
    diagnostics
}

/// The id of the template a post is drawn with: its own, or its series'.
pub fn template_of<'a>(post: &'a Post, config: &'a Config) -> Option<&'a str> {
    post.template
        .as_ref()
        .or_else(|| {
            post.series
                .as_ref()
                .and_then(|series| config.series.get(series.get_ref()))
                .and_then(|series| series.template.as_ref())
        })
        .map(|name| name.get_ref().as_str())
}

fn check_brand(config: &Config, assets: &Assets, diagnostics: &mut Vec<Diagnostic>) {
    for (name, file) in &config.brand.fonts {
        if !assets.fonts.contains_key(file) {
            diagnostics.push(
                Diagnostic::error(
                    CONFIG_PATH,
                    None,
                    format!("police `{name}` introuvable : assets/fonts/{file}"),
                )
                .with_hint_opt(font_hint(file, assets)),
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
    let mut colors: Vec<&toml::Spanned<String>> = Vec::new();
    let mut fonts: Vec<&toml::Spanned<String>> = Vec::new();
    let mut images: Vec<ImageRef<'_>> = Vec::new();
    for layer in template.formats.values().flatten() {
        let paint = |paint: &'_ Paint| match paint {
            Paint::Solid(color) => vec![color.clone()],
            Paint::Gradient { from, to, .. } => vec![from.clone(), to.clone()],
        };
        match &layer.kind {
            LayerKind::Background(fill) | LayerKind::Rect { paint: fill, .. } => {
                for color in paint(fill) {
                    check_color(brand, template, path, &color, diagnostics);
                }
            }
            LayerKind::Image { src, .. } => images.push((src.as_ref(), &layer.span, None)),
            LayerKind::Text(text) => {
                fonts.push(&text.font);
                colors.push(&text.color);
            }
            LayerKind::Icons(icons) => {
                fonts.push(&icons.font);
                colors.push(&icons.color);
                images.push((Some(&icons.src), &layer.span, Some(icons.field.get_ref())));
            }
            LayerKind::Stack(stack) => {
                for color in stack.paints().into_iter().flat_map(paint) {
                    check_color(brand, template, path, &color, diagnostics);
                }
                for text in stack.texts() {
                    fonts.push(&text.font);
                    colors.push(&text.color);
                }
            }
        }
    }
    for color in colors {
        check_color(brand, template, path, color, diagnostics);
    }
    let mut reported = std::collections::BTreeSet::new();
    for font in fonts {
        let file = font_file(brand, font.get_ref());
        if !assets.fonts.contains_key(file) && reported.insert(file.to_owned()) {
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
    for (src, span, list_field) in images {
        let Some(src) = src else {
            if brand.logo.is_none() {
                diagnostics.push(
                    Diagnostic::error(path, Some(span.clone()), "ce calque dessine le logo, mais la marque n'en a pas")
                        .with_hint("ajoutez `logo = \"logos/….png\"` sous [brand] dans config/crieur.toml, ou donnez `src`"),
                );
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
fn check_layout(context: Context<'_>, template: &Template, post: &Post) -> Vec<Diagnostic> {
    // The same problem in several formats is said once, naming them all.
    let mut found: Vec<(String, Vec<Format>, Vec<String>)> = Vec::new();
    for &format in template.formats.keys() {
        let Err(problems) = layout(context, template, format, post) else {
            continue;
        };
        for problem in problems {
            let fields = match &problem {
                Problem::Overflow { fields, .. } | Problem::MissingGlyphs { fields, .. } => {
                    fields.clone()
                }
                // Reported against the template itself.
                Problem::Template(_) => continue,
            };
            let message = problem.to_string();
            match found.iter_mut().find(|(m, _, _)| *m == message) {
                Some((_, formats, _)) => formats.push(format),
                None => found.push((message, vec![format], fields)),
            }
        }
    }
    found
        .into_iter()
        .map(|(message, formats, fields)| {
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
        })
        .collect()
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
    let templates = &project.templates;
    let series = match &post.series {
        None => None,
        Some(name) => match config.series.get(name.get_ref()) {
            Some(series) => Some(series),
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
                None
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
                return;
            }
        },
    };

    // The template: the post's, or its series'.
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

    // The channels: the post's, or its series'.
    let channels = channels_of(post, config);
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
        diagnostics,
    );

    if post.draft {
        return;
    }
    match &post.publish_at {
        Some(at) if at.get_ref().with_timezone(&Utc) < now => diagnostics.push(
            Diagnostic::warning(
                path,
                Some(at.span()),
                format!(
                    "date passée ({}) : ce post ne sera pas publié",
                    format_local(at.get_ref())
                ),
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

fn check_visual(post: &Post, template: &Template, diagnostics: &mut Vec<Diagnostic>) {
    let path = post.path.as_str();
    for field in template.required_fields() {
        let missing = match post.visual.get(&field.name).map(|v| v.get_ref()) {
            None => true,
            Some(Visual::Text(text)) => text.trim().is_empty(),
            Some(Visual::List(items)) => items.is_empty(),
        };
        if missing {
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
        }
    }
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
    for &network in networks {
        let text = render_caption(post.caption_for(network), hashtags, french);
        let span = match post.captions.get(&network) {
            Some(caption) => caption.span(),
            None => first_line(post),
        };
        let length = network.count(&text);
        let limit = network.text_limit();
        if length > limit {
            diagnostics.push(
                Diagnostic::error(
                    path,
                    Some(span.clone()),
                    format!(
                        "légende trop longue pour {} : {} {}, {} au plus (hashtags de la série compris)",
                        network.display_name(),
                        thousands(length),
                        network.unit(),
                        thousands(limit)
                    ),
                )
                .with_hint(format!(
                    "raccourcissez-la de {} {}, ou écrivez une version pour ce réseau sous `[caption.{network}]` avec `text = \"…\"`",
                    thousands(length - limit),
                    network.unit()
                )),
            );
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
            let mut tags: Vec<String> = hashtags_in(&text)
                .iter()
                .map(|t| t.to_lowercase())
                .collect();
            tags.sort();
            tags.dedup();
            if tags.len() > most {
                diagnostics.push(
                    Diagnostic::error(
                        path,
                        Some(span),
                        format!(
                            "{} hashtags pour {}, {most} au plus (ceux de la série compris)",
                            tags.len(),
                            network.display_name()
                        ),
                    )
                    .with_hint(format!(
                        "retirez-en {}, ou écrivez une version sous `[caption.{network}]`",
                        tags.len() - most
                    )),
                );
            }
        }
    }
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

    #[test]
    fn groups_thousands_the_french_way() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(2200), "2 200");
        assert_eq!(thousands(1234567), "1 234 567");
    }
}
