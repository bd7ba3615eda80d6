//! `crieur render`: each post's image in each format, and its alt text.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::cli::{FormatArg, RenderArgs};
use crate::config::{CONFIG_PATH, Config};
use crate::file::write_atomic;
use crate::loader::{ASSETS_DIR, FONTS_DIR};
use crate::post::{POSTS_DIR, Post, template_of};
use crate::project::Project;
use crate::render::layout::Sizes;
use crate::render::{self, Context, alt_text, layout};
use crate::template::{Format, TEMPLATES_DIR, Template};

use super::context::Outcome;

pub fn run(root: &Path, args: &RenderArgs) -> anyhow::Result<Outcome> {
    let project = super::context::load_checked(root)?;
    let selected = match &args.changed_since {
        Some(reference) => {
            let files = changed_files(&project.root, reference)?;
            let selected = select_changed(&project, &files)?;
            if selected.is_empty() {
                eprintln!("Aucun post n'a changé depuis `{reference}` : aucune image dessinée.");
                return Ok(Outcome::Success);
            }
            selected
        }
        None => select(&project, &args.posts)?,
    };
    let verdicts = crate::verdict::judge(&project, &project.report);
    let Some(config) = project.config.as_ref() else {
        super::context::print_report(&project.report);
        eprintln!("La configuration a des erreurs : aucune image dessinée.");
        return Ok(Outcome::Invalid);
    };
    // Every image whose visual fields are sound is drawn, whatever the
    // caption; the problems of the selected posts are shown all the same.
    let drawable = |id: &str| verdicts.get(id).is_some_and(|v| v.drawable);
    let ready: Vec<&Post> = selected
        .iter()
        .filter(|id| drawable(id))
        .filter_map(|id| project.posts.iter().find(|p| p.id == **id))
        .collect();
    let with_errors: Vec<&String> = selected
        .iter()
        .filter(|id| verdicts.get(id).is_some_and(|v| !v.problems.is_empty()))
        .collect();
    let undrawn = selected.len() - ready.len();
    if !with_errors.is_empty() || project.report.has_errors() {
        super::context::print_report(&project.report);
    }
    let jobs = jobs(config, &project, &ready, args.format);
    if args.layout_json {
        println!("{}", layout_json(config, &project, &jobs)?);
    } else {
        let outputs = render_all(config, &project, &jobs, &args.out)?;
        for path in &outputs {
            println!("{}", path.display());
        }
    }
    if with_errors.is_empty() && undrawn == 0 && !project.report.has_errors() {
        return Ok(Outcome::Success);
    }
    let plural = |n: usize| if n > 1 { "s" } else { "" };
    eprintln!(
        "{} post{} dessiné{}, {undrawn} post{} non dessiné{} ; {} post{} avec des erreurs (voir ci-dessus).",
        ready.len(),
        plural(ready.len()),
        plural(ready.len()),
        plural(undrawn),
        plural(undrawn),
        with_errors.len(),
        plural(with_errors.len()),
    );
    Ok(Outcome::Invalid)
}

/// The posts named on the command line (by id or file), or every post
/// file that is not a draft, by id (files that are no post included: their
/// problems are shown).
fn select(project: &Project, names: &[String]) -> anyhow::Result<Vec<String>> {
    if names.is_empty() {
        let drafts: BTreeSet<&str> = project
            .posts
            .iter()
            .filter(|post| post.draft)
            .map(|post| post.id.as_str())
            .collect();
        return Ok(project
            .post_ids
            .iter()
            .filter(|id| !drafts.contains(id.as_str()))
            .cloned()
            .collect());
    }
    let mut selected = Vec::new();
    for name in names {
        let id = name
            .trim_start_matches("./")
            .trim_start_matches("posts/")
            .trim_end_matches(".md");
        if !project.post_ids.iter().any(|known| known == id) {
            bail!(
                "post introuvable : `{name}` (ni {})",
                project.report.display_path(&format!("posts/{id}.md"))
            );
        }
        selected.push(id.to_owned());
    }
    Ok(selected)
}

/// The posts the files changed select, as [`select`] would take them
/// without names (drafts left out): a post whose file changed, the posts
/// of a changed template, and every post when the configuration, a font or
/// an image changed, which the cards all draw with.
fn select_changed(project: &Project, files: &BTreeSet<String>) -> anyhow::Result<Vec<String>> {
    if let Some(file) = files.iter().find(|file| draws_every_card(file)) {
        eprintln!(
            "{} a changé : tous les posts sont dessinés.",
            project.report.display_path(file)
        );
        return select(project, &[]);
    }
    let templates: BTreeSet<&str> = files
        .iter()
        .filter_map(|file| {
            file.strip_prefix(TEMPLATES_DIR)?
                .strip_prefix('/')?
                .strip_suffix(".toml")
        })
        .collect();
    let mut by_template = BTreeSet::new();
    if let Some(config) = &project.config {
        for post in &project.posts {
            if template_of(post, config).is_some_and(|id| templates.contains(id)) {
                by_template.insert(post.id.as_str());
            }
        }
    }
    for template in &templates {
        eprintln!("Le modèle `{template}` a changé : ses posts sont dessinés.");
    }
    Ok(select(project, &[])?
        .into_iter()
        .filter(|id| {
            files.contains(&format!("{POSTS_DIR}/{id}.md")) || by_template.contains(id.as_str())
        })
        .collect())
}

/// Whether a changed file is one every card is drawn with: the
/// configuration (brand, colours, fonts), a font, or an image (a logo, an
/// icon, a picture), as the loader finds them.
fn draws_every_card(file: &str) -> bool {
    file == CONFIG_PATH
        || (file.starts_with(&format!("{FONTS_DIR}/"))
            && (file.ends_with(".ttf") || file.ends_with(".otf")))
        || (file.starts_with(&format!("{ASSETS_DIR}/")) && file.ends_with(".png"))
}

/// The files that differ between `reference` and the working tree, with
/// those staged or not and the new ones git does not ignore, as paths
/// relative to the project's root; files outside the project are left out.
fn changed_files(root: &Path, reference: &str) -> anyhow::Result<BTreeSet<String>> {
    // The project's folder inside the repository (`site/`, or empty): git
    // names files from the repository's top.
    let prefix = git(root, &["rev-parse", "--show-prefix"])?
        .map_err(|detail| anyhow::anyhow!(not_a_repository(&detail)))?;
    let prefix = prefix.trim_end_matches('\n');
    // A reference that starts with `-` would be read as an option.
    let commit = if reference.starts_with('-') {
        None
    } else {
        git(
            root,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{reference}^{{commit}}"),
            ],
        )?
        .ok()
    };
    let Some(commit) = commit else {
        bail!(unknown_reference(reference));
    };
    let commit = commit.trim();
    // `-z`: names as they are, not quoted (accents); no renames, so that a
    // renamed post counts as the new file it is.
    let listings = [
        &[
            "diff",
            "--name-only",
            "--no-renames",
            "--no-ext-diff",
            "-z",
            commit,
            "--",
            ".",
        ][..],
        &[
            "ls-files",
            "--others",
            "--exclude-standard",
            "--full-name",
            "-z",
            "--",
            ".",
        ],
    ];
    let mut files = BTreeSet::new();
    for listing in listings {
        let names = git(root, listing)?
            .map_err(|detail| anyhow::anyhow!("git {} a échoué ({detail})", listing[0]))?;
        files.extend(
            names
                .split('\0')
                .filter_map(|name| name.strip_prefix(prefix))
                .filter(|name| !name.is_empty())
                .map(str::to_owned),
        );
    }
    Ok(files)
}

/// Runs `git ARGS` in `dir`: what it writes on standard output, or, when
/// it fails, the first line it writes on standard error.
fn git(dir: &Path, args: &[&str]) -> anyhow::Result<Result<String, String>> {
    // The current folder is the empty path to `Path::join`, not to a child.
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .context("impossible de lancer git, dont `--changed-since` a besoin : installez-le")?;
    if output.status.success() {
        return Ok(Ok(String::from_utf8_lossy(&output.stdout).into_owned()));
    }
    let said = String::from_utf8_lossy(&output.stderr);
    let first = said.lines().next().unwrap_or_default();
    Ok(Err(first.trim_start_matches("fatal: ").to_owned()))
}

fn not_a_repository(detail: &str) -> String {
    format!(
        "`--changed-since` compare les fichiers à ceux d'un commit, mais le projet n'est pas dans un dépôt git (git : {detail})\n\
         \x20 - lancez la commande dans un clone du dépôt\n\
         \x20 - ou nommez les posts à dessiner : `crieur render POST…`"
    )
}

fn unknown_reference(reference: &str) -> String {
    format!(
        "référence git inconnue : `{reference}` (`--changed-since`)\n\
         \x20 - vérifiez le nom de la branche, de l'étiquette ou du commit\n\
         \x20 - pour une branche distante, récupérez-la d'abord : `git fetch origin`\n\
         \x20 - en intégration continue, récupérez tout l'historique : `fetch-depth: 0` pour actions/checkout (GitHub), `GIT_DEPTH: 0` (GitLab)"
    )
}

struct Job<'a> {
    post: &'a Post,
    template: &'a Template,
    format: Format,
    /// The post's first image, which writes its alt text.
    first: bool,
}

fn jobs<'a>(
    config: &'a Config,
    project: &'a Project,
    posts: &[&'a Post],
    wanted: FormatArg,
) -> Vec<Job<'a>> {
    let mut jobs = Vec::new();
    for post in posts {
        let Some(template) = template_of(post, config).and_then(|id| project.templates.get(id))
        else {
            continue;
        };
        let mut first = true;
        for &format in template.formats.keys() {
            let keep = match wanted {
                FormatArg::All => true,
                FormatArg::Carre => format == Format::Carre,
                FormatArg::Portrait => format == Format::Portrait,
                FormatArg::Paysage => format == Format::Paysage,
            };
            if keep {
                jobs.push(Job {
                    post,
                    template,
                    format,
                    first,
                });
                first = false;
            }
        }
    }
    jobs
}

/// One image as `--layout-json` prints it.
#[derive(serde::Serialize)]
struct ImageLayout<'a> {
    post: &'a str,
    format: Format,
    width: u32,
    height: u32,
    texts: Vec<render::layout::TextBox>,
}

/// The texts of every job's card, as `--layout-json` prints them.
fn layout_json(config: &Config, project: &Project, jobs: &[Job<'_>]) -> anyhow::Result<String> {
    let sizes = series_sizes(config, project, jobs);
    let context = Context::of(config, &project.assets).with_sizes(&sizes);
    let mut images = Vec::new();
    for job in jobs {
        let card = layout(context, job.template, job.format, job.post).map_err(|problems| {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("{} ({}) : {}", job.post.id, job.format, text.join(" ; "))
        })?;
        images.push(ImageLayout {
            post: &job.post.id,
            format: job.format,
            width: card.width,
            height: card.height,
            texts: card.texts(),
        });
    }
    #[derive(serde::Serialize)]
    struct Layouts<'a> {
        images: Vec<ImageLayout<'a>>,
    }
    Ok(serde_json::to_string_pretty(&Layouts { images })?)
}

/// The sizes the texts of the jobs' series take.
fn series_sizes<'p>(config: &Config, project: &'p Project, jobs: &[Job<'_>]) -> Cow<'p, Sizes> {
    let posts: Vec<&Post> = jobs.iter().map(|job| job.post).collect();
    project.sizes_for(Context::of(config, &project.assets), &posts)
}

/// Renders every job on every core; returns the files written, sorted.
fn render_all(
    config: &Config,
    project: &Project,
    jobs: &[Job<'_>],
    out: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let out = if out.is_absolute() {
        out.to_owned()
    } else {
        project.root.join(out)
    };
    let sizes = series_sizes(config, project, jobs);
    let context = Context::of(config, &project.assets).with_sizes(&sizes);
    let progress = if jobs.len() > 1 && std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(jobs.len() as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images ({eta})")
            .expect("a valid progress template"),
    );
    // The cards of a template share most of their rows.
    let batch = render::Batch::default();
    let results: Vec<anyhow::Result<Vec<PathBuf>>> = jobs
        .par_iter()
        .map(|job| {
            let written = render_one(context, job, &out, &batch);
            progress.inc(1);
            written
        })
        .collect();
    progress.finish_and_clear();
    let mut written = Vec::new();
    for result in results {
        written.extend(result?);
    }
    written.sort();
    written.dedup();
    Ok(written)
}

fn render_one(
    context: Context<'_>,
    job: &Job<'_>,
    out: &Path,
    batch: &render::Batch,
) -> anyhow::Result<Vec<PathBuf>> {
    let card = layout(context, job.template, job.format, job.post).map_err(|problems| {
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("{} ({}) : {}", job.post.id, job.format, text.join(" ; "))
    })?;
    let png = batch
        .encode_png(card)
        .with_context(|| format!("{} ({})", job.post.id, job.format))?;
    let image = out.join(format!("{}.{}.png", job.post.id, job.format));
    write_atomic(&image, &png)
        .with_context(|| format!("impossible d'écrire {}", image.display()))?;
    let mut written = vec![image];
    // One alt text per post, whatever the format: written with the first.
    if job.first {
        let alt = out.join(format!("{}.alt.txt", job.post.id));
        write_atomic(
            &alt,
            format!("{}\n", alt_text(job.template, job.post)).as_bytes(),
        )
        .with_context(|| format!("impossible d'écrire {}", alt.display()))?;
        written.push(alt);
    }
    Ok(written)
}
