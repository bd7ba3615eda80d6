//! The report said in French: the text summary `crieur report` prints,
//! and the CSV of its deliveries for spreadsheets.

use chrono::{DateTime, Datelike, NaiveDate};

use super::model::{Figures, Period, Report, Totals};
use crate::typography::french::{MONTHS, NNBSP};

/// A count as French writes it: digits grouped by threes from 1 000,
/// with a narrow no-break space (`12 400`).
pub fn number(value: u64) -> String {
    let digits = value.to_string();
    if digits.len() < 4 {
        return digits;
    }
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(NNBSP);
        }
        out.push(digit);
    }
    out
}

/// `janvier`… for a month number from 1.
pub fn month_name(month: u32) -> &'static str {
    MONTHS[(month.clamp(1, 12) - 1) as usize]
}

/// `1er janvier 2026`, `29 novembre 2026`.
pub fn date(day: NaiveDate) -> String {
    let number = match day.day() {
        1 => "1er".to_owned(),
        other => other.to_string(),
    };
    format!("{number} {} {}", month_name(day.month()), day.year())
}

/// `janvier 2026` from `2026-01`.
pub(super) fn month_label(key: &str) -> String {
    let mut parts = key.split('-');
    let year = parts.next().unwrap_or_default();
    let month = parts.next().and_then(|m| m.parse().ok()).unwrap_or(1);
    format!("{} {year}", month_name(month))
}

/// A count and its noun, singular for 0 and 1 as French has it.
pub(super) fn counted(value: u64, singular: &str, plural: &str) -> String {
    format!(
        "{} {}",
        number(value),
        if value < 2 { singular } else { plural }
    )
}

/// What a period is called: `en 2026`, or `du 1er mars 2026 au 31 mai 2026`.
pub(super) fn period_words(period: &Period) -> String {
    match period.calendar_year() {
        Some(year) => format!("en {year}"),
        None => format!(
            "du {} au {}",
            date(period.from.date_naive()),
            date(period.last_day())
        ),
    }
}

/// The known figures, said: `30 réactions, 2 partages, 1 commentaire,
/// 400 personnes atteintes, 1 200 vues`.
pub(super) fn figures_words(figures: &Figures) -> String {
    let parts: Vec<String> = [
        figures
            .reactions
            .map(|n| counted(n, "réaction", "réactions")),
        figures.shares.map(|n| counted(n, "partage", "partages")),
        figures
            .comments
            .map(|n| counted(n, "commentaire", "commentaires")),
        figures
            .reach
            .map(|n| counted(n, "personne atteinte", "personnes atteintes")),
        figures.impressions.map(|n| counted(n, "vue", "vues")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "chiffres non communiqués par le réseau".to_owned()
    } else {
        parts.join(", ")
    }
}

/// Who published: `la CPTS Mulhouse Agglomération`, or the brand as is.
pub(super) fn subject(brand: &str) -> String {
    if brand.trim().is_empty() {
        "la CPTS".to_owned()
    } else if brand.starts_with("CPTS") {
        format!("la {brand}")
    } else {
        brand.to_owned()
    }
}

/// The figures in a sentence, first: "En 2026, la CPTS a publié 48 posts
/// (96 publications), vus 12 400 fois, avec 320 réactions…".
pub fn sentence(report: &Report) -> String {
    let totals = &report.totals;
    let mut intro = period_words(&report.span);
    if let Some(first) = intro.get(..1) {
        intro = first.to_uppercase() + &intro[1..];
    }
    let mut out = format!(
        "{intro}, {} a publié {} ({})",
        subject(&report.brand),
        counted(totals.posts as u64, "post", "posts"),
        counted(totals.sent as u64, "publication", "publications"),
    );
    if let Some(seen) = totals.figures.seen() {
        out.push_str(&format!(
            ", {} {} fois",
            if totals.posts > 1 { "vus" } else { "vu" },
            number(seen)
        ));
    }
    let known = Figures {
        reach: None,
        impressions: None,
        ..totals.figures
    };
    if known.is_empty() {
        out.push('.');
    } else {
        out.push_str(&format!(", avec {}.", figures_words(&known)));
    }
    out
}

/// The change of one count from the previous period: `80 → 96 (+20 %)`.
fn change(before: Option<u64>, now: Option<u64>) -> String {
    let show = |v: Option<u64>| v.map_or_else(|| "non communiqué".to_owned(), number);
    let percent = match (before, now) {
        (Some(before), Some(now)) if before > 0 => {
            let delta = (now as f64 - before as f64) * 100.0 / before as f64;
            format!(" ({:+.0}{NNBSP}%)", delta)
        }
        _ => String::new(),
    };
    format!("{} → {}{percent}", show(before), show(now))
}

fn comparison(report: &Report, out: &mut Vec<String>) {
    let previous = &report.previous;
    let (before, now): (&Totals, &Totals) = (&previous.totals, &report.totals);
    let span = report.span.previous();
    out.push(format!(
        "Par rapport à la période précédente ({})",
        period_words(&span)
    ));
    let rows = now.compared(before);
    for (name, before, now) in rows {
        if before.is_some() || now.is_some() {
            out.push(format!(
                "  - {} : {}",
                name.to_lowercase(),
                change(before, now)
            ));
        }
    }
}

/// `29 novembre 2026 à 19:09` from an RFC 3339 instant.
pub fn instant_words(text: &str) -> String {
    match DateTime::parse_from_rfc3339(text) {
        Ok(at) => format!("{} à {}", date(at.date_naive()), at.format("%H:%M")),
        Err(_) => text.to_owned(),
    }
}

fn groups(report: &Report, out: &mut Vec<String>) {
    out.push("Par série".to_owned());
    for row in &report.by_series {
        out.push(format!(
            "  - {} : {}, {} ; {}",
            row.series.as_deref().unwrap_or("hors série"),
            counted(row.posts as u64, "post", "posts"),
            counted(row.sent as u64, "publication", "publications"),
            figures_words(&row.figures)
        ));
    }
    out.push(String::new());
    out.push("Par canal".to_owned());
    for row in &report.by_channel {
        out.push(format!(
            "  - {} ({}) : {} ; {}",
            row.channel,
            row.network.map_or("réseau inconnu", |n| n.display_name()),
            counted(row.sent as u64, "publication", "publications"),
            figures_words(&row.figures)
        ));
    }
    out.push(String::new());
    out.push("Par mois".to_owned());
    for row in &report.by_month {
        let figures = if row.sent == 0 {
            String::new()
        } else {
            format!(" ; {}", figures_words(&row.figures))
        };
        out.push(format!(
            "  - {} : {}, {}{figures}",
            month_label(&row.month),
            counted(row.posts as u64, "post", "posts"),
            counted(row.sent as u64, "publication", "publications"),
        ));
    }
}

/// How many posts the summary names among the most read.
const TOP: usize = 5;

fn top(report: &Report, out: &mut Vec<String>) {
    out.push("Les posts les plus lus".to_owned());
    for (rank, row) in report.posts.iter().take(TOP).enumerate() {
        out.push(format!(
            "  {}. « {} » ({}, {}) : {}{}{}",
            rank + 1,
            row.title,
            row.channel,
            instant_words(&row.at),
            figures_words(&row.figures),
            if row.deleted {
                " (supprimé du réseau depuis : derniers chiffres relevés)"
            } else {
                ""
            },
            row.url
                .as_deref()
                .map_or_else(String::new, |url| format!(" — {url}"))
        ));
    }
}

/// When the figures were read, and what could not be read.
pub(super) fn freshness(report: &Report) -> Vec<String> {
    let mut out = vec![match &report.refreshed_at {
        Some(at) => format!("Chiffres relevés le {}.", instant_words(at)),
        None => "Chiffres de réception jamais relevés : lancez `crieur report` sans --offline."
            .to_owned(),
    }];
    out.extend(report.notes.iter().cloned());
    out
}

/// The summary `crieur report` prints.
pub fn text(report: &Report) -> String {
    let mut out = vec![
        format!("Bilan de la communication, {}", period_words(&report.span)),
        String::new(),
        sentence(report),
        String::new(),
    ];
    if report.totals.sent > 0 {
        groups(report, &mut out);
        out.push(String::new());
        top(report, &mut out);
        out.push(String::new());
    }
    comparison(report, &mut out);
    out.push(String::new());
    out.extend(freshness(report));
    out.join("\n") + "\n"
}

fn optional(value: Option<u64>) -> String {
    value.map_or_else(String::new, |v| v.to_string())
}

/// One row per delivery, the columns of the JSON's `posts`, UTF-8 with a
/// byte-order mark and `;` between columns, as `plan --csv`.
pub fn csv(report: &Report) -> Result<String, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    writer.write_record([
        "post",
        "title",
        "series",
        "channel",
        "network",
        "at",
        "url",
        "reactions",
        "shares",
        "comments",
        "reach",
        "impressions",
        "read_at",
        "deleted",
    ])?;
    let cell = crate::calendar::cell;
    for row in &report.posts {
        writer.write_record([
            cell(&row.post),
            cell(&row.title),
            cell(row.series.as_deref().unwrap_or_default()),
            cell(&row.channel),
            row.network.map_or("", |n| n.as_str()).to_owned(),
            row.at.clone(),
            cell(row.url.as_deref().unwrap_or_default()),
            optional(row.figures.reactions),
            optional(row.figures.shares),
            optional(row.figures.comments),
            optional(row.figures.reach),
            optional(row.figures.impressions),
            row.read_at.clone().unwrap_or_default(),
            if row.deleted { "oui" } else { "non" }.to_owned(),
        ])?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
}
