use crate::{crieur, fixture, stderr, stdout};

#[test]
fn prints_the_calendar_as_the_documented_json() {
    let output = crieur(
        fixture("valid").path(),
        &["plan", "--json", "--from", "2026-11-22", "--weeks", "4"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let expected = concat!(
        r#"{"slots":["#,
        r#"{"at":"2026-11-24T19:00:00+01:00","series":"chiffre-de-la-semaine","post":"chiffre/01-dmp","channels":["facebook","instagram"]},"#,
        r#"{"at":"2026-12-01T19:00:00+01:00","series":"chiffre-de-la-semaine","post":"chiffre/2026-12-01-mon-espace-sante","channels":["facebook","instagram"]},"#,
        r#"{"at":"2026-12-03T10:00:00+01:00","series":null,"post":"annonce","channels":["bluesky","facebook"]},"#,
        r#"{"at":"2026-12-08T19:00:00+01:00","series":"chiffre-de-la-semaine","post":"chiffre/02-teleconsultation","channels":["facebook","instagram"]},"#,
        r#"{"at":"2026-12-15T19:00:00+01:00","series":"chiffre-de-la-semaine","post":"chiffre/03-e-cps","channels":["facebook","instagram"]}"#,
        r#"],"empty":[]}"#,
        "\n"
    );
    assert_eq!(stdout(&output), expected);
}

#[test]
fn prints_a_table_then_the_empty_slots() {
    let output = crieur(
        fixture("valid").path(),
        &["plan", "--from", "2026-11-22", "--until", "2027-01-01"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    insta::assert_snapshot!(stdout(&output));
}

#[test]
fn defaults_to_four_weeks_from_now() {
    let output = crieur(fixture("valid").path(), &["plan", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let slots = plan["slots"].as_array().unwrap();
    assert_eq!(slots.first().unwrap()["at"], "2026-11-24T19:00:00+01:00");
    assert_eq!(slots.last().unwrap()["at"], "2026-12-15T19:00:00+01:00");
}

#[test]
fn plans_an_invalid_project_and_shows_each_post_left_out() {
    let output = crieur(fixture("invalid").path(), &["plan"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("clé inconnue `sereis`"),
        "{}",
        stdout(&output)
    );
    assert!(stderr(&output).contains("`crieur check` les détaille"));
}

#[test]
fn until_and_weeks_together_are_a_usage_error() {
    let output = crieur(
        fixture("valid").path(),
        &["plan", "--until", "2027-01-01", "--weeks", "2"],
    );
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn an_unreadable_date_is_a_usage_error() {
    let output = crieur(fixture("valid").path(), &["plan", "--from", "mardi"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("date illisible `mardi`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_huge_number_of_weeks_is_a_usage_error_not_a_panic() {
    let output = crieur(
        fixture("valid").path(),
        &["plan", "--from", "2026-11-22", "--weeks", "4294967295"],
    );
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{errors}");
    assert!(!errors.contains("panicked"), "{errors}");
    assert!(errors.contains("--weeks"), "{errors}");
}

#[test]
fn extreme_dates_are_usage_errors_not_panics() {
    for args in [
        ["plan", "--from=+262142-12-31", "--weeks=4"],
        ["plan", "--from=-262143-01-01", "--weeks=4"],
        ["plan", "--from=2026-11-22", "--until=+262142-12-31"],
        ["plan", "--from=0001-01-01", "--until=9999-12-31"],
    ] {
        let output = crieur(fixture("valid").path(), &args);
        let errors = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {errors}");
        assert!(!errors.contains("panicked"), "{args:?}: {errors}");
        assert!(errors.starts_with("erreur : "), "{args:?}: {errors}");
    }
}

#[test]
fn shows_a_blocked_post_in_its_slot_and_an_orphan_apart() {
    let project = crate::temp_project("valid");
    let post = project.path().join("posts/chiffre/02-teleconsultation.md");
    let text = std::fs::read_to_string(&post).unwrap();
    std::fs::write(&post, format!("{text}\n{}\n", "Trop long. ".repeat(400))).unwrap();
    std::fs::write(
        project.path().join("posts/orphelin.md"),
        "+++\ntemplate = \"chiffre\"\n[visual]\nnumber = \"3\"\ncaption = \"Sans date.\"\n+++\nNi série ni date.\n",
    )
    .unwrap();
    let output = crieur(project.path(), &["plan"]);
    assert_eq!(output.status.code(), Some(1));
    let printed = stdout(&output);
    assert!(
        printed.contains("chiffre/02-teleconsultation  ✗ bloqué"),
        "{printed}"
    );
    assert!(printed.contains("Posts bloqués"), "{printed}");
    assert!(
        printed.contains("Hors calendrier :\n  orphelin"),
        "{printed}"
    );
    // The next post of the series keeps its own slot.
    let json = crieur(project.path(), &["plan", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let slots = plan["slots"].as_array().unwrap();
    let at = |post: &str| {
        slots
            .iter()
            .find(|s| s["post"] == post)
            .map(|s| s["at"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        at("chiffre/02-teleconsultation").as_deref(),
        Some("2026-12-08T19:00:00+01:00")
    );
    assert_eq!(
        at("chiffre/03-e-cps").as_deref(),
        Some("2026-12-15T19:00:00+01:00")
    );
    assert_eq!(plan["apart"][0]["post"], "orphelin");
    assert_eq!(plan["apart"][0]["state"], "orphan");
}
