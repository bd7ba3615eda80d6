//! The activity report's communication section as the command and the
//! preview make it: the project and the state store read, handed to the
//! core's [`crieur_core::report`], and each post's card drawn small for
//! the page. Nothing here asks the networks: figures come from the store
//! (see `publish::engagement` for how they get there).

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::DateTime;
use chrono_tz::Tz;
use rayon::prelude::*;

use crate::publish::engagement::{self, Failure};
use crate::store::{Store, StoreError};
use crieur_core::project::Project;
use crieur_core::render::{self, Context};
use crieur_core::report::{self, Input, Period, PostInfo, Report, Thumbnail};

/// The width of a card in the page, in pixels (twice what it shows, for
/// print).
const THUMBNAIL: u32 = 160;

/// A failure of the last refresh, said in French, its instants in the
/// project's zone.
pub fn note(failure: &Failure, tz: Tz) -> String {
    let when = |text: &str| match DateTime::parse_from_rfc3339(text) {
        Ok(at) => report::instant_words(&at.with_timezone(&tz).to_rfc3339()),
        Err(_) => text.to_owned(),
    };
    let shown = match &failure.shown {
        Some(at) => format!("ses chiffres sont ceux relevés le {}", when(at)),
        None => "aucun chiffre n'a encore été relevé pour ses posts".to_owned(),
    };
    format!(
        "{} n'a pas pu être lu le {} ({}) : {shown}.",
        failure.holder,
        when(&failure.at),
        failure.message
    )
}

/// The report of a period from the project and the store (none: nothing
/// was ever sent).
pub fn build(
    project: &Project,
    store: Option<&Store>,
    period: Period,
) -> Result<Report, StoreError> {
    let (deliveries, engagement, urls, failures) = match store {
        Some(store) => (
            store.deliveries()?,
            store.engagement()?,
            store.public_urls()?,
            engagement::failures(store)?,
        ),
        None => Default::default(),
    };
    // The figures shown were read at the latest then: a refresh that read
    // nothing does not make them newer.
    let refreshed_at = engagement.values().map(|e| e.read_at).max();
    let posts = posts(project);
    let channels = project
        .config
        .as_ref()
        .map(|config| {
            config
                .channels
                .values()
                .map(|c| (c.id.clone(), c.network))
                .collect()
        })
        .unwrap_or_default();
    let brand = project
        .config
        .as_ref()
        .map(|c| c.brand.name.clone())
        .unwrap_or_default();
    let tz = period.from.timezone();
    let notes: Vec<String> = failures.iter().map(|f| note(f, tz)).collect();
    Ok(report::build(&Input {
        brand: &brand,
        period,
        deliveries: &deliveries,
        engagement: &engagement,
        urls: &urls,
        posts: &posts,
        channels: &channels,
        notes: &notes,
        refreshed_at,
    }))
}

/// Each post's title and series.
fn posts(project: &Project) -> BTreeMap<String, PostInfo> {
    let Some(config) = project.config.as_ref() else {
        return BTreeMap::new();
    };
    project
        .posts
        .iter()
        .map(|post| {
            (
                post.id.clone(),
                PostInfo {
                    title: crieur_core::calendar::title(project, config, post),
                    series: post.series.as_ref().map(|s| s.get_ref().clone()),
                },
            )
        })
        .collect()
}

/// One post's card, small, as a `data:` URI, with its alt text.
fn thumbnail(project: &Project, id: &str) -> Option<Thumbnail> {
    let config = project.config.as_ref()?;
    let post = project.posts.iter().find(|post| post.id == id)?;
    let template =
        crieur_core::post::template_of(post, config).and_then(|t| project.templates.get(t))?;
    let format = *template.formats.keys().next()?;
    let context = Context::of(config, &project.assets);
    let sizes = project.sizes_for(context, &[post]);
    let context = context.with_sizes(&sizes);
    let card = render::layout(context, template, format, post).ok()?;
    let png = render::encode_png(render::draw(&card)).ok()?;
    let small = image::load_from_memory(&png)
        .ok()?
        .thumbnail(THUMBNAIL, THUMBNAIL * 2);
    let mut bytes = std::io::Cursor::new(Vec::new());
    small.write_to(&mut bytes, image::ImageFormat::Png).ok()?;
    Some(Thumbnail {
        data_uri: format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(bytes.into_inner())
        ),
        alt: crate::publish::pass::alt_for(template, post),
    })
}

/// The cards of the report's posts, drawn on rayon's threads.
pub fn thumbnails(project: &Project, report: &Report) -> BTreeMap<String, Thumbnail> {
    let mut ids: Vec<&str> = report.posts.iter().map(|row| row.post.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.par_iter()
        .filter_map(|id| thumbnail(project, id).map(|t| ((*id).to_owned(), t)))
        .collect()
}

/// The whole page, cards included.
pub fn page(
    project: &Project,
    store: Option<&Store>,
    period: Period,
) -> Result<String, StoreError> {
    let report = build(project, store, period)?;
    Ok(report::html(&report, &thumbnails(project, &report)))
}
