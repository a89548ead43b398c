//! The cost of the vendor device's forwarding layer: signatures per second
//! through the provider with `DEVICE=pkcs11` in front of SoftHSM2, against
//! SoftHSM2 called directly, with the same keys, in the same process and
//! the same run, on 1 and 2 threads (one session per thread). The design
//! budget is at most 5% overhead.
//!
//! Each figure comes from 15 back-to-back pairs of rounds in alternating
//! order; rates and CPU times are medians over the pairs, overheads the
//! median of the pairs' overheads. Two overheads are shown: of the
//! wall-clock rate, and of the CPU time the signing threads spend per
//! signature. On a shared machine the first moves with everything else
//! running; the second is what the forwarding layer costs, and is the one
//! held to the budget.
//!
//! ```text
//! cargo bench --bench vendor_device
//! ```
//!
//! SoftHSM2 is initialised by this program first, so the provider's vendor
//! device finds it initialised and shares its state: both paths reach the
//! same SoftHSM2 instance, token and key objects. Mechanisms: RSA-2048
//! `CKM_SHA256_RSA_PKCS` over 64 bytes and P-256 `CKM_ECDSA` over a SHA-256
//! hash (SoftHSM2 2.6.1 has no `CKM_ECDSA_SHA256`). Every signature of the
//! warm-up is verified with openssl.
//!
//! Environment: `VENDOR_BENCH_SECONDS` (per measurement, default 4),
//! `AZCLOUDHSM_PKCS11_LIB`, `SOFTHSM2_LIB` (default
//! `/usr/lib/softhsm/libsofthsm2.so`).

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as Pkcs11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

type Outcome<T> = std::result::Result<T, Box<dyn Error>>;

const PROVIDER_LIBRARY: &str = "libazcloudhsm_pkcs11.so";
const SOFTHSM_LIBRARY: &str = "/usr/lib/softhsm/libsofthsm2.so";
const TOKEN_LABEL: &str = "bench-vendor";
const SO_PIN: &str = "so-pin-1234";
const USER_PIN: &str = "cu1:user1234";
const MESSAGE: [u8; 64] = [0x42; 64];
/// DER of the prime256v1 OID, as CKA_EC_PARAMS.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const THREADS: [usize; 2] = [1, 2];
/// Paired rounds per figure; the overhead is the median of the pairs'.
const ROUNDS: usize = 15;
/// The design's budget for the forwarding layer.
const BUDGET_PERCENT: f64 = 5.0;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Algorithm {
    Rsa2048,
    P256,
}

impl Algorithm {
    fn describe(self) -> &'static str {
        match self {
            Algorithm::Rsa2048 => "RSA-2048 SHA256-RSA-PKCS",
            Algorithm::P256 => "P-256 ECDSA over a SHA-256 hash",
        }
    }
    fn mechanism(self) -> Mechanism<'static> {
        match self {
            Algorithm::Rsa2048 => Mechanism::Sha256RsaPkcs,
            Algorithm::P256 => Mechanism::Ecdsa,
        }
    }
    fn id(self) -> Vec<u8> {
        match self {
            Algorithm::Rsa2048 => vec![1],
            Algorithm::P256 => vec![2],
        }
    }
    fn input(self) -> Vec<u8> {
        match self {
            Algorithm::Rsa2048 => MESSAGE.to_vec(),
            Algorithm::P256 => openssl::sha::sha256(&MESSAGE).to_vec(),
        }
    }
}

fn main() -> Outcome<()> {
    let seconds: f64 = std::env::var("VENDOR_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4.0);
    let duration = Duration::from_secs_f64(seconds);
    let softhsm_library = std::env::var_os("SOFTHSM2_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SOFTHSM_LIBRARY));
    if !softhsm_library.is_file() {
        return Err(format!("SoftHSM2 is not at {}", softhsm_library.display()).into());
    }
    let dir = tempfile::tempdir()?;
    let direct = Module::softhsm(&softhsm_library, dir.path())?;
    let through = Module::provider(&softhsm_library, dir.path())?;

    println!(
        "{:<34} {:>7} {:>10} {:>10} {:>8} {:>9} {:>9} {:>8}",
        "", "", "signatures/s", "", "", "CPU us/signature", "", ""
    );
    println!(
        "{:<34} {:>7} {:>10} {:>10} {:>8} {:>9} {:>9} {:>8}",
        "mechanism",
        "threads",
        "SoftHSM2",
        "provider",
        "overhead",
        "SoftHSM2",
        "provider",
        "overhead"
    );
    let mut worst: f64 = 0.0;
    for algorithm in [Algorithm::Rsa2048, Algorithm::P256] {
        for threads in THREADS {
            let mut pairs = Vec::new();
            for round in 0..ROUNDS {
                let length = duration / ROUNDS as u32;
                // Back to back, in alternating order, so both sides of a
                // pair see the same load from the rest of the machine.
                let pair = if round % 2 == 0 {
                    let d = direct.rate(algorithm, threads, length)?;
                    (d, through.rate(algorithm, threads, length)?)
                } else {
                    let p = through.rate(algorithm, threads, length)?;
                    (direct.rate(algorithm, threads, length)?, p)
                };
                pairs.push(pair);
            }
            let pick =
                |f: &dyn Fn(&(Measured, Measured)) -> f64| median(pairs.iter().map(f).collect());
            let theirs = pick(&|(d, _)| d.rate);
            let ours = pick(&|(_, p)| p.rate);
            let wall = pick(&|(d, p)| (d.rate / p.rate - 1.0) * 100.0);
            let theirs_cpu = pick(&|(d, _)| d.cpu_micros);
            let ours_cpu = pick(&|(_, p)| p.cpu_micros);
            let cpu = pick(&|(d, p)| (p.cpu_micros / d.cpu_micros - 1.0) * 100.0);
            worst = worst.max(cpu);
            println!(
                "{:<34} {threads:>7} {theirs:>10.0} {ours:>10.0} {wall:>7.1}% {theirs_cpu:>9.1} {ours_cpu:>9.1} {cpu:>7.1}%",
                algorithm.describe()
            );
        }
    }
    println!(
        "largest CPU overhead {worst:.1}% (budget {BUDGET_PERCENT}%): {}",
        if worst <= BUDGET_PERCENT {
            "within the budget"
        } else {
            "OVER the budget"
        }
    );
    through.pkcs11.finalize()?;
    direct.pkcs11.finalize()?;
    Ok(())
}

/// A PKCS#11 module with the user logged in and the two signing keys found.
struct Module {
    pkcs11: Pkcs11,
    slot: Slot,
    /// Keeps the application's login alive between measurements.
    _session: Session,
}

impl Module {
    /// SoftHSM2 directly: a new token with an RSA-2048 and a P-256 key pair.
    fn softhsm(library: &Path, dir: &Path) -> Outcome<Module> {
        let tokens = dir.join("softhsm-tokens");
        std::fs::create_dir_all(&tokens)?;
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )?;
        std::env::set_var("SOFTHSM2_CONF", &conf);
        let pkcs11 = Pkcs11::new(library)?;
        pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
        let free = *pkcs11
            .get_slots_with_token()?
            .first()
            .ok_or("SoftHSM2 has no slot")?;
        pkcs11.init_token(free, &AuthPin::from(SO_PIN), TOKEN_LABEL)?;
        let slot = find_slot(&pkcs11)?;
        let session = pkcs11.open_rw_session(slot)?;
        session.login(UserType::So, Some(&AuthPin::from(SO_PIN)))?;
        session.init_pin(&AuthPin::from(USER_PIN))?;
        session.logout()?;
        session.login(UserType::User, Some(&AuthPin::from(USER_PIN)))?;
        let private = |id: Vec<u8>| {
            vec![
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Sign(true),
                Attribute::Id(id),
            ]
        };
        session.generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::ModulusBits(2048.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
                Attribute::Verify(true),
                Attribute::Id(Algorithm::Rsa2048.id()),
            ],
            &private(Algorithm::Rsa2048.id()),
        )?;
        session.generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::EcParams(P256_PARAMS.to_vec()),
                Attribute::Verify(true),
                Attribute::Id(Algorithm::P256.id()),
            ],
            &private(Algorithm::P256.id()),
        )?;
        Ok(Module {
            pkcs11,
            slot,
            _session: session,
        })
    }

    /// The provider with `DEVICE=pkcs11` in front of the same SoftHSM2.
    fn provider(softhsm: &Path, dir: &Path) -> Outcome<Module> {
        let config = dir.join("azcloudhsm_application.cfg");
        std::fs::write(
            &config,
            format!(
                "DEVICE=pkcs11\nDEVICE_MODULE={}\nDEVICE_TOKEN_LABEL={TOKEN_LABEL}\nCERTSTORAGE_URL=file://{}\nLOG_LEVEL=error\n",
                softhsm.display(),
                dir.join("certificates").display()
            ),
        )?;
        std::env::set_var("AZCLOUDHSM_CONFIG", &config);
        let pkcs11 = Pkcs11::new(provider_library())?;
        pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
        let slot = *pkcs11
            .get_slots_with_token()?
            .first()
            .ok_or("the provider has no slot")?;
        let session = pkcs11.open_rw_session(slot)?;
        // SoftHSM2's login is this application's, made directly above.
        match session.login(UserType::User, Some(&AuthPin::from(USER_PIN))) {
            Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(error) => return Err(error.into()),
        }
        Ok(Module {
            pkcs11,
            slot,
            _session: session,
        })
    }

    /// Signatures per second on `threads` threads, one session each, and
    /// the CPU time the signing threads spent per signature; the first
    /// signature of each session is checked with openssl.
    fn rate(&self, algorithm: Algorithm, threads: usize, duration: Duration) -> Outcome<Measured> {
        let input = algorithm.input();
        let sessions = (0..threads)
            .map(|_| self.pkcs11.open_ro_session(self.slot))
            .collect::<Result<Vec<_>, _>>()?;
        let (public, private) = keys(&sessions[0], algorithm)?;
        for session in &sessions {
            let signature = session.sign(&algorithm.mechanism(), private, &input)?;
            verify(&sessions[0], public, algorithm, &input, &signature)?;
        }
        let runs = std::thread::scope(|scope| {
            let workers: Vec<_> = sessions
                .into_iter()
                .map(|session| {
                    let input = &input;
                    scope.spawn(move || -> std::result::Result<(u64, f64), String> {
                        let started = thread_cpu_seconds();
                        let count = run_for(duration, || {
                            session
                                .sign(&algorithm.mechanism(), private, input)
                                .map(drop)
                                .map_err(|e| e.to_string())
                        })?;
                        Ok((count, thread_cpu_seconds() - started))
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .map_err(|_| "a signing thread panicked".to_string())?
                })
                .collect::<std::result::Result<Vec<(u64, f64)>, String>>()
        })?;
        let count: u64 = runs.iter().map(|(count, _)| count).sum();
        let cpu: f64 = runs.iter().map(|(_, cpu)| cpu).sum();
        Ok(Measured {
            rate: count as f64 / duration.as_secs_f64(),
            cpu_micros: cpu * 1e6 / count as f64,
        })
    }
}

/// One measurement: wall-clock rate, and CPU time per signature (which
/// the rest of a shared machine disturbs far less).
#[derive(Clone, Copy)]
struct Measured {
    rate: f64,
    cpu_micros: f64,
}

/// The CPU time of the calling thread, in seconds.
fn thread_cpu_seconds() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to write; the clock exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9
}

fn find_slot(pkcs11: &Pkcs11) -> Outcome<Slot> {
    for slot in pkcs11.get_slots_with_token()? {
        if pkcs11.get_token_info(slot)?.label() == TOKEN_LABEL {
            return Ok(slot);
        }
    }
    Err("the initialised token is in no slot".into())
}

/// The key pair of `algorithm`, found by its CKA_ID.
fn keys(session: &Session, algorithm: Algorithm) -> Outcome<(ObjectHandle, ObjectHandle)> {
    let find = |class| -> Outcome<ObjectHandle> {
        session
            .find_objects(&[Attribute::Class(class), Attribute::Id(algorithm.id())])?
            .first()
            .copied()
            .ok_or_else(|| format!("no {class:?} for {algorithm:?}").into())
    };
    Ok((
        find(cryptoki::object::ObjectClass::PUBLIC_KEY)?,
        find(cryptoki::object::ObjectClass::PRIVATE_KEY)?,
    ))
}

/// Checks a signature with openssl against the public key read off the token.
fn verify(
    session: &Session,
    public: ObjectHandle,
    algorithm: Algorithm,
    input: &[u8],
    signature: &[u8],
) -> Outcome<()> {
    let bytes = |kind| -> Outcome<Vec<u8>> {
        match session.get_attributes(public, &[kind])?.pop() {
            Some(Attribute::Modulus(v))
            | Some(Attribute::PublicExponent(v))
            | Some(Attribute::EcPoint(v)) => Ok(v),
            other => Err(format!("{kind:?}: {other:?}").into()),
        }
    };
    let valid = match algorithm {
        Algorithm::Rsa2048 => {
            let rsa = openssl::rsa::Rsa::from_public_components(
                openssl::bn::BigNum::from_slice(&bytes(AttributeType::Modulus)?)?,
                openssl::bn::BigNum::from_slice(&bytes(AttributeType::PublicExponent)?)?,
            )?;
            let key = openssl::pkey::PKey::from_rsa(rsa)?;
            let mut verifier =
                openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key)?;
            verifier.update(input)?;
            verifier.verify(signature)?
        }
        Algorithm::P256 => {
            let point = bytes(AttributeType::EcPoint)?;
            // CKA_EC_POINT is a DER OCTET STRING around the 65-byte point.
            let octets = &point[point.len() - 65..];
            let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1)?;
            let mut context = openssl::bn::BigNumContext::new()?;
            let point = openssl::ec::EcPoint::from_bytes(&group, octets, &mut context)?;
            let key = openssl::ec::EcKey::from_public_key(&group, &point)?;
            let half = signature.len() / 2;
            let parsed = openssl::ecdsa::EcdsaSig::from_private_components(
                openssl::bn::BigNum::from_slice(&signature[..half])?,
                openssl::bn::BigNum::from_slice(&signature[half..])?,
            )?;
            parsed.verify(input, &key)?
        }
    };
    if valid {
        Ok(())
    } else {
        Err(format!("a {algorithm:?} signature does not verify").into())
    }
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
