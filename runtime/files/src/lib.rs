//! Reading the files of a directory a user hands `artrt`: a model bundle, a
//! clip set, a recording, a board profile.
//!
//! One set of rules, so that no such file can hang or mislead a command:
//! - a name stays inside its directory (relative, no `.` or `..`);
//! - no symbolic link on the way (a directory holds its files itself);
//! - only a regular file is read: it is opened without following a link and
//!   without blocking, then checked, so a FIFO, a socket or a device is
//!   refused unread;
//! - a file has a size limit, checked before and enforced while reading.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("labels.txt"), "kip\n")?;
//! let bytes = artrt_files::read_inside(dir.path(), "labels.txt", 1 << 20)?;
//! assert_eq!(bytes, b"kip\n");
//! assert!(artrt_files::read_inside(dir.path(), "../labels.txt", 1 << 20).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The name leaves the directory, or is empty.
    #[error("{}: {}", path.display(), outside_reason(dir))]
    Outside {
        /// The file.
        path: PathBuf,
        /// The directory it must stay in.
        dir: PathBuf,
    },
    /// The file, or a directory on the way to it, is a symbolic link.
    #[error("{}: {}", path.display(), link_reason(via.as_deref()))]
    Link {
        /// The file.
        path: PathBuf,
        /// The directory on the way that is a link (`None`: the file itself).
        via: Option<PathBuf>,
    },
    /// A directory, FIFO, socket or device.
    #[error("{}: {NOT_REGULAR}", path.display())]
    NotRegular {
        /// The file.
        path: PathBuf,
    },
    /// Larger than its limit.
    #[error("{}: {}", path.display(), too_large_reason(*limit))]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// Could not be opened or read.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
}

const NOT_REGULAR: &str = "not a regular file (a directory, FIFO, socket or device)";

fn too_large_reason(limit: u64) -> String {
    format!("more than the {limit} bytes such a file may have")
}

fn outside_reason(dir: &Path) -> String {
    format!(
        "not a path inside {} (absolute, empty, or with `.` or `..`)",
        dir.display()
    )
}

fn link_reason(via: Option<&Path>) -> String {
    let link = match via {
        None => "a symbolic link".to_string(),
        Some(dir) => format!("{} is a symbolic link", dir.display()),
    };
    format!("{link}; the directory must hold its files itself")
}

impl FileError {
    /// What is wrong, without the file's name (for a message that names it
    /// already).
    pub fn reason(&self) -> String {
        match self {
            FileError::Outside { dir, .. } => outside_reason(dir),
            FileError::Link { via, .. } => link_reason(via.as_deref()),
            FileError::NotRegular { .. } => NOT_REGULAR.into(),
            FileError::TooLarge { limit, .. } => too_large_reason(*limit),
            FileError::Io { cause, .. } => cause.to_string(),
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            FileError::Outside { path, .. }
            | FileError::Link { path, .. }
            | FileError::NotRegular { path }
            | FileError::TooLarge { path, .. }
            | FileError::Io { path, .. } => path,
        }
    }
}

/// Reads `name`, a relative path inside `dir`, under the rules above.
pub fn read_inside(dir: &Path, name: impl AsRef<Path>, limit: u64) -> Result<Vec<u8>, FileError> {
    let rel = name.as_ref();
    let path = dir.join(rel);
    if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(FileError::Outside {
            path,
            dir: dir.to_path_buf(),
        });
    }
    let mut at = dir.to_path_buf();
    let mut parts = rel.components().peekable();
    while let Some(part) = parts.next() {
        at.push(part);
        if parts.peek().is_none() {
            break;
        }
        let meta = std::fs::symlink_metadata(&at).map_err(|cause| FileError::Io {
            path: path.clone(),
            cause,
        })?;
        if meta.file_type().is_symlink() {
            return Err(FileError::Link {
                path,
                via: Some(at),
            });
        }
    }
    read_file(&path, limit)
}

/// Reads the file at `path` itself (not a link to it) under the rules above:
/// a regular file of at most `limit` bytes.
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    read(path, limit, libc::O_NOFOLLOW)
}

/// Reads a file the user named on the command line (a board profile, say):
/// a link is followed, since the user chose it, but only a regular file of at
/// most `limit` bytes is read.
pub fn read_named(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    read(path, limit, 0)
}

fn read(path: &Path, limit: u64, flags: libc::c_int) -> Result<Vec<u8>, FileError> {
    let io = |cause: std::io::Error| {
        if cause.raw_os_error() == Some(libc::ELOOP) {
            FileError::Link {
                path: path.to_path_buf(),
                via: None,
            }
        } else {
            FileError::Io {
                path: path.to_path_buf(),
                cause,
            }
        }
    };
    let file = File::options()
        .read(true)
        .custom_flags(flags | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(io)?;
    let meta: Metadata = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(FileError::NotRegular {
            path: path.to_path_buf(),
        });
    }
    let too_large = || FileError::TooLarge {
        path: path.to_path_buf(),
        limit,
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Reads a UTF-8 text file the user named, as [`read_named`] does.
pub fn read_named_text(path: &Path, limit: u64) -> Result<String, FileError> {
    String::from_utf8(read_named(path, limit)?).map_err(|e| FileError::Io {
        path: path.to_path_buf(),
        cause: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn only_regular_files_inside_the_directory_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/a.txt"), "abc").unwrap();
        assert_eq!(read_inside(d, "sub/a.txt", 3).unwrap(), b"abc");
        assert!(matches!(
            read_inside(d, "sub/a.txt", 2),
            Err(FileError::TooLarge { limit: 2, .. })
        ));
        for name in ["", "/etc/passwd", "../x", "sub/../sub/a.txt", "./sub/a.txt"] {
            assert!(
                matches!(read_inside(d, name, 10), Err(FileError::Outside { .. })),
                "{name}"
            );
        }
        symlink(d.join("sub/a.txt"), d.join("link.txt")).unwrap();
        symlink(d.join("sub"), d.join("linked-dir")).unwrap();
        symlink("/dev/zero", d.join("zero")).unwrap();
        for name in ["link.txt", "linked-dir/a.txt", "zero"] {
            let err = read_inside(d, name, 10).unwrap_err();
            assert!(matches!(err, FileError::Link { .. }), "{name}: {err}");
        }
        mkfifo(&d.join("fifo"));
        assert!(matches!(
            read_inside(d, "fifo", 10),
            Err(FileError::NotRegular { .. })
        ));
        assert!(matches!(
            read_inside(d, "sub", 10),
            Err(FileError::NotRegular { .. })
        ));
        assert!(matches!(
            read_file(Path::new("/dev/zero"), 10),
            Err(FileError::NotRegular { .. })
        ));
        let err = read_inside(d, "missing", 10).unwrap_err();
        assert!(
            matches!(err, FileError::Io { .. }) && err.path().ends_with("missing"),
            "{err}"
        );
        std::fs::write(d.join("bad.txt"), [0xFF, 0xFE]).unwrap();
        assert!(read_named_text(&d.join("bad.txt"), 10).is_err());
        // The reason is the message without the file's name.
        let err = read_inside(d, "fifo", 10).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: {}", d.join("fifo").display(), err.reason())
        );
        // A file the user named may be a link to a regular file, never to anything else.
        assert_eq!(read_named_text(&d.join("link.txt"), 10).unwrap(), "abc");
        assert!(matches!(
            read_named(&d.join("zero"), 10),
            Err(FileError::NotRegular { .. })
        ));
        symlink(d.join("fifo"), d.join("fifo-link")).unwrap();
        assert!(matches!(
            read_named(&d.join("fifo-link"), 10),
            Err(FileError::NotRegular { .. })
        ));
    }
}
