//! AWS operations.
