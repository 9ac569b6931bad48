//! The Challenge step's Route 53 provider: AWS Signature Version 4, which every Route 53 (and
//! STS) request carries. Signed with aws-lc-rs's HMAC-SHA256, the tree's one crypto provider;
//! checked against AWS's published test vectors.

use aws_lc_rs::{digest, hmac};

/// An AWS access key: what an issuer's Secret holds, or what STS hands out for a role (with
/// its session token). The secret never leaves this type except as the HMAC key, and `Debug`
/// shows neither it nor the token.
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("access_key_id", &self.access_key_id).finish()
    }
}

/// What one request is: every part the signature covers.
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent (its segments made of unreserved characters only).
    pub path: &'a str,
    /// The query's pairs, not yet encoded.
    pub query: &'a [(&'a str, &'a str)],
    /// The headers to sign besides `x-amz-date` (which [`sign`] adds), names in lowercase.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// RFC 3986's unreserved characters kept, every other byte `%XX` (SigV4's `UriEncode`).
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The query as sent and as signed: each name and value encoded, sorted.
pub fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> =
        query.iter().map(|(k, v)| (uri_encode(k), uri_encode(v))).collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data).as_ref().to_vec()
}

/// The `x-amz-date` header for `now` (basic ISO 8601, UTC).
pub fn amz_date(now: jiff::Timestamp) -> String {
    now.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// The `Authorization` header for `req`, sent at `amz_date` (the `x-amz-date` it must also
/// carry) to `service` in `region`.
pub fn authorization(
    creds: &Credentials,
    region: &str,
    service: &str,
    req: &Request<'_>,
    amz_date: &str,
) -> String {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    headers.push(("x-amz-date".into(), amz_date.into()));
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    let path = req.path.split('/').map(uri_encode).collect::<Vec<_>>().join("/");
    let canonical_request = format!(
        "{}\n{path}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        req.method,
        canonical_query(req.query),
        sha256_hex(req.body)
    );
    let day = &amz_date[..8];
    let scope = format!("{day}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let mut key =
        hmac_sha256(format!("AWS4{}", creds.secret_access_key).as_bytes(), day.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex(&hmac_sha256(&key, to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's SigV4 test suite (aws-sig-v4-test-suite): its example key, date and host.
    fn suite() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    fn signed(
        method: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> String {
        let req = Request { method, path: "/", query, headers, body };
        authorization(&suite(), "us-east-1", "service", &req, "20150830T123600Z")
    }

    const HOST: (&str, &str) = ("host", "example.amazonaws.com");

    #[test]
    fn get_vanilla() {
        assert_eq!(
            signed("GET", &[], &[HOST], b""),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn post_vanilla() {
        assert!(signed("POST", &[], &[HOST], b"").ends_with(
            "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        ));
    }

    #[test]
    fn get_vanilla_query_order_key_case() {
        let query = [("Param2", "value2"), ("Param1", "value1")];
        assert!(signed("GET", &query, &[HOST], b"").ends_with(
            "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        ));
    }

    #[test]
    fn post_x_www_form_urlencoded() {
        let headers = [("content-type", "application/x-www-form-urlencoded"), HOST];
        assert!(signed("POST", &[], &headers, b"Param1=value1").ends_with(
            "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        ));
    }

    #[test]
    fn the_secret_is_not_debug_printed() {
        assert!(!format!("{:?}", suite()).contains("EXAMPLEKEY"));
    }
}
