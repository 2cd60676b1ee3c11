//! [`NetworkPolicy`]: what a guest may reach on the network, and the checks that enforce it.
//!
//! A grant is exactly what was listed, however the guest spells an address or a name: TCP
//! connects to granted socket addresses (a granted name grants the addresses it resolves to
//! when granted), lookups of granted names only (no query for another name leaves the host),
//! and `wasi:http` requests to granted authorities. Everything else is refused, and each
//! refusal is logged (`log` target `grpc_wasi_host`, level `warn`) with what was asked and the
//! grant that would allow it.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, anyhow, bail};
use wasmtime_wasi::sockets::SocketAddrUse;

use crate::name_lookup::{self, FixedAnswers, GrantedNames};

/// What a guest may reach on the network.
#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    addrs: HashSet<SocketAddr>,
    /// The names the guest may look up.
    pub(crate) names: GrantedNames,
    /// The names with a fixed answer.
    pub(crate) fixed: FixedAnswers,
    http_authorities: HashSet<String>,
}

impl NetworkPolicy {
    /// Nothing allowed.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Allows TCP connections to `spec`: `IP:PORT`, `[IPv6]:PORT` or `NAME:PORT`.
    ///
    /// A name is resolved now, and allows every address it resolves to; the guest may look up
    /// that name (however it cases it, with or without a trailing dot), and only granted names.
    /// Errors: `spec` has no port, or a name that does not resolve or is not a valid host.
    pub fn allow(&mut self, spec: &str) -> anyhow::Result<&mut Self> {
        let (host, port) = spec
            .rsplit_once(':')
            .ok_or_else(|| anyhow!("--allow {spec:?}: expected HOST:PORT"))?;
        let port: u16 = port
            .parse()
            .with_context(|| format!("--allow {spec:?}: invalid port"))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            self.addrs.insert(SocketAddr::new(ip, port));
            return Ok(self);
        }
        let fixed = name_lookup::domain(bare)
            .and_then(|d| self.fixed.get(&d))
            .map(|answer| answer.lock().map(|ips| ips.clone()).unwrap_or_default());
        let resolved: Vec<_> = match fixed {
            Some(ips) => ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect(),
            None => (bare, port)
                .to_socket_addrs()
                .with_context(|| format!("--allow {spec:?}: cannot resolve {bare:?}"))?
                .collect(),
        };
        if resolved.is_empty() {
            bail!("--allow {spec:?}: {bare:?} resolves to no address");
        }
        let domain = name_lookup::domain(bare)
            .ok_or_else(|| anyhow!("--allow {spec:?}: {bare:?} is not a host name"))?;
        self.addrs.extend(resolved);
        self.names.insert(domain);
        Ok(self)
    }

    /// Gives `name` a fixed answer (`--resolve NAME=IP[,IP...]`): its lookups, by the guest
    /// once granted and by a later [`NetworkPolicy::allow`] of it, return `ips` in this order
    /// without a query. Grants nothing by itself.
    ///
    /// Errors: `spec` is not `NAME=IP[,IP...]`, or NAME is not a host name.
    pub fn resolve(&mut self, spec: &str) -> anyhow::Result<&mut Self> {
        let (name, ips) = spec
            .split_once('=')
            .ok_or_else(|| anyhow!("--resolve {spec:?}: expected NAME=IP[,IP...]"))?;
        let domain = name_lookup::domain(name)
            .ok_or_else(|| anyhow!("--resolve {spec:?}: {name:?} is not a host name"))?;
        let ips = ips
            .split(',')
            .map(|ip| ip.trim_matches(['[', ']']).parse::<IpAddr>())
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("--resolve {spec:?}: expected IP addresses after '='"))?;
        self.fixed.insert(domain, Arc::new(Mutex::new(ips)));
        Ok(self)
    }

    /// Gives `name` the fixed answer `answer`, as [`NetworkPolicy::resolve`], shared with the
    /// caller: a change to it is what later lookups return (the addresses a guest may connect
    /// to stay those granted by [`NetworkPolicy::allow`]).
    ///
    /// Errors: `name` is not a host name.
    pub fn resolve_to(
        &mut self,
        name: &str,
        answer: Arc<Mutex<Vec<IpAddr>>>,
    ) -> anyhow::Result<&mut Self> {
        let domain =
            name_lookup::domain(name).ok_or_else(|| anyhow!("{name:?} is not a host name"))?;
        self.fixed.insert(domain, answer);
        Ok(self)
    }

    /// Allows `wasi:http` requests to `authority`, `HOST:PORT` as the guest names it.
    ///
    /// Errors: `authority` has no port.
    pub fn allow_http(&mut self, authority: &str) -> anyhow::Result<&mut Self> {
        let authority: http::uri::Authority = authority
            .parse()
            .with_context(|| format!("--allow-http {authority:?}: expected HOST:PORT"))?;
        let Some(port) = authority.port_u16() else {
            bail!("--allow-http {authority}: expected HOST:PORT");
        };
        if authority.as_str().contains('@') {
            bail!("--allow-http {authority}: expected HOST:PORT, without userinfo");
        }
        // Stored as `permits_http` looks it up: the host lower-cased, the port as a number.
        self.http_authorities
            .insert(format!("{}:{port}", authority.host()).to_ascii_lowercase());
        Ok(self)
    }

    /// Whether a `wasi:http` request to `uri` is allowed (its port defaults by scheme), logging
    /// a refusal. An authority with userinfo (`user@host`) never is.
    pub(crate) fn permits_http(&self, uri: &http::Uri) -> bool {
        let permitted = self.http_grant(uri);
        if !permitted {
            let authority = uri.authority().map_or("", |a| a.as_str());
            log::warn!(
                target: "grpc_wasi_host",
                "refused a wasi:http request to {uri}: {authority:?} is not granted \
                 (grant it with --allow-http HOST:PORT, NetworkPolicy::allow_http)"
            );
        }
        permitted
    }

    fn http_grant(&self, uri: &http::Uri) -> bool {
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return false;
        }
        let Some(host) = uri.host() else {
            return false;
        };
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
                443
            } else {
                80
            });
        self.http_authorities
            .contains(&format!("{host}:{port}").to_ascii_lowercase())
    }

    /// Whether the guest may use `addr` for `reason`, logging a refusal: TCP connects to
    /// granted addresses, and the implicit bind to the wildcard address that `connect`
    /// performs; nothing else (listening, UDP).
    pub(crate) fn permits(&self, addr: SocketAddr, reason: SocketAddrUse) -> bool {
        let permitted = match reason {
            SocketAddrUse::TcpConnect => self.addrs.contains(&addr),
            SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
            _ => false,
        };
        if !permitted {
            match reason {
                SocketAddrUse::TcpConnect => log::warn!(
                    target: "grpc_wasi_host",
                    "refused a TCP connect to {addr}: not granted \
                     (grant it with --allow {addr}, NetworkPolicy::allow)"
                ),
                other => log::warn!(
                    target: "grpc_wasi_host",
                    "refused {other:?} on {addr}: only TCP connects can be granted"
                ),
            }
        }
        permitted
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn http_grants_refuse_userinfo_and_accept_any_spelling_of_the_port() {
        let mut policy = NetworkPolicy::deny_all();
        policy.allow_http("127.0.0.1:50051").unwrap();
        let permits = |uri: &str| policy.permits_http(&uri.parse().unwrap());
        assert!(permits("http://127.0.0.1:50051/x"));
        assert!(permits("http://127.0.0.1:050051/x"));
        assert!(!permits("http://user@127.0.0.1:50051/x"));
        assert!(!permits("http://user:pw@127.0.0.1:50051/x"));
        assert!(!permits("http://127.0.0.2:50051/x"));
        let mut spelled = NetworkPolicy::deny_all();
        spelled.allow_http("LOCALHOST:050051").unwrap();
        assert!(spelled.permits_http(&"http://localhost:50051/x".parse().unwrap()));
        assert!(
            NetworkPolicy::deny_all()
                .allow_http("u@127.0.0.1:1")
                .is_err()
        );
    }

    #[test]
    fn a_fixed_answer_grants_exactly_its_addresses_at_the_allowed_port() {
        let mut policy = NetworkPolicy::deny_all();
        policy.resolve("Backends.Test.=127.0.0.2,[::1]").unwrap();
        policy.allow("backends.test:7").unwrap();
        let connect = |addr: &str| policy.permits(addr.parse().unwrap(), SocketAddrUse::TcpConnect);
        assert!(connect("127.0.0.2:7"));
        assert!(connect("[::1]:7"));
        assert!(!connect("127.0.0.1:7"));
        assert!(!connect("127.0.0.2:8"));
        assert!(policy.names.contains("backends.test"));
        for bad in [
            "backends.test",
            "backends.test=",
            "backends.test=x",
            "=127.0.0.1",
        ] {
            assert!(NetworkPolicy::deny_all().resolve(bad).is_err(), "{bad}");
        }
    }
}
