//! The editorial calendar where the team lives: an iCalendar feed (RFC
//! 5545) for calendar apps and a CSV table for spreadsheets. Pure: the plan
//! and the project in, text out.
//!
//! Each planned post at its instant is one event whose UID is derived from
//! the post and its slot, so a subscribed calendar updates an event when
//! the post's text changes instead of adding a second one. Times are
//! written in UTC, which every calendar app shows in its own zone.

use chrono::{DateTime, Duration, Utc};
use icalendar::{Calendar, Component, Event, EventLike, Property};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::plan::Plan;
use crate::post::Post;
use crate::project::Project;
use crate::template::{Layer, Template, TextLayer, placeholders};

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
    crate::post::template_of(post, config)
        .and_then(|id| project.templates.get(id))
        .and_then(|template| headline(template, post))
        .unwrap_or_else(|| post.id.clone())
}

/// A card's main text: of the texts of the template's first format, those
/// set one under the other in a box included, the largest that the post
/// fills (a series' figure, an event's title); the brand's name, which
/// every card of the project shows, is no post's title.
fn headline(template: &Template, post: &Post) -> Option<String> {
    let mut texts: Vec<&TextLayer> = template
        .formats
        .values()
        .next()?
        .iter()
        .flat_map(Layer::texts)
        .collect();
    // Stable: of texts of one size, the first declared.
    texts.sort_by(|a, b| b.max_size.total_cmp(&a.max_size));
    texts.into_iter().find_map(|text| {
        text.text.iter().find_map(|pattern| {
            let mut out = pattern.get_ref().clone();
            for field in placeholders(pattern.get_ref()) {
                let value = post.visual_text(field).filter(|v| !v.trim().is_empty())?;
                out = out.replace(&format!("{{{field}}}"), value);
            }
            Some(out).filter(|text| !text.trim().is_empty())
        })
    })
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

/// Whether a character must not reach a calendar or a spreadsheet as it
/// is: C0 controls but tab, DEL, C1 controls, and the Unicode line and
/// paragraph separators. Line breaks (CR, LF) are among them.
fn is_control(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}')
}

/// A text for a property of one line (SUMMARY, CATEGORIES, the
/// calendar's name): every line break (CRLF, CR, LF) and every other
/// control character becomes one space. A lone CR would otherwise end the
/// line for some readers and start a property of the text's choosing.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') {
            chars.next();
        }
        out.push(if is_control(c) { ' ' } else { c });
    }
    out
}

/// A text for DESCRIPTION: CRLF, CR and LF become one `\n` (which the
/// crate writes escaped, `\n`, on the same content line); every other
/// control character becomes a space.
pub fn multi_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' => out.push('\n'),
            c if is_control(c) => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// One event of the feed, its texts as the project gives them.
struct Entry {
    uid: String,
    at: DateTime<Utc>,
    summary: String,
    description: String,
    category: Option<String>,
    blocked: bool,
}

/// The document: every text is normalised ([`one_line`], [`multi_line`])
/// before the crate escapes and folds it, so that nothing a post, a card
/// or the configuration says can end a content line.
fn document(name: &str, entries: &[Entry], stamp: DateTime<Utc>) -> String {
    let mut calendar = Calendar::empty();
    calendar.append_property(Property::new("VERSION", "2.0"));
    calendar.append_property(Property::new(
        "PRODID",
        format!("-//crieur//crieur {}//FR", env!("CARGO_PKG_VERSION")),
    ));
    calendar.append_property(Property::new("CALSCALE", "GREGORIAN"));
    let name = one_line(name);
    // The crate writes NAME as it is, unescaped (it does not know RFC
    // 7986's NAME is text): `VALUE=TEXT` has it escaped, and read back.
    calendar.append_property(
        Property::new("NAME", name.as_str())
            .add_parameter("VALUE", "TEXT")
            .done(),
    );
    calendar.append_property(Property::new("X-WR-CALNAME", name.as_str()));
    calendar.description(&multi_line(
        "Les posts prévus par crieur, à l'heure où ils partent.",
    ));
    for entry in entries {
        let mut event = Event::new();
        event
            .uid(&one_line(&entry.uid))
            .timestamp(stamp)
            .summary(&one_line(&entry.summary))
            .description(&multi_line(&entry.description))
            .starts(entry.at)
            .ends(entry.at + length());
        if let Some(category) = entry.category.as_deref().map(one_line)
            && !category.is_empty()
        {
            event.categories([category]);
        }
        event.status(if entry.blocked {
            icalendar::EventStatus::Tentative
        } else {
            icalendar::EventStatus::Confirmed
        });
        calendar.push(event.done());
    }
    calendar.done().to_string()
}

/// The plan as an iCalendar document.
pub fn ics(project: &Project, config: &Config, plan: &Plan, stamp: DateTime<Utc>) -> String {
    let mut entries = Vec::with_capacity(plan.slots.len());
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
            description.push_str(&excerpt(&multi_line(&post.body), 280));
            description.push_str("\n\n");
        }
        let channels = one_line(&slot.channels.join(", "));
        description.push_str(&format!("Réseaux : {channels}\n"));
        description.push_str(&format!("Fichier : posts/{}.md", one_line(&slot.post)));
        for problem in &slot.problems {
            description.push_str(&format!(
                "\nÀ corriger : {}",
                one_line(&problem.to_string())
            ));
        }
        entries.push(Entry {
            uid: uid(&slot.post, at),
            at,
            summary,
            description,
            category: slot.series.clone(),
            blocked: slot.blocked,
        });
    }
    document(
        &format!("{} : publications", config.brand.name),
        &entries,
        stamp,
    )
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

/// A cell a spreadsheet will not take for a formula (CSV injection, as
/// OWASP advises): a text that begins with `=`, `+`, `-`, `@`, a tab or a
/// CR, even after spaces, is given a leading apostrophe, which spreadsheets
/// read as "this is text" and do not show.
pub fn cell(text: &str) -> String {
    let formula = |c: char| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r');
    let first = text.chars().next();
    let after_spaces = text.trim_start_matches(' ').chars().next();
    if first.is_some_and(formula) || after_spaces.is_some_and(formula) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
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
        // Every cell, those crieur writes itself included: what is safe
        // today (a date, a state) stays safe if its format changes.
        let row = Row {
            date: cell(&row.date),
            heure: cell(&row.heure),
            serie: cell(&row.serie),
            fichier: cell(&row.fichier),
            reseaux: cell(&row.reseaux),
            titre: cell(&row.titre),
            etat: cell(&row.etat),
        };
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
    use proptest::prelude::*;

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

    /// The content lines of a document, unfolded as a reader unfolds them.
    fn unfolded(text: &str) -> Vec<String> {
        text.replace("\r\n ", "")
            .replace("\r\n\t", "")
            .split("\r\n")
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// A property's name: what comes before its first `:` or `;`.
    fn name_of(line: &str) -> &str {
        line.split([':', ';']).next().unwrap_or_default()
    }

    const PROPERTIES: &[&str] = &[
        "BEGIN",
        "END",
        "VERSION",
        "PRODID",
        "CALSCALE",
        "NAME",
        "X-WR-CALNAME",
        "DESCRIPTION",
        "X-WR-CALDESC",
        "UID",
        "DTSTAMP",
        "SUMMARY",
        "DTSTART",
        "DTEND",
        "CATEGORIES",
        "STATUS",
    ];

    fn one_event(name: &str, summary: &str, description: &str, category: &str) -> String {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).unwrap();
        let entry = Entry {
            uid: uid("chiffre/a", at),
            at,
            summary: summary.to_owned(),
            description: description.to_owned(),
            category: Some(category.to_owned()),
            blocked: false,
        };
        document(name, &[entry], at)
    }

    /// Every physical line ends with CRLF, holds no other CR or LF, and
    /// unfolds into properties crieur writes, and nothing else.
    fn assert_well_formed(text: &str) {
        assert!(text.ends_with("\r\n"), "{text:?}");
        for line in text.split("\r\n") {
            assert!(!line.contains(['\r', '\n']), "{line:?} in {text:?}");
        }
        for line in unfolded(text) {
            let name = name_of(&line);
            assert!(PROPERTIES.contains(&name), "{line:?} in {text:?}");
            if name == "BEGIN" || name == "END" {
                assert!(
                    line.ends_with(":VCALENDAR") || line.ends_with(":VEVENT"),
                    "{line:?}"
                );
            }
        }
    }

    #[test]
    fn a_carriage_return_in_a_text_injects_no_property() {
        let text = one_event(
            "CPTS\rURL:http://evil",
            "Chiffre\rATTACH:http://evil",
            "Une phrase.\rBEGIN:VALARM\rACTION:DISPLAY\rTRIGGER:-PT5M\rEND:VALARM\r\nFin\nfin",
            "chiffre\rATTACH:http://evil",
        );
        assert_well_formed(&text);
        let lines = unfolded(&text);
        for forbidden in ["ATTACH", "URL", "ACTION", "TRIGGER"] {
            assert!(!lines.iter().any(|l| name_of(l) == forbidden), "{text}");
        }
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("BEGIN:VALARM") && l.starts_with("BEGIN")),
            "{text}"
        );
        let parsed: Calendar = text.parse().expect("a valid document");
        let event = parsed.events().next().expect("one event");
        assert!(!event.properties().contains_key("ATTACH"));
        assert!(event.components().is_empty(), "{text}");
        assert_eq!(event.get_summary(), Some("Chiffre ATTACH:http://evil"));
        assert_eq!(
            event.get_description(),
            Some("Une phrase.\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT5M\nEND:VALARM\nFin\nfin")
        );
        assert_eq!(parsed.get_name(), Some("CPTS URL:http://evil"));
    }

    #[test]
    fn texts_are_normalised_for_one_line_and_for_descriptions() {
        let text = "a\r\nb\rc\nd\0e\u{7f}f\u{85}g\u{2028}h\ti";
        assert_eq!(one_line(text), "a b c d e f g h\ti");
        assert_eq!(multi_line(text), "a\nb\nc\nd e f g h\ti");
    }

    #[test]
    fn a_formula_cell_is_kept_as_text() {
        for formula in ["=1+1", "+1", "-1", "@SUM(1)", "\t=1", "\r=1", " =1"] {
            assert_eq!(cell(formula), format!("'{formula}"));
        }
        assert_eq!(cell("24/11/2026"), "24/11/2026");
        assert_eq!(cell("Le chiffre - 1"), "Le chiffre - 1");
        assert_eq!(cell(""), "");
    }

    /// Text of every kind, control characters and the pieces of an
    /// iCalendar document more often than chance would give them.
    fn hostile() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            any::<char>().prop_map(String::from),
            proptest::sample::select(vec![
                "\r",
                "\n",
                "\r\n",
                "\0",
                "\t",
                "\u{7f}",
                "\u{85}",
                "\u{2028}",
                "\u{2029}",
                "\\",
                ",",
                ";",
                ":",
                " ",
                "\\n",
                "ATTACH:http://evil",
                "BEGIN:VALARM",
                "é",
                "\u{1F600}",
            ])
            .prop_map(str::to_owned),
        ];
        proptest::collection::vec(piece, 0..120).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn any_text_gives_one_summary_line_and_reads_back_normalised(
            summary in hostile(),
            description in hostile(),
            name in hostile(),
            category in hostile(),
        ) {
            let text = one_event(&name, &summary, &description, &category);
            assert_well_formed(&text);
            let summaries = unfolded(&text)
                .iter()
                .filter(|line| name_of(line) == "SUMMARY")
                .count();
            prop_assert_eq!(summaries, 1);
            let parsed: Calendar = text.parse().expect("a valid document");
            let event = parsed.events().next().expect("one event");
            let (summary, description) = (one_line(&summary), multi_line(&description));
            let name = one_line(&name);
            prop_assert_eq!(event.get_summary(), Some(summary.as_str()));
            prop_assert_eq!(event.get_description(), Some(description.as_str()));
            let category = Some(one_line(&category)).filter(|c| !c.is_empty());
            prop_assert_eq!(event.get_categories(), category.map(|c| vec![c]));
            prop_assert_eq!(parsed.get_name(), Some(name.as_str()));
        }
    }

    fn card(template: &str, front_matter: &str) -> Option<String> {
        let source = match template {
            "chiffre" => include_str!("../../../assets/templates/chiffre.toml"),
            _ => include_str!("../../../assets/templates/evenement.toml"),
        };
        let path = format!("assets/templates/{template}.toml");
        let (template, diagnostics) = Template::parse(source, &path, template);
        let template = template.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let text = format!("+++\n{front_matter}\n+++\nLégende.\n");
        let (post, diagnostics) = Post::parse(
            &text,
            "posts/evenement/2026-12-17-soiree-dmp.md",
            "evenement/2026-12-17-soiree-dmp",
            chrono_tz::Europe::Paris,
        );
        let post = post.unwrap_or_else(|| panic!("{diagnostics:?}"));
        headline(&template, &post)
    }

    #[test]
    fn a_card_is_named_after_its_largest_text_that_the_post_fills() {
        // An event's title sits in a box of texts, beside the brand's name.
        assert_eq!(
            card(
                "evenement",
                "template = \"evenement\"\n[visual]\ntitle = \"Soirée DMP\"\ndate = \"Jeudi 17 décembre\"\nplace = \"Maison de santé\""
            )
            .as_deref(),
            Some("Soirée DMP")
        );
        assert_eq!(
            card(
                "chiffre",
                "template = \"chiffre\"\n[visual]\nnumber = \"240 008\"\ncaption = \"DMP ouverts.\""
            )
            .as_deref(),
            Some("240 008")
        );
        // Nothing the post fills: no title, the calendar shows the id.
        assert_eq!(card("evenement", "template = \"evenement\""), None);
    }

    #[test]
    fn an_excerpt_stops_between_words() {
        assert_eq!(excerpt("Un texte court.", 280), "Un texte court.");
        assert_eq!(excerpt("Un texte bien trop long", 12), "Un texte…");
    }
}
