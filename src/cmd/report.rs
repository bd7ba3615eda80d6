//! `crieur report`: the communication section of the activity report.
//! The networks' figures are read first when the last reading is a day
//! old (unless `--offline`), under the pass lock so that the request
//! budget is counted once; then the report is made from the store alone,
//! so that the same store gives the same report.

use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

use crate::cli::ReportArgs;
use crate::config::Config;
use crate::publish::engagement;
use crate::report::Period;
use crate::store::Store;

use super::context::Outcome;

pub fn run(root: &Path, args: &ReportArgs) -> anyhow::Result<Outcome> {
    let project = super::context::load(root)?;
    let Some(config) = project.config.as_ref() else {
        super::context::print_report(&project.report);
        eprintln!("La configuration a des erreurs : pas de bilan (voir `crieur check`).");
        return Ok(Outcome::Invalid);
    };
    let now = super::context::now(config.timezone)?;
    let state = root.join(&config.state);
    if args.refresh_only {
        if let Some(failed) = refresh(root, config, &state, now)? {
            for line in failed {
                eprintln!("{line}");
            }
        }
        return Ok(Outcome::Success);
    }
    let period = period(args, config.timezone, now)?;
    let failed = if args.offline {
        None
    } else {
        refresh(root, config, &state, now)?
    };
    let store = Store::open_existing(&state)?;
    let report = crate::reporter::build(&project, store.as_ref(), period)?;
    if let Some(failed) = failed.filter(|_| args.json || args.csv || args.html.is_some()) {
        for line in failed {
            eprintln!("{line}");
        }
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else if args.csv {
        print!("{}", crate::report::csv(&report)?);
    } else if let Some(path) = &args.html {
        let thumbnails = crate::reporter::thumbnails(&project, &report);
        let page = crate::report::html(&report, &thumbnails);
        crate::file::write_atomic(path, page.as_bytes())
            .with_context(|| format!("impossible d'écrire {}", path.display()))?;
        println!("Bilan écrit dans {}.", path.display());
    } else {
        print!("{}", crate::report::text(&report));
    }
    Ok(Outcome::Success)
}

/// The period asked for: a year (the current one by default), or two
/// dates, the second excluded.
fn period(args: &ReportArgs, tz: Tz, now: DateTime<Utc>) -> anyhow::Result<Period> {
    if let (Some(from), Some(until)) = (&args.from, &args.until) {
        let from = super::context::parse_instant(from, tz)?;
        let until = super::context::parse_instant(until, tz)?;
        if until <= from {
            anyhow::bail!("la fin de la période (--until) doit venir après son début (--from)");
        }
        return Ok(Period::new(from, until, tz));
    }
    let year = args.year.unwrap_or_else(|| now.with_timezone(&tz).year());
    Period::year(year, tz).with_context(|| format!("année impossible : {year}"))
}

/// Reads the networks' figures when the last reading is a day old, under
/// the pass lock. Returns the lines that say what could not be read, or
/// `None` when nothing was read (not due, nothing sent, no store).
fn refresh(
    root: &Path,
    config: &Config,
    state: &Path,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Vec<String>>> {
    if !state.is_file() {
        return Ok(None);
    }
    let _pass = super::publish::pass_lock(state)?;
    let store = Store::open(state)?;
    if !engagement::due(&store, now)? {
        return Ok(None);
    }
    let mut publisher = match crate::publish::open(root, config, store.requests()?) {
        Ok(publisher) => publisher,
        Err(error) => {
            return Ok(Some(vec![format!(
                "Les chiffres des réseaux n'ont pas pu être relevés ({error}) : le bilan montre les derniers relevés."
            )]));
        }
    };
    let refreshed = engagement::refresh(&store, publisher.as_mut(), config, now)?;
    Ok(Some(
        refreshed
            .failed
            .iter()
            .map(|failure| crate::reporter::note(failure, config.timezone))
            .collect(),
    ))
}
