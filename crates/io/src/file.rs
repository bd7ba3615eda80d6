//! Writing files whole or not at all: a temporary file beside the target,
//! then renamed over it. A crash leaves the old file or the new one, never
//! half of one. [`write_durable`] also syncs the data before the rename,
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
    fs::create_dir_all(parent)?;
    static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let sequence = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = parent.join(format!(".{name}.{}-{sequence}.tmp", std::process::id()));
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
