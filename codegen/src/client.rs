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

impl ServiceGenerator for ClientGenerator {
    fn generate(&mut self, service: Service, buf: &mut String) {
        let module = format!("{}_client", service.name.to_snake_case());
        let client = format!("{}Client", service.name);
        let qualified = if service.package.is_empty() {
            service.proto_name.clone()
        } else {
            format!("{}.{}", service.package, service.proto_name)
        };

        buf.push_str(&format!(
            "/// Generated client for the `{qualified}` service.\npub mod {module} {{\n"
        ));
        buf.push_str("#![allow(unused_imports, dead_code, clippy::all)]\n");
        service.comments.append_with_indent(0, buf);
        if service.comments.leading.is_empty() {
            buf.push_str(&format!("/// Client for the `{qualified}` service.\n"));
        }
        buf.push_str(&format!(
            r#"#[derive(Debug, Clone)]
pub struct {client} {{
    inner: grpc_wasi::client::Grpc,
}}
impl {client} {{
    /// A client that sends its calls on `channel`.
    pub fn new(channel: grpc_wasi::Channel) -> Self {{
        Self {{ inner: grpc_wasi::client::Grpc::new(channel) }}
    }}
    /// A client whose every call first goes through `interceptor`, which may add metadata
    /// (an auth token, say) or refuse the call with a `Status`.
    pub fn with_interceptor<F>(channel: grpc_wasi::Channel, interceptor: F) -> Self
    where
        F: Fn(grpc_wasi::Request<()>) -> Result<grpc_wasi::Request<()>, grpc_wasi::Status> + 'static,
    {{
        Self {{ inner: grpc_wasi::client::Grpc::with_interceptor(channel, interceptor) }}
    }}
    /// A client over a configured core client.
    pub fn from_grpc(inner: grpc_wasi::client::Grpc) -> Self {{
        Self {{ inner }}
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
        for method in &service.methods {
            generate_method(&qualified, method, buf);
        }
        buf.push_str("}\n}\n");
    }
}

fn generate_method(service: &str, method: &Method, buf: &mut String) {
    let path = format!("/{service}/{}", method.proto_name);
    method.comments.append_with_indent(1, buf);
    if !method.comments.leading.is_empty() {
        buf.push_str("///\n");
    }
    // Every method's doc names the gRPC method it calls (PROTOCOL-HTTP2 ":path").
    buf.push_str(&format!("/// Calls `{path}`.\n"));
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
        name = method.name,
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
