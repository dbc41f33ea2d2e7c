//! Which address the client has, when slog sits behind proxies (tracking plan §4: `ip` "从http请求包中获取").
//!
//! Forwarding headers are trusted only when the connection comes from a configured trusted proxy;
//! otherwise anyone could claim any address. From a trusted peer: the rightmost `X-Forwarded-For`
//! entry that is not itself a trusted proxy (entries to its left were written by the client and
//! can be forged), else `X-Real-IP`, else the peer. From any other peer: the peer.
use crate::invalid_config::InvalidConfig;
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses CIDRs (`10.0.0.0/8`) or single addresses (`127.0.0.1`).
    pub fn parse(entries: &[String]) -> Result<Self, InvalidConfig> {
        entries
            .iter()
            .map(|e| {
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        InvalidConfig(format!(
                            "enrich.trusted_proxies: `{e}` is not an address or CIDR"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn contains(&self, ip: &IpAddr) -> bool {
        let ip = canonical(*ip);
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what dual-stack sockets report) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse::<IpAddr>().ok())
        .map(canonical)
        .collect();
    if let Some(ip) = forwarded.iter().rev().find(|ip| !trusted.contains(ip)) {
        return *ip;
    }
    if let Some(first) = forwarded.first() {
        // Every hop is a trusted proxy: the leftmost is the closest to the client we know.
        return *first;
    }
    headers
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .map(canonical)
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn trusted() -> TrustedProxies {
        TrustedProxies::parse(&["10.0.0.0/8".into(), "127.0.0.1".into()]).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[("x-forwarded-for", "1.1.1.1"), ("x-real-ip", "2.2.2.2")]);
        assert_eq!(
            client_ip(ip("180.12.43.42"), &h, &trusted()),
            ip("180.12.43.42")
        );
    }

    #[test]
    fn the_rightmost_untrusted_forwarded_address_wins() {
        // The client forged 6.6.6.6; the edge proxy appended the real address; an inner proxy added its own.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 180.12.43.42, 10.1.2.3")]);
        assert_eq!(
            client_ip(ip("10.0.0.5"), &h, &trusted()),
            ip("180.12.43.42")
        );
        let split = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "114.80.1.1"),
        ]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &split, &trusted()),
            ip("114.80.1.1")
        );
    }

    #[test]
    fn x_real_ip_then_the_peer_are_the_fallbacks() {
        let h = headers(&[("x-real-ip", "81.2.69.160")]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &h, &trusted()),
            ip("81.2.69.160")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), &headers(&[]), &trusted()),
            ip("127.0.0.1")
        );
        let junk = headers(&[("x-forwarded-for", "unknown")]);
        assert_eq!(client_ip(ip("10.9.9.9"), &junk, &trusted()), ip("10.9.9.9"));
    }

    #[test]
    fn mapped_ipv6_peers_count_as_ipv4() {
        let h = headers(&[("x-real-ip", "8.8.8.8")]);
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), &h, &trusted()),
            ip("8.8.8.8")
        );
        assert_eq!(
            client_ip(ip("::ffff:180.12.43.42"), &h, &trusted()),
            ip("180.12.43.42")
        );
    }

    #[test]
    fn bad_proxy_entries_are_config_errors() {
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()])
            .unwrap_err()
            .0
            .contains("10.0.0.0/33"));
    }
}
