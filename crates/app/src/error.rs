//! The service's errors: the caller's mistakes, named by field and value, apart from
//! failures of the database itself.

use aftercare_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("no {what} `{key}`")]
    NotFound { what: &'static str, key: String },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Transition(#[from] aftercare_domain::TransitionError),
    #[error("{0}")]
    Refused(String),
    #[error("the audit log is broken at event {seq}: {problem}")]
    AuditBroken { seq: i64, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: &'static str, key: impl Into<String>) -> Self {
        AppError::NotFound {
            what,
            key: key.into(),
        }
    }

    /// Whether the caller can fix it (bad input, wrong state), as opposed to a failure of
    /// the database.
    pub fn is_callers(&self) -> bool {
        !matches!(self, AppError::Store(_) | AppError::AuditBroken { .. })
    }
}
