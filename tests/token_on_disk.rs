//! The token and the local certificate store on disk: created for their
//! owner alone, refused when someone else could change them, never placed
//! in a shared directory by default, and out of reach of whoever controls
//! the environment of a set-uid process or the path of its log file.

mod common;

use common::*;
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const UNKNOWN_KEY_LINE: &str = "NOT_A_KEY_OF_OURS=1\n";

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .mode()
        & 0o7777
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A configuration in `root` naming `token_dir` and `store_dir`.
fn config_for(root: &Path, token_dir: &Path, store_dir: &Path, extra: &str) -> PathBuf {
    let config = root.join("azcloudhsm_application.cfg");
    fs::write(
        &config,
        format!(
            "SOFT_TOKEN_DIR={}\nCERTSTORAGE_URL=file://{}\nSOFT_KDF_ITERATIONS=1000\n{extra}",
            token_dir.display(),
            store_dir.display()
        ),
    )
    .unwrap();
    config
}

/// `C_Initialize` over `config`, which must fail; returns its code.
fn initialize_fails(config: &Path) -> RvError {
    std::env::set_var(CONFIG_ENV, config);
    process_log_path();
    match load().initialize(os_locking()) {
        Err(Error::Pkcs11(rv, _)) => rv,
        other => panic!("C_Initialize over {} gave {other:?}", config.display()),
    }
}

#[test]
fn a_new_token_and_certificate_store_are_readable_by_their_owner_alone() {
    let _guard = lock();
    let root = tempfile::tempdir().unwrap();
    let token_dir = root.path().join("data/azcloudhsm/token");
    let store_dir = root.path().join("data/azcloudhsm/certificates");
    let config = config_for(root.path(), &token_dir, &store_dir, "");

    let check = |fresh: bool| {
        let provider = Provider::open(&config);
        if fresh {
            provider.initialize_token_and_user_pin();
        }
        let session = provider.user_session();
        session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[Attribute::Token(true), Attribute::ValueLen(32.into())],
            )
            .expect("a token key, so the database is written");
        session
            .create_object(&certificate_template("modes", b"not a real certificate"))
            .expect("a token certificate, so the store holds a blob");
        for dir in [
            &token_dir,
            &store_dir,
            &token_dir.parent().unwrap().to_path_buf(),
        ] {
            assert_eq!(mode(dir), 0o700, "{}", dir.display());
        }
        let mut files = Vec::new();
        for dir in [&token_dir, &store_dir] {
            for entry in fs::read_dir(dir).unwrap() {
                files.push(entry.unwrap().path());
            }
        }
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for expected in ["token.sqlite", "token.sqlite-wal", "token.sqlite-shm"] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
        assert!(
            names.iter().any(|n| n.starts_with("pkcs11_certificate_")),
            "a blob in {names:?}"
        );
        for file in &files {
            // The store's index cache directory is owner-only too.
            let expected = if file.is_dir() { 0o700 } else { 0o600 };
            assert_eq!(mode(file), expected, "{}", file.display());
        }
        drop(session);
        provider.finalize();
    };
    check(true);

    // Files an older version (or a loose umask) left readable to others
    // are restricted when the token is opened again.
    for name in ["token.sqlite", "token.sqlite-wal", "token.sqlite-shm"] {
        let path = token_dir.join(name);
        if path.exists() {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    check(false);
}

#[test]
fn a_token_directory_someone_else_could_change_is_refused_with_its_reason() {
    let _guard = lock();
    let root = tempfile::tempdir().unwrap();
    let store_dir = root.path().join("certificates");
    let good = root.path().join("good");
    fs::create_dir(&good).unwrap();

    let link = root.path().join("link");
    std::os::unix::fs::symlink(&good, &link).unwrap();
    let group_writable = root.path().join("group-writable");
    fs::create_dir(&group_writable).unwrap();
    fs::set_permissions(&group_writable, fs::Permissions::from_mode(0o770)).unwrap();
    let world_writable = root.path().join("world-writable");
    fs::create_dir(&world_writable).unwrap();
    fs::set_permissions(&world_writable, fs::Permissions::from_mode(0o757)).unwrap();
    // Root owns /usr; as root, a directory is given to another uid.
    let foreign = if is_root() {
        let dir = root.path().join("foreign");
        fs::create_dir(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        dir
    } else {
        PathBuf::from("/usr")
    };
    let foreign_uid = fs::metadata(&foreign).unwrap().uid();

    let cases = [
        (&link, "it is a symbolic link".to_string()),
        (
            &group_writable,
            "its mode 0770 lets the group or others write it".to_string(),
        ),
        (
            &world_writable,
            "its mode 0757 lets the group or others write it".to_string(),
        ),
        (&foreign, format!("it belongs to uid {foreign_uid}")),
    ];
    for (dir, reason) in cases {
        let config = config_for(root.path(), dir, &store_dir, "");
        let mark = LogMark::now();
        assert_eq!(
            initialize_fails(&config),
            RvError::DeviceError,
            "{}",
            dir.display()
        );
        let log = mark.since();
        let line = format!("token directory {} refused: {reason}", dir.display());
        assert!(log.contains(&line), "expected `{line}` in:\n{log}");
        assert!(
            !dir.join("token.sqlite").exists(),
            "nothing is created in {}",
            dir.display()
        );
    }
    assert!(
        fs::read_dir(&good).unwrap().next().is_none(),
        "nothing was created through the link"
    );
}

/// A worker's command: this test executable running `worker`.
fn worker_command(exe: &Path, worker: &str) -> Command {
    let mut command = Command::new(exe);
    command
        .args(["--exact", worker, "--nocapture", "--include-ignored"])
        .args(["--test-threads=1"])
        .env("AZCLOUDHSM_PKCS11_LIB", library_path());
    command
}

fn run(name: &str, command: &mut Command) -> Finished {
    ChildProcess::spawn(name, command).wait(WORKER_LIMIT)
}

const NO_HOME_WORKER: &str = "worker_initializes_with_no_home_and_no_token_dir";

#[test]
fn with_no_home_and_no_token_directory_c_initialize_fails_saying_what_to_set() {
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("azcloudhsm_application.cfg");
    fs::write(&config, "LOG_LEVEL=info\n").unwrap();
    let exe = std::env::current_exe().unwrap();
    let finished = run(
        NO_HOME_WORKER,
        worker_command(&exe, NO_HOME_WORKER)
            .env_remove("HOME")
            .env_remove("XDG_DATA_HOME")
            .env(CONFIG_ENV, &config),
    );
    assert!(
        finished.success() && finished.stdout.contains("1 passed"),
        "{}{}",
        finished.stdout,
        finished.stderr
    );
    let expected = "no token directory: set SOFT_TOKEN_DIR in azcloudhsm_application.cfg, \
                    or HOME or XDG_DATA_HOME in the environment";
    assert!(
        finished.stderr.contains(expected),
        "the log line on stderr:\n{}",
        finished.stderr
    );
}

#[test]
#[ignore = "worker of with_no_home_and_no_token_directory_c_initialize_fails_saying_what_to_set"]
fn worker_initializes_with_no_home_and_no_token_dir() {
    assert!(std::env::var_os("HOME").is_none());
    let rv = match load().initialize(os_locking()) {
        Err(Error::Pkcs11(rv, _)) => rv,
        other => panic!("C_Initialize with no token directory gave {other:?}"),
    };
    assert_eq!(rv, RvError::GeneralError);
}

const LOG_FILE_WORKER: &str = "worker_logs_one_failed_login";

#[test]
fn the_log_file_is_created_for_its_owner_and_never_through_a_symbolic_link() {
    let root = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let token = root.path().join("token");
    let store = root.path().join("certificates");

    let log = root.path().join("provider.log");
    let config = config_for(
        root.path(),
        &token,
        &store,
        &format!("LOG_LEVEL=info\nLOG_FILE={}\n", log.display()),
    );
    let finished = run(
        LOG_FILE_WORKER,
        worker_command(&exe, LOG_FILE_WORKER).env(CONFIG_ENV, &config),
    );
    assert!(finished.success(), "{}{}", finished.stdout, finished.stderr);
    assert_eq!(mode(&log), 0o600);
    assert!(fs::read_to_string(&log).unwrap().contains("wrong PIN"));

    let target = root.path().join("someone-elses-file");
    fs::write(&target, b"untouched\n").unwrap();
    let link = root.path().join("link.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let config = config_for(
        root.path(),
        &token,
        &store,
        &format!("LOG_LEVEL=info\nLOG_FILE={}\n", link.display()),
    );
    let finished = run(
        LOG_FILE_WORKER,
        worker_command(&exe, LOG_FILE_WORKER).env(CONFIG_ENV, &config),
    );
    assert!(finished.success(), "{}{}", finished.stdout, finished.stderr);
    assert_eq!(fs::read(&target).unwrap(), b"untouched\n");
    assert!(
        finished.stderr.contains(&format!(
            "cannot open log file {} (a symbolic link is not followed)",
            link.display()
        )) && finished.stderr.contains("wrong PIN"),
        "the warning and the log on stderr instead:\n{}",
        finished.stderr
    );
}

#[test]
#[ignore = "worker of the_log_file_is_created_for_its_owner_and_never_through_a_symbolic_link"]
fn worker_logs_one_failed_login() {
    let pkcs11 = load();
    pkcs11.initialize(os_locking()).expect("C_Initialize");
    let slot = slot_one(&pkcs11);
    let so_pin = cryptoki::types::AuthPin::from(SO_PIN);
    if !pkcs11.get_token_info(slot).unwrap().token_initialized() {
        pkcs11.init_token(slot, &so_pin, TOKEN_LABEL).unwrap();
    }
    let session = pkcs11.open_rw_session(slot).unwrap();
    let wrong = cryptoki::types::AuthPin::from("wrong-pin");
    let refused = session.login(cryptoki::session::UserType::So, Some(&wrong));
    assert!(matches!(
        refused,
        Err(Error::Pkcs11(RvError::PinIncorrect, _))
    ));
}

const SET_UID_WORKER: &str = "worker_initializes_as_a_set_uid_program";

/// A set-uid copy of this test executable (owned by `nobody`, run by root,
/// so the kernel marks it `AT_SECURE`) finds its configuration beside
/// itself and ignores `AZCLOUDHSM_CONFIG`, which names a file it would
/// refuse; the same copy without the set-uid bit reads that file and fails.
#[test]
fn a_set_uid_process_ignores_the_azcloudhsm_environment() {
    assert!(
        is_root(),
        "this test makes a set-uid copy of itself owned by another user: run it as root (CI does)"
    );
    let root = tempfile::tempdir().unwrap();
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let nobody = 65534;
    let token = root.path().join("token");
    fs::create_dir(&token).unwrap();
    std::os::unix::fs::chown(&token, Some(nobody), Some(nobody)).unwrap();
    let store = root.path().join("certificates");
    fs::create_dir(&store).unwrap();
    std::os::unix::fs::chown(&store, Some(nobody), Some(nobody)).unwrap();
    config_for(root.path(), &token, &store, "");
    fs::set_permissions(
        root.path().join("azcloudhsm_application.cfg"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let refused_config = root.path().join("refused.cfg");
    fs::write(&refused_config, UNKNOWN_KEY_LINE).unwrap();
    fs::set_permissions(&refused_config, fs::Permissions::from_mode(0o644)).unwrap();

    let copy = root.path().join("set-uid-test");
    fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
    std::os::unix::fs::chown(&copy, Some(nobody), Some(nobody)).unwrap();
    // The set-uid copy runs as `nobody`, who may not reach the build's
    // target directory (CI builds under a private 0700 directory): the
    // library goes beside the copy.
    let library = root.path().join("libazcloudhsm_pkcs11.so");
    fs::copy(library_path(), &library).unwrap();
    fs::set_permissions(&library, fs::Permissions::from_mode(0o755)).unwrap();

    let ordinary = run(
        SET_UID_WORKER,
        worker_command(&copy, SET_UID_WORKER)
            .env("AZCLOUDHSM_PKCS11_LIB", &library)
            .env(CONFIG_ENV, &refused_config)
            .env("EXPECT_SECURE", "0"),
    );
    assert!(
        ordinary.success(),
        "without set-uid ({:?}): {}{}",
        ordinary.status,
        ordinary.stdout,
        ordinary.stderr
    );

    fs::set_permissions(&copy, fs::Permissions::from_mode(0o4755)).unwrap();
    let secure = run(
        SET_UID_WORKER,
        worker_command(&copy, SET_UID_WORKER)
            .env("AZCLOUDHSM_PKCS11_LIB", &library)
            .env(CONFIG_ENV, &refused_config)
            .env("EXPECT_SECURE", "1"),
    );
    assert!(
        secure.success() && secure.stdout.contains("1 passed"),
        "set-uid ({:?}): {}{}",
        secure.status,
        secure.stdout,
        secure.stderr
    );
    assert!(
        token.join("token.sqlite").exists(),
        "the token named beside the executable was opened"
    );
}

#[test]
#[ignore = "worker of a_set_uid_process_ignores_the_azcloudhsm_environment"]
fn worker_initializes_as_a_set_uid_program() {
    // SAFETY: getauxval has no preconditions.
    let secure = unsafe { libc::getauxval(libc::AT_SECURE) } != 0;
    let expect_secure = worker_env("EXPECT_SECURE") == "1";
    assert_eq!(secure, expect_secure, "the kernel's AT_SECURE");
    let result = load().initialize(os_locking());
    if expect_secure {
        result.expect("C_Initialize with the configuration beside the executable");
    } else {
        assert!(
            matches!(result, Err(Error::Pkcs11(RvError::GeneralError, _))),
            "AZCLOUDHSM_CONFIG names a file with an unknown key: {result:?}"
        );
    }
}

fn os_locking() -> cryptoki::context::CInitializeArgs {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags};
    CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)
}
