//! gRPC target names in the `dns` scheme (gRPC's "gRPC Name Resolution" document,
//! `doc/naming.md`): `dns:[//authority/]host[:port]`, made into the `http://host:port` URI an
//! [`Endpoint`](super::Endpoint) connects to.

use crate::status::Status;

/// The port of a `dns:` target without one (naming.md: "port ... defaults to 443").
const DEFAULT_PORT: u16 = 443;

/// `target` as an `http://HOST:PORT` URI if it is a `dns:` target (the scheme in any case),
/// `None` if it is not one.
///
/// Shapes: `dns:///host`, `dns:///host:port`, `dns:///[v6]:port`, `dns:host:port`; an IPv6
/// literal without a port may go without brackets (`dns:///::1`).
///
/// Errors: `InvalidArgument` for a target without a host, or with a port that is not a
/// number from 1 to 65535; `Unimplemented` for a DNS server authority (`dns://8.8.8.8/host`):
/// `wasi:sockets/ip-name-lookup` asks the host's resolver and cannot name another.
pub(super) fn from_dns(target: &str) -> Option<Result<String, Status>> {
    let rest = target
        .get(..4)
        .filter(|scheme| scheme.eq_ignore_ascii_case("dns:"))
        .map(|_| &target[4..])?;
    Some(http_uri(target, rest))
}

fn http_uri(target: &str, rest: &str) -> Result<String, Status> {
    let invalid = |why: &str| Status::invalid_argument(format!("invalid target {target:?}: {why}"));
    let host_port = match rest.strip_prefix("//") {
        None => rest,
        Some(rest) => {
            let (authority, host_port) = rest.split_once('/').unwrap_or(("", rest));
            if !authority.is_empty() {
                return Err(Status::unimplemented(format!(
                    "target {target:?} names a DNS server ({authority}): wasi:sockets \
                     resolves names with the host's resolver; use dns:///HOST:PORT"
                )));
            }
            host_port
        }
    };
    let (host, port) = if host_port.starts_with('[') {
        let end = host_port.find(']').ok_or_else(|| invalid("no ']'"))?;
        let (host, after) = host_port.split_at(end + 1);
        match after {
            "" => (host.to_owned(), None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host.to_owned(), Some(port)),
                None => return Err(invalid("expected :PORT after the IPv6 address")),
            },
        }
    } else if host_port.matches(':').count() > 1 {
        (format!("[{host_port}]"), None)
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (host_port.to_owned(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err(invalid("no host"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| invalid("the port must be a number from 1 to 65535"))?,
    };
    Ok(format!("http://{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    #[test]
    fn dns_targets_become_http_uris() {
        let cases = [
            ("dns:///localhost:50051", "http://localhost:50051"),
            ("DNS:///example.com", "http://example.com:443"),
            ("dns:example.com:80", "http://example.com:80"),
            ("dns:///[::1]:8080", "http://[::1]:8080"),
            ("dns:///::1", "http://[::1]:443"),
            ("dns:///127.0.0.1:1", "http://127.0.0.1:1"),
        ];
        for (target, uri) in cases {
            assert_eq!(from_dns(target).unwrap().unwrap(), uri, "{target}");
        }
        assert!(from_dns("http://example.com").is_none());
        assert!(from_dns("dn").is_none());
    }

    #[test]
    fn bad_dns_targets_are_refused() {
        for bad in [
            "dns:///",
            "dns:///:80",
            "dns:///x:0",
            "dns:///x:http",
            "dns:///[::1",
        ] {
            let status = from_dns(bad).unwrap().unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{bad}");
        }
        let server = from_dns("dns://8.8.8.8/example.com").unwrap().unwrap_err();
        assert_eq!(server.code(), Code::Unimplemented);
    }
}
