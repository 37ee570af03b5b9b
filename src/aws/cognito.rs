//! Cognito user pool administration: making the DLT admin user usable.
//!
//! The DLT stack creates its admin user in `FORCE_CHANGE_PASSWORD` with an emailed temporary
//! password; `AdminSetUserPassword(Permanent=true)` with the SSM value makes it `CONFIRMED` so
//! headless logins work. Errors name the user, pool and parameter, never the value.

use aws_sdk_cognitoidentityprovider::Client;

use super::error::ErrorParts;
use super::secret::Secret;
use super::ssm::{self, SsmError};

#[derive(Debug, thiserror::Error)]
pub enum CognitoError {
    #[error("user {username:?} does not exist in Cognito user pool {user_pool_id} (use the real username, such as the stack's AdminName parameter, not the email alias)")]
    UserNotFound { user_pool_id: String, username: String },
    #[error("Cognito user pool {user_pool_id} does not exist: {cause}")]
    UserPoolNotFound { user_pool_id: String, cause: ErrorParts },
    #[error("the password does not satisfy the password policy of user pool {user_pool_id}: {message}")]
    InvalidPassword { user_pool_id: String, message: String },
    #[error("Cognito refused to set the password of user {username:?} in user pool {user_pool_id}: {cause}")]
    Api {
        user_pool_id: String,
        username: String,
        cause: ErrorParts,
    },
}

/// Sets a permanent password for `username`.
pub async fn admin_set_permanent_password(
    client: &Client,
    user_pool_id: &str,
    username: &str,
    password: &Secret,
) -> Result<(), CognitoError> {
    let res = client
        .admin_set_user_password()
        .user_pool_id(user_pool_id)
        .username(username)
        .password(password.expose())
        .permanent(true)
        .send()
        .await;
    let err = match res {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    let mut cause = ErrorParts::from_sdk(&err);
    // AWS does not echo passwords, but this text reaches diagnostics: make sure.
    cause.message = password.redact_from(&cause.message);
    let pool = user_pool_id.to_string();
    Err(match cause.code.as_deref() {
        Some("UserNotFoundException") => CognitoError::UserNotFound {
            user_pool_id: pool,
            username: username.into(),
        },
        Some("ResourceNotFoundException") => CognitoError::UserPoolNotFound {
            user_pool_id: pool,
            cause,
        },
        Some("InvalidPasswordException") | Some("PasswordHistoryPolicyViolationException") => {
            CognitoError::InvalidPassword {
                user_pool_id: pool,
                message: cause.message,
            }
        }
        _ => CognitoError::Api {
            user_pool_id: pool,
            username: username.into(),
            cause,
        },
    })
}

/// Failure of [`set_admin_password_from_ssm`], naming the parameter and the user.
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

/// Reads `parameter` (decrypted) and sets it as `username`'s permanent password; returns the
/// parameter version that was applied.
pub async fn set_admin_password_from_ssm(
    ssm_client: &aws_sdk_ssm::Client,
    idp: &Client,
    parameter: &str,
    user_pool_id: &str,
    username: &str,
) -> Result<i64, AdminPasswordError> {
    let p = ssm::get_secure_parameter(ssm_client, parameter).await?;
    set_admin_password(idp, &p, user_pool_id, username).await
}

/// Sets an already fetched parameter as `username`'s permanent password; returns its version.
pub async fn set_admin_password(
    idp: &Client,
    p: &ssm::SecureParameter,
    user_pool_id: &str,
    username: &str,
) -> Result<i64, AdminPasswordError> {
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
