//! A progress bar on standard error, drawn only when standard error is a
//! terminal: piped or redirected output never holds one.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often the bar is redrawn at most.
const REDRAW: Duration = Duration::from_millis(100);
const WIDTH: usize = 30;

/// Progress through `total` items.
pub struct Progress {
    label: String,
    total: usize,
    done: usize,
    enabled: bool,
    drawn: Option<Instant>,
}

impl Progress {
    pub fn new(label: &str, total: usize) -> Progress {
        Progress {
            label: label.to_string(),
            total,
            done: 0,
            enabled: total > 0 && std::io::stderr().is_terminal(),
            drawn: None,
        }
    }

    /// One more item is done.
    pub fn advance(&mut self) {
        self.done = (self.done + 1).min(self.total);
        if !self.enabled {
            return;
        }
        let due = self.drawn.is_none_or(|at| at.elapsed() >= REDRAW);
        if due || self.done == self.total {
            self.draw();
        }
    }

    fn draw(&mut self) {
        let filled = self.done * WIDTH / self.total.max(1);
        let bar: String = "#".repeat(filled) + &"-".repeat(WIDTH - filled);
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "\r{} [{bar}] {}/{}",
            self.label, self.done, self.total
        );
        let _ = stderr.flush();
        self.drawn = Some(Instant::now());
    }

    /// Clears the bar, so that what is printed next starts on a clean line.
    pub fn finish(&mut self) {
        if self.enabled && self.drawn.is_some() {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[2K");
            let _ = stderr.flush();
        }
        self.enabled = false;
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
