//! The self-check against small servers on 127.0.0.1 that answer, redirect (to HTTPS with a
//! self-signed certificate, relatively, in a loop, to another port) or answer wrongly.

use super::check_with;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const KEY: &str = "token.thumbprint";

/// The raw response for a request line's path.
fn respond(path: &str) -> String {
    let found =
        |to: &str| format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n");
    let ok =
        |body: &str| format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    match path.trim_start_matches("/.well-known/acme-challenge/") {
        "direct" | "/elsewhere/relative" => ok(KEY),
        "to-https" => found("https://shop.example/.well-known/acme-challenge/over-tls"),
        "over-tls" => ok(KEY),
        "relative" => found("/elsewhere/relative"),
        "loop" => found("/.well-known/acme-challenge/loop"),
        "port" => found("http://shop.example:8080/.well-known/acme-challenge/direct"),
        "wrong" => ok("something else"),
        "huge" => ok(&"x".repeat(1 << 20)),
        _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into(),
    }
}

/// Serves `respond` on a free port, over TLS when `tls` is given; one request a connection.
async fn serve(tls: Option<tokio_rustls::TlsAcceptor>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(tls) => answer(tls.accept(stream).await.ok()?).await,
                    None => answer(stream).await,
                }
            });
        }
    });
    port
}

async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S) -> Option<()> {
    let mut buf = vec![0; 4096];
    let mut read = 0;
    while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
        read += s.read(&mut buf[read..]).await.ok().filter(|n| *n > 0)?;
    }
    let head = String::from_utf8_lossy(&buf[..read]).to_string();
    let path = head.split(' ').nth(1)?;
    s.write_all(respond(path).as_bytes()).await.ok()?;
    s.shutdown().await.ok()
}

fn self_signed() -> tokio_rustls::TlsAcceptor {
    let cert = rcgen::generate_simple_self_signed(vec!["shop.example".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

#[tokio::test]
async fn redirects_are_followed_as_the_ca_follows_them() {
    let plain = serve(None).await;
    let tls = serve(Some(self_signed())).await;
    // shop.example:80 and :443 are the two servers; any other port is a closed one.
    let resolve = move |host: &str, port: u16| match (host, port) {
        ("shop.example", 80) => format!("127.0.0.1:{plain}"),
        ("shop.example", 443) => format!("127.0.0.1:{tls}"),
        _ => "127.0.0.1:9".into(),
    };
    let cases = [
        ("direct", None),
        ("to-https", None),
        ("relative", None),
        ("loop", Some("more than 10 redirects")),
        ("port", Some("the CA follows redirects to ports 80 and 443 only")),
        ("wrong", Some("not this challenge's key authorization")),
        ("huge", Some("the answer is larger than 16 KiB")),
        ("missing", Some("got HTTP 404 Not Found")),
    ];
    for (token, problem) in cases {
        let got = check_with("shop.example", token, KEY, &resolve).await;
        match problem {
            None => assert_eq!(got, Ok(()), "{token}"),
            Some(words) => {
                let message = got.expect_err(token);
                assert!(message.contains(words), "{token}: {message}");
                assert!(message.starts_with("self-check GET http://shop.example/"), "{message}");
            }
        }
    }
}
