//! `dlt_test_run` on the local engine against HTTPS targets with broken or private
//! certificates, under real Terraform: each TLS failure counted under its reason
//! (`"tls: unknown issuer"`, ...) in `results.status_codes` and the gate diagnostic, a status
//! gate `"tls"` matching them all, `scenario.ca_bundle` trusting a private CA,
//! `insecure_skip_verify` accepting anything with a warning, and both refused on DLT at plan.

mod support;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value as Json;
use support::mirror::HttpsServer;
use support::terraform::{with_terraform, Workspace};

type Ca = rcgen::CertifiedIssuer<'static, rcgen::KeyPair>;

fn new_ca(name: &str) -> Ca {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    rcgen::CertifiedIssuer::self_signed(p, rcgen::KeyPair::generate().expect("key")).expect("CA")
}

/// A leaf for `host` issued by `ca`, valid from `from` to `until` (years).
fn leaf(ca: &Ca, host: &str, from: i32, until: i32) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut p = rcgen::CertificateParams::new(vec![host.to_string()]).expect("params");
    p.distinguished_name.push(rcgen::DnType::CommonName, host);
    p.not_before = rcgen::date_time_ymd(from, 1, 1);
    p.not_after = rcgen::date_time_ymd(until, 1, 1);
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = p.signed_by(&key, ca).expect("leaf");
    (cert.der().clone(), PrivateKeyDer::Pkcs8(key.serialize_der().into()))
}

/// An HTTPS server on loopback presenting `cert`, answering 200 to everything. Stops on drop.
struct TlsTarget(HttpsServer);

impl TlsTarget {
    fn serve(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> TlsTarget {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("server certificate");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsTarget(HttpsServer::serve(config, |_| {
            hyper::Response::new(Full::new(Bytes::from_static(b"ok")))
        }))
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.0.port())
    }
}

/// A `dlt_test_run` named `name` against `url`; `scenario_extra` goes into `scenario`, `extra`
/// into the resource body.
fn resource(name: &str, url: &str, scenario_extra: &str, extra: &str) -> String {
    let body = format!(
        "  load  = {{ concurrency = 1, hold_for = \"700ms\", request_timeout = \"2s\" }}\n  gates = {{ min_success_rate = 100 }}\n{extra}"
    );
    support::terraform::test_run_resource(name, url, scenario_extra, &body)
}

fn status_codes(ws: &Workspace, name: &str) -> Json {
    ws.attributes(&format!("dlt_test_run.{name}"))["results"]["status_codes"].clone()
}

/// `status_codes` holds exactly one key, `key`, with a count > 0.
fn assert_only(codes: &Json, key: &str) {
    let map = codes.as_object().unwrap_or_else(|| panic!("{codes}"));
    assert_eq!(map.keys().collect::<Vec<_>>(), [key], "{codes}");
    assert!(map[key].as_f64().unwrap_or(0.0) > 0.0, "{codes}");
}

fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn tls_failures_are_counted_by_reason_and_shown_in_the_gate_diagnostic() {
    with_terraform(|tf| {
        let (ca, other_ca) = (new_ca("private CA"), new_ca("trusted CA"));
        let (c, k) = leaf(&ca, "127.0.0.1", 2000, 2999);
        let unknown = TlsTarget::serve(c, k);
        // The CA's own certificate (and key) served as the leaf: what a hand-made self-signed
        // CA often ends up as.
        let ca_leaf = TlsTarget::serve(ca.der().clone(), PrivateKeyDer::Pkcs8(ca.key().serialize_der().into()));
        let (c, k) = leaf(&other_ca, "example.com", 2000, 2999);
        let mismatch = TlsTarget::serve(c, k);
        let (c, k) = leaf(&other_ca, "127.0.0.1", 2000, 2001);
        let expired = TlsTarget::serve(c, k);

        let ws = Workspace::new(tf, "");
        std::fs::write(ws.path().join("trusted.pem"), other_ca.pem()).expect("write bundle");
        let bundle = r#"    ca_bundle = "trusted.pem""#;
        let warn = "  fail_on_gate = false";
        let hcl = [
            "provider \"dlt\" {}\n".to_string(),
            resource(
                "unknown",
                &unknown.url(),
                "",
                "  status_gates = [{ status = \"tls\", max_count = 0 }]",
            ),
            resource("ca_leaf", &ca_leaf.url(), "", warn),
            resource("mismatch", &mismatch.url(), bundle, warn),
            resource("expired", &expired.url(), bundle, warn),
        ]
        .concat();
        ws.write_config(&hcl);
        let out = ws.apply();
        out.assert_failed();
        let text = flat(&out.all());

        assert_only(&status_codes(&ws, "unknown"), "tls: unknown issuer");
        assert_only(&status_codes(&ws, "ca_leaf"), "tls: CA used as end entity");
        assert_only(&status_codes(&ws, "mismatch"), "tls: name mismatch");
        assert_only(&status_codes(&ws, "expired"), "tls: expired");
        // The status gate "tls" counts the reason's failures.
        let a = ws.attributes("dlt_test_run.unknown");
        let failures = a["results"]["failures"].as_f64().unwrap_or(0.0);
        let g = a["gate_results"]
            .as_array()
            .and_then(|g| g.iter().find(|x| x["scope"] == "status tls").cloned())
            .unwrap_or_else(|| panic!("no status tls gate in {a}"));
        assert_eq!(g["passed"], false, "{g}");
        assert_eq!(g["actual"], format!("{failures}"), "{g}");
        // The gate diagnostics name the reason.
        for (name, key) in [
            ("unknown", "tls: unknown issuer"),
            ("ca_leaf", "tls: CA used as end entity"),
            ("mismatch", "tls: name mismatch"),
            ("expired", "tls: expired"),
        ] {
            let codes = status_codes(&ws, name);
            let line = format!("Failed requests by status: {key} ({}).", codes[key]);
            assert!(text.contains(&line), "{name}: no {line:?} in {text}");
        }
    });
}

#[test]
fn ca_bundle_trusts_a_private_ca_and_skip_verify_accepts_any_with_a_warning() {
    with_terraform(|tf| {
        let ca = new_ca("private CA");
        let (c, k) = leaf(&ca, "127.0.0.1", 2000, 2999);
        let private = TlsTarget::serve(c, k);
        let ca_leaf = TlsTarget::serve(ca.der().clone(), PrivateKeyDer::Pkcs8(ca.key().serialize_der().into()));
        let ws = Workspace::new(tf, "");
        std::fs::write(ws.path().join("ca.pem"), ca.pem()).expect("write bundle");
        let hcl = [
            "provider \"dlt\" {}\n".to_string(),
            resource("bundle", &private.url(), r#"    ca_bundle = "ca.pem""#, ""),
            resource("skip", &ca_leaf.url(), "    insecure_skip_verify = true", ""),
        ]
        .concat();
        ws.write_config(&hcl);
        let out = ws.apply();
        out.assert_ok();
        for name in ["bundle", "skip"] {
            let a = ws.attributes(&format!("dlt_test_run.{name}"));
            assert_eq!(a["passed"], true, "{a}");
            assert!(a["results"]["successes"].as_f64().unwrap_or(0.0) > 0.0, "{a}");
            assert_eq!(a["results"]["status_codes"], serde_json::json!({}), "{a}");
        }
        let text = flat(&out.all());
        assert!(text.contains("TLS certificates not verified"), "{text}");
        assert!(text.contains("not authenticated"), "{text}");
        assert_eq!(text.matches("TLS certificates not verified").count(), 1, "{text}");

        // A bundle that is not a PEM certificate is refused at plan, naming the attribute.
        std::fs::write(ws.path().join("ca.pem"), "not a certificate\n").expect("write");
        let out = ws.plan();
        out.assert_failed();
        let text = flat(&out.all());
        assert!(
            text.contains("Invalid CA bundle") && text.contains("scenario.ca_bundle"),
            "{text}"
        );
        assert!(text.contains("holds no PEM certificate"), "{text}");
    });
}

#[test]
fn dlt_refuses_ca_bundle_and_skip_verify_at_plan() {
    with_terraform(|tf| {
        let ws = Workspace::new(tf, "");
        std::fs::write(ws.path().join("ca.pem"), new_ca("private CA").pem()).expect("write bundle");
        let dlt = r#"  dlt = { api_endpoint = "https://abc.execute-api.us-east-1.amazonaws.com/prod/" }"#;
        let hcl = [
            "provider \"dlt\" {}\n".to_string(),
            resource(
                "on_dlt",
                "https://app.example.com/",
                "    ca_bundle = \"ca.pem\"\n    insecure_skip_verify = true",
                dlt,
            ),
        ]
        .concat();
        ws.write_config(&hcl);
        let out = ws.validate();
        out.assert_failed();
        let text = flat(&out.all());
        assert_eq!(text.matches("Not used on DLT").count(), 2, "{text}");
        assert!(
            text.contains("scenario.ca_bundle applies to the local engine only"),
            "{text}"
        );
        assert!(
            text.contains("scenario.insecure_skip_verify applies to the local engine only"),
            "{text}"
        );
        // `false` is fine on DLT.
        ws.write_config(
            &hcl.replace("insecure_skip_verify = true", "insecure_skip_verify = false")
                .replace("    ca_bundle = \"ca.pem\"\n", ""),
        );
        ws.validate().assert_ok();
    });
}
