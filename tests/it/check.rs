use std::fs;

use crate::{crieur, fixture, stderr, stdout, temp_project};

#[test]
fn a_valid_project_passes_with_exit_code_zero() {
    let output = crieur(fixture("valid").path(), &["check"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    assert_eq!(
        stdout(&output),
        "6 posts vérifiés : aucune erreur, 0 avertissement.\nPosts : 5 prêts, 0 bloqué, 1 brouillon, 0 sans date ni série.\n"
    );
}

#[test]
fn reports_every_problem_of_every_post_at_once() {
    let output = crieur(fixture("invalid").path(), &["check"]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(stderr(&output));
    assert_eq!(
        stdout(&output),
        "20 posts vérifiés : 24 erreurs, 2 avertissements.\nPosts : 1 prêt, 1 passé, 17 bloqués, 0 brouillon, 1 sans date ni série.\n"
    );
}

#[test]
fn reports_every_problem_of_the_config_at_once() {
    let output = crieur(fixture("bad-config").path(), &["check"]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(stderr(&output));
}

#[test]
fn writes_located_diagnostics_as_json() {
    let output = crieur(fixture("invalid").path(), &["check", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let diagnostics: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let typo = diagnostics
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == "posts/typo-key.md")
        .expect("the typo is reported");
    assert_eq!(typo["line"], 2);
    assert_eq!(typo["column"], 1);
    assert_eq!(typo["severity"], "error");
    assert_eq!(typo["hint"], "vouliez-vous dire `series` ?");
}

#[test]
fn outside_a_project_it_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = crieur(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("n'est pas un projet crieur"),
        "{}",
        stderr(&output)
    );
}

/// Writes `bytes` as a post in a copy of the valid project and checks it.
fn check_hostile(name: &str, bytes: &[u8]) -> (Option<i32>, String) {
    let project = temp_project("valid");
    fs::write(project.path().join("posts").join(name), bytes).unwrap();
    let output = crieur(project.path(), &["check"]);
    (output.status.code(), stderr(&output))
}

#[test]
fn an_empty_file_is_an_error_not_a_crash() {
    let (code, errors) = check_hostile("vide.md", b"");
    assert_eq!(code, Some(1));
    assert!(
        errors.contains("posts/vide.md") && errors.contains("fichier vide"),
        "{errors}"
    );
}

#[test]
fn a_binary_file_is_an_error_not_a_crash() {
    let (code, errors) = check_hostile("image.md", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    assert_eq!(code, Some(1));
    assert!(errors.contains("posts/image.md"), "{errors}");
    assert!(
        errors.contains("UTF-8") || errors.contains("binaire"),
        "{errors}"
    );
}

#[test]
fn invalid_utf8_is_located() {
    let (code, errors) = check_hostile(
        "latin1.md",
        b"+++\nseries = \"chiffre-de-la-semaine\"\n+++\nL\xe9gende\n",
    );
    assert_eq!(code, Some(1));
    assert!(errors.contains("posts/latin1.md:4:2"), "{errors}");
    assert!(
        errors.contains("n'est pas en UTF-8 (octet invalide ligne 4, colonne 2)"),
        "{errors}"
    );
}

#[test]
fn a_file_over_one_mebibyte_is_refused() {
    let mut big = b"+++\nseries = \"chiffre-de-la-semaine\"\n+++\n".to_vec();
    big.resize(1024 * 1024 + 1, b'a');
    let (code, errors) = check_hostile("gros.md", &big);
    assert_eq!(code, Some(1));
    assert!(errors.contains("fichier trop gros"), "{errors}");
}

#[test]
fn deeply_nested_toml_is_an_error_not_a_crash() {
    let nested = format!(
        "+++\nx = {}1{}\n+++\nx\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let (code, errors) = check_hostile("profond.md", nested.as_bytes());
    assert_eq!(code, Some(1));
    assert!(errors.contains("posts/profond.md"), "{errors}");
}

#[cfg(unix)]
#[test]
fn a_symlink_out_of_the_project_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.md");
    fs::write(&secret, "+++\n+++\nsecret\n").unwrap();
    let project = temp_project("valid");
    std::os::unix::fs::symlink(&secret, project.path().join("posts/lien.md")).unwrap();
    std::os::unix::fs::symlink(outside.path(), project.path().join("posts/dossier")).unwrap();
    let output = crieur(project.path(), &["check"]);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert!(errors.contains("posts/lien.md"), "{errors}");
    assert!(errors.contains("posts/dossier"), "{errors}");
    assert!(
        errors.contains("lien symbolique vers l'extérieur du projet"),
        "{errors}"
    );
    assert!(!errors.contains("secret\n"), "{errors}");
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_inside_the_project_is_walked_once() {
    let project = temp_project("valid");
    std::os::unix::fs::symlink(
        project.path().join("posts"),
        project.path().join("posts/boucle"),
    )
    .unwrap();
    let output = crieur(project.path(), &["check"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn reports_what_a_template_names_that_does_not_exist() {
    let output = crieur(fixture("bad-template").path(), &["check"]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(stderr(&output));
}

#[test]
fn a_missing_font_logo_or_image_is_reported_at_the_line_naming_it() {
    let project = temp_project("valid");
    let config = project.path().join("config/crieur.toml");
    let text = fs::read_to_string(&config).unwrap().replace(
        "name = \"CPTS Mulhouse Agglomération\"\n",
        "name = \"CPTS Mulhouse Agglomération\"\nlogo = \"logos/absent.png\"\n[brand.fonts]\ntitre = \"Absente.ttf\"\n",
    );
    fs::write(&config, text).unwrap();
    let template = project.path().join("assets/templates/chiffre.toml");
    let text = fs::read_to_string(&template)
        .unwrap()
        .replacen("font = \"Lato-Black.ttf\"", "font = \"titre\"", 1)
        .replacen(
            "[[formats.carre.layers]]\nkind = \"background\"",
            "[[formats.carre.layers]]\nkind = \"image\"\nx = 0\ny = 0\nwidth = 10\nheight = 10\nsrc = \"icons/absente.png\"\n\n[[formats.carre.layers]]\nkind = \"background\"",
            1,
        );
    fs::write(&template, text).unwrap();
    let output = crieur(project.path(), &["check"]);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert!(
        errors.contains(
            "erreur : police `titre` introuvable : assets/fonts/Absente.ttf\n --> config/crieur.toml:7:9\n"
        ),
        "{errors}"
    );
    assert!(
        errors.contains(
            "erreur : logo introuvable : assets/logos/absent.png\n --> config/crieur.toml:5:8\n"
        ),
        "{errors}"
    );
    assert!(
        errors.contains(
            "erreur : image introuvable : assets/icons/absente.png\n  --> assets/templates/chiffre.toml:"
        ),
        "{errors}"
    );
    // The template names the brand's font: it is sent to the configuration.
    assert!(
        errors.contains("erreur : police `titre` de la marque introuvable : assets/fonts/Absente.ttf\n  --> assets/templates/chiffre.toml:"),
        "{errors}"
    );
    assert!(
        errors
            .contains("= aide : son fichier est nommé sous [brand.fonts] dans config/crieur.toml"),
        "{errors}"
    );
}

#[test]
fn a_post_whose_date_passed_beyond_the_grace_is_not_counted_ready() {
    let project = temp_project("valid");
    let annonce = project.path().join("posts/annonce.md");
    let text = fs::read_to_string(&annonce)
        .unwrap()
        .replace("2026-12-03T10:00:00", "2026-11-01T10:00:00");
    fs::write(&annonce, text).unwrap();
    let output = crieur(project.path(), &["check"]);
    let out = stdout(&output);
    assert!(
        stderr(&output).contains("ce post ne sera pas publié"),
        "{}",
        stderr(&output)
    );
    assert!(
        out.contains("Posts : 4 prêts, 1 passé, 0 bloqué, 1 brouillon"),
        "{out}"
    );
}
