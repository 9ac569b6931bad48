//! The certificate request's extensions as tables: SANs, otherNames and NameConstraints in
//! the DER cert-manager writes.

use super::*;
use crate::api::certificate::{NameConstraintItem, NameConstraints};
use x509_parser::extensions::{GeneralName as Parsed, NameConstraints as ParsedNc};
use x509_parser::prelude::FromDer;

#[test]
fn cidrs_read_as_go_reads_them() {
    let table: &[(&str, Option<(&str, u8)>)] = &[
        ("10.0.0.0/8", Some(("10.0.0.0", 8))),
        ("10.1.2.3/8", Some(("10.1.2.3", 8))),
        ("192.0.2.0/32", Some(("192.0.2.0", 32))),
        ("2001:db8::/32", Some(("2001:db8::", 32))),
        ("10.0.0.0/33", None),
        ("2001:db8::/129", None),
        ("10.0.0.0", None),
        ("10.0.0.0/+8", None),
        ("10.0.0/8", None),
        ("", None),
    ];
    for (written, want) in table {
        let got = cidr(written).ok();
        let want = want.map(|(a, l)| (a.parse::<IpAddr>().unwrap(), l));
        assert_eq!(got, want, "{written}");
    }
    assert_eq!(cidr("x").unwrap_err(), "invalid CIDR address");
}

#[test]
fn oids_are_dotted_decimal() {
    for (written, ok) in
        [("1.3.6.1.4.1.311.20.2.3", true), ("2.5", true), ("1", false), ("1.x", false), ("", false)]
    {
        assert_eq!(oid(written).is_ok(), ok, "{written}");
    }
}

#[test]
fn sans_are_in_gos_order_with_utf8_other_names() {
    let upn = (oid("1.3.6.1.4.1.311.20.2.3").unwrap(), "user@example.com".to_string());
    let der = sans(
        &["a.example.com".into()],
        &["e@example.com".into()],
        &["192.0.2.1".parse().unwrap(), "::ffff:192.0.2.2".parse().unwrap()],
        &["spiffe://x/y".into()],
        &[upn],
    )
    .unwrap()
    .unwrap();
    let (_, san) = x509_parser::extensions::SubjectAlternativeName::from_der(&der).unwrap();
    let kinds: Vec<String> = san
        .general_names
        .iter()
        .map(|n| match n {
            Parsed::OtherName(oid, value) => format!("other {oid} {value:02x?}"),
            other => other.to_string(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "DNSName(a.example.com)",
            "RFC822Name(e@example.com)",
            "IPAddress(c0:00:02:01)",
            // An IPv4-mapped address in 4 bytes, as Go writes it.
            "IPAddress(c0:00:02:02)",
            "URI(spiffe://x/y)",
            // [0] EXPLICIT UTF8String "user@example.com"
            "other 1.3.6.1.4.1.311.20.2.3 [a0, 12, 0c, 10, 75, 73, 65, 72, 40, 65, 78, 61, 6d, 70, 6c, 65, 2e, 63, 6f, 6d]",
        ]
    );
    assert_eq!(sans(&[], &[], &[], &[], &[]).unwrap(), None);
    assert!(sans(&["é.example".into()], &[], &[], &[], &[]).is_err());
}

#[test]
fn name_constraints_are_encoded_with_their_criticality() {
    let item = |dns: &[&str], ips: &[&str]| NameConstraintItem {
        dns_domains: Some(dns.iter().map(|s| s.to_string()).collect()),
        ip_ranges: Some(ips.iter().map(|s| s.to_string()).collect()),
        email_addresses: Some(vec!["example.com".into()]),
        uri_domains: Some(vec![".example.com".into()]),
    };
    let nc = NameConstraints {
        critical: Some(true),
        permitted: Some(item(&["example.com"], &["10.1.2.3/16", "2001:db8::/32"])),
        excluded: Some(item(&["bad.example.com"], &[])),
    };
    let (der, critical) = name_constraints(&nc).unwrap().unwrap();
    assert!(critical);
    let (_, parsed) = ParsedNc::from_der(&der).unwrap();
    let bases = |t: &Option<Vec<x509_parser::extensions::GeneralSubtree>>| -> Vec<String> {
        t.iter().flatten().map(|s| s.base.to_string()).collect()
    };
    assert_eq!(
        bases(&parsed.permitted_subtrees),
        [
            "DNSName(example.com)",
            // Host bits masked, then the mask.
            "IPAddress(0a:01:00:00:ff:ff:00:00)",
            "IPAddress(20:01:0d:b8:00:00:00:00:00:00:00:00:00:00:00:00:ff:ff:ff:ff:00:00:00:00:00:00:00:00:00:00:00:00)",
            "RFC822Name(example.com)",
            "URI(.example.com)",
        ]
    );
    assert_eq!(bases(&parsed.excluded_subtrees)[0], "DNSName(bad.example.com)");
    let not_critical = NameConstraints { critical: None, ..nc.clone() };
    assert!(!name_constraints(&not_critical).unwrap().unwrap().1);
    // Nothing to constrain: no extension, as cert-manager leaves it out.
    let empty = NameConstraints { critical: Some(true), permitted: None, excluded: None };
    assert_eq!(name_constraints(&empty).unwrap(), None);
    let bad = NameConstraints { permitted: Some(item(&[], &["10.0.0.0/40"])), ..empty };
    assert!(name_constraints(&bad).unwrap_err().contains("invalid CIDR address"));
}
