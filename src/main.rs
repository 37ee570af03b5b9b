//! `terraform-provider-dlt`: Terraform launches it without arguments (plugin mode); `--debug`
//! serves it for `TF_REATTACH_PROVIDERS`; `--version` prints the version.

use std::process::ExitCode;
use std::sync::Arc;

use dlt_provider::plugin;
use dlt_provider::provider::DltProvider;

/// The provider's source address, as written in `required_providers`.
const ADDRESS: &str = "registry.terraform.io/dlt-tools/dlt";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        None => plugin::serve(Arc::new(DltProvider::new()), ADDRESS),
        Some("--debug") => plugin::serve_debug(Arc::new(DltProvider::new()), ADDRESS),
        Some("--version" | "-v" | "version") => {
            println!("terraform-provider-dlt {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("run") => dlt_provider::cli::main(&args[2..]),
        Some(other) => {
            eprintln!(
                "terraform-provider-dlt: unknown argument {other:?}\n\n\
                 usage: terraform-provider-dlt            (started by Terraform)\n\
                 \x20      terraform-provider-dlt --debug    (serve for TF_REATTACH_PROVIDERS)\n\
                 \x20      terraform-provider-dlt run --config test.json   (run a test on the local engine)\n\
                 \x20      terraform-provider-dlt --version"
            );
            ExitCode::from(2)
        }
    }
}
