//! `crieur new`: a new post to fill in, at the next free slot of its
//! series or at a given instant.

use std::path::Path;

use anyhow::{Context as _, bail};
use chrono::Duration;

use crate::cli::NewArgs;
use crate::diagnostic::suggest;
use crate::plan::{Window, format_local};
use crate::post::{POSTS_DIR, Post};
use crate::scaffold::{self, NewPost};

use super::context::Outcome;

pub fn run(root: &Path, args: &NewArgs) -> anyhow::Result<Outcome> {
    let project = super::context::load(root)?;
    let Some(config) = project.config.as_ref() else {
        super::context::print_report(&project.report);
        bail!(
            "la configuration a des erreurs : corrigez-les (voir `crieur check`) avant d'écrire un post"
        );
    };
    let tz = config.timezone;
    let now = super::context::now(tz)?;
    let (kind, template_id, folder) = match (&args.series, &args.template, &args.at) {
        (Some(series_id), _, _) => {
            let Some(series) = config.series.get(series_id) else {
                let known: Vec<&str> = config.series.keys().map(String::as_str).collect();
                let hint = suggest(series_id, &known)
                    .unwrap_or_else(|| format!("séries connues : {}", known.join(", ")));
                bail!("série inconnue `{series_id}` ({hint})");
            };
            let Some(template) = &series.template else {
                bail!(
                    "la série `{series_id}` n'a pas de modèle d'image (`template = \"…\"` dans config/crieur.toml)"
                );
            };
            let folder = scaffold::series_folder(config, &project.posts, series_id);
            (NewPost::Series(series), template.get_ref().clone(), folder)
        }
        (None, Some(template), Some(at)) => {
            let at = super::context::parse_instant(at, tz)?;
            if at <= now {
                bail!(
                    "la date {} est passée : choisissez une date à venir",
                    format_local(&at.with_timezone(&tz))
                );
            }
            let kind = NewPost::OneOff {
                at: at.with_timezone(&tz),
                channels: config.channels.keys().cloned().collect(),
            };
            (kind, template.clone(), template.clone())
        }
        _ => bail!(
            "donnez une série (`crieur new chiffre-de-la-semaine`) ou un modèle et une date (`crieur new --template evenement --at 2026-12-01T19:00`)"
        ),
    };
    let Some(template) = project.templates.get(&template_id) else {
        bail!(
            "modèle inconnu `{template_id}` : les modèles sont les fichiers de assets/templates/"
        );
    };
    let existing = names_in(&root.join(POSTS_DIR).join(&folder));
    let file = match &kind {
        NewPost::Series(_) => scaffold::next_name(&existing, args.title.as_deref()),
        NewPost::OneOff { at, .. } => format!(
            "{}-{}.md",
            at.format("%Y-%m-%d"),
            scaffold::slug(args.title.as_deref().unwrap_or(""))
        ),
    };
    let relative = format!("{POSTS_DIR}/{folder}/{file}");
    let target = root.join(&relative);
    if target.exists() {
        bail!("{relative} existe déjà : donnez un autre titre (`--title`)");
    }
    let order = project.report.source(&template.path);
    let text = scaffold::post_text(&kind, template, args.title.as_deref(), order);
    let id = relative[POSTS_DIR.len() + 1..relative.len() - 3].to_owned();
    let when = slot_of(&project, config, &text, &relative, &id, now);
    std::fs::create_dir_all(target.parent().unwrap_or(root))
        .with_context(|| format!("impossible de créer le dossier de {relative}"))?;
    crate::file::write_atomic(&target, text.as_bytes())
        .with_context(|| format!("impossible d'écrire {relative}"))?;
    println!("Post créé : {relative}");
    match when {
        Some((at, channels)) => println!(
            "Il partira le {} ({}) sur {}.",
            format_local(&at),
            tz.name(),
            channels.join(", ")
        ),
        None => println!("Aucun créneau libre de sa série dans l'année qui vient."),
    }
    println!("Complétez ses champs et sa légende, puis vérifiez avec `crieur check`.");
    Ok(Outcome::Success)
}

/// The file names of a folder.
fn names_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Where the new post falls in the calendar: the next slot no other post
/// takes.
fn slot_of(
    project: &crate::project::Project,
    config: &crate::config::Config,
    text: &str,
    path: &str,
    id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<(chrono::DateTime<chrono_tz::Tz>, Vec<String>)> {
    let (post, _) = Post::parse(text, path, id, config.timezone);
    let mut posts = project.posts.clone();
    posts.push(post?);
    posts.sort_by(|a, b| a.id.cmp(&b.id));
    let window = Window {
        from: now,
        until: now + Duration::weeks(53),
    };
    let plan = crate::plan::plan_with(config, &posts, window, &project.pins);
    plan.slots
        .into_iter()
        .find(|slot| slot.post == id)
        .map(|slot| (slot.at, slot.channels))
}
