//! Schema and plan-time validation of `dlt_test_run`: every argument forces a new run, and every
//! problem that can be found offline is reported here with the attribute's path.

use crate::plugin::{timeouts_block, Attribute, Block, Diagnostics, Schema, Type, Value};

use super::checks;

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

/// Gate names and their value kind, in the order the table lists them.
pub const GATES: [(&str, GateKind, &str); 8] = [
    (
        "min_success_rate",
        GateKind::Percent,
        "Minimum percent of requests that succeeded (0–100).",
    ),
    (
        "max_p50",
        GateKind::Duration,
        "Maximum median response time, e.g. `\"300ms\"`.",
    ),
    ("max_p90", GateKind::Duration, "Maximum 90th percentile response time."),
    (
        "max_p95",
        GateKind::Duration,
        "Maximum 95th percentile response time, e.g. `\"1.5s\"`.",
    ),
    ("max_p99", GateKind::Duration, "Maximum 99th percentile response time."),
    (
        "max_avg_response_time",
        GateKind::Duration,
        "Maximum mean response time.",
    ),
    (
        "min_throughput",
        GateKind::Rate,
        "Minimum throughput in requests per second.",
    ),
    ("max_failures", GateKind::Count, "Maximum number of failed requests."),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateKind {
    Percent,
    Duration,
    Rate,
    Count,
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
            .describe("The DLT scenarios bucket (`dlt_stack.*.scenarios_bucket`); needed for `jmeter` scenarios."),
        Attribute::string("console_url").optional().describe("DLT console URL, used to build `console_url` result links."),
        Attribute::single("cognito", cognito)
            .optional()
            .describe("Log in through Cognito like the DLT console. Omit to sign requests with the provider's own IAM credentials."),
    ];
    let scenario = vec![
        Attribute::string("type")
            .optional()
            .describe("`simple` (default) or `jmeter` (DLT only)."),
        Attribute::list_of("requests", request)
            .optional()
            .describe("`simple`: the requests each virtual user sends in order, in a loop."),
        Attribute::string("script")
            .optional()
            .describe("`jmeter`: path to a `.jmx` or `.zip`, uploaded to the scenarios bucket before the run."),
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
        .map(|(name, kind, desc)| match kind {
            GateKind::Duration => Attribute::string(name).optional().describe(desc),
            _ => Attribute::number(name).optional().describe(desc),
        })
        .collect();
    let report = vec![
        Attribute::string("junit_path")
            .optional()
            .describe("Write a JUnit XML report here (one test case per gate)."),
        Attribute::string("json_path")
            .optional()
            .describe("Write a JSON report here (results, gates, scenario)."),
    ];
    let result_attrs = Attribute::typed("results", results_type()).computed().describe(
        "Results: `requests`, `successes`, `failures`, `success_rate` (%), `throughput` (req/s), \
         `avg_response_time_ms`, `p50_ms`, `p90_ms`, `p95_ms`, `p99_ms`, `max_ms`, `duration_seconds`. \
         On DLT, percentiles are DLT's mean of per-task percentiles.",
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
    checks::non_empty(&mut d, "name", config.get("name"));

    let dlt = config.get("dlt");
    let on_dlt = !dlt.is_null();
    if on_dlt {
        checks::http_url(&mut d, "dlt.api_endpoint", dlt.get("api_endpoint"));
        checks::http_url(&mut d, "dlt.console_url", dlt.get("console_url"));
        let cognito = dlt.get("cognito");
        checks::one_of(
            &mut d,
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
            checks::non_empty(&mut d, &format!("dlt.cognito.{name}"), cognito.get(name));
        }
    }

    let scenario = config.get("scenario");
    let kind = match scenario.get("type") {
        Value::Null => Some("simple"),
        v => checks::one_of(&mut d, "scenario.type", v, &["simple", "jmeter"]),
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
                    "scenario.script is only used with type = \"jmeter\".",
                );
            }
        }
        Some("jmeter") => {
            if !on_dlt {
                d.attr_error(
                    "scenario.type",
                    "JMeter needs DLT",
                    "type = \"jmeter\" runs only on Distributed Load Testing on AWS: add a dlt block, or use type = \"simple\" on the local engine.",
                );
            }
            match scenario.get("script") {
                Value::Null => d.attr_error(
                    "scenario.script",
                    "Missing script",
                    "A jmeter scenario needs scenario.script (.jmx or .zip).",
                ),
                Value::String(s) if !(s.ends_with(".jmx") || s.ends_with(".zip")) => d.attr_error(
                    "scenario.script",
                    "Invalid script",
                    format!("scenario.script must be a .jmx or .zip file, got {s:?}."),
                ),
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
    for (i, r) in requests.elements().iter().enumerate() {
        let p = format!("scenario.requests[{i}]");
        checks::http_url(&mut d, &format!("{p}.url"), r.get("url"));
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
        if let Some(h) = r.get("headers").entries() {
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
    checks::int_in_range(&mut d, "load.concurrency", load.get("concurrency"), 1, 100_000);
    checks::int_in_range(&mut d, "load.task_count", load.get("task_count"), 1, 10_000);
    checks::duration(&mut d, "load.ramp_up", load.get("ramp_up"));
    checks::positive_duration(&mut d, "load.hold_for", load.get("hold_for"));
    checks::positive_duration(&mut d, "load.request_timeout", load.get("request_timeout"));
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

    let gates = config.get("gates");
    for (name, kind, _) in GATES {
        let path = format!("gates.{name}");
        let v = gates.get(name);
        match kind {
            GateKind::Percent => {
                checks::number_in_range(&mut d, &path, v, 0.0, 100.0);
            }
            GateKind::Duration => {
                checks::duration(&mut d, &path, v);
            }
            GateKind::Rate => {
                checks::number_in_range(&mut d, &path, v, 0.0, f64::MAX);
            }
            GateKind::Count => {
                checks::int_in_range(&mut d, &path, v, 0, i64::MAX);
            }
        }
    }

    let report = config.get("report");
    checks::non_empty(&mut d, "report.junit_path", report.get("junit_path"));
    checks::non_empty(&mut d, "report.json_path", report.get("json_path"));
    let timeouts = config.get("timeouts");
    checks::positive_duration(&mut d, "timeouts.create", timeouts.get("create"));
    checks::positive_duration(&mut d, "timeouts.delete", timeouts.get("delete"));
    d
}
