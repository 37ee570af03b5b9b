//! The DLT domain: scenario and results model, quality gates and reports (shared by the local
//! engine and DLT on AWS), and the DLT REST API client. No Terraform types here.
pub mod duration;
