//! The `azcloudhsm-certs` tool under test: a token directory whose
//! configuration the test may rewrite (to switch signing keys or stores),
//! the provider opened over it only while the test creates or reads
//! certificates through the C ABI, the tool run as a separate process, and
//! X.509 certificates made with the openssl crate.

use super::{
    azure_storage_config, azurite_url, lock, open_blob_store, unique_container, CertificateStorage,
    Provider, Store, TokenDirectory, USER_PIN,
};
use azcloudhsm_pkcs11::certstore::azure::EMULATOR_ACCOUNT_KEY;
use azcloudhsm_pkcs11::certstore::{BlobStore, BLOB_PREFIX};
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{MutexGuard, OnceLock};

/// The tool's executable, built by cargo for the integration tests.
pub const TOOL: &str = env!("CARGO_BIN_EXE_azcloudhsm-certs");

/// What one run of the tool gave.
#[derive(Debug)]
pub struct ToolRun {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
}

impl ToolRun {
    fn from(output: Output) -> ToolRun {
        ToolRun {
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            raw_stdout: output.stdout,
        }
    }

    /// Asserts the exit status, showing everything the tool said otherwise.
    #[track_caller]
    pub fn expect_status(&self, expected: i32) -> &ToolRun {
        assert_eq!(
            self.status,
            Some(expected),
            "exit status; stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Each stdout line parsed as one JSON object.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
            })
            .collect()
    }
}

/// A token directory and configuration for the tool's tests, with [`lock`]
/// held: the provider is opened over the configuration only inside
/// [`ToolFixture::with_provider`].
pub struct ToolFixture {
    pub directory: TokenDirectory,
    pub store: Store,
    /// With [`Store::Azurite`]: the account URL and the container.
    pub azurite: Option<(String, String)>,
    extra: Vec<(String, String)>,
    _lock: MutexGuard<'static, ()>,
}

impl ToolFixture {
    /// An initialised token with certificates in `store` and `extra`
    /// configuration lines; `None` (after saying so) when the store is
    /// Azurite and Azurite is not there outside CI (under CI that panics).
    pub fn new(store: Store, extra: &[(&str, &str)]) -> Option<ToolFixture> {
        if !store.is_available() {
            return None;
        }
        let guard = lock();
        let azurite = match store {
            Store::Local => None,
            Store::Azurite => Some((
                azurite_url().expect("checked by is_available"),
                unique_container("certs-tool"),
            )),
        };
        let fixture = ToolFixture {
            directory: TokenDirectory::new(),
            store,
            azurite,
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            _lock: guard,
        };
        fixture.write_config(&[]);
        fixture.with_provider(|provider| provider.initialize_token_and_user_pin());
        Some(fixture)
    }

    /// The store's URL as `CERTSTORAGE_URL` names it.
    pub fn store_url(&self) -> String {
        match &self.azurite {
            None => format!("file://{}", self.directory.certificates_dir().display()),
            Some((account, container)) => format!("{account}/{container}"),
        }
    }

    /// Rewrites the configuration with the fixture's extra lines, then `more`.
    pub fn write_config(&self, more: &[(&str, &str)]) -> PathBuf {
        let storage = match &self.azurite {
            None => CertificateStorage::Local,
            Some((account_url, container)) => CertificateStorage::Azure {
                account_url,
                container,
                account_key: EMULATOR_ACCOUNT_KEY,
            },
        };
        let mut lines: Vec<(&str, &str)> = self
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        lines.extend_from_slice(more);
        self.directory.write_config(storage, &lines)
    }

    pub fn config_path(&self) -> PathBuf {
        self.directory.config_path()
    }

    /// Opens the provider over the current configuration, runs `body`, and
    /// finalises it, so that the tool then sees a quiet token.
    pub fn with_provider<T>(&self, body: impl FnOnce(&Provider) -> T) -> T {
        let provider = Provider::open(&self.config_path());
        let result = body(&provider);
        provider.finalize();
        result
    }

    /// Runs the tool with `--config <the configuration>` and `arguments`,
    /// no PIN in its environment and its log at the default level.
    pub fn tool(&self, arguments: &[&str]) -> ToolRun {
        self.tool_with(arguments, &[])
    }

    /// As [`ToolFixture::tool`], with extra environment variables.
    pub fn tool_with(&self, arguments: &[&str], env: &[(&str, &str)]) -> ToolRun {
        let mut command = tool_command();
        command
            .arg("--config")
            .arg(self.config_path())
            .args(arguments);
        for (key, value) in env {
            command.env(key, value);
        }
        ToolRun::from(command.output().expect("run azcloudhsm-certs"))
    }

    /// As [`ToolFixture::tool`], with the user PIN in `AZCLOUDHSM_PIN`.
    pub fn tool_with_pin(&self, arguments: &[&str]) -> ToolRun {
        self.tool_with(arguments, &[("AZCLOUDHSM_PIN", USER_PIN)])
    }

    /// The blobs through the library's own store, as the configuration names them.
    pub fn blob_store(&self) -> Box<dyn BlobStore> {
        open_blob_store(&self.config_path())
    }

    /// Every certificate blob's name and content.
    pub fn blobs(&self) -> BTreeMap<String, Vec<u8>> {
        blobs_of(self.blob_store().as_ref())
    }
}

/// The tool with a clean environment: no PIN, no configuration or log
/// settings inherited from the test process.
pub fn tool_command() -> Command {
    let mut command = Command::new(TOOL);
    command
        .env_remove("AZCLOUDHSM_PIN")
        .env_remove("AZCLOUDHSM_CONFIG")
        .env_remove("AZCLOUDHSM_LOG")
        .env_remove("AZCLOUDHSM_LOG_FILE")
        .stdin(Stdio::null());
    command
}

/// Every certificate blob of `store`: name and content.
pub fn blobs_of(store: &dyn BlobStore) -> BTreeMap<String, Vec<u8>> {
    store
        .list(BLOB_PREFIX)
        .expect("list the blobs")
        .into_iter()
        .map(|entry| {
            let (content, _) = store
                .read(&entry.name)
                .expect("read a blob")
                .expect("a listed blob");
            (entry.name, content)
        })
        .collect()
}

/// The configuration lines of an Azurite container reached with the
/// emulator's connection string, as `(key, value)` pairs.
pub fn azurite_auth_lines(account_url: &str) -> Vec<(String, String)> {
    azure_storage_config(account_url, "unused", EMULATOR_ACCOUNT_KEY)
        .lines()
        .filter(|line| !line.starts_with("CERTSTORAGE_URL="))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ----- certificates -----

/// A self-signed X.509 certificate for `common_name`, valid from
/// `from_days` to `until_days` days from now (negative: in the past), with
/// serial number `serial`.
pub fn make_certificate(common_name: &str, serial: u32, from_days: i64, until_days: i64) -> X509 {
    let key = shared_key();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, common_name)
        .unwrap();
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "Example")
        .unwrap();
    let name = name.build();
    let mut builder = X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    let serial = Asn1Integer::from_bn(&BigNum::from_u32(serial).unwrap()).unwrap();
    builder.set_serial_number(&serial).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    let at = |days: i64| Asn1Time::from_unix(now + days * 86_400).unwrap();
    builder.set_not_before(&at(from_days)).unwrap();
    builder.set_not_after(&at(until_days)).unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    builder.build()
}

fn shared_key() -> PKey<Private> {
    static KEY: OnceLock<PKey<Private>> = OnceLock::new();
    KEY.get_or_init(|| {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    })
    .clone()
}

/// Creates a token certificate for `certificate` through the C ABI.
pub fn store_certificate(
    session: &Session,
    label: &str,
    id: &[u8],
    certificate: &X509,
) -> ObjectHandle {
    let template = [
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::Subject(certificate.subject_name().to_der().unwrap()),
        Attribute::Value(certificate.to_der().unwrap()),
    ];
    session
        .create_object(&template)
        .unwrap_or_else(|e| panic!("C_CreateObject of {label}: {e}"))
}

/// The CKA_VALUE of every certificate a search for all certificates finds,
/// by label, through the C ABI.
pub fn certificate_values(session: &Session) -> BTreeMap<String, Vec<u8>> {
    let handles = session
        .find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])
        .expect("C_FindObjects");
    handles
        .into_iter()
        .map(|handle| {
            let attributes = session
                .get_attributes(handle, &[AttributeType::Label, AttributeType::Value])
                .expect("C_GetAttributeValue");
            let mut label = Vec::new();
            let mut value = Vec::new();
            for attribute in attributes {
                match attribute {
                    Attribute::Label(l) => label = l,
                    Attribute::Value(v) => value = v,
                    _ => {}
                }
            }
            (String::from_utf8(label).expect("UTF-8 label"), value)
        })
        .collect()
}

/// The directory a `file://` URL names.
pub fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}
