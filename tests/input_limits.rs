//! Inputs that would overflow a library type or come back whole in a diagnostic are refused at
//! validation with the attribute and the limit named, under real Terraform: the regression tests
//! for what a protocol fuzzer found (a panic in the `http` crate's header map at 24,576 headers, a
//! 50 MB endpoint echoed in a 50 MB diagnostic).

mod support;

use support::terraform::{with_terraform, Workspace};

fn test_run(requests: &str) -> String {
    format!(
        r#"provider "dlt" {{}}

resource "dlt_test_run" "limits" {{
  name     = "limits"
  scenario = {{ requests = [{requests}] }}
  load     = {{ concurrency = 1, task_count = 1, ramp_up = "0s", hold_for = "1s" }}
  gates    = {{ min_success_rate = 99 }}
}}
"#
    )
}

/// `terraform validate -json`: fails, and returns each diagnostic as "summary: detail". Terraform
/// itself quotes the offending source line in its snippet; what the provider says is the detail.
fn validate_fails(ws: &Workspace) -> Vec<String> {
    let run = ws.run(&["validate", "-json", "-no-color"]);
    run.assert_failed();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("validate -json output");
    let diags: Vec<String> = json["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| {
            format!(
                "{}: {}",
                d["summary"].as_str().unwrap_or(""),
                d["detail"].as_str().unwrap_or("")
            )
        })
        .collect();
    for d in &diags {
        assert!(!d.contains("Provider bug") && !d.contains("panic"), "{d}");
        assert!(d.len() < 2_000, "a diagnostic echoes the value: {} bytes", d.len());
    }
    diags
}

#[test]
fn header_count_beyond_the_limit_is_a_diagnostic_not_a_panic() {
    with_terraform(|tf| {
        let headers: String = (0..24_576).map(|i| format!("\"x-h{i}\" = \"v\", ")).collect();
        let ws = Workspace::new(
            tf,
            &test_run(&format!(
                "{{ url = \"http://127.0.0.1:9/\", headers = {{ {headers} }} }}"
            )),
        );
        let out = validate_fails(&ws).join("\n");
        assert!(out.contains("Header limit exceeded"), "{out}");
        assert!(out.contains("24576 headers are set; the limit is 100"), "{out}");
        assert!(out.contains("scenario.requests[0].headers"), "{out}");
    });
}

#[test]
fn header_value_body_and_request_count_limits_name_their_attribute() {
    with_terraform(|tf| {
        let big_value = "v".repeat(9_000);
        let big_body = "b".repeat(17_000_000);
        let requests = format!(
            "{{ url = \"http://127.0.0.1:9/a\", headers = {{ authorization = \"{big_value}\" }} }}, \
             {{ url = \"http://127.0.0.1:9/b\", method = \"POST\", body = \"{big_body}\" }}"
        );
        let ws = Workspace::new(tf, &test_run(&requests));
        let out = validate_fails(&ws).join("\n");
        assert!(out.contains("9000 bytes long; the limit is 8192 bytes"), "{out}");
        assert!(
            out.contains("scenario.requests[1].body: the body is 17000000 bytes"),
            "{out}"
        );
        assert!(
            out.len() < 20_000,
            "the diagnostics echo the values: {} bytes",
            out.len()
        );

        let many: Vec<String> = (0..1_001)
            .map(|i| format!("{{ url = \"http://127.0.0.1:9/{i}\" }}"))
            .collect();
        ws.write_config(&test_run(&many.join(", ")));
        let out = validate_fails(&ws).join("\n");
        assert!(
            out.contains("scenario.requests: 1001 requests are set; the limit is 1000"),
            "{out}"
        );
    });
}

#[test]
fn a_huge_endpoint_is_not_echoed_back() {
    with_terraform(|tf| {
        let huge = format!("http://127.0.0.1:9/{}", "a".repeat(5_000_000));
        let hcl = format!(
            "provider \"dlt\" {{\n  region = \"us-east-1\"\n  endpoints = {{ s3 = \"{huge}\" }}\n}}\n\
             data \"dlt_stack\" \"x\" {{\n  name = \"DLT\"\n}}\n"
        );
        let ws = Workspace::new(tf, &hcl);
        let out = validate_fails(&ws).join("\n");
        assert!(
            out.contains("endpoints.s3: the URL is 5000019 bytes long; the limit is 8192 bytes"),
            "{out}"
        );
    });
}
