//! The service's errors. The caller's mistakes (bad input, an unknown reference, a move the
//! case's state does not allow) are told apart from the system's (a policy not configured,
//! stored data that no longer reads, the database failing): the first are answered to the
//! caller (a 4xx at the HTTP edge), the second are the operator's to fix (a 500 that shows
//! nothing internal) and never settle anything, such as cancelling a timer.

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
    /// Credentials (a password, a link, a token) that do not sign anyone in.
    #[error("{0}")]
    Unauthenticated(String),
    /// Signed in, but not allowed this (a move the role does not take, a scope the token lacks).
    #[error("{0}")]
    Forbidden(String),
    /// The thing changed since the caller saw it.
    #[error("{0}")]
    Stale(String),
    /// Too many attempts: try again in `retry_after` seconds.
    #[error("{message}")]
    Throttled { message: String, retry_after: u64 },
    /// Missing or wrong configuration: a policy the data names is not loaded, a policy text
    /// not at hand. The operator fixes it; the same request then works.
    #[error("configuration: {0}")]
    Config(String),
    /// Stored data that can no longer be read.
    #[error("stored {what} cannot be read: {message}")]
    Corrupt { what: String, message: String },
    /// `at` names the place: an event (`case:12 event 3`), a leaf of the tree or a checkpoint.
    #[error("the audit log is broken at {at}: {problem}")]
    AuditBroken { at: String, problem: String },
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

    pub fn corrupt(what: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Corrupt {
            what: what.into(),
            message: message.into(),
        }
    }

    /// Whether the caller can fix it (bad input, an unknown reference, a move the state does
    /// not allow), as opposed to a failure of the configuration, the stored data or the
    /// database.
    pub fn is_callers(&self) -> bool {
        matches!(
            self,
            AppError::NotFound { .. }
                | AppError::Invalid { .. }
                | AppError::Transition(_)
                | AppError::Refused(_)
                | AppError::Unauthenticated(_)
                | AppError::Forbidden(_)
                | AppError::Stale(_)
                | AppError::Throttled { .. }
        )
    }

    /// Whether the case's own state machine refused the move: the only refusal that settles
    /// a timer for good (the case moved on in a way the timer did not foresee).
    pub fn is_state_refusal(&self) -> bool {
        matches!(self, AppError::Transition(_))
    }
}

/// JSON the service stored itself, read back: text that no longer parses is corrupt data,
/// reported as such, never shown as `null`.
pub(crate) fn stored_json(what: &str, text: &str) -> Result<serde_json::Value, AppError> {
    serde_json::from_str(text).map_err(|e| AppError::corrupt(what, e.to_string()))
}
