//! The editorial calendar where the team lives: an iCalendar feed (RFC
//! 5545) for calendar apps and a CSV table for spreadsheets. Pure: the plan
//! and the project in, text out.
//!
//! Each planned post at its instant is one event whose UID is derived from
//! the post and its slot, so a subscribed calendar updates an event when
//! the post's text changes instead of adding a second one. Times are
//! written in UTC, which every calendar app shows in its own zone.

use chrono::{DateTime, Duration, Utc};
use icalendar::{Calendar, Component, Event, EventLike};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::plan::Plan;
use crate::post::Post;
use crate::project::Project;

/// An event's length in calendars: a post goes out at an instant.
fn length() -> Duration {
    Duration::minutes(15)
}

/// The UID of a post at a slot: stable across runs and edits.
pub fn uid(post: &str, at: DateTime<Utc>) -> String {
    let digest = Sha256::digest(format!("{post}|{}", at.timestamp()));
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}@crieur")
}

/// A post's title as the calendar shows it: its card's main text, or its
/// id.
pub fn title(project: &Project, config: &Config, post: &Post) -> String {
    crate::check::template_of(post, config)
        .and_then(|id| project.templates.get(id))
        .and_then(|template| crate::access::main_text(template, post))
        .filter(|text| !text.trim().is_empty())
        .unwrap_or_else(|| post.id.clone())
}

fn series_name(config: &Config, series: Option<&str>) -> Option<String> {
    let id = series?;
    Some(
        config
            .series
            .get(id)
            .and_then(|s| s.name.clone())
            .unwrap_or_else(|| id.to_owned()),
    )
}

/// The start of a caption, for descriptions.
fn excerpt(text: &str, most: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= most {
        return text.to_owned();
    }
    let cut: String = text.chars().take(most).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut}…")
}

/// The plan as an iCalendar document.
pub fn ics(project: &Project, config: &Config, plan: &Plan, stamp: DateTime<Utc>) -> String {
    let mut calendar = Calendar::new();
    calendar.name(&format!("{} : publications", config.brand.name));
    calendar.description("Les posts prévus par crieur, à l'heure où ils partent.");
    for slot in &plan.slots {
        let post = project.posts.iter().find(|p| p.id == slot.post);
        let at = slot.at.with_timezone(&Utc);
        let title = post.map_or_else(|| slot.post.clone(), |post| title(project, config, post));
        let mut summary = match series_name(config, slot.series.as_deref()) {
            Some(series) => format!("{series} : {title}"),
            None => title,
        };
        if slot.blocked {
            summary = format!("[bloqué] {summary}");
        }
        let mut description = String::new();
        if let Some(post) = post {
            description.push_str(&excerpt(&post.body, 280));
            description.push_str("\n\n");
        }
        description.push_str(&format!("Réseaux : {}\n", slot.channels.join(", ")));
        description.push_str(&format!("Fichier : posts/{}.md", slot.post));
        for problem in &slot.problems {
            description.push_str(&format!("\nÀ corriger : {problem}"));
        }
        let mut event = Event::new();
        event
            .uid(&uid(&slot.post, at))
            .timestamp(stamp)
            .summary(&summary)
            .description(&description)
            .starts(at)
            .ends(at + length());
        if let Some(series) = &slot.series {
            event.add_property("CATEGORIES", series);
        }
        event.status(if slot.blocked {
            icalendar::EventStatus::Tentative
        } else {
            icalendar::EventStatus::Confirmed
        });
        calendar.push(event.done());
    }
    let mut text = calendar.done().to_string();
    text = text.replacen(
        "PRODID:ICALENDAR-RS",
        &format!("PRODID:-//crieur//crieur {}//FR", env!("CARGO_PKG_VERSION")),
        1,
    );
    text
}

/// One row of the CSV plan.
#[derive(Debug, serde::Serialize)]
struct Row {
    date: String,
    heure: String,
    #[serde(rename = "série")]
    serie: String,
    fichier: String,
    #[serde(rename = "réseaux")]
    reseaux: String,
    titre: String,
    #[serde(rename = "état")]
    etat: String,
}

/// The plan as CSV for spreadsheets: UTF-8 with a byte-order mark (Excel
/// takes a file without one for its local encoding) and `;` between
/// columns (the separator French Excel expects; LibreOffice asks).
pub fn csv(project: &Project, config: &Config, plan: &Plan) -> Result<String, csv::Error> {
    let mut rows: Vec<(DateTime<Utc>, Row)> = Vec::new();
    for slot in &plan.slots {
        let post = project.posts.iter().find(|p| p.id == slot.post);
        rows.push((
            slot.at.with_timezone(&Utc),
            Row {
                date: slot.at.format("%d/%m/%Y").to_string(),
                heure: slot.at.format("%H:%M").to_string(),
                serie: slot.series.clone().unwrap_or_default(),
                fichier: format!("posts/{}.md", slot.post),
                reseaux: slot.channels.join(", "),
                titre: post.map_or_else(String::new, |post| title(project, config, post)),
                etat: if slot.blocked { "bloqué" } else { "prêt" }.to_owned(),
            },
        ));
    }
    for empty in &plan.empty {
        rows.push((
            empty.at.with_timezone(&Utc),
            Row {
                date: empty.at.format("%d/%m/%Y").to_string(),
                heure: empty.at.format("%H:%M").to_string(),
                serie: empty.series.clone(),
                fichier: String::new(),
                reseaux: String::new(),
                titre: String::new(),
                etat: "créneau vide".to_owned(),
            },
        ));
    }
    rows.sort_by_key(|row| row.0);
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    for (_, row) in rows {
        writer.serialize(row)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_uid_depends_on_the_post_and_its_slot_only() {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).unwrap();
        assert_eq!(uid("chiffre/a", at), uid("chiffre/a", at));
        assert_ne!(uid("chiffre/a", at), uid("chiffre/b", at));
        assert_ne!(
            uid("chiffre/a", at),
            uid("chiffre/a", at + Duration::days(7))
        );
        assert!(uid("chiffre/a", at).ends_with("@crieur"));
    }

    #[test]
    fn an_excerpt_stops_between_words() {
        assert_eq!(excerpt("Un texte court.", 280), "Un texte court.");
        assert_eq!(excerpt("Un texte bien trop long", 12), "Un texte…");
    }
}
