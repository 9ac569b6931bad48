use super::*;

#[test]
fn the_update_url_is_the_hosts_update() {
    for (host, want) in [
        ("https://auth.acme-dns.io", "https://auth.acme-dns.io/update"),
        ("https://auth.acme-dns.io/", "https://auth.acme-dns.io/update"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/update"),
        ("https://h.example/acme-dns", "https://h.example/acme-dns/update"),
    ] {
        assert_eq!(update_url(host).unwrap().to_string(), want, "{host}");
    }
    for host in ["auth.acme-dns.io", "ftp://h", "", "https://h/?a=b", "https://h x"] {
        let e = update_url(host).unwrap_err().to_string();
        assert!(e.starts_with("dns01.acmeDNS.host"), "{host}: {e}");
    }
}

#[test]
fn the_accounts_are_read_as_acme_dns_clients_write_them() {
    let json = br#"{"example.test": {"username": "u-1", "password": "pw-1",
        "fulldomain": "s-1.auth.acme-dns.test", "subdomain": "s-1", "allowfrom": []},
        "other.test": {"username": "u-2", "password": "pw-2", "subdomain": "s-2"}}"#;
    let all = accounts(json, "Secret ns/a entry \"acmedns.json\"").unwrap();
    assert_eq!(all["example.test"].subdomain, "s-1");
    assert_eq!(all["example.test"].fulldomain, "s-1.auth.acme-dns.test");
    assert_eq!(all["other.test"].username, "u-2");
    // Debug never shows the password.
    let shown = format!("{:?}", all["example.test"]);
    assert!(shown.contains("u-1") && !shown.contains("pw-1"), "{shown}");
}

#[test]
fn unreadable_account_json_is_named_without_its_values() {
    let where_ = "Secret ns/a entry \"k\"";
    for (json, words) in [
        (&br#"{"example.test": "hunter2-secret"}"#[..], "not a map of domain to account"),
        (br#"{"example.test": {"username": "u", "password": 7, "subdomain": "s"}}"#, "not a map"),
        (br#"{"example.test": {"username": "u", "subdomain": "s"}}"#, "not a map"),
        (br#"{"example.test": {"username": "u", "password": "hunter2-secret"#, "cut short"),
        (b"hunter2-secret", "not JSON"),
    ] {
        let e = accounts(json, where_).unwrap_err().to_string();
        assert!(e.contains(words) && e.contains(where_), "{e}");
        assert!(!e.contains("hunter2"), "the message quotes the Secret: {e}");
    }
}

#[test]
fn acme_dns_refusals_are_its_own_words() {
    let v = |code: u16, body: &str| match verdict("http://h", "example.test", code, body.as_bytes())
    {
        Ok(()) => "ok".to_string(),
        Err(e) => e.to_string(),
    };
    assert_eq!(v(200, r#"{"txt": "abc"}"#), "ok");
    assert_eq!(
        v(401, r#"{"error": "forbidden"}"#),
        "acme-dns at http://h refused the update for example.test: HTTP 401: forbidden"
    );
    assert!(v(400, r#"{"error": "bad_txt"}"#).ends_with("HTTP 400: bad_txt"));
    // Not acme-dns: the status alone, never the body (the host may be any server).
    let other = v(404, "<html>internal page</html>");
    assert_eq!(
        other,
        "http://h answered the update for example.test with HTTP 404, and no acme-dns error"
    );
    assert!(v(500, r#"{"error": ""}"#).contains("no acme-dns error"));
    assert!(v(401, &format!(r#"{{"error": "{}"}}"#, "x".repeat(5000))).len() < 400);
}

#[test]
fn it_is_configured_by_acme_dns_only() {
    let config = |yaml: &str| -> AcmeChallengeSolver { serde_yaml::from_str(yaml).unwrap() };
    let acme_dns = config(
        "dns01: {acmeDNS: {host: 'https://h', accountSecretRef: {name: s, key: acmedns.json}}}",
    );
    assert!(AcmeDnsSolver.configured_by(&acme_dns));
    assert!(
        !AcmeDnsSolver.configured_by(&config("dns01: {webhook: {groupName: g, solverName: s}}"))
    );
    assert!(std::ptr::eq(
        crate::solver::for_config(&acme_dns).unwrap() as *const dyn Solver as *const (),
        &AcmeDnsSolver as *const AcmeDnsSolver as *const ()
    ));
    // cert-manager's required fields: host and accountSecretRef.
    assert!(serde_yaml::from_str::<AcmeChallengeSolver>("dns01: {acmeDNS: {host: h}}").is_err());
}

/// What a stand-in server saw: the account headers and the body of each request.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>;

/// Serves `router` on a free loopback port; its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn recorder(seen: Seen) -> axum::Router {
    let record = move |headers: http::HeaderMap, body: String| async move {
        let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        seen.lock().unwrap().push((h("x-api-user"), h("x-api-key"), body));
        r#"{"txt": "k"}"#
    };
    axum::Router::new().route("/update", axum::routing::post(record))
}

// The exact request (the real server's e2e test needs acme-dns built, which CI cannot do), and
// no redirect followed: the account's key goes to the issuer's host only.
#[tokio::test]
async fn the_update_carries_the_account_to_the_host_only() {
    let account = Account {
        username: "user-1".into(),
        password: "secret-1".into(),
        fulldomain: "d.auth.example".into(),
        subdomain: "d".into(),
    };
    let seen = Seen::default();
    let host = serve(recorder(seen.clone())).await;
    update(&format!("{host}/"), "example.test", &account, "k").await.unwrap();
    let body = r#"{"subdomain":"d","txt":"k"}"#.to_string();
    assert_eq!(*seen.lock().unwrap(), [("user-1".into(), "secret-1".into(), body)]);

    let elsewhere = Seen::default();
    let target = format!("{}/update", serve(recorder(elsewhere.clone())).await);
    let redirect = move || {
        let to = target.clone();
        async move { (http::StatusCode::TEMPORARY_REDIRECT, [(http::header::LOCATION, to)]) }
    };
    let redirecting =
        serve(axum::Router::new().route("/update", axum::routing::post(redirect))).await;
    let e = update(&redirecting, "example.test", &account, "k").await.unwrap_err();
    assert!(e.to_string().contains("HTTP 307"), "{e}");
    assert!(!e.to_string().contains("secret-1"), "{e}");
    assert!(elsewhere.lock().unwrap().is_empty(), "the redirect was followed");
}
