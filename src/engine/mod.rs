//! Local load engine: an HTTP load generator with the same results model as DLT.
//!
//! Closed model (the default, DLT's): `load.local_virtual_users()` virtual users each loop over
//! the scenario's requests in order on their own keep-alive connection, started evenly over
//! `ramp_up`, then held for `hold_for`. Open model (`load.arrival_rate`): requests are issued on a
//! schedule of that many per second (ramping over `ramp_up` from `load.start_rate`) by at most
//! that many users, and their latency counts from when they were due, so a stalled target shows
//! in the percentiles (`pace.rs`).
//! The load runs on dedicated OS threads, each owning a share of the users (wrk-style), so [`run`]
//! behaves the same whatever runtime awaits it (the plugin server is current-thread). A thread is
//! one mio poll loop driving its users' connections as state machines (`poll.rs`), for plain
//! HTTP and HTTPS alike: rustls is driven by hand on the same sockets (`tls.rs` sets it up), and
//! ALPN picks HTTP/2 (`h2.rs`, a sans-IO codec with its HPACK in `hpack.rs`) or HTTP/1.1
//! (`http1.rs`, a push parser). One design for both, because what made plain HTTP as fast as wrk
//! (no task or timer per request, napping under load, the ACK riding on the next request) is what
//! TLS needs too; a tokio task per user cost HTTPS 10-30 % of its rate against nginx.
//! What the threads share (the run's plan and timing, progress counters, a thread's results) is in
//! `shared.rs`.
//! Latency goes into HDR histograms (`stats.rs`), so memory does not grow with the run length.

mod h2;
mod hpack;
mod http1;
mod pace;
mod plan;
mod poll;
mod shared;
mod stats;
mod tls;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::dlt::results::RunResults;
use crate::dlt::scenario::{Load, RequestSpec};

pub use tls::{check_ca_bundle, TlsOptions};

/// What the apply and the `run` command say when `insecure_skip_verify` is on.
pub const INSECURE_WARNING: &str = "scenario.insecure_skip_verify = true: the local engine accepts any server \
     certificate, so the HTTPS targets are not authenticated (anyone on the path can impersonate them). Use it only \
     for test targets; prefer scenario.ca_bundle for a private CA.";

/// Knobs of the local engine that are not part of the test definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// Per-request timeout (connect + TLS + request + full response); a late request is a
    /// `"timeout"` failure.
    pub request_timeout: Duration,
    /// Stop after this many requests in total (counted or not); `None` runs for the full duration.
    pub max_requests: Option<u64>,
    /// Worker threads; never more than the virtual users. `None`: one thread per
    /// [`USERS_PER_THREAD`] virtual users, at most the available cores.
    pub threads: Option<usize>,
    /// Requests started within this long of the run's start are the warm-up: left out of the
    /// results (and so of the gates), their time too; the timeline still shows them.
    pub warm_up: Duration,
    /// Extra trusted CAs, or no verification at all, for HTTPS targets.
    pub tls: TlsOptions,
}

/// Virtual users per worker thread when [`EngineOptions::threads`] is `None`. One thread drives
/// ~100k req/s over a few hundred keep-alive connections; spreading few users over more threads
/// only adds wake-ups and CPU per request (on loopback they also compete with the target).
pub const USERS_PER_THREAD: u64 = 128;

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            request_timeout: Duration::from_secs(30),
            max_requests: None,
            threads: None,
            warm_up: Duration::ZERO,
            tls: TlsOptions::default(),
        }
    }
}

/// Why a run did not produce results.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A request of the scenario cannot be sent (bad URL, method or header).
    #[error("request {index} is invalid: {reason}")]
    InvalidRequest { index: usize, reason: String },
    #[error("the scenario has no requests")]
    NoRequests,
    #[error("the load has no virtual users (concurrency x task_count is 0)")]
    NoVirtualUsers,
    /// `arrival_rate` or `start_rate` is not a usable rate, or the open model cannot run this plan.
    #[error("{0}")]
    InvalidLoad(String),
    /// The TLS client could not be set up (unreadable `SSL_CERT_FILE` or `ca_bundle`, no usable
    /// roots).
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("could not start an engine worker thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// A worker thread died (runtime creation failed or it panicked).
    #[error("engine worker failed: {0}")]
    Worker(String),
    /// The cancellation token fired; `partial` holds what was measured until then.
    #[error("the run was cancelled")]
    Cancelled { partial: Box<RunResults> },
}

/// Offline check of every request (URL scheme and host, method token, header names and values),
/// for plan-time diagnostics: returns the index of the first bad request and why.
pub fn validate_requests(requests: &[RequestSpec]) -> Result<(), (usize, String)> {
    plan::Plan::build(requests).map(|_| ())
}

/// The open model's rate, `None` for the closed model. The rates must be finite, `arrival_rate`
/// positive and `start_rate` not negative (the resource checks them at plan).
fn open_model(load: &Load) -> Result<Option<pace::Rate>, EngineError> {
    let Some(rate) = load.arrival_rate else {
        if load.start_rate.is_some() {
            return Err(EngineError::InvalidLoad(
                "start_rate is set without arrival_rate (the open model's rate)".into(),
            ));
        }
        return Ok(None);
    };
    let start = load.start_rate.unwrap_or(0.0);
    if !(rate.is_finite() && rate > 0.0) {
        return Err(EngineError::InvalidLoad(format!(
            "arrival_rate must be a positive number of requests per second, got {rate}"
        )));
    }
    if !(start.is_finite() && start >= 0.0) {
        return Err(EngineError::InvalidLoad(format!(
            "start_rate must be 0 or more requests per second, got {start}"
        )));
    }
    Ok(Some(pace::Rate {
        start,
        rate,
        ramp_up: load.ramp_up,
    }))
}

/// Runs the load and returns the aggregated results.
///
/// Stops at the end of `ramp_up + hold_for` (requests still in flight then are dropped and not
/// counted), when `opts.max_requests` requests are done, or when `cancel` fires (then
/// [`EngineError::Cancelled`] carries the partial results). Dropping the returned future stops the
/// workers too.
pub async fn run(
    requests: &[RequestSpec],
    load: &Load,
    opts: &EngineOptions,
    cancel: CancellationToken,
) -> Result<RunResults, EngineError> {
    if requests.is_empty() {
        return Err(EngineError::NoRequests);
    }
    let plan = plan::Plan::build(requests).map_err(|(index, reason)| EngineError::InvalidRequest { index, reason })?;
    let users = load.local_virtual_users();
    if users == 0 {
        return Err(EngineError::NoVirtualUsers);
    }
    let pace = open_model(load)?;
    let tls = if plan.needs_tls() {
        Some(tls::client_config(&opts.tls).map_err(EngineError::Tls)?)
    } else {
        None
    };
    let threads = opts
        .threads
        .unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            usize::try_from(users.div_ceil(USERS_PER_THREAD))
                .unwrap_or(usize::MAX)
                .min(cores)
        })
        .clamp(1, usize::try_from(users).unwrap_or(usize::MAX));

    // Internal stop signal: fired by the caller's token or when this future is dropped.
    let stop = cancel.child_token();
    let _stop_on_drop = stop.clone().drop_guard();
    let start = Instant::now();
    let shared = Arc::new(shared::Shared {
        plan,
        tls,
        users,
        threads,
        start,
        ramp_up: load.ramp_up,
        pace,
        warm_up: opts.warm_up,
        deadline: start + load.ramp_up + load.hold_for,
        request_timeout: opts.request_timeout,
        max_requests: opts.max_requests,
        claimed: AtomicU64::new(0),
        progress: (0..threads).map(|_| shared::Progress::default()).collect(),
        stop: stop.clone(),
    });
    match pace {
        None => log::info!(
            "local engine: {users} virtual users on {threads} threads, ramp-up {:?}, hold for {:?}",
            load.ramp_up,
            load.hold_for
        ),
        Some(r) => log::info!(
            "local engine: open model, {} req/s (from {} over a ramp-up of {:?}), hold for {:?}, at most {users} users on {threads} threads",
            r.rate,
            r.start,
            load.ramp_up,
            load.hold_for
        ),
    }

    let mut receivers = Vec::with_capacity(threads);
    for index in 0..threads {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let shared = Arc::clone(&shared);
        let driver = poll::thread_main;
        std::thread::Builder::new()
            .name(format!("dlt-engine-{index}"))
            .spawn(move || {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| driver(&shared, index)));
                let outcome = outcome.unwrap_or_else(|_| Err("worker thread panicked".to_string()));
                let _ = tx.send(outcome);
            })
            .map_err(|e| {
                stop.cancel();
                EngineError::Spawn(e)
            })?;
        receivers.push(rx);
    }

    let mut merged = stats::ThreadStats::new(shared.plan.labels.len(), shared.start, shared.warm_up);
    let mut failure = None;
    let mut finished_at = start;
    for rx in receivers {
        match rx.await {
            Ok(Ok(done)) => {
                finished_at = finished_at.max(done.finished_at);
                merged.merge(&done.stats);
            }
            Ok(Err(e)) => {
                stop.cancel();
                failure.get_or_insert(e);
            }
            Err(_) => {
                stop.cancel();
                failure.get_or_insert_with(|| "worker thread exited without results".to_string());
            }
        }
    }
    if let Some(e) = failure {
        return Err(EngineError::Worker(e));
    }
    // A run that reached its deadline measured exactly ramp_up + hold_for.
    let end = finished_at.min(shared.deadline);
    let measured = end.saturating_duration_since(start);
    let results = merged.into_results(&shared.plan.labels, measured);
    let done = shared
        .progress
        .iter()
        .map(|p| p.requests.load(Ordering::Relaxed))
        .sum::<u64>();
    log::info!(
        "local engine: finished after {:.1}s: {} requests ({} counted), {} failures",
        measured.as_secs_f64(),
        done,
        results.total.requests,
        results.total.failures
    );
    if cancel.is_cancelled() {
        return Err(EngineError::Cancelled {
            partial: Box::new(results),
        });
    }
    Ok(results)
}
