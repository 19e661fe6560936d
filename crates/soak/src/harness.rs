//! The loop every target runs in: derive the execution's RNG, generate, execute under
//! [`std::panic::catch_unwind`], count the verdict, save what crashed.
//!
//! A panic hook installed once records the panic message, its location and a backtrace for
//! the thread that is executing a target, and stays silent there (a crash is reported once, in
//! the [`Report`] and the crash file); panics anywhere else go to the previous hook as before.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use fastrand::Rng;

/// How often a long run reports progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Most crash files one run writes per target; later crashes are only counted.
const MAX_SAVED: usize = 16;

/// What one execution found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The parser accepted the input (`Ok`).
    Accepted,
    /// The parser refused the input with an error value of the documented kind.
    Rejected,
    /// The outcome broke a property (a 500 where a 4xx is due, an accepted forgery, a failed
    /// round trip): a crash like a panic.
    Violation(String),
}

/// A parser under soak.
pub trait Target {
    /// One input: what the generator makes and the crash file holds.
    type Input;

    /// The target's name, as on the command line.
    const NAME: &'static str;

    /// A new input, drawn from `rng` (and the target's pool of accepted inputs).
    fn generate(&mut self, rng: &mut Rng) -> Self::Input;

    /// Runs the parser(s) on the input and checks the outcome. Panics are the harness's
    /// business.
    fn execute(&mut self, input: &Self::Input) -> Verdict;

    /// Called with every accepted input; a target may keep it to mutate later.
    fn keep(&mut self, input: Self::Input, rng: &mut Rng) {
        let _ = (input, rng);
    }

    /// The input as the bytes of a crash file.
    fn encode(input: &Self::Input) -> Vec<u8>;

    /// An input back from a crash file.
    fn decode(bytes: &[u8]) -> Option<Self::Input>;
}

/// How long and where a run goes.
#[derive(Debug, Clone)]
pub struct Options {
    /// How many executions.
    pub execs: u64,
    /// The run's seed; execution `i` draws from an RNG seeded by `(seed, i)`.
    pub seed: u64,
    /// Where crash files go (`<dir>/<parser>/`); `None`: nowhere.
    pub crash_dir: Option<PathBuf>,
}

impl Options {
    /// `execs` executions with seed `seed`, crash files in the workspace's
    /// `target/soak-crashes`.
    pub fn new(execs: u64, seed: u64) -> Self {
        Self {
            execs,
            seed,
            crash_dir: Some(default_crash_dir()),
        }
    }
}

/// `target/soak-crashes` of the workspace this crate was built in.
pub fn default_crash_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("target")
        .join("soak-crashes")
}

/// One crash: which execution, what happened, where its input is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The execution's index in the run.
    pub index: u64,
    /// The panic message with its location, or the broken property.
    pub message: String,
    /// The crash file holding the input, if it was saved.
    pub saved: Option<PathBuf>,
}

impl Failure {
    /// The first line of the message, cut to 300 characters.
    pub fn summary(&self) -> String {
        let line = self.message.lines().next().unwrap_or("");
        match line.char_indices().nth(300) {
            Some((at, _)) => format!("{}…", &line[..at]),
            None => line.to_owned(),
        }
    }
}

/// The figures of one run of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The target.
    pub parser: &'static str,
    /// Executions done.
    pub executions: u64,
    /// Executions the parser accepted (`Ok`), a measure of how deep the inputs reach.
    pub accepted: u64,
    /// Executions that panicked.
    pub panics: u64,
    /// Executions whose outcome broke a property.
    pub violations: u64,
    /// Time spent executing, without the target's set-up (key generation, seeds).
    pub elapsed: Duration,
    /// The first crashes (at most 16 are kept).
    pub failures: Vec<Failure>,
}

impl Report {
    fn new(parser: &'static str) -> Self {
        Self {
            parser,
            executions: 0,
            accepted: 0,
            panics: 0,
            violations: 0,
            elapsed: Duration::ZERO,
            failures: Vec::new(),
        }
    }

    /// Panics plus property violations.
    pub fn crashes(&self) -> u64 {
        self.panics + self.violations
    }

    /// Executions per second of execution time.
    pub fn execs_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.executions as f64 / secs
        } else {
            0.0
        }
    }

    /// The share of accepted executions, in percent.
    pub fn accepted_percent(&self) -> f64 {
        if self.executions == 0 {
            0.0
        } else {
            100.0 * self.accepted as f64 / self.executions as f64
        }
    }
}

impl fmt::Display for Report {
    /// One line: the figures, then the first crash if there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} executions, {} crashes ({} panics, {} violations), {:.0} execs/s, {:.1} % accepted",
            self.parser,
            self.executions,
            self.crashes(),
            self.panics,
            self.violations,
            self.execs_per_sec(),
            self.accepted_percent()
        )?;
        if let Some(first) = self.failures.first() {
            write!(
                f,
                "; first crash at execution {}: {}",
                first.index,
                first.summary()
            )?;
            if let Some(path) = &first.saved {
                write!(f, " (input in {})", path.display())?;
            }
        }
        Ok(())
    }
}

thread_local! {
    /// Whether this thread is executing a target right now.
    static SOAKING: Cell<bool> = const { Cell::new(false) };
    /// The last panic of this thread while soaking.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if SOAKING.with(Cell::get) {
                let backtrace = std::backtrace::Backtrace::force_capture();
                let message = info.payload_as_str().unwrap_or("a panic without a message");
                let text = match info.location() {
                    Some(at) => format!("{message} at {at}\n{backtrace}"),
                    None => format!("{message}\n{backtrace}"),
                };
                LAST_PANIC.with(|last| *last.borrow_mut() = Some(text));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f` as one execution: `Err` carries the panic's message, location and backtrace.
fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    install_hook();
    SOAKING.with(|s| s.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    SOAKING.with(|s| s.set(false));
    result.map_err(|payload| {
        LAST_PANIC
            .with(|last| last.borrow_mut().take())
            .unwrap_or_else(|| {
                payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic with a non-string payload".to_owned())
            })
    })
}

/// A 64-bit mix of the run's seed and the execution's index (SplitMix64's finaliser, from
/// Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014).
fn mix(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Runs `target` for `options.execs` executions; `progress` is called about every 10 s.
pub fn run<T: Target>(
    mut target: T,
    options: &Options,
    progress: &mut dyn FnMut(&Report),
) -> Report {
    let mut report = Report::new(T::NAME);
    let started = Instant::now();
    let mut last_progress = started;
    for index in 0..options.execs {
        let mut rng = Rng::with_seed(mix(options.seed, index));
        let input = target.generate(&mut rng);
        let failure = match catch(|| target.execute(&input)) {
            Ok(Verdict::Accepted) => {
                report.accepted += 1;
                target.keep(input, &mut rng);
                None
            }
            Ok(Verdict::Rejected) => None,
            Ok(Verdict::Violation(message)) => {
                report.violations += 1;
                Some((format!("property violated: {message}"), input))
            }
            Err(message) => {
                report.panics += 1;
                Some((format!("panicked: {message}"), input))
            }
        };
        report.executions += 1;
        if let Some((message, input)) = failure
            && report.failures.len() < MAX_SAVED
        {
            let saved = options
                .crash_dir
                .as_deref()
                .and_then(|dir| save::<T>(dir, options.seed, index, &message, &input));
            report.failures.push(Failure {
                index,
                message,
                saved,
            });
        }
        if index % 1024 == 0 && last_progress.elapsed() >= PROGRESS_EVERY {
            last_progress = Instant::now();
            report.elapsed = started.elapsed();
            progress(&report);
        }
    }
    report.elapsed = started.elapsed();
    report
}

/// Writes `<dir>/<parser>/<seed>-<index>.input` and a `.txt` beside it with the message.
fn save<T: Target>(
    dir: &Path,
    seed: u64,
    index: u64,
    message: &str,
    input: &T::Input,
) -> Option<PathBuf> {
    let dir = dir.join(T::NAME);
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{seed}-{index}.input"));
    std::fs::write(&path, T::encode(input)).ok()?;
    let note = format!(
        "parser: {}\nseed: {seed}\nexecution: {index}\nreplay: cargo run -p soak -- replay {} {}\n\n{message}\n",
        T::NAME,
        T::NAME,
        path.display()
    );
    std::fs::write(path.with_extension("txt"), note).ok()?;
    Some(path)
}

/// Decodes a crash file's bytes and executes the input once: `Ok` with the verdict, `Err` with
/// the panic.
pub fn replay<T: Target>(mut target: T, bytes: &[u8]) -> Result<Verdict, String> {
    let input = T::decode(bytes).ok_or_else(|| format!("not a {} input", T::NAME))?;
    catch(|| target.execute(&input)).map_err(|m| format!("panicked: {m}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Picky;

    impl Target for Picky {
        type Input = u8;
        const NAME: &'static str = "picky";

        fn generate(&mut self, rng: &mut Rng) -> u8 {
            rng.u8(..)
        }

        fn execute(&mut self, input: &u8) -> Verdict {
            match input % 4 {
                0 => Verdict::Accepted,
                1 => Verdict::Rejected,
                2 => Verdict::Violation("two".into()),
                _ => panic!("three"),
            }
        }

        fn encode(input: &u8) -> Vec<u8> {
            vec![*input]
        }

        fn decode(bytes: &[u8]) -> Option<u8> {
            bytes.first().copied()
        }
    }

    #[test]
    fn counts_every_kind_of_verdict_and_keeps_the_first_crashes() {
        let options = Options {
            execs: 400,
            seed: 7,
            crash_dir: None,
        };
        let report = run(Picky, &options, &mut |_| {});
        assert_eq!(report.executions, 400);
        assert!(report.accepted > 50 && report.panics > 50 && report.violations > 50);
        assert_eq!(report.failures.len(), MAX_SAVED);
        let panicked = report
            .failures
            .iter()
            .find(|f| f.message.starts_with("panicked"))
            .map(|f| f.message.clone())
            .unwrap_or_default();
        assert!(
            panicked.contains("three") && panicked.contains("harness.rs"),
            "{panicked}"
        );
        // The same seed gives the same run.
        let again = run(Picky, &options, &mut |_| {});
        let indexes = |r: &Report| r.failures.iter().map(|f| f.index).collect::<Vec<_>>();
        assert_eq!(indexes(&again), indexes(&report));
    }

    #[test]
    fn replays_an_input() {
        assert_eq!(replay(Picky, &[4]), Ok(Verdict::Accepted));
        assert!(replay(Picky, &[3]).is_err_and(|m| m.contains("three")));
        assert!(replay(Picky, &[]).is_err());
    }
}
