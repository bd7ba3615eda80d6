//! `crieur report` against the fake Buffer, which reports fixed figures
//! for sent posts: totals that add up, a post deleted after it went out,
//! a network that fails, the request budget, and the same report twice
//! from the store alone.

use std::collections::BTreeMap;
use std::process::Output;

use serde_json::Value;

use crieur_testing::buffer::{Fault, TOKEN, default_metrics};

use crate::publish::{Setup, command, publish, setup};
use crate::{stderr, stdout};

/// `crieur report ARGS` as if it were `now` (local time).
fn report(setup: &Setup, now: &str, args: &[&str]) -> Output {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    command(setup.dir.path(), &all, TOKEN)
        .env("CRIEUR_NOW", now)
        .output()
        .unwrap()
}

fn json(output: &Output) -> Value {
    assert!(output.status.success(), "{}", stderr(output));
    serde_json::from_str(&stdout(output)).expect("report --json")
}

/// Every post queued, then sent by Buffer, then settled by a pass: the
/// sent deliveries as `status --json` lists them.
fn sent(setup: &Setup) -> Vec<Value> {
    assert_eq!(publish(setup, &[]).status.code(), Some(0));
    setup.buffer.send_due("2026-12-02T00:00:00Z");
    let pass = command(setup.dir.path(), &["publish"], TOKEN)
        .env("CRIEUR_NOW", "2026-12-02T08:00:00")
        .output()
        .unwrap();
    assert!(
        pass.status.code().is_some_and(|c| c < 2),
        "{}",
        stderr(&pass)
    );
    let status = command(setup.dir.path(), &["status", "--json"], TOKEN)
        .output()
        .unwrap();
    let status: Value = serde_json::from_str(&stdout(&status)).unwrap();
    status["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"] == "sent")
        .cloned()
        .collect()
}

/// The totals the fake's fixed figures give, by vocabulary word; a word
/// no channel reports is absent.
fn expected(sent: &[Value]) -> BTreeMap<&'static str, u64> {
    let mut totals = BTreeMap::new();
    for delivery in sent {
        let service = match delivery["channel"].as_str().unwrap() {
            "facebook" => "facebook",
            "linkedin" => "linkedin",
            _ => "instagram",
        };
        for (kind, value) in default_metrics(service) {
            let word = match kind.as_str() {
                "reactions" => "reactions",
                "shares" | "reposts" => "shares",
                "comments" => "comments",
                "reach" => "reach",
                "impressions" => "impressions",
                _ => continue,
            };
            *totals.entry(word).or_insert(0) += value as u64;
        }
    }
    totals
}

#[test]
fn the_report_adds_up_keeps_the_figures_of_a_deleted_post_and_of_a_failing_network() {
    let setup = setup("5s");
    let sent = sent(&setup);
    assert!(sent.len() >= 6, "{sent:?}");
    let reads = setup.buffer.requests("PostMetrics");
    let first = json(&report(&setup, "2026-12-02T09:00:00", &["--json"]));
    assert_eq!(setup.buffer.requests("PostMetrics"), reads + 1, "one page");
    assert_eq!(first["totals"]["sent"], sent.len());
    assert_eq!(first["period"]["from"], "2026-01-01T00:00:00+01:00");
    for (word, total) in expected(&sent) {
        assert_eq!(first["totals"][word], total, "{word}: {first}");
    }
    let linkedin = first["by_channel"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "linkedin")
        .unwrap();
    assert_eq!(linkedin["network"], "linkedin");
    assert!(linkedin["reach"].is_null(), "never a zero invented");
    assert_eq!(first["posts"].as_array().unwrap().len(), sent.len());
    assert_eq!(first["by_month"].as_array().unwrap().len(), 12);

    // Read again the same day: nothing asked.
    report(&setup, "2026-12-02T12:00:00", &["--json"]);
    assert_eq!(setup.buffer.requests("PostMetrics"), reads + 1);

    // A post deleted in Buffer after it went out keeps its last figures.
    let gone = setup
        .buffer
        .posts()
        .into_iter()
        .find(|p| p.channel_id == "chan-fb" && p.status == "sent")
        .unwrap();
    assert!(setup.buffer.delete_in_app(&gone.id));
    let next = json(&report(&setup, "2026-12-03T09:30:00", &["--json"]));
    assert_eq!(next["totals"], first["totals"]);
    let deleted: Vec<&Value> = next["posts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["deleted"] == true)
        .collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["channel"], "facebook");
    assert_eq!(deleted[0]["reactions"], 12);

    // Buffer fails: the stored figures stay, and the report says so.
    for _ in 0..4 {
        setup.buffer.fault("PostMetrics", Fault::ServerError);
    }
    let failing = report(&setup, "2026-12-04T10:00:00", &[]);
    assert!(failing.status.success(), "{}", stderr(&failing));
    let text = stdout(&failing);
    assert!(
        text.contains("Buffer n'a pas pu être lu le 4 décembre 2026"),
        "{text}"
    );
    assert!(
        text.contains("ses chiffres sont ceux relevés le 3 décembre 2026 à 09:30"),
        "{text}"
    );
    // A reading changes nothing at Buffer: no « may have gone through ».
    assert!(!text.contains("peut-être"), "{text}");
    let offline = json(&report(
        &setup,
        "2026-12-04T10:05:00",
        &["--json", "--offline"],
    ));
    assert_eq!(offline["totals"], first["totals"]);
}

#[test]
fn offline_reports_are_the_same_twice_and_ask_nothing() {
    let setup = setup("5s");
    let sent = sent(&setup);
    report(&setup, "2026-12-02T09:00:00", &["--json"]);
    let total = setup.buffer.requests_total();
    let args = ["--offline", "--year", "2026"];
    let once = report(&setup, "2026-12-05T09:00:00", &args);
    let twice = report(&setup, "2026-12-06T09:00:00", &args);
    assert_eq!(setup.buffer.requests_total(), total, "no request offline");
    assert_eq!(stdout(&once), stdout(&twice));
    let text = stdout(&once);
    assert!(
        text.contains("En 2026, la CPTS Mulhouse Agglomération a publié"),
        "{text}"
    );
    assert!(text.contains("Les posts les plus lus"), "{text}");

    let csv = stdout(&report(
        &setup,
        "2026-12-05T09:00:00",
        &["--offline", "--csv"],
    ));
    assert!(csv.starts_with("\u{feff}post;title;series;channel;network;at;url;reactions;"));
    assert_eq!(csv.lines().count(), 1 + sent.len());

    let page = setup.dir.path().join("bilan.html");
    let html = report(
        &setup,
        "2026-12-05T09:00:00",
        &["--offline", "--html", page.to_str().unwrap()],
    );
    assert!(html.status.success(), "{}", stderr(&html));
    let page = std::fs::read_to_string(page).unwrap();
    assert!(page.contains("<html lang=\"fr\">"));
    assert!(page.contains("En 2026, la CPTS Mulhouse Agglomération a publié"));
    assert!(page.contains("<title id=\"mois-t\">Publications par mois</title>"));
    assert!(
        page.contains("src=\"data:image/png;base64,"),
        "the cards, small"
    );
    let table = page.split("<table class=\"posts\">").nth(1).unwrap();
    let table = table.split("</table>").next().unwrap();
    assert_eq!(table.matches("<tr>").count(), 1 + sent.len());
}

#[test]
fn reading_figures_leaves_the_budget_to_publishing() {
    let setup = setup("5s");
    sent(&setup);
    // The day's budget nearly spent (250 a day): one request left.
    let store = crieur::store::Store::open(&setup.dir.path().join("state/crieur.sqlite")).unwrap();
    let now =
        crieur::clock::parse_instant("2026-12-02T08:30:00", chrono_tz::Europe::Paris).unwrap();
    store.record_requests(&[now; 249]).unwrap();
    drop(store);
    let reads = setup.buffer.requests("PostMetrics");
    let output = report(&setup, "2026-12-02T09:00:00", &["--json"]);
    let value = json(&output);
    assert_eq!(setup.buffer.requests("PostMetrics"), reads, "nothing asked");
    assert!(value["totals"]["reactions"].is_null());
    assert!(
        stderr(&output).contains("limite de requêtes Buffer"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_year_and_dates_do_not_go_together() {
    let setup = setup("5s");
    let output = report(
        &setup,
        "2026-12-02T09:00:00",
        &[
            "--year",
            "2026",
            "--from",
            "2026-01-01",
            "--until",
            "2026-06-01",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let output = report(&setup, "2026-12-02T09:00:00", &["--json", "--csv"]);
    assert_eq!(output.status.code(), Some(2));
}
