//! `crieur render`: each post's image in each format, and its alt text.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::cli::{FormatArg, RenderArgs};
use crate::config::Config;
use crate::file::write_atomic;
use crate::post::Post;
use crate::post::template_of;
use crate::project::Project;
use crate::render::{self, Context, alt_text, layout};
use crate::template::{Format, Template};

use super::context::Outcome;

pub fn run(root: &Path, args: &RenderArgs) -> anyhow::Result<Outcome> {
    let project = super::context::load_checked(root)?;
    let selected = select(&project, &args.posts)?;
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
    let context = Context {
        brand: &config.brand,
        assets: &project.assets,
        french: config.typography.visuals,
    };
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
