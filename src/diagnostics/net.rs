//! The network the built-in checks reach their targets through, and the addresses they never
//! reach. A check resolves its host once through a [`Network`], refuses the whole host when any
//! address is link-local or a cloud metadata service (whatever the config says), and then
//! connects, through the same [`Network`], only to the addresses it checked. Tests replace the
//! [`Network`] with one whose every name and address leads to a loopback fake.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::net::TcpStream;

/// Name resolution and TCP connections, as the built-in checks use them.
pub trait Network: Send + Sync {
    /// The addresses `host` stands for, each with `port`; a literal address stands for itself.
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>>;
    /// A TCP connection to exactly `addr` (no lookup of its own).
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<TcpStream>>;
}

/// What [`crate::app::AppState`] holds.
pub type SharedNetwork = Arc<dyn Network>;

/// The machine's resolver and real TCP.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemNetwork;

impl Network for SystemNetwork {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
        Box::pin(async move {
            if let Ok(ip) = host.parse::<IpAddr>() {
                return Ok(vec![SocketAddr::new(ip, port)]);
            }
            Ok(tokio::net::lookup_host((host, port)).await?.collect())
        })
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<TcpStream>> {
        Box::pin(TcpStream::connect(addr))
    }
}

/// Why a check did not reach its target.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("refused: {param} resolves to {shown}, {why}; warroom never connects there")]
    Forbidden { param: String, shown: String, why: &'static str },
    #[error("{param}: cannot resolve `{host}`: {source}")]
    Resolve { param: String, host: String, source: io::Error },
    #[error("{param}: `{host}` resolves to no address")]
    NoAddress { param: String, host: String },
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
}

impl NetError {
    /// A refusal (as opposed to a target that is down).
    pub fn is_refusal(&self) -> bool {
        matches!(self, NetError::Forbidden { .. })
    }
}

/// Why warroom never connects to `ip`, or `None` when it may.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return forbidden_v4(v4);
            }
            if v6.segments()[0] & 0xffc0 == 0xfe80 {
                return Some("a link-local address");
            }
            // AWS's instance metadata service over IPv6.
            if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                return Some("a cloud metadata address");
            }
            None
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_link_local() {
        // 169.254.169.254 is AWS's, GCP's, Azure's and OpenStack's metadata service.
        return Some("a link-local/cloud metadata address");
    }
    if ip == Ipv4Addr::new(100, 100, 100, 200) {
        // Alibaba Cloud's metadata service.
        return Some("a cloud metadata address");
    }
    None
}

/// The IPv4 address an IPv6 one carries: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`), which all end up at the IPv4 host.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., a, b, c, d] = v6.octets();
        return Some(Ipv4Addr::new(a, b, c, d));
    }
    v6.to_ipv4()
}

/// Resolves `host` once and checks every address; `param` names the parameter it came from
/// (for the refusal). Any forbidden address refuses the whole host: a name that also points at
/// the metadata service is not one to trust.
pub async fn resolve_checked(
    net: &dyn Network,
    param: &str,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, NetError> {
    let addrs = net.resolve(host, port).await.map_err(|source| NetError::Resolve {
        param: param.to_string(),
        host: host.to_string(),
        source,
    })?;
    if addrs.is_empty() {
        return Err(NetError::NoAddress { param: param.to_string(), host: host.to_string() });
    }
    for addr in &addrs {
        if let Some(why) = forbidden(addr.ip()) {
            let ip = addr.ip();
            let shown = match ip {
                IpAddr::V6(v6) => embedded_v4(v6).map_or(ip.to_string(), |v4| format!("{ip} ({v4})")),
                IpAddr::V4(_) => ip.to_string(),
            };
            return Err(NetError::Forbidden { param: param.to_string(), shown, why });
        }
    }
    Ok(addrs)
}

/// Connects to the first of the (checked) `addrs` that answers; the last error otherwise.
pub async fn connect_any(net: &dyn Network, addrs: &[SocketAddr]) -> Result<(TcpStream, SocketAddr), NetError> {
    let mut last = None;
    for &addr in addrs {
        match net.connect(addr).await {
            Ok(stream) => return Ok((stream, addr)),
            Err(source) => last = Some(NetError::Connect { addr, source }),
        }
    }
    Err(last.unwrap_or_else(|| NetError::NoAddress { param: "address".into(), host: String::new() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn link_local_and_metadata_addresses_are_forbidden_in_every_spelling() {
        for bad in [
            "169.254.169.254",
            "169.254.0.1",
            "169.254.255.255",
            "100.100.100.200",
            "fe80::1",
            "febf:ffff::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "::ffff:100.100.100.200",
            "::169.254.169.254",
            "64:ff9b::169.254.169.254",
        ] {
            assert!(forbidden(ip(bad)).is_some(), "{bad} is allowed");
        }
    }

    #[test]
    fn ordinary_addresses_are_not_forbidden() {
        for good in ["127.0.0.1", "10.0.0.5", "192.168.1.1", "100.100.100.201", "169.253.255.255", "::1", "fec0::1"] {
            assert_eq!(forbidden(ip(good)), None, "{good}");
        }
    }

    /// Resolves every name to the given addresses and connects nowhere.
    struct Table(Vec<SocketAddr>);

    impl Network for Table {
        fn resolve<'a>(&'a self, _: &'a str, _: u16) -> BoxFuture<'a, io::Result<Vec<SocketAddr>>> {
            Box::pin(async move { Ok(self.0.clone()) })
        }
        fn connect(&self, _: SocketAddr) -> BoxFuture<'_, io::Result<TcpStream>> {
            Box::pin(async { Err(io::Error::other("this table connects nowhere")) })
        }
    }

    #[tokio::test]
    async fn a_name_with_one_metadata_address_among_others_is_refused_whole() {
        let net = Table(vec!["10.0.0.5:80".parse().unwrap(), "[::ffff:169.254.169.254]:80".parse().unwrap()]);

        let err = resolve_checked(&net, "health_url", "api.internal", 80).await.unwrap_err();

        assert!(err.is_refusal());
        assert_eq!(
            err.to_string(),
            "refused: health_url resolves to ::ffff:169.254.169.254 (169.254.169.254), a link-local/cloud metadata \
             address; warroom never connects there"
        );
    }

    #[tokio::test]
    async fn a_name_with_no_address_is_an_error_not_a_refusal() {
        let err = resolve_checked(&Table(vec![]), "host", "nowhere", 80).await.unwrap_err();
        assert!(!err.is_refusal() && err.to_string().contains("resolves to no address"), "{err}");
    }
}
