//! The client stub generator: a `prost_build::ServiceGenerator` that writes, for each service
//! `Foo`, a module `foo_client` with a `FooClient` whose methods are the service's RPCs.
//!
//! Names follow tonic-build (`echo_client::EchoClient`, snake_case methods), so code moves
//! between tonic and grpc-wasi with few edits. Proto comments become rustdoc.

use heck::ToSnakeCase;
use prost_build::{Method, Service, ServiceGenerator};

/// Generates grpc-wasi client stubs; plug it into a `prost_build::Config`.
#[derive(Debug, Default, Clone, Copy)]
pub struct ClientGenerator;

/// The names a generated client has besides its rpcs: its own methods, and the methods of
/// the traits it implements (`Clone`, `Debug`, and the blanket `Into`, `From`, `Borrow`, …),
/// which method syntax would find before an rpc of that name. An rpc whose method name is one
/// of these gets the suffix `_rpc` (see [`method_names`]).
const RESERVED: &[&str] = &[
    "new",
    "with_interceptor",
    "from_grpc",
    "send_compressed",
    "accept_compressed",
    "max_decoding_message_size",
    "max_encoding_message_size",
    "clone",
    "clone_from",
    "clone_into",
    "to_owned",
    "fmt",
    "into",
    "try_into",
    "from",
    "try_from",
    "borrow",
    "borrow_mut",
    "type_id",
];

/// The method name of each of `service`'s rpcs, in order: prost's snake_case name, or, when
/// that is a name in [`RESERVED`] or an earlier rpc's, that name with `_rpc` appended (again,
/// until no rpc or client method has it). `connect` is kept for an rpc (the client then has
/// no `connect` constructor).
fn method_names(service: &Service) -> Vec<String> {
    let mut taken: Vec<String> = RESERVED.iter().map(|name| (*name).to_owned()).collect();
    let kept: Vec<Option<String>> = service
        .methods
        .iter()
        .map(|method| {
            if taken.contains(&method.name) {
                return None;
            }
            taken.push(method.name.clone());
            Some(method.name.clone())
        })
        .collect();
    kept.into_iter()
        .zip(&service.methods)
        .map(|(kept, method)| {
            kept.unwrap_or_else(|| {
                let mut name = method.name.clone();
                while taken.contains(&name) {
                    name.push_str("_rpc");
                }
                taken.push(name.clone());
                name
            })
        })
        .collect()
}

impl ServiceGenerator for ClientGenerator {
    fn generate(&mut self, service: Service, buf: &mut String) {
        let module = format!("{}_client", service.name.to_snake_case());
        let client = format!("{}Client", service.name);
        let qualified = if service.package.is_empty() {
            service.proto_name.clone()
        } else {
            format!("{}.{}", service.package, service.proto_name)
        };
        let names = method_names(&service);
        let has_connect_rpc = names.iter().any(|name| name == "connect");

        buf.push_str(&format!(
            "/// Generated client for the `{qualified}` service.\npub mod {module} {{\n"
        ));
        buf.push_str("#![allow(unused_imports, dead_code, clippy::all)]\n");
        service.comments.append_with_indent(0, buf);
        if service.comments.leading.is_empty() {
            buf.push_str(&format!("/// Client for the `{qualified}` service.\n"));
        }
        buf.push_str(
            "///\n/// `T` is the channel type, as in tonic's generic clients: \
             `grpc_wasi::transport::Channel`, the default\n/// (an interceptor is kept inside \
             the client, so an intercepted client has the same type).\n",
        );
        if has_connect_rpc {
            buf.push_str(
                "///\n/// This service has an rpc `Connect`, which `connect` calls: make the client \
                 with\n/// `new(Endpoint::new(dst)?.connect().await?)`.\n",
            );
        }
        buf.push_str(&format!(
            r#"#[derive(Debug, Clone)]
pub struct {client}<T = grpc_wasi::transport::Channel> {{
    inner: grpc_wasi::client::Grpc,
    channel: ::core::marker::PhantomData<fn() -> T>,
}}
"#
        ));
        if !has_connect_rpc {
            buf.push_str(&format!(
                r#"impl {client}<grpc_wasi::transport::Channel> {{
    /// Connects to `dst` (a URI such as `"http://[::1]:50051"`, or an `Endpoint`) and makes a
    /// client on the channel, as tonic's generated `connect`.
    ///
    /// Errors: those of `Endpoint::new` and `Endpoint::connect`.
    pub async fn connect<D>(dst: D) -> Result<Self, grpc_wasi::Status>
    where
        D: TryInto<grpc_wasi::transport::Endpoint>,
        D::Error: Into<grpc_wasi::Status>,
    {{
        let channel = grpc_wasi::transport::Endpoint::new(dst)?.connect().await?;
        Ok(Self::new(channel))
    }}
}}
"#
            ));
        }
        buf.push_str(&format!(
            r#"impl {client}<grpc_wasi::transport::Channel> {{
    /// A client that sends its calls on `channel`.
    pub fn new(channel: grpc_wasi::transport::Channel) -> Self {{
        Self::from_grpc(grpc_wasi::client::Grpc::new(channel))
    }}
    /// A client whose every call first goes through `interceptor` (a
    /// `grpc_wasi::client::Interceptor`: a type implementing it, or a
    /// `FnMut(Request<()>) -> Result<Request<()>, Status>` closure), which may add metadata
    /// (an auth token, say) or refuse the call with a `Status`.
    pub fn with_interceptor<F>(channel: grpc_wasi::transport::Channel, interceptor: F) -> Self
    where
        F: grpc_wasi::client::Interceptor + 'static,
    {{
        Self::from_grpc(grpc_wasi::client::Grpc::with_interceptor(channel, interceptor))
    }}
    /// A client over a configured core client.
    pub fn from_grpc(inner: grpc_wasi::client::Grpc) -> Self {{
        Self {{ inner, channel: ::core::marker::PhantomData }}
    }}
    /// Compresses request messages with `encoding` (default: none).
    pub fn send_compressed(mut self, encoding: grpc_wasi::CompressionEncoding) -> Self {{
        self.inner = self.inner.send_compressed(encoding);
        self
    }}
    /// Accepts responses compressed with `encoding`; call once per encoding.
    pub fn accept_compressed(mut self, encoding: grpc_wasi::CompressionEncoding) -> Self {{
        self.inner = self.inner.accept_compressed(encoding);
        self
    }}
    /// Sets the largest response message, in bytes, this client accepts (default 4 MiB).
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {{
        self.inner = self.inner.max_decoding_message_size(limit);
        self
    }}
    /// Sets the largest request message, in bytes, this client sends (default unlimited).
    pub fn max_encoding_message_size(mut self, limit: usize) -> Self {{
        self.inner = self.inner.max_encoding_message_size(limit);
        self
    }}
"#
        ));
        for (method, name) in service.methods.iter().zip(&names) {
            generate_method(&qualified, method, name, buf);
        }
        buf.push_str("}\n}\n");
    }
}

fn generate_method(service: &str, method: &Method, name: &str, buf: &mut String) {
    let path = format!("/{service}/{}", method.proto_name);
    method.comments.append_with_indent(1, buf);
    if !method.comments.leading.is_empty() {
        buf.push_str("///\n");
    }
    // Every method's doc names the gRPC method it calls (PROTOCOL-HTTP2 ":path").
    buf.push_str(&format!("/// Calls `{path}`.\n"));
    if name != method.name {
        let plain = method.name.trim_start_matches("r#");
        buf.push_str(&format!(
            "///\n/// Named `{name}`: `{plain}` is a method every client has.\n#[doc(alias = \"{plain}\")]\n"
        ));
    }
    if method.options.deprecated == Some(true) {
        // `option deprecated = true;` on the rpc, as tonic marks it.
        buf.push_str("#[deprecated]\n");
    }
    let input = rust_type(&method.input_type);
    let output = rust_type(&method.output_type);
    let (param, convert) = if method.client_streaming {
        (
            format!("impl grpc_wasi::IntoStreamingRequest<Message = {input}>"),
            "into_streaming_request",
        )
    } else {
        (
            format!("impl grpc_wasi::IntoRequest<{input}>"),
            "into_request",
        )
    };
    let (output, call) = match (method.client_streaming, method.server_streaming) {
        (false, false) => (output, "unary"),
        (false, true) => (
            format!("grpc_wasi::Streaming<{output}>"),
            "server_streaming",
        ),
        (true, false) => (output, "client_streaming"),
        (true, true) => (format!("grpc_wasi::Streaming<{output}>"), "streaming"),
    };
    buf.push_str(&format!(
        r#"pub async fn {name}(
        &mut self,
        request: {param},
    ) -> Result<grpc_wasi::Response<{output}>, grpc_wasi::Status> {{
        let path = grpc_wasi::codegen::PathAndQuery::from_static("{path}");
        self.inner.{call}(request.{convert}(), path).await
    }}
"#,
    ));
}

/// The type as seen from inside the generated `*_client` module.
fn rust_type(ty: &str) -> String {
    // Absolute paths, and `()` (what prost makes of `google.protobuf.Empty`), stay as they are.
    if ty.starts_with("::") || ty.starts_with("crate::") || ty.starts_with('(') {
        ty.to_owned()
    } else {
        format!("super::{ty}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extern_types_keep_their_path() {
        assert_eq!(rust_type("EchoRequest"), "super::EchoRequest");
        assert_eq!(
            rust_type("::prost_types::Timestamp"),
            "::prost_types::Timestamp"
        );
        assert_eq!(rust_type("()"), "()");
        assert_eq!(
            rust_type("super::common::Point"),
            "super::super::common::Point"
        );
    }
}
