//! `crieur init`: a complete, working project in a folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};

use crate::cli::InitArgs;
use crate::config::{Brand, CONFIG_PATH};
use crate::contrast::hex;
use crate::render::{self, Assets, Context};
use crate::scaffold::{self, Init, Palette};
use crate::template::Format;
use crate::typography::FontFace;

use super::context::Outcome;

pub fn run(args: &InitArgs) -> anyhow::Result<Outcome> {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let init = options(args, &dir)?;
    let palette = scaffold::palette(init.primary, init.accent);
    let mut files = scaffold::project_files(&init, &palette);
    let drawn = "assets/logos/logo.png";
    let mut paths: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
    if init.logo.is_none() {
        paths.push(drawn);
    }
    // A folder under git may hold a .gitignore already: it is kept.
    let kept = |path: &str| path == ".gitignore" && dir.join(path).exists();
    paths.retain(|path| !kept(path));
    refuse_links(&dir, &paths)?;
    if dir.join(CONFIG_PATH).exists() {
        bail!(
            "{} contient déjà un projet crieur ({CONFIG_PATH}) : rien n'est écrit",
            dir.display()
        );
    }
    if let Some(outer) = outer_project(&dir) {
        bail!("{}", nested(&dir, &outer));
    }
    if init.logo.is_none() {
        files.push((drawn.to_owned(), draw_logo(&init.name, &palette)?));
    }
    files.retain(|(path, _)| !kept(path));
    if let Some((path, _)) = files.iter().find(|(path, _)| dir.join(path).exists()) {
        bail!(
            "{} existe déjà dans {} : rien n'est écrit (choisissez un dossier vide)",
            path,
            dir.display()
        );
    }
    write_all(&dir, &files)?;
    println!("Projet « {} » créé dans {} :", init.name, dir.display());
    for note in &palette.notes {
        println!("  {note}");
    }
    let root = if dir == Path::new(".") {
        String::new()
    } else {
        format!(" --root {}", dir.display())
    };
    println!(
        "Pour la suite :\n  crieur{root} check      vérifie le projet\n  crieur{root} plan       montre le calendrier\n  crieur{root} preview    ouvre l'aperçu\n  crieur{root} new chiffre-de-la-semaine --title \"…\"   écrit le post suivant de la série"
    );
    Ok(Outcome::Success)
}

/// The project `dir` would lie in, found from `dir` (or, when it does not
/// exist yet, its nearest existing folder) up, as every command finds its
/// own; as a full path, to name it.
fn outer_project(dir: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(dir).ok()?;
    let existing = absolute.ancestors().find(|folder| folder.is_dir())?;
    crate::loader::discover(existing)?.canonicalize().ok()
}

/// Why no project is made inside another: the outer project would take the
/// new one's posts for its own, and publish its example posts.
fn nested(dir: &Path, outer: &Path) -> String {
    let folder = if dir == Path::new(".") {
        "ce dossier".to_owned()
    } else {
        dir.display().to_string()
    };
    format!(
        "{folder} est déjà dans un projet crieur, celui de {outer} : crieur init n'y crée pas un second projet (le premier programmerait ses posts d'exemple) ; rien n'est écrit\n\
         \x20 - pour écrire un post dans ce projet, lancez `crieur new SÉRIE --title \"…\"` (crieur trouve le projet depuis chacun de ses dossiers)\n\
         \x20 - pour un projet à part, lancez `crieur init DOSSIER` avec un dossier hors de {outer}",
        outer = outer.display()
    )
}

/// The options, checked: colours, zone, logo, name.
fn options(args: &InitArgs, dir: &Path) -> anyhow::Result<Init> {
    let colour = |given: &Option<String>, default: &str, what: &str| {
        let text = given.as_deref().unwrap_or(default);
        scaffold::parse_colour(text).with_context(|| {
            format!(
                "couleur {what} illisible `{text}` : écrivez-la `#RRGGBB`, par exemple `#1F4E79`"
            )
        })
    };
    let timezone: chrono_tz::Tz = args.timezone.parse().map_err(|_| {
        anyhow::anyhow!(
            "fuseau horaire inconnu `{}` : {}",
            args.timezone,
            crate::config::timezone_hint(&args.timezone)
        )
    })?;
    let name = match &args.name {
        Some(name) if !name.trim().is_empty() => name.trim().to_owned(),
        _ => std::path::absolute(dir)
            .ok()
            .and_then(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "Ma CPTS".to_owned()),
    };
    // Refused before anything is written, be it given or the folder's.
    scaffold::check_name(&name).map_err(anyhow::Error::msg)?;
    let logo = match &args.logo {
        Some(path) => Some(read_logo(path)?),
        None => None,
    };
    Ok(Init {
        name,
        primary: colour(&args.primary, scaffold::DEFAULT_PRIMARY, "principale")?,
        accent: colour(&args.accent, scaffold::DEFAULT_ACCENT, "d'accent")?,
        timezone,
        logo,
    })
}

/// Refuses to write through a symbolic link: every entry a new file's path
/// goes through (`posts`, `posts/chiffre`, the file itself…) must be what
/// it seems, else the files would land wherever the link points, outside
/// the folder.
fn refuse_links(dir: &Path, paths: &[&str]) -> anyhow::Result<()> {
    let entries: std::collections::BTreeSet<&Path> = paths
        .iter()
        .flat_map(|path| Path::new(path).ancestors())
        .filter(|entry| !entry.as_os_str().is_empty())
        .collect();
    for entry in entries {
        let at = dir.join(entry);
        if std::fs::symlink_metadata(&at).is_ok_and(|meta| meta.file_type().is_symlink()) {
            bail!(
                "{} est un lien symbolique : crieur init n'écrit pas à travers un lien ; supprimez-le ou choisissez un autre dossier",
                at.display()
            );
        }
    }
    Ok(())
}

/// The user's logo: a PNG crieur can draw.
fn read_logo(path: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("logo illisible : {}", path.display()))?;
    render::picture::Picture::from_png(bytes.clone())
        .map_err(|error| anyhow::anyhow!("logo {} refusé : {error}", path.display()))?;
    let name = path
        .file_stem()
        .map(|stem| scaffold::slug(&stem.to_string_lossy()))
        .unwrap_or_else(|| "logo".to_owned());
    Ok((format!("{name}.png"), bytes))
}

/// A monogram of the name's initials, white on a disc of the primary
/// colour, drawn with the embedded fonts and templates' machinery.
fn draw_logo(name: &str, palette: &Palette) -> anyhow::Result<Vec<u8>> {
    let (template_text, post_text) = scaffold::logo_sources(name);
    let (template, _) = crate::template::Template::parse(&template_text, "logo.toml", "logo");
    let (post, _) = crate::post::Post::parse(&post_text, "logo.md", "logo", chrono_tz::UTC);
    let (Some(template), Some(post)) = (template, post) else {
        bail!("le logo par défaut n'a pas pu être dessiné");
    };
    let colors: BTreeMap<String, toml::Spanned<String>> = palette
        .colors
        .iter()
        .map(|(name, color)| {
            let color = toml::Spanned::new(0..0, hex(*color));
            ((*name).to_owned(), color)
        })
        .collect();
    let brand = Brand {
        name: name.to_owned(),
        name_span: None,
        colors,
        fonts: [(
            "display".to_owned(),
            toml::Spanned::new(0..0, "Lato-Black.ttf".to_owned()),
        )]
        .into(),
        logo: None,
        derived_categories: None,
    };
    let face = FontFace::from_bytes(
        "Lato-Black.ttf",
        include_bytes!("../../assets/fonts/Lato-Black.ttf").to_vec(),
    )?;
    let assets = Assets {
        fonts: [("Lato-Black.ttf".to_owned(), face)].into(),
        images: BTreeMap::<String, Arc<render::picture::Picture>>::new(),
        refused: BTreeMap::new(),
    };
    let context = Context {
        brand: &brand,
        assets: &assets,
        french: false,
        no_break: &[],
        sizes: None,
        caps: None,
        fits: None,
    };
    let card = render::layout(context, &template, Format::Carre, &post).map_err(|problems| {
        anyhow::anyhow!(
            "le logo par défaut n'a pas pu être dessiné : {}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ; ")
        )
    })?;
    Ok(render::encode_png(render::draw(&card))?)
}

/// Writes every file, or none.
fn write_all(dir: &Path, files: &[scaffold::File]) -> anyhow::Result<()> {
    let files: Vec<(String, &[u8])> = files
        .iter()
        .map(|(path, bytes)| (path.clone(), bytes.as_slice()))
        .collect();
    crate::file::write_all_new(dir, &files).map_err(|(path, error)| {
        anyhow::anyhow!(
            "impossible d'écrire {path} : {} ; rien n'est gardé",
            crieur_core::system::io_error(&error)
        )
    })
}
