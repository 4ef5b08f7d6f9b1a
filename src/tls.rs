//! The one TLS client configuration: rustls on the ring provider, trusting the webpki roots
//! compiled into the binary (no system certificate store, no aws-lc). reqwest is built without
//! a provider of its own (`rustls-no-provider`: its `rustls` feature brings aws-lc), and such a
//! reqwest panics building a client that is not handed a configuration, so every client comes
//! from [`http_client_builder`] (clippy.toml refuses `reqwest::Client::new`, `builder` and
//! `get` elsewhere). The built-in HTTP checks' own connections use [`client_config`] directly.

use std::sync::{Arc, OnceLock};

use tokio_rustls::rustls;

/// The client configuration, built once (the roots are parsed once a process).
pub fn client_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            // Fails only for a provider without the cipher suites of TLS 1.2 and 1.3: ring has them.
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring's provider supports TLS 1.2 and 1.3")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// A reqwest client builder on [`client_config`], for every HTTP client warroom (and its tests
/// and benches) makes.
#[allow(clippy::disallowed_methods)] // the one place a reqwest builder is made
pub fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_backend_preconfigured(rustls::ClientConfig::clone(&client_config()))
}

/// A client with reqwest's defaults and [`client_config`] (what `reqwest::Client::new()` was).
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().expect("a reqwest client on the ring TLS configuration")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn a_client_builds_on_the_shared_configuration() {
        // A configuration reqwest does not recognise (another rustls major) fails the build.
        http_client_builder().build().expect("reqwest takes the rustls configuration");
    }

    #[tokio::test]
    async fn an_https_request_opens_with_a_tls_handshake() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hello = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 3];
            socket.read_exact(&mut head).await.unwrap();
            head // the socket drops here: the handshake cannot finish
        });
        let sent = http_client().get(format!("https://127.0.0.1:{port}/")).send().await;
        assert!(sent.is_err(), "no TLS server answered, so no response");
        // A TLS record (22: handshake) of version 3.x, the ClientHello.
        assert_eq!(hello.await.unwrap()[..2], [22, 3]);
    }
}
