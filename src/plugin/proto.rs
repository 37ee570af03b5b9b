//! Generated protocol code (see `build.rs`): `tfplugin6` for Terraform's provider service and
//! `plugin` for go-plugin's controller. Public so integration tests can use the client stubs.
#![allow(clippy::all, missing_docs)]

pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

pub mod plugin {
    tonic::include_proto!("plugin");
}
