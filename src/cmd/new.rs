//! `crieur new`: a new post to fill in, at the next free slot of its
//! series or at a given instant.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::cli::NewArgs;
use crate::diagnostic::suggest;
use crate::plan::{Plan, Window, format_local};
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
    let file = match &kind {
        NewPost::Series(series) => scaffold::next_name(
            &series_names(root, &project, &folder, &series.id),
            args.title.as_deref(),
        ),
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
    let new = New {
        root,
        project: &project,
        config,
        path: &relative,
        window: Window {
            from: now,
            until: now + Duration::weeks(53),
        },
    };
    let (text, when, fixed) = new.place(&kind, text);
    std::fs::create_dir_all(target.parent().unwrap_or(root))
        .with_context(|| format!("impossible de créer le dossier de {relative}"))?;
    crate::file::write_atomic(&target, text.as_bytes())
        .with_context(|| format!("impossible d'écrire {relative}"))?;
    announce(&relative, when, fixed, tz);
    Ok(Outcome::Success)
}

/// What `new` says: the file written, when it goes out, and why its
/// instant was written if it was.
fn announce(relative: &str, when: When, fixed: bool, tz: Tz) {
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
    if fixed {
        println!(
            "Son nom ne vient pas après ceux des autres posts de la série : sa date est fixée (`publish_at`) pour qu'aucun autre post ne change de créneau."
        );
    }
    println!("Complétez ses champs et sa légende, puis vérifiez avec `crieur check`.");
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

/// The file names a new post of a series must not take the number of:
/// those of its folder, and those of the series' posts in other folders.
fn series_names(
    root: &Path,
    project: &crate::project::Project,
    folder: &str,
    series: &str,
) -> Vec<String> {
    let mut names = names_in(&root.join(POSTS_DIR).join(folder));
    names.extend(
        project
            .posts
            .iter()
            .filter(|post| post.series.as_ref().is_some_and(|s| s.get_ref() == series))
            .map(|post| {
                let name = post
                    .id
                    .rsplit_once('/')
                    .map_or(post.id.as_str(), |(_, name)| name);
                format!("{name}.md")
            }),
    );
    names
}

/// A new post about to be written at `path`, and the calendar it joins.
struct New<'a> {
    root: &'a Path,
    project: &'a crate::project::Project,
    config: &'a crate::config::Config,
    path: &'a str,
    window: Window,
}

/// An instant of the calendar, in the project's zone, and its channels.
type When = Option<(DateTime<Tz>, Vec<String>)>;

impl New<'_> {
    /// The post's id: its path under `posts/`, without `.md`.
    fn id(&self) -> &str {
        &self.path[POSTS_DIR.len() + 1..self.path.len() - 3]
    }

    /// The post's text and slot, and whether its instant had to be
    /// written. A post of a series takes the first slot of the series that
    /// no other post holds: the series' posts fill its free slots in the
    /// order of their names, and the new one, numbered after them, comes
    /// last. When its name does not come last (a post of the series named
    /// after it in another folder, numbers going from 99 to 100), that
    /// slot is written as its `publish_at`, so that no other post moves.
    fn place(&self, kind: &NewPost<'_>, text: String) -> (String, When, bool) {
        let when = self.slot_of(&text);
        let NewPost::Series(series) = kind else {
            return (text, when, false);
        };
        if series.repeat {
            return (text, when, false);
        }
        let free = self
            .calendar(&self.project.posts)
            .empty
            .into_iter()
            .find(|slot| slot.series == series.id);
        match free {
            Some(free) if when.as_ref().map(|(at, _)| *at) != Some(free.at) => {
                let text = scaffold::with_publish_at(&text, free.at);
                let when = self.slot_of(&text);
                (text, when, true)
            }
            _ => (text, when, false),
        }
    }

    /// Where the post of `text` falls in the calendar, with every other
    /// post.
    fn slot_of(&self, text: &str) -> When {
        let id = self.id();
        let (post, _) = Post::parse(text, self.path, id, self.config.timezone);
        let mut posts = self.project.posts.clone();
        posts.push(post?);
        posts.sort_by(|a, b| a.id.cmp(&b.id));
        self.calendar(&posts)
            .slots
            .into_iter()
            .find(|slot| slot.post == id)
            .map(|slot| (slot.at, slot.channels))
    }

    /// The plan of `posts`, as every command lays it out: the instants the
    /// store pinned for a post whose file cannot be read stay its own.
    fn calendar(&self, posts: &[Post]) -> Plan {
        let project = self.project;
        let unreadable = |id: &String| {
            !project.posts.iter().any(|post| &post.id == id)
                && self.root.join(POSTS_DIR).join(format!("{id}.md")).is_file()
        };
        let reserved: BTreeSet<DateTime<Utc>> = project
            .pins
            .iter()
            .filter(|(id, _)| unreadable(id))
            .flat_map(|(_, instants)| instants.iter().copied())
            .collect();
        crate::plan::plan_reserving(self.config, posts, self.window, &project.pins, &reserved)
    }
}
