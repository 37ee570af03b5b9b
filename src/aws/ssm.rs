//! SSM Parameter Store: the admin password (SecureString) and its version.
//!
//! The version is what makes rotation visible to Terraform: state keeps the version last applied,
//! never the value.

use aws_sdk_ssm::Client;

use super::error::ErrorParts;
use super::secret::Secret;

/// A decrypted parameter.
#[derive(Debug, Clone)]
pub struct SecureParameter {
    pub name: String,
    pub value: Secret,
    pub version: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum SsmError {
    #[error("SSM parameter {name:?} does not exist (check the name and the provider's region)")]
    NotFound { name: String },
    #[error("SSM parameter {name:?} is empty")]
    Empty { name: String },
    #[error(
        "not allowed to read SSM parameter {name:?} ({cause}); the caller needs ssm:GetParameter on it and, for a \
         SecureString, kms:Decrypt on its key"
    )]
    AccessDenied { name: String, cause: ErrorParts },
    #[error("cannot read SSM parameter {name:?}: {cause}")]
    Api { name: String, cause: ErrorParts },
}

fn map_error(
    name: &str,
    err: &aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_ssm::operation::get_parameter::GetParameterError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> SsmError {
    let cause = ErrorParts::from_sdk(err);
    let name = name.to_string();
    match cause.code.as_deref() {
        Some("ParameterNotFound") | Some("ParameterVersionNotFound") => SsmError::NotFound { name },
        Some("AccessDeniedException")
        | Some("AccessDenied")
        | Some("AccessDeniedException.KMS")
        | Some("KMSAccessDeniedException") => SsmError::AccessDenied { name, cause },
        _ => SsmError::Api { name, cause },
    }
}

/// Reads and decrypts a parameter.
pub async fn get_secure_parameter(client: &Client, name: &str) -> Result<SecureParameter, SsmError> {
    let out = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| map_error(name, &e))?;
    let p = out
        .parameter()
        .ok_or_else(|| SsmError::NotFound { name: name.to_string() })?;
    let value = Secret::new(p.value().unwrap_or_default());
    if value.is_empty() {
        return Err(SsmError::Empty { name: name.to_string() });
    }
    Ok(SecureParameter {
        name: name.to_string(),
        value,
        version: p.version(),
    })
}

/// The parameter's current version, without decrypting it (needs no KMS permission).
pub async fn get_parameter_version(client: &Client, name: &str) -> Result<i64, SsmError> {
    let out = client
        .get_parameter()
        .name(name)
        .with_decryption(false)
        .send()
        .await
        .map_err(|e| map_error(name, &e))?;
    // The (still encrypted) value is dropped here unread.
    out.parameter()
        .map(|p| p.version())
        .ok_or_else(|| SsmError::NotFound { name: name.to_string() })
}
