//! The report as one self-contained French page, to print on A4 or to
//! copy into Word or LibreOffice: the figures in a sentence first, a bar
//! chart per month and per network (plain SVG, each with its `<title>`,
//! its `<desc>` and a table that says the same), every post with its
//! card in small (a `data:` URI the caller makes) and a link to it, then
//! what each figure means and when it was read. Every text is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::{Figures, Report};
use super::text::{counted, freshness, instant_words, month_label, number, period_words, sentence};

/// A post's card, small, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// `data:image/png;base64,…`
    pub data_uri: String,
    pub alt: String,
}

/// Text made safe for HTML, in content and in attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
@page { size: A4; margin: 18mm 16mm; }
body { font-family: Arial, Helvetica, sans-serif; font-size: 11pt; color: #1a1a1a; max-width: 180mm; margin: 0 auto; padding: 8mm 0; }
h1 { font-size: 18pt; margin: 0 0 4mm; }
h2 { font-size: 13pt; margin: 8mm 0 3mm; border-bottom: 1px solid #999; }
p.lead { font-size: 12pt; line-height: 1.45; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0 4mm; }
th, td { border: 1px solid #bbb; padding: 1.5mm 2mm; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; white-space: nowrap; }
img.card { width: 22mm; height: auto; display: block; }
svg { display: block; max-width: 100%; height: auto; }
.note { font-size: 9.5pt; color: #444; }
@media print {
  body { padding: 0; }
  a { color: inherit; }
  h2 { break-after: avoid; }
  tr, svg { break-inside: avoid; }
}
";

/// An empty cell for a figure the network did not report.
fn cell(value: Option<u64>) -> String {
    value.map_or_else(String::new, number)
}

fn figure_cells(figures: &Figures) -> String {
    [
        figures.reactions,
        figures.shares,
        figures.comments,
        figures.reach,
        figures.impressions,
    ]
    .iter()
    .map(|v| format!("<td class=\"n\">{}</td>", cell(*v)))
    .collect()
}

const FIGURE_HEADS: &str = "<th class=\"n\">Réactions</th><th class=\"n\">Partages</th><th class=\"n\">Commentaires</th><th class=\"n\">Personnes atteintes</th><th class=\"n\">Vues</th>";

/// A horizontal bar chart of counts, plain SVG with its title and
/// description for screen readers.
fn bars(id: &str, title: &str, rows: &[(String, usize)]) -> String {
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let (label_width, bar_width, row_height) = (150, 470, 22);
    let height = row_height * rows.len().max(1) + 10;
    let desc: Vec<String> = rows
        .iter()
        .map(|(label, value)| format!("{label} : {value}"))
        .collect();
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" width=\"680\" height=\"{height}\" viewBox=\"0 0 680 {height}\"><title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>",
        escape(title),
        escape(&desc.join(" ; "))
    );
    for (index, (label, value)) in rows.iter().enumerate() {
        let y = 5 + index * row_height;
        let width = value * bar_width / max;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\" font-family=\"Arial, sans-serif\">{}</text><rect x=\"{}\" y=\"{}\" width=\"{width}\" height=\"{}\" fill=\"#1F4E79\"/><text x=\"{}\" y=\"{}\" font-size=\"12\" font-family=\"Arial, sans-serif\">{}</text>",
            label_width - 6,
            y + 15,
            escape(label),
            label_width,
            y + 3,
            row_height - 6,
            label_width + width + 4,
            y + 15,
            number(*value as u64)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn months(report: &Report, out: &mut String) {
    let rows: Vec<(String, usize)> = report
        .by_month
        .iter()
        .map(|row| (month_label(&row.month), row.sent))
        .collect();
    out.push_str("<h2>Par mois</h2>");
    out.push_str(&bars("mois", "Publications par mois", &rows));
    out.push_str("<table><caption class=\"note\">Les mêmes chiffres, mois par mois</caption><thead><tr><th>Mois</th><th class=\"n\">Posts</th><th class=\"n\">Publications</th>");
    out.push_str(FIGURE_HEADS);
    out.push_str("</tr></thead><tbody>");
    for row in &report.by_month {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>{}</tr>",
            escape(&month_label(&row.month)),
            row.posts,
            row.sent,
            figure_cells(&row.figures)
        );
    }
    out.push_str("</tbody></table>");
}

fn channels(report: &Report, out: &mut String) {
    let name = |channel: &str, network: Option<crate::network::Network>| match network {
        Some(network) => format!("{channel} ({})", network.display_name()),
        None => channel.to_owned(),
    };
    let rows: Vec<(String, usize)> = report
        .by_channel
        .iter()
        .map(|row| (name(&row.channel, row.network), row.sent))
        .collect();
    out.push_str("<h2>Par réseau</h2>");
    out.push_str(&bars("reseaux", "Publications par réseau", &rows));
    out.push_str("<table><caption class=\"note\">Les mêmes chiffres, réseau par réseau</caption><thead><tr><th>Canal</th><th class=\"n\">Publications</th>");
    out.push_str(FIGURE_HEADS);
    out.push_str("</tr></thead><tbody>");
    for row in &report.by_channel {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td>{}</tr>",
            escape(&name(&row.channel, row.network)),
            row.sent,
            figure_cells(&row.figures)
        );
    }
    out.push_str("</tbody></table>");
    out.push_str("<h2>Par série</h2><table><thead><tr><th>Série</th><th class=\"n\">Posts</th><th class=\"n\">Publications</th>");
    out.push_str(FIGURE_HEADS);
    out.push_str("</tr></thead><tbody>");
    for row in &report.by_series {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>{}</tr>",
            escape(row.series.as_deref().unwrap_or("hors série")),
            row.posts,
            row.sent,
            figure_cells(&row.figures)
        );
    }
    out.push_str("</tbody></table>");
}

fn posts(report: &Report, thumbnails: &BTreeMap<String, Thumbnail>, out: &mut String) {
    out.push_str("<h2>Tous les posts</h2><table class=\"posts\"><thead><tr><th>Carte</th><th>Post</th><th>Canal</th><th>Date</th>");
    out.push_str(FIGURE_HEADS);
    out.push_str("</tr></thead><tbody>");
    for row in &report.posts {
        let image = thumbnails.get(&row.post).map_or_else(String::new, |t| {
            format!(
                "<img class=\"card\" src=\"{}\" alt=\"{}\">",
                escape(&t.data_uri),
                escape(&t.alt)
            )
        });
        let title = match &row.url {
            Some(url) => format!("<a href=\"{}\">{}</a>", escape(url), escape(&row.title)),
            None => escape(&row.title),
        };
        let deleted = if row.deleted {
            "<br><span class=\"note\">supprimé du réseau depuis : derniers chiffres relevés</span>"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr><td>{image}</td><td>{title}{deleted}</td><td>{}</td><td>{}</td>{}</tr>",
            escape(&row.channel),
            escape(&instant_words(&row.at)),
            figure_cells(&row.figures)
        );
    }
    out.push_str("</tbody></table>");
}

fn comparison(report: &Report, out: &mut String) {
    let before = &report.previous.totals;
    let now = &report.totals;
    let _ = write!(
        out,
        "<h2>Par rapport à la période précédente</h2><table><thead><tr><th></th><th class=\"n\">{}</th><th class=\"n\">{}</th></tr></thead><tbody>",
        escape(&period_words(&report.span.previous())),
        escape(&period_words(&report.span))
    );
    let rows = now.compared(before);
    for (name, before, now) in rows {
        let _ = write!(
            out,
            "<tr><th>{name}</th><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            cell(before),
            cell(now)
        );
    }
    out.push_str("</tbody></table>");
}

const MEANING: &str = "<h2>Ce que disent les chiffres</h2><ul class=\"note\">
<li><strong>Publications</strong> : un post publié sur un canal ; un post envoyé sur trois réseaux compte pour trois publications.</li>
<li><strong>Réactions</strong> : les « j'aime » et autres réactions (réactions chez Buffer, favoris sur Mastodon, « j'aime » sur Bluesky).</li>
<li><strong>Partages</strong> : les partages et republications (partages et republications chez Buffer, partages sur Mastodon, republications et citations sur Bluesky).</li>
<li><strong>Commentaires</strong> : les commentaires et réponses.</li>
<li><strong>Personnes atteintes</strong> et <strong>vues</strong> : seulement là où le réseau les donne (Facebook, Instagram, LinkedIn par Buffer) ; Mastodon et Bluesky ne les donnent pas.</li>
<li>Une case vide : le réseau n'a pas donné ce chiffre ; aucun zéro n'est inventé.</li>
</ul>";

/// The page; `thumbnails` by post id.
pub fn html(report: &Report, thumbnails: &BTreeMap<String, Thumbnail>) -> String {
    let mut out = String::new();
    let title = format!("Bilan de la communication, {}", period_words(&report.span));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p class=\"lead\">{}</p>\n",
        escape(&title),
        escape(&title),
        escape(&sentence(report))
    );
    let _ = write!(
        out,
        "<p>{} sur {}.</p>",
        escape(&counted(
            report.totals.sent as u64,
            "publication",
            "publications"
        )),
        escape(&counted(report.by_channel.len() as u64, "canal", "canaux"))
    );
    if report.totals.sent > 0 {
        months(report, &mut out);
        channels(report, &mut out);
        posts(report, thumbnails, &mut out);
    }
    comparison(report, &mut out);
    out.push_str(MEANING);
    for line in freshness(report) {
        let _ = write!(out, "<p class=\"note\">{}</p>", escape(&line));
    }
    out.push_str("\n</body>\n</html>\n");
    out
}
