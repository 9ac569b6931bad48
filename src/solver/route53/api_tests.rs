use super::*;

fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
}

#[test]
fn the_endpoint_is_the_operators_or_the_partitions() {
    let aws = endpoint(Service::Route53, "eu-west-1", env(&[])).unwrap();
    assert_eq!(
        (aws.url.to_string().as_str(), aws.signing_region),
        ("https://route53.amazonaws.com/", "us-east-1")
    );
    let cn = endpoint(Service::Route53, "cn-north-1", env(&[])).unwrap();
    assert_eq!(
        (cn.url.host(), cn.signing_region),
        (Some("route53.amazonaws.com.cn"), "cn-northwest-1")
    );
    let both =
        [("AWS_ENDPOINT_URL", "http://all:1"), ("AWS_ENDPOINT_URL_ROUTE_53", "http://r53:2/")];
    assert_eq!(endpoint(Service::Route53, "", env(&both)).unwrap().url.host(), Some("r53"));
    assert_eq!(endpoint(Service::Route53, "", env(&both[..1])).unwrap().url.host(), Some("all"));
    let ignored = [both[0], ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")];
    assert_eq!(
        endpoint(Service::Route53, "", env(&ignored)).unwrap().url.host(),
        Some("route53.amazonaws.com")
    );
    assert!(endpoint(Service::Route53, "", env(&[("AWS_ENDPOINT_URL", "ftp://x")])).is_err());
    let userinfo = [("AWS_ENDPOINT_URL", "https://user:pw@r53.example")];
    assert!(endpoint(Service::Route53, "", env(&userinfo)).unwrap_err().contains("credentials"));
    let sts = [("AWS_ENDPOINT_URL_STS", "http://sts:3"), both[1]];
    assert_eq!(endpoint(Service::Sts, "", env(&sts)).unwrap().url.host(), Some("sts"));
    let sts_default = endpoint(Service::Sts, "", env(&both[1..])).unwrap();
    assert_eq!(sts_default.url.host(), Some("sts.amazonaws.com"));
}

#[test]
fn only_plain_ids_go_into_a_path() {
    assert_eq!(plain_id("/hostedzone/Z123ABC"), Some("Z123ABC"));
    assert_eq!(plain_id("/change/C2682N5HXP0BZ4"), Some("C2682N5HXP0BZ4"));
    for bad in ["", "Z1/../x", "Z1?x=1", "Z1%2F"] {
        assert_eq!(plain_id(bad), None, "{bad}");
    }
}

#[test]
fn aws_errors_are_read_in_aws_words() {
    let body = br#"<?xml version="1.0"?>
<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type>
<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message>
</Error><RequestId>r</RequestId></ErrorResponse>"#;
    assert_eq!(
        aws_error(body),
        Some((
            "InvalidClientTokenId".into(),
            "The security token included in the request is invalid.".into()
        ))
    );
    let other = b"<Response><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>m</Message></Error></Errors></Response>";
    assert_eq!(aws_error(other), Some(("SignatureDoesNotMatch".into(), "m".into())));
    assert_eq!(aws_error(b"not xml"), None);
    // Route 53's own shape for a refused change batch (no Code: the root names it), entities
    // and all, as AWS documents it.
    let batch = br#"<?xml version="1.0" encoding="UTF-8"?>
<InvalidChangeBatch xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
  <Messages><Message>Tried to delete resource record set [name=&apos;_acme-challenge.example.test.&apos;, type=&apos;TXT&apos;, set-identifier=&apos;&quot;k&quot;&apos;] but it was not found</Message></Messages>
  <RequestId>r</RequestId>
</InvalidChangeBatch>"#;
    assert_eq!(
        aws_error(batch),
        Some((
            "InvalidChangeBatch".into(),
            "Tried to delete resource record set [name='_acme-challenge.example.test.', type='TXT', set-identifier='\"k\"'] but it was not found".into()
        ))
    );
}

#[test]
fn answers_are_read() {
    let zones = br#"<ListHostedZonesByNameResponse><HostedZones><HostedZone><Id>/hostedzone/Z1</Id>
<Name>example.test.</Name><Config><PrivateZone>true</PrivateZone></Config></HostedZone>
<HostedZone><Id>/hostedzone/Z2</Id><Name>example.test.</Name><Config><Comment>c</Comment>
<PrivateZone>false</PrivateZone></Config></HostedZone></HostedZones><DNSName>example.test</DNSName>
<IsTruncated>false</IsTruncated><MaxItems>100</MaxItems></ListHostedZonesByNameResponse>"#;
    let z: HostedZones = quick_xml::de::from_reader(&zones[..]).unwrap();
    let got: Vec<_> = z
        .hosted_zones
        .hosted_zone
        .iter()
        .map(|z| (z.id.as_str(), z.config.as_ref().unwrap().private_zone))
        .collect();
    assert_eq!(got, [("/hostedzone/Z1", true), ("/hostedzone/Z2", false)]);
    let change = br#"<ChangeResourceRecordSetsResponse><ChangeInfo><Id>/change/C1</Id><Status>PENDING</Status>
<SubmittedAt>2026-01-01T00:00:00Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>"#;
    let c: ChangeAnswer = quick_xml::de::from_reader(&change[..]).unwrap();
    assert_eq!(
        (c.change_info.id.as_str(), c.change_info.status.as_str()),
        ("/change/C1", "PENDING")
    );
}

#[test]
fn a_change_is_one_multivalue_set_per_value() {
    let body = change_body("UPSERT", "_acme-challenge.example.test.", "\"v<1>\"", 10);
    assert!(body.contains("<Action>UPSERT</Action>"), "{body}");
    assert!(body.contains("<SetIdentifier>&quot;v&lt;1&gt;&quot;</SetIdentifier><MultiValueAnswer>true</MultiValueAnswer><TTL>10</TTL>"), "{body}");
}

#[test]
fn assumed_credentials_are_read_and_not_shown() {
    let body = br#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey>
<SessionToken>t0k3n</SessionToken><Expiration>2026-01-01T00:00:00Z</Expiration></Credentials>
<AssumedRoleUser><Arn>a</Arn><AssumedRoleId>i</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>
</AssumeRoleResponse>"#;
    let a: AssumeRoleAnswer = quick_xml::de::from_reader(&body[..]).unwrap();
    let c = &a.assume_role_result.credentials;
    assert_eq!((c.access_key_id.as_str(), c.session_token.as_str()), ("ASIAX", "t0k3n"));
    let shown = format!("{a:?}");
    assert!(!shown.contains("s3cr3t") && !shown.contains("t0k3n"), "{shown}");
}
