//! Certificate-store budgets, measured through the C ABI (the `cryptoki`
//! crate), against SoftHSM2 in the same run.
//!
//! ```text
//! cargo bench --bench certificates                 # N = 10,000
//! cargo bench --bench certificates -- 100000       # or CERT_BENCH_N=100000
//! cargo bench --bench certificates -- series 1000 10000 100000
//! ```
//!
//! `series` runs both modules at each N with the default configuration,
//! prints one table and draws search latency and cold start against N
//! (an SVG, `CERT_BENCH_SVG`, default `target/certificate-bench.svg`);
//! `CERT_BENCH_SOFTHSM_MAX` (default 100,000) leaves SoftHSM2 out above it.
//!
//! Environment: `CERT_BENCH_N` (our provider, default 10,000),
//! `CERT_BENCH_SOFTHSM_N` (default 2,000; 0 skips SoftHSM2),
//! `CERT_BENCH_THREADS` (threads used to pre-populate past the first 1,000
//! timed single-threaded creates, default 2), `AZCLOUDHSM_PKCS11_LIB`,
//! `SOFTHSM2_LIB` (default `/usr/lib/softhsm/libsofthsm2.so`).
//!
//! For each module: creates N token certificates (the same 1.3 KB DER
//! value, one label each; the first 1,000 on one thread are timed), then
//! creates and destroys a batch (timed), `C_Finalize`. Then a first
//! process searches once (its start is the "first start": ours reads every
//! blob then and writes the index cache), and, in a fresh process (this
//! binary, re-run with `probe`): cold start (`C_Initialize` to the first
//! search result by label), the median of 1,000 warm searches
//! by label, and the peak RSS (`VmHWM`). Every search must find exactly
//! the certificate with the label searched for (checked after the clock
//! stops). Outside `series`, ours runs twice, with
//! `CERTSTORAGE_CACHE_SECONDS` 0 (the default) and 60. The page cache is
//! warm in every case. The figures end in a Markdown table and the ratios
//! to SoftHSM2.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

type Outcome<T> = std::result::Result<T, Box<dyn Error>>;

const PROVIDER_LIBRARY: &str = "libazcloudhsm_pkcs11.so";
const SOFTHSM_LIBRARY: &str = "/usr/lib/softhsm/libsofthsm2.so";
const TOKEN_LABEL: &str = "bench-certificates";
const TIMED_CREATES: usize = 1_000;
const WARM_SEARCHES: usize = 1_000;
const WARM_SECONDS: Duration = Duration::from_secs(10);
/// How long after its last change a local store is settled (its
/// `RACY_MARGIN`, 3 s), with a margin.
const SETTLE: Duration = Duration::from_millis(3_500);

/// What differs between the two PKCS#11 modules.
#[derive(Clone, Debug)]
struct Module {
    name: &'static str,
    library: PathBuf,
    /// Environment variable naming the module's configuration file.
    config_variable: &'static str,
    so_pin: &'static str,
    user_pin: &'static str,
    destroys: usize,
}

impl Module {
    fn provider() -> Self {
        Module {
            name: "provider",
            library: provider_library(),
            config_variable: "AZCLOUDHSM_CONFIG",
            so_pin: "admin:admin1234",
            user_pin: "cu1:user1234",
            destroys: 1_000,
        }
    }

    fn softhsm() -> Self {
        Module {
            name: "softhsm2",
            library: std::env::var_os("SOFTHSM2_LIB")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(SOFTHSM_LIBRARY)),
            config_variable: "SOFTHSM2_CONF",
            so_pin: "so-pin-1234",
            user_pin: "user-pin-1234",
            destroys: 100,
        }
    }

    fn by_name(name: &str) -> Outcome<Self> {
        match name {
            "provider" => Ok(Module::provider()),
            "softhsm2" => Ok(Module::softhsm()),
            other => Err(format!("unknown module {other}").into()),
        }
    }

    fn load(&self) -> Outcome<Pkcs11> {
        let pkcs11 = Pkcs11::new(&self.library)
            .map_err(|e| format!("load {}: {e}", self.library.display()))?;
        pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
        Ok(pkcs11)
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

fn main() -> Outcome<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("probe") {
        return probe(&args[1..]);
    }
    let der = certificate_der()?;
    println!("certificate value: {} bytes of DER", der.len());
    // `series 1000 10000 100000` (or CERT_BENCH_SERIES=1000,10000,100000):
    // both modules at each N, a table and a chart.
    let series: Vec<usize> = match args.iter().position(|a| a == "series") {
        Some(at) => args[at + 1..]
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect(),
        None => std::env::var("CERT_BENCH_SERIES")
            .unwrap_or_default()
            .split(',')
            .filter_map(|a| a.trim().parse().ok())
            .collect(),
    };
    if !series.is_empty() {
        return run_series(&series, &der);
    }
    // `cargo bench` passes `--bench`; a bare number is N.
    let n = args
        .iter()
        .find_map(|a| a.parse::<usize>().ok())
        .or_else(|| env_number("CERT_BENCH_N"))
        .unwrap_or(10_000);
    let softhsm_n = env_number("CERT_BENCH_SOFTHSM_N").unwrap_or(2_000);
    println!("N = {n} (provider), {softhsm_n} (SoftHSM2)");

    let mut rows = run_module(&Module::provider(), n, &der, &[0, 60])?;
    if softhsm_n > 0 && Module::softhsm().library.is_file() {
        rows.extend(run_module(&Module::softhsm(), softhsm_n, &der, &[0])?);
    } else {
        println!("SoftHSM2 skipped");
    }
    print_table(&rows);
    Ok(())
}

/// Each N of `sizes` for both modules (SoftHSM2 up to
/// `CERT_BENCH_SOFTHSM_MAX`, default 100,000), with the default
/// configuration; the table, and the chart written to `CERT_BENCH_SVG`
/// (default `target/certificate-bench.svg`).
fn run_series(sizes: &[usize], der: &[u8]) -> Outcome<()> {
    let softhsm_max = env_number("CERT_BENCH_SOFTHSM_MAX").unwrap_or(100_000);
    let mut rows = Vec::new();
    for &n in sizes {
        rows.extend(run_module(&Module::provider(), n, der, &[0])?);
        if n <= softhsm_max && Module::softhsm().library.is_file() {
            rows.extend(run_module(&Module::softhsm(), n, der, &[0])?);
        }
    }
    print_table(&rows);
    let path = std::env::var_os("CERT_BENCH_SVG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/certificate-bench.svg")
        });
    std::fs::write(&path, chart(&rows))?;
    println!("\nchart written to {}", path.display());
    Ok(())
}

/// The figures as a Markdown table, then each N's ratios of the provider
/// (default configuration) to SoftHSM2.
fn print_table(rows: &[Row]) {
    println!();
    println!("| N | module | creates/s (1 thread) | creates/s (threads) | destroys/s | first start ms | cold start ms | warm search median ms | p99 ms | peak RSS MB |");
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let rate = |r: f64| {
        if r.is_nan() {
            "-".to_string()
        } else {
            format!("{r:.0}")
        }
    };
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.3} | {:.3} | {:.1} |",
            row.n,
            row.module,
            rate(row.create_rate),
            rate(row.threaded_create_rate),
            rate(row.destroy_rate),
            ms(row.first_start),
            ms(row.cold),
            ms(row.warm),
            ms(row.warm_p99),
            row.rss_kb / 1024.0
        );
    }
    let ours = |n: usize| rows.iter().find(|r| r.n == n && r.module == "provider");
    let theirs = |n: usize| rows.iter().find(|r| r.n == n && r.module == "softhsm2");
    let mut sizes: Vec<usize> = rows.iter().map(|r| r.n).collect();
    sizes.dedup();
    let pairs: Vec<(&Row, &Row)> = sizes
        .iter()
        .filter_map(|&n| Some((ours(n)?, theirs(n)?)))
        .collect();
    if pairs.is_empty() {
        // Different N for the two modules: compare the first rows.
        let first = |module: &str| rows.iter().find(|r| r.module == module);
        if let (Some(a), Some(b)) = (first("provider"), first("softhsm2")) {
            print_ratios(&[(a, b)]);
        }
    } else {
        print_ratios(&pairs);
    }
}

fn print_ratios(pairs: &[(&Row, &Row)]) {
    println!();
    println!("| N (provider / SoftHSM2) | creates/s | destroys/s | cold start: times faster | warm search: times faster |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (ours, theirs) in pairs {
        println!(
            "| {} / {} | {:.2}x | {:.1}x | {:.2}x | {:.0}x |",
            ours.n,
            theirs.n,
            ours.create_rate / theirs.create_rate,
            ours.destroy_rate / theirs.destroy_rate,
            theirs.cold.as_secs_f64() / ours.cold.as_secs_f64(),
            theirs.warm.as_secs_f64() / ours.warm.as_secs_f64()
        );
    }
}

/// Two log-log panels, warm search median and cold start against N, one
/// line per module: a self-contained SVG.
fn chart(rows: &[Row]) -> String {
    const WIDTH: f64 = 460.0;
    const HEIGHT: f64 = 340.0;
    const LEFT: f64 = 70.0;
    const RIGHT: f64 = 20.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 50.0;
    let modules = [("provider", "#1f6fb4"), ("softhsm2", "#d9531e")];
    type Figure = fn(&Row) -> f64;
    let panels: [(&str, Figure); 2] = [
        ("warm search by label, median (ms)", |r| ms(r.warm)),
        ("cold start to first search (ms)", |r| ms(r.cold)),
    ];
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        2.0 * WIDTH
    );
    let decades = |values: &mut dyn Iterator<Item = f64>| -> (f64, f64) {
        let (low, high) = values.fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
        let low = if low.is_finite() && low > 0.0 {
            low.log10().floor()
        } else {
            0.0
        };
        let high = if high.is_finite() && high > 0.0 {
            high.log10().ceil()
        } else {
            1.0
        };
        (low, high.max(low + 1.0))
    };
    let (n_low, n_high) = decades(&mut rows.iter().map(|r| r.n as f64));
    for (panel, (title, value)) in panels.iter().enumerate() {
        let x0 = panel as f64 * WIDTH;
        let (y_low, y_high) = decades(&mut rows.iter().map(value));
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let x_of = |n: f64| x0 + LEFT + (n.log10() - n_low) / (n_high - n_low) * plot_w;
        let y_of =
            |v: f64| TOP + plot_h - (v.max(1e-9).log10() - y_low) / (y_high - y_low) * plot_h;
        svg += &format!(
            "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{title}</text>\n",
            x0 + LEFT + plot_w / 2.0
        );
        svg += &format!(
            "<rect x=\"{}\" y=\"{TOP}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#888\"/>\n",
            x0 + LEFT
        );
        for decade in y_low as i32..=y_high as i32 {
            let y = y_of(10f64.powi(decade));
            svg += &format!(
                "<line x1=\"{}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
                x0 + LEFT,
                x0 + LEFT + plot_w,
                x0 + LEFT - 6.0,
                y + 4.0,
                axis_label(10f64.powi(decade))
            );
        }
        for decade in n_low as i32..=n_high as i32 {
            let x = x_of(10f64.powi(decade));
            svg += &format!(
                "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#ddd\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                TOP + plot_h,
                TOP + plot_h + 18.0,
                axis_label(10f64.powi(decade))
            );
        }
        svg += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">certificates in the store (N)</text>\n",
            x0 + LEFT + plot_w / 2.0,
            HEIGHT - 10.0
        );
        for (index, (module, colour)) in modules.iter().enumerate() {
            let points: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.module == *module)
                .map(|r| (x_of(r.n as f64), y_of(value(r))))
                .collect();
            if points.is_empty() {
                continue;
            }
            let path: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect();
            svg += &format!(
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>\n",
                path.join(" ")
            );
            for (x, y) in &points {
                svg +=
                    &format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{colour}\"/>\n");
            }
            let legend_y = TOP + 16.0 + 16.0 * index as f64;
            svg += &format!(
                "<text x=\"{}\" y=\"{legend_y}\" fill=\"{colour}\">{}</text>\n",
                x0 + LEFT + 10.0,
                if *module == "provider" {
                    "azcloudhsm-pkcs11"
                } else {
                    "SoftHSM2"
                }
            );
        }
    }
    svg += "</svg>\n";
    svg
}

fn axis_label(value: f64) -> String {
    match value {
        v if v >= 1_000_000.0 => format!("{}M", v / 1_000_000.0),
        v if v >= 1_000.0 => format!("{}k", v / 1_000.0),
        v => format!("{v}"),
    }
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.parse().ok()
}

/// One module's figures at one N (and, for ours, one freshness setting).
struct Row {
    /// `provider` (the default configuration), `softhsm2`, or the
    /// provider with a cache setting.
    module: String,
    n: usize,
    /// NaN when the store was populated by an earlier run.
    create_rate: f64,
    threaded_create_rate: f64,
    destroy_rate: f64,
    /// The first start after populating (see `run_module`).
    first_start: Duration,
    cold: Duration,
    warm: Duration,
    warm_p99: Duration,
    rss_kb: f64,
}

fn run_module(module: &Module, n: usize, der: &[u8], freshness: &[u64]) -> Outcome<Vec<Row>> {
    println!("\n== {} ({}) ==", module.name, module.library.display());
    // CERT_BENCH_DIR keeps the stores, and re-uses one populated with the
    // same N (to measure start-up again without creating 100,000 again).
    let temporary = tempfile::tempdir()?;
    let dir = match std::env::var_os("CERT_BENCH_DIR") {
        Some(kept) => PathBuf::from(kept).join(format!("{}-{n}", module.name)),
        None => temporary.path().to_path_buf(),
    };
    std::fs::create_dir_all(&dir)?;
    let configs: Vec<PathBuf> = freshness
        .iter()
        .map(|seconds| write_config(module, &dir, *seconds))
        .collect::<Outcome<_>>()?;
    let populated = dir.join("populated");
    let (create_rate, threaded_create_rate, destroy_rate) = if populated.is_file() {
        println!("re-using the store populated in {}", dir.display());
        (f64::NAN, f64::NAN, f64::NAN)
    } else {
        if module.name == "provider" {
            println!(
                "a 3 KB file written and fsynced here: {:.2} ms (the floor of one create)",
                ms(fsync_cost(&dir)?)
            );
        }
        std::env::set_var(module.config_variable, &configs[0]);
        let pkcs11 = module.load()?;
        let slot = initialise_token(module, &pkcs11)?;
        let rates = populate(module, &pkcs11, slot, n, der)?;
        pkcs11.finalize()?;
        std::env::remove_var(module.config_variable);
        std::fs::write(&populated, b"")?;
        rates
    };

    // A local store lists its directory on every search for 3 s after it
    // last changed (a change in the same clock tick could hide otherwise):
    // the probes measure the steady state that follows.
    let settled_at = std::fs::metadata(dir.join("certificates"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok());
    if let Some(age) = settled_at {
        std::thread::sleep(SETTLE.saturating_sub(age));
    }
    let mut rows = Vec::new();
    let label = format!("cert-{}", n / 2);
    // The first process to search a store it did not write: ours reads
    // every blob and writes the index cache that every later start uses.
    let first_start =
        Duration::from_secs_f64(probe_process(module, &configs[0], &[&label, "cold-only"])?(
            "cold_s=",
        )?);
    println!(
        "first start after populating{}: {:.1} ms",
        if module.name == "provider" {
            " (reads every blob, writes the index cache)"
        } else {
            ""
        },
        ms(first_start)
    );
    for (config, seconds) in configs.iter().zip(freshness) {
        let field = probe_process(module, config, &[&label])?;
        let cold = Duration::from_secs_f64(field("cold_s=")?);
        let warm = Duration::from_secs_f64(field("warm_median_s=")?);
        let warm_p99 = Duration::from_secs_f64(field("warm_p99_s=")?);
        let first_listing = Duration::from_secs_f64(field("second_search_s=")?);
        let rss = field("vmhwm_kb=")?;
        let searches = field("searches=")?;
        let freshness_text = if module.name == "provider" {
            format!("CERTSTORAGE_CACHE_SECONDS={seconds}: ")
        } else {
            String::new()
        };
        println!(
            "{freshness_text}cold start {:.1} ms, second search {:.3} ms, warm search by label median {:.3} ms (p99 {:.3} ms, {searches} searches), peak RSS {:.1} MB",
            ms(cold),
            ms(first_listing),
            ms(warm),
            ms(warm_p99),
            rss / 1024.0
        );
        rows.push(Row {
            module: match (module.name, seconds) {
                ("provider", 0) | ("softhsm2", _) => module.name.to_string(),
                (name, seconds) => format!("{name}, CERTSTORAGE_CACHE_SECONDS={seconds}"),
            },
            n,
            create_rate,
            threaded_create_rate,
            first_start,
            destroy_rate,
            cold,
            warm,
            warm_p99,
            rss_kb: rss,
        });
    }
    Ok(rows)
}

/// Runs `probe <module> <arguments>` in a new process; gives a reader of
/// its `key=` figures.
fn probe_process(
    module: &Module,
    config: &Path,
    arguments: &[&str],
) -> Outcome<impl Fn(&str) -> Outcome<f64>> {
    let output = Command::new(std::env::current_exe()?)
        .args(["probe", module.name])
        .args(arguments)
        .env(module.config_variable, config)
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "probe failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(move |key: &str| -> Outcome<f64> {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(key)?.parse().ok())
            .ok_or_else(|| format!("probe output lacks {key}: {text}").into())
    })
}

/// The median time to write a 3 KB file and fsync it, in `dir`.
fn fsync_cost(dir: &Path) -> Outcome<Duration> {
    use std::io::Write;
    let path = dir.join(".fsync-probe");
    let mut times = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        let mut file = std::fs::File::create(&path)?;
        file.write_all(&[0x5a; 3_000])?;
        file.sync_all()?;
        times.push(started.elapsed());
        std::fs::remove_file(&path)?;
    }
    times.sort();
    Ok(times[times.len() / 2])
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn write_config(module: &Module, dir: &Path, freshness: u64) -> Outcome<PathBuf> {
    let token = dir.join("token");
    std::fs::create_dir_all(&token)?;
    let (name, text) = if module.name == "provider" {
        let certificates = dir.join("certificates");
        std::fs::create_dir_all(&certificates)?;
        (
            format!("azcloudhsm_application-{freshness}.cfg"),
            format!(
                "SOFT_TOKEN_DIR={}\nCERTSTORAGE_URL=file://{}\nSOFT_KDF_ITERATIONS=1000\nCERTSTORAGE_CACHE_SECONDS={freshness}\n",
                token.display(),
                certificates.display()
            ),
        )
    } else {
        (
            "softhsm2.conf".to_string(),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                token.display()
            ),
        )
    };
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Initialises the first slot's token and the user PIN; the slot that
/// holds it afterwards (SoftHSM2 moves it to a new slot ID).
fn initialise_token(module: &Module, pkcs11: &Pkcs11) -> Outcome<Slot> {
    let slot = *pkcs11
        .get_slots_with_token()?
        .first()
        .ok_or("no slot with a token")?;
    let so_pin = AuthPin::from(module.so_pin);
    pkcs11.init_token(slot, &so_pin, TOKEN_LABEL)?;
    let slot = slot_by_label(pkcs11)?;
    let session = pkcs11.open_rw_session(slot)?;
    session.login(UserType::So, Some(&so_pin))?;
    session.init_pin(&AuthPin::from(module.user_pin))?;
    session.logout()?;
    Ok(slot)
}

fn slot_by_label(pkcs11: &Pkcs11) -> Outcome<Slot> {
    for slot in pkcs11.get_slots_with_token()? {
        if pkcs11.get_token_info(slot)?.label() == TOKEN_LABEL {
            return Ok(slot);
        }
    }
    Err(format!("no token labelled {TOKEN_LABEL}").into())
}

fn certificate_template(der: &[u8], index: usize) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(format!("cert-{index}").into_bytes()),
        Attribute::Id((index as u32).to_be_bytes().to_vec()),
        Attribute::Subject(subject_of(der)),
        Attribute::Value(der.to_vec()),
    ]
}

fn subject_of(der: &[u8]) -> Vec<u8> {
    openssl::x509::X509::from_der(der)
        .ok()
        .and_then(|c| c.subject_name().to_der().ok())
        .unwrap_or_default()
}

/// Creates certificates 0..n (the first ones timed on one thread, the rest
/// on several), then times creating and destroying a batch. Gives
/// (creates/s, destroys/s).
fn populate(
    module: &Module,
    pkcs11: &Pkcs11,
    slot: Slot,
    n: usize,
    der: &[u8],
) -> Outcome<(f64, f64, f64)> {
    let user_pin = AuthPin::from(module.user_pin);
    let session = pkcs11.open_rw_session(slot)?;
    session.login(UserType::User, Some(&user_pin))?;

    let timed = n.min(TIMED_CREATES);
    let started = Instant::now();
    for index in 0..timed {
        session.create_object(&certificate_template(der, index))?;
    }
    let create_rate = timed as f64 / started.elapsed().as_secs_f64();
    println!("create: {timed} on 1 thread, {create_rate:.0}/s");

    let threads = env_number("CERT_BENCH_THREADS").unwrap_or(2).max(1);
    let mut threaded_create_rate = f64::NAN;
    if n > timed {
        let started = Instant::now();
        std::thread::scope(|scope| -> Outcome<()> {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    scope.spawn(move || -> std::result::Result<(), String> {
                        let session = pkcs11.open_rw_session(slot).map_err(|e| e.to_string())?;
                        for index in (timed + t..n).step_by(threads) {
                            session
                                .create_object(&certificate_template(der, index))
                                .map_err(|e| e.to_string())?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for worker in workers {
                worker.join().map_err(|_| "create thread panicked")??;
            }
            Ok(())
        })?;
        threaded_create_rate = (n - timed) as f64 / started.elapsed().as_secs_f64();
        println!(
            "create: {} more on {threads} threads, {threaded_create_rate:.0}/s",
            n - timed
        );
    }

    let batch: Vec<ObjectHandle> = (0..module.destroys)
        .map(|i| session.create_object(&certificate_template(der, n + i)))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    for handle in batch {
        session.destroy_object(handle)?;
    }
    let destroy_rate = module.destroys as f64 / started.elapsed().as_secs_f64();
    println!(
        "destroy: {} among {} certificates, {destroy_rate:.0}/s",
        module.destroys,
        n + module.destroys
    );
    session.logout()?;
    Ok((create_rate, threaded_create_rate, destroy_rate))
}

fn find_by_label(session: &Session, label: &str) -> Outcome<Vec<ObjectHandle>> {
    Ok(session.find_objects(&[
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::Label(label.as_bytes().to_vec()),
    ])?)
}

/// `probe <module> <label> [cold-only]`: run in a fresh process; prints
/// `key=value` words (with `cold-only`, only `cold_s=`).
fn probe(args: &[String]) -> Outcome<()> {
    let (module, label, cold_only) = match args {
        [module, label] => (module, label, false),
        [module, label, only] if only == "cold-only" => (module, label, true),
        _ => return Err("usage: probe <provider|softhsm2> <label> [cold-only]".into()),
    };
    let module = Module::by_name(module)?;
    let started = Instant::now();
    let pkcs11 = module.load()?;
    let slot = slot_by_label(&pkcs11)?;
    let session = pkcs11.open_ro_session(slot)?;
    let found = find_by_label(&session, label)?;
    let cold = started.elapsed();
    expect_label(&session, &found, label)?;
    if cold_only {
        drop(session);
        pkcs11.finalize()?;
        println!("cold_s={}", cold.as_secs_f64());
        return Ok(());
    }
    let started = Instant::now();
    find_by_label(&session, label)?;
    let second = started.elapsed();

    // Labels spread over the store, so each search hits a different entry.
    let n: usize = label
        .strip_prefix("cert-")
        .and_then(|l| l.parse().ok())
        .unwrap_or(1)
        * 2;
    // At most WARM_SEARCHES, for at most WARM_SECONDS: a search that
    // re-lists 100,000 files cannot run 1,000 times in a benchmark.
    let mut times = Vec::with_capacity(WARM_SEARCHES);
    let warm_started = Instant::now();
    for i in 0..WARM_SEARCHES {
        if i >= 5 && warm_started.elapsed() > WARM_SECONDS {
            break;
        }
        let label = format!("cert-{}", (i * 7919) % n.max(1));
        let started = Instant::now();
        let found = find_by_label(&session, &label)?;
        times.push(started.elapsed());
        expect_label(&session, &found, &label)?;
    }
    times.sort();
    let median = times[times.len() / 2];
    let p99 = times[times.len() * 99 / 100];
    drop(session);
    pkcs11.finalize()?;
    println!(
        "cold_s={} second_search_s={} warm_median_s={} warm_p99_s={} vmhwm_kb={} searches={}",
        cold.as_secs_f64(),
        second.as_secs_f64(),
        median.as_secs_f64(),
        p99.as_secs_f64(),
        peak_rss_kb(),
        times.len()
    );
    Ok(())
}

/// What a timed search found must be exactly one object, the certificate
/// labelled `label` (checked after the clock stopped).
fn expect_label(session: &Session, found: &[ObjectHandle], label: &str) -> Outcome<()> {
    let [handle] = found else {
        return Err(format!("{label}: found {} objects, not 1", found.len()).into());
    };
    let attributes = session.get_attributes(*handle, &[AttributeType::Label])?;
    match attributes.as_slice() {
        [Attribute::Label(value)] if value.as_slice() == label.as_bytes() => Ok(()),
        other => Err(format!("{label}: the search found {other:?}").into()),
    }
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A self-signed certificate of about 1.3 KB (RSA-4096 key, a few names).
fn certificate_der() -> Outcome<Vec<u8>> {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::{X509Builder, X509NameBuilder};

    let key = PKey::from_rsa(Rsa::generate(3072)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "bench.certificates.azcloudhsm.example")?;
    name.append_entry_by_text("O", "azcloudhsm-pkcs11 benchmarks")?;
    name.append_entry_by_text("C", "US")?;
    let name = name.build();
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    let serial = BigNum::from_u32(0x5eed)?.to_asn1_integer()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(&key)?;
    let not_before = Asn1Time::days_from_now(0)?;
    builder.set_not_before(&not_before)?;
    let not_after = Asn1Time::days_from_now(365)?;
    builder.set_not_after(&not_after)?;
    let mut alternative = SubjectAlternativeName::new();
    for i in 0..4 {
        alternative.dns(&format!("host{i}.bench.certificates.azcloudhsm.example"));
    }
    let extension = alternative.build(&builder.x509v3_context(None, None))?;
    builder.append_extension(extension)?;
    builder.sign(&key, MessageDigest::sha256())?;
    Ok(builder.build().to_der()?)
}
