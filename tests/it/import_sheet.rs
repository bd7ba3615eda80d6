//! `crieur import` of sheets as spreadsheets save them: LF, CRLF or CR
//! line ends, a byte-order mark, columns named in French in any case, and
//! problems said at their row and column with hints about the sheet.

use std::path::Path;
use std::process::Output;

use crate::{crieur, stderr, stdout};

/// A new project (`crieur init`): the series `chiffre-de-la-semaine` with
/// the template `chiffre`, the template `evenement`, three channels.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let output = crate::command_in(dir.path())
        .arg("init")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    dir
}

/// Writes `chiffres.csv` in the project and imports it with `args`.
fn import(root: &Path, sheet: &[u8], args: &[&str]) -> Output {
    std::fs::write(root.join("chiffres.csv"), sheet).unwrap();
    let mut all = vec!["import", "chiffres.csv"];
    all.extend_from_slice(args);
    crieur(root, &all)
}

const SERIES: &[&str] = &["--series", "chiffre-de-la-semaine"];
const EVENT: &[&str] = &["--template", "evenement"];

/// Every place a diagnostic points at, as `file:line:column`.
fn places(errors: &str) -> Vec<&str> {
    errors
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("--> "))
        .collect()
}

/// The column of `cell` in `line`, counted in characters from 1.
fn column(line: &str, cell: &str) -> usize {
    let at = line.find(cell).expect("the cell is in the line");
    line[..at].chars().count() + 1
}

/// A sheet of the weekly figure, its rows joined by `end`; the sixth row
/// has no figure.
fn figures(end: &str, bom: bool) -> Vec<u8> {
    let mut rows =
        vec!["Légende;Chiffre;La phrase qui l'explique;Source;Texte alternatif".to_owned()];
    for (n, number) in ["240 008", "416 649", "12 %", "3 sur 4"].iter().enumerate() {
        rows.push(format!(
            "Le chiffre numéro {n}.;{number};Dossiers médicaux ouverts dans le département.;CPAM, rapport 2020;Le chiffre de la semaine : {number}. Dossiers médicaux ouverts."
        ));
    }
    rows.push(
        "Texte six.;;Dossiers médicaux ouverts dans le département.;CPAM, rapport 2020;Le chiffre de la semaine : des dossiers ouverts.".to_owned(),
    );
    let mut bytes = if bom {
        b"\xef\xbb\xbf".to_vec()
    } else {
        Vec::new()
    };
    bytes.extend_from_slice((rows.join(end) + end).as_bytes());
    bytes
}

#[test]
fn an_error_is_at_its_row_and_column_whatever_the_line_ends_and_the_byte_order_mark() {
    let dir = project();
    let before = crate::post_files(dir.path());
    for (end, name) in [("\n", "LF"), ("\r\n", "CRLF"), ("\r", "CR")] {
        for bom in [false, true] {
            let output = import(dir.path(), &figures(end, bom), SERIES);
            let errors = stderr(&output);
            let case = format!("{name}, BOM {bom}:\n{errors}");
            assert_eq!(output.status.code(), Some(1), "{case}");
            assert_eq!(places(&errors), vec!["chiffres.csv:6:12"], "{case}");
            assert!(
                errors.contains("erreur : champ `number` (Le chiffre) manquant"),
                "{case}"
            );
            assert!(
                errors.contains("= aide : remplissez la colonne « Chiffre » à la ligne 6\n"),
                "{case}"
            );
            // The row's own line under the location, the caret at its
            // empty cell.
            assert!(errors.contains("6 | Texte six.;;Dossiers"), "{case}");
            assert!(errors.contains("  |            ^"), "{case}");
            assert!(errors.contains("Rien n'est écrit"), "{case}");
            assert_eq!(crate::post_files(dir.path()), before, "{case}");
        }
    }
}

#[test]
fn french_column_names_are_read_whatever_their_case_and_accents() {
    let dir = project();
    let sheet = "\u{feff}LEGENDE;chiffre;la phrase qui l’explique;Source du chiffre;Texte Alternatif;Surtitre\r\n\
        Fin 2020, 240 008 DMP ouverts.;240 008;DMP ouverts fin 2020.;CPAM;Le chiffre de l'année : 240 008. DMP ouverts fin 2020.;Le chiffre de l'année\r\n";
    let output = import(dir.path(), sheet.as_bytes(), SERIES);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let made: Vec<String> = crate::post_files(dir.path())
        .into_iter()
        .filter(|path| path.contains("/03-"))
        .collect();
    assert_eq!(made.len(), 1, "{}", stdout(&output));
    let text = std::fs::read_to_string(&made[0]).unwrap();
    for line in [
        "alt = \"Le chiffre de l'année : 240 008. DMP ouverts fin 2020.\"\n",
        "number = \"240 008\"\n",
        "caption = \"DMP ouverts fin 2020.\"\n",
        "source = \"CPAM\"\n",
        "kicker = \"Le chiffre de l'année\"\n",
        "+++\nFin 2020, 240 008 DMP ouverts.\n",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    // One-off posts: the date of publication, the channels and the text
    // under French names; `Date` is the event's own field.
    let sheet = "Titre;Date;Lieu;Date de publication;Réseaux;Texte\n\
        Soirée DMP;Mercredi 2 décembre;Maison de santé;02/12/2026 18:30;facebook, linkedin;Venez nombreux.\n";
    let output = import(dir.path(), sheet.as_bytes(), EVENT);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let made: Vec<String> = crate::post_files(dir.path())
        .into_iter()
        .filter(|path| path.contains("evenement"))
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    let text = std::fs::read_to_string(&made[0]).unwrap();
    for line in [
        "publish_at = 2026-12-02T18:30:00\n",
        "channels = [\"facebook\", \"linkedin\"]\n",
        "date = \"Mercredi 2 décembre\"\n",
        "+++\nVenez nombreux.\n",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    let check = crieur(dir.path(), &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}

#[test]
fn two_columns_of_one_name_are_refused_naming_both_and_unknown_ones_list_each_column_once() {
    let dir = project();
    let before = crate::post_files(dir.path());
    let sheet = "Chiffre;Légende;number;Remarque\n12;Douze.;12;Rien\n";
    let output = import(dir.path(), sheet.as_bytes(), SERIES);
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    assert!(
        errors.contains(
            "erreur : deux colonnes pour le champ `number` (Le chiffre) : `Chiffre` (colonne A) et `number` (colonne C)\n"
        ),
        "{errors}"
    );
    assert!(errors.contains("--> chiffres.csv:1:17\n"), "{errors}");
    assert!(
        errors.contains(
            "= aide : gardez-en une seule : supprimez l'autre, ou renommez-la si elle dit autre chose\n"
        ),
        "{errors}"
    );
    assert!(
        errors.contains("erreur : colonne inconnue `Remarque`\n"),
        "{errors}"
    );
    assert!(errors.contains("--> chiffres.csv:1:24\n"), "{errors}");
    let hint = errors
        .lines()
        .find(|line| line.contains("colonnes possibles"))
        .expect("the columns listed");
    assert_eq!(
        hint.trim_start(),
        "= aide : colonnes possibles (majuscules et accents au choix) : « La phrase qui l'explique » ou « caption », « Surtitre » ou « kicker », « Le chiffre » ou « number », « Source du chiffre » ou « source », « légende » ou « texte » (le texte du post), « texte alternatif » ou « alt », « date de publication » ou « publish_at », « canaux » ou « channels », « brouillon » ou « draft »"
    );
    assert_eq!(hint.matches("caption").count(), 1, "{hint}");
    assert_eq!(crate::post_files(dir.path()), before);
}

#[test]
fn problems_of_a_generated_post_are_told_in_terms_of_the_sheet() {
    let dir = project();
    let before = crate::post_files(dir.path());
    let rows = [
        "Titre;Date;Lieu;Date de publication;Légende",
        "Soirée DMP;Mardi 1er décembre;Maison de santé;le 12;Venez nombreux.",
        "Atelier;Jeudi 3 décembre;Mairie;03/12/2026 18:00;",
        "Ancien;Lundi 2 novembre;Mairie;02/11/2026 18:00;Trop tard.",
    ];
    let output = import(dir.path(), (rows.join("\r\n") + "\r\n").as_bytes(), EVENT);
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    let bad_date = format!("chiffres.csv:2:{}", column(rows[1], "le 12"));
    let empty = format!("chiffres.csv:3:{}", rows[2].chars().count() + 1);
    let past = format!("chiffres.csv:4:{}", column(rows[3], "02/11"));
    assert_eq!(places(&errors), vec![&bad_date, &empty, &past], "{errors}");
    for hint in [
        "écrivez dans la colonne « Date de publication », à la ligne 2, une date et une heure : 01/12/2026 19:00 ou 2026-12-01 19:00",
        "remplissez la colonne « Légende » à la ligne 3",
        "choisissez dans la colonne « Date de publication », à la ligne 4, une date à venir, ou écrivez « oui » dans une colonne « brouillon »",
    ] {
        assert!(errors.contains(&format!("= aide : {hint}\n")), "{errors}");
    }
    // Nothing of a post file's own syntax.
    for file_speak in ["+++", "[visual]", "`draft", "publish_at =", "guillemets"] {
        assert!(!errors.contains(file_speak), "{file_speak}: {errors}");
    }
    // A required field without a column: the column to add, by its
    // French name, at the row.
    let sheet = "Titre;Lieu;Légende\nSoirée DMP;Maison de santé;Venez.\n";
    let output = import(
        dir.path(),
        sheet.as_bytes(),
        &["--template", "evenement", "--dry-run"],
    );
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    assert!(
        errors.contains("erreur : champ `date` (Date, en toutes lettres) manquant"),
        "{errors}"
    );
    assert!(
        errors.contains(
            "= aide : ajoutez une colonne « Date, en toutes lettres » et remplissez-la à la ligne 2\n"
        ),
        "{errors}"
    );
    assert!(errors.contains("--> chiffres.csv:2:1\n"), "{errors}");
    assert_eq!(crate::post_files(dir.path()), before);
}

#[test]
fn a_row_at_the_instant_of_an_existing_post_is_refused_at_its_row() {
    let dir = project();
    let before = crate::post_files(dir.path());
    // The series' first example post goes out on Tuesday 24 November at
    // 19:00 on Facebook: an event at that instant on Facebook clashes.
    let plan = crieur(dir.path(), &["plan", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let first = &plan["slots"][0];
    let at = chrono::DateTime::parse_from_rfc3339(first["at"].as_str().unwrap()).unwrap();
    let existing = first["post"].as_str().unwrap();
    let sheet = format!(
        "Titre;Date;Lieu;Date de publication;Réseaux;Texte\n\
         Soirée DMP;Mardi;Maison de santé;{};facebook;Venez nombreux.\n",
        at.format("%d/%m/%Y %H:%M")
    );
    let output = import(dir.path(), sheet.as_bytes(), EVENT);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    // Told on the existing post by `check`, said at the row that causes it.
    assert!(
        errors.contains(&format!(
            "erreur : ce post crée une erreur dans posts/{existing}.md : deux posts au même instant"
        )),
        "{errors}"
    );
    assert!(errors.contains(" --> chiffres.csv:2:1\n"), "{errors}");
    assert!(
        errors.contains("= aide : changez la date de publication de cette ligne"),
        "{errors}"
    );
    assert_eq!(crate::post_files(dir.path()), before);
}
