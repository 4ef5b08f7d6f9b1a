//! One HTTP GET for the built-in checks, over a connection warroom makes itself (through
//! [`net`]): the host is resolved once and checked, the connection goes to a checked address,
//! no redirect is followed (a 3xx is the answer), no proxy is used, and at most [`BODY_CAP`]
//! bytes of the body are read before the connection is dropped.

use std::net::SocketAddr;
use std::pin::Pin;

use hyper::body::Body;
use hyper::header::{HeaderValue, ACCEPT, CONNECTION, HOST, LOCATION, USER_AGENT};
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use reqwest::Url;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls::pki_types::ServerName;

use super::net::{self, NetError, Network};

/// The most of a response body a check reads.
pub const BODY_CAP: usize = 64 * 1024;

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// A redirect's target, reported and never fetched.
    pub location: Option<String>,
    /// The first [`BODY_CAP`] bytes of the body at most.
    pub body: Vec<u8>,
    /// The body went on past [`BODY_CAP`] and the rest was not read.
    pub cut: bool,
    /// The (checked) address the request went to.
    pub peer: SocketAddr,
}

#[derive(Debug, thiserror::Error)]
pub enum GetError {
    #[error("{0}")]
    Net(#[from] NetError),
    #[error("{param}: {why}")]
    Url { param: String, why: String },
    #[error("TLS with {host}: {why}")]
    Tls { host: String, why: String },
    #[error("HTTP: {0}")]
    Http(String),
}

impl GetError {
    /// A refusal to connect at all (link-local or metadata address).
    pub fn is_refusal(&self) -> bool {
        matches!(self, GetError::Net(e) if e.is_refusal())
    }
}

/// GETs `url` (the value of parameter `param`) through `net`. Time limits are the caller's.
pub async fn get(net: &dyn Network, param: &str, url: &Url) -> Result<Answer, GetError> {
    let bad = |why: &str| GetError::Url { param: param.to_string(), why: why.to_string() };
    let https = match url.scheme() {
        "http" => false,
        "https" => true,
        _ => return Err(bad("only http:// and https:// URLs are checked")),
    };
    // The URL parser spells every IPv4 form (`2852039166`, `0xa9fea9fe`) as a dotted quad and
    // brackets IPv6; the name or address to resolve is what is left.
    let host = url.host_str().ok_or_else(|| bad("the URL has no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = url.port_or_known_default().ok_or_else(|| bad("the URL has no port"))?;
    let addrs = net::resolve_checked(net, param, &host, port).await?;
    let (tcp, peer) = net::connect_any(net, &addrs).await?;

    let authority = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let request = hyper::Request::get(target)
        .header(HOST, authority)
        .header(USER_AGENT, HeaderValue::from_static(concat!("warroom/", env!("CARGO_PKG_VERSION"))))
        .header(ACCEPT, HeaderValue::from_static("*/*"))
        .header(CONNECTION, HeaderValue::from_static("close"))
        .body(String::new())
        .map_err(|e| bad(&e.to_string()))?;

    if !https {
        return exchange(tcp, request, peer).await;
    }
    let name = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => ServerName::try_from(host.clone()).map_err(|e| bad(&e.to_string()))?,
    };
    let tls = tokio_rustls::TlsConnector::from(crate::tls::client_config())
        .connect(name, tcp)
        .await
        .map_err(|e| GetError::Tls { host, why: e.to_string() })?;
    exchange(tls, request, peer).await
}

/// Sends `request` over `io` and reads the answer, at most [`BODY_CAP`] of its body; returning
/// drops the connection, so the rest of a long body is never read.
async fn exchange<S>(io: S, request: hyper::Request<String>, peer: SocketAddr) -> Result<Answer, GetError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let http = |e: hyper::Error| GetError::Http(error_chain(&e));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(http)?;
    let work = async move {
        let response = sender.send_request(request).await.map_err(http)?;
        let status = response.status();
        let location = response.headers().get(LOCATION).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let mut body = response.into_body();
        let mut kept = Vec::new();
        let mut cut = false;
        while !body.is_end_stream() {
            let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await else { break };
            let Ok(data) = frame.map_err(http)?.into_data() else { continue };
            let room = BODY_CAP - kept.len();
            kept.extend_from_slice(&data[..data.len().min(room)]);
            if data.len() >= room && (data.len() > room || !body.is_end_stream()) {
                cut = true;
                break;
            }
        }
        Ok(Answer { status, location, body: kept, cut, peer })
    };
    tokio::pin!(work, connection);
    tokio::select! {
        answer = &mut work => answer,
        // The connection ended (the server closed it): what it delivered can still be read.
        _ = &mut connection => work.await,
    }
}

/// An error with its sources, `a: b: c`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Resolves every name to `to` (a loopback listener) and connects there.
    struct ToLoopback(SocketAddr);

    impl Network for ToLoopback {
        fn resolve<'a>(
            &'a self,
            _: &'a str,
            _: u16,
        ) -> futures_util::future::BoxFuture<'a, std::io::Result<Vec<SocketAddr>>> {
            Box::pin(async move { Ok(vec![self.0]) })
        }
        fn connect(
            &self,
            addr: SocketAddr,
        ) -> futures_util::future::BoxFuture<'_, std::io::Result<tokio::net::TcpStream>> {
            Box::pin(tokio::net::TcpStream::connect(addr))
        }
    }

    /// A loopback server that answers every connection with `answer` (raw bytes).
    async fn server(answer: &'static [u8]) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(answer).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_redirect_is_the_answer_and_is_not_followed() {
        let addr =
            server(b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n").await;
        let url = Url::parse("http://api.internal:8000/health").unwrap();

        let answer = get(&ToLoopback(addr), "health_url", &url).await.unwrap();

        assert_eq!(answer.status, StatusCode::FOUND);
        assert_eq!(answer.location.as_deref(), Some("http://169.254.169.254/"));
        assert_eq!(answer.peer, addr);
    }

    #[tokio::test]
    async fn a_chunked_body_is_read_whole_when_short() {
        let addr =
            server(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").await;
        let answer = get(&ToLoopback(addr), "health_url", &Url::parse("http://x/").unwrap()).await.unwrap();
        assert_eq!((answer.body.as_slice(), answer.cut), (&b"abcde"[..], false));
    }

    #[tokio::test]
    async fn an_https_url_to_a_server_that_does_not_speak_tls_fails_cleanly() {
        let addr = server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
        let err =
            get(&ToLoopback(addr), "health_url", &Url::parse("https://api.internal/").unwrap()).await.unwrap_err();
        assert!(matches!(err, GetError::Tls { .. }), "{err}");
    }

    #[tokio::test]
    async fn other_schemes_are_refused_before_any_lookup() {
        let err =
            get(&ToLoopback("127.0.0.1:9".parse().unwrap()), "health_url", &Url::parse("file:///etc/passwd").unwrap())
                .await
                .unwrap_err();
        assert!(err.to_string().contains("only http:// and https://"), "{err}");
    }
}
