//! Shared test support, one module for every suite (`mod support;`): real Terraform and
//! workspaces ([`terraform`]), local HTTP targets ([`target`]), the moto server and its seed
//! ([`moto`]), the DLT API double ([`dlt_double`]), the fault proxy ([`fault_proxy`]), and the
//! small helpers several suites share (a runtime, flattened Terraform output, secret checks).
//! Each suite uses only part of it, hence `dead_code` is allowed here.
#![allow(dead_code)]

/// Declares tests that run once per DLT release the double imitates: for each
/// `fn name(version: DltVersion)` it makes `name::v3_2_1` and `name::v4_2_3` (so
/// `cargo nextest run name::v4` runs one mode). `sync:` wraps plain functions, `async:` async ones
/// on a two-thread runtime.
#[macro_export]
macro_rules! in_both_dlt_modes {
    (sync: $($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn v3_2_1() {
                super::$name($crate::support::dlt_double::DltVersion::V321)
            }
            #[test]
            fn v4_2_3() {
                super::$name($crate::support::dlt_double::DltVersion::V423)
            }
        }
    )*};
    (async: $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn v3_2_1() {
                super::$name($crate::support::dlt_double::DltVersion::V321).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn v4_2_3() {
                super::$name($crate::support::dlt_double::DltVersion::V423).await
            }
        }
    )*};
}

pub mod dlt_double;
pub mod fault_proxy;
pub mod mirror;
pub mod moto;
pub mod target;
pub mod terraform;
pub mod terragrunt;

/// A small multi-thread runtime for suites whose tests are synchronous (Terraform runs) but
/// need async set-up (moto seeding, SDK checks).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Terraform output with the diagnostic box drawing removed and whitespace collapsed, so message
/// checks do not depend on line wrapping.
pub fn flat(text: &str) -> String {
    text.replace(['│', '╷', '╵'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Asserts none of `secrets` appears in `text`.
#[track_caller]
pub fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{what} contains a secret ({} chars)", s.len());
    }
}
