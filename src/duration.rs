//! Duration strings with units (`"500ms"`, `"1.5s"`, `"3m"`, `"1h30m"`), as the provider's
//! interface writes them. Every layer reads or shows durations (the AWS waits, the DLT domain,
//! the resources, the `run` command), so this lives at crate level and imports nothing.
//!
//! Go's `time.ParseDuration` grammar without sign: one or more `<decimal><unit>` groups,
//! unit one of `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`. A bare number is refused so that
//! `"30"` never silently means 30 ns or 30 s.

use std::time::Duration;

/// Parses a duration string; the error says what was wrong, for use in a diagnostic detail.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let input = s.trim();
    if input.is_empty() {
        return Err("a duration must not be empty; use a number with a unit, such as \"30s\" or \"5m\"".into());
    }
    let mut rest = input;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("invalid duration {s:?}: expected a number at {rest:?}"));
        }
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("invalid duration {s:?}: {:?} is not a number", &rest[..num_len]))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(format!(
                    "invalid duration {s:?}: missing unit; use ms, s, m or h (for example \"{number}s\")"
                ))
            }
            other => {
                return Err(format!(
                    "invalid duration {s:?}: unknown unit {other:?}; use ms, s, m or h"
                ))
            }
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 1e12 {
        return Err(format!("invalid duration {s:?}: too large"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Formats a duration compactly for messages (`1.5s`, `250ms`, `3m0s`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{}ms", trim_float(ms))
    } else if ms < 60_000.0 {
        format!("{}s", trim_float(ms / 1000.0))
    } else {
        let secs = d.as_secs();
        if secs >= 3600 {
            format!("{}h{}m{}s", secs / 3600, (secs % 3600) / 60, secs % 60)
        } else {
            format!("{}m{}s", secs / 60, secs % 60)
        }
    }
}

fn trim_float(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spec_examples() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("3m").unwrap(), Duration::from_secs(180));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
    }

    #[test]
    fn rejects_bad_input() {
        for bad in ["", "30", "5x", "m", "-1s", "1.2.3s", "abc"] {
            assert!(parse_duration(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(180)), "3m0s");
    }
}
