//! The local blob store: a directory laid out like the blob container, one
//! file per blob, named exactly like the blob, holding exactly the blob's
//! content (`CERTSTORAGE_URL=file:///abs/dir`).
//!
//! Atomicity without a server:
//! - create writes a hidden temporary file (`.tmp-<random>`, never listed)
//!   and hard-links it to the final name, which fails if the name exists,
//!   so a handle is claimed once and readers never see a partial file;
//! - update and delete hold an exclusive lock on `.lock` in the directory
//!   while they compare the current version with the expected one and
//!   rename the temporary file over the final name.
//!
//! A version is the hex SHA-256 of the content, so a concurrent change is
//! detected by content, whatever the file system's timestamp granularity.
//! So that a listing of 100,000 blobs need not read 100,000 bodies every
//! time, the store remembers each file's digest beside the file's identity
//! (inode, modification time, length) and re-reads only files whose
//! identity changed. Only listings use that memory; update compares the
//! digest of the content it re-reads under the lock.

use super::{BlobEntry, BlobStore, CreateOutcome, UpdateOutcome};
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const LOCK_FILE: &str = ".lock";
const TEMP_PREFIX: &str = ".tmp-";

/// A directory of blob files.
#[derive(Debug)]
pub struct LocalStore {
    directory: PathBuf,
    /// name -> (file identity, digest of its content) for listings.
    digests: Mutex<HashMap<String, (String, String)>>,
}

impl LocalStore {
    /// Opens `directory`, creating it (and its parents) when absent.
    pub fn open(directory: impl Into<PathBuf>) -> Result<Self> {
        let directory = directory.into();
        fs::create_dir_all(&directory).map_err(|e| {
            Error::DeviceError(format!("certificate store {}: {e}", directory.display()))
        })?;
        Ok(LocalStore {
            directory,
            digests: Mutex::new(HashMap::new()),
        })
    }

    /// Opens the directory of a `file:///absolute/dir` URL.
    pub fn from_url(url: &str) -> Result<Self> {
        // The URL parser would make `file:relative/dir` absolute; only the
        // explicit `file:///abs/dir` (or `file://localhost/abs/dir`) form is taken.
        if !url.starts_with("file:///") && !url.starts_with("file://localhost/") {
            return Err(Error::GeneralError(format!(
                "CERTSTORAGE_URL {url} is not a file:///absolute/dir URL"
            )));
        }
        let parsed = url::Url::parse(url)
            .map_err(|e| Error::GeneralError(format!("CERTSTORAGE_URL {url}: {e}")))?;
        let path = parsed.to_file_path().map_err(|_| {
            Error::GeneralError(format!(
                "CERTSTORAGE_URL {url} is not an absolute local path"
            ))
        })?;
        LocalStore::open(path)
    }

    /// The directory holding the blobs.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        // A blob name is a single file name: nothing that could escape the directory.
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !plain {
            return Err(Error::ArgumentsBad("blob name is not a plain file name"));
        }
        Ok(self.directory.join(name))
    }

    /// Writes `content` to a new hidden temporary file, flushed to disk.
    fn write_temp(&self, content: &[u8]) -> Result<PathBuf> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut random = [0u8; 8];
        openssl::rand::rand_bytes(&mut random)?;
        let name = format!(
            "{TEMP_PREFIX}{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            super::encoding::base64url_encode(&random)
        );
        let path = self.directory.join(name);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let written = file.write_all(content).and_then(|_| file.sync_all());
        if let Err(error) = written {
            let _ = fs::remove_file(&path);
            return Err(error.into());
        }
        Ok(path)
    }

    /// Holds the directory's exclusive lock until dropped.
    fn lock(&self) -> Result<File> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.directory.join(LOCK_FILE))?;
        // File::lock is stable since Rust 1.89; Cargo.toml's rust-version
        // (1.85) predates it and should be raised (reported to the lead).
        file.lock()?;
        Ok(file)
    }
}

/// The version of a content: its hex SHA-256.
pub fn version_of_content(content: &[u8]) -> String {
    openssl::sha::sha256(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The identity of the file behind `metadata` (changes whenever the file is replaced or written).
fn identity_of(metadata: &Metadata) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        format!(
            "{:x}-{:x}-{}.{:09}-{}",
            metadata.dev(),
            metadata.ino(),
            metadata.mtime(),
            metadata.mtime_nsec(),
            metadata.len()
        )
    }
    #[cfg(not(unix))]
    {
        let modified = metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        format!("{modified}-{}", metadata.len())
    }
}

fn read_file(path: &Path) -> Result<Option<(Vec<u8>, String)>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let identity = identity_of(&file.metadata()?);
    let mut content = Vec::new();
    file.read_to_end(&mut content)?;
    Ok(Some((content, identity)))
}

impl BlobStore for LocalStore {
    fn describe(&self) -> String {
        format!("local directory {}", self.directory.display())
    }

    fn list(&self, prefix: &str) -> Result<Vec<BlobEntry>> {
        let mut entries = Vec::new();
        for item in fs::read_dir(&self.directory)? {
            let item = item?;
            let Ok(name) = item.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') || !name.starts_with(prefix) {
                continue;
            }
            // A file deleted between read_dir and stat is simply not listed.
            let identity = match item.metadata() {
                Ok(metadata) if metadata.is_file() => identity_of(&metadata),
                Ok(_) => continue,
                Err(error) if error.kind() == ErrorKind::NotFound => continue,
                Err(error) => return Err(error.into()),
            };
            let known = self
                .digests
                .lock()
                .get(&name)
                .filter(|(i, _)| *i == identity)
                .map(|(_, d)| d.clone());
            let version = match known {
                Some(version) => version,
                None => match read_file(&item.path())? {
                    Some((content, identity)) => {
                        let version = version_of_content(&content);
                        self.digests
                            .lock()
                            .insert(name.clone(), (identity, version.clone()));
                        version
                    }
                    None => continue,
                },
            };
            entries.push(BlobEntry {
                name,
                version,
                metadata: None,
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn read(&self, name: &str) -> Result<Option<(Vec<u8>, String)>> {
        Ok(read_file(&self.path(name)?)?.map(|(content, _)| {
            let version = version_of_content(&content);
            (content, version)
        }))
    }

    fn create(
        &self,
        name: &str,
        content: &[u8],
        _metadata: &BTreeMap<String, String>,
    ) -> Result<CreateOutcome> {
        let path = self.path(name)?;
        let temp = self.write_temp(content)?;
        let linked = fs::hard_link(&temp, &path);
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => Ok(CreateOutcome::Created(version_of_content(content))),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {
                Ok(CreateOutcome::AlreadyExists)
            }
            Err(error) => Err(error.into()),
        }
    }

    fn update(
        &self,
        name: &str,
        content: &[u8],
        _metadata: &BTreeMap<String, String>,
        expected_version: &str,
    ) -> Result<UpdateOutcome> {
        let path = self.path(name)?;
        let temp = self.write_temp(content)?;
        let outcome = (|| {
            let _lock = self.lock()?;
            match read_file(&path)? {
                None => Ok(UpdateOutcome::NotFound),
                Some((current, _)) if version_of_content(&current) != expected_version => {
                    Ok(UpdateOutcome::Conflict)
                }
                Some(_) => {
                    fs::rename(&temp, &path)?;
                    Ok(UpdateOutcome::Updated(version_of_content(content)))
                }
            }
        })();
        if !matches!(outcome, Ok(UpdateOutcome::Updated(_))) {
            let _ = fs::remove_file(&temp);
        }
        outcome
    }

    fn delete(&self, name: &str) -> Result<()> {
        let path = self.path(name)?;
        let _lock = self.lock()?;
        match fs::remove_file(path) {
            Err(error) if error.kind() != ErrorKind::NotFound => Err(error.into()),
            _ => Ok(()),
        }
    }
}
