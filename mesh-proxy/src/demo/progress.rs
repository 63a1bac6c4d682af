//! Progress on stderr while the demo drives traffic: a bar redrawn in place on a terminal,
//! one line per scene otherwise (logs, CI), nothing when turned off (tests).

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// How progress is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, else one line per scene.
    #[default]
    Auto,
    /// Nothing.
    Off,
}

/// The progress display.
#[derive(Debug)]
pub struct Progress {
    state: Arc<Mutex<State>>,
    bar: bool,
    enabled: bool,
    stop: watch::Sender<bool>,
}

#[derive(Debug)]
struct State {
    start: Instant,
    total: Duration,
    scene: String,
    /// Steps begun, and in all.
    step: u32,
    steps: u32,
}

const WIDTH: usize = 30;

// === impl Progress ===

impl Progress {
    /// Starts showing progress over `total` and `steps` steps; the bar is redrawn every
    /// 100 ms.
    pub fn start(mode: ProgressMode, total: Duration, steps: u32) -> Self {
        let enabled = mode == ProgressMode::Auto;
        let bar = enabled && std::io::stderr().is_terminal();
        let state = Arc::new(Mutex::new(State {
            start: Instant::now(),
            total,
            scene: String::from("starting the mesh"),
            step: 0,
            steps: steps.max(1),
        }));
        let (stop, mut stopped) = watch::channel(false);
        if bar {
            let state = state.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                loop {
                    tokio::select! {
                        _ = stopped.wait_for(|s| *s) => break,
                        _ = tick.tick() => draw(&state),
                    }
                }
                // Clear the line for the report.
                eprint!("\r{}\r", " ".repeat(WIDTH + 60));
            });
        }
        Progress {
            state,
            bar,
            enabled,
            stop,
        }
    }

    /// A new scene (or step) begins.
    pub fn scene(&self, title: &str) {
        let text = title.to_owned();
        if self.enabled && !self.bar {
            eprintln!("mesh-proxy demo: {text}");
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.scene = text;
        state.step += 1;
    }

    /// Stops the display.
    pub fn finish(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn draw(state: &Mutex<State>) {
    let s = state.lock().unwrap_or_else(PoisonError::into_inner);
    let done = fraction(&s);
    let filled = (done * WIDTH as f64) as usize;
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r[{}{}] {:>3}%  {:<50}",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        (done * 100.0) as u32,
        s.scene
    );
    let _ = err.flush();
}

/// Time elapsed over the total, kept within the current step's share (a step that runs
/// long stalls the bar; one that ends early lets it jump).
fn fraction(s: &State) -> f64 {
    let steps = f64::from(s.steps);
    let lo = f64::from(s.step.saturating_sub(1)) / steps;
    let hi = (f64::from(s.step) / steps).min(1.0);
    let by_time = s.start.elapsed().as_secs_f64() / s.total.as_secs_f64().max(0.001);
    by_time.clamp(lo, hi.max(lo))
}
