//! The built-in network checks cannot be pointed inward: link-local and cloud metadata addresses
//! are refused however they are reached (configured, allowed, a name, a mapped spelling, a
//! redirect, a second lookup), and a body is read to 64 KiB at most. Every name and address here
//! goes through a fake network whose connector leads only to loopback fakes that count their
//! connections, so even a wrong implementation could not send a packet off this machine.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warroom::config::{Allow, ServiceConfig};
use warroom::diagnostics::net::Network;

use crate::diagnostics::{finished, run};
use crate::harness::*;

const METADATA: &str = "169.254.169.254";
const TEN_MIB: usize = 10 * 1024 * 1024;

/// A loopback server that answers every request with `head` and then `body_len` bytes, and
/// counts connections and the body bytes it managed to send.
#[derive(Clone)]
struct Fake {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    body_sent: Arc<AtomicUsize>,
}

impl Fake {
    async fn start(head: &str, body_len: usize) -> Fake {
        // A small send buffer (inherited by accepted sockets), so what the fake manages to send
        // is close to what the client read.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_send_buffer_size(16 * 1024).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(16).unwrap();
        let fake =
            Fake { addr: listener.local_addr().unwrap(), connections: Arc::default(), body_sent: Arc::default() };
        let (head, served) = (head.to_string(), fake.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                served.connections.fetch_add(1, Ordering::SeqCst);
                let (head, sent) = (head.clone(), served.body_sent.clone());
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request).await;
                    if stream.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let chunk = [b'x'; 16 * 1024];
                    let mut left = body_len;
                    while left > 0 {
                        let n = left.min(chunk.len());
                        if stream.write_all(&chunk[..n]).await.is_err() {
                            return;
                        }
                        sent.fetch_add(n, Ordering::SeqCst);
                        left -= n;
                    }
                });
            }
        });
        fake
    }

    /// A 200 with a short body.
    async fn healthy() -> Fake {
        Fake::start("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0).await
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// The test's whole network: names (and literal addresses) resolve only through `names`, and
/// every connection goes to the loopback fake its address is routed to, or nowhere.
#[derive(Default)]
struct FakeNet {
    /// Each lookup of a name takes the next answer (the last one repeats).
    names: Mutex<HashMap<String, Vec<Vec<IpAddr>>>>,
    lookups: Mutex<HashMap<String, usize>>,
    routes: HashMap<IpAddr, SocketAddr>,
}

impl FakeNet {
    fn name(self, name: &str, answers: &[&[&str]]) -> Self {
        let answers = answers.iter().map(|ips| ips.iter().map(|ip| ip.parse().unwrap()).collect()).collect();
        self.names.lock().unwrap().insert(name.to_string(), answers);
        self
    }

    fn route(mut self, ip: &str, to: &Fake) -> Self {
        self.routes.insert(ip.parse().unwrap(), to.addr);
        self
    }

    fn lookups(&self, name: &str) -> usize {
        self.lookups.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

impl Network for FakeNet {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, std::io::Result<Vec<SocketAddr>>> {
        Box::pin(async move {
            *self.lookups.lock().unwrap().entry(host.to_string()).or_default() += 1;
            let mut names = self.names.lock().unwrap();
            let ips = match (names.get_mut(host), host.parse::<IpAddr>()) {
                (Some(answers), _) if answers.len() > 1 => answers.remove(0),
                (Some(answers), _) => answers[0].clone(),
                (None, Ok(literal)) => vec![literal],
                (None, Err(_)) => return Err(std::io::Error::other(format!("fake DNS: no such name `{host}`"))),
            };
            Ok(ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect())
        })
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, std::io::Result<tokio::net::TcpStream>> {
        Box::pin(async move {
            match self.routes.get(&addr.ip()) {
                Some(fake) => tokio::net::TcpStream::connect(fake).await,
                None => Err(std::io::Error::other(format!("fake network: no route to {addr}"))),
            }
        })
    }
}

/// The app, with service `api` (packs http and prometheus, `params`, `allow`) and INC-1 for it;
/// the built-in checks go through `net`.
async fn app_on(net: Arc<FakeNet>, params: &[(&str, &str)], allow: &[(&str, &str)]) -> (TestApp, String) {
    let service = ServiceConfig {
        packs: vec!["http".into(), "prometheus".into()],
        params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        allow: Allow::from_pairs(allow.iter().copied()).unwrap(),
        ..Default::default()
    };
    let app = spawn_app_with_network(net, move |s| {
        s.file.services.insert("api".into(), service);
    })
    .await;
    app.slash(ALICE, "declare P0 api Everything 500s").await;
    app.drain().await;
    let channel = app.only_incident().await.channel_id.unwrap();
    // Bob, who runs the checks, joins the incident channel (`[permissions] run_read`).
    app.slack.join(BOB, &channel).await.unwrap();
    app.drain().await;
    (app, channel)
}

fn last_post(app: &TestApp, channel: &str) -> String {
    let message = app.slack.channel(channel).unwrap().messages.pop().unwrap();
    message.blocks[0]["text"]["text"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_configured_health_url_at_the_metadata_address_is_refused_and_nothing_is_fetched() {
    let metadata = Fake::healthy().await;
    let net = Arc::new(FakeNet::default().route(METADATA, &metadata));
    let url = "http://169.254.169.254/latest/meta-data/iam/security-credentials/";
    let (app, channel) = app_on(net, &[("health_url", url)], &[]).await;

    run(&app, &channel, "run http.health").await;

    let post = last_post(&app, &channel);
    assert!(
        post.contains("refused: health_url resolves to 169.254.169.254, a link-local/cloud metadata address"),
        "{post}"
    );
    assert_eq!(metadata.connections(), 0, "nothing was fetched");
    assert_eq!(finished(&app).await[0]["exit_code"], 1);
    app.finish().await;
}

#[tokio::test]
async fn names_and_other_spellings_of_metadata_addresses_are_refused_even_when_allowed() {
    let metadata = Fake::healthy().await;
    let net = FakeNet::default()
        .name("metadata.internal", &[&[METADATA]])
        .name("mapped.internal", &[&["::ffff:169.254.169.254"]])
        .name("imds6.internal", &[&["fd00:ec2::254"]])
        .name("linklocal6.internal", &[&["fe80::1"]])
        .name("alibaba.internal", &[&["100.100.100.200"]])
        .name("half.internal", &[&["10.1.2.3", METADATA]]);
    let net = ["169.254.169.254", "::ffff:169.254.169.254", "fd00:ec2::254", "fe80::1", "100.100.100.200", "10.1.2.3"]
        .iter()
        .fold(net, |net, ip| net.route(ip, &metadata));
    let allow = [("health_url", "http://[a-z0-9.]+(/.*)?")];
    let (app, channel) = app_on(Arc::new(net), &[("health_url", "http://localhost/health")], &allow).await;

    for (host, shown) in [
        ("metadata.internal", "169.254.169.254, a link-local/cloud metadata address"),
        ("2852039166", "169.254.169.254, a link-local/cloud metadata address"),
        ("mapped.internal", "::ffff:169.254.169.254 (169.254.169.254), a link-local/cloud metadata address"),
        ("imds6.internal", "fd00:ec2::254, a cloud metadata address"),
        ("linklocal6.internal", "fe80::1, a link-local address"),
        ("alibaba.internal", "100.100.100.200, a cloud metadata address"),
        ("half.internal", "169.254.169.254, a link-local/cloud metadata address"),
    ] {
        let reply = run(&app, &channel, &format!("run http.health health_url=http://{host}/latest/meta-data/")).await;
        assert!(reply.contains("Running `http.health`"), "{host}: {reply}");
        let post = last_post(&app, &channel);
        assert!(post.contains(&format!("refused: health_url resolves to {shown}")), "{host}: {post}");
    }

    assert_eq!(metadata.connections(), 0, "nothing was fetched");
    app.finish().await;
}

#[tokio::test]
async fn a_redirect_to_the_metadata_address_is_reported_and_not_followed() {
    let metadata = Fake::healthy().await;
    let redirect =
        "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\nContent-Length: 0\r\n\r\n";
    let redirector = Fake::start(redirect, 0).await;
    let net = FakeNet::default()
        .name("status.internal", &[&["10.1.2.3"]])
        .name("metadata.internal", &[&[METADATA]])
        .route("10.1.2.3", &redirector)
        .route(METADATA, &metadata);
    let (app, channel) = app_on(Arc::new(net), &[("health_url", "http://status.internal/health")], &[]).await;

    run(&app, &channel, "run http.health").await;

    let post = last_post(&app, &channel);
    assert!(
        post.contains("GET http://status.internal/health (10.1.2.3:80)") && post.contains("HTTP 302 Found"),
        "{post}"
    );
    assert!(
        post.contains(
            "Location: http://169.254.169.254/latest/meta-data/ (not followed: warroom follows no redirects)"
        ),
        "{post}"
    );
    assert_eq!((redirector.connections(), metadata.connections()), (1, 0));
    assert_eq!(finished(&app).await[0]["exit_code"], 1, "a redirect is not healthy");
    app.finish().await;
}

#[tokio::test]
async fn the_check_connects_to_the_address_it_checked_without_a_second_lookup() {
    // DNS rebinding: the first answer is harmless, any later one is the metadata service.
    let (healthy, metadata) = (Fake::healthy().await, Fake::healthy().await);
    let net = Arc::new(
        FakeNet::default()
            .name("rebind.internal", &[&["10.1.2.3"], &[METADATA]])
            .route("10.1.2.3", &healthy)
            .route(METADATA, &metadata),
    );
    let (app, channel) = app_on(net.clone(), &[("health_url", "http://rebind.internal:8000/health")], &[]).await;

    run(&app, &channel, "run http.health").await;

    let post = last_post(&app, &channel);
    assert!(post.contains("(10.1.2.3:8000)") && post.contains("HTTP 200 OK"), "{post}");
    assert_eq!(net.lookups("rebind.internal"), 1, "resolved once");
    assert_eq!((healthy.connections(), metadata.connections()), (1, 0));
    app.finish().await;
}

#[tokio::test]
async fn a_ten_mebibyte_body_is_read_to_64_kib() {
    let head = format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {TEN_MIB}\r\n\r\n");
    let big = Fake::start(&head, TEN_MIB).await;
    let net = FakeNet::default().name("big.internal", &[&["10.9.9.9"]]).route("10.9.9.9", &big);
    let (app, channel) = app_on(Arc::new(net), &[("health_url", "http://big.internal/health")], &[]).await;

    run(&app, &channel, "run http.health").await;

    let post = last_post(&app, &channel);
    assert!(post.contains("HTTP 200 OK") && post.contains("(read the first 64 KiB of the body and stopped)"), "{post}");
    let stdout = finished(&app).await[0]["stdout"].as_str().unwrap().to_string();
    assert!(stdout.len() < 2048, "an excerpt, not the body: {} bytes", stdout.len());
    // Had the check read the whole body, the fake would have sent all of it by now.
    let sent = big.body_sent.load(Ordering::SeqCst);
    assert!(sent < TEN_MIB, "the fake sent the whole body ({sent} bytes): the check read past 64 KiB");
    app.finish().await;
}

#[tokio::test]
async fn the_tcp_and_prometheus_checks_refuse_the_metadata_address_too() {
    let metadata = Fake::healthy().await;
    let net = FakeNet::default().name("metadata.internal", &[&[METADATA]]).route(METADATA, &metadata);
    let params = [("host", METADATA), ("port", "80"), ("prometheus_url", "http://metadata.internal"), ("job", "api")];
    let (app, channel) = app_on(Arc::new(net), &params, &[]).await;

    run(&app, &channel, "run http.tcp").await;
    let tcp = last_post(&app, &channel);
    run(&app, &channel, "run prometheus.up").await;
    let prometheus = last_post(&app, &channel);

    assert!(tcp.contains("refused: host resolves to 169.254.169.254, a link-local/cloud metadata address"), "{tcp}");
    assert!(prometheus.contains("refused: prometheus_url resolves to 169.254.169.254"), "{prometheus}");
    assert_eq!(metadata.connections(), 0);
    app.finish().await;
}
