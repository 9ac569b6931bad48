use super::*;

#[test]
fn web_identity_is_reported_unsupported() {
    let mut r53 = AcmeIssuerDnsRoute53 { access_key_id: Some("AKID".into()), ..Default::default() };
    r53.role = Some("arn:aws:iam::1:role/dns".into());
    assert_eq!(unsupported(&r53), None, "a role is assumed with the issuer's key");
    r53.auth = Some(Default::default());
    assert!(unsupported(&r53).unwrap().contains("auth.kubernetes is not supported"));
}

#[test]
fn the_type_reads_cert_managers_fields() {
    let yaml = r#"{region: us-east-1, accessKeyIDSecretRef: {name: a, key: id},
        secretAccessKeySecretRef: {name: a, key: secret}, hostedZoneID: Z1, role: r,
        auth: {kubernetes: {serviceAccountRef: {name: sa, audiences: [sts.amazonaws.com]}}}}"#;
    let r53: AcmeIssuerDnsRoute53 = serde_yaml::from_str(yaml).unwrap();
    assert_eq!(r53.hosted_zone_id.as_deref(), Some("Z1"));
    assert_eq!(r53.access_key_id_secret_ref.unwrap().key.as_deref(), Some("id"));
    let sa = r53.auth.unwrap().kubernetes.service_account_ref;
    assert_eq!((sa.name.as_str(), sa.audiences.unwrap().len()), ("sa", 1));
}
