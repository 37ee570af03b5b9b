//! A `log::Log` that writes hclog-style JSON lines to stderr, where go-plugin picks them up
//! and files them under the provider in Terraform's own log (`TF_LOG`, `TF_LOG_PATH`).
//!
//! The level comes from `TF_LOG_PROVIDER`, else `TF_LOG`. When neither enables logging no
//! logger is installed, so the `log` macros cost a single atomic load.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};

struct HcLogger {
    level: LevelFilter,
    /// The `@module` go-plugin shows in front of each line: `provider.terraform-provider-<type>`.
    module: String,
}

/// Reads the level Terraform asked for. `JSON` (Terraform's machine-readable trace) and any
/// unrecognised non-empty value mean trace, as in Terraform itself; `OFF`/unset mean none.
pub fn level_from_env() -> LevelFilter {
    let raw = std::env::var("TF_LOG_PROVIDER")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| std::env::var("TF_LOG").ok())
        .unwrap_or_default();
    parse_level(&raw)
}

fn parse_level(raw: &str) -> LevelFilter {
    match raw.trim().to_ascii_uppercase().as_str() {
        "" | "OFF" => LevelFilter::Off,
        "ERROR" => LevelFilter::Error,
        "WARN" => LevelFilter::Warn,
        "INFO" => LevelFilter::Info,
        "DEBUG" => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    }
}

/// Installs the logger at the level from the environment, for the provider whose type name
/// (`dlt` in `terraform-provider-dlt`) is `provider_type`. Idempotent (later calls are no-ops).
pub fn init(provider_type: &str) {
    let level = level_from_env();
    if level == LevelFilter::Off {
        return;
    }
    let module = format!("provider.terraform-provider-{provider_type}");
    if log::set_boxed_logger(Box::new(HcLogger { level, module })).is_ok() {
        log::set_max_level(level);
    }
}

/// `2006-01-02T15:04:05.000000Z07:00`, the layout go-plugin requires to treat a line as
/// structured.
fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.microsecond()
    )
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Error => "error",
        Level::Warn => "warn",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    }
}

/// One JSON line for `record`.
fn format_line(module: &str, record: &Record<'_>) -> String {
    let line = serde_json::json!({
        "@level": level_name(record.level()),
        "@message": record.args().to_string(),
        "@module": module,
        "@timestamp": timestamp(),
        "target": record.target(),
    });
    let mut s = line.to_string();
    s.push('\n');
    s
}

/// Crates whose logs follow the requested level; everything else (rustls, h2, hyper, the
/// AWS SDK) is capped at warnings, as their debug output is noise to a Terraform user and may
/// echo request contents.
/// Our own library crate (whatever the package is called) and the binary built from it.
const OWN_LIB: &str = env!("CARGO_CRATE_NAME");

fn is_own_target(target: &str) -> bool {
    let package = env!("CARGO_PKG_NAME");
    target.starts_with(OWN_LIB)
        || (target.len() >= package.len()
            && target
                .bytes()
                .zip(package.bytes())
                .all(|(t, p)| t == p || (t == b'_' && p == b'-')))
}

impl Log for HcLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let own = is_own_target(metadata.target());
        metadata.level() <= self.level && (own || metadata.level() <= Level::Warn)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // One write per line so concurrent threads never interleave within a line.
        let line = format_line(&self.module, record);
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_targets_follow_the_package_not_a_hard_coded_name() {
        assert!(is_own_target(&format!("{OWN_LIB}::engine::worker")));
        assert!(is_own_target(&env!("CARGO_PKG_NAME").replace('-', "_")));
        assert!(!is_own_target("aws_smithy_runtime::client::orchestrator"));
        assert!(!is_own_target("rustls::server"));
    }

    #[test]
    fn levels() {
        assert_eq!(parse_level(""), LevelFilter::Off);
        assert_eq!(parse_level("off"), LevelFilter::Off);
        assert_eq!(parse_level("DEBUG"), LevelFilter::Debug);
        assert_eq!(parse_level("json"), LevelFilter::Trace);
        assert_eq!(parse_level("warn"), LevelFilter::Warn);
    }

    #[test]
    fn line_shape() {
        const MODULE: &str = "provider.terraform-provider-dlt";
        let line = format_line(
            MODULE,
            &Record::builder()
                .args(format_args!("hello \"x\""))
                .level(Level::Info)
                .target("t")
                .build(),
        );
        let j: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(j["@level"], "info");
        assert_eq!(j["@message"], "hello \"x\"");
        assert_eq!(j["@module"], MODULE);
        let ts = j["@timestamp"].as_str().unwrap();
        // 2006-01-02T15:04:05.000000Z
        assert_eq!(ts.len(), 27, "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T' && ts.as_bytes()[19] == b'.');
    }
}
