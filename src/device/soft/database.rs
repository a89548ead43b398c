//! The token database: one SQLite file in the token directory holding the
//! token state, the token objects and the device's own blob-signing key.
//!
//! SQLite in WAL mode with a busy timeout lets several processes share one
//! token directory: every read sees committed rows, multi-row changes are
//! transactions, and nothing about the token is cached here, so a wrong PIN
//! counted by another process is seen by the next login.

use crate::error::{Error, IoContext, Result};
use crate::object::{Attributes, Handle};
use crate::owner_only;
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::time::Duration;

/// The edge of the token database: a SQLite failure is an
/// [`Error::TokenDatabase`], with its source.
impl From<rusqlite::Error> for Error {
    fn from(error: rusqlite::Error) -> Self {
        Error::TokenDatabase(error)
    }
}

/// The database file's name inside the token directory.
pub const FILE_NAME: &str = "token.sqlite";

/// Token object handles stay below the session-object range.
pub const MAX_TOKEN_HANDLE: Handle = 0x7FFF_FFFF;

/// Long enough for another process to finish a key generation or a PIN check.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS token (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    serial TEXT NOT NULL,
    initialized INTEGER NOT NULL DEFAULT 0,
    label TEXT NOT NULL DEFAULT '',
    so_pin BLOB,
    user_pin BLOB,
    so_failures INTEGER NOT NULL DEFAULT 0,
    user_failures INTEGER NOT NULL DEFAULT 0,
    key_check BLOB
);
CREATE TABLE IF NOT EXISTS objects (
    handle INTEGER PRIMARY KEY AUTOINCREMENT,
    version INTEGER NOT NULL DEFAULT 1,
    attributes BLOB NOT NULL,
    sealed BLOB
);
CREATE TABLE IF NOT EXISTS pin_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    started INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS signing_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    public_der BLOB NOT NULL,
    sealed_private BLOB NOT NULL
);
";

/// Which PIN a row column or counter belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinOwner {
    /// The security officer's PIN.
    SecurityOfficer,
    /// The normal user's PIN.
    User,
}

impl PinOwner {
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            PinOwner::SecurityOfficer => ("so_pin", "so_failures"),
            PinOwner::User => ("user_pin", "user_failures"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            PinOwner::SecurityOfficer => "so",
            PinOwner::User => "user",
        }
    }
}

/// Whether a PIN check may start (see [`Database::begin_pin_attempt`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinAttempt {
    /// Go ahead; the attempt, already counted, has this id.
    Counted(i64),
    /// The PIN is locked.
    Locked,
    /// Every remaining try is taken by checks still running (in this or
    /// another process); ask again shortly.
    Busy,
}

/// A PIN check that has not ended after this long (seconds) is taken as a
/// failure: its process died, or hid the answer by stopping.
pub const PIN_ATTEMPT_STALE_SECONDS: i64 = 120;

/// The token row as stored.
#[derive(Clone, Debug)]
pub struct TokenRow {
    /// Random, chosen when the database is created, never changed.
    pub serial: String,
    /// `C_InitToken` has run.
    pub initialized: bool,
    /// The label given to `C_InitToken`.
    pub label: String,
    /// The token key wrapped under the SO PIN (see `pins::PinRecord`).
    pub so_pin: Option<Vec<u8>>,
    /// The token key wrapped under the user PIN; `None` before `C_InitPIN`.
    pub user_pin: Option<Vec<u8>>,
    /// Consecutive wrong SO PINs.
    pub so_failures: u32,
    /// Consecutive wrong user PINs.
    pub user_failures: u32,
    /// Identifies the current token key (see `pins::key_check`).
    pub key_check: Option<Vec<u8>>,
}

/// One token object as stored.
#[derive(Clone, Debug)]
pub struct ObjectRow {
    /// The rowid, which is the object handle.
    pub handle: Handle,
    /// Grows on every change, so caches can tell a stale copy.
    pub version: i64,
    /// Every attribute but the sensitive ones.
    pub attributes: Attributes,
    /// Key material sealed under the token key, for private and secret keys.
    pub sealed: Option<Vec<u8>>,
}

/// The connection to the token database.
pub struct Database {
    connection: Mutex<Connection>,
}

impl Database {
    /// Opens (creating when absent) the database in `directory`, which must
    /// exist. The database and its `-wal` and `-shm` files are the owner's
    /// alone (0600: SQLite gives the latter two the database file's mode),
    /// and a symbolic link in the database's place is refused.
    pub fn open(directory: &Path, serial: &str) -> Result<Database> {
        let path = directory.join(FILE_NAME);
        owner_only::file_options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .at("open", &path)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let file = directory.join(format!("{FILE_NAME}{suffix}"));
            owner_only::restrict_file(&file).at("restrict the mode of", &file)?;
        }
        let flags = rusqlite::OpenFlags::default() | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let connection = Connection::open_with_flags(&path, flags)?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        // journal_mode returns a row, so it is read rather than executed.
        let _mode: String =
            connection.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
        connection.execute_batch("PRAGMA synchronous=NORMAL;")?;
        connection.execute_batch(SCHEMA)?;
        connection.execute(
            "INSERT OR IGNORE INTO token (id, serial) VALUES (1, ?1)",
            params![serial],
        )?;
        Ok(Database {
            connection: Mutex::new(connection),
        })
    }

    /// The token row.
    pub fn token(&self) -> Result<TokenRow> {
        let connection = self.connection.lock();
        Ok(connection.query_row(
            "SELECT serial, initialized, label, so_pin, user_pin, so_failures, user_failures, key_check
             FROM token WHERE id = 1",
            [],
            |row| {
                Ok(TokenRow {
                    serial: row.get(0)?,
                    initialized: row.get(1)?,
                    label: row.get(2)?,
                    so_pin: row.get(3)?,
                    user_pin: row.get(4)?,
                    so_failures: row.get(5)?,
                    user_failures: row.get(6)?,
                    key_check: row.get(7)?,
                })
            },
        )?)
    }

    /// Counts a PIN check before it runs: a check in flight holds one of
    /// the `max_failures` tries until it ends, so however many threads and
    /// processes try at once, no more than the remaining tries run, and a
    /// check whose process dies before it ends still counts as a failure.
    /// One immediate transaction: it takes the database's write lock before
    /// it reads, so concurrent callers see each other's counts.
    pub fn begin_pin_attempt(
        &self,
        owner: PinOwner,
        max_failures: u32,
        now: i64,
    ) -> Result<PinAttempt> {
        let (_, failures) = owner.columns();
        let mut connection = self.connection.lock();
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let stale = transaction.execute(
            "DELETE FROM pin_attempts WHERE owner = ?1 AND started < ?2",
            params![owner.name(), now - PIN_ATTEMPT_STALE_SECONDS],
        )?;
        if stale > 0 {
            transaction.execute(
                &format!("UPDATE token SET {failures} = {failures} + ?1 WHERE id = 1"),
                params![stale as i64],
            )?;
        }
        let counted: u32 = transaction.query_row(
            &format!("SELECT {failures} FROM token WHERE id = 1"),
            [],
            |row| row.get(0),
        )?;
        let running: u32 = transaction.query_row(
            "SELECT count(*) FROM pin_attempts WHERE owner = ?1",
            params![owner.name()],
            |row| row.get(0),
        )?;
        let attempt = if counted >= max_failures {
            PinAttempt::Locked
        } else if counted.saturating_add(running) >= max_failures {
            PinAttempt::Busy
        } else {
            transaction.execute(
                "INSERT INTO pin_attempts (owner, started) VALUES (?1, ?2)",
                params![owner.name(), now],
            )?;
            PinAttempt::Counted(transaction.last_insert_rowid())
        };
        transaction.commit()?;
        Ok(attempt)
    }

    /// Ends a check begun by [`Database::begin_pin_attempt`]: a correct PIN
    /// resets the failure count, a wrong one adds one (unless the attempt
    /// was already counted as stale). Returns the failure count.
    pub fn end_pin_attempt(&self, owner: PinOwner, attempt: i64, correct: bool) -> Result<u32> {
        let (_, failures) = owner.columns();
        let mut connection = self.connection.lock();
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let ours =
            transaction.execute("DELETE FROM pin_attempts WHERE id = ?1", params![attempt])?;
        if correct {
            transaction.execute(&format!("UPDATE token SET {failures} = 0 WHERE id = 1"), [])?;
        } else if ours == 1 {
            transaction.execute(
                &format!("UPDATE token SET {failures} = {failures} + 1 WHERE id = 1"),
                [],
            )?;
        }
        let count: u32 = transaction.query_row(
            &format!("SELECT {failures} FROM token WHERE id = 1"),
            [],
            |row| row.get(0),
        )?;
        transaction.commit()?;
        Ok(count)
    }

    /// Stores a new wrapped token key for `owner` and resets its counter.
    pub fn set_pin_record(&self, owner: PinOwner, record: &[u8]) -> Result<()> {
        let (pin, failures) = owner.columns();
        self.connection.lock().execute(
            &format!("UPDATE token SET {pin} = ?1, {failures} = 0 WHERE id = 1"),
            params![record],
        )?;
        Ok(())
    }

    /// (Re)initialises the token in one transaction: every object and the
    /// device's signing key go, the user PIN is cleared, the SO PIN record
    /// and label are replaced. The serial and the handle sequence stay, so
    /// no handle is ever reused.
    pub fn initialize(&self, label: &str, so_record: &[u8], key_check: &[u8]) -> Result<()> {
        let mut connection = self.connection.lock();
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        transaction.execute("DELETE FROM objects", [])?;
        transaction.execute("DELETE FROM signing_key", [])?;
        transaction.execute("DELETE FROM pin_attempts", [])?;
        transaction.execute(
            "UPDATE token SET initialized = 1, label = ?1, so_pin = ?2, user_pin = NULL,
             so_failures = 0, user_failures = 0, key_check = ?3 WHERE id = 1",
            params![label, so_record, key_check],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Every token object, in handle order.
    pub fn objects(&self) -> Result<Vec<ObjectRow>> {
        let connection = self.connection.lock();
        let mut statement = connection.prepare_cached(
            "SELECT handle, version, attributes, sealed FROM objects ORDER BY handle",
        )?;
        let rows = statement.query_map([], raw_object)?;
        rows.map(|row| row.map_err(Error::from).and_then(parse_object))
            .collect()
    }

    /// The token objects whose sealed material does not start with `mark`.
    pub fn unbound_objects(&self, mark: &[u8]) -> Result<Vec<ObjectRow>> {
        let connection = self.connection.lock();
        let mut statement = connection.prepare_cached(
            "SELECT handle, version, attributes, sealed FROM objects
             WHERE sealed IS NOT NULL AND substr(sealed, 1, ?1) != ?2 ORDER BY handle",
        )?;
        let rows = statement.query_map(params![mark.len() as i64, mark], raw_object)?;
        rows.map(|row| row.map_err(Error::from).and_then(parse_object))
            .collect()
    }

    /// One token object, `None` when it does not exist (any more).
    pub fn object(&self, handle: Handle) -> Result<Option<ObjectRow>> {
        if handle > MAX_TOKEN_HANDLE {
            return Ok(None);
        }
        let connection = self.connection.lock();
        let mut statement = connection.prepare_cached(
            "SELECT handle, version, attributes, sealed FROM objects WHERE handle = ?1",
        )?;
        let raw = statement
            .query_row(params![handle as i64], raw_object)
            .optional()?;
        raw.map(parse_object).transpose()
    }

    /// Inserts objects in one transaction (a key pair appears whole or not
    /// at all) and returns their handles in order.
    pub fn insert_objects(&self, objects: &[(&Attributes, Option<&[u8]>)]) -> Result<Vec<Handle>> {
        let mut connection = self.connection.lock();
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut handles = Vec::with_capacity(objects.len());
        for (attributes, sealed) in objects {
            transaction.execute(
                "INSERT INTO objects (attributes, sealed) VALUES (?1, ?2)",
                params![encode_attributes(attributes), sealed],
            )?;
            let rowid = transaction.last_insert_rowid();
            let handle = Handle::try_from(rowid)
                .map_err(|_| Error::DeviceMemory("object handle out of range".into()))?;
            if handle > MAX_TOKEN_HANDLE {
                // Dropping the transaction rolls the insert back.
                return Err(Error::DeviceMemory("token object handles exhausted".into()));
            }
            handles.push(handle);
        }
        transaction.commit()?;
        Ok(handles)
    }

    /// Replaces an object's attributes, and its sealed material when
    /// `sealed` is given, if it still has `version`; returns the new
    /// version, or `None` when it vanished or changed meanwhile.
    pub fn update_object(
        &self,
        handle: Handle,
        version: i64,
        attributes: &Attributes,
        sealed: Option<&[u8]>,
    ) -> Result<Option<i64>> {
        let connection = self.connection.lock();
        let new_version: Option<i64> = connection
            .query_row(
                "UPDATE objects SET attributes = ?1, sealed = coalesce(?4, sealed),
                 version = version + 1
                 WHERE handle = ?2 AND version = ?3 RETURNING version",
                params![
                    encode_attributes(attributes),
                    handle as i64,
                    version,
                    sealed
                ],
                |row| row.get(0),
            )
            .optional()?;
        Ok(new_version)
    }

    /// Deletes an object; false when it was already gone.
    pub fn delete_object(&self, handle: Handle) -> Result<bool> {
        let connection = self.connection.lock();
        Ok(connection.execute(
            "DELETE FROM objects WHERE handle = ?1",
            params![handle as i64],
        )? == 1)
    }

    /// The device's own signing key: SPKI DER and sealed PKCS#8.
    pub fn signing_key(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let connection = self.connection.lock();
        Ok(connection
            .query_row(
                "SELECT public_der, sealed_private FROM signing_key WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }

    /// Replaces the sealed private half of the device's signing key, if it
    /// is still `old` (see `Inner::bind_signing_key`).
    pub fn reseal_signing_key(&self, old: &[u8], new: &[u8]) -> Result<bool> {
        let connection = self.connection.lock();
        Ok(connection.execute(
            "UPDATE signing_key SET sealed_private = ?1 WHERE id = 1 AND sealed_private = ?2",
            params![new, old],
        )? == 1)
    }

    /// Stores the device's signing key unless another process stored one
    /// first; either way returns the key that is stored.
    pub fn store_signing_key(
        &self,
        public_der: &[u8],
        sealed_private: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        {
            let connection = self.connection.lock();
            connection.execute(
                "INSERT OR IGNORE INTO signing_key (id, public_der, sealed_private) VALUES (1, ?1, ?2)",
                params![public_der, sealed_private],
            )?;
        }
        self.signing_key()?
            .ok_or_else(|| Error::BlobSigningKey("it vanished from the token".into()))
    }
}

type RawObject = (i64, i64, Vec<u8>, Option<Vec<u8>>);

fn raw_object(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawObject> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn parse_object((handle, version, attributes, sealed): RawObject) -> Result<ObjectRow> {
    Ok(ObjectRow {
        handle: Handle::try_from(handle)
            .map_err(|_| Error::CorruptTokenData(format!("bad object handle {handle}")))?,
        version,
        attributes: decode_attributes(&attributes).ok_or_else(|| {
            Error::CorruptTokenData(format!("object {handle}: corrupt attributes"))
        })?,
        sealed,
    })
}

/// Attributes as stored: for each, the type (8 bytes LE), the length
/// (4 bytes LE) and the value. Values keep their native `CK_ULONG` layout,
/// as the token directory belongs to one machine.
// CK_ULONG is 64 bits here but 32 on Windows: the casts are for the latter.
#[allow(clippy::unnecessary_cast)]
pub fn encode_attributes(attributes: &Attributes) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, value) in &attributes.0 {
        out.extend_from_slice(&(*kind as u64).to_le_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value);
    }
    out
}

/// The inverse of [`encode_attributes`]; `None` for a truncated or corrupt blob.
#[allow(clippy::useless_conversion)]
pub fn decode_attributes(mut bytes: &[u8]) -> Option<Attributes> {
    let mut attributes = Attributes::new();
    while !bytes.is_empty() {
        let kind = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let len = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?) as usize;
        let value = bytes.get(12..12 + len)?;
        attributes.set(kind.try_into().ok()?, value.to_vec());
        bytes = &bytes[12 + len..];
    }
    Some(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_survive_encoding() {
        let mut attributes = Attributes::new();
        attributes.set(1, vec![1, 2, 3]);
        attributes.set(3, Vec::new());
        attributes.set_ulong(0x100, 42);
        assert_eq!(
            decode_attributes(&encode_attributes(&attributes)),
            Some(attributes)
        );
    }

    #[test]
    fn truncated_attributes_are_refused() {
        let mut attributes = Attributes::new();
        attributes.set(1, vec![1, 2, 3]);
        let bytes = encode_attributes(&attributes);
        assert_eq!(decode_attributes(&bytes[..bytes.len() - 1]), None);
    }
}
