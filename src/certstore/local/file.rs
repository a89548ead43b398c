//! One blob file: its identity (what says it changed) and its checked read.

use super::{RACY_MARGIN, UNREAD_PREFIX};
use crate::error::{Error, IoContext, Result};
use std::fs::{Metadata, OpenOptions};
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The identity of a file: changes whenever the file is replaced or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Identity {
    device: u64,
    inode: u64,
    modified: (i64, i64),
    changed: (i64, i64),
    length: u64,
}

impl Identity {
    pub(super) fn of(metadata: &Metadata) -> Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Identity {
                device: metadata.dev(),
                inode: metadata.ino(),
                modified: (metadata.mtime(), metadata.mtime_nsec()),
                changed: (metadata.ctime(), metadata.ctime_nsec()),
                length: metadata.len(),
            }
        }
        #[cfg(not(unix))]
        {
            let modified = metadata
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .unwrap_or_default();
            let modified = (
                modified.as_secs() as i64,
                i64::from(modified.subsec_nanos()),
            );
            Identity {
                device: 0,
                inode: 0,
                modified,
                changed: modified,
                length: metadata.len(),
            }
        }
    }

    /// The version a listing gives a file it has not read: never the
    /// version of any content (those are 64 hexadecimal digits), and
    /// different for every identity.
    pub(super) fn unread_version(&self) -> String {
        format!(
            "{UNREAD_PREFIX}{:x}-{:x}-{}.{}-{}.{}-{}",
            self.device,
            self.inode,
            self.modified.0,
            self.modified.1,
            self.changed.0,
            self.changed.1,
            self.length
        )
    }

    /// True when the file was last changed [`RACY_MARGIN`] or more before
    /// `observed_at`, so that no later change can keep this identity.
    pub(super) fn is_older_than(&self, observed_at: SystemTime) -> bool {
        let Ok(observed) = observed_at.duration_since(std::time::UNIX_EPOCH) else {
            return false;
        };
        let latest = self.modified.max(self.changed);
        let Ok(seconds) = u64::try_from(latest.0) else {
            return false;
        };
        let changed = Duration::from_secs(seconds)
            + Duration::from_nanos(latest.1.clamp(0, 999_999_999) as u64);
        changed + RACY_MARGIN <= observed
    }
}

/// The largest blob file read. A certificate blob is about 1.3 KB for a
/// 2048-bit RSA certificate; a larger file is not one of ours, and reading
/// it (or reserving its length: a sparse file can claim a terabyte) could
/// exhaust the host process's memory.
pub const MAX_BLOB_BYTES: u64 = 1 << 20;

/// The content of a regular file and its identity; `None` when absent.
/// Blob files are never written in place by this store, so the length the
/// open file reports is the length to read.
///
/// Anything else named like a blob is [`Error::BlobUnreadable`], without
/// blocking or following it: a symbolic link is not followed (`O_NOFOLLOW`),
/// a FIFO or device is opened without waiting for a writer (`O_NONBLOCK`)
/// and refused once `fstat` shows it is not a regular file, and a file over
/// [`MAX_BLOB_BYTES`] is refused before anything is read.
pub(super) fn read_file(path: &Path) -> Result<Option<(Vec<u8>, Identity)>> {
    use std::os::unix::fs::OpenOptionsExt;
    let unreadable = |reason: String| Error::BlobUnreadable {
        blob: path.display().to_string(),
        reason,
    };
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) if error.raw_os_error() == Some(libc::ELOOP) => {
            return Err(unreadable("a symbolic link, not followed".into()))
        }
        Err(error) if error.kind() == ErrorKind::PermissionDenied => {
            return Err(unreadable(error.to_string()))
        }
        Err(error) => return Err(Error::storage("open", path, error)),
    };
    let metadata = file.metadata().at("stat", path)?;
    if !metadata.is_file() {
        return Err(unreadable(format!(
            "not a regular file ({:?})",
            metadata.file_type()
        )));
    }
    let length = metadata.len();
    if length > MAX_BLOB_BYTES {
        return Err(unreadable(format!(
            "{length} bytes, over the {MAX_BLOB_BYTES}-byte limit"
        )));
    }
    let mut content = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    // `take` stops at the length without the extra probing read (and its
    // system call) that `read_to_end` makes to find the end of the file.
    (&file)
        .take(length)
        .read_to_end(&mut content)
        .at("read", path)?;
    Ok(Some((content, Identity::of(&metadata))))
}
