//! Writing files whole or not at all: a temporary file beside the target,
//! then renamed over it (on Linux, a new file is written without a name
//! and given its name once whole). A crash leaves the old file or the new
//! one, never half of one. [`write_durable`] also syncs the data before the rename,
//! for what must survive a power cut (the outbox, hosted images); rendered
//! images, which can be drawn again, skip the sync.

use std::fs;
use std::path::Path;

/// Writes `bytes` to `path`, creating its folder if need be.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write(path, bytes, false)
}

/// Like [`write_atomic`], with the data synced to disk before the rename.
pub fn write_durable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write(path, bytes, true)
}

/// Writes several new files under `root`, each whole, and all or none: if
/// one cannot be written, those already written are removed. Returns the
/// path that failed with its error.
pub fn write_all_new(
    root: &Path,
    files: &[(String, &[u8])],
) -> Result<(), (String, std::io::Error)> {
    let mut written: Vec<std::path::PathBuf> = Vec::new();
    for (path, bytes) in files {
        let target = root.join(path);
        if let Err(error) = write_atomic(&target, bytes) {
            for done in written.iter().rev() {
                let _ = fs::remove_file(done);
            }
            return Err((path.clone(), error));
        }
        written.push(target);
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    // Files mostly go where files went before: the folder is made only
    // when it is missing.
    match write_in(parent, path, bytes, sync) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(parent)?;
            write_in(parent, path, bytes, sync)
        }
        done => done,
    }
}

fn write_in(parent: &Path, path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    if let Some(done) = write_unnamed(parent, path, bytes, sync) {
        return done;
    }
    let temporary = temporary_beside(parent, path);
    {
        use std::io::Write as _;
        let mut file = fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        if sync {
            file.sync_data()?;
        }
    }
    fs::rename(&temporary, path)
}

/// A name no other write uses, beside `path`, hidden.
fn temporary_beside(parent: &Path, path: &Path) -> std::path::PathBuf {
    static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let sequence = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    parent.join(format!(".{name}.{}-{sequence}.tmp", std::process::id()))
}

/// On Linux, the file is written without a name (`O_TMPFILE`), then given
/// its name once whole: a new file changes its folder once, where a
/// temporary file renamed changes it three times (and a batch of cards
/// written at once waits on the folder's lock). An existing file is
/// replaced by a rename as before. `None` when the file system cannot
/// write so: the caller writes through a named temporary file.
#[cfg(target_os = "linux")]
fn write_unnamed(
    parent: &Path,
    path: &Path,
    bytes: &[u8],
    sync: bool,
) -> Option<std::io::Result<()>> {
    use rustix::fs::{AtFlags, CWD, linkat};
    use std::io::Write as _;
    use std::os::fd::AsRawFd as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .mode(0o666)
        .custom_flags(libc::O_TMPFILE)
        .open(parent)
        .ok()?;
    if let Err(error) = file.write_all(bytes) {
        return Some(Err(error));
    }
    if sync && let Err(error) = file.sync_data() {
        return Some(Err(error));
    }
    // The unnamed file, as the kernel shows it to its owner.
    let unnamed = format!("/proc/self/fd/{}", file.as_raw_fd());
    let link = |to: &Path| linkat(CWD, unnamed.as_str(), CWD, to, AtFlags::SYMLINK_FOLLOW);
    match link(path) {
        Ok(()) => Some(Ok(())),
        Err(rustix::io::Errno::EXIST) => {
            let temporary = temporary_beside(parent, path);
            if link(&temporary).is_err() {
                return None;
            }
            Some(fs::rename(&temporary, path).inspect_err(|_| {
                let _ = fs::remove_file(&temporary);
            }))
        }
        // No `/proc`, or a file system that cannot link such a file.
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_file_is_written_whole_in_a_new_folder_then_replaced_leaving_nothing_beside() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("out/cards");
        let card = folder.join("card.png");
        write_atomic(&card, b"first").unwrap();
        assert_eq!(fs::read(&card).unwrap(), b"first");
        write_durable(&card, b"second, longer").unwrap();
        assert_eq!(fs::read(&card).unwrap(), b"second, longer");
        write_atomic(&folder.join("other.png"), b"other").unwrap();
        assert_eq!(names(&folder), ["card.png", "other.png"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_written_has_the_permissions_of_one_created_plainly() {
        use std::os::unix::fs::PermissionsExt as _;
        let root = tempfile::tempdir().unwrap();
        let plain = root.path().join("plain");
        fs::File::create(&plain).unwrap();
        let written = root.path().join("written");
        write_atomic(&written, b"bytes").unwrap();
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&written), mode(&plain));
    }
}
