//! Exact statistics from raw per-request samples.
//!
//! DLT's results parser reports, for a run on several tasks, the *mean of the per-task
//! percentiles* (and of the per-task maxima): a run where one task of four is slow can pass a p95
//! gate that its real p95 fails. DLT v4 uploads every task's raw samples (Taurus' `kpi-*.jtl`, a
//! JMeter CSV; k6's CSV output for k6 tests), so the exact figures are one download away. This
//! module merges those files into one HDR histogram per label; the total is their sum.
//!
//! Why it is shaped like this:
//! - **Push parsing, one file at a time.** Files arrive as byte chunks (an S3 body stream, a local
//!   file); [`SampleFile::push`] takes any chunk boundaries and keeps only a partial line between
//!   calls, so memory stays flat whatever the file size: the histograms are the state.
//! - **Columns by header.** Taurus writes JMeter's CSV with `fieldNames=true`; the first line names
//!   the columns, so a result file whose writer saved more or fewer fields still reads.
//! - **Fast path without quotes.** A line with no `"` is split on commas with no copying; quoted
//!   fields (a `responseMessage` with a comma or a newline) take the slow path.
//! - **Warm-up per task.** Each DLT task ramps up from its own start, so [`Window::skip_first`]
//!   leaves out the samples in each file's first seconds, relative to that file's first sample.
//! - **Bad lines are counted, never fatal**: a truncated upload (a task that died) loses its last
//!   line and the caller says how many samples were lost.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use hdrhistogram::Histogram;

use crate::dlt::results::{latency_buckets, LabelResults, RunResults, Stats};

/// Buckets of the latency histogram the reports draw.
const HISTOGRAM_BUCKETS: usize = 40;

/// Latencies in microseconds, 3 significant digits, up to one hour (as the local engine).
const HIGHEST_US: u64 = 3_600_000_000;
/// More distinct labels than this are merged under [`OTHER_LABEL`]: a label per URL with ids in
/// it would otherwise grow a histogram (~180 KiB) per request.
pub const MAX_LABELS: usize = 200;
pub const OTHER_LABEL: &str = "(other labels)";
/// Distinct failure codes kept apart; more are counted under [`OTHER_CODE`].
const MAX_CODES: usize = 100;
pub const OTHER_CODE: &str = "other";
/// A line longer than this is dropped as unreadable (a JTL line is ~100–300 bytes).
const MAX_LINE: usize = 64 * 1024;
const OVERLONG: &[u8] = b"\x00overlong";

/// `percentile_method` of results computed here.
pub const METHOD_EXACT: &str = "exact (merged raw samples)";

/// Which writer produced a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SampleFormat {
    /// JMeter CSV as Taurus configures it (`timeStamp,elapsed,label,responseCode,…,success,…`).
    Jtl,
    /// k6's `--out csv` (`metric_name,timestamp,metric_value,…,name,…,status,…`); only
    /// `http_req_duration` rows are samples.
    K6Csv,
}

impl SampleFormat {
    /// The format of a raw-sample object key (`….jtl` or `….csv`).
    pub fn from_key(key: &str) -> Option<SampleFormat> {
        if key.ends_with(".jtl") {
            Some(SampleFormat::Jtl)
        } else if key.ends_with(".csv") {
            Some(SampleFormat::K6Csv)
        } else {
            None
        }
    }
}

/// Which samples count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Leave out each file's samples stamped within this long of its first sample.
    pub skip_first: Duration,
}

/// What reading one file found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileSummary {
    pub samples: u64,
    /// Lines that could not be read (bad numbers, missing columns, over-long, unterminated).
    pub unreadable: u64,
    /// Samples left out by the window.
    pub excluded: u64,
}

/// A file whose header lacks a column the format needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the sample file has no {column:?} column (header: {header})")]
pub struct HeaderError {
    pub column: &'static str,
    pub header: String,
}

#[derive(Debug, Clone)]
struct LabelAcc {
    name: String,
    latency_us: Histogram<u64>,
    requests: u64,
    successes: u64,
}

fn histogram() -> Histogram<u64> {
    // Constant, valid bounds: a failure here is a programming error.
    Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("valid histogram bounds")
}

/// The merged statistics of any number of sample files.
#[derive(Debug)]
pub struct SampleMerger {
    window: Window,
    labels: Vec<LabelAcc>,
    index: HashMap<Box<[u8]>, usize>,
    /// Failure counts by response code (or exception name), as `RunResults::status_codes`.
    failures_by_code: HashMap<Box<[u8]>, u64>,
    first_ms: i64,
    last_ms: i64,
    summary: FileSummary,
    files: u64,
}

impl SampleMerger {
    pub fn new(window: Window) -> SampleMerger {
        SampleMerger {
            window,
            labels: Vec::new(),
            index: HashMap::new(),
            failures_by_code: HashMap::new(),
            first_ms: i64::MAX,
            last_ms: i64::MIN,
            summary: FileSummary::default(),
            files: 0,
        }
    }

    /// Starts reading one file.
    pub fn file(&mut self, format: SampleFormat) -> SampleFile<'_> {
        self.files += 1;
        SampleFile {
            merger: self,
            format,
            columns: None,
            carry: Vec::new(),
            in_quotes: false,
            last_label: None,
            file_start_ms: None,
            summary: FileSummary::default(),
        }
    }

    /// Everything read so far, over all files.
    pub fn summary(&self) -> FileSummary {
        self.summary
    }

    pub fn files(&self) -> u64 {
        self.files
    }

    /// Adds everything another merger (with the same window) read.
    pub fn absorb(&mut self, other: SampleMerger) {
        for acc in other.labels {
            let slot = self.label_slot(acc.name.as_bytes());
            if let Some(mine) = self.labels.get_mut(slot) {
                // Same bounds on both sides: adding cannot fail.
                let _ = mine.latency_us.add(&acc.latency_us);
                mine.requests += acc.requests;
                mine.successes += acc.successes;
            }
        }
        for (code, n) in other.failures_by_code {
            *self.failures_by_code.entry(code).or_insert(0) += n;
        }
        self.first_ms = self.first_ms.min(other.first_ms);
        self.last_ms = self.last_ms.max(other.last_ms);
        self.summary.samples += other.summary.samples;
        self.summary.unreadable += other.summary.unreadable;
        self.summary.excluded += other.summary.excluded;
        self.files += other.files;
    }

    fn label_slot(&mut self, label: &[u8]) -> usize {
        if let Some(&i) = self.index.get(label) {
            return i;
        }
        let (key, name): (&[u8], String) = if self.labels.len() < MAX_LABELS {
            (label, String::from_utf8_lossy(label).into_owned())
        } else {
            (OTHER_LABEL.as_bytes(), OTHER_LABEL.to_string())
        };
        if let Some(&i) = self.index.get(key) {
            // Past the cap: not remembered, so the map stays bounded however many labels come.
            return i;
        }
        let i = self.labels.len();
        self.labels.push(LabelAcc {
            name,
            latency_us: histogram(),
            requests: 0,
            successes: 0,
        });
        self.index.insert(key.into(), i);
        i
    }

    #[inline]
    fn record(&mut self, slot: usize, timestamp_ms: i64, latency_us: u64, success: bool, code: &[u8]) {
        let Some(acc) = self.labels.get_mut(slot) else {
            return;
        };
        acc.requests += 1;
        acc.latency_us.saturating_record(latency_us);
        if success {
            acc.successes += 1;
        } else {
            let code = if self.failures_by_code.len() < MAX_CODES || self.failures_by_code.contains_key(code) {
                code
            } else {
                OTHER_CODE.as_bytes()
            };
            match self.failures_by_code.get_mut(code) {
                Some(n) => *n += 1,
                None => {
                    self.failures_by_code.insert(code.into(), 1);
                }
            }
        }
        self.first_ms = self.first_ms.min(timestamp_ms);
        self.last_ms = self.last_ms.max(timestamp_ms);
    }

    /// The results model. Throughput is over the measured window: from the first to the last
    /// counted sample's timestamp (at least one second).
    pub fn into_results(self) -> RunResults {
        let seconds = if self.first_ms <= self.last_ms {
            ((self.last_ms - self.first_ms) as f64 / 1000.0).max(1.0)
        } else {
            0.0
        };
        let mut requests = 0;
        let mut successes = 0;
        let mut total = histogram();
        let mut labels = Vec::with_capacity(self.labels.len());
        for acc in &self.labels {
            // Same bounds on both sides: adding cannot fail.
            let _ = total.add(&acc.latency_us);
            requests += acc.requests;
            successes += acc.successes;
            labels.push(LabelResults {
                label: acc.name.clone(),
                stats: Stats::from_histogram(acc.requests, acc.successes, &acc.latency_us, seconds),
            });
        }
        let status_codes = self.failures_by_code.iter().map(|(code, &n)| (code_key(code), n)).fold(
            BTreeMap::new(),
            |mut m, (k, n)| {
                *m.entry(k).or_insert(0) += n;
                m
            },
        );
        RunResults {
            total: Stats::from_histogram(requests, successes, &total, seconds),
            duration_seconds: seconds,
            labels,
            status_codes,
            regions: BTreeMap::new(),
            percentile_method: METHOD_EXACT.to_string(),
            // The samples' whole distribution is known; their times are not in run order
            // across files, so no timeline.
            latency_histogram: latency_buckets(&total, HISTOGRAM_BUCKETS),
            ..RunResults::default()
        }
    }
}

/// JMeter writes transport failures as `Non HTTP response code: java.net.SocketTimeoutException`;
/// Taurus (and so DLT's `rc`) names them by the exception's class name. Empty codes (k6 transport
/// errors have status 0) become `"0"`.
fn code_key(code: &[u8]) -> String {
    let s = String::from_utf8_lossy(code);
    let s = s.trim();
    if s.ends_with("Exception") {
        return s.rsplit(['.', ' ']).next().unwrap_or(s).to_string();
    }
    if s.is_empty() {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Column positions a format needs.
#[derive(Debug, Clone, Copy)]
struct Columns {
    timestamp: usize,
    value: usize,
    label: usize,
    code: usize,
    /// JTL: `success`; k6: `expected_response` (may be absent: then 2xx/3xx succeed).
    success: Option<usize>,
    /// k6: `metric_name` (only `http_req_duration` rows are samples).
    metric: Option<usize>,
    /// One past the highest needed column.
    width: usize,
}

impl Columns {
    fn from_header(format: SampleFormat, header: &[u8]) -> Result<Columns, HeaderError> {
        let names: Vec<&[u8]> = header.split(|&b| b == b',').map(trim_ascii).collect();
        let find = |name: &'static str| -> Result<usize, HeaderError> {
            names
                .iter()
                .position(|n| *n == name.as_bytes())
                .ok_or_else(|| HeaderError {
                    column: name,
                    header: String::from_utf8_lossy(&header[..header.len().min(200)]).into_owned(),
                })
        };
        let c = match format {
            SampleFormat::Jtl => Columns {
                timestamp: find("timeStamp")?,
                value: find("elapsed")?,
                label: find("label")?,
                code: find("responseCode")?,
                success: Some(find("success")?),
                metric: None,
                width: 0,
            },
            SampleFormat::K6Csv => Columns {
                timestamp: find("timestamp")?,
                value: find("metric_value")?,
                label: find("name")?,
                code: find("status")?,
                success: find("expected_response").ok(),
                metric: Some(find("metric_name")?),
                width: 0,
            },
        };
        let width = [
            Some(c.timestamp),
            Some(c.value),
            Some(c.label),
            Some(c.code),
            c.success,
            c.metric,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0)
            + 1;
        Ok(Columns { width, ..c })
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\r").unwrap_or(b);
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// One file being read into a [`SampleMerger`].
pub struct SampleFile<'m> {
    merger: &'m mut SampleMerger,
    format: SampleFormat,
    columns: Option<Columns>,
    /// A line split across chunks (or a quoted field spanning lines).
    carry: Vec<u8>,
    in_quotes: bool,
    /// The last label's bytes and slot: consecutive samples mostly share a label.
    last_label: Option<(Vec<u8>, usize)>,
    file_start_ms: Option<i64>,
    summary: FileSummary,
}

impl SampleFile<'_> {
    /// Feeds the next bytes of the file, split anywhere.
    pub fn push(&mut self, mut chunk: &[u8]) -> Result<(), HeaderError> {
        while !chunk.is_empty() {
            let Some(nl) = memchr::memchr(b'\n', chunk) else {
                self.carry_more(chunk);
                return Ok(());
            };
            let (line, rest) = (&chunk[..nl], &chunk[nl + 1..]);
            chunk = rest;
            if self.carry.is_empty() {
                let quoted = memchr::memchr(b'"', line).is_some();
                if !quoted || !odd_quotes(line) {
                    // The common case: a whole line in this chunk, its quotes (if any) balanced.
                    self.line(line, quoted)?;
                    continue;
                }
            }
            self.carry_more(line);
            if self.in_quotes {
                // A quoted field goes on past this newline.
                self.carry_more(b"\n");
                continue;
            }
            let joined = std::mem::take(&mut self.carry);
            let r = self.line(&joined, true);
            self.carry = joined;
            self.carry.clear();
            r?;
        }
        Ok(())
    }

    /// Adds to the partial line, keeping track of whether a quoted field is open.
    fn carry_more(&mut self, bytes: &[u8]) {
        if odd_quotes(bytes) {
            self.in_quotes = !self.in_quotes;
        }
        if self.carry.len() + bytes.len() > MAX_LINE {
            // Over-long: keep a marker only; the line is counted as unreadable when it ends.
            self.carry.clear();
            self.carry.extend_from_slice(OVERLONG);
            return;
        }
        if self.carry.starts_with(OVERLONG) {
            return;
        }
        self.carry.extend_from_slice(bytes);
    }

    /// Ends the file. Writers end every line with a newline, so a last line without one was cut
    /// (a task that died mid-upload) and is counted as unreadable, never half-read. Returns what
    /// this file contributed.
    pub fn finish(mut self) -> Result<FileSummary, HeaderError> {
        if self.in_quotes || !self.carry.is_empty() {
            self.summary.unreadable += 1;
        }
        let s = self.summary;
        let total = &mut self.merger.summary;
        total.samples += s.samples;
        total.unreadable += s.unreadable;
        total.excluded += s.excluded;
        Ok(s)
    }

    /// One whole line; `quoted`: it may hold a `"` (false only when known to hold none).
    fn line(&mut self, line: &[u8], quoted: bool) -> Result<(), HeaderError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Ok(());
        }
        let Some(cols) = self.columns else {
            self.columns = Some(Columns::from_header(self.format, line)?);
            return Ok(());
        };
        if line.len() > MAX_LINE || line.starts_with(OVERLONG) {
            self.summary.unreadable += 1;
            return Ok(());
        }
        let owned: Vec<Vec<u8>>;
        let mut fields: [&[u8]; 24] = [b""; 24];
        let n = if !quoted {
            split_plain(line, &mut fields, cols.width)
        } else {
            owned = split_quoted(line, cols.width);
            for (slot, f) in fields.iter_mut().zip(&owned) {
                *slot = f;
            }
            owned.len()
        };
        if n < cols.width || cols.width > fields.len() {
            self.summary.unreadable += 1;
            return Ok(());
        }
        if let Some(m) = cols.metric {
            if fields[m] != b"http_req_duration" {
                return Ok(());
            }
        }
        let parsed = match self.format {
            SampleFormat::Jtl => {
                parse_int(fields[cols.timestamp]).zip(parse_int(fields[cols.value]).map(|ms| ms * 1000))
            }
            // k6: timestamp in seconds, duration in (fractional) milliseconds.
            SampleFormat::K6Csv => parse_int(fields[cols.timestamp])
                .map(|s| s * 1000)
                .zip(parse_millis_as_micros(fields[cols.value])),
        };
        let Some((ts, latency_us)) = parsed else {
            self.summary.unreadable += 1;
            return Ok(());
        };
        let code = trim_ascii(fields[cols.code]);
        let success = match (self.format, cols.success) {
            (SampleFormat::Jtl, Some(i)) => fields[i] == b"true",
            (SampleFormat::K6Csv, Some(i)) if !fields[i].is_empty() => fields[i] == b"true",
            _ => matches!(code.first(), Some(b'2' | b'3')) && code.len() == 3,
        };
        let start = *self.file_start_ms.get_or_insert(ts);
        if ts < start.saturating_add(self.merger.window.skip_first.as_millis() as i64) {
            self.summary.excluded += 1;
            return Ok(());
        }
        let label = fields[cols.label];
        let slot = match &self.last_label {
            Some((bytes, slot)) if bytes.as_slice() == label => *slot,
            _ => {
                let slot = self.merger.label_slot(label);
                self.last_label = Some((label.to_vec(), slot));
                slot
            }
        };
        self.merger
            .record(slot, ts, u64::try_from(latency_us).unwrap_or(0), success, code);
        self.summary.samples += 1;
        Ok(())
    }
}

/// Splits an unquoted line on commas into `fields`, stopping after `want` fields.
#[inline]
fn split_plain<'a>(line: &'a [u8], fields: &mut [&'a [u8]; 24], want: usize) -> usize {
    let mut n = 0;
    let mut start = 0;
    for comma in memchr::memchr_iter(b',', line) {
        if n >= want.min(fields.len()) {
            return n;
        }
        fields[n] = &line[start..comma];
        n += 1;
        start = comma + 1;
    }
    if n < want.min(fields.len()) {
        fields[n] = &line[start..];
        n += 1;
    }
    n
}

/// RFC 4180 splitting (quoted fields, doubled quotes), for the rare line that has quotes.
fn split_quoted(line: &[u8], want: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut field = Vec::new();
    let mut quoted = false;
    let mut i = 0;
    while i < line.len() && out.len() < want {
        let b = line[i];
        if quoted {
            if b == b'"' {
                if line.get(i + 1) == Some(&b'"') {
                    field.push(b'"');
                    i += 1;
                } else {
                    quoted = false;
                }
            } else {
                field.push(b);
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == b',' {
            out.push(std::mem::take(&mut field));
        } else {
            field.push(b);
        }
        i += 1;
    }
    if out.len() < want {
        out.push(field);
    }
    out
}

fn odd_quotes(line: &[u8]) -> bool {
    memchr::memchr_iter(b'"', line).count() % 2 == 1
}

#[inline]
fn parse_int(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(v)
}

/// `"12.345678"` (milliseconds) → 12346 µs.
fn parse_millis_as_micros(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    let ms: f64 = s.trim().parse().ok()?;
    (ms.is_finite() && ms >= 0.0).then(|| (ms * 1000.0).round() as i64)
}

/// Where a streamed object's chunks go (declared outside the trait so `async_trait` leaves the
/// chunk's lifetime higher-ranked).
pub type ChunkSink<'a> = dyn for<'b> FnMut(&'b [u8]) -> Result<(), String> + Send + 'a;

/// Reading result objects from the scenarios bucket: an S3 list and a streamed get, abstracted
/// so the merge can be tested with an in-memory store (the S3 one is in `aws::s3`).
#[async_trait]
pub trait ResultStore: Send + Sync {
    /// Every key under `prefix` (all pages).
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, String>;
    /// Streams the object's bytes to `sink`, chunk by chunk; stops at the sink's first error.
    async fn read(&self, bucket: &str, key: &str, sink: &mut ChunkSink<'_>) -> Result<(), String>;
}

/// Where one DLT v4 run's files are: `results/<testId>/<timestamp>_<testRunId>/` (the
/// api-services' `startStepFunctionExecution` names the prefix `<ISO time>_<testRunId>`;
/// several runs of one test share `results/<testId>/`).
pub fn run_prefix_of(keys: &[String], test_id: &str, test_run_id: &str) -> Option<String> {
    let base = format!("results/{test_id}/");
    let suffix = format!("_{test_run_id}");
    keys.iter()
        .filter_map(|k| k.strip_prefix(&base)?.split('/').next())
        .find(|dir| dir.ends_with(&suffix))
        .map(|dir| format!("{base}{dir}/"))
}

/// What merging a run's raw samples gave.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactResults {
    pub results: RunResults,
    /// Raw-sample files read (one per task that uploaded).
    pub files: u64,
    pub summary: FileSummary,
    /// Files that could not be read at all (and why), already counted out of `files`.
    pub unreadable_files: Vec<String>,
}

/// Why no exact figures could be computed; the caller falls back to DLT's and says this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExactError {
    #[error("cannot list s3://{bucket}/{prefix}: {cause}")]
    List {
        bucket: String,
        prefix: String,
        cause: String,
    },
    #[error("no raw sample files (kpi-*.jtl / kpi-*.csv) under s3://{bucket}/{prefix}")]
    NoFiles { bucket: String, prefix: String },
    #[error("none of the {files} raw sample files under s3://{bucket}/{prefix} could be read: {cause}")]
    Unreadable {
        bucket: String,
        prefix: String,
        files: usize,
        cause: String,
    },
}

/// Lists the run's raw-sample files (`kpi-<uuid>-<region>.jtl|csv` directly under `prefix`) and
/// merges them, one streamed file at a time. A file that fails mid-way is left out whole (its
/// samples would be a partial task) and named in `unreadable_files`.
pub async fn merge_run(
    store: &dyn ResultStore,
    bucket: &str,
    prefix: &str,
    window: Window,
) -> Result<ExactResults, ExactError> {
    let keys = store.list(bucket, prefix).await.map_err(|cause| ExactError::List {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
        cause,
    })?;
    let mut files: Vec<(String, SampleFormat)> = keys
        .into_iter()
        .filter_map(|k| {
            let name = k.strip_prefix(prefix)?;
            if name.contains('/') || !name.starts_with("kpi-") {
                return None;
            }
            let format = SampleFormat::from_key(name)?;
            Some((k, format))
        })
        .collect();
    files.sort();
    merge_files(store, bucket, prefix, &files, window).await
}

/// Merges the given sample files (keys under `prefix`, which only names them in errors), one
/// streamed file at a time; a file that fails mid-way is left out whole.
pub async fn merge_files(
    store: &dyn ResultStore,
    bucket: &str,
    prefix: &str,
    files: &[(String, SampleFormat)],
    window: Window,
) -> Result<ExactResults, ExactError> {
    if files.is_empty() {
        return Err(ExactError::NoFiles {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        });
    }
    let mut merger = SampleMerger::new(window);
    let mut unreadable_files = Vec::new();
    let mut read = 0u64;
    for (key, format) in files {
        // Each file goes into a scratch merger first, so a file that breaks off contributes
        // nothing rather than a partial task.
        let mut scratch = SampleMerger::new(window);
        let mut file = scratch.file(*format);
        let mut sink = |chunk: &[u8]| file.push(chunk).map_err(|e| e.to_string());
        let outcome = store.read(bucket, key, &mut sink).await;
        match outcome.and_then(|()| file.finish().map(|_| ()).map_err(|e| e.to_string())) {
            Ok(()) => {
                merger.absorb(scratch);
                read += 1;
            }
            Err(e) => unreadable_files.push(format!("{key}: {e}")),
        }
    }
    if read == 0 {
        return Err(ExactError::Unreadable {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            files: files.len(),
            cause: unreadable_files.first().cloned().unwrap_or_default(),
        });
    }
    let summary = merger.summary();
    Ok(ExactResults {
        results: merger.into_results(),
        files: read,
        summary,
        unreadable_files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,success,bytes,grpThreads,allThreads,Latency,Hostname,Connect\n";

    fn line(ts: i64, elapsed: i64, label: &str, code: &str, ok: bool) -> String {
        format!("{ts},{elapsed},{label},{code},OK,Thread Group 1-1,{ok},106,4,4,{elapsed},host,0\n")
    }

    fn merge(files: &[String], window: Window) -> (RunResults, FileSummary) {
        let mut m = SampleMerger::new(window);
        for f in files {
            let mut file = m.file(SampleFormat::Jtl);
            file.push(f.as_bytes()).expect("header");
            file.finish().expect("header");
        }
        let s = m.summary();
        (m.into_results(), s)
    }

    /// The exact p95 over two tasks differs from the mean of their p95s.
    #[test]
    fn merges_distributions_not_percentiles() {
        let mut fast = HEADER.to_string();
        let mut slow = HEADER.to_string();
        for i in 0..1000 {
            fast.push_str(&line(1_000_000 + i, 10, "home", "200", true));
            slow.push_str(&line(
                1_000_000 + i,
                if i < 900 { 10 } else { 1000 },
                "home",
                "200",
                true,
            ));
        }
        let (r, s) = merge(&[fast, slow], Window::default());
        assert_eq!(s.samples, 2000);
        assert_eq!(r.total.requests, 2000);
        // 100 of 2000 samples (5 %) are 1000 ms: p95 is at the edge, p99 is 1000 ms.
        assert!((r.total.p99_ms - 1000.0).abs() < 1.0, "{}", r.total.p99_ms);
        assert!((r.total.p90_ms - 10.0).abs() < 0.1);
        assert!((r.total.max_ms - 1000.0).abs() < 1.0);
        assert_eq!(r.percentile_method, METHOD_EXACT);
        assert!((r.duration_seconds - 1.0).abs() < 1e-9);
    }

    #[test]
    fn counts_failures_by_code_and_names_exceptions() {
        let mut f = HEADER.to_string();
        f.push_str(&line(1000, 5, "a", "200", true));
        f.push_str(&line(1001, 5, "a", "500", false));
        f.push_str(&line(
            1002,
            5,
            "b",
            "Non HTTP response code: java.net.SocketTimeoutException",
            false,
        ));
        f.push_str(&line(1003, 5, "b", "200", false));
        let (r, _) = merge(&[f], Window::default());
        assert_eq!(r.total.failures, 3);
        assert_eq!(r.status_codes.get("500"), Some(&1));
        assert_eq!(r.status_codes.get("SocketTimeoutException"), Some(&1));
        assert_eq!(r.status_codes.get("200"), Some(&1));
        assert_eq!(r.labels.len(), 2);
        assert_eq!(r.labels[1].stats.requests, 2);
    }

    #[test]
    fn any_chunking_reads_the_same() {
        let mut f = HEADER.to_string();
        for i in 0..300 {
            f.push_str(&line(5000 + i, i % 97, if i % 3 == 0 { "x" } else { "y" }, "200", true));
        }
        f.push_str("5400,7,\"quoted, label\",503,\"Service\nUnavailable\",t,false,1,1,1,1,h,0\n");
        let (whole, _) = merge(std::slice::from_ref(&f), Window::default());
        for size in [1, 7, 64, 4096] {
            let mut m = SampleMerger::new(Window::default());
            let mut file = m.file(SampleFormat::Jtl);
            for chunk in f.as_bytes().chunks(size) {
                file.push(chunk).expect("header");
            }
            file.finish().expect("header");
            assert_eq!(m.into_results(), whole, "chunk size {size}");
        }
        assert_eq!(whole.total.requests, 301);
        assert!(whole.labels.iter().any(|l| l.label == "quoted, label"));
        assert_eq!(whole.status_codes.get("503"), Some(&1));
    }

    #[test]
    fn bad_lines_are_counted_and_a_cut_last_line_is_lost() {
        let mut f = HEADER.to_string();
        f.push_str(&line(1000, 5, "a", "200", true));
        f.push_str("garbage\n");
        f.push_str("1001,notanumber,a,200,OK,t,true,1,1,1,1,h,0\n");
        f.push_str("1002,5,a,200,OK,t,tr"); // cut mid-line by a task that died
        let (r, s) = merge(&[f], Window::default());
        assert_eq!(r.total.requests, 1);
        assert_eq!(s.unreadable, 3);
        assert_eq!(s.samples, 1);
        assert_eq!(r.total.failures, 0);
    }

    #[test]
    fn an_overlong_line_is_unreadable_and_the_next_reads() {
        let mut f = HEADER.to_string();
        f.push_str(&format!(
            "1000,5,{},200,OK,t,true,1,1,1,1,h,0\n",
            "x".repeat(MAX_LINE * 2)
        ));
        f.push_str(&line(1001, 5, "a", "200", true));
        for size in [MAX_LINE / 3, f.len()] {
            let mut m = SampleMerger::new(Window::default());
            let mut file = m.file(SampleFormat::Jtl);
            for chunk in f.as_bytes().chunks(size) {
                file.push(chunk).expect("header");
            }
            let s = file.finish().expect("header");
            let r = m.into_results();
            assert_eq!((s.samples, s.unreadable), (1, 1), "chunk size {size}");
            assert_eq!(r.labels.len(), 1);
            assert_eq!(r.labels[0].label, "a");
        }
    }

    #[test]
    fn warm_up_is_skipped_per_file() {
        let mut a = HEADER.to_string();
        let mut b = HEADER.to_string();
        for i in 0..10 {
            a.push_str(&line(10_000 + i * 1000, 100, "a", "200", true));
            // task b starts 30 s later: its warm-up is its own first seconds
            b.push_str(&line(40_000 + i * 1000, 100, "a", "200", true));
        }
        let (r, s) = merge(
            &[a, b],
            Window {
                skip_first: Duration::from_secs(3),
            },
        );
        assert_eq!(s.excluded, 6);
        assert_eq!(r.total.requests, 14);
    }

    #[test]
    fn a_missing_column_is_an_error_naming_it() {
        let mut m = SampleMerger::new(Window::default());
        let mut file = m.file(SampleFormat::Jtl);
        let e = file.push(b"timeStamp,label\n1,a\n").expect_err("no elapsed");
        assert_eq!(e.column, "elapsed");
    }

    #[test]
    fn labels_beyond_the_cap_share_one_histogram() {
        let mut f = HEADER.to_string();
        for i in 0..(MAX_LABELS + 50) {
            f.push_str(&line(1000, 5, &format!("/item/{i}"), "200", true));
        }
        let (r, _) = merge(&[f], Window::default());
        assert_eq!(r.labels.len(), MAX_LABELS + 1);
        let other = r.labels.iter().find(|l| l.label == OTHER_LABEL).expect("other");
        assert_eq!(other.stats.requests, 50);
        assert_eq!(r.total.requests, (MAX_LABELS + 50) as u64);
    }

    #[test]
    fn reads_k6_csv() {
        let csv = "metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata\n\
http_reqs,1700000000,1.000000,,,,true,,GET,http://t/a,HTTP/1.1,default,,200,,,http://t/a,,\n\
http_req_duration,1700000000,12.500000,,,,true,,GET,http://t/a,HTTP/1.1,default,,200,,,http://t/a,,\n\
http_req_duration,1700000001,250.000000,,,,false,,GET,http://t/a,HTTP/1.1,default,,503,,,http://t/a,,\n";
        let mut m = SampleMerger::new(Window::default());
        let mut file = m.file(SampleFormat::K6Csv);
        file.push(csv.as_bytes()).expect("header");
        file.finish().expect("header");
        let r = m.into_results();
        assert_eq!(r.total.requests, 2);
        assert_eq!(r.total.failures, 1);
        assert_eq!(r.status_codes.get("503"), Some(&1));
        assert!((r.total.max_ms - 250.0).abs() < 0.5);
        assert!((r.total.p50_ms - 12.5).abs() < 0.1, "{}", r.total.p50_ms);
    }

    /// An in-memory bucket that serves objects in small chunks and can break off one of them.
    struct MemStore {
        objects: BTreeMap<String, Vec<u8>>,
        broken: Option<String>,
    }

    #[async_trait]
    impl ResultStore for MemStore {
        async fn list(&self, _bucket: &str, prefix: &str) -> Result<Vec<String>, String> {
            Ok(self.objects.keys().filter(|k| k.starts_with(prefix)).cloned().collect())
        }
        async fn read(&self, _bucket: &str, key: &str, sink: &mut ChunkSink<'_>) -> Result<(), String> {
            let body = self.objects.get(key).ok_or("NoSuchKey")?;
            for (i, chunk) in body.chunks(100).enumerate() {
                if self.broken.as_deref() == Some(key) && i == 2 {
                    return Err("connection reset".to_string());
                }
                sink(chunk)?;
            }
            Ok(())
        }
    }

    fn task_file(latency: i64, n: i64) -> Vec<u8> {
        let mut f = HEADER.to_string();
        for i in 0..n {
            f.push_str(&line(1_000_000 + i * 10, latency, "home", "200", true));
        }
        f.into_bytes()
    }

    #[tokio::test]
    async fn merges_a_runs_files_and_leaves_out_a_broken_one_whole() {
        let p = "results/T1/2026-12-02T07-40-41_RUN0000001/";
        let mut objects = BTreeMap::new();
        objects.insert(format!("{p}kpi-a-eu-west-1.jtl"), task_file(10, 50));
        objects.insert(format!("{p}kpi-b-eu-west-1.jtl"), task_file(20, 50));
        objects.insert(format!("{p}kpi-c-eu-west-1.jtl"), task_file(900, 50));
        objects.insert(format!("{p}a-eu-west-1.xml"), b"<xml/>".to_vec());
        objects.insert(format!("{p}completion/eu-west-1/t1"), Vec::new());
        // another run of the same test
        objects.insert(
            "results/T1/2026-12-01T01-00-00_OLDRUN0001/kpi-z-eu-west-1.jtl".into(),
            task_file(1, 50),
        );
        let keys: Vec<String> = objects.keys().cloned().collect();
        assert_eq!(run_prefix_of(&keys, "T1", "RUN0000001").as_deref(), Some(p));
        assert_eq!(run_prefix_of(&keys, "T1", "NOPE"), None);

        let store = MemStore {
            objects: objects.clone(),
            broken: None,
        };
        let exact = merge_run(&store, "b", p, Window::default()).await.expect("merged");
        assert_eq!(exact.files, 3);
        assert_eq!(exact.results.total.requests, 150);
        assert!((exact.results.total.max_ms - 900.0).abs() < 1.0);

        let store = MemStore {
            objects,
            broken: Some(format!("{p}kpi-c-eu-west-1.jtl")),
        };
        let exact = merge_run(&store, "b", p, Window::default()).await.expect("merged");
        assert_eq!(exact.files, 2);
        assert_eq!(exact.results.total.requests, 100, "the broken file adds nothing");
        assert_eq!(exact.unreadable_files.len(), 1);
        assert!(exact.unreadable_files[0].contains("connection reset"));
    }

    #[tokio::test]
    async fn no_files_is_an_error_the_caller_can_report() {
        let store = MemStore {
            objects: BTreeMap::new(),
            broken: None,
        };
        let e = merge_run(&store, "b", "results/T/x_R/", Window::default())
            .await
            .expect_err("none");
        assert!(matches!(e, ExactError::NoFiles { .. }), "{e}");
    }

    #[test]
    fn format_from_key() {
        assert_eq!(
            SampleFormat::from_key("results/x/p/kpi-1-eu-west-1.jtl"),
            Some(SampleFormat::Jtl)
        );
        assert_eq!(
            SampleFormat::from_key("results/x/p/kpi-1-eu-west-1.csv"),
            Some(SampleFormat::K6Csv)
        );
        assert_eq!(SampleFormat::from_key("results/x/p/1-eu-west-1.xml"), None);
    }
}
