//! `crieur status`: what is queued, sent and failed.

use std::path::Path;

use crate::store::{Status, Store};

use super::Outcome;

pub fn run(root: &Path) -> anyhow::Result<Outcome> {
    let project = super::load(root)?;
    let Some(config) = project.config.as_ref() else {
        super::print_report(&project.report);
        return Ok(Outcome::Invalid);
    };
    let Some(store) = Store::open_existing(&root.join(&config.state))? else {
        println!("Rien n'a encore été publié (pas de base d'état : lancez `crieur publish`).");
        return Ok(Outcome::Success);
    };
    let state = root.join(&config.state);
    let when = |key: &str| -> Option<String> {
        let text = store.meta(key).ok().flatten()?;
        let at = chrono::DateTime::parse_from_rfc3339(&text).ok()?;
        Some(crate::plan::format_local(
            &at.with_timezone(&config.timezone),
        ))
    };
    let last_pass = when(crate::daemon::LAST_PASS);
    if crate::daemon::is_running(&state) {
        println!(
            "Démon : en marche ; dernier passage {}, prochain réveil {}.",
            last_pass.as_deref().unwrap_or("à venir"),
            when(crate::daemon::NEXT_WAKE)
                .as_deref()
                .unwrap_or("inconnu")
        );
    } else {
        println!(
            "Démon : arrêté{}.",
            last_pass.map_or_else(String::new, |at| format!(" (dernier passage {at})"))
        );
    }
    if let Some(error) = store
        .meta(crate::daemon::LAST_ERROR)?
        .filter(|e| !e.is_empty())
    {
        println!("Dernière erreur : {error}");
    }
    let deliveries = store.deliveries()?;
    let sections: [(&str, &[Status]); 4] = [
        (
            "À venir",
            &[
                Status::Queued,
                Status::Creating,
                Status::Editing,
                Status::Deleting,
            ],
        ),
        ("Publiés", &[Status::Sent]),
        ("En échec", &[Status::Error, Status::Missed]),
        ("Retirés", &[Status::Withdrawn]),
    ];
    let mut failed = false;
    for (title, statuses) in sections {
        let rows: Vec<_> = deliveries
            .iter()
            .filter(|d| statuses.contains(&d.status))
            .collect();
        if rows.is_empty() {
            continue;
        }
        println!("{title} :");
        for delivery in rows {
            let at = delivery.at.with_timezone(&config.timezone);
            println!(
                "  {}  posts/{}.md  {}  {}",
                crate::plan::format_local(&at),
                delivery.post_id,
                delivery.channel,
                delivery.status.label()
            );
            if let Some(error) = &delivery.last_error {
                if matches!(delivery.status, Status::Error | Status::Missed) {
                    failed = true;
                }
                println!("      {error}");
            }
        }
    }
    Ok(if failed {
        Outcome::Invalid
    } else {
        Outcome::Success
    })
}
