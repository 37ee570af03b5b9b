//! Generates the tfplugin6 and go-plugin controller gRPC code (server and client stubs; the
//! client stubs serve the fake-core integration test). Uses the vendored protoc so a build
//! needs no system protobuf compiler.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/tfplugin6.proto");
    println!("cargo:rerun-if-changed=proto/grpc_controller.proto");
    // Link the provider binary as a fixed-address (non-PIE) executable, as Go links every other
    // Terraform provider: a PIE would spend ~1.5 ms per launch applying ~60k relocations, and
    // Terraform launches the provider 3-4 times per command.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    // Build scripts are single-threaded, so setting the variable for the protoc child is sound.
    std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_protos(&["proto/tfplugin6.proto", "proto/grpc_controller.proto"], &["proto"])?;
    Ok(())
}
