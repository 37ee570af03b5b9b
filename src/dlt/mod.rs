//! The DLT domain: scenario and results model, quality gates and reports (shared by the local
//! engine and DLT on AWS), and the DLT REST API client. No Terraform types here.
pub mod api_route;
pub mod client;
pub mod exact;
pub mod gates;
pub mod limits;
pub mod model;
pub mod report;
pub mod results;
pub mod retry;
pub mod runner;
pub mod samples;
pub mod scenario;
pub mod stack_outputs;
pub mod task_results;
pub mod throttle;
pub mod timeline;
