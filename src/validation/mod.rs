//! What a spec may say (Certificate and Issuer steps): the rules certsmith's CRD schema cannot
//! express, plus the schema's own rules (OpenAPI and CEL) again, for objects stored before a CRD
//! upgrade and on cert-manager's own CRDs, which carry no such rules.
//! Pure functions; the controller turns the errors into a condition and an Event.

pub mod certificate;
pub mod issuer;
pub mod names;

pub use certificate::validate_certificate;
pub use issuer::validate_issuer;

/// One problem with one field, worded as the Kubernetes API server words field errors, so a
/// message reads the same whether the schema or the controller caught it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("{path}: Required value: {detail}")]
    Required { path: String, detail: String },
    #[error("{path}: Invalid value: {value}: {detail}")]
    Invalid { path: String, value: String, detail: String },
    #[error("{path}: Forbidden: {detail}")]
    Forbidden { path: String, detail: String },
    #[error("{path}: Unsupported value: {value}: supported values: {supported}")]
    NotSupported { path: String, value: String, supported: String },
    #[error("{path}: Duplicate value: {value}")]
    Duplicate { path: String, value: String },
}

impl FieldError {
    pub fn required(path: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Required { path: path.into(), detail: detail.into() }
    }

    /// `value` is shown quoted, as the API server shows string values.
    pub fn invalid(path: impl Into<String>, value: &str, detail: impl Into<String>) -> Self {
        Self::Invalid { path: path.into(), value: format!("{value:?}"), detail: detail.into() }
    }

    /// `value` is shown as is (numbers, booleans).
    pub fn invalid_raw(
        path: impl Into<String>,
        value: impl std::fmt::Display,
        detail: impl Into<String>,
    ) -> Self {
        Self::Invalid { path: path.into(), value: value.to_string(), detail: detail.into() }
    }

    pub fn forbidden(path: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Forbidden { path: path.into(), detail: detail.into() }
    }

    pub fn not_supported(path: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let supported = supported.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
        Self::NotSupported { path: path.into(), value: format!("{value:?}"), supported }
    }

    pub fn duplicate(path: impl Into<String>, value: &str) -> Self {
        Self::Duplicate { path: path.into(), value: format!("{value:?}") }
    }
}

/// All the problems of one object, shown as one message (`; `-separated, like the API server).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    /// `Ok(())` when there is nothing to report.
    pub fn check(errors: Vec<FieldError>) -> Result<(), Invalid> {
        if errors.is_empty() { Ok(()) } else { Err(Invalid(errors)) }
    }
}

#[cfg(test)]
mod tests;
