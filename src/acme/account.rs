//! ACME accounts: one per issuer, its key in the Secret `privateKeySecretRef` (PEM under
//! `tls.key`, where cert-manager keeps it), registered once and then reused from memory. An
//! account registered with a key certsmith cannot sign with is adopted (`adopt`).

use super::jws::SigningKey;
use super::legacy::LegacyClient;
use super::{AcmeError, adopt, client::for_issuer};
use crate::api::acme::AcmeIssuer;
use crate::api::issuer::AcmeIssuerStatus;
use crate::events::Events;
use crate::issuer::IssuerView;
use crate::metrics::acme_action;
use base64::Engine as _;
use instant_acme::{Account, AccountBuilder, Key};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::Mutex;

/// (directory URL, key hash, contact e-mail): a changed e-mail misses the cache, and is sent.
type CacheKey = (String, String, Option<String>);

/// Registered accounts, cached: certificates of one issuer share one
/// account and never re-register, which keeps certsmith far from the CA's account limits.
#[derive(Default)]
pub struct Accounts {
    cache: Mutex<HashMap<CacheKey, Account>>,
    /// One lookup or registration at a time per issuer, so that concurrent reconciles of its
    /// Certificates do not register the same account twice.
    issuers: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Each issuer's account as last read, by (issuer, directory URL): the Order and Challenge
    /// steps of an issuance use it without reading the key Secret each time.
    recent: std::sync::Mutex<HashMap<(String, String), Recent>>,
}

/// An account as read at `at`, with what the issuer's status said of it then.
type Recent = (std::time::Instant, Account, AcmeIssuerStatus);

/// How long an account is used from memory before its key Secret is read again: a replaced key
/// is noticed within this (the issuer controller always reads).
const FRESH: std::time::Duration = std::time::Duration::from_secs(60);

impl Accounts {
    /// Forgets every cached account at `server`, after the CA said it knows one no more: the next
    /// `get` looks it up again, and registers it anew with the same key when it is gone (an
    /// EAB account then needs its binding, and says so).
    pub async fn forget(&self, server: &str) {
        self.cache.lock().await.retain(|(s, _, _), _| s != server);
        if let Ok(mut recent) = self.recent.lock() {
            recent.retain(|(_, s), _| s != server);
        }
        tracing::warn!(server, "the ACME server no longer knows the account: registering it again");
    }

    /// The issuer's account: as read within the last minute, else [`Accounts::read`].
    pub async fn get(
        &self,
        client: &kube::Client,
        events: &Events,
        issuer: &IssuerView,
    ) -> Result<(Account, AcmeIssuerStatus), AcmeError> {
        let key = recent_key(issuer);
        let known = key.as_ref().and_then(|k| self.recent.lock().ok()?.get(k).cloned());
        if let Some((_, account, status)) = known.filter(|(at, ..)| at.elapsed() < FRESH) {
            return Ok((account, status));
        }
        self.read(client, events, issuer).await
    }

    /// The issuer's account, its key Secret read now, registering it (and creating its key
    /// Secret) when needed, with what the issuer's `status.acme` should say.
    pub async fn read(
        &self,
        client: &kube::Client,
        events: &Events,
        issuer: &IssuerView,
    ) -> Result<(Account, AcmeIssuerStatus), AcmeError> {
        let found = self.load(client, events, issuer).await?;
        if let (Some(key), Ok(mut recent)) = (recent_key(issuer), self.recent.lock()) {
            recent.insert(key, (std::time::Instant::now(), found.0.clone(), found.1.clone()));
        }
        Ok(found)
    }

    async fn load(
        &self,
        client: &kube::Client,
        events: &Events,
        issuer: &IssuerView,
    ) -> Result<(Account, AcmeIssuerStatus), AcmeError> {
        let acme =
            issuer.spec.acme.as_ref().ok_or_else(|| {
                AcmeError::Account(format!("{} has no acme block", issuer.display()))
            })?;
        let reg = Registration::new(client, issuer, acme);
        let lock = self
            .issuers
            .lock()
            .await
            .entry(format!("{}/{}", issuer.secrets_namespace, issuer.display()))
            .or_default()
            .clone();
        let _guard = lock.lock().await;

        let (account, pkcs8) = match reg.secrets.get_opt(&acme.private_key_secret_ref.name).await? {
            Some(secret) => {
                let signing =
                    signing_key(&secret, &reg.field, &reg.where_).map_err(AcmeError::Account)?;
                let Some(pkcs8) = signing.p256_pkcs8() else {
                    // A key instant-acme cannot sign with: the account is adopted, its key
                    // rolled over; it is then used as any other.
                    let adopted = reg.adopt(&secret, &signing).await?;
                    let (about, reason) = (issuer.object_ref(), "AccountKeyRolledOver");
                    events.publish(&about, false, reason, adopted.note).await;
                    let account = reg.restore(adopted.account, &adopted.pkcs8).await?;
                    let cache_key = (reg.server.clone(), hash(&adopted.pkcs8), reg.email.clone());
                    self.cache.lock().await.insert(cache_key, account.clone());
                    return Ok((account.clone(), status(&account, reg.email, &adopted.pkcs8)));
                };
                let cache_key = (reg.server.clone(), hash(&pkcs8), reg.email.clone());
                if let Some(account) = self.cache.lock().await.get(&cache_key) {
                    return Ok((account.clone(), status(account, reg.email, &pkcs8)));
                }
                (reg.existing(&signing, &pkcs8).await?, pkcs8)
            }
            None if acme.disable_account_key_generation == Some(true) => {
                return Err(AcmeError::Account(format!(
                    "{} does not exist and disableAccountKeyGeneration is set",
                    reg.where_
                )));
            }
            None => reg.create().await?,
        };
        let cache_key = (reg.server.clone(), hash(&pkcs8), reg.email.clone());
        self.cache.lock().await.insert(cache_key, account.clone());
        Ok((account.clone(), status(&account, reg.email, &pkcs8)))
    }
}

/// What registering or looking up one issuer's account needs.
struct Registration<'a> {
    acme: &'a AcmeIssuer,
    server: String,
    /// The issuer's Secrets (account key, EAB).
    secrets: Api<Secret>,
    /// The key Secret's entry holding the key.
    field: String,
    /// The key Secret, as messages name it.
    where_: String,
    email: Option<String>,
    /// `mailto:` the e-mail, as sent to the CA.
    contacts: Vec<String>,
}

impl<'a> Registration<'a> {
    fn new(client: &kube::Client, issuer: &IssuerView, acme: &'a AcmeIssuer) -> Self {
        let email = acme.email.clone().filter(|e| !e.is_empty());
        let name = &acme.private_key_secret_ref.name;
        Registration {
            acme,
            server: acme.server.clone(),
            secrets: Api::namespaced(client.clone(), &issuer.secrets_namespace),
            field: key_field(acme),
            where_: format!("Secret {}/{name}", issuer.secrets_namespace),
            contacts: email.iter().map(|e| format!("mailto:{e}")).collect(),
            email,
        }
    }

    fn builder(&self) -> Result<AccountBuilder, AcmeError> {
        Ok(Account::builder_with_http(for_issuer(self.acme)?))
    }

    fn contact(&self) -> Vec<&str> {
        self.contacts.iter().map(String::as_str).collect()
    }

    /// An account whose URL is known, with its P-256 key: no lookup at the CA.
    async fn restore(&self, url: String, pkcs8: &[u8]) -> Result<Account, AcmeError> {
        let key = PrivatePkcs8KeyDer::from(pkcs8);
        let made = self.builder()?.from_parts(url, key, self.server.clone());
        let made = acme_action("discover", made).await;
        made.map_err(|e| AcmeError::from_acme(&self.server, e))
    }

    /// The account of a key certsmith cannot sign with, its key rolled over (see `adopt`).
    async fn adopt(
        &self,
        secret: &Secret,
        signing: &SigningKey,
    ) -> Result<adopt::Adopted, AcmeError> {
        // Refused before the CA is asked anything (`roll_over` checks again before it writes).
        adopt::adoptable(secret, &self.field, &self.where_).map_err(AcmeError::Account)?;
        let mut ca = LegacyClient::new(for_issuer(self.acme)?, &self.server).await?;
        adopt::roll_over(&self.secrets, secret, &self.field, signing, &mut ca).await
    }

    /// The account of the P-256 key in the issuer's Secret, looked up by its key alone
    /// (onlyReturnExisting), which a CA that checks the contact or EAB of a registration
    /// answers all the same; registered anew with that key when the CA does not know it (a
    /// CA reset). Its contact is brought up to date.
    async fn existing(&self, signing: &SigningKey, pkcs8: &[u8]) -> Result<Account, AcmeError> {
        let server = &self.server;
        let key = Key::from_pkcs8_der(PrivatePkcs8KeyDer::from(pkcs8))
            .map_err(|e| AcmeError::Account(format!("{}: {e}", self.where_)))?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8.to_vec()));
        let found = self.builder()?.from_key((key, der), server.clone());
        let account = match acme_action("get_registration", found).await {
            Ok((account, _)) => account,
            Err(e) => {
                let e = AcmeError::from_acme(server, e);
                if !e.account_gone() {
                    return Err(e);
                }
                // Registered with this key and what cert-manager sends, the contact and EAB.
                let eab = external_account_binding(&self.secrets, self.acme).await?;
                let eab = eab.as_ref().map(|(kid, hmac)| (kid.as_str(), hmac.as_slice()));
                let mut ca = LegacyClient::new(for_issuer(self.acme)?, server).await?;
                let url = ca.register(signing, &self.contacts, eab).await?;
                self.restore(url, pkcs8).await?
            }
        };
        let contact = self.contact();
        if !contact.is_empty() {
            let updated =
                acme_action("update_registration", account.update_contacts(&contact)).await;
            updated.map_err(|e| AcmeError::from_acme(server, e))?;
        }
        Ok(account)
    }

    /// A new account: a new P-256 key, stored in the issuer's Secret before the CA hears of
    /// it, then registered with it (as [`Self::existing`] registers a key the CA does not
    /// know). A crash, an API error or a lost answer in between loses no key (nor, with
    /// one-time EAB credentials, the binding): the next try finds the account by its key.
    async fn create(&self) -> Result<(Account, Vec<u8>), AcmeError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| AcmeError::Account(format!("generating the account key: {e}")))?;
        let pkcs8 = key.serialize_der();
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(self.acme.private_key_secret_ref.name.clone()),
                labels: Some(BTreeMap::from([(
                    "app.kubernetes.io/managed-by".into(),
                    "certsmith".into(),
                )])),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(
                self.field.clone(),
                ByteString(key.serialize_pem().into_bytes()),
            )])),
            ..Default::default()
        };
        let stored = self.secrets.create(&PostParams::default(), &secret).await?;
        let signing =
            signing_key(&stored, &self.field, &self.where_).map_err(AcmeError::Account)?;
        let account = self.existing(&signing, &pkcs8).await?;
        Ok((account, pkcs8))
    }
}

fn status(account: &Account, email: Option<String>, pkcs8: &[u8]) -> AcmeIssuerStatus {
    AcmeIssuerStatus {
        uri: Some(account.id().to_string()),
        last_registered_email: email,
        last_private_key_hash: Some(hash(pkcs8)),
    }
}

/// The Secret entry holding the account key: `privateKeySecretRef.key`, `tls.key` by default.
pub fn key_field(acme: &crate::api::acme::AcmeIssuer) -> String {
    acme.private_key_secret_ref.key.clone().unwrap_or_else(|| "tls.key".into())
}

/// The account key kept in `secret` under `field`; a missing or unreadable one is said naming
/// `where_` (the Secret).
pub(crate) fn signing_key(
    secret: &Secret,
    field: &str,
    where_: &str,
) -> Result<SigningKey, String> {
    let pem = secret_field(secret, field)
        .ok_or_else(|| format!("{where_} has no {field:?} entry holding the account key"))?;
    SigningKey::from_pem(&pem).map_err(|e| format!("{where_}: {e}"))
}

pub(crate) fn secret_field(secret: &Secret, field: &str) -> Option<String> {
    let data = secret.data.as_ref()?.get(field)?;
    Some(String::from_utf8_lossy(&data.0).into_owned()).filter(|s| !s.trim().is_empty())
}

/// The EAB key id and key from `externalAccountBinding.keySecretRef`: base64url-encoded, as the
/// CA hands it out. Always HS256, as cert-manager does (its `keyAlgorithm` field is deprecated and ignored).
async fn external_account_binding(
    secrets: &Api<Secret>,
    acme: &crate::api::acme::AcmeIssuer,
) -> Result<Option<(String, Vec<u8>)>, AcmeError> {
    let Some(eab) = &acme.external_account_binding else { return Ok(None) };
    let r = &eab.key_secret_ref;
    let field = r.key.clone().unwrap_or_else(|| "secret".into());
    let secret = secrets.get_opt(&r.name).await?.ok_or_else(|| {
        AcmeError::Account(format!("the externalAccountBinding Secret {:?} does not exist", r.name))
    })?;
    let encoded = secret_field(&secret, &field).ok_or_else(|| {
        AcmeError::Account(format!(
            "the externalAccountBinding Secret {:?} has no {field:?} entry",
            r.name
        ))
    })?;
    let trimmed = encoded.trim().trim_end_matches('=');
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed).map_err(|e| {
        AcmeError::Account(format!(
            "the externalAccountBinding key in Secret {:?} is not base64url: {e}",
            r.name
        ))
    })?;
    Ok(Some((eab.key_id.clone(), key)))
}

/// SHA-256 of the key, hex: `status.acme.lastPrivateKeyHash`, and the cache key.
fn hash(pkcs8: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, pkcs8);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// An issuer's place in the recent-accounts map: what the account depends on in its spec.
fn recent_key(issuer: &IssuerView) -> Option<(String, String)> {
    let acme = issuer.spec.acme.as_ref()?;
    let who = format!(
        "{}/{}|{}|{:?}",
        issuer.secrets_namespace,
        issuer.display(),
        acme.private_key_secret_ref.name,
        acme.email
    );
    Some((who, acme.server.clone()))
}
