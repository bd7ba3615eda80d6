//! `crieur plan`: the calendar of the coming weeks.

use std::path::Path;

use anyhow::{Context as _, bail};
use chrono::Duration;
use comfy_table::{Table, presets};

use crate::cli::PlanArgs;
use crate::plan::{EmptySlot, Plan, Vacancy, Window, format_local};
use crate::verdict::judge;

use super::context::Outcome;

/// The longest period `plan` shows, in weeks (ten years).
pub const MAX_WEEKS: u32 = 520;

pub fn run(root: &Path, args: &PlanArgs) -> anyhow::Result<Outcome> {
    let project = super::context::load_checked(root)?;
    let Some(config) = project.config.as_ref() else {
        super::context::print_report(&project.report);
        eprintln!(
            "La configuration a des erreurs qui empêchent tout calendrier : corrigez-les (voir `crieur check`)."
        );
        return Ok(Outcome::Invalid);
    };
    let tz = config.timezone;
    let from = match &args.from {
        Some(text) => super::context::parse_instant(text, tz)?,
        None => super::context::now(tz)?,
    };
    if args.weeks > MAX_WEEKS {
        bail!(
            "--weeks {} : la période dure {MAX_WEEKS} semaines (10 ans) au plus",
            args.weeks
        );
    }
    let until = match &args.until {
        Some(text) => super::context::parse_instant(text, tz)?,
        None => from
            .checked_add_signed(Duration::weeks(i64::from(args.weeks)))
            .context("fin de la période hors limites")?,
    };
    if until <= from {
        bail!("la fin de la période doit venir après son début");
    }
    if until - from > Duration::weeks(i64::from(MAX_WEEKS)) {
        bail!(
            "la période dure {MAX_WEEKS} semaines (10 ans) au plus : rapprochez --until de --from"
        );
    }
    let verdicts = judge(&project, &project.report);
    let mut plan = verdicts.calendar(&project, config, Window { from, until });
    plan.apart = verdicts.apart(&project, config);
    if matches!(
        config.publisher.kind,
        crate::config::PublisherKind::Buffer { .. }
    ) {
        for overflow in crate::plan::queue_overflows(config, &plan) {
            eprintln!(
                "attention : le canal « {} » aurait jusqu'à {} posts programmés à la fois chez Buffer, plus que sa file n'en prend ({}) ; à partir du {}, les posts attendront qu'une place se libère (réduisez `lookahead` dans `[publisher]`, ou réglez `queue_limit` du canal selon votre offre Buffer)",
                overflow.channel,
                overflow.count,
                overflow.limit,
                format_local(&overflow.at.with_timezone(&tz)),
            );
        }
    }
    if args.json {
        println!("{}", serde_json::to_string(&plan)?);
    } else if args.ics {
        print!(
            "{}",
            crate::calendar::ics(&project, config, &plan, crate::clock::now())
        );
    } else if args.csv {
        print!("{}", crate::calendar::csv(&project, config, &plan)?);
    } else {
        print!("{}", render(&plan, tz.name()));
    }
    if project.report.has_errors() {
        eprintln!(
            "Le projet a des erreurs ({}) : `crieur check` les détaille.",
            project.report.error_count()
        );
        return Ok(Outcome::Invalid);
    }
    Ok(Outcome::Success)
}

/// The plan as a table, then the empty slots.
pub fn render(plan: &Plan, tz_name: &str) -> String {
    let mut out = String::new();
    if plan.slots.is_empty() {
        out.push_str("Aucun post prévu sur cette période.\n");
    } else {
        let mut table = Table::new();
        table.load_style(presets::NOTHING);
        // The post comes last, with its mark when it is blocked: terminals
        // draw `✗` one cell wide or two, and nothing after it on the line
        // can be pushed out of its column.
        table.set_header(vec![
            format!("Date ({tz_name})"),
            "Série".into(),
            "Canaux".into(),
            "Post".into(),
        ]);
        for slot in &plan.slots {
            let post = if slot.blocked {
                format!("{}  ✗ bloqué", slot.post)
            } else {
                slot.post.clone()
            };
            table.add_row(vec![
                format_local(&slot.at),
                slot.series.clone().unwrap_or_else(|| "—".into()),
                slot.channels.join(", "),
                post,
            ]);
        }
        out.push_str(&table.trim_fmt());
        out.push('\n');
    }
    let blocked: Vec<_> = plan.slots.iter().filter(|slot| slot.blocked).collect();
    if !blocked.is_empty() {
        out.push_str(
            "\nPosts bloqués : rien ne part, et leur créneau reste vide tant qu'ils ne sont pas corrigés :\n",
        );
        for slot in blocked {
            out.push_str(&format!("  {}  {}\n", format_local(&slot.at), slot.post));
            for problem in &slot.problems {
                out.push_str(&format!("      {problem}\n"));
            }
        }
    }
    if !plan.apart.is_empty() {
        out.push_str("\nHors calendrier :\n");
        for apart in &plan.apart {
            out.push_str(&format!("  {}\n", apart.post));
            for problem in &apart.problems {
                out.push_str(&format!("      {problem}\n"));
            }
        }
    }
    if !plan.empty.is_empty() {
        out.push_str("\nCréneaux vides :\n");
        let apart = !plan.apart.is_empty();
        for (index, empty) in plan.empty.iter().enumerate() {
            out.push_str(&format!(
                "  {}  {}\n",
                format_local(&empty.at),
                empty.series
            ));
            // One explanation under each run of slots empty for one cause.
            let why = vacancy(empty, apart);
            let next = plan.empty.get(index + 1).map(|next| vacancy(next, apart));
            if next.as_ref() != Some(&why) {
                out.push_str(&format!("    → {why}\n"));
            }
        }
    }
    out
}

/// Why a slot is empty and what to do, in French.
fn vacancy(empty: &EmptySlot, apart: bool) -> String {
    let series = &empty.series;
    let write = format!("écrivez-en un avec `crieur new {series}`");
    let write = if apart {
        format!(
            "{write}, ou rattachez à la série un post hors calendrier (ci-dessus) : `series = \"{series}\"`"
        )
    } else {
        write
    };
    match &empty.cause {
        Vacancy::NoPost => format!("aucun post de la série n'attend : {write}"),
        Vacancy::UsedUp => format!(
            "aucun post de la série n'attend, les siens sont déjà partis ou prévus plus tôt : {write}"
        ),
        Vacancy::Draft { post } => format!(
            "le post `{post}` qui prendrait ce créneau est un brouillon : retirez `draft = true` quand il est prêt"
        ),
    }
}
