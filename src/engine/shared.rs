//! What the worker threads of one run share (each runs the poll loop of `poll.rs`): the
//! read-only plan and timing, the request budget, per-thread progress counters, and what a
//! thread hands back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use tokio_util::sync::CancellationToken;

use super::pace::Rate;
use super::plan::Plan;
use super::stats::ThreadStats;

pub(crate) const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Everything the worker threads share for one run (read-only but for the counters).
pub(crate) struct Shared {
    pub plan: Plan,
    pub tls: Option<Arc<ClientConfig>>,
    pub users: u64,
    pub threads: usize,
    pub start: Instant,
    pub ramp_up: Duration,
    /// The open model's rate (`load.arrival_rate`); `None`: the closed model. Users are then
    /// the cap, and `ramp_up` ramps the rate, not the users.
    pub pace: Option<Rate>,
    /// Requests started within this long of `start` are left out of the results.
    pub warm_up: Duration,
    /// End of hold-for: responses completing later are not counted.
    pub deadline: Instant,
    pub request_timeout: Duration,
    pub max_requests: Option<u64>,
    /// Requests started so far, only maintained when `max_requests` is set.
    pub claimed: AtomicU64,
    /// One slot per thread, for the progress log.
    pub progress: Vec<Progress>,
    pub stop: CancellationToken,
}

/// Per-thread progress counters on their own cache lines, read by the progress log.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Progress {
    pub requests: AtomicU64,
    pub failures: AtomicU64,
}

impl Progress {
    /// Counts one finished request. Only the owning thread writes its slot: a plain load and
    /// store, no locked instruction.
    #[inline]
    pub(crate) fn count(&self, ok: bool) {
        self.requests
            .store(self.requests.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        if !ok {
            self.failures
                .store(self.failures.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }
}

/// Logs the run's progress so far (summed over the threads).
pub(crate) fn log_progress(shared: &Shared) {
    let requests: u64 = shared.progress.iter().map(|p| p.requests.load(Ordering::Relaxed)).sum();
    let failures: u64 = shared.progress.iter().map(|p| p.failures.load(Ordering::Relaxed)).sum();
    log::info!(
        "local engine: {:.0}s elapsed, {requests} requests, {failures} failures",
        shared.start.elapsed().as_secs_f64()
    );
}

/// A thread's results.
pub(crate) struct Done {
    pub stats: ThreadStats,
    pub finished_at: Instant,
}
