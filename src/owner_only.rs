//! Directories and files that only their owner may read or write: the
//! token directory and the local certificate store are created `0700`, and
//! every file in them `0600`, whatever the process's umask.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of a directory this library creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of a file this library creates.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and any missing parent with mode 0700; an existing one is
/// left as it is (see [`check_dir`]).
pub fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Why `dir` must not hold a token: a symbolic link (whoever can change it
/// chooses the token), another user's directory, or one that the group or
/// everyone may write (they could plant or swap its files). `Ok` for a
/// directory this process's user owns and alone may change.
pub fn check_dir(dir: &Path) -> Result<(), String> {
    let metadata = std::fs::symlink_metadata(dir).map_err(|error| error.to_string())?;
    if metadata.file_type().is_symlink() {
        return Err("it is a symbolic link".to_string());
    }
    if !metadata.is_dir() {
        return Err("it is not a directory".to_string());
    }
    let user = crate::ffi::os::effective_uid();
    if metadata.uid() != user {
        return Err(format!(
            "it belongs to uid {}, not to this process's uid {user}",
            metadata.uid()
        ));
    }
    let mode = metadata.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "its mode {mode:04o} lets the group or others write it (chmod go-w)"
        ));
    }
    Ok(())
}

/// Options that create a file with mode 0600 and never follow a symbolic
/// link in its last component.
pub fn file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    options
}

/// Takes the group's and others' permissions off an existing file of ours
/// (a file created by an older version, or by a tool with a loose umask).
/// A missing file is fine; a symbolic link is left alone (never followed).
pub fn restrict_file(path: &Path) -> io::Result<()> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    if !metadata.is_file() || metadata.mode() & 0o077 == 0 {
        return Ok(());
    }
    let mode = metadata.mode() & 0o700;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn created_directories_and_files_are_the_owners_alone() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("a")), 0o700);
        check_dir(&dir).unwrap();
        let file = dir.join("f");
        file_options()
            .write(true)
            .create_new(true)
            .open(&file)
            .unwrap();
        assert_eq!(mode(&file), 0o600);
    }

    #[test]
    fn a_writable_or_linked_directory_is_refused_with_its_reason() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("token");
        create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
        assert!(check_dir(&dir).unwrap_err().contains("0770"));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        check_dir(&dir).unwrap();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(check_dir(&link).unwrap_err().contains("symbolic link"));
        let file = root.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(check_dir(&file).unwrap_err().contains("not a directory"));
    }

    #[test]
    fn restricting_a_file_keeps_the_owners_bits_and_never_follows_a_link() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o664)).unwrap();
        restrict_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        let other = root.path().join("other");
        std::fs::write(&other, b"x").unwrap();
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&other, &link).unwrap();
        restrict_file(&link).unwrap();
        assert_eq!(mode(&other), 0o644);
        restrict_file(&root.path().join("missing")).unwrap();
    }
}
