//! `crieur check`: every problem of every file, at once.

use std::path::Path;

use crate::cli::CheckArgs;
use crate::diagnostic::Report;
use crate::project::Project;

use super::context::Outcome;

pub fn run(root: &Path, args: &CheckArgs) -> anyhow::Result<Outcome> {
    let project = super::context::load_checked(root)?;
    let report = &project.report;

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.located())?);
    } else {
        super::context::print_report(report);
        println!("{}", summary(&project, report));
        let verdicts = crate::verdict::judge(&project, report);
        let tz = project
            .config
            .as_ref()
            .map_or(chrono_tz::Europe::Paris, |config| config.timezone);
        let gone_by = verdicts.gone_by(&project, super::context::now(tz)?).len();
        println!("{}", counts(&verdicts, gone_by));
    }
    Ok(if report.has_errors() {
        Outcome::Invalid
    } else {
        Outcome::Success
    })
}

/// How many posts go out, and how many do not, as every command sees them;
/// `gone_by` ready posts whose date is past the grace are said apart.
fn counts(verdicts: &crate::verdict::Verdicts, gone_by: usize) -> String {
    use crate::verdict::State;
    let said = |n: usize, one: &str, many: &str| format!("{n} {}", if n > 1 { many } else { one });
    let count = |state: State, one: &str, many: &str| said(verdicts.count(state), one, many);
    let ready = said(verdicts.count(State::Ready) - gone_by, "prêt", "prêts");
    let ready = match gone_by {
        0 => ready,
        n => format!("{ready}, {}", said(n, "passé", "passés")),
    };
    format!(
        "Posts : {}, {}, {}, {}.",
        ready,
        count(State::Blocked, "bloqué", "bloqués"),
        count(State::Draft, "brouillon", "brouillons"),
        count(State::Orphan, "sans date ni série", "sans date ni série"),
    )
}

fn summary(project: &Project, report: &Report) -> String {
    let errors = report.error_count();
    let warnings = report.warning_count();
    let plural = |n: usize| if n > 1 { "s" } else { "" };
    let files = project.post_files;
    let head = format!("{files} post{} vérifié{}", plural(files), plural(files));
    let warnings_text = format!("{warnings} avertissement{}", plural(warnings));
    match errors {
        0 => format!("{head} : aucune erreur, {warnings_text}."),
        _ => format!(
            "{head} : {errors} erreur{}, {warnings_text}.",
            plural(errors)
        ),
    }
}
