//! The certificate request's subjects as tables: RFC 4514 strings read as cert-manager reads
//! them, encoded as Go encodes them.

use super::*;
use x509_parser::prelude::FromDer;

/// The parse of `literal` as `oid=value` RDNs joined by `+`, in encoding order.
fn shown(literal: &str) -> Result<Vec<String>, String> {
    let rdns = parse(literal)?;
    Ok(rdns
        .iter()
        .map(|rdn| rdn.iter().map(|(o, v)| format!("{o}={v}")).collect::<Vec<_>>().join("+"))
        .collect())
}

#[test]
fn rfc4514_strings_parse_as_cert_manager_reads_them() {
    let table: &[(&str, &[&str])] = &[
        ("CN=app", &["2.5.4.3=app"]),
        // Reversed: the last RDN written is the first encoded.
        ("CN=app,O=Org", &["2.5.4.10=Org", "2.5.4.3=app"]),
        // Multi-valued RDNs and repeated attributes, kept in place.
        (
            "CN=app,O=Org1+OU=Unit,O=Org2",
            &["2.5.4.10=Org2", "2.5.4.10=Org1+2.5.4.11=Unit", "2.5.4.3=app"],
        ),
        // `;` ends an RDN too; spaces around types and values are dropped.
        (" CN = app ; O = Org ", &["2.5.4.10=Org", "2.5.4.3=app"]),
        // Escapes: specials, hex bytes (UTF-8 across two), an escaped trailing space.
        (r"CN=a\,b\+c\=d", &["2.5.4.3=a,b+c=d"]),
        (r"CN=caf\C3\A9", &["2.5.4.3=café"]),
        (r"CN=\ lead\ ", &["2.5.4.3= lead "]),
        (r"CN=back\\", &["2.5.4.3=back\\"]),
        (r"CN=x\\ ", &["2.5.4.3=x\\"]),
        // `=` inside a value is the value's.
        ("CN=a=b", &["2.5.4.3=a=b"]),
        // A hex BER value: its contents (a UTF8String "hi").
        ("1.2.3.4=#0c026869", &["1.2.3.4=hi"]),
        (r"CN= \#1", &["2.5.4.3=#1"]),
        // cert-manager's names, and dotted OIDs for the rest.
        (
            "UID=u,DC=example,STREET=s,SERIALNUMBER=7,ST=st,L=l,C=DE",
            &[
                "2.5.4.6=DE",
                "2.5.4.7=l",
                "2.5.4.8=st",
                "2.5.4.5=7",
                "2.5.4.9=s",
                "0.9.2342.19200300.100.1.25=example",
                "0.9.2342.19200300.100.1.1=u",
            ],
        ),
        ("2.5.4.17=12345", &["2.5.4.17=12345"]),
        ("", &[]),
        ("   ", &[]),
    ];
    for (literal, want) in table {
        let want: Vec<String> = want.iter().map(|w| w.to_string()).collect();
        assert_eq!(shown(literal), Ok(want), "{literal:?}");
    }
}

#[test]
fn malformed_strings_say_what_is_wrong() {
    let table: &[(&str, &str)] = &[
        ("app", "\"app\" is not a type=value pair"),
        ("CN=a,", "\"\" is not a type=value pair"),
        ("CN=a,O", "\"O\" is not a type=value pair"),
        // Types are matched as written, as cert-manager matches them.
        ("cn=a", "unknown attribute type \"cn\""),
        ("title=a", "unknown attribute type \"title\""),
        (r"CN=a\", "ends in a lone backslash"),
        (r"CN=a\zz", "bad escape"),
        ("CN=a<b", "'<' must be escaped"),
        ("CN=\"a\"", "'\"' must be escaped"),
        (r"CN=\ff", "not UTF-8"),
        ("1.2.3=#zz", "not hexadecimal"),
        ("1.2.3=#0c0568", "not one BER value"),
    ];
    for (literal, words) in table {
        let e = parse(literal).unwrap_err();
        assert!(e.contains(words), "{literal:?}: {e}");
    }
}

#[test]
fn the_common_name_is_the_first_in_encoding_order() {
    assert_eq!(common_name(&parse("CN=a,O=x").unwrap()), Some("a"));
    assert_eq!(common_name(&parse("CN=a,CN=b").unwrap()), Some("b"));
    assert_eq!(common_name(&parse("O=x").unwrap()), None);
}

#[test]
fn names_encode_as_go_does() {
    let der = to_der(&parse("CN=app,O=Org1+OU=Unit,O=Org2").unwrap()).unwrap();
    let (_, name) = x509_parser::x509::X509Name::from_der(&der).unwrap();
    let rdns: Vec<usize> = name.iter().map(|r| r.iter().count()).collect();
    assert_eq!(rdns, [1, 2, 1], "three RDNs, the middle one of two attributes");
    assert_eq!(name.to_string(), "O=Org2, O=Org1 + OU=Unit, CN=app");
    // PrintableString (tag 0x13) when it can be, else UTF8String (0x0c); `*` and `&` too.
    let tag = |v: &str| to_der(&vec![vec![(CN, v.to_string())]]).unwrap()[11];
    assert_eq!(tag("plain 'text' (1+2=3)?"), 0x13);
    assert_eq!(tag("a*b"), 0x0c);
    assert_eq!(tag("a&b"), 0x0c);
    assert_eq!(tag("café"), 0x0c);
    assert_eq!(to_der(&vec![]).unwrap(), EMPTY);
}

#[test]
fn subject_fields_go_in_gos_order_each_field_one_rdn() {
    let spec: CertificateSpec = serde_yaml::from_str(
        "secretName: s\nissuerRef: {name: i}\ncommonName: app\n\
         subject: {organizations: [A, B], countries: [DE], organizationalUnits: [U], \
         serialNumber: '42', postalCodes: ['123']}",
    )
    .unwrap();
    let der = to_der(&of_spec(&spec).unwrap()).unwrap();
    let (_, name) = x509_parser::x509::X509Name::from_der(&der).unwrap();
    assert_eq!(
        name.to_string(),
        "C=DE, postalCode=123, O=A + O=B, OU=U, CN=app, serialNumber=42",
        "every organization is kept"
    );
}
