//! The Secret step's keystore passwords: the literal `password`, or the key of the Secret
//! `passwordSecretRef` names in the Certificate's own namespace (never another's).

use super::outputs::{Passwords, Store, wanted};
use crate::api::Certificate;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

/// Why a keystore's password could not be had: cert-manager's Event reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub reason: &'static str,
    pub message: String,
}

/// The passwords of the keystores `cert` asks for (`create: true`); none when it asks for none.
pub async fn load(client: &kube::Client, cert: &Certificate) -> Result<Passwords, LoadError> {
    let mut passwords = Passwords::default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &cert.namespace().unwrap_or_default());
    for (store, keystore) in wanted(&cert.spec) {
        let words = store.words();
        let by_ref = keystore.password_secret_ref.as_ref().filter(|r| !r.name.is_empty());
        let password = match (by_ref, keystore.password.as_deref()) {
            (Some(r), _) => {
                let Some(secret) = api.get_opt(&r.name).await? else {
                    return Err(LoadError::Missing(Missing {
                        reason: "KeystorePasswordSecretNotFound",
                        message: format!("{words} keystore password Secret {:?} not found", r.name),
                    }));
                };
                let key = r.key.as_deref().unwrap_or_default();
                match super::secret::text(&secret, key) {
                    Some(p) => p,
                    None => {
                        return Err(LoadError::Missing(Missing {
                            reason: "KeystorePasswordInvalid",
                            message: format!(
                                "{words} keystore password Secret contains no data for key {key:?}"
                            ),
                        }));
                    }
                }
            }
            (None, Some(p)) if !p.is_empty() => p.to_string(),
            (None, Some(_)) => {
                return Err(LoadError::Missing(Missing {
                    reason: "KeystorePasswordInvalid",
                    message: format!("{words} literal password cannot be empty"),
                }));
            }
            (None, None) => {
                let name = if store == Store::Pkcs12 { "PKCS#12" } else { "JKS" };
                return Err(LoadError::Missing(Missing {
                    reason: "KeystorePasswordInvalid",
                    message: format!(
                        "either passwordSecretRef or password must be set for {name} keystore"
                    ),
                }));
            }
        };
        match store {
            Store::Pkcs12 => passwords.pkcs12 = Some(password),
            Store::Jks => passwords.jks = Some(password),
        }
    }
    Ok(passwords)
}

/// Adds the outputs `cert` asks for to its Secret `secret` (outputs.rs), reading the keystore
/// passwords first. `Ok(Err(missing))`: the Secret must not be written; the user is told why.
pub async fn complete(
    client: &kube::Client,
    cert: &Certificate,
    secret: &mut Secret,
) -> Result<Result<(), Missing>, kube::Error> {
    let passwords = match load(client, cert).await {
        Ok(p) => p,
        Err(LoadError::Missing(m)) => return Ok(Err(m)),
        Err(LoadError::Kube(e)) => return Err(e),
    };
    let added = super::outputs::add(secret, &cert.spec, &passwords);
    Ok(added.map_err(|message| Missing { reason: "KeystoreError", message }))
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}", .0.message)]
    Missing(Missing),
    #[error(transparent)]
    Kube(#[from] kube::Error),
}
