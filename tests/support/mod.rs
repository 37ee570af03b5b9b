//! Shared test support: real Terraform, local HTTP targets, moto, the DLT API double.
#![allow(dead_code)]

pub mod target;
pub mod terraform;
