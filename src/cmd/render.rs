//! `crieur render`: each post's image in each format, and its alt text.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::check::template_of;
use crate::cli::{FormatArg, RenderArgs};
use crate::config::{CONFIG_PATH, Config};
use crate::file::write_atomic;
use crate::post::Post;
use crate::project::Project;
use crate::render::{self, Context, alt_text, layout};
use crate::template::{Format, TEMPLATES_DIR, Template};

use super::Outcome;

pub fn run(root: &Path, args: &RenderArgs) -> anyhow::Result<Outcome> {
    let project = super::load_checked(root)?;

    let selected = select(&project, &args.posts)?;
    // Errors in the configuration or a template spoil every image; errors in
    // a post spoil its own.
    let broken_files: BTreeSet<String> = project
        .report
        .diagnostics()
        .into_iter()
        .filter(|d| d.is_error())
        .map(|d| d.path.clone())
        .collect();
    let shared_broken = broken_files
        .iter()
        .any(|path| path == CONFIG_PATH || path.starts_with(TEMPLATES_DIR));
    let (ready, broken): (Vec<&Post>, Vec<&Post>) = selected
        .into_iter()
        .partition(|post| !shared_broken && !broken_files.contains(&post.path));
    if !broken.is_empty() || shared_broken {
        super::print_report(&project.report);
    }
    let Some(config) = project.config.as_ref().filter(|_| !shared_broken) else {
        eprintln!("La configuration ou un modèle a des erreurs : aucune image dessinée.");
        return Ok(Outcome::Invalid);
    };

    let jobs = jobs(config, &project, &ready, args.format);
    let outputs = render_all(config, &project, &jobs, &args.out)?;
    for path in &outputs {
        println!("{}", path.display());
    }
    if broken.is_empty() {
        Ok(Outcome::Success)
    } else {
        eprintln!(
            "{} post{} non dessiné{} à cause d'erreurs (voir ci-dessus).",
            broken.len(),
            if broken.len() > 1 { "s" } else { "" },
            if broken.len() > 1 { "s" } else { "" },
        );
        Ok(Outcome::Invalid)
    }
}

/// The posts named on the command line (by id or file), or every post that
/// is not a draft.
fn select<'p>(project: &'p Project, names: &[String]) -> anyhow::Result<Vec<&'p Post>> {
    if names.is_empty() {
        return Ok(project.posts.iter().filter(|post| !post.draft).collect());
    }
    let mut selected = Vec::new();
    for name in names {
        let id = name
            .trim_start_matches("./")
            .trim_start_matches("posts/")
            .trim_end_matches(".md");
        match project.posts.iter().find(|post| post.id == id) {
            Some(post) => selected.push(post),
            None => {
                let exists = project
                    .root
                    .join("posts")
                    .join(format!("{id}.md"))
                    .is_file();
                if !exists {
                    bail!("post introuvable : `{name}` (ni posts/{id}.md)");
                }
                // The file exists but does not parse: its errors are shown.
            }
        }
    }
    Ok(selected)
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
    let context = Context {
        brand: &config.brand,
        assets: &project.assets,
        french: config.typography.visuals,
    };
    let progress = if jobs.len() > 1 && std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(jobs.len() as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images ({eta})")
            .expect("a valid progress template"),
    );
    let results: Vec<anyhow::Result<Vec<PathBuf>>> = jobs
        .par_iter()
        .map(|job| {
            let written = render_one(context, job, &out);
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

fn render_one(context: Context<'_>, job: &Job<'_>, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let card = layout(context, job.template, job.format, job.post).map_err(|problems| {
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("{} ({}) : {}", job.post.id, job.format, text.join(" ; "))
    })?;
    let png = render::encode_png(render::draw(&card))
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
