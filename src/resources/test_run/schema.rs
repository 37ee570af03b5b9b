//! Schema and plan-time validation of `dlt_test_run`: every argument forces a new run, and every
//! problem that can be found offline is reported here with the attribute's path.

use crate::dlt::gates::{Gates, Limit, Unit, GATES};
use crate::plugin::{timeouts_block, Attribute, Block, Diagnostics, Schema, Type, Value};

use crate::dlt::limits;
use crate::dlt::report;
use crate::dlt::scenario::ScriptType;
use crate::resources::checks;

/// Computed `results` object: the shared results model, times in ms, throughput in req/s.
pub const RESULT_FIELDS: [(&str, &str); 12] = [
    ("requests", "Requests completed."),
    ("successes", "Requests that got a 2xx/3xx response."),
    (
        "failures",
        "Requests that failed (connection errors, timeouts, 4xx/5xx).",
    ),
    ("success_rate", "successes / requests x 100."),
    ("throughput", "Requests per second over the measured duration."),
    ("avg_response_time_ms", "Mean response time in milliseconds."),
    ("p50_ms", "Median response time in milliseconds."),
    ("p90_ms", "90th percentile response time in milliseconds."),
    ("p95_ms", "95th percentile response time in milliseconds."),
    ("p99_ms", "99th percentile response time in milliseconds."),
    ("max_ms", "Slowest response in milliseconds."),
    ("duration_seconds", "Measured duration in seconds."),
];

pub fn results_type() -> Type {
    Type::object(RESULT_FIELDS.iter().map(|(n, _)| (*n, Type::Number)))
}

pub fn gate_result_type() -> Type {
    Type::object([
        ("gate", Type::String),
        ("threshold", Type::String),
        ("actual", Type::String),
        ("passed", Type::Bool),
    ])
}

fn replace(a: Attribute) -> Attribute {
    a.requires_replace()
}

pub fn schema() -> Schema {
    let request = vec![
        Attribute::string("url")
            .required()
            .describe("Absolute `http://` or `https://` URL."),
        Attribute::string("method")
            .optional()
            .describe("HTTP method. Default `GET`."),
        Attribute::string_map("headers").optional().describe("Request headers."),
        Attribute::string("body").optional().describe("Request body."),
    ];
    let cognito = vec![
        Attribute::string("user_pool_id").required().describe("Cognito user pool ID (`dlt_stack.*.user_pool_id`)."),
        Attribute::string("client_id").required().describe("User pool app client ID (`dlt_stack.*.user_pool_client_id`)."),
        Attribute::string("identity_pool_id")
            .required()
            .describe("Identity pool ID (`dlt_stack.*.identity_pool_id`) that exchanges the login for AWS credentials."),
        Attribute::string("username").required().describe("The DLT user to log in as (the stack's `AdminName`)."),
        Attribute::string("password_ssm_parameter")
            .required()
            .describe("SSM parameter (SecureString) holding the user's password; read with decryption at apply time."),
        Attribute::string("auth_flow")
            .optional()
            .describe("`USER_PASSWORD_AUTH` (default; the modified v3.2.1 template enables it) or `USER_SRP_AUTH` (upstream templates)."),
    ];
    let dlt = vec![
        Attribute::string("api_endpoint")
            .required()
            .describe("The DLT REST API base URL ending in `/prod/` (`dlt_stack.*.api_endpoint`)."),
        Attribute::string("region").optional().describe("Region of the DLT stack (for SigV4). Default: the provider's region."),
        Attribute::string("scenarios_bucket")
            .optional()
            .describe("The DLT scenarios bucket (`dlt_stack.*.scenarios_bucket`); needed for script scenarios, and on DLT v4 for exact percentiles from the raw samples (`s3:ListBucket`, `s3:GetObject` on `results/*`)."),
        Attribute::string("console_url").optional().describe("DLT console URL, used to build `console_url` result links."),
        Attribute::single("cognito", cognito)
            .optional()
            .describe("Log in through Cognito like the DLT console. Omit to sign requests with the provider's own IAM credentials."),
    ];
    let scenario = vec![
        Attribute::string("type").optional().describe(
            "`simple` (default), or a script run on DLT: `jmeter`, `k6` or `locust` (k6 and Locust need DLT v4).",
        ),
        Attribute::list_of("requests", request)
            .optional()
            .describe("`simple`: the requests each virtual user sends in order, in a loop."),
        Attribute::string("script").optional().describe(
            "The script of a `jmeter` (`.jmx`), `k6` (`.js`, `.ts`) or `locust` (`.py`) scenario, or a `.zip` of \
                 it, uploaded to the scenarios bucket before the run.",
        ),
    ];
    let load = vec![
        Attribute::number("concurrency")
            .required()
            .describe("Virtual users per task."),
        Attribute::number("task_count")
            .optional()
            .describe("Tasks per region on DLT (default 1). The local engine runs `concurrency x task_count` users."),
        Attribute::string_list("regions")
            .optional()
            .describe("DLT regions to run in. Default: the `dlt.region` or the provider's region."),
        Attribute::string("ramp_up")
            .optional()
            .describe("Time to start all virtual users, e.g. `\"1m\"`. Default `\"0s\"`."),
        Attribute::string("hold_for")
            .required()
            .describe("How long to hold full load after ramp-up, e.g. `\"3m\"`."),
        Attribute::string("request_timeout")
            .optional()
            .describe("Local engine: per-request timeout (default `\"30s\"`); a timed-out request is a failure."),
    ];
    let gates = GATES
        .iter()
        .map(|g| match g.unit {
            Unit::Duration => Attribute::string(g.name).optional().describe(g.description),
            Unit::Percent | Unit::Count | Unit::Rate => Attribute::number(g.name).optional().describe(g.description),
        })
        .collect();
    let report = report::FORMATS
        .iter()
        .map(|f| Attribute::string(f.key).optional().describe(f.description))
        .collect();
    let result_attrs = Attribute::typed("results", results_type()).computed().describe(
        "Results: `requests`, `successes`, `failures`, `success_rate` (%), `throughput` (req/s), \
         `avg_response_time_ms`, `p50_ms`, `p90_ms`, `p95_ms`, `p99_ms`, `max_ms`, `duration_seconds`. \
         On DLT v4 these are exact, merged from every task's raw samples in the scenarios bucket \
         (see `percentile_method`); otherwise DLT's own figures.",
    );
    Schema::new(
        Block::new(vec![
            Attribute::string("id").computed().describe("DLT test ID, or `local-...` on the local engine."),
            replace(Attribute::string("name").required().describe("Test name.")),
            replace(Attribute::string("description").optional().describe("Test description.")),
            replace(Attribute::single("dlt", dlt).optional().describe(
                "Run on Distributed Load Testing on AWS. Omit to run on the local engine (the machine running Terraform).",
            )),
            replace(Attribute::single("scenario", scenario).required().describe("What each virtual user does.")),
            replace(Attribute::single("load", load).required().describe("The load shape.")),
            replace(Attribute::single("gates", gates).optional().describe("Quality gates evaluated on the results.")),
            replace(Attribute::bool("fail_on_gate").default(true).describe(
                "When `true` (default) a failed gate fails the apply (the run is saved, tainted, and re-runs on the next apply). \
                 When `false` a failed gate is a warning and `passed` is `false`.",
            )),
            replace(Attribute::string_map("triggers").optional().describe("Arbitrary values; any change forces a new run.")),
            replace(Attribute::single("report", report).optional().describe("Report files written after the run.")),
            Attribute::string("engine").computed().describe("`local` or `dlt`."),
            Attribute::string("status").computed().describe("`complete`, `failed` or `cancelled`."),
            Attribute::bool("passed").computed().describe("Whether every gate passed."),
            Attribute::string("started_at").computed().describe("RFC 3339 start time."),
            Attribute::string("finished_at").computed().describe("RFC 3339 end time."),
            Attribute::string("console_url").computed().describe("Link to the run in the DLT console (DLT only)."),
            result_attrs,
            Attribute::string("percentile_method").computed().describe(
                "Where the percentiles in `results` come from: `exact` (local engine), \
                 `exact (merged raw samples, N tasks)` (DLT v4), or `DLT (average of per-task percentiles)` \
                 (DLT v3.2.1 simple tests, or when the raw samples could not be read; a warning says why).",
            ),
            Attribute::typed("dlt_reported", results_type()).computed().describe(
                "DLT's own figures (percentiles and maxima averaged over tasks), kept beside the exact `results` \
                 when those were merged from raw samples; null otherwise.",
            ),
            Attribute::typed("gate_results", Type::list(gate_result_type()))
                .computed()
                .describe("One entry per configured gate: `gate`, `threshold`, `actual`, `passed`."),
        ])
        .with_block(timeouts_block(&["create", "delete"]))
        .describe("Runs one load test during `terraform apply` and gates the apply on its results. Plan never starts a test."),
    )
}

/// Offline validation of a (possibly partly unknown) configuration.
pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    validate_except_gates(&mut d, config);
    parse_gates(&mut d, config.get("gates"));
    d
}

/// `gates`: one limit per attribute set, each checked in its gate's unit; null and unknown
/// attributes are left out (Terraform validates again once they are known).
pub fn parse_gates(d: &mut Diagnostics, gates: &Value) -> Gates {
    let mut out = Gates::default();
    for g in &GATES {
        let path = format!("gates.{}", g.name);
        let v = gates.get(g.name);
        let (min, max) = g.unit.bounds();
        let limit = match g.unit {
            Unit::Duration => checks::duration(d, &path, v).map(Limit::Duration),
            Unit::Count => checks::int_in_range(d, &path, v, min as i64, max as i64).map(|n| Limit::Count(n as u64)),
            Unit::Percent | Unit::Rate => checks::number_in_range(d, &path, v, min, max).map(Limit::Number),
        };
        if let Some(limit) = limit {
            // The limit was read in the gate's own unit, so it fits.
            let _ = out.set(g.name, limit);
        }
    }
    out
}

/// Everything but `gates`.
pub fn validate_except_gates(d: &mut Diagnostics, config: &Value) {
    checks::non_empty(d, "name", config.get("name"));

    let dlt = config.get("dlt");
    let on_dlt = !dlt.is_null();
    if on_dlt {
        checks::http_url(d, "dlt.api_endpoint", dlt.get("api_endpoint"));
        checks::http_url(d, "dlt.console_url", dlt.get("console_url"));
        let cognito = dlt.get("cognito");
        checks::one_of(
            d,
            "dlt.cognito.auth_flow",
            cognito.get("auth_flow"),
            &["USER_PASSWORD_AUTH", "USER_SRP_AUTH"],
        );
        for name in [
            "user_pool_id",
            "client_id",
            "identity_pool_id",
            "username",
            "password_ssm_parameter",
        ] {
            checks::non_empty(d, &format!("dlt.cognito.{name}"), cognito.get(name));
        }
    }

    let scenario = config.get("scenario");
    let kind = match scenario.get("type") {
        Value::Null => Some("simple"),
        v => checks::one_of(d, "scenario.type", v, &["simple", "jmeter", "k6", "locust"]),
    };
    let requests = scenario.get("requests");
    match kind {
        Some("simple") => {
            if requests.is_null() || (!requests.is_unknown() && requests.elements().is_empty()) {
                d.attr_error(
                    "scenario.requests",
                    "Missing requests",
                    "A simple scenario needs at least one request in scenario.requests.",
                );
            }
            if !scenario.get("script").is_null() {
                d.attr_error(
                    "scenario.script",
                    "Unexpected script",
                    "scenario.script is only used with type = \"jmeter\", \"k6\" or \"locust\".",
                );
            }
        }
        Some(t) => {
            // one_of let only the listed types through; "simple" is matched above.
            let kind = ScriptType::parse(t).unwrap_or(ScriptType::Jmeter);
            if !on_dlt {
                d.attr_error(
                    "scenario.type",
                    "Script tests need DLT",
                    format!(
                        "type = \"{t}\" runs only on Distributed Load Testing on AWS{}: add a dlt block, or use type = \"simple\" on the local engine.",
                        if kind.needs_v4() { " v4" } else { "" }
                    ),
                );
            }
            match scenario.get("script") {
                Value::Null => d.attr_error(
                    "scenario.script",
                    "Missing script",
                    format!(
                        "A {t} scenario needs scenario.script ({}).",
                        kind.extensions()
                            .iter()
                            .map(|e| format!(".{e}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                Value::String(s) => {
                    if let Err(e) = kind.check_extension(s) {
                        d.attr_error("scenario.script", "Invalid script", format!("scenario.script: {e}."));
                    } else if !std::path::Path::new(s).is_file() {
                        d.attr_error(
                            "scenario.script",
                            "Script not found",
                            format!(
                                "scenario.script {s:?} is not a readable file (relative paths start from the directory \
                                 Terraform runs in; path.module helps in modules)."
                            ),
                        );
                    }
                }
                _ => {}
            }
            if !requests.is_null() && !requests.elements().is_empty() {
                d.attr_error(
                    "scenario.requests",
                    "Unexpected requests",
                    "scenario.requests is only used with type = \"simple\".",
                );
            }
        }
        _ => {}
    }
    if let Err(e) = limits::requests(requests.elements().len()) {
        d.attr_error(
            "scenario.requests",
            "Too many requests",
            format!("scenario.requests: {e}."),
        );
    }
    for (i, r) in requests.elements().iter().enumerate() {
        let p = format!("scenario.requests[{i}]");
        checks::http_url(d, &format!("{p}.url"), r.get("url"));
        if let Some(Err(e)) = r.get("body").as_str().map(limits::body) {
            d.attr_error(&format!("{p}.body"), "Body too large", format!("{p}.body: {e}."));
        }
        let over = r.get("headers").entries().and_then(|h| {
            limits::header_count(h.len()).err().or_else(|| {
                h.iter()
                    .find_map(|(k, v)| limits::header(k, v.as_str().unwrap_or_default()).err())
            })
        });
        let headers_within_limits = over.is_none();
        if let Some(e) = over {
            d.attr_error(
                &format!("{p}.headers"),
                "Header limit exceeded",
                format!("{p}.headers: {e}."),
            );
        }
        if let Some(m) = r.get("method").as_str() {
            let ok = !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic());
            if !ok {
                d.attr_error(
                    &format!("{p}.method"),
                    "Invalid method",
                    format!("{m:?} is not an HTTP method such as \"GET\"."),
                );
            } else if on_dlt && !["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"].contains(&m) {
                d.attr_error(
                    &format!("{p}.method"),
                    "Invalid method",
                    format!("DLT accepts GET, POST, PUT, DELETE, PATCH, HEAD or OPTIONS, got {m:?}."),
                );
            }
        }
        // Over the limits, the per-name checks would repeat the problem thousands of times.
        if let Some(h) = r.get("headers").entries().filter(|_| headers_within_limits) {
            for name in h.keys() {
                let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
                if !ok {
                    d.attr_error(
                        &format!("{p}.headers"),
                        "Invalid header name",
                        format!("{name:?} is not a valid header name."),
                    );
                }
            }
        }
    }

    let load = config.get("load");
    checks::int_in_range(d, "load.concurrency", load.get("concurrency"), 1, 100_000);
    checks::int_in_range(d, "load.task_count", load.get("task_count"), 1, 10_000);
    checks::duration(d, "load.ramp_up", load.get("ramp_up"));
    checks::positive_duration(d, "load.hold_for", load.get("hold_for"));
    checks::positive_duration(d, "load.request_timeout", load.get("request_timeout"));
    for (i, r) in load.get("regions").elements().iter().enumerate() {
        if let Some(s) = r.as_str() {
            let ok = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                d.attr_error(
                    &format!("load.regions[{i}]"),
                    "Invalid region",
                    format!("{s:?} is not an AWS region name."),
                );
            }
        }
    }

    let report = config.get("report");
    for f in &report::FORMATS {
        checks::non_empty(d, &format!("report.{}", f.key), report.get(f.key));
    }
    let timeouts = config.get("timeouts");
    checks::positive_duration(d, "timeouts.create", timeouts.get("create"));
    checks::positive_duration(d, "timeouts.delete", timeouts.get("delete"));
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn gate_paths(d: &Diagnostics) -> Vec<String> {
        d.iter()
            .filter_map(|x| x.attribute.as_ref().map(|p| p.to_string()))
            .collect()
    }

    #[test]
    fn every_gate_of_the_table_is_in_the_schema_and_parses() {
        let schema = schema();
        let gates_attr = schema
            .block
            .attributes
            .iter()
            .find(|a| a.name == "gates")
            .and_then(|a| a.nested_attributes())
            .map(|(nested, _)| nested.iter().map(|a| a.name.clone()).collect::<Vec<_>>())
            .unwrap_or_default();
        let table: Vec<String> = GATES.iter().map(|g| g.name.to_string()).collect();
        assert_eq!(gates_attr, table);

        let config = Value::object(GATES.iter().map(|g| {
            let v = match g.unit {
                Unit::Duration => Value::string("250ms"),
                Unit::Count => Value::int(3),
                Unit::Percent | Unit::Rate => Value::float(12.5),
            };
            (g.name, v)
        }));
        let mut d = Diagnostics::new();
        let gates = parse_gates(&mut d, &config);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(gates.iter().count(), GATES.len());
        assert_eq!(gates.get("max_p95"), Some(Limit::Duration(Duration::from_millis(250))));
        assert_eq!(gates.get("max_failures"), Some(Limit::Count(3)));
        assert_eq!(gates.get("min_success_rate"), Some(Limit::Number(12.5)));
    }

    #[test]
    fn bad_gates_name_their_path_and_unknowns_wait() {
        let config = Value::object([
            ("min_success_rate", Value::int(120)),
            ("max_p95", Value::string("fast")),
            ("max_failures", Value::float(1.5)),
            ("min_throughput", Value::float(-1.0)),
            ("max_p99", Value::Unknown),
        ]);
        let mut d = Diagnostics::new();
        let gates = parse_gates(&mut d, &config);
        assert_eq!(
            gate_paths(&d),
            [
                "gates.min_success_rate",
                "gates.max_p95",
                "gates.min_throughput",
                "gates.max_failures"
            ]
        );
        assert!(gates.is_empty());
        let mut d = Diagnostics::new();
        assert!(parse_gates(&mut d, &Value::Null).is_empty());
        assert!(d.is_empty());
    }
}
