//! `crieur import`: one post per row of a CSV file, all checked before any
//! is written.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::cli::ImportArgs;
use crate::config::Config;
use crate::diagnostic::{Diagnostic, Report, suggest};
use crate::import::{self, Head, Made};
use crate::plan::{Plan, Window, format_local};
use crate::post::{POSTS_DIR, Post};
use crate::project::Project;
use crate::scaffold;
use crate::template::Template;

use super::context::Outcome;

pub fn run(root: &Path, args: &ImportArgs) -> anyhow::Result<Outcome> {
    let project = super::context::load(root)?;
    let Some(config) = project.config.as_ref() else {
        super::context::print_report(&project.report);
        bail!(
            "la configuration a des erreurs : corrigez-les (voir `crieur check`) avant d'importer"
        );
    };
    let csv_path = args.file.display().to_string();
    let mut report = Report::new();
    let Some(text) = read_sheet(&args.file, &csv_path, &mut report)? else {
        return refuse(&report);
    };
    let (head, template_id, folder) = head_of(config, &project, args)?;
    let Some(template) = project.templates.get(&template_id) else {
        bail!(
            "modèle inconnu `{template_id}` : les modèles sont les fichiers de assets/templates/"
        );
    };
    let table = match import::read(&text, &csv_path) {
        Ok(table) => table,
        Err(diagnostic) => {
            report.push(diagnostic);
            return refuse(&report);
        }
    };
    let (columns, problems) = import::columns(&table, template, &csv_path);
    report.extend(problems);
    // What is written is checked as `check` will read it: a control
    // character (a NUL makes a binary file) stops here, at its cell.
    let controls = import::controls(&text, &table, &csv_path);
    if !controls.is_empty() {
        report.extend(controls);
        return refuse(&report);
    }
    let made = import::make(&table, &columns, &head, template);
    report.extend(
        made.iter()
            .filter_map(|made| import::unwritable(made, &csv_path)),
    );
    let files = name_files(root, &folder, &made, &head);
    let tz = config.timezone;
    let now = super::context::now(tz)?;
    let sheet = Sheet {
        template,
        path: &csv_path,
    };
    let (with_new, problems) = check_rows(root, &project, &files, &made, &sheet, tz, now);
    report.extend(problems);
    if report.has_errors() {
        return refuse(&report);
    }
    if report.warning_count() > 0 {
        super::context::print_report(&report);
    }
    let window = Window {
        from: now,
        until: now + Duration::weeks(53),
    };
    let plan = crate::plan::plan_with(config, &with_new.posts, window, &with_new.pins);
    if !args.dry_run {
        write_all(root, &files, &made)?;
    }
    tell(&files, &plan, args.dry_run);
    Ok(Outcome::Success)
}

/// The sheet's text, kept in `report` to be shown under its problems;
/// `None` when it is not UTF-8 text, its problems in `report`.
fn read_sheet(file: &Path, csv_path: &str, report: &mut Report) -> anyhow::Result<Option<String>> {
    let bytes = std::fs::read(file).with_context(|| {
        format!(
            "impossible de lire {} (un fichier CSV en UTF-8)",
            file.display()
        )
    })?;
    // The file as shown under a diagnostic: no control character reaches
    // the terminal.
    match import::decode(&bytes, csv_path) {
        Ok(text) => {
            report.add_source(csv_path, Arc::from(import::displayable(&text)));
            Ok(Some(text))
        }
        Err((shown, problems)) => {
            report.add_source(csv_path, Arc::from(import::displayable(&shown)));
            report.extend(problems);
            Ok(None)
        }
    }
}

/// What the rows become, from `--series` or `--template`: the head of
/// each post, its template and the folder under `posts/`.
fn head_of<'a>(
    config: &Config,
    project: &Project,
    args: &'a ImportArgs,
) -> anyhow::Result<(Head<'a>, String, String)> {
    let channels: Vec<String> = config.channels.keys().cloned().collect();
    Ok(match (&args.series, &args.template) {
        (Some(series), _) => {
            let Some(found) = config.series.get(series) else {
                let known: Vec<&str> = config.series.keys().map(String::as_str).collect();
                bail!(
                    "série inconnue `{series}` ({})",
                    suggest(series, &known)
                        .unwrap_or_else(|| format!("séries connues : {}", known.join(", ")))
                );
            };
            let Some(template) = &found.template else {
                bail!("la série `{series}` n'a pas de modèle d'image");
            };
            let folder = scaffold::series_folder(config, &project.posts, series);
            (Head::Series(series), template.get_ref().clone(), folder)
        }
        (None, Some(template)) => (
            Head::Template {
                id: template,
                channels,
            },
            template.clone(),
            template.clone(),
        ),
        (None, None) => bail!("donnez `--series SÉRIE` ou `--template MODÈLE`"),
    })
}

/// The sheet the rows come from: its template and its path.
struct Sheet<'a> {
    template: &'a Template,
    path: &'a str,
}

/// Checks the rows as `check` will read their files: the project with the
/// new posts, and every problem at its row and column, with a hint that
/// speaks of the sheet.
fn check_rows(
    root: &Path,
    project: &Project,
    files: &[(String, String)],
    made: &[Made],
    sheet: &Sheet<'_>,
    tz: Tz,
    now: DateTime<Utc>,
) -> (Project, Vec<Diagnostic>) {
    let mut problems = Vec::new();
    let mut with_new = project.clone();
    for ((path, id), made) in files.iter().zip(made) {
        if root.join(path).exists() {
            problems.push(Diagnostic::error(
                sheet.path,
                Some(made.row_span.clone()),
                format!("{path} existe déjà"),
            ));
        }
        with_new
            .report
            .add_source(path, Arc::from(made.text.as_str()));
        let (post, diagnostics) = Post::parse(&made.text, path, id, tz);
        problems.extend(import::relocate(
            made,
            sheet.template,
            &diagnostics,
            sheet.path,
        ));
        with_new.posts.extend(post);
        with_new.post_ids.push(id.clone());
    }
    with_new.posts.sort_by(|a, b| a.id.cmp(&b.id));
    let checked = crate::check::check(&with_new, now);
    for ((path, _), made) in files.iter().zip(made) {
        let own: Vec<Diagnostic> = checked
            .iter()
            .filter(|d| &d.path == path)
            .cloned()
            .collect();
        problems.extend(import::relocate(made, sheet.template, &own, sheet.path));
    }
    problems.extend(clashes(project, files, made, &checked, sheet, now));
    (with_new, problems)
}

/// The problems the new posts cause in existing files (two posts at one
/// instant on one channel, told on whichever comes second), said at the
/// row of the new post they name.
fn clashes(
    project: &Project,
    files: &[(String, String)],
    made: &[Made],
    checked: &[Diagnostic],
    sheet: &Sheet<'_>,
    now: DateTime<Utc>,
) -> Vec<Diagnostic> {
    let before = crate::check::check(project, now);
    let new = |path: &String| files.iter().any(|(new, _)| new == path);
    let caused = checked
        .iter()
        .filter(|d| d.is_error() && !new(&d.path) && !before.contains(d));
    let mut problems = Vec::new();
    for diagnostic in caused {
        for ((_, id), made) in files.iter().zip(made) {
            if diagnostic.message.contains(&format!("`{id}`")) {
                problems.push(
                    Diagnostic::error(
                        sheet.path,
                        Some(made.row_span.clone()),
                        format!(
                            "ce post crée une erreur dans {} : {}",
                            diagnostic.path, diagnostic.message
                        ),
                    )
                    .with_hint(
                        "changez la date de publication de cette ligne, ou retirez-lui ce canal",
                    ),
                );
            }
        }
    }
    problems
}

/// Says each file made (or that would be) and its slot in the coming year.
fn tell(files: &[(String, String)], plan: &Plan, dry_run: bool) {
    let verb = if dry_run { "serait créé" } else { "créé" };
    for (path, id) in files {
        let when = plan.slots.iter().find(|slot| &slot.post == id).map_or_else(
            || "sans créneau dans l'année".to_owned(),
            |slot| format!("le {}", format_local(&slot.at)),
        );
        println!("{verb} : {path} ({when})");
    }
    if dry_run {
        println!("Simulation : rien n'est écrit.");
    }
}

/// Every problem, at its row and column; nothing is written.
fn refuse(report: &Report) -> anyhow::Result<Outcome> {
    super::context::print_report(report);
    eprintln!("Rien n'est écrit : corrigez le fichier CSV, puis relancez l'import.");
    Ok(Outcome::Invalid)
}

/// The file of each row, named as `crieur new` names them: numbered after
/// the series' last post, or by date for one-off posts.
fn name_files(root: &Path, folder: &str, made: &[Made], head: &Head<'_>) -> Vec<(String, String)> {
    let dir = root.join(POSTS_DIR).join(folder);
    let mut existing: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    made.iter()
        .map(|made| {
            let name = match head {
                Head::Series(_) => scaffold::next_name(&existing, Some(&made.title)),
                Head::Template { .. } => {
                    let date = made
                        .text
                        .lines()
                        .find_map(|line| line.strip_prefix("publish_at = "))
                        .map(|at| at.chars().take(10).collect::<String>())
                        .filter(|d| d.chars().all(|c| c.is_ascii_digit() || c == '-'))
                        .unwrap_or_else(|| "import".to_owned());
                    let mut name = format!("{date}-{}.md", scaffold::slug(&made.title));
                    let mut n = 2;
                    while existing.contains(&name) {
                        name = format!("{date}-{}-{n}.md", scaffold::slug(&made.title));
                        n += 1;
                    }
                    name
                }
            };
            existing.push(name.clone());
            let path = format!("{POSTS_DIR}/{folder}/{name}");
            let id = path[POSTS_DIR.len() + 1..path.len() - 3].to_owned();
            (path, id)
        })
        .collect()
}

/// Writes every post, or none.
fn write_all(root: &Path, files: &[(String, String)], made: &[Made]) -> anyhow::Result<()> {
    let files: Vec<(String, &[u8])> = files
        .iter()
        .zip(made)
        .map(|((path, _), made)| (path.clone(), made.text.as_bytes()))
        .collect();
    crate::file::write_all_new(root, &files).map_err(|(path, error)| {
        anyhow::anyhow!("impossible d'écrire {path} : {error} ; rien n'est gardé")
    })
}
