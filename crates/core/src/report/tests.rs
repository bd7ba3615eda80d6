use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Europe::Paris;

use super::*;
use crate::delivery::{Delivery, Key, Status};
use crate::network::Network;

fn at(month: u32, day: u32) -> DateTime<Utc> {
    Paris
        .with_ymd_and_hms(2026, month, day, 19, 9, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn delivery(post: &str, channel: &str, at: DateTime<Utc>, status: Status) -> Delivery {
    Delivery {
        id: 0,
        post_id: post.into(),
        channel: channel.into(),
        at,
        content_hash: String::new(),
        image_url: None,
        remote_id: Some("r".into()),
        status,
        attempts: 0,
        last_error: None,
        updated_at: at,
    }
}

fn read(figures: Figures, gone: bool) -> Engagement {
    Engagement {
        figures,
        read_at: at(12, 2),
        gone,
    }
}

struct Fixture {
    deliveries: Vec<Delivery>,
    engagement: BTreeMap<Key, Engagement>,
    posts: BTreeMap<String, PostInfo>,
    channels: BTreeMap<String, Network>,
}

fn fixture() -> Fixture {
    let deliveries = vec![
        delivery("chiffre/a", "facebook", at(11, 29), Status::Sent),
        delivery("chiffre/a", "mastodon", at(11, 29), Status::Sent),
        delivery("chiffre/b", "facebook", at(3, 3), Status::Sent),
        delivery("chiffre/c", "facebook", at(12, 20), Status::Queued),
        delivery("agenda/d", "facebook", at(1, 5), Status::Error),
        // The year before.
        delivery(
            "chiffre/z",
            "facebook",
            at(3, 3) - Duration::days(365),
            Status::Sent,
        ),
    ];
    let mut engagement = BTreeMap::new();
    engagement.insert(
        deliveries[0].key(),
        engagement_of(Figures::from_buffer(&[
            ("reactions".into(), 30.0),
            ("shares".into(), 1.0),
            ("reposts".into(), 1.0),
            ("comments".into(), 4.0),
            ("reach".into(), 900.0),
            ("impressions".into(), 1200.0),
            ("engagementRate".into(), 3.5),
        ])),
    );
    engagement.insert(
        deliveries[1].key(),
        read(Figures::from_mastodon(5, 2, 1), true),
    );
    engagement.insert(
        deliveries[5].key(),
        engagement_of(Figures::from_buffer(&[("reactions".into(), 3.0)])),
    );
    let posts = [
        ("chiffre/a", "65,4 millions", Some("chiffre")),
        ("chiffre/b", "1 partage", Some("chiffre")),
    ]
    .into_iter()
    .map(|(id, title, series)| {
        (
            id.to_owned(),
            PostInfo {
                title: title.into(),
                series: series.map(str::to_owned),
            },
        )
    })
    .collect();
    let channels = [
        ("facebook".to_owned(), Network::Facebook),
        ("mastodon".to_owned(), Network::Mastodon),
    ]
    .into_iter()
    .collect();
    Fixture {
        deliveries,
        engagement,
        posts,
        channels,
    }
}

fn engagement_of(figures: Figures) -> Engagement {
    read(figures, false)
}

fn report(fixture: &Fixture) -> Report {
    let urls = BTreeMap::new();
    build(&Input {
        brand: "CPTS Mulhouse Agglomération",
        period: Period::year(2026, Paris).unwrap(),
        deliveries: &fixture.deliveries,
        engagement: &fixture.engagement,
        urls: &urls,
        posts: &fixture.posts,
        channels: &fixture.channels,
        notes: &[],
        refreshed_at: Some(at(12, 2)),
    })
}

#[test]
fn totals_add_up_and_missing_figures_stay_missing() {
    let report = report(&fixture());
    assert_eq!(report.totals.posts, 2);
    assert_eq!(report.totals.sent, 3);
    assert_eq!(report.totals.figures.reactions, Some(35));
    assert_eq!(report.totals.figures.shares, Some(4));
    assert_eq!(report.totals.figures.comments, Some(5));
    assert_eq!(report.totals.figures.reach, Some(900));
    assert_eq!(report.totals.figures.impressions, Some(1200));
    // chiffre/b was never read: empty, not zero.
    let b = report.posts.iter().find(|p| p.post == "chiffre/b").unwrap();
    assert_eq!(b.figures, Figures::default());
    assert_eq!(report.by_month.len(), 12);
    assert_eq!(report.by_month[10].sent, 2);
    assert_eq!(report.by_month[0].sent, 0);
    assert_eq!(report.by_month[0].figures.reactions, None);
    let sum: usize = report.by_channel.iter().map(|c| c.sent).sum();
    assert_eq!(sum, report.totals.sent);
}

#[test]
fn the_most_read_come_first_and_a_deleted_post_is_marked() {
    let report = report(&fixture());
    assert_eq!(report.posts[0].channel, "facebook");
    assert_eq!(report.posts[0].post, "chiffre/a");
    assert_eq!(report.posts[1].channel, "mastodon");
    assert!(report.posts[1].deleted);
    assert_eq!(report.posts[1].figures.reactions, Some(5));
}

#[test]
fn compares_with_the_year_before() {
    let report = report(&fixture());
    assert!(
        report
            .previous
            .period
            .from
            .starts_with("2025-01-01T00:00:00")
    );
    assert!(
        report
            .previous
            .period
            .until
            .starts_with("2026-01-01T00:00:00")
    );
    assert_eq!(report.previous.totals.sent, 1);
    assert_eq!(report.previous.totals.figures.reactions, Some(3));
    let spring = Period::new(at(3, 1), at(6, 1), Paris);
    assert_eq!(spring.previous().until, spring.from);
}

#[test]
fn says_the_figures_in_a_french_sentence() {
    let report = report(&fixture());
    let text = text(&report);
    assert!(
        text.contains(
            "En 2026, la CPTS Mulhouse Agglomération a publié 2 posts (3 publications), vus 1\u{202f}200 fois, avec 35 réactions, 4 partages, 5 commentaires."
        ),
        "{text}"
    );
    assert!(text.contains("« 65,4 millions » (facebook, 29 novembre 2026 à 19:09)"));
    assert!(text.contains("supprimé du réseau depuis"));
    assert!(
        text.contains("  - publications : 1 → 3 (+200\u{202f}%)"),
        "{text}"
    );
    assert!(text.contains("Chiffres relevés le 2 décembre 2026 à 19:09."));
}

#[test]
fn groups_digits_from_four() {
    assert_eq!(number(999), "999");
    assert_eq!(number(12_400), "12\u{202f}400");
    assert_eq!(number(1_234_567), "1\u{202f}234\u{202f}567");
}

#[test]
fn the_csv_has_a_bom_semicolons_and_empty_cells() {
    let csv = csv(&report(&fixture())).unwrap();
    assert!(csv.starts_with("\u{feff}post;title;series;channel;network;at;url;reactions"));
    let b = csv.lines().find(|l| l.starts_with("chiffre/b")).unwrap();
    assert!(b.contains(";;;;;;"), "{b}");
    assert_eq!(csv.lines().count(), 4);
}

#[test]
fn the_page_is_french_escaped_and_has_a_chart_and_a_row_per_post() {
    let mut fixture = fixture();
    fixture.posts.get_mut("chiffre/b").unwrap().title = "<script>x</script>".into();
    let report = report(&fixture);
    let page = html(&report, &BTreeMap::new());
    assert!(page.contains("<html lang=\"fr\">"));
    assert!(page.contains("@page { size: A4"));
    assert!(page.contains("<title id=\"mois-t\">Publications par mois</title>"));
    assert!(!page.contains("<script>"));
    let table = page.split("<table class=\"posts\">").nth(1).unwrap();
    let table = table.split("</table>").next().unwrap();
    assert_eq!(table.matches("<tr>").count(), 1 + report.posts.len());
}
