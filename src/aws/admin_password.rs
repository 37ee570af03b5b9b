//! The DLT admin password workflow: read the password from SSM Parameter Store (at the version
//! the plan showed), then set it as the Cognito admin user's permanent password.
//!
//! It is two steps because `dlt_stack` puts the stack change between them: the password is read
//! before the stack is created or updated, so a wrong parameter fails fast and cheap, and set once
//! the stack's user pool exists. Both steps are here, and tested here, exactly as the resource
//! runs them. Errors name the parameter, the user and the pool, never the value.

use aws_sdk_cognitoidentityprovider::Client as IdpClient;
use aws_sdk_ssm::Client as SsmClient;

use super::cognito::{admin_set_permanent_password, CognitoError};
use super::ssm::{self, SecureParameter, SsmError};

/// Failure of [`AdminPassword::set`], naming the parameter and the user.
#[derive(Debug, thiserror::Error)]
pub enum AdminPasswordError {
    #[error("cannot read the admin password: {0}")]
    Parameter(#[from] SsmError),
    #[error("cannot set the password of Cognito user {username:?} from SSM parameter {parameter:?}: {source}")]
    Cognito {
        parameter: String,
        username: String,
        source: CognitoError,
    },
}

/// The password, read and decrypted, ready to be set.
#[derive(Debug)]
pub struct AdminPassword {
    secret: SecureParameter,
}

impl AdminPassword {
    /// Reads `parameter` with decryption. With `version`, reads that version when the latest is
    /// another one (so apply sets exactly the version the plan showed, even if the parameter
    /// rotated again in between); an ARN is read as it is.
    pub async fn read(ssm: &SsmClient, parameter: &str, version: Option<i64>) -> Result<AdminPassword, SsmError> {
        let latest = ssm::get_secure_parameter(ssm, parameter).await?;
        let secret = match version {
            Some(v) if v != latest.version && !parameter.starts_with("arn:") => {
                let mut p = ssm::get_secure_parameter(ssm, &format!("{parameter}:{v}")).await?;
                p.name = parameter.to_string();
                p
            }
            _ => latest,
        };
        Ok(AdminPassword { secret })
    }

    /// The parameter version this password is.
    pub fn version(&self) -> i64 {
        self.secret.version
    }

    /// Sets the password as `username`'s permanent password in `user_pool_id`, which makes a
    /// `FORCE_CHANGE_PASSWORD` user `CONFIRMED`; returns the parameter version applied.
    pub async fn set(&self, idp: &IdpClient, user_pool_id: &str, username: &str) -> Result<i64, AdminPasswordError> {
        let p = &self.secret;
        admin_set_permanent_password(idp, user_pool_id, username, &p.value)
            .await
            .map_err(|source| AdminPasswordError::Cognito {
                parameter: p.name.clone(),
                username: username.to_string(),
                source,
            })?;
        log::info!(
            "set the permanent password of Cognito user {username:?} in {user_pool_id} from SSM parameter {:?} version {}",
            p.name,
            p.version
        );
        Ok(p.version)
    }
}
