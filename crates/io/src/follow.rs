//! Following the repository a server's configuration names, with the
//! system's `git` (see the root `Cargo.toml` for why not a git crate).
//!
//! Under the configuration's `dir`:
//! - `depot/` is the daemon's own clone, a bare repository: the remote's
//!   branch is fetched into `refs/remotes/origin/BRANCH`, and the local
//!   branch is the commit being published, moved only by fast-forward;
//! - `arbres/COMMIT/` is a commit checked out whole, written beside the
//!   others and only then made current, so a pass never reads a
//!   half-updated tree;
//! - `projet` is a link to the current one: each command resolves it once,
//!   so a pass runs on one commit from its start to its end.
//!
//! The state store and the files the publishers write (the outbox, a local
//! image folder) live under `dir` too, outside every checkout.

use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crieur_core::config::CONFIG_PATH;
use crieur_core::diagnostic::Report;
use crieur_core::sync::{Follow, SSH_KEY_VARIABLE, TOKEN_VARIABLE};

use crate::net::secret::{Secret, redact};

/// The clone, under `dir`.
pub const DEPOT: &str = "depot";
/// The checked-out commits, under `dir`.
pub const TREES: &str = "arbres";
/// The link to the commit being published, under `dir`.
pub const CURRENT: &str = "projet";

/// How long one git command may take before it is abandoned.
const GIT_TIMEOUT: Duration = Duration::from_secs(600);

/// Keys of the state store's `meta` table about following.
pub mod meta {
    /// The commit being published, its author, time and title.
    pub const COMMIT: &str = "sync.commit";
    pub const AUTHOR: &str = "sync.author";
    pub const TIME: &str = "sync.time";
    pub const TITLE: &str = "sync.title";
    /// The last successful fetch (RFC 3339).
    pub const FETCHED: &str = "sync.fetched";
    /// The last failed fetch's error, empty after a success.
    pub const FETCH_ERROR: &str = "sync.fetch_error";
    /// Why following stopped, and what to do; empty while following.
    pub const STOPPED: &str = "sync.stopped";
    pub const STOPPED_HINT: &str = "sync.stopped_hint";
    /// A commit a person accepted after a rewrite (`crieur sync --accept`).
    pub const ACCEPT: &str = "sync.accept";
    /// Set by `crieur sync --resume` after a change by hand.
    pub const RESUME: &str = "sync.resume";
    /// Why the stop was a change by hand (`hand`) or a rewrite (`rewrite`).
    pub const STOP_KIND: &str = "sync.stop_kind";
}

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("{0}")]
    Config(String),
    #[error(
        "le dépôt suivi n'a pas encore été récupéré ({}) : le démon le récupère à son démarrage (`crieur daemon`)",
        .0.display()
    )]
    NotFetched(PathBuf),
    #[error("git : {0}")]
    Git(String),
    #[error("impossible de lancer git ({0}) : installez-le (`apt install git`)")]
    NoGit(String),
    #[error("{0}")]
    Io(String),
}

/// The server's configuration at `root`, if `root`'s configuration is a
/// server's (it has `[sync]`); its errors, rendered, otherwise.
pub fn server(root: &Path) -> Result<Option<Follow>, FollowError> {
    let path = root.join(CONFIG_PATH);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    if !crieur_core::sync::is_server(&text) {
        return Ok(None);
    }
    let (follow, diagnostics) = Follow::parse(&text, CONFIG_PATH);
    match follow {
        Some(follow) => Ok(Some(follow)),
        None => {
            let mut report = Report::new();
            report.add_source(CONFIG_PATH, text.into());
            report.extend(diagnostics);
            Err(FollowError::Config(format!(
                "la configuration du serveur a des erreurs :\n{}",
                report.render(false).trim_end()
            )))
        }
    }
}

/// What the state store says of following, for `status` and `crieur sync`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Following {
    pub git: String,
    pub branch: String,
    /// The commit being published, its author, time (RFC 3339) and title.
    pub commit: Option<String>,
    pub author: Option<String>,
    pub time: Option<String>,
    pub title: Option<String>,
    /// The last successful fetch (RFC 3339).
    pub fetched: Option<String>,
    /// Why the last fetch failed, if it did.
    pub fetch_error: Option<String>,
    /// Why following stopped, and what to do, if it did.
    pub stopped: Option<String>,
    pub hint: Option<String>,
}

impl Following {
    pub fn read(follow: &Follow, store: Option<&crate::store::Store>) -> Following {
        let get = |key: &str| {
            store
                .and_then(|store| store.meta(key).ok().flatten())
                .filter(|value| !value.is_empty())
        };
        Following {
            git: follow.git.clone(),
            branch: follow.branch.clone(),
            commit: get(meta::COMMIT),
            author: get(meta::AUTHOR),
            time: get(meta::TIME),
            title: get(meta::TITLE),
            fetched: get(meta::FETCHED),
            fetch_error: get(meta::FETCH_ERROR),
            stopped: get(meta::STOPPED),
            hint: get(meta::STOPPED_HINT),
        }
    }
}

/// A commit as `status` and the log say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub id: String,
    pub author: String,
    pub time: String,
    pub title: String,
}

/// The daemon's clone and checkouts of one server.
#[derive(Debug, Clone)]
pub struct Follower {
    pub follow: Follow,
    /// `dir`, made absolute.
    pub dir: PathBuf,
}

impl Follower {
    pub fn new(root: &Path, follow: Follow) -> Follower {
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_owned());
        let dir = root.join(&follow.dir);
        Follower { follow, dir }
    }

    /// The state store's file.
    pub fn state(&self) -> PathBuf {
        self.dir.join(&self.follow.state)
    }

    /// The checkout of the commit being published, resolved once.
    pub fn tree(&self) -> Result<PathBuf, FollowError> {
        self.dir
            .join(CURRENT)
            .canonicalize()
            .map_err(|_| FollowError::NotFetched(self.dir.join(CURRENT)))
    }

    /// The commit being published: the name of the current checkout.
    pub fn published(&self) -> Option<String> {
        let tree = self.tree().ok()?;
        let name = tree.file_name()?.to_str()?;
        is_commit_id(name).then(|| name.to_owned())
    }

    fn depot(&self) -> PathBuf {
        self.dir.join(DEPOT)
    }

    fn remote_ref(&self) -> String {
        format!("refs/remotes/origin/{}", self.follow.branch)
    }

    /// Fetches the followed branch (making the clone first) and returns
    /// the commit it points to. `stop` abandons the fetch.
    pub fn fetch(&self, stop: &AtomicBool) -> Result<String, FollowError> {
        let depot = self.depot();
        if !depot.join("HEAD").is_file() {
            let making = self.dir.join(format!("{DEPOT}.nouveau"));
            let _ = std::fs::remove_dir_all(&making);
            create_dir(&self.dir)?;
            self.git(None, &["init", "--quiet", "--bare"], Some(&making), stop)?;
            std::fs::rename(&making, &depot).map_err(|error| io(&depot, &error))?;
        }
        let url = self.follow.git.as_str();
        if self
            .git_in(&["config", "--get", "remote.origin.url"], stop)
            .ok()
            .as_deref()
            != Some(url)
        {
            let _ = self.git_in(&["remote", "remove", "origin"], stop);
            self.git_in(&["remote", "add", "origin", "--", url], stop)?;
        }
        let refspec = format!("+refs/heads/{}:{}", self.follow.branch, self.remote_ref());
        self.git_in(
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--prune",
                "origin",
                &refspec,
            ],
            stop,
        )?;
        self.git_in(
            &[
                "rev-parse",
                "--verify",
                &format!("{}^{{commit}}", self.remote_ref()),
            ],
            stop,
        )
    }

    /// The full id of a commit the clone knows, given whole or shortened.
    pub fn resolve(&self, commit: &str, stop: &AtomicBool) -> Result<String, FollowError> {
        if commit.is_empty() || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FollowError::Git(format!(
                "`{commit}` n'est pas un identifiant de commit (des chiffres et des lettres de a à f)"
            )));
        }
        self.git_in(&["rev-parse", "--verify", "--quiet", &format!("{commit}^{{commit}}")], stop)
            .map_err(|_| {
                FollowError::Git(format!(
                    "le clone du serveur ne connaît pas le commit {commit} : recopiez celui que `crieur status` montre"
                ))
            })
    }

    /// Whether `to` descends from `from` (or is it).
    pub fn descends(&self, from: &str, to: &str, stop: &AtomicBool) -> Result<bool, FollowError> {
        // 1: not an ancestor; any other failure (`from` unknown to a clone
        // made anew) proves nothing either.
        Ok(self.git_status(&["merge-base", "--is-ancestor", from, to], stop)? == 0)
    }

    /// What a commit says of itself.
    pub fn commit(&self, id: &str, stop: &AtomicBool) -> Result<Commit, FollowError> {
        let text = self.git_in(
            &["log", "-1", "--format=%H%x00%an%x00%aI%x00%s", id, "--"],
            stop,
        )?;
        let mut parts = text.split('\0').map(str::to_owned);
        let mut next = || parts.next().unwrap_or_default();
        Ok(Commit {
            id: next(),
            author: next(),
            time: next(),
            title: next(),
        })
    }

    /// Checks `id` out whole beside the others, then makes it current and
    /// moves the local branch to it. The previous checkout is kept (a
    /// command may still be reading it); older ones are removed.
    pub fn checkout(&self, id: &str, stop: &AtomicBool) -> Result<PathBuf, FollowError> {
        let trees = self.dir.join(TREES);
        create_dir(&trees)?;
        let tree = trees.join(id);
        if !tree.is_dir() {
            self.export(id, &tree, stop)?;
        }
        let previous = self.published();
        let link = self.dir.join(CURRENT);
        let making = self.dir.join(format!("{CURRENT}.nouveau"));
        let _ = std::fs::remove_file(&making);
        std::os::unix::fs::symlink(Path::new(TREES).join(id), &making)
            .map_err(|error| io(&making, &error))?;
        std::fs::rename(&making, &link).map_err(|error| io(&link, &error))?;
        let branch = format!("refs/heads/{}", self.follow.branch);
        self.git_in(&["update-ref", &branch, id], stop)?;
        self.git_in(&["symbolic-ref", "HEAD", &branch], stop)?;
        self.prune(&[Some(id), previous.as_deref()]);
        Ok(tree)
    }

    /// Writes the commit's files into `tree`, through a folder of its own
    /// renamed at the end: `tree` is whole or absent.
    fn export(&self, id: &str, tree: &Path, stop: &AtomicBool) -> Result<(), FollowError> {
        let making = tree.with_extension("nouveau");
        let _ = std::fs::remove_dir_all(&making);
        create_dir(&making)?;
        let index = index_of(tree);
        let _ = std::fs::remove_file(&index);
        self.git_with_index(&index, &making, &["read-tree", "--reset", "-u", id], stop)?;
        std::fs::rename(&making, tree).map_err(|error| io(tree, &error))
    }

    /// Removes the checkouts other than those to keep.
    fn prune(&self, keep: &[Option<&str>]) {
        let Ok(entries) = std::fs::read_dir(self.dir.join(TREES)) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = name.trim_end_matches(".index");
            if keep.iter().flatten().any(|kept| *kept == id) {
                continue;
            }
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }

    /// The files of the current checkout changed by hand: modified,
    /// deleted or added since it was checked out.
    pub fn changed_by_hand(&self, stop: &AtomicBool) -> Result<Vec<String>, FollowError> {
        let Some(id) = self.published() else {
            return Ok(Vec::new());
        };
        let tree = self.dir.join(TREES).join(&id);
        let text = self.git_with_index(
            &index_of(&tree),
            &tree,
            &["status", "--porcelain", "--untracked-files=all", "-z"],
            stop,
        )?;
        // `XY path`: Y is the checkout against what was checked out.
        Ok(text
            .split('\0')
            .filter(|entry| entry.len() > 3 && entry.as_bytes()[1] != b' ')
            .map(|entry| entry[3..].to_owned())
            .collect())
    }

    /// Moves the changed checkout aside (nothing a person wrote is lost)
    /// and checks the same commit out again; returns where it was moved.
    pub fn set_aside(&self, now: DateTime<Utc>, stop: &AtomicBool) -> Result<PathBuf, FollowError> {
        let id = self
            .published()
            .ok_or_else(|| FollowError::NotFetched(self.dir.join(CURRENT)))?;
        let tree = self.dir.join(TREES).join(&id);
        let kept = self.dir.join(format!(
            "modifié-{}-{}",
            crieur_core::sync::short(&id),
            now.format("%Y%m%dT%H%M%S")
        ));
        std::fs::rename(&tree, &kept).map_err(|error| io(&kept, &error))?;
        let _ = std::fs::remove_file(index_of(&tree));
        self.export(&id, &tree, stop)?;
        Ok(kept)
    }

    /// Runs git in the clone; its standard output, trimmed.
    fn git_in(&self, args: &[&str], stop: &AtomicBool) -> Result<String, FollowError> {
        self.git(Some(&self.depot()), args, None, stop)
    }

    fn git_with_index(
        &self,
        index: &Path,
        tree: &Path,
        args: &[&str],
        stop: &AtomicBool,
    ) -> Result<String, FollowError> {
        let mut command = self.command(Some(&self.depot()));
        command
            .env("GIT_INDEX_FILE", index)
            .env("GIT_WORK_TREE", tree)
            .args(args);
        run(command, stop).and_then(|(code, out, err)| success(code, out, err))
    }

    /// Runs git; `dir` is the git folder, `extra` a last argument.
    fn git(
        &self,
        dir: Option<&Path>,
        args: &[&str],
        extra: Option<&Path>,
        stop: &AtomicBool,
    ) -> Result<String, FollowError> {
        let mut command = self.command(dir);
        command.args(args);
        if let Some(extra) = extra {
            command.arg(extra);
        }
        run(command, stop).and_then(|(code, out, err)| success(code, out, err))
    }

    /// Runs git in the clone; its exit code.
    fn git_status(&self, args: &[&str], stop: &AtomicBool) -> Result<i32, FollowError> {
        let mut command = self.command(Some(&self.depot()));
        command.args(args);
        run(command, stop).map(|(code, _, _)| code)
    }

    /// git, never asking anything, with the token or the deploy key from
    /// the environment. The token goes through a credential helper that
    /// reads it from the environment: it is on no command line.
    fn command(&self, dir: Option<&Path>) -> Command {
        let mut command = Command::new("git");
        if let Some(dir) = dir {
            command.env("GIT_DIR", dir);
        }
        command
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("SSH_ASKPASS_REQUIRE", "never")
            .env("LC_ALL", "C")
            .env_remove("GIT_ASKPASS")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .args([
                "-c",
                "http.lowSpeedLimit=1000",
                "-c",
                "http.lowSpeedTime=60",
            ])
            .args(["-c", "core.hooksPath=/dev/null"]);
        let token = std::env::var(TOKEN_VARIABLE).unwrap_or_default();
        if !token.is_empty() {
            // Recorded, so that redaction masks it in whatever git says.
            let _ = Secret::new(token);
            command.args(["-c", "credential.helper=", "-c", CREDENTIAL_HELPER]);
        }
        if let Some(key) = std::env::var_os(SSH_KEY_VARIABLE).filter(|key| !key.is_empty()) {
            let mut ssh = OsString::from(
                "ssh -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o ConnectTimeout=30 -o ServerAliveInterval=15 -i ",
            );
            ssh.push(shell_quote(&key));
            command.env("GIT_SSH_COMMAND", ssh);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

/// Gives git the token of `CRIEUR_GIT_TOKEN`, and a user name (that of
/// `CRIEUR_GIT_USER`, or `crieur`) when the address has none.
const CREDENTIAL_HELPER: &str = "credential.helper=!f() { test \"$1\" = get || return 0; u=; while read -r l && test -n \"$l\"; do case \"$l\" in username=*) u=1;; esac; done; test -n \"$u\" || echo \"username=${CRIEUR_GIT_USER:-crieur}\"; echo \"password=$CRIEUR_GIT_TOKEN\"; }; f";

fn shell_quote(text: &std::ffi::OsStr) -> OsString {
    let text = text.to_string_lossy().replace('\'', "'\\''");
    OsString::from(format!("'{text}'"))
}

fn index_of(tree: &Path) -> PathBuf {
    tree.with_extension("index")
}

fn is_commit_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn create_dir(dir: &Path) -> Result<(), FollowError> {
    std::fs::create_dir_all(dir).map_err(|error| io(dir, &error))
}

fn io(path: &Path, error: &std::io::Error) -> FollowError {
    FollowError::Io(format!(
        "{} : {}",
        path.display(),
        crieur_core::system::io_error(error)
    ))
}

fn success(code: i32, out: String, err: String) -> Result<String, FollowError> {
    if code == 0 {
        Ok(out.trim_end_matches('\n').to_owned())
    } else {
        let said = err
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" ; ");
        Err(FollowError::Git(if said.is_empty() {
            format!("échec (code {code})")
        } else {
            said
        }))
    }
}

/// Runs a command to its end, or until `stop` or [`GIT_TIMEOUT`]; its exit
/// code and outputs, with every known secret masked.
fn run(mut command: Command, stop: &AtomicBool) -> Result<(i32, String, String), FollowError> {
    let mut child = command
        .spawn()
        .map_err(|error| FollowError::NoGit(crieur_core::system::io_error(&error)))?;
    let reader = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            redact(&String::from_utf8_lossy(&bytes)).into_owned()
        })
    };
    let out = reader(child.stdout.take().map(|p| Box::new(p) as _));
    let err = reader(child.stderr.take().map(|p| Box::new(p) as _));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if stop.load(Ordering::Relaxed) || started.elapsed() > GIT_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(FollowError::Git(if stop.load(Ordering::Relaxed) {
                    "interrompu par l'arrêt du démon".to_owned()
                } else {
                    format!("sans réponse après {} min", GIT_TIMEOUT.as_secs() / 60)
                }));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => return Err(FollowError::Git(error.to_string())),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    Ok((status.code().unwrap_or(-1), out, err))
}
