//! `crieur check`: every problem of every file, at once, for a person
//! (text), for programs (JSON), or for a forge's review: GitHub Actions'
//! annotations or GitLab's code quality report.

use std::fmt::Write as _;
use std::path::Path;

use crate::cli::{CheckArgs, CheckFormat};
use crate::diagnostic::{Diagnostic, Report, Severity, line_col};
use crate::project::Project;

use super::context::Outcome;

pub fn run(root: &Path, args: &CheckArgs) -> anyhow::Result<Outcome> {
    let project = super::context::load_checked(root)?;
    let report = &project.report;
    let format = if args.json {
        CheckFormat::Json
    } else {
        args.format
    };

    match format {
        CheckFormat::Text => {
            super::context::print_report(report);
            println!("{}", summary(&project, report));
            println!("{}", counts_now(&project)?);
        }
        CheckFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&report.located())?);
        }
        // Standard output holds what the forge reads; the counts go to
        // standard error, which the job's log shows beside it. GitHub
        // shows each annotation in the log as well; GitLab's report goes
        // to a file, so the log gets the problems as a person reads them.
        CheckFormat::Github => {
            print!("{}", github(report));
            eprintln!("{}", summary(&project, report));
            eprintln!("{}", counts_now(&project)?);
        }
        CheckFormat::Gitlab => {
            println!("{}", serde_json::to_string_pretty(&gitlab(report))?);
            super::context::print_report(report);
            eprintln!("{}", summary(&project, report));
            eprintln!("{}", counts_now(&project)?);
        }
    }
    let outcome = if report.has_errors() {
        Outcome::Invalid
    } else {
        Outcome::Success
    };
    // The process ends next: freeing every post and card one by one would
    // only delay it.
    std::mem::forget(project);
    Ok(outcome)
}

/// The posts' count line, with the posts gone by as of now.
fn counts_now(project: &Project) -> anyhow::Result<String> {
    let verdicts = crate::verdict::judge(project, &project.report);
    let tz = project
        .config
        .as_ref()
        .map_or(chrono_tz::Europe::Paris, |config| config.timezone);
    let gone_by = verdicts.gone_by(project, super::context::now(tz)?);
    Ok(counts(&verdicts, gone_by))
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

/// Where a diagnostic lies: the line and column (from 1, in characters) of
/// its first character and of its last; `None` when it concerns a whole
/// file.
fn extent(report: &Report, diagnostic: &Diagnostic) -> Option<((usize, usize), (usize, usize))> {
    let span = diagnostic.span.as_ref()?;
    let text = report.source(&diagnostic.path)?;
    let last = span.end.saturating_sub(1).max(span.start);
    Some((line_col(text, span.start), line_col(text, last)))
}

/// The message and, on a line of its own, the hint, as the text report
/// says them.
fn message_and_hint(diagnostic: &Diagnostic, separator: &str) -> String {
    match &diagnostic.hint {
        Some(hint) => format!("{}{separator}aide : {hint}", diagnostic.message),
        None => diagnostic.message.clone(),
    }
}

/// One GitHub Actions workflow command per diagnostic, which GitHub shows
/// as an annotation on the file's line in the pull request:
/// `::error file=…,line=…,col=…,endLine=…,endColumn=…,title=crieur::…`.
fn github(report: &Report) -> String {
    let mut out = String::new();
    for diagnostic in report.diagnostics() {
        let command = match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = Vec::new();
        if !diagnostic.path.is_empty() {
            let path = report.display_path(&diagnostic.path);
            properties.push(format!("file={}", github_property(&path)));
            if let Some(((line, column), (end_line, end_column))) = extent(report, diagnostic) {
                properties.push(format!("line={line}"));
                // GitHub takes columns only for a span on one line.
                if end_line == line {
                    properties.push(format!("col={column}"));
                    properties.push(format!("endLine={end_line}"));
                    properties.push(format!("endColumn={end_column}"));
                } else {
                    properties.push(format!("endLine={end_line}"));
                }
            }
        }
        properties.push("title=crieur".to_owned());
        let message = github_data(&message_and_hint(diagnostic, "\n"));
        let _ = writeln!(out, "::{command} {}::{message}", properties.join(","));
    }
    out
}

/// A workflow command's message, escaped as GitHub's runner reads it back.
fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: `:` and `,` would end it.
fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// GitLab's Code Quality report: one issue per diagnostic, which GitLab
/// shows in the merge request, the new ones apart from those already on
/// the target branch (by their fingerprints).
fn gitlab(report: &Report) -> Vec<serde_json::Value> {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let mut issues = Vec::new();
    for diagnostic in report.diagnostics() {
        let (line, _) = report.locate(diagnostic);
        // The project's path, not the one shown: the fingerprint stays the
        // same wherever crieur runs from. The same message twice on a line
        // (at two columns) is told apart by its rank, which is stable:
        // diagnostics come sorted.
        let mut key = format!("{}\0{line}\0{}", diagnostic.path, diagnostic.message);
        let rank = seen.entry(key.clone()).or_default();
        *rank += 1;
        if *rank > 1 {
            let _ = write!(key, "\0{rank}");
        }
        let severity = match diagnostic.severity {
            Severity::Error => "major",
            Severity::Warning => "minor",
        };
        issues.push(serde_json::json!({
            "type": "issue",
            "check_name": "crieur",
            "description": message_and_hint(diagnostic, "\n"),
            "severity": severity,
            "fingerprint": fingerprint(&key),
            "location": {
                "path": report.display_path(&diagnostic.path),
                "lines": { "begin": line },
            },
        }));
    }
    issues
}

/// FNV-1a on 128 bits, as 32 hexadecimal digits: a fingerprint that stays
/// the same from one run, machine or Rust version to the next (std's
/// hasher promises none of that), in a few lines rather than a dependency.
fn fingerprint(text: &str) -> String {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let hash = text.bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u128::from(byte)).wrapping_mul(PRIME)
    });
    format!("{hash:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_fnv_1a_on_128_bits() {
        // The published test vectors.
        assert_eq!(fingerprint(""), "6c62272e07bb014262b821756295c58d");
        assert_eq!(fingerprint("a"), "d228cb696f1a8caf78912b704e4a8964");
    }

    #[test]
    fn workflow_commands_escape_what_would_end_them() {
        assert_eq!(github_data("50 % : a,b\r\nc"), "50 %25 : a,b%0D%0Ac");
        assert_eq!(
            github_property("posts/50%,a:b.md"),
            "posts/50%25%2Ca%3Ab.md"
        );
    }

    #[test]
    fn a_span_over_lines_gets_no_columns_and_a_file_problem_no_line() {
        let mut report = Report::new();
        report.add_source("posts/a.md", "+++\nx = 1\n+++\n".into());
        report.push(Diagnostic::error("posts/a.md", Some(4..12), "deux lignes"));
        report.push(Diagnostic::warning("posts/b.md", None, "fichier vide").with_hint("h"));
        assert_eq!(
            github(&report),
            "::error file=posts/a.md,line=2,endLine=3,title=crieur::deux lignes\n\
             ::warning file=posts/b.md,title=crieur::fichier vide%0Aaide : h\n"
        );
    }
}
