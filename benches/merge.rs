//! Merging DLT raw samples: throughput on one core and peak memory against file size.
//!
//! `cargo bench --bench merge -- generate DIR TASKS SAMPLES` writes TASKS Taurus-shaped JTL files
//! (`kpi-<n>-eu-west-1.jtl`, the columns Taurus configures, 8 labels, ~2 % failures, one task
//! slower than the others) of SAMPLES lines each; `cargo bench --bench merge -- merge DIR` merges
//! every `.jtl` in DIR with `dlt::samples`, reading each file in 256 KiB chunks as the S3 stream
//! does, on one thread, and prints samples, seconds, samples per second, bytes per second and the
//! process's peak RSS. `scripts/bench-merge` runs both at two sizes against `wc -l` as the peer.
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use dlt_provider::dlt::samples::{SampleFormat, SampleMerger, Window};

const HEADER: &str = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,success,bytes,grpThreads,allThreads,Latency,Hostname,Connect\n";
const LABELS: [&str; 8] = [
    "https://shop.example.com/",
    "https://shop.example.com/login",
    "https://shop.example.com/search?q=shoes",
    "https://shop.example.com/cart",
    "https://shop.example.com/checkout",
    "https://shop.example.com/api/v1/items",
    "https://shop.example.com/api/v1/prices",
    "https://shop.example.com/health",
];

/// A small deterministic generator (xorshift64*), so every run writes the same files.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn generate(dir: &Path, tasks: u64, samples: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for task in 0..tasks {
        let path = dir.join(format!("kpi-{task:04}-eu-west-1.jtl"));
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&path)?);
        out.write_all(HEADER.as_bytes())?;
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (task + 1));
        let slow = task == tasks - 1;
        let mut ts: u64 = 1_764_000_000_000 + task * 1500;
        let mut line = String::with_capacity(256);
        for i in 0..samples {
            let r = rng.next();
            ts += r % 3;
            let mut elapsed = 20 + (r >> 8) % 180;
            if slow {
                elapsed *= 4;
            }
            let label = LABELS[((r >> 20) % 8) as usize];
            let failed = (r >> 32).is_multiple_of(50);
            let (code, message) = if failed {
                ("503", "Service Unavailable")
            } else {
                ("200", "OK")
            };
            let thread = 1 + (i % 50);
            line.clear();
            use std::fmt::Write as _;
            let _ = writeln!(
                line,
                "{ts},{elapsed},{label},{code},{message},Thread Group 1-{thread},{},{},50,50,{},ip-10-0-1-{task}.ec2.internal,{}",
                !failed,
                512 + (r >> 40) % 4096,
                elapsed.saturating_sub(3),
                (r >> 48) % 4
            );
            out.write_all(line.as_bytes())?;
        }
        out.flush()?;
    }
    Ok(())
}

fn peak_rss_kib() -> i64 {
    // SAFETY: getrusage only writes the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
        usage.ru_maxrss
    } else {
        -1
    }
}

fn merge(dir: &Path) -> std::io::Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jtl"))
        .collect();
    files.sort();
    let started = Instant::now();
    let mut merger = SampleMerger::new(Window::default());
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    for path in &files {
        let mut f = File::open(path)?;
        let mut file = merger.file(SampleFormat::Jtl);
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
            file.push(&buf[..n]).map_err(std::io::Error::other)?;
        }
        file.finish().map_err(std::io::Error::other)?;
    }
    let summary = merger.summary();
    let results = merger.into_results();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "merge: files={} samples={} unreadable={} seconds={secs:.3} samples_per_second={:.0} mb_per_second={:.0} peak_rss_kib={} p95_ms={:.1} p99_ms={:.1} labels={}",
        files.len(),
        summary.samples,
        summary.unreadable,
        summary.samples as f64 / secs,
        bytes as f64 / secs / 1e6,
        peak_rss_kib(),
        results.total.p95_ms,
        results.total.p99_ms,
        results.labels.len()
    );
    Ok(())
}

fn main() -> std::io::Result<()> {
    // `cargo bench` appends `--bench`; ignore flags.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    match args.as_slice() {
        [cmd, dir, tasks, samples] if cmd == "generate" => {
            let parse = |s: &str| s.parse::<u64>().map_err(std::io::Error::other);
            generate(Path::new(dir), parse(tasks)?, parse(samples)?)
        }
        [cmd, dir] if cmd == "merge" => merge(Path::new(dir)),
        _ => {
            eprintln!("usage: merge generate DIR TASKS SAMPLES | merge merge DIR");
            Ok(())
        }
    }
}
