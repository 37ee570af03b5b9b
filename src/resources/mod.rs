//! Resources and data sources: translation between Terraform values and the domain.
pub mod checks;
pub mod model;
pub mod provider_config;
pub mod provider_data;
pub mod stack;
pub mod stack_data;
pub mod test_run;
