//! One verdict per post, the same in every command.
//!
//! [`judge`] reads the project and every diagnostic `check` found, once, and
//! says of each post file whether it is:
//! - **ready**: it goes out at its slot;
//! - **blocked**: it has errors (its own, its template's or its series'),
//!   or its file cannot be read as a post; it keeps its slot, nothing is
//!   sent for it and no other post takes its place: the slot stays empty
//!   until the file is fixed;
//! - **draft**: `draft = true`, left out of the calendar;
//! - **orphan**: neither series nor date, so it has no slot.
//!
//! `plan`, `publish`, the daemon (through `publish`), `status`, `render` and
//! the preview all take the verdicts from here. A post may be blocked yet
//! drawable: errors in its caption stop it from going out but not its image
//! from being drawn (`render` and the preview draw it).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use rayon::prelude::*;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::diagnostic::Report;
pub use crate::plan::{Apart, Problem, State};
use crate::plan::{Plan, Slot, Window, plan_reserving};
use crate::post::template_of;
use crate::post::{POSTS_DIR, Post};
use crate::project::Project;

/// An error with its byte span in its file, and located.
type Located = (Option<Range<usize>>, Problem);

/// A post's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub state: State,
    /// The errors that block it (empty when ready).
    pub problems: Vec<Problem>,
    /// Whether its image can be drawn: its template is sound and its only
    /// errors, if any, are in its caption.
    pub drawable: bool,
}

/// Every post file's verdict, by post id.
#[derive(Debug, Clone, Default)]
pub struct Verdicts {
    pub posts: BTreeMap<String, Verdict>,
}

impl Verdicts {
    pub fn get(&self, id: &str) -> Option<&Verdict> {
        self.posts.get(id)
    }

    /// Whether the post goes out at its slot.
    pub fn is_ready(&self, id: &str) -> bool {
        self.get(id).is_some_and(|v| v.state == State::Ready)
    }

    /// The posts that have errors, with them.
    pub fn blocked(&self) -> impl Iterator<Item = (&String, &Verdict)> {
        self.posts.iter().filter(|(_, v)| v.state == State::Blocked)
    }

    /// The posts with neither series nor date.
    pub fn orphans(&self) -> impl Iterator<Item = (&String, &Verdict)> {
        self.posts.iter().filter(|(_, v)| v.state == State::Orphan)
    }

    /// Marks the plan's slots of blocked posts, with their problems.
    pub fn mark(&self, plan: &mut Plan) {
        for slot in &mut plan.slots {
            if let Some(verdict) = self.get(&slot.post)
                && verdict.state == State::Blocked
            {
                slot.blocked = true;
                slot.problems = verdict.problems.clone();
            }
        }
    }

    /// The calendar every command shows and publishes by: the plan over
    /// `window`, with blocked posts marked in their slots. A post whose file
    /// cannot be read keeps the instants the store pinned for it: its
    /// slots are shown blocked, and no other post takes them.
    pub fn calendar(&self, project: &Project, config: &Config, window: Window) -> Plan {
        let parsed: BTreeSet<&str> = project.posts.iter().map(|p| p.id.as_str()).collect();
        let unreadable: Vec<(&String, &Verdict)> = self
            .posts
            .iter()
            .filter(|(id, _)| !parsed.contains(id.as_str()))
            .collect();
        let pinned = |id: &String| {
            project
                .pins
                .get(id)
                .into_iter()
                .flatten()
                .copied()
                .collect::<Vec<DateTime<Utc>>>()
        };
        let reserved: BTreeSet<DateTime<Utc>> =
            unreadable.iter().flat_map(|(id, _)| pinned(id)).collect();
        let mut plan = plan_reserving(config, &project.posts, window, &project.pins, &reserved);
        for (id, verdict) in unreadable {
            for at in pinned(id).into_iter().filter(|at| window.contains(*at)) {
                plan.slots.push(Slot {
                    at: at.with_timezone(&config.timezone),
                    series: None,
                    post: id.clone(),
                    channels: Vec::new(),
                    blocked: true,
                    problems: verdict.problems.clone(),
                });
            }
        }
        plan.slots
            .sort_by(|a, b| (a.at, &a.series, &a.post).cmp(&(b.at, &b.series, &b.post)));
        self.mark(&mut plan);
        plan
    }

    /// The posts that can have no slot: orphans, posts of an unknown or
    /// broken series without a date, files that are no post.
    pub fn apart(&self, project: &Project, config: &Config) -> Vec<Apart> {
        self.held()
            .filter(|(id, verdict)| {
                let post = project.posts.iter().find(|p| &p.id == *id);
                verdict.state == State::Orphan
                    || post.is_none_or(|post| {
                        post.publish_at.is_none()
                            && post
                                .series
                                .as_ref()
                                .is_some_and(|s| !config.series.contains_key(s.get_ref()))
                    })
            })
            .filter(|(id, _)| project.pins.get(*id).is_none_or(Vec::is_empty))
            .map(|(id, verdict)| Apart {
                post: id.clone(),
                state: verdict.state,
                problems: verdict.problems.clone(),
            })
            .collect()
    }

    /// Posts that cannot go out as they stand and are not drafts: blocked
    /// or orphans. What they already queued stays queued.
    pub fn held(&self) -> impl Iterator<Item = (&String, &Verdict)> {
        self.posts
            .iter()
            .filter(|(_, v)| matches!(v.state, State::Blocked | State::Orphan))
    }

    /// How many posts are in each state, for summaries.
    pub fn count(&self, state: State) -> usize {
        self.posts.values().filter(|v| v.state == state).count()
    }

    /// How many ready posts have a date more than the grace before `now`:
    /// they are sound, but no pass will send them any more (one already
    /// sent stays sent).
    pub fn gone_by(&self, project: &Project, now: DateTime<Utc>) -> usize {
        let Some(config) = &project.config else {
            return 0;
        };
        project
            .posts
            .iter()
            .filter(|post| {
                post.publish_at
                    .as_ref()
                    .is_some_and(|at| now - at.get_ref().with_timezone(&Utc) > config.grace)
            })
            .filter(|post| self.is_ready(&post.id))
            .count()
    }
}

/// The verdict of every post file of the project, from the project and the
/// report holding every diagnostic (the loader's and `check`'s).
pub fn judge(project: &Project, report: &Report) -> Verdicts {
    let mut errors: BTreeMap<&str, Vec<Located>> = BTreeMap::new();
    for diagnostic in report.diagnostics() {
        if !diagnostic.is_error() {
            continue;
        }
        let (line, column) = report.locate(diagnostic);
        errors.entry(diagnostic.path.as_str()).or_default().push((
            diagnostic.span.clone(),
            Problem {
                path: diagnostic.path.clone(),
                line,
                column,
                message: diagnostic.message.clone(),
            },
        ));
    }
    // Templates with errors, found by the loader or by `check`, by id.
    let faulty: BTreeSet<&str> = errors
        .keys()
        .copied()
        .filter_map(|path| {
            path.strip_prefix(crate::template::TEMPLATES_DIR)?
                .strip_prefix('/')?
                .strip_suffix(".toml")
        })
        .collect();
    // Each post is judged on its own: spread over the cores.
    let judged: Vec<(String, Verdict)> = project
        .posts
        .par_iter()
        .map(|post| {
            let own = errors.get(post.path.as_str()).cloned().unwrap_or_default();
            (post.id.clone(), judge_post(project, post, own, &faulty))
        })
        .collect();
    let mut verdicts = Verdicts {
        posts: judged.into_iter().collect(),
    };
    for id in &project.post_ids {
        if verdicts.posts.contains_key(id) {
            continue;
        }
        let path = format!("{POSTS_DIR}/{id}.md");
        let mut problems: Vec<Problem> = errors
            .remove(path.as_str())
            .unwrap_or_default()
            .into_iter()
            .map(|(_, problem)| problem)
            .collect();
        if problems.is_empty() {
            problems.push(file_problem(
                &path,
                "ce fichier ne peut pas être lu comme un post",
            ));
        }
        verdicts.posts.insert(
            id.clone(),
            Verdict {
                state: State::Blocked,
                problems,
                drawable: false,
            },
        );
    }
    verdicts
}

fn file_problem(path: &str, message: impl Into<String>) -> Problem {
    Problem {
        path: path.to_owned(),
        line: 1,
        column: 1,
        message: message.into(),
    }
}

fn judge_post(
    project: &Project,
    post: &Post,
    own: Vec<Located>,
    faulty: &BTreeSet<&str>,
) -> Verdict {
    let in_caption = |span: &Option<Range<usize>>| {
        span.as_ref().is_some_and(|span| {
            let within = |range: &Range<usize>| span.start >= range.start && span.end <= range.end;
            within(&post.body_span) || post.captions.values().any(|c| within(&c.span()))
        })
    };
    let mut drawable = own.iter().all(|(span, _)| in_caption(span));
    let mut problems: Vec<Problem> = own.into_iter().map(|(_, problem)| problem).collect();
    let Some(config) = &project.config else {
        return Verdict {
            state: if post.draft {
                State::Draft
            } else {
                State::Blocked
            },
            problems,
            drawable: false,
        };
    };
    match template_of(post, config) {
        Some(id) if project.broken_templates.contains(id) || faulty.contains(id) => {
            drawable = false;
            problems.push(file_problem(
                &post.path,
                format!("le modèle `{id}` a des erreurs (voir assets/templates/{id}.toml)"),
            ));
        }
        Some(id) if project.templates.contains_key(id) => {}
        _ => drawable = false,
    }
    if let Some(series) = &post.series
        && !config.broken.is_empty()
        && let Some(why) = config.broken.get(&format!("series.{}", series.get_ref()))
    {
        problems.push(file_problem(
            &post.path,
            format!(
                "la série `{}` a des erreurs dans config/crieur.toml ({why})",
                series.get_ref()
            ),
        ));
    }
    let orphan = post.series.is_none() && post.publish_at.is_none();
    let state = if post.draft {
        State::Draft
    } else if orphan {
        State::Orphan
    } else if problems.is_empty() {
        State::Ready
    } else {
        State::Blocked
    };
    Verdict {
        state,
        problems,
        drawable,
    }
}
