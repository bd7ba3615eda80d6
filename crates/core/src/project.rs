//! A crieur project as the pure core sees it: its configuration,
//! templates, posts and assets, parsed, with the problems found on the
//! way. The loader (`loader::load`) reads it from disk.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::config::Config;
use crate::diagnostic::Report;
use crate::post::Post;
use crate::render::scale::Sizes;
use crate::render::{Assets, Context};
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
    pub sizes: Sizes,
}

impl Project {
    /// The sizes to draw the `wanted` posts with: those `check` found
    /// ([`Project::sizes`]), or, for a project not judged, those of the
    /// wanted posts' series, judged on every post of them.
    pub fn sizes_for(&self, context: Context<'_>, wanted: &[&Post]) -> Cow<'_, Sizes> {
        let Some(config) = self.config.as_ref().filter(|_| self.sizes.is_empty()) else {
            return Cow::Borrowed(&self.sizes);
        };
        let series: BTreeSet<&str> = wanted
            .iter()
            .filter_map(|post| post.series.as_ref())
            .map(|series| series.get_ref().as_str())
            .collect();
        let posts: Vec<&Post> = self
            .posts
            .iter()
            .filter(|post| {
                post.series
                    .as_ref()
                    .is_some_and(|s| series.contains(s.get_ref().as_str()))
            })
            .collect();
        Cow::Owned(Sizes::of(context, (config, &self.templates), &posts))
    }
}
