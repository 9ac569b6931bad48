//! Keys, CSRs and issued certificates: the X.509 side of issuance.

pub mod csr;
pub mod dn;
pub mod ext;
pub mod inspect;
pub mod key;
pub mod request;
mod resign;
pub mod sign;
mod template;

/// What can go wrong making or reading keys and certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{0}")]
    Unsupported(String),
    #[error("generating the private key: {0}")]
    Generate(rcgen::Error),
    #[error("the private key is not a PEM key certsmith can read: {0}")]
    ParseKey(rcgen::Error),
    #[error("building the certificate request: {0}")]
    Csr(rcgen::Error),
    #[error("the certificate is not valid PEM X.509: {0}")]
    ParseCertificate(String),
}

/// PEM text with `\n` line endings, as cert-manager and openssl write it (the pem crate's
/// default is `\r\n`).
pub fn pem_text(block: &pem::Pem) -> String {
    pem::encode_config(block, pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF))
}
