use super::*;
use serde_json::json;

fn challenge(yaml: &str) -> Challenge {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn the_resource_namespace_is_the_issuers_or_the_cluster_resource_namespace() {
    let cases = [
        (json!({"name": "le"}), "team-a"),
        (json!({"name": "le", "kind": "Issuer"}), "team-a"),
        (json!({"name": "le", "kind": "Issuer", "group": "cert-manager.io"}), "team-a"),
        (json!({"name": "le", "kind": "ClusterIssuer"}), "cert-manager"),
        (
            json!({"name": "le", "kind": "ClusterIssuer", "group": "cert-manager.io"}),
            "cert-manager",
        ),
    ];
    for (r, want) in cases {
        let r: IssuerReference = serde_json::from_value(r.clone()).unwrap();
        assert_eq!(resource_namespace(&r, "team-a", "cert-manager"), want, "{r:?}");
    }
}

#[test]
fn the_request_is_cert_managers_challenge_request() {
    let ch = challenge(
        "apiVersion: acme.cert-manager.io/v1\nkind: Challenge\n\
         metadata: {name: c, namespace: team-a}\n\
         spec:\n  url: https://ca/chall\n  authorizationURL: https://ca/authz\n  dnsName: example.test\n\
         \x20 wildcard: true\n  type: DNS-01\n  token: t\n  key: K3y\n\
         \x20 issuerRef: {name: le, kind: Issuer}\n\
         \x20 solver: {dns01: {webhook: {groupName: acme.example.test, solverName: bed, config: {zone: example.test, n: 1}}}}\n",
    );
    let webhook = ch.spec.solver.dns01.as_ref().unwrap().webhook.clone().unwrap();
    for (action, word) in [(Action::Present, "Present"), (Action::CleanUp, "CleanUp")] {
        let req = request(
            &ch,
            &webhook,
            action,
            "team-a".into(),
            "_acme-challenge.example.test.".into(),
            "example.test.".into(),
            "u-1".into(),
        );
        let payload = Payload { request: req };
        assert_eq!(
            serde_json::to_value(&payload).unwrap(),
            json!({
                "request": {
                    "uid": "u-1",
                    "action": word,
                    "type": "dns-01",
                    "dnsName": "example.test",
                    "key": "K3y",
                    "resourceNamespace": "team-a",
                    "resolvedFQDN": "_acme-challenge.example.test.",
                    "resolvedZone": "example.test.",
                    "allowAmbientCredentials": false,
                    "config": {"zone": "example.test", "n": 1},
                }
            })
        );
    }
    // No config: none sent (cert-manager's `omitempty`).
    let bare =
        AcmeIssuerDnsWebhook { group_name: "g".into(), solver_name: "s".into(), config: None };
    let req =
        request(&ch, &bare, Action::Present, "ns".into(), "f.".into(), "z.".into(), "u".into());
    assert!(serde_json::to_value(&req).unwrap().get("config").is_none());
}

#[test]
fn the_answer_is_read_as_cert_manager_reads_it() {
    let path = "/apis/acme.example.test/v1alpha1/bed";
    let refused = |code: u16, body: &str| match verdict(path, code, body.as_bytes()) {
        Ok(()) => "ok".to_string(),
        Err(WebhookError::Refused(m)) => format!("refused: {m}"),
        Err(WebhookError::Http { code, message, .. }) => format!("http {code}: {message}"),
        Err(WebhookError::NoReason { .. }) => "no reason".into(),
        Err(WebhookError::Unreadable { .. }) => "unreadable".into(),
        Err(e) => panic!("{e}"),
    };
    let cases = [
        (201, r#"{"response": {"uid": "u", "success": true}}"#, "ok"),
        (200, r#"{"kind": "ChallengePayload", "response": {"success": true}}"#, "ok"),
        (
            201,
            r#"{"response": {"uid": "u", "success": false, "status": {"status": "Failed", "message": "zone example.test is not mine"}}}"#,
            "refused: zone example.test is not mine",
        ),
        // The solver's own words win over the HTTP code.
        (
            500,
            r#"{"response": {"success": false, "status": {"message": "boom"}}}"#,
            "refused: boom",
        ),
        // success without a 2xx is not success (cert-manager also asks `result.Error() == nil`).
        (500, r#"{"response": {"success": true}}"#, r#"http 500: {"response": {"success": true}}"#),
        (201, r#"{"response": {"success": false}}"#, "no reason"),
        (201, r#"{"response": {"success": false, "status": {"message": ""}}}"#, "no reason"),
        (201, "not json", "unreadable"),
        (
            404,
            r#"{"kind": "Status", "status": "Failure", "message": "the server could not find the requested resource", "code": 404}"#,
            "http 404: the server could not find the requested resource",
        ),
        (503, "service unavailable", "http 503: service unavailable"),
    ];
    for (code, body, want) in cases {
        assert_eq!(refused(code, body), want, "{code} {body}");
    }
    // A solver's message is cut to what a status, an Event and a metric label all take.
    let long = "é".repeat(5000);
    let body =
        format!(r#"{{"response": {{"success": false, "status": {{"message": "{long}"}}}}}}"#);
    let got = refused(201, &body);
    assert_eq!(got.strip_prefix("refused: ").unwrap().chars().count(), MAX_MESSAGE);
}

#[test]
fn only_plain_names_make_the_path() {
    let hook = |group: &str, solver: &str| AcmeIssuerDnsWebhook {
        group_name: group.into(),
        solver_name: solver.into(),
        config: None,
    };
    let cases = [
        ("acme.example.com", "cloudflare", Some("/apis/acme.example.com/v1alpha1/cloudflare")),
        ("acme.certsmith.test", "rfc2136", Some("/apis/acme.certsmith.test/v1alpha1/rfc2136")),
        ("a", "my-solver.v2", Some("/apis/a/v1alpha1/my-solver.v2")),
        ("x/../../api/v1/namespaces/kube-system/secrets", "s", None),
        ("acme.example.com", "../../../api/v1/secrets", None),
        ("acme.example.com", "s?dryRun=All", None),
        ("acme.example.com", "s%2F..", None),
        ("Acme.example.com", "s", None),
        ("acme..example.com", "s", None),
        ("-acme.example.com", "s", None),
        ("acme.example.com.", "s", None),
        ("", "s", None),
        ("acme.example.com", "", None),
    ];
    for (group, solver, want) in cases {
        let got = path(&hook(group, solver)).ok();
        assert_eq!(got.as_deref(), want, "{group:?} {solver:?}");
    }
    let Err(WebhookError::Refused(why)) = path(&hook("a/b", "s")) else { panic!() };
    assert!(why.starts_with("dns01.webhook.groupName \"a/b\" is not a name"), "{why}");
}

#[test]
fn a_uid_is_a_fresh_uuid_v4() {
    let (a, b) = (uid(), uid());
    assert_ne!(a, b);
    assert_eq!(a.len(), 36);
    assert_eq!(&a[14..15], "4");
    assert!(a.split('-').map(str::len).eq([8, 4, 4, 4, 12]), "{a}");
}
