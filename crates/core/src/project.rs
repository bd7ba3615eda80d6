//! A crieur project as the pure core sees it: its configuration,
//! templates, posts and assets, parsed, with the problems found on the
//! way. The loader (`loader::load`) reads it from disk.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::config::Config;
use crate::diagnostic::Report;
use crate::post::Post;
use crate::render::Assets;
use crate::template::Template;

/// Everything crieur knows of a project, with the problems found on the way.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    /// `None` when the configuration has errors.
    pub config: Option<Config>,
    pub templates: BTreeMap<String, Template>,
    /// Templates whose file exists but has errors: posts naming them are not
    /// told the template is unknown.
    pub broken_templates: BTreeSet<String>,
    /// Valid posts, in the order of their file paths.
    pub posts: Vec<Post>,
    /// How many post files were read, valid or not.
    pub post_files: usize,
    /// The id of every post file found, valid or not.
    pub post_ids: Vec<String>,
    /// Fonts and images, loaded.
    pub assets: Assets,
    /// The calendar the state store pinned (empty without a store).
    pub pins: crate::plan::Pins,
    pub report: Report,
    /// The size each text of a series takes, once `check` has judged the
    /// project ([`crate::check::judge`]); empty before.
    pub sizes: crate::render::layout::Sizes,
}
