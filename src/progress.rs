//! The progress bar of `logproc process` on a terminal: bytes read of the
//! files' total size, lines counted, rates and the time left.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::pipeline::metrics::PipelineMetrics;

/// How often the bar is redrawn.
const TICK: Duration = Duration::from_millis(100);

/// A bar drawn on stderr while the files are counted.
pub struct Progress {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// Starts drawing `bytes_read` of `total_bytes`, and the lines
    /// `metrics` has seen committed.
    pub fn start(total_bytes: u64, bytes_read: Arc<AtomicU64>, metrics: Arc<PipelineMetrics>) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec}, ETA {eta} · {msg}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        let drawn = bar.clone();
        let started = Instant::now();
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            loop {
                tick.tick().await;
                drawn.set_position(bytes_read.load(Ordering::Relaxed));
                let lines: u64 = metrics.snapshot().lines.iter().flatten().sum();
                let per_second = lines as f64 / started.elapsed().as_secs_f64().max(1e-3);
                drawn.set_message(format!("{lines} lines, {:.0} lines/s", per_second));
            }
        });
        Progress { bar, ticker }
    }

    /// Stops and clears the bar (the statistics follow on stdout).
    pub fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}
