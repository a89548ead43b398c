//! Signatures per second through our provider, through SoftHSM2 2.6.1, and
//! with the `openssl` crate called directly, on 1 and 2 threads (one
//! session per thread), measured in the same run so that the ratios hold
//! on a noisy, shared machine.
//!
//! ```text
//! cargo bench --bench signing_peers
//! ```
//!
//! Each figure is the median of 3 rounds that alternate between the peers.
//! Environment: `SIGN_BENCH_SECONDS` (per measurement, default 3),
//! `AZCLOUDHSM_PKCS11_LIB`, `SOFTHSM2_LIB` (default
//! `/usr/lib/softhsm/libsofthsm2.so`; absent = SoftHSM2 skipped).
//!
//! Mechanisms: RSA-2048 `CKM_SHA256_RSA_PKCS` over 64 bytes (openssl:
//! `Signer` with SHA-256), and P-256 `CKM_ECDSA` over a SHA-256 hash
//! (openssl: `Signer::new_without_digest`), because SoftHSM2 2.6.1 has no
//! `CKM_ECDSA_SHA256`; ours is also measured with `CKM_ECDSA_SHA256`.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::UserType;
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

type Outcome<T> = std::result::Result<T, Box<dyn Error>>;

const PROVIDER_LIBRARY: &str = "libazcloudhsm_pkcs11.so";
const SOFTHSM_LIBRARY: &str = "/usr/lib/softhsm/libsofthsm2.so";
const TOKEN_LABEL: &str = "bench-signing";
const MESSAGE: [u8; 64] = [0x42; 64];
/// DER of the prime256v1 OID, as CKA_EC_PARAMS.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const THREADS: [usize; 2] = [1, 2];
/// Each measurement is this many interleaved rounds (median reported).
const ROUNDS: usize = 3;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Algorithm {
    RsaSha256,
    EcdsaHash,
    EcdsaSha256,
}

impl Algorithm {
    fn describe(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "RSA-2048 SHA256-RSA-PKCS",
            Algorithm::EcdsaHash => "P-256 ECDSA over a SHA-256 hash",
            Algorithm::EcdsaSha256 => "P-256 ECDSA-SHA256",
        }
    }

    fn mechanism(self) -> Mechanism<'static> {
        match self {
            Algorithm::RsaSha256 => Mechanism::Sha256RsaPkcs,
            Algorithm::EcdsaHash => Mechanism::Ecdsa,
            Algorithm::EcdsaSha256 => Mechanism::EcdsaSha256,
        }
    }

    /// What is signed: the message, or its hash for raw ECDSA.
    fn input(self) -> Vec<u8> {
        match self {
            Algorithm::EcdsaHash => openssl::sha::sha256(&MESSAGE).to_vec(),
            _ => MESSAGE.to_vec(),
        }
    }
}

fn main() -> Outcome<()> {
    let seconds: f64 = std::env::var("SIGN_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let duration = Duration::from_secs_f64(seconds);

    let provider_dir = tempfile::tempdir()?;
    let provider = Token::open_provider(provider_dir.path())?;
    let softhsm_dir = tempfile::tempdir()?;
    let softhsm = Token::open_softhsm(softhsm_dir.path())?;
    let rsa = PKey::from_rsa(openssl::rsa::Rsa::generate(2048)?)?;
    let ec = PKey::from_ec_key(openssl::ec::EcKey::generate(
        &*openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1)?,
    )?)?;

    println!(
        "{:<34} {:>7} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "signatures/s", "threads", "provider", "SoftHSM2", "openssl", "prov/ossl", "prov/shsm"
    );
    for algorithm in [
        Algorithm::RsaSha256,
        Algorithm::EcdsaHash,
        Algorithm::EcdsaSha256,
    ] {
        for threads in THREADS {
            let key = if algorithm == Algorithm::RsaSha256 {
                &rsa
            } else {
                &ec
            };
            let measure_softhsm = matches!(algorithm, Algorithm::RsaSha256 | Algorithm::EcdsaHash);
            // Interleaved rounds, medians: load from other processes on a
            // shared machine then hits every peer alike.
            let (mut ours, mut theirs, mut direct) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                let round = duration / ROUNDS as u32;
                ours.push(provider.rate(algorithm, threads, round)?);
                if let (Some(token), true) = (&softhsm, measure_softhsm) {
                    theirs.push(token.rate(algorithm, threads, round)?);
                }
                direct.push(openssl_rate(key, algorithm, threads, round)?);
            }
            let (ours, direct) = (median(ours), median(direct));
            let theirs = (!theirs.is_empty()).then(|| median(theirs));
            let softhsm_text = theirs.map_or("-".to_string(), |r| format!("{r:.0}"));
            let softhsm_ratio = theirs.map_or("-".to_string(), |r| format!("{:.2}x", ours / r));
            println!(
                "{:<34} {threads:>7} {ours:>10.0} {softhsm_text:>10} {direct:>10.0} {:>8.2}x {softhsm_ratio:>9}",
                algorithm.describe(),
                ours / direct,
            );
        }
    }
    provider.pkcs11.finalize()?;
    if let Some(softhsm) = softhsm {
        softhsm.pkcs11.finalize()?;
    }
    Ok(())
}

/// A logged-in token with an RSA-2048 and a P-256 signing key.
struct Token {
    pkcs11: Pkcs11,
    slot: Slot,
    rsa: ObjectHandle,
    ec: ObjectHandle,
}

impl Token {
    fn open_provider(dir: &Path) -> Outcome<Token> {
        let token = dir.join("token");
        let certificates = dir.join("certificates");
        std::fs::create_dir_all(&token)?;
        let config = dir.join("azcloudhsm_application.cfg");
        std::fs::write(
            &config,
            format!(
                "SOFT_TOKEN_DIR={}\nCERTSTORAGE_URL=file://{}\nSOFT_KDF_ITERATIONS=1000\n",
                token.display(),
                certificates.display()
            ),
        )?;
        std::env::set_var("AZCLOUDHSM_CONFIG", &config);
        Token::open(&provider_library(), "admin:admin1234", "cu1:user1234")
    }

    fn open_softhsm(dir: &Path) -> Outcome<Option<Token>> {
        let library = std::env::var_os("SOFTHSM2_LIB")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(SOFTHSM_LIBRARY));
        if !library.is_file() {
            println!("SoftHSM2 not found at {}: skipped", library.display());
            return Ok(None);
        }
        let token = dir.join("token");
        std::fs::create_dir_all(&token)?;
        let config = dir.join("softhsm2.conf");
        std::fs::write(
            &config,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                token.display()
            ),
        )?;
        std::env::set_var("SOFTHSM2_CONF", &config);
        Ok(Some(Token::open(&library, "so-pin-1234", "user-pin-1234")?))
    }

    /// Loads the module, initialises its first token (found again by label:
    /// SoftHSM2 moves it to a new slot), logs the user in and makes the keys.
    fn open(library: &Path, so_pin: &str, user_pin: &str) -> Outcome<Token> {
        let pkcs11 =
            Pkcs11::new(library).map_err(|e| format!("load {}: {e}", library.display()))?;
        pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
        let first = *pkcs11
            .get_slots_with_token()?
            .first()
            .ok_or("no slot with a token")?;
        let so_pin = AuthPin::from(so_pin);
        pkcs11.init_token(first, &so_pin, TOKEN_LABEL)?;
        let mut slot = None;
        for candidate in pkcs11.get_slots_with_token()? {
            if pkcs11.get_token_info(candidate)?.label() == TOKEN_LABEL {
                slot = Some(candidate);
            }
        }
        let slot = slot.ok_or("the initialised token is in no slot")?;
        let session = pkcs11.open_rw_session(slot)?;
        session.login(UserType::So, Some(&so_pin))?;
        session.init_pin(&AuthPin::from(user_pin))?;
        session.logout()?;
        session.login(UserType::User, Some(&AuthPin::from(user_pin)))?;
        let private = |id: u8| {
            vec![
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Sign(true),
                Attribute::Id(vec![id]),
            ]
        };
        let (_, rsa) = session.generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::ModulusBits(2048.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
                Attribute::Verify(true),
                Attribute::Id(vec![1]),
            ],
            &private(1),
        )?;
        let (_, ec) = session.generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::EcParams(P256_PARAMS.to_vec()),
                Attribute::Verify(true),
                Attribute::Id(vec![2]),
            ],
            &private(2),
        )?;
        // The login belongs to the application, not to this session: it
        // outlives the session as long as another one is open, so keep one.
        std::mem::forget(session);
        Ok(Token {
            pkcs11,
            slot,
            rsa,
            ec,
        })
    }

    /// Signatures per second on `threads` threads, one session each.
    fn rate(&self, algorithm: Algorithm, threads: usize, duration: Duration) -> Outcome<f64> {
        let key = if algorithm == Algorithm::RsaSha256 {
            self.rsa
        } else {
            self.ec
        };
        let input = algorithm.input();
        let sessions = (0..threads)
            .map(|_| self.pkcs11.open_ro_session(self.slot))
            .collect::<Result<Vec<_>, _>>()?;
        // Warm-up: the first signature may parse or unseal the key.
        sessions[0].sign(&algorithm.mechanism(), key, &input)?;
        let counts = std::thread::scope(|scope| {
            let workers: Vec<_> = sessions
                .into_iter()
                .map(|session| {
                    let input = &input;
                    scope.spawn(move || -> std::result::Result<u64, String> {
                        run_for(duration, || {
                            session
                                .sign(&algorithm.mechanism(), key, input)
                                .map(drop)
                                .map_err(|e| e.to_string())
                        })
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .map_err(|_| "signing thread panicked".to_string())?
                })
                .collect::<std::result::Result<Vec<u64>, String>>()
        })?;
        Ok(counts.iter().sum::<u64>() as f64 / duration.as_secs_f64())
    }
}

/// Signatures per second with the openssl crate directly, one signer per
/// operation as an application would make it.
fn openssl_rate(
    key: &PKey<Private>,
    algorithm: Algorithm,
    threads: usize,
    duration: Duration,
) -> Outcome<f64> {
    let input = algorithm.input();
    let sign = || -> std::result::Result<(), String> {
        let mut signer = match algorithm {
            Algorithm::EcdsaHash => Signer::new_without_digest(key),
            _ => Signer::new(MessageDigest::sha256(), key),
        }
        .map_err(|e| e.to_string())?;
        let signature = match algorithm {
            Algorithm::EcdsaHash => signer.sign_oneshot_to_vec(&input),
            _ => signer.update(&input).and_then(|_| signer.sign_to_vec()),
        };
        signature.map(drop).map_err(|e| e.to_string())
    };
    let counts = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| run_for(duration, sign)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .map_err(|_| "signing thread panicked".to_string())?
            })
            .collect::<std::result::Result<Vec<u64>, String>>()
    })?;
    Ok(counts.iter().sum::<u64>() as f64 / duration.as_secs_f64())
}

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// Calls `operation` until `duration` has passed; how many times it ran.
fn run_for(
    duration: Duration,
    mut operation: impl FnMut() -> std::result::Result<(), String>,
) -> std::result::Result<u64, String> {
    let started = Instant::now();
    let mut count = 0u64;
    loop {
        for _ in 0..8 {
            operation()?;
            count += 1;
        }
        if started.elapsed() >= duration {
            return Ok(count);
        }
    }
}

/// The provider library: `AZCLOUDHSM_PKCS11_LIB`, else beside this
/// executable (cargo builds the cdylib into `target/release/deps`), else
/// `target/release`.
fn provider_library() -> PathBuf {
    if let Some(path) = std::env::var_os("AZCLOUDHSM_PKCS11_LIB") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let deps = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let candidates = [
        deps.join(PROVIDER_LIBRARY),
        deps.parent()
            .map(|p| p.join(PROVIDER_LIBRARY))
            .unwrap_or_default(),
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/release")
            .join(PROVIDER_LIBRARY),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| candidates[0].clone())
}
