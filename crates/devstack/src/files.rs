//! Small file helpers for the data directory: private files are created with mode 0600 and
//! replaced atomically (write to a temporary file, then rename), so a crash never leaves a
//! half-written key or store behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::DevError;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DevError + '_ {
    move |source| DevError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (and parents) with mode 0700 if missing.
pub fn ensure_private_dir(dir: &Path) -> Result<(), DevError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    set_mode(dir, 0o700)
}

/// Reads a whole file as UTF-8.
pub fn read_string(path: &Path) -> Result<String, DevError> {
    std::fs::read_to_string(path).map_err(io(path))
}

/// Reads a whole file.
pub fn read(path: &Path) -> Result<Vec<u8>, DevError> {
    std::fs::read(path).map_err(io(path))
}

/// Atomically writes a file readable only by its owner (0600).
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), DevError> {
    write_atomic(path, data, 0o600)
}

/// Atomically writes a file anyone may read (0644), e.g. a CA certificate.
pub fn write_public(path: &Path, data: &[u8]) -> Result<(), DevError> {
    write_atomic(path, data, 0o644)
}

fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), DevError> {
    let tmp: PathBuf = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(mode);
        }
        let mut f = opts.open(&tmp).map_err(io(&tmp))?;
        f.write_all(data).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    set_mode(&tmp, mode)?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), DevError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io(path))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), DevError> {
    Ok(())
}
