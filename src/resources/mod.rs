//! Resources and data sources: translation between Terraform values and the domain.
