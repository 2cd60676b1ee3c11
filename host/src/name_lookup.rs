//! `wasi:sockets/ip-name-lookup` (WASI 0.2's and WASI 0.3's) that answers only the names the
//! [`NetworkPolicy`](crate::NetworkPolicy) grants.
//!
//! wasmtime's own implementation is all or nothing (`allow_ip_name_lookup`): a guest granted
//! one name could resolve any name, and each query reaching the host's resolver is a way out
//! of the sandbox (DNS exfiltration). This one replaces it in the linker
//! ([`crate::add_to_linker`]): a granted name (`NetworkPolicy::allow("NAME:PORT")`, the
//! harness's `--allow NAME:PORT`) is resolved by wasmtime's implementation, an IP literal is
//! returned as it is (no query leaves the host), and every other name fails with
//! `permanent-resolver-failure`, the code wasmtime gives when name lookup is off.
//!
//! A name may also be given a fixed answer (`--resolve NAME=IP[,IP...]`, as curl's
//! `--resolve`): a lookup of it, once granted, returns those addresses in that order and no
//! query leaves the host. Tests use it to put several servers behind one name, and change it
//! during a run ([`NetworkPolicy::resolve_to`](crate::NetworkPolicy::resolve_to)).
//!
//! Names compare as DNS does: case-insensitively, without a trailing dot, after IDNA
//! (`url::Host::parse`, the parser wasmtime resolves with), so `LOCALHOST.` is `localhost`.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::vec;

use wasmtime::component::{Accessor, HasData, Linker, Resource};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
    self, Host as LookupHost, HostResolveAddressStream, ResolveAddressStream,
};
use wasmtime_wasi::p2::bindings::sockets::network::{
    self, ErrorCode, HostNetwork, IpAddress, Network,
};
use wasmtime_wasi::p2::{DynPollable, Pollable, SocketError, subscribe};
use wasmtime_wasi::p3::bindings::sockets::ip_name_lookup as lookup_p3;
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsCtxView, WasiSocketsView};

/// The name a lookup of `name` asks for, or `None` for an IP literal (which needs no
/// resolver) or a name that is not a valid host (which wasmtime refuses with
/// `invalid-argument` before any query).
///
/// Shape: the IDNA/lower-cased domain without its trailing dot.
pub(crate) fn domain(name: &str) -> Option<String> {
    match url::Host::parse(name) {
        Ok(url::Host::Domain(domain)) => {
            Some(domain.strip_suffix('.').unwrap_or(&domain).to_owned())
        }
        _ => None,
    }
}

/// The names a guest may look up, as [`domain`] spells them.
pub(crate) type GrantedNames = HashSet<String>;

/// A name's fixed answer, which its owner may change while guests run (tests change it to
/// see a guest resolve the name again).
pub(crate) type Answer = Arc<Mutex<Vec<IpAddr>>>;

/// The fixed answers of names (`--resolve`), by [`domain`] spelling.
pub(crate) type FixedAnswers = HashMap<String, Answer>;

/// The host state the replacement sees: WASI's sockets context, the granted names and the
/// fixed answers.
pub(crate) struct NameLookup<'a> {
    pub(crate) sockets: WasiSocketsCtxView<'a>,
    pub(crate) granted: &'a GrantedNames,
    pub(crate) fixed: &'a FixedAnswers,
}

/// A lookup of a name with a fixed answer: its addresses not returned yet. Kept in the
/// resource table under the handle the guest holds as a `resolve-address-stream` (a handle is
/// a table index; the table checks the type on each access, which is how the stream methods
/// below tell a fixed answer from wasmtime's own stream).
struct FixedAnswer(vec::IntoIter<IpAddr>);

/// The answer is there from the start.
#[async_trait::async_trait]
impl Pollable for FixedAnswer {
    async fn ready(&mut self) {}
}

/// The fixed-answer view of a `resolve-address-stream` handle.
fn fixed(stream: &Resource<ResolveAddressStream>) -> Resource<FixedAnswer> {
    Resource::new_borrow(stream.rep())
}

/// Marks [`NameLookup`] as the data `ip-name-lookup`'s host functions get.
pub(crate) struct GrantedLookup;

impl HasData for GrantedLookup {
    type Data<'a> = NameLookup<'a>;
}

/// Replaces `wasi:sockets/ip-name-lookup` in `linker` (which already has WASI 0.2) with the
/// granted-names one. Errors: the interface cannot be linked (a wasmtime version mismatch).
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> NameLookup<'_>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = ip_name_lookup::add_to_linker::<T, GrantedLookup>(linker, view);
    linker.allow_shadowing(false);
    added
}

/// Links WASI 0.3's `wasi:sockets` (`types` as wasmtime has it, `ip-name-lookup` as the
/// granted-names one) into `linker`. Errors: an interface cannot be linked (a name already
/// defined, or a wasmtime version mismatch).
pub(crate) fn add_p3_to_linker<T: WasiSocketsView + Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> NameLookup<'_>,
) -> wasmtime::Result<()> {
    wasmtime_wasi::p3::bindings::sockets::types::add_to_linker::<T, WasiSockets>(
        linker,
        T::sockets,
    )?;
    lookup_p3::add_to_linker::<T, GrantedLookupP3>(linker, view)
}

/// `ip-name-lookup`'s errors are `network`'s, converted as wasmtime converts them.
impl network::Host for NameLookup<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        self.sockets.convert_error_code(error)
    }

    fn network_error_code(
        &mut self,
        error: Resource<network::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        self.sockets.network_error_code(error)
    }
}

impl HostNetwork for NameLookup<'_> {
    fn drop(&mut self, network: Resource<Network>) -> wasmtime::Result<()> {
        HostNetwork::drop(&mut self.sockets, network)
    }
}

/// What a lookup of a name gets, by the policy.
enum Decision {
    /// Not granted: refused without a query.
    Refused,
    /// Granted, with a fixed answer: these addresses.
    Fixed(Vec<IpAddr>),
    /// Granted (or an IP literal): wasmtime's implementation answers.
    Resolve,
}

impl NameLookup<'_> {
    /// What a lookup of `name` gets (and a refusal logged, with the grant that would allow it).
    fn decide(&self, name: &str) -> Decision {
        let Some(domain) = domain(name) else {
            return Decision::Resolve;
        };
        if !self.granted.contains(&domain) {
            log::warn!(
                target: "grpc_wasi_host",
                "refused a lookup of {name:?}: the name is not granted \
                 (grant it with --allow {domain}:PORT, NetworkPolicy::allow)"
            );
            return Decision::Refused;
        }
        match self.fixed.get(&domain) {
            Some(answer) => Decision::Fixed(answer.lock().map(|a| a.clone()).unwrap_or_default()),
            None => Decision::Resolve,
        }
    }
}

impl LookupHost for NameLookup<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> Result<Resource<ResolveAddressStream>, SocketError> {
        match self.decide(&name) {
            Decision::Refused => Err(ErrorCode::PermanentResolverFailure.into()),
            Decision::Fixed(addrs) => {
                let answer = self.sockets.table.push(FixedAnswer(addrs.into_iter()))?;
                Ok(Resource::new_own(answer.rep()))
            }
            Decision::Resolve => self.sockets.resolve_addresses(network, name),
        }
    }
}

impl HostResolveAddressStream for NameLookup<'_> {
    fn resolve_next_address(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> Result<Option<IpAddress>, SocketError> {
        if let Ok(FixedAnswer(addrs)) = self.sockets.table.get_mut(&fixed(&stream)) {
            return Ok(addrs.next().map(IpAddress::from));
        }
        self.sockets.resolve_next_address(stream)
    }

    fn subscribe(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        if self.sockets.table.get(&fixed(&stream)).is_ok() {
            return subscribe(self.sockets.table, fixed(&stream));
        }
        HostResolveAddressStream::subscribe(&mut self.sockets, stream)
    }

    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        if self.sockets.table.get(&fixed(&stream)).is_ok() {
            self.sockets
                .table
                .delete(Resource::<FixedAnswer>::new_own(stream.rep()))?;
            return Ok(());
        }
        HostResolveAddressStream::drop(&mut self.sockets, stream)
    }
}

/// Marks [`NameLookup`] as the data WASI 0.3's `ip-name-lookup` gets.
pub(crate) struct GrantedLookupP3;

impl HasData for GrantedLookupP3 {
    type Data<'a> = NameLookup<'a>;
}

impl lookup_p3::Host for NameLookup<'_> {}

/// WASI 0.3's `resolve-addresses`: the same grants and fixed answers as WASI 0.2's, and
/// wasmtime's own implementation for what they let through.
impl<U: WasiSocketsView + 'static> lookup_p3::HostWithStore<U> for GrantedLookupP3 {
    async fn resolve_addresses(
        store: &Accessor<U, Self>,
        name: String,
    ) -> wasmtime::Result<Result<Vec<lookup_p3::IpAddress>, lookup_p3::ErrorCode>> {
        match store.with(|mut view| view.get().decide(&name)) {
            Decision::Refused => Ok(Err(lookup_p3::ErrorCode::PermanentResolverFailure)),
            Decision::Fixed(addrs) => Ok(Ok(addrs.into_iter().map(Into::into).collect())),
            Decision::Resolve => {
                let sockets = store.with_getter::<WasiSockets>(U::sockets);
                <WasiSockets as lookup_p3::HostWithStore<U>>::resolve_addresses(&sockets, name)
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::domain;

    #[test]
    fn names_compare_as_dns_does_and_ip_literals_need_no_grant() {
        assert_eq!(domain("localhost").as_deref(), Some("localhost"));
        assert_eq!(domain("LocalHost.").as_deref(), Some("localhost"));
        assert_eq!(
            domain("bücher.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(domain("127.0.0.1"), None);
        assert_eq!(domain("0x7f.1"), None, "WHATWG IPv4 spellings are literals");
        assert_eq!(domain("[::1]"), None);
        assert_eq!(domain("localhost..").as_deref(), Some("localhost."));
        assert_eq!(domain("a b"), None);
    }
}
