//! crieur run from inside a project, as git is: the project found from any
//! of its folders, `init` refusing a project inside another, `status` on a
//! project no daemon ever ran for, and the system's errors said in French.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{NOW, command, command_in, stderr, stdout, temp_project};

/// `crieur ARGS...` with no `--root`, run in `dir` at [`NOW`].
fn crieur_in(dir: &Path, args: &[&str]) -> Output {
    command_in(dir)
        .args(args)
        .env("CRIEUR_NOW", NOW)
        .stdin(Stdio::null())
        .output()
        .expect("the crieur binary runs")
}

/// `posts/chiffre/` of a project, made if the fixture has none.
fn chiffre(root: &Path) -> PathBuf {
    let dir = root.join("posts/chiffre");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Words the system says in English, which no message may carry.
const ENGLISH: &[&str] = &[
    "os error",
    "No such file",
    "Permission denied",
    "Address already in use",
    "already in use",
    "Not a directory",
    "Invalid PNG",
    "signature.",
    "failed to",
    "CRC error",
];

fn assert_no_english(text: &str) {
    for english in ENGLISH {
        assert!(!text.contains(english), "{english:?} in:\n{text}");
    }
}

#[test]
fn from_a_subfolder_commands_find_the_project_and_show_paths_from_there() {
    let project = temp_project("invalid");
    let here = chiffre(project.path());
    let output = crieur_in(&here, &["check"]);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert!(!errors.contains("n'est pas un projet"), "{errors}");
    // Paths open from the current folder…
    assert!(
        errors.contains(" --> ../../posts/typo-key.md:2:1\n"),
        "{errors}"
    );
    assert!(!errors.contains(" --> posts/"), "{errors}");
    // …and machines still read them from the project's root.
    let json = crieur_in(&here, &["check", "--json"]);
    let diagnostics: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert!(
        diagnostics
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["path"] == "posts/typo-key.md"),
        "{diagnostics}"
    );
}

#[test]
fn from_a_subfolder_plan_and_render_work_on_the_project() {
    let project = temp_project("valid");
    let root = project.path();
    let here = chiffre(root);
    let check = crieur_in(&here, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let plan = crieur_in(&here, &["plan"]);
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    assert!(
        stdout(&plan).contains("chiffre/01-dmp"),
        "{}",
        stdout(&plan)
    );
    // Images go to the project's `out/`, named from the current folder.
    let render = crieur_in(&here, &["render", "chiffre/01-dmp", "--format", "carre"]);
    assert_eq!(render.status.code(), Some(0), "{}", stderr(&render));
    assert!(root.join("out/chiffre/01-dmp.carre.png").is_file());
    assert!(!here.join("out").exists());
    assert!(
        stdout(&render).contains("../../out/chiffre/01-dmp.carre.png"),
        "{}",
        stdout(&render)
    );
}

#[test]
fn an_explicit_root_is_exactly_that_folder() {
    let project = temp_project("valid");
    let here = chiffre(project.path());
    let output = crieur_in(&here, &["--root", ".", "check"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with(
            "erreur : ce dossier n'est pas un projet crieur : config/crieur.toml introuvable\n"
        ),
        "{}",
        stderr(&output)
    );
}

#[test]
fn init_inside_a_project_is_refused_naming_the_outer_one() {
    let project = temp_project("valid");
    let outer = project.path().canonicalize().unwrap();
    let here = chiffre(project.path());
    let output = crieur_in(&here, &["init"]);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{errors}");
    assert!(
        errors.starts_with(&format!(
            "erreur : ce dossier est déjà dans un projet crieur, celui de {} : crieur init n'y crée pas un second projet",
            outer.display()
        )),
        "{errors}"
    );
    assert!(errors.contains("crieur new"), "{errors}");
    assert!(!here.join("config").exists());
    assert!(!here.join("posts").exists());
    // A folder still to make, under the project, is refused as well.
    let output = crieur_in(project.path(), &["init", "autre/projet"]);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{errors}");
    assert!(
        errors.starts_with(&format!(
            "erreur : autre/projet est déjà dans un projet crieur, celui de {} : ",
            outer.display()
        )),
        "{errors}"
    );
    assert!(!project.path().join("autre").exists());
}

#[test]
fn status_on_a_fresh_project_says_no_daemon_ran() {
    const NEVER: &str = "Démon : aucun n'a encore tourné pour ce projet ; pour publier à l'heure, sans surveillance, lancez `crieur daemon`.";
    let project = temp_project("valid");
    let here = chiffre(project.path());
    let status = crieur_in(&here, &["status"]);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    assert!(stdout(&status).contains(NEVER), "{}", stdout(&status));
    assert!(!stdout(&status).contains("arrêté"), "{}", stdout(&status));
    // A pass by hand makes the state store; still no daemon.
    let publish = crieur_in(&here, &["publish"]);
    assert_eq!(publish.status.code(), Some(0), "{}", stderr(&publish));
    let status = crieur_in(&here, &["status"]);
    assert!(stdout(&status).contains(NEVER), "{}", stdout(&status));
    assert!(!stdout(&status).contains("arrêté"), "{}", stdout(&status));
}

#[test]
fn missing_files_and_folders_are_said_in_french() {
    let project = temp_project("valid");
    let root = project.path();
    let import = crieur_in(
        root,
        &["import", "absent.csv", "--series", "chiffre-de-la-semaine"],
    );
    let errors = stderr(&import);
    assert_eq!(import.status.code(), Some(2), "{errors}");
    assert_eq!(
        errors,
        "erreur : impossible de lire absent.csv (un fichier CSV en UTF-8) : fichier ou dossier introuvable\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let init = crieur_in(dir.path(), &["init", "p", "--logo", "absent.png"]);
    let errors = stderr(&init);
    assert_eq!(init.status.code(), Some(2), "{errors}");
    assert!(
        errors.starts_with("erreur : logo illisible : absent.png : fichier ou dossier introuvable"),
        "{errors}"
    );
    // Images written under a file rather than a folder.
    std::fs::write(root.join("images"), "").unwrap();
    let render = crieur_in(
        root,
        &[
            "render",
            "chiffre/01-dmp",
            "--format",
            "carre",
            "--out",
            "images",
        ],
    );
    let errors = stderr(&render);
    assert_eq!(render.status.code(), Some(2), "{errors}");
    assert!(
        errors.contains("un élément du chemin n'est pas un dossier"),
        "{errors}"
    );
    for text in [
        stderr(&import),
        stderr(&init),
        stderr(&render),
        stdout(&render),
    ] {
        assert_no_english(&text);
    }
}

#[test]
fn a_damaged_png_in_assets_is_said_in_french() {
    let project = temp_project("valid");
    let root = project.path();
    let icons = root.join("assets/icons");
    std::fs::create_dir_all(&icons).unwrap();
    std::fs::write(
        icons.join("renomme.png"),
        b"GIF89a: an image of another kind",
    )
    .unwrap();
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, 32, 32);
        encoder.set_color(png::ColorType::Rgb);
        let mut writer = encoder.write_header().unwrap();
        let pixels: Vec<u8> = (0..32 * 32 * 3).map(|i| (i * 13 % 251) as u8).collect();
        writer.write_image_data(&pixels).unwrap();
    }
    let half = png.len() / 2;
    std::fs::write(icons.join("coupe.png"), &png[..half]).unwrap();
    let mut flipped = png.clone();
    flipped[20] ^= 0x01;
    std::fs::write(icons.join("abime.png"), &flipped).unwrap();
    let output = crate::crieur(root, &["check"]);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert!(
        errors.contains(
            "erreur : fichier PNG illisible (ce n'est pas un PNG : sa signature manque ; une image d'un autre format, renommée en .png ?)\n --> assets/icons/renomme.png"
        ),
        "{errors}"
    );
    assert!(
        errors.contains(
            "erreur : fichier PNG illisible (somme de contrôle fausse : le fichier est abîmé)\n --> assets/icons/abime.png"
        ),
        "{errors}"
    );
    assert!(errors.contains(" --> assets/icons/coupe.png"), "{errors}");
    assert_no_english(&errors);
}

/// Runs `command` and waits at most a minute for it to end.
fn within_a_minute(mut command: Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the crieur binary runs");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!("still running after a minute: {}", stderr(&output));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_busy_port_is_said_in_french_with_the_option_to_change() {
    let project = temp_project("valid");
    let root = project.path();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let mut preview = command(root);
    preview
        .args(["preview", "--port", &address.port().to_string()])
        .env("CRIEUR_NOW", NOW);
    let output = within_a_minute(preview);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{errors}");
    assert_eq!(
        errors,
        format!(
            "erreur : adresse déjà utilisée : un autre programme écoute sur {address} ; choisissez un autre port avec --port\n"
        )
    );
    let mut daemon = command(root);
    daemon
        .args(["daemon", "--health", &address.to_string()])
        .env("CRIEUR_NOW", NOW);
    let output = within_a_minute(daemon);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{errors}");
    assert!(
        errors.contains(&format!(
            "erreur : impossible de servir /healthz et /metrics : adresse déjà utilisée : un autre programme écoute sur {address} ; choisissez un autre port avec --health ADRESSE:PORT\n"
        )),
        "{errors}"
    );
    assert_no_english(&errors);
    drop(taken);
}
