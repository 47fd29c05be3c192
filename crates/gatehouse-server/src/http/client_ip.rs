//! T5: the client's address. Forwarded headers count only when the TCP peer is a proxy the
//! operator named as trusted; from any other peer they are ignored.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;
use actix_web::web;
use ipnet::IpNet;

use crate::state::AppState;

/// The client address of `req` (see [`resolve`]); `None` only without a TCP peer.
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let trusted = req.app_data::<web::Data<AppState>>().map(|s| s.config.trusted_proxies.as_slice()).unwrap_or(&[]);
    Some(resolve(peer, req.headers(), trusted))
}

/// T5: walking `X-Forwarded-For` from the right (the hop nearest to us) while each address is
/// a trusted proxy, the first address that is not is the client. An entry that does not parse
/// stops the walk at the last trusted hop: nothing to its left can be believed.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        let Ok(ip) = entry.parse::<IpAddr>() else { return client };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(HeaderName::from_static("x-forwarded-for"), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "192.0.2.7/32".parse().unwrap()];
        let h = headers(&["203.0.113.5, 10.1.1.1"]);
        assert_eq!(resolve(ip("198.51.100.1"), &h, &trusted), ip("198.51.100.1"), "untrusted peer: header ignored");
        assert_eq!(resolve(ip("198.51.100.1"), &h, &[]), ip("198.51.100.1"), "nothing trusted");
        assert_eq!(resolve(ip("10.2.2.2"), &h, &trusted), ip("203.0.113.5"), "through two trusted hops");
        let spoofed = headers(&["1.1.1.1", "203.0.113.5"]);
        assert_eq!(
            resolve(ip("192.0.2.7"), &spoofed, &trusted),
            ip("203.0.113.5"),
            "left of the client is not believed"
        );
        assert_eq!(resolve(ip("10.2.2.2"), &headers(&["garbage, 10.1.1.1"]), &trusted), ip("10.1.1.1"));
        assert_eq!(resolve(ip("10.2.2.2"), &headers(&[]), &trusted), ip("10.2.2.2"), "no header: the proxy itself");
        assert_eq!(resolve(ip("10.2.2.2"), &headers(&["2001:db8::1"]), &trusted), ip("2001:db8::1"));
    }
}
