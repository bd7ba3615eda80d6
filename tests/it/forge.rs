//! Review in a forge: `check --format github` (workflow annotations) and
//! `--format gitlab` (a code quality report), and `render --changed-since`
//! in a real git repository, as the files of `contrib/` run them on a pull
//! request.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use crate::{NOW, command, command_in, copy_dir, crieur, fixture, stderr, stdout, temp_project};

#[test]
fn github_annotations_name_the_file_line_and_column_of_each_problem() {
    let output = crieur(fixture("invalid").path(), &["check", "--format", "github"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let annotations = stdout(&output);
    let lines: Vec<&str> = annotations.lines().collect();
    assert!(
        lines
            .iter()
            .all(|line| line.starts_with("::error ") || line.starts_with("::warning ")),
        "{annotations}"
    );
    // As many as the summary counts, which goes to standard error.
    let errors = lines.iter().filter(|l| l.starts_with("::error ")).count();
    let warnings = lines.iter().filter(|l| l.starts_with("::warning ")).count();
    assert_eq!((errors, warnings), (24, 2), "{annotations}");
    assert!(
        stderr(&output).contains("20 posts vérifiés : 24 erreurs, 2 avertissements.\n"),
        "{}",
        stderr(&output)
    );
    // The hint follows the message on a line of its own, escaped.
    assert!(
        lines.contains(
            &"::error file=posts/typo-key.md,line=2,col=1,endLine=2,endColumn=6,title=crieur::clé inconnue `sereis`%0Aaide : vouliez-vous dire `series` ?"
        ),
        "{annotations}"
    );
    // A problem of the whole file names the file, and no line.
    assert!(
        lines.iter().any(|line| line
            .starts_with("::error file=posts/empty.md,title=crieur::fichier vide%0Aaide : ")),
        "{annotations}"
    );
    assert!(
        lines.iter().any(|line| line.starts_with(
            "::warning file=config/crieur.toml,line=6,col=1,endLine=6,endColumn=30,title=crieur::la série `chiffre-de-la-semaine` manque de posts"
        )),
        "{annotations}"
    );
}

#[test]
fn github_annotations_escape_what_would_end_a_property_or_the_message() {
    let project = temp_project("invalid");
    fs::write(
        project.path().join("posts/50%,oui:non.md"),
        "+++\nseries = \"chiffre-de-la-semaine\"\n\"taux%\" = 1\n[visual]\nnumber = \"1\"\ncaption = \"a\"\n+++\nTexte.\n",
    )
    .unwrap();
    let output = crieur(project.path(), &["check", "--format", "github"]);
    assert_eq!(output.status.code(), Some(1));
    let annotations = stdout(&output);
    // In the file's name, `%`, `,` and `:` are escaped; in the message only
    // `%` and the line break, and the hint's commas stay as they are.
    let line = annotations
        .lines()
        .find(|line| line.contains("taux"))
        .expect("the unknown key is reported");
    assert!(
        line.starts_with(
            "::error file=posts/50%25%2Coui%3Anon.md,line=3,col=1,endLine=3,endColumn=7,title=crieur::clé inconnue `taux%25`%0Aaide : valeurs possibles : `series`, `publish_at`"
        ),
        "{line}"
    );
}

#[test]
fn a_project_without_errors_gives_no_annotation() {
    let output = crieur(fixture("valid").path(), &["check", "--format", "github"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    assert!(
        stderr(&output).contains("aucune erreur"),
        "{}",
        stderr(&output)
    );
}

/// The code quality report of `check --format gitlab`, run in `dir` with
/// `args` before `check`.
fn gitlab_report(dir: &Path, args: &[&str]) -> (Output, Vec<serde_json::Value>) {
    let output = command_in(dir)
        .args(args)
        .args(["check", "--format", "gitlab"])
        .env("CRIEUR_NOW", NOW)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|error| panic!("{error}: {}", stdout(&output)));
    let issues = report.as_array().expect("a JSON array").clone();
    (output, issues)
}

fn fingerprints(issues: &[serde_json::Value]) -> Vec<String> {
    issues
        .iter()
        .map(|issue| issue["fingerprint"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn gitlab_gets_a_code_quality_report_with_stable_fingerprints() {
    let parent = tempfile::tempdir().unwrap();
    copy_dir(temp_project("invalid").path(), &parent.path().join("site"));
    let root = parent.path().join("site");
    let (output, issues) = gitlab_report(&root, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("20 posts vérifiés : 24 erreurs, 2 avertissements.\n"),
        "{}",
        stderr(&output)
    );
    for issue in &issues {
        assert_eq!(issue["check_name"], "crieur", "{issue}");
        assert!(issue["description"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(issue["location"]["path"].is_string(), "{issue}");
        assert!(issue["location"]["lines"]["begin"].as_u64() >= Some(1));
    }
    let severity = |wanted: &str| issues.iter().filter(|i| i["severity"] == wanted).count();
    assert_eq!((severity("major"), severity("minor")), (24, 2));
    let typo = issues
        .iter()
        .find(|issue| issue["location"]["path"] == "posts/typo-key.md")
        .expect("the typo is reported");
    assert_eq!(typo["location"]["lines"]["begin"], 2);
    assert_eq!(
        typo["description"],
        "clé inconnue `sereis`\naide : vouliez-vous dire `series` ?"
    );
    let first = fingerprints(&issues);
    let unique: BTreeSet<&String> = first.iter().collect();
    assert_eq!(unique.len(), first.len(), "{first:?}");
    assert!(first.iter().all(|f| f.len() == 32));
    // Again, and from the folder above: the paths are shown from there,
    // the fingerprints do not change.
    assert_eq!(fingerprints(&gitlab_report(&root, &[]).1), first);
    let (_, from_above) = gitlab_report(parent.path(), &["--root", "site"]);
    assert_eq!(
        from_above[0]["location"]["path"],
        format!("site/{}", issues[0]["location"]["path"].as_str().unwrap())
    );
    assert_eq!(fingerprints(&from_above), first);
}

#[test]
fn json_stays_the_same_as_format_json() {
    let project = fixture("invalid");
    let json = crieur(project.path(), &["check", "--json"]);
    let format = crieur(project.path(), &["check", "--format", "json"]);
    assert_eq!(json.status.code(), Some(1));
    assert_eq!(stdout(&json), stdout(&format));
    assert!(stdout(&json).starts_with('['));
}

/// Runs git in `dir`, away from the user's and the system's settings.
fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args(["-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"])
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Chargée de communication")
        .env("GIT_AUTHOR_EMAIL", "communication@cpts.example")
        .env("GIT_COMMITTER_NAME", "Chargée de communication")
        .env("GIT_COMMITTER_EMAIL", "communication@cpts.example")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A repository whose folder `site/` is the valid project, with a second
/// template, `annonce` (a copy of `chiffre`), for `posts/annonce.md` only;
/// committed and tagged `base`. Returns the repository and the project.
fn repository() -> (tempfile::TempDir, std::path::PathBuf) {
    let repository = tempfile::tempdir().unwrap();
    let root = repository.path().join("site");
    copy_dir(temp_project("valid").path(), &root);
    let templates = root.join("assets/templates");
    fs::copy(
        templates.join("chiffre.toml"),
        templates.join("annonce.toml"),
    )
    .unwrap();
    let post = root.join("posts/annonce.md");
    let text = fs::read_to_string(&post).unwrap();
    fs::write(
        &post,
        text.replace("template = \"chiffre\"", "template = \"annonce\""),
    )
    .unwrap();
    fs::write(
        repository.path().join("README.md"),
        "Les posts de la CPTS.\n",
    )
    .unwrap();
    git(repository.path(), &["init", "-q"]);
    git(repository.path(), &["add", "-A"]);
    git(repository.path(), &["commit", "-q", "-m", "Le projet"]);
    git(repository.path(), &["tag", "base"]);
    (repository, root)
}

/// `crieur render --out cartes ARGS`, with git on the path.
fn render(root: &Path, args: &[&str]) -> Output {
    command(root)
        .args(["render", "--out", "cartes"])
        .args(args)
        .env("CRIEUR_NOW", NOW)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

/// The cards drawn under `cartes/`, by post id.
fn drawn(root: &Path) -> Vec<String> {
    let out = root.join("cartes");
    let mut cards = Vec::new();
    let mut folders = vec![out.clone()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = fs::read_dir(folder) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if let Some(id) = path
                .strip_prefix(&out)
                .unwrap()
                .to_str()
                .and_then(|name| name.strip_suffix(".carre.png"))
            {
                cards.push(id.to_owned());
            }
        }
    }
    cards.sort();
    cards
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{}", path.display());
    fs::write(path, text.replace(from, to)).unwrap();
}

#[test]
fn render_changed_since_draws_the_posts_changed_or_added() {
    let (repository, root) = repository();
    let posts = root.join("posts/chiffre");
    // Committed after the reference.
    edit(&posts.join("02-teleconsultation.md"), "416 649", "416 650");
    git(
        repository.path(),
        &["commit", "-q", "-am", "Un chiffre corrigé"],
    );
    // Changed and not committed, new and untracked, removed, and a draft.
    edit(&posts.join("01-dmp.md"), "240 008", "240 009");
    let new = fs::read_to_string(posts.join("03-e-cps.md")).unwrap();
    fs::write(
        posts.join("04-ordonnance.md"),
        new.replace("32 000", "12 000"),
    )
    .unwrap();
    fs::remove_file(posts.join("03-e-cps.md")).unwrap();
    edit(
        &root.join("posts/brouillon.md"),
        "Brouillon.",
        "Brouillon, encore.",
    );
    // A file of the repository outside the project.
    fs::write(repository.path().join("README.md"), "Autre chose.\n").unwrap();

    let output = render(&root, &["--changed-since", "base"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        drawn(&root),
        [
            "chiffre/01-dmp",
            "chiffre/02-teleconsultation",
            "chiffre/04-ordonnance"
        ]
    );
    assert!(
        stdout(&output).contains("cartes/chiffre/04-ordonnance.carre.png"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn render_changed_since_draws_the_posts_of_a_changed_template() {
    let (_repository, root) = repository();
    let template = root.join("assets/templates/annonce.toml");
    let text = fs::read_to_string(&template).unwrap();
    fs::write(&template, format!("{text}\n# Une retouche.\n")).unwrap();
    let output = render(&root, &["--changed-since", "base"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(drawn(&root), ["annonce"]);
    assert!(
        stderr(&output).contains("Le modèle `annonce` a changé : ses posts sont dessinés."),
        "{}",
        stderr(&output)
    );

    // The configuration draws every card: every post but the draft.
    fs::remove_dir_all(root.join("cartes")).unwrap();
    let config = root.join("config/crieur.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(&config, format!("{text}\n# Une retouche.\n")).unwrap();
    let output = render(&root, &["--changed-since", "base"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(drawn(&root).len(), 5, "{:?}", drawn(&root));
    assert!(
        stderr(&output).contains("config/crieur.toml a changé : tous les posts sont dessinés."),
        "{}",
        stderr(&output)
    );
}

#[test]
fn render_changed_since_without_a_change_draws_nothing() {
    let (_repository, root) = repository();
    let output = render(&root, &["--changed-since", "base"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    assert_eq!(
        stderr(&output),
        "Aucun post n'a changé depuis `base` : aucune image dessinée.\n"
    );
    assert!(!root.join("cartes").exists());
}

#[test]
fn render_changed_since_an_unknown_reference_says_what_to_do() {
    let (_repository, root) = repository();
    let output = render(&root, &["--changed-since", "origin/main"]);
    assert_eq!(output.status.code(), Some(2));
    let said = stderr(&output);
    assert!(
        said.starts_with("erreur : référence git inconnue : `origin/main`"),
        "{said}"
    );
    assert!(said.contains("fetch-depth: 0"), "{said}");
    assert!(!root.join("cartes").exists());

    // Outside a repository, and with post names, it is said too.
    let project = temp_project("valid");
    let output = render(project.path(), &["--changed-since", "base"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("le projet n'est pas dans un dépôt git"),
        "{}",
        stderr(&output)
    );
    let output = render(&root, &["--changed-since", "base", "annonce"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("`--changed-since <REF>` ne va pas avec `[POST]...`"),
        "{}",
        stderr(&output)
    );
}
