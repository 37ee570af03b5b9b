//! `dlt_stack` errors as diagnostics, pinned to the attribute a user would change.

use crate::aws::admin_password::AdminPasswordError;
use crate::aws::cloudformation::StackError;
use crate::aws::cognito::CognitoError;
use crate::aws::ssm::SsmError;
use crate::plugin::Diagnostic;

pub fn stack_diag(summary: &str, e: &StackError) -> Diagnostic {
    let d = Diagnostic::error(summary, e.to_string());
    match e {
        StackError::TemplateBodyTooLarge { .. } => d.at(crate::plugin::AttrPath::root("template_body")),
        StackError::AlreadyExists { .. } => d.at(crate::plugin::AttrPath::root("name")),
        _ => d,
    }
}

pub fn password_diag(e: &AdminPasswordError) -> Diagnostic {
    let path = match e {
        AdminPasswordError::Parameter(_) => "admin_password.ssm_parameter",
        AdminPasswordError::Cognito {
            source: CognitoError::UserNotFound { .. },
            ..
        } => "admin_password.username",
        AdminPasswordError::Cognito { .. } => "admin_password",
    };
    Diagnostic::error("Cannot set the DLT admin password", e.to_string()).at(crate::plugin::AttrPath::parse(path))
}

pub fn ssm_diag(e: &SsmError) -> Diagnostic {
    Diagnostic::error("Cannot read the DLT admin password", e.to_string())
        .at(crate::plugin::AttrPath::parse("admin_password.ssm_parameter"))
}
