//! Adopting an ACME account whose key certsmith cannot sign with (RSA, cert-manager's default;
//! ECDSA P-384): the same account, kept at the CA, its key rolled over to P-256 (RFC 8555
//! §7.3.5). Never a new registration: an EAB account's one-time credentials cannot be reused.
//!
//! Every step is resumable from the Secret alone. The new key is stored beside the old one
//! before the CA hears of it; it replaces the old one only once the CA answers to it; the old
//! key is kept beside it (cert-manager signs with RSA only: `migrate --back` rolls the account
//! back to it). A crash between any two steps loses neither key.
//!
//! Only a Secret that is an account key and nothing else is rolled over (`adoptable`): an
//! Issuer's `privateKeySecretRef` is whatever a namespace's editor writes, and a rollover pointed
//! at an app's TLS Secret by a CA of theirs would replace that app's key.

use super::AcmeError;
use super::jws::SigningKey;
use super::legacy::LegacyClient;
use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

/// Suffixes of the Secret entries beside `field` (`tls.key`): the key being rolled over to,
/// and the key the account had before certsmith adopted it.
pub const NEXT_SUFFIX: &str = ".certsmith-next";
pub const PREVIOUS_SUFFIX: &str = ".certsmith-previous";

/// The outcome: the account's URL (unchanged) and its key now, PKCS#8 DER.
pub struct Adopted {
    pub account: String,
    pub pkcs8: Vec<u8>,
    /// What happened, for the issuer's Event.
    pub note: String,
}

/// Whether the account key under `field` of `secret` (`where_` in messages) may be rolled over:
/// the Secret must hold that key and nothing else but what a rollover adds beside it, as
/// cert-manager and certsmith create account key Secrets (type Opaque, the one entry, no
/// controlling owner). A TLS Secret, a CA's key pair, a Certificate's next private key, or a
/// Secret another controller keeps in step (its rollover undone) is refused, and left
/// untouched. Pure.
pub fn adoptable(secret: &Secret, field: &str, where_: &str) -> Result<(), String> {
    let refuse = |why: String| {
        Err(format!(
            "{where_} is not an ACME account key Secret: {why}; certsmith rolls over the key of a \
             Secret that holds an account key and nothing else (type Opaque, the one entry \
             {field:?}, controlled by no other object), and leaves this one untouched: point \
             privateKeySecretRef at the account's own Secret (a missing one is created with a \
             new account)"
        ))
    };
    let type_ = secret.type_.as_deref().unwrap_or_default();
    if !type_.is_empty() && type_ != "Opaque" {
        return refuse(format!("it is of type {type_}"));
    }
    let mut owners = secret.metadata.owner_references.iter().flatten();
    if let Some(o) = owners.find(|o| o.controller == Some(true)) {
        return refuse(format!("it is controlled by {} {}", o.kind, o.name));
    }
    let ours =
        [field.to_string(), format!("{field}{NEXT_SUFFIX}"), format!("{field}{PREVIOUS_SUFFIX}")];
    let entries = secret.data.iter().flatten().map(|(k, _)| k);
    let others: Vec<&str> = entries.filter(|k| !ours.contains(k)).map(String::as_str).collect();
    if !others.is_empty() {
        return refuse(format!("it also holds {}", others.join(", ")));
    }
    Ok(())
}

fn pem_of(tag: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(tag, der.to_vec()))
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Merge-patches `data` into the Secret, on the condition that it is still at `version`: a
/// Secret someone changed meanwhile is read again, never overwritten.
async fn write(
    secrets: &Api<Secret>,
    name: &str,
    version: Option<String>,
    data: Value,
) -> Result<Option<String>, AcmeError> {
    let patch = json!({"metadata": {"resourceVersion": version}, "data": data});
    let written = secrets.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    Ok(written.resource_version())
}

/// Rolls the account of `old` (the key in `secret`'s `field`) over to a P-256 key.
pub async fn roll_over(
    secrets: &Api<Secret>,
    secret: &Secret,
    field: &str,
    old: &SigningKey,
    ca: &mut LegacyClient,
) -> Result<Adopted, AcmeError> {
    let name = secret.name_any();
    let where_ = format!("Secret {}/{name}", secret.namespace().unwrap_or_default());
    // Before anything is written or signed with the key.
    adoptable(secret, field, &where_).map_err(AcmeError::Account)?;
    let next_field = format!("{field}{NEXT_SUFFIX}");
    let old_pem = super::account::secret_field(secret, field).unwrap_or_default();
    let mut version = secret.resource_version();
    // 1. The key to roll over to: one stored by an earlier attempt, else a new one, stored
    //    before the CA is asked to bind it.
    let stored = super::account::secret_field(secret, &next_field)
        .and_then(|p| SigningKey::from_pem(&p).ok())
        .and_then(|k| k.p256_pkcs8());
    let pkcs8 = match stored {
        Some(pkcs8) => pkcs8,
        None => {
            let pkcs8 = SigningKey::generate_p256().map_err(AcmeError::Account)?;
            let data = json!({ &next_field: b64(&pem_of("PRIVATE KEY", &pkcs8)) });
            version = write(secrets, &name, version, data).await?;
            pkcs8
        }
    };
    let new = SigningKey::from_pem(&pem_of("PRIVATE KEY", &pkcs8)).map_err(AcmeError::Account)?;
    // 2. The CA already answering to the new key means an earlier attempt got this far.
    let account = match ca.lookup(&new).await? {
        Some(account) => account,
        None => {
            let account = ca.lookup(old).await?.ok_or_else(|| {
                AcmeError::Account(format!(
                    "the ACME server knows no account for the {} key in {where_}; certsmith \
                     adopts existing accounts and does not register one in its place (delete the \
                     Secret to register a new account with a new key)",
                    old.describe()
                ))
            })?;
            ca.roll_over(old, &account, &new).await?;
            account
        }
    };
    // 3. The switch, confirmed by the CA: the new key in `field`, the old one kept beside it.
    let data = json!({
        field: b64(&pem_of("PRIVATE KEY", &pkcs8)),
        &next_field: null,
        format!("{field}{PREVIOUS_SUFFIX}"): b64(&old_pem),
    });
    write(secrets, &name, version, data).await?;
    let note = format!(
        "Adopted the ACME account {account}: its {} key was rolled over to ECDSA P-256 (the \
         account URL is unchanged; the old key is kept in {where_} under {field}{PREVIOUS_SUFFIX})",
        old.describe()
    );
    Ok(Adopted { account, pkcs8, note })
}

/// The way back to cert-manager, which signs with RSA keys only: rolls the account of the
/// P-256 key in `field` back to the key certsmith kept under `field.certsmith-previous`, and
/// restores it in `field`. The P-256 key is kept under `field.certsmith-next`, so that a crash
/// loses nothing and a later takeover reuses it. Returns the account URL.
pub async fn roll_back(
    secrets: &Api<Secret>,
    secret: &Secret,
    field: &str,
    ca: &mut LegacyClient,
) -> Result<String, AcmeError> {
    let name = secret.name_any();
    let get = |f: &str| super::account::secret_field(secret, f);
    let previous_field = format!("{field}{PREVIOUS_SUFFIX}");
    let (Some(current_pem), Some(previous_pem)) = (get(field), get(&previous_field)) else {
        return Err(AcmeError::Account(format!(
            "Secret {name} holds no {previous_field}: nothing to roll back to"
        )));
    };
    let current = SigningKey::from_pem(&current_pem).map_err(AcmeError::Account)?;
    let previous = SigningKey::from_pem(&previous_pem).map_err(AcmeError::Account)?;
    let account = match ca.lookup(&previous).await? {
        Some(account) => account,
        None => {
            let account = ca.lookup(&current).await?.ok_or_else(|| {
                AcmeError::Account(format!("the ACME server knows no account for Secret {name}"))
            })?;
            ca.roll_over(&current, &account, &previous).await?;
            account
        }
    };
    let data = json!({
        field: b64(&previous_pem),
        format!("{field}{NEXT_SUFFIX}"): b64(&current_pem),
        &previous_field: null,
    });
    write(secrets, &name, secret.resource_version(), data).await?;
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    /// A Secret `le` with `yaml` (its own `metadata` when it needs owners).
    fn secret(yaml: &str) -> Secret {
        let meta = if yaml.starts_with("metadata:") { "" } else { "metadata: {name: le}\n" };
        serde_yaml::from_str(&format!("apiVersion: v1\nkind: Secret\n{meta}{yaml}")).unwrap()
    }

    #[test]
    fn only_a_secret_holding_an_account_key_and_nothing_else_is_rolled_over() {
        let key = "a2V5"; // base64 of anything: the predicate reads no key
        let table: [(String, &str, Result<(), &str>); 11] = [
            // As cert-manager creates it (type unset is Opaque), and as certsmith leaves it
            // mid-rollover or after one.
            (format!("data: {{tls.key: {key}}}"), "tls.key", Ok(())),
            (format!("type: Opaque\ndata: {{tls.key: {key}}}"), "tls.key", Ok(())),
            (
                format!(
                    "data: {{tls.key: {key}, tls.key.certsmith-next: {key}, tls.key.certsmith-previous: {key}}}"
                ),
                "tls.key",
                Ok(()),
            ),
            (format!("data: {{account: {key}}}"), "account", Ok(())),
            // A non-controlling owner (kept by an app's chart, say) changes nothing.
            (
                format!(
                    "metadata: {{name: le, ownerReferences: [{{apiVersion: v1, kind: ConfigMap, name: c, uid: u}}]}}\ndata: {{tls.key: {key}}}"
                ),
                "tls.key",
                Ok(()),
            ),
            // An app's TLS Secret, and the same data in an Opaque one.
            (
                format!("type: kubernetes.io/tls\ndata: {{tls.crt: {key}, tls.key: {key}}}"),
                "tls.key",
                Err("it is of type kubernetes.io/tls"),
            ),
            (
                format!("data: {{tls.crt: {key}, tls.key: {key}, ca.crt: {key}}}"),
                "tls.key",
                Err("it also holds ca.crt, tls.crt"),
            ),
            (
                format!("data: {{tls.key: {key}, password: {key}}}"),
                "tls.key",
                Err("it also holds password"),
            ),
            // The key asked for is another entry of a bigger Secret.
            (
                format!("data: {{tls.key: {key}, other: {key}}}"),
                "other",
                Err("it also holds tls.key"),
            ),
            // A Certificate's next private key; one that sealed-secrets or external-secrets
            // would put back.
            (
                format!(
                    "metadata: {{name: le, ownerReferences: [{{apiVersion: cert-manager.io/v1, kind: Certificate, name: web, uid: u, controller: true}}]}}\ndata: {{tls.key: {key}}}"
                ),
                "tls.key",
                Err("it is controlled by Certificate web"),
            ),
            (
                format!("type: bootstrap.kubernetes.io/token\ndata: {{tls.key: {key}}}"),
                "tls.key",
                Err("of type bootstrap"),
            ),
        ];
        for (yaml, field, want) in table {
            let s = secret(&yaml);
            assert!(
                s.data
                    .as_ref()
                    .is_some_and(|d| d.values().all(|v| v == &ByteString(b"key".to_vec())))
            );
            let got = adoptable(&s, field, "Secret default/le");
            match (&got, want) {
                (Ok(()), Ok(())) => {}
                (Err(why), Err(words)) => {
                    assert!(why.contains(words), "{yaml}: {why}");
                    assert!(
                        why.starts_with("Secret default/le is not an ACME account key Secret: "),
                        "{why}"
                    );
                    assert!(why.contains("leaves this one untouched"), "{why}");
                }
                _ => panic!("{yaml}: {got:?}, want {want:?}"),
            }
        }
    }
}
