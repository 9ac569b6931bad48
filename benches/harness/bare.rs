//! A bare instant-acme client on the bed's Pebble: what the benchmarks hold the operator to
//! (the benchmarks' own, beside the tests' harness they share).

use crate::support::acme::PebbleBed;
use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, RetryPolicy,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A new account at the bed's Pebble, through the operator's HTTP client.
async fn new_account(pebble: &PebbleBed) -> Result<Account, instant_acme::Error> {
    let ca = std::fs::read(&pebble.ca_pem).unwrap();
    let new =
        NewAccount { contact: &[], terms_of_service_agreed: true, only_return_existing: false };
    let http = certsmith::acme::client::http_client(Some(&ca), false).unwrap();
    let builder = Account::builder_with_http(http);
    Ok(builder.create(&new, pebble.directory_url.clone(), None).await?.0)
}

/// One account, and an HTTP-01 responder answering from memory on Pebble's validation port.
pub struct BareClient {
    account: Account,
    tokens: Arc<Mutex<HashMap<String, String>>>,
}

impl BareClient {
    pub async fn start(pebble: &PebbleBed) -> BareClient {
        let tokens: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let responder = {
            let tokens = tokens.clone();
            axum::Router::new().route(
                "/.well-known/acme-challenge/{token}",
                axum::routing::get(move |axum::extract::Path(t): axum::extract::Path<String>| {
                    let answer = tokens.lock().unwrap().get(&t).cloned();
                    async move { answer.ok_or(axum::http::StatusCode::NOT_FOUND) }
                }),
            )
        };
        let listener =
            tokio::net::TcpListener::bind(("127.0.0.1", pebble.http01_port)).await.unwrap();
        tokio::spawn(async move { axum::serve(listener, responder).await });
        // Pebble refuses some nonces, as real CAs do: a bare client retries too.
        let mut tries = 0;
        let account = loop {
            match new_account(pebble).await {
                Ok(account) => break account,
                Err(_) if tries < 5 => tries += 1,
                Err(e) => panic!("creating the bare client's account: {e}"),
            }
        };
        BareClient { account, tokens }
    }

    /// Whether Pebble's account store answers within 5 s: a new account takes its write lock.
    /// Pebble 2.4 can deadlock on its own store's locks under parallel orders and polls (its
    /// goroutine dump shows every handler waiting in `MemoryStore`) while its directory and
    /// nonces still answer; after that no order of anyone's gets on.
    pub async fn store_answers(pebble: &PebbleBed) -> bool {
        // A refused nonce is an answer too.
        tokio::time::timeout(Duration::from_secs(5), new_account(pebble)).await.is_ok()
    }

    /// One certificate for `name`, as the operator gets one: an order, the HTTP-01 answers, a
    /// new RSA 2048 key (off the async workers) and CSR, the chain. Returns the milliseconds.
    /// An issuance the CA broke off (a refused nonce) starts again with a new order.
    pub async fn issue(&self, name: &str) -> f64 {
        let start = Instant::now();
        for _ in 0..5 {
            if self.try_issue(name).await.is_ok() {
                return start.elapsed().as_secs_f64() * 1000.0;
            }
        }
        panic!("{name}: five issuances failed");
    }

    async fn try_issue(&self, name: &str) -> Result<(), instant_acme::Error> {
        let ids = [Identifier::Dns(name.to_string())];
        let mut order = self.account.new_order(&NewOrder::new(&ids)).await?;
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz?;
            if authz.status != AuthorizationStatus::Pending {
                continue;
            }
            let mut challenge = authz.challenge(ChallengeType::Http01).unwrap();
            let answer = challenge.key_authorization().as_str().to_string();
            self.tokens.lock().unwrap().insert(challenge.token.clone(), answer);
            challenge.set_ready().await?;
        }
        let poll = RetryPolicy::new().initial_delay(Duration::from_millis(100)).backoff(1.5);
        order.poll_ready(&poll).await?;
        let name = name.to_string();
        let csr = tokio::task::spawn_blocking(move || {
            let key = certsmith::pki::key::KeySpec::Rsa(2048).generate().unwrap();
            let spec: certsmith::api::CertificateSpec = serde_yaml::from_str(&format!(
                "secretName: x\nissuerRef: {{name: x}}\ndnsNames: [{name}]"
            ))
            .unwrap();
            certsmith::pki::csr::build(&spec, &key, certsmith::pki::csr::Sans::Acme).unwrap()
        })
        .await
        .unwrap();
        order.finalize_csr(&csr).await?;
        order.poll_certificate(&poll).await?;
        Ok(())
    }
}
