//! Reading a project from disk: the IO edge of checking.
//!
//! [`load`] walks `posts/`, reads each file defensively (size, symlinks,
//! file type, encoding; never a file whose resolved path leaves the
//! project) and hands the text to the pure parsers, which make the
//! [`Project`]. Whatever goes wrong in a user's file becomes a diagnostic
//! in the project's [`Report`]; only a missing project is an error.

use rayon::prelude::*;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crieur_core::config::{CONFIG_PATH, Config};
use crieur_core::diagnostic::{Diagnostic, Report, line_col};
use crieur_core::post::{POSTS_DIR, Post};
use crieur_core::project::Project;
use crieur_core::render::Assets;
use crieur_core::render::picture::{Picture, PictureError};
use crieur_core::system::io_error;
use crieur_core::template::{TEMPLATES_DIR, Template};
use crieur_core::typography::FontFace;

/// Text files larger than this are refused: a post is a few kilobytes.
pub const MAX_FILE_SIZE: u64 = 1024 * 1024;

/// Fonts and images larger than this are refused.
pub const MAX_ASSET_SIZE: u64 = 20 * 1024 * 1024;

/// Where fonts live, relative to the project root.
pub const FONTS_DIR: &str = "assets/fonts";

/// Images are named by their path under this folder.
pub const ASSETS_DIR: &str = "assets";

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No `config/crieur.toml` in the root given (as given).
    #[error("{}", not_a_project(.0))]
    NotAProject(PathBuf),
    /// A server's configuration that cannot be followed yet, or has errors.
    #[error(transparent)]
    Follow(#[from] crate::follow::FollowError),
    #[error("impossible de lire {} : {}", path.display(), io_error(source))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The ways to make a new project, said outside a project. They are joined
/// with `, `: another way is one more line (« ou lancez `crieur init` »).
const NEW_PROJECT: &[&str] = &[
    "lancez `crieur init` (ou `crieur init DOSSIER`)",
    "ou copiez les dossiers config/, assets/ et posts/ du projet d'exemple (le dépôt de crieur)",
];

/// What to say when `root` holds no configuration: which folder, and how
/// to go on from there.
fn not_a_project(root: &Path) -> String {
    let given = root.to_string_lossy();
    let folder = given.trim_start_matches("./").trim_end_matches('/');
    let first = match folder {
        // No `--root`, and no project here or above (`discover`).
        "" if given.is_empty() => format!(
            "ni ce dossier ni ceux au-dessus ne sont un projet crieur : {CONFIG_PATH} introuvable"
        ),
        "" | "." => format!("ce dossier n'est pas un projet crieur : {CONFIG_PATH} introuvable"),
        _ => format!("{folder} n'est pas un projet crieur : {folder}/{CONFIG_PATH} introuvable"),
    };
    format!(
        "{first}\n\
         \x20 - si le projet est ailleurs, lancez crieur dans son dossier, ou indiquez-le avec `--root DOSSIER`\n\
         \x20 - pour créer un projet, {}",
        NEW_PROJECT.join(", ")
    )
}

/// The project `start` lies in, found as git finds its repository: `start`
/// itself, or the nearest folder above it that holds a `config/crieur.toml`.
/// The way is given from `start` (`../..` from `posts/chiffre/` when
/// `start` is `.`), so that paths shown from there stay right. `None` when
/// no folder up to the file system's root holds a project.
pub fn discover(start: &Path) -> Option<PathBuf> {
    let here = start.canonicalize().ok()?;
    let depth = here
        .ancestors()
        .position(|folder| folder.join(CONFIG_PATH).is_file())?;
    if depth == 0 {
        return Some(start.to_owned());
    }
    let up: PathBuf = std::iter::repeat_n("..", depth).collect();
    Some(if start == Path::new(".") {
        up
    } else {
        start.join(up)
    })
}

/// Loads and parses every file of the project at `root`. On a server
/// (a configuration with `[sync]`), the project is the commit of the
/// followed repository being published, its checkout resolved once
/// ([`crate::follow`]), with the files crieur writes kept under the
/// server's folder.
pub fn load(root: &Path) -> Result<Project, LoadError> {
    let config_path = root.join(CONFIG_PATH);
    if !config_path.is_file() {
        return Err(LoadError::NotAProject(root.to_owned()));
    }
    match crate::follow::server(root)? {
        Some(follow) => {
            let follower = crate::follow::Follower::new(root, follow);
            let tree = follower.tree()?;
            load_tree(&tree, Some(&follower))
        }
        None => load_tree(root, None),
    }
}

/// The files a project's configuration names and crieur writes (the
/// state store, the outbox, a local image folder), placed under the
/// server's folder rather than in a checkout.
fn relocate(config: &mut Config, follower: &crate::follow::Follower) {
    use crieur_core::config::{Media, PublisherKind};
    config.state = follower.state().to_string_lossy().into_owned();
    let place = |dir: &mut String| *dir = follower.dir.join(&*dir).to_string_lossy().into_owned();
    if let PublisherKind::Outbox { dir } = &mut config.publisher.kind {
        place(dir);
    }
    if let Some(Media::Local { dir, .. }) = &mut config.media {
        place(dir);
    }
}

fn load_tree(
    root: &Path,
    follower: Option<&crate::follow::Follower>,
) -> Result<Project, LoadError> {
    let canonical_root = root.canonicalize().map_err(|source| LoadError::Io {
        path: root.to_owned(),
        source,
    })?;
    let files = Files {
        root: canonical_root,
        folders: Default::default(),
    };
    let mut report = Report::new();

    let config = files
        .read(CONFIG_PATH, false, &mut report)
        .and_then(|text| {
            let (mut config, diagnostics) = Config::parse(&text, CONFIG_PATH);
            report.extend(diagnostics);
            if let Some(config) = &mut config {
                crieur_core::scaffold::derive_categories(&mut config.brand);
            }
            if let (Some(config), Some(follower)) = (&mut config, follower) {
                relocate(config, follower);
            }
            config
        });

    let mut templates = BTreeMap::new();
    let mut broken_templates = std::collections::BTreeSet::new();
    for listed in files.list(TEMPLATES_DIR, "toml", false, &mut report) {
        let Some(text) = files.read_listed(&listed, &mut report) else {
            broken_templates.insert(listed.id);
            continue;
        };
        let (template, diagnostics) = Template::parse(&text, &listed.relative, &listed.id);
        report.extend(diagnostics);
        match template {
            Some(template) => {
                templates.insert(listed.id, template);
            }
            None => {
                broken_templates.insert(listed.id);
            }
        }
    }

    // Fonts and images are read while the posts are listed.
    let mut listing = Report::new();
    let (assets, post_paths) = rayon::join(
        || files.assets(&mut report),
        || files.list(POSTS_DIR, "md", true, &mut listing),
    );
    let pins = match &config {
        Some(config) => load_pins(root, &config.state, &mut report),
        None => crieur_core::plan::Pins::new(),
    };
    report.append(listing);

    let post_files = post_paths.len();
    let post_ids: Vec<String> = post_paths.iter().map(|listed| listed.id.clone()).collect();
    // Without a valid time zone, dates cannot be read: the config's own
    // errors say why, and posts are still checked for everything else.
    let tz = config
        .as_ref()
        .map_or(chrono_tz::Europe::Paris, |config| config.timezone);
    let posts = read_posts(&files, post_paths, tz, &mut report);

    Ok(Project {
        root: root.to_owned(),
        config,
        templates,
        broken_templates,
        posts,
        post_files,
        post_ids,
        assets,
        pins,
        report,
        sizes: Default::default(),
    })
}

/// The posts listed, sorted by id. Each is read and parsed on its own:
/// spread over the cores, then gathered in the order of their paths.
fn read_posts(
    files: &Files,
    paths: Vec<Listed>,
    tz: chrono_tz::Tz,
    report: &mut Report,
) -> Vec<Post> {
    let read: Vec<(Option<Post>, Report)> = paths
        .into_par_iter()
        .map(|listed| {
            let mut own = Report::new();
            let post = files.read_listed(&listed, &mut own).and_then(|text| {
                let (post, diagnostics) = Post::parse(&text, &listed.relative, &listed.id, tz);
                own.extend(diagnostics);
                post
            });
            (post, own)
        })
        .collect();
    report.reserve_sources(read.len());
    let mut posts = Vec::with_capacity(read.len());
    for (post, own) in read {
        report.append(own);
        posts.extend(post);
    }
    posts.sort_by(|a, b| a.id.cmp(&b.id));
    posts
}

/// The calendar pinned in the state store, if there is one.
fn load_pins(root: &Path, state: &str, report: &mut Report) -> crieur_core::plan::Pins {
    let result = crate::store::Store::open_existing(&root.join(state))
        .and_then(|store| store.map(|store| store.assignments()).transpose());
    match result {
        Ok(pins) => pins.unwrap_or_default(),
        Err(error) => {
            report.push(Diagnostic::error(state, None, error.to_string()).with_hint(
                "restaurez la sauvegarde du fichier, ou déplacez-le pour repartir d'un état vide",
            ));
            crieur_core::plan::Pins::new()
        }
    }
}

/// Reads files under the project root, turning every problem into a
/// diagnostic.
struct Files {
    root: PathBuf,
    /// Each folder read from, resolved.
    folders: std::sync::Mutex<std::collections::HashMap<PathBuf, PathBuf>>,
}

impl Files {
    /// The files ending in `.extension` under `dir` (recursively or not),
    /// sorted by path.
    fn list(
        &self,
        dir: &str,
        extension: &str,
        recursive: bool,
        report: &mut Report,
    ) -> Vec<Listed> {
        let mut found = Vec::new();
        let mut visited = HashSet::new();
        self.walk(
            &self.root.join(dir),
            dir,
            &mut Walk {
                extension,
                recursive,
                visited: &mut visited,
                found: &mut found,
                report,
            },
        );
        found.sort();
        found
            .into_iter()
            .map(|(relative, plain)| {
                let id = relative[dir.len() + 1..relative.len() - extension.len() - 1].to_owned();
                Listed {
                    relative,
                    id,
                    plain,
                }
            })
            .collect()
    }

    fn walk(&self, path: &Path, relative: &str, walk: &mut Walk<'_>) {
        let Ok(canonical) = path.canonicalize() else {
            return;
        };
        if !walk.visited.insert(canonical) {
            return;
        }
        let Ok(entries) = fs::read_dir(path) else {
            return;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_cached_key(|entry| entry.file_name());
        for entry in entries {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                walk.report.push(
                    Diagnostic::error(
                        &format!("{relative}/{}", entry.file_name().to_string_lossy()),
                        None,
                        "nom de fichier illisible (il n'est pas en UTF-8)",
                    )
                    .with_hint("renommez le fichier avec des lettres, chiffres et tirets"),
                );
                continue;
            };
            // Editors' backups and hidden files are not posts.
            if name.starts_with('.') || name.ends_with('~') || name.starts_with('#') {
                continue;
            }
            let mut child = String::with_capacity(relative.len() + 1 + name.len());
            child.push_str(relative);
            child.push('/');
            child.push_str(&name);
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let mut is_dir = file_type.is_dir();
            if file_type.is_symlink() {
                match self.inside(&entry.path()) {
                    Ok(target) => is_dir = target.is_dir(),
                    Err(diagnostic) => {
                        if child.ends_with(&format!(".{}", walk.extension)) || walk.recursive {
                            walk.report
                                .push(Diagnostic::error(&child, None, diagnostic));
                        }
                        continue;
                    }
                }
            }
            if is_dir {
                if walk.recursive {
                    self.walk(&entry.path(), &child, walk);
                }
            } else if name
                .strip_suffix(walk.extension)
                .and_then(|stem| stem.strip_suffix('.'))
                .is_some_and(|stem| !stem.is_empty())
            {
                walk.found.push((child, file_type.is_file()));
            }
        }
    }

    /// Every font of `assets/fonts/` and every PNG under `assets/`, each
    /// PNG checked (its size from its header first) but not decoded.
    fn assets(&self, report: &mut Report) -> Assets {
        let mut assets = Assets::default();
        for extension in ["ttf", "otf"] {
            for font in self.list(FONTS_DIR, extension, false, report) {
                let Some(bytes) = self.read_binary(&font, report) else {
                    continue;
                };
                let name = format!("{}.{extension}", font.id);
                match FontFace::from_bytes(&name, bytes) {
                    Ok(face) => {
                        assets.fonts.insert(name, face);
                    }
                    Err(error) => report.push(
                        Diagnostic::error(&font.relative, None, error.to_string())
                            .with_hint("remplacez le fichier par une police .ttf ou .otf valide"),
                    ),
                }
            }
        }
        for image in self.list(ASSETS_DIR, "png", true, report) {
            let Some(bytes) = self.read_binary(&image, report) else {
                continue;
            };
            let name = format!("{}.png", image.id);
            match Picture::from_png(bytes) {
                Ok(picture) => {
                    assets.images.insert(name, Arc::new(picture));
                }
                Err(error) => {
                    let hint = match error {
                        PictureError::TooLarge { .. } => {
                            "réduisez l'image : une carte fait au plus 1200x1350 pixels"
                        }
                        PictureError::Unreadable(_) => "enregistrez l'image au format PNG",
                    };
                    report.push(
                        Diagnostic::error(&image.relative, None, error.to_string()).with_hint(hint),
                    );
                    assets.refused.insert(name, error.to_string());
                }
            }
        }
        assets
    }

    /// The bytes of a font or an image, or `None` with a diagnostic.
    fn read_binary(&self, file: &Listed, report: &mut Report) -> Option<Vec<u8>> {
        let relative = file.relative.as_str();
        match self.read_bytes(relative, MAX_ASSET_SIZE, file.plain) {
            Ok(bytes) => Some(bytes),
            Err(Refusal::TooLarge(size)) => {
                report.push(Diagnostic::error(
                    relative,
                    None,
                    format!(
                        "impossible de lire le fichier : fichier trop gros ({} Mio, 20 Mio au plus)",
                        size / (1024 * 1024)
                    ),
                ));
                None
            }
            Err(refusal) => {
                report.push(refusal.diagnostic(relative));
                None
            }
        }
    }

    /// The bytes of the regular file at `relative`, at most `limit` of
    /// them. The file must resolve inside the project and be a regular
    /// file: a named pipe, a socket or a device is refused before it is
    /// opened (opening a pipe would wait for a writer), and it is opened
    /// non-blocking in case it was swapped for one meanwhile. A file its
    /// folder's listing said is `plain` (neither a link nor anything but a
    /// regular file) is opened without being looked up first: a link
    /// swapped in meanwhile makes the opening fail (`O_NOFOLLOW`), and the
    /// file is then resolved as any other.
    fn read_bytes(&self, relative: &str, limit: u64, plain: bool) -> Result<Vec<u8>, Refusal> {
        use std::io::Read as _;
        let resolved = if plain {
            self.in_folder(relative)?
        } else {
            let (resolved, metadata) = self.resolve(relative)?;
            if !metadata.is_file() {
                return Err(Refusal::NotRegular);
            }
            if metadata.len() > limit {
                return Err(Refusal::TooLarge(metadata.len()));
            }
            resolved
        };
        let mut options = fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
        }
        let file = match options.open(&resolved) {
            Ok(file) => file,
            #[cfg(unix)]
            Err(error) if plain && error.raw_os_error() == Some(libc::ELOOP) => {
                return self.read_bytes(relative, limit, false);
            }
            Err(error) => return Err(Refusal::Io(error)),
        };
        let metadata = file.metadata().map_err(Refusal::Io)?;
        if !metadata.is_file() {
            return Err(Refusal::NotRegular);
        }
        if metadata.len() > limit {
            return Err(Refusal::TooLarge(metadata.len()));
        }
        // The size may have changed since it was looked at: read no more
        // than the limit allows.
        let mut bytes = Vec::with_capacity(metadata.len().min(limit) as usize);
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(Refusal::Io)?;
        if bytes.len() as u64 > limit {
            return Err(Refusal::TooLarge(bytes.len() as u64));
        }
        Ok(bytes)
    }

    /// Where the file at `relative` really is, refused when it leaves the
    /// project. Its folder is resolved once for all the files it holds;
    /// the file itself only when it is a link (`lstat` says so, and the
    /// file is then opened with `O_NOFOLLOW`): resolving every path in
    /// full costs a system call per folder of the path, for each file.
    /// With what the file is.
    fn resolve(&self, relative: &str) -> Result<(PathBuf, fs::Metadata), Refusal> {
        let here = self.in_folder(relative)?;
        let metadata = fs::symlink_metadata(&here).map_err(Refusal::Io)?;
        let resolved = if metadata.is_symlink() {
            here.canonicalize().map_err(Refusal::Io)?
        } else {
            here
        };
        if !resolved.starts_with(&self.root) {
            return Err(Refusal::Outside(resolved));
        }
        let metadata = match metadata.is_symlink() {
            true => fs::metadata(&resolved).map_err(Refusal::Io)?,
            false => metadata,
        };
        Ok((resolved, metadata))
    }

    /// The file at `relative` in its folder resolved (once for all the
    /// files it holds), refused when the folder leaves the project.
    fn in_folder(&self, relative: &str) -> Result<PathBuf, Refusal> {
        let path = self.root.join(relative);
        let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(Refusal::NotRegular);
        };
        let known = self
            .folders
            .lock()
            .ok()
            .and_then(|folders| folders.get(folder).cloned());
        let folder = match known {
            Some(folder) => folder,
            None => {
                let resolved = folder.canonicalize().map_err(Refusal::Io)?;
                if let Ok(mut folders) = self.folders.lock() {
                    folders.insert(folder.to_owned(), resolved.clone());
                }
                resolved
            }
        };
        if !folder.starts_with(&self.root) {
            return Err(Refusal::Outside(folder));
        }
        Ok(folder.join(name))
    }

    /// Where a symlink leads, if it stays inside the project.
    fn inside(&self, link: &Path) -> Result<PathBuf, String> {
        match link.canonicalize() {
            Ok(target) if target.starts_with(&self.root) => Ok(target),
            Ok(target) => Err(format!(
                "lien symbolique vers l'extérieur du projet ({}) : refusé",
                target.display()
            )),
            Err(_) => Err("lien symbolique cassé : sa cible n'existe pas".to_owned()),
        }
    }

    /// The text of a file its folder's listing found, or `None` with a
    /// diagnostic saying why not.
    fn read_listed(&self, file: &Listed, report: &mut Report) -> Option<Arc<str>> {
        self.read(&file.relative, file.plain, report)
    }

    /// The text of a file, or `None` with a diagnostic saying why not.
    fn read(&self, relative: &str, plain: bool, report: &mut Report) -> Option<Arc<str>> {
        let bytes = match self.read_bytes(relative, MAX_FILE_SIZE, plain) {
            Ok(bytes) => bytes,
            Err(Refusal::TooLarge(size)) => {
                report.push(
                    Diagnostic::error(
                        relative,
                        None,
                        format!("fichier trop gros ({} Kio, 1 024 Kio au plus)", size / 1024),
                    )
                    .with_hint("un post ne contient que du texte : les images vont dans assets/"),
                );
                return None;
            }
            Err(refusal) => {
                report.push(refusal.diagnostic(relative));
                return None;
            }
        };
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        match std::str::from_utf8(bytes) {
            Ok(text) if text.contains('\0') => {
                let offset = text.find('\0').unwrap_or(0);
                report.add_source(relative, Arc::from(text.replace('\0', " ")));
                report.push(
                    Diagnostic::error(
                        relative,
                        Some(offset..offset + 1),
                        "fichier binaire : ce n'est pas du texte",
                    )
                    .with_hint("un post est un fichier texte, enregistré en UTF-8"),
                );
                None
            }
            Ok(text) => {
                let text: Arc<str> = Arc::from(text);
                report.add_source(relative, text.clone());
                Some(text)
            }
            Err(error) => {
                let offset = error.valid_up_to();
                let lossy = String::from_utf8_lossy(bytes).into_owned();
                let (line, column) = line_col(&lossy, offset);
                report.add_source(relative, Arc::from(lossy));
                report.push(
                    Diagnostic::error(
                        relative,
                        Some(offset..offset + 1),
                        format!("le fichier n'est pas en UTF-8 (octet invalide ligne {line}, colonne {column})"),
                    )
                    .with_hint("enregistrez-le en UTF-8 depuis votre éditeur (Fichier > Enregistrer sous > Encodage UTF-8)"),
                );
                None
            }
        }
    }
}

/// Why a file of the project is not read.
#[derive(Debug)]
enum Refusal {
    /// It resolves outside the project (a symbolic link swapped in).
    Outside(PathBuf),
    /// A named pipe, a socket, a device or a folder.
    NotRegular,
    TooLarge(u64),
    Io(std::io::Error),
}

impl Refusal {
    fn diagnostic(&self, relative: &str) -> Diagnostic {
        match self {
            Refusal::Outside(target) => Diagnostic::error(
                relative,
                None,
                format!(
                    "lien symbolique vers l'extérieur du projet ({}) : refusé",
                    target.display()
                ),
            ),
            Refusal::NotRegular => Diagnostic::error(
                relative,
                None,
                "ce n'est pas un fichier ordinaire (tube nommé, socket ou périphérique) : refusé",
            )
            .with_hint("remplacez-le par un vrai fichier, ou supprimez-le"),
            Refusal::TooLarge(size) => Diagnostic::error(
                relative,
                None,
                format!("fichier trop gros ({} Kio)", size / 1024),
            ),
            Refusal::Io(error) => Diagnostic::error(
                relative,
                None,
                format!("impossible de lire le fichier : {}", io_error(error)),
            ),
        }
    }
}

/// A file found by [`Files::list`].
struct Listed {
    /// Its path from the project's root.
    relative: String,
    /// Its path under the folder listed, without the extension.
    id: String,
    /// Its folder's entry said a regular file, not a link (the file is
    /// opened without being looked up first).
    plain: bool,
}

struct Walk<'w> {
    extension: &'w str,
    recursive: bool,
    visited: &'w mut HashSet<PathBuf>,
    /// Each file found, and whether its folder's entry said a regular file.
    found: &'w mut Vec<(String, bool)>,
    report: &'w mut Report,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nearest_project_above_as_git_does() {
        let dir = tempfile::tempdir().unwrap();
        let outer = dir.path().join("projet");
        let deep = outer.join("posts/chiffre");
        fs::create_dir_all(&deep).unwrap();
        fs::create_dir_all(outer.join("config")).unwrap();
        fs::write(outer.join(CONFIG_PATH), "").unwrap();
        assert_eq!(discover(&outer), Some(outer.clone()));
        assert_eq!(discover(&deep), Some(deep.join("../..")));
        assert_eq!(
            discover(&deep).unwrap().canonicalize().unwrap(),
            outer.canonicalize().unwrap()
        );
        // A nearer project wins.
        let inner = outer.join("posts");
        fs::create_dir_all(inner.join("config")).unwrap();
        fs::write(inner.join(CONFIG_PATH), "").unwrap();
        assert_eq!(discover(&deep), Some(deep.join("..")));
        // Outside any project: none.
        assert_eq!(discover(dir.path()), None);
        assert_eq!(discover(&dir.path().join("absent")), None);
    }

    /// A file listed as regular and swapped for a link before it is read
    /// is resolved as any link: read when it stays inside the project,
    /// refused when it leaves it.
    #[cfg(unix)]
    #[test]
    fn a_file_swapped_for_a_link_after_the_listing_is_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("projet");
        fs::create_dir_all(root.join("posts")).unwrap();
        fs::write(root.join("posts/vrai.md"), "le vrai").unwrap();
        fs::write(dir.path().join("dehors.md"), "secret").unwrap();
        std::os::unix::fs::symlink(root.join("posts/vrai.md"), root.join("posts/lien.md")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("dehors.md"), root.join("posts/fuite.md"))
            .unwrap();
        let files = Files {
            root: root.canonicalize().unwrap(),
            folders: Default::default(),
        };
        let listed = files.list(POSTS_DIR, "md", true, &mut Report::new());
        let plain: Vec<(&str, bool)> = listed
            .iter()
            .map(|listed| (listed.relative.as_str(), listed.plain))
            .collect();
        assert_eq!(
            plain,
            [("posts/lien.md", false), ("posts/vrai.md", true)],
            "the link out is refused at listing"
        );
        // Read as though each had been listed a regular file.
        assert_eq!(
            files
                .read_bytes("posts/lien.md", MAX_FILE_SIZE, true)
                .unwrap(),
            b"le vrai"
        );
        assert!(matches!(
            files.read_bytes("posts/fuite.md", MAX_FILE_SIZE, true),
            Err(Refusal::Outside(_))
        ));
        assert!(matches!(
            files.read_bytes("posts/vrai.md", 3, true),
            Err(Refusal::TooLarge(7))
        ));
    }
}
