//! The `dlt_test_run` schema: every argument forces a new run. The checks of the arguments are
//! the configuration model's (`config.rs`), which reads exactly the attributes named here.

use crate::dlt::gates::{Unit, GATES, STATUS_LIMITS};
use crate::dlt::report;
use crate::plugin::{timeouts_block, Attribute, Block, Schema, Type};

/// Computed `results` object: the shared results model, times in ms, throughput in req/s.
pub const RESULT_FIELDS: [(&str, &str); 13] = [
    ("requests", "Requests completed."),
    ("successes", "Requests that got a 2xx/3xx response."),
    (
        "failures",
        "Requests that failed (connection errors, timeouts, 4xx/5xx).",
    ),
    (
        "dropped",
        "Open model (`load.arrival_rate`): requests due that no user was free to send in time; not in `requests`.",
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

/// `results`: the figures, and `status_codes` (failures by status code or transport error).
pub fn results_type() -> Type {
    Type::object(
        RESULT_FIELDS
            .iter()
            .map(|(n, _)| (*n, Type::Number))
            .chain([("status_codes", Type::map(Type::Number))]),
    )
}

/// `dlt_reported`: DLT's own figures (no status codes: `results` holds DLT's).
pub fn stats_type() -> Type {
    Type::object(RESULT_FIELDS.iter().map(|(n, _)| (*n, Type::Number)))
}

pub fn gate_result_type() -> Type {
    Type::object([
        ("scope", Type::String),
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
        Attribute::string("label").optional().describe(
            "The name its results are reported and gated under (`label_gates`). Default: the URL, or \
             `\"METHOD URL\"` when one URL is sent with several methods; the same on DLT.",
        ),
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
        Attribute::string("ca_bundle").optional().describe(
            "Local engine: a PEM file of CA certificates trusted for `https://` requests besides the platform's \
             roots, for targets with a private CA (relative paths start from the directory Terraform runs in). \
             Not available on DLT (a plan-time error).",
        ),
        Attribute::bool("insecure_skip_verify").optional().describe(
            "Local engine: when `true`, accept any server certificate (self-signed, expired, another host's). \
             **Unsafe**: anyone on the path can impersonate the target; the apply warns. Default `false`. \
             Not available on DLT (a plan-time error).",
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
        Attribute::number("arrival_rate").optional().describe(
            "Local engine: the open model. Requests are issued at this many per second (above 0), whether or not \
             earlier ones were answered, by at most `concurrency x task_count` users, brought in only when none is \
             free; latency counts from each request's scheduled time, so a stalled target shows in the percentiles. \
             A request no user could send within `request_timeout` of its time, or before the end, is `dropped`. \
             With `ramp_up`, the rate ramps linearly from `start_rate`. Not available on DLT (a plan-time error).",
        ),
        Attribute::number("start_rate").optional().describe(
            "Local engine, with `arrival_rate` and `ramp_up`: the rate at the start of the ramp-up, requests per \
             second (default 0; above `arrival_rate` it ramps down).",
        ),
    ];
    let gate_columns = || {
        GATES
            .iter()
            .map(|g| match g.unit {
                Unit::Duration => Attribute::string(g.name).optional().describe(g.description),
                Unit::Percent | Unit::Count | Unit::Rate => {
                    Attribute::number(g.name).optional().describe(g.description)
                }
            })
            .collect::<Vec<_>>()
    };
    let gates = gate_columns();
    let label_gate = std::iter::once(
        Attribute::string("label")
            .required()
            .describe("The request label to judge (a request's `label`, or its URL)."),
    )
    .chain(gate_columns())
    .collect();
    let status_gate = std::iter::once(Attribute::string("status").required().describe(
        "A status class (`\"5xx\"`, `\"4xx\"`), one code (`\"429\"`), or a transport failure: `\"timeout\"`, \
         `\"connect\"`, `\"tls\"`, `\"io\"`.",
    ))
    .chain(
        STATUS_LIMITS
            .iter()
            .map(|(name, _, description)| Attribute::number(name).optional().describe(description)),
    )
    .collect();
    let report = report::FORMATS
        .iter()
        .map(|f| Attribute::string(f.key).optional().describe(f.description))
        .collect();
    let result_attrs = Attribute::typed("results", results_type()).computed().describe(
        "Results: `requests`, `successes`, `failures`, `dropped` (open model), `success_rate` (%), `throughput` (req/s), \
         `avg_response_time_ms`, `p50_ms`, `p90_ms`, `p95_ms`, `p99_ms`, `max_ms`, `duration_seconds`, \
         and `status_codes` (failed requests by status code or transport error). Without the `warm_up`. \
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
            replace(Attribute::list_of("label_gates", label_gate).optional().describe(
                "The columns of `gates`, judged on one request label each: `[{ label = \"checkout\", max_p95 = \"800ms\" }]`. \
                 A label the run never reported fails its gates (\"label not measured\").",
            )),
            replace(Attribute::list_of("status_gates", status_gate).optional().describe(
                "Limits on the failed requests of one status each: `[{ status = \"5xx\", max_percent = 1 }]`.",
            )),
            replace(Attribute::string("warm_up").optional().describe(
                "Leave the start of the run out of `results` and every gate: `\"ramp_up\"` (the load's ramp-up) or a \
                 duration such as `\"30s\"`. On DLT it needs v4 (raw samples); v3.2.1 refuses it before the test starts.",
            )),
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
            Attribute::typed("dlt_reported", stats_type()).computed().describe(
                "DLT's own figures (percentiles and maxima averaged over tasks), kept beside the exact `results` \
                 when those were merged from raw samples; null otherwise.",
            ),
            Attribute::typed("gate_results", Type::list(gate_result_type()))
                .computed()
                .describe(
                    "One entry per configured gate: `scope` (`run`, `label <name>`, `status <status>`), `gate`, \
                     `threshold`, `actual`, `passed`.",
                ),
        ])
        .with_block(timeouts_block(&["create", "delete"]))
        .describe("Runs one load test during `terraform apply` and gates the apply on its results. Plan never starts a test."),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::dlt::gates::Limit;
    use crate::plugin::{Diagnostics, Value};
    use crate::resources::test_run::config::TestRunConfig;

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

        let gates = Value::object(GATES.iter().map(|g| {
            let v = match g.unit {
                Unit::Duration => Value::string("250ms"),
                Unit::Count => Value::int(3),
                Unit::Percent | Unit::Rate => Value::float(12.5),
            };
            (g.name, v)
        }));
        let (config, d) = TestRunConfig::parse(&Value::object([("gates", gates)]));
        let gates = config.gates;
        assert!(gate_paths(&d).iter().all(|p| !p.starts_with("gates")), "{d:?}");
        assert_eq!(gates.iter().count(), GATES.len());
        assert_eq!(gates.get("max_p95"), Some(Limit::Duration(Duration::from_millis(250))));
        assert_eq!(gates.get("max_failures"), Some(Limit::Count(3)));
        assert_eq!(gates.get("min_success_rate"), Some(Limit::Number(12.5)));
    }

    #[test]
    fn bad_gates_name_their_path_and_unknowns_wait() {
        let gates = Value::object([
            ("min_success_rate", Value::int(120)),
            ("max_p95", Value::string("fast")),
            ("max_failures", Value::float(1.5)),
            ("min_throughput", Value::float(-1.0)),
            ("max_p99", Value::Unknown),
        ]);
        let (config, d) = TestRunConfig::parse(&Value::object([("gates", gates)]));
        let gates = config.gates;
        let d = Diagnostics(
            d.0.into_iter()
                .filter(|x| x.attribute.as_ref().is_some_and(|p| p.to_string().starts_with("gates")))
                .collect(),
        );
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
        let (config, d) = TestRunConfig::parse(&Value::object([("gates", Value::Null)]));
        assert!(config.gates.is_empty());
        assert!(gate_paths(&d).iter().all(|p| !p.starts_with("gates")), "{d:?}");
    }
}
