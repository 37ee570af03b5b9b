//! Cognito user pool administration: making the DLT admin user usable.
//!
//! The DLT stack creates its admin user in `FORCE_CHANGE_PASSWORD` with an emailed temporary
//! password; `AdminSetUserPassword(Permanent=true)` with the SSM value makes it `CONFIRMED` so
//! headless logins work (the whole workflow, from SSM, is `admin_password.rs`). Errors name the
//! user and pool, never the value.

use aws_sdk_cognitoidentityprovider::Client;

use super::error::ErrorParts;
use super::secret::Secret;

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
