//! Calling a method known only from reflection: JSON request messages in, JSON responses out
//! (proto3's JSON mapping, via prost-reflect), for each of the four RPC kinds.

use futures_lite::StreamExt;
use grpc_wasi::client::Grpc;
use grpc_wasi::codegen::PathAndQuery;
use grpc_wasi::{Channel, MetadataMap, Request, Status, Streaming};
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor, SerializeOptions};

use crate::Failure;
use crate::raw::Raw;

/// Calls `method` with the JSON messages in `data` (none: one empty message) and `metadata`,
/// printing each response as indented JSON, as grpcurl does.
///
/// Errors: `Failure::Other` for request data that does not parse or does not fit the method
/// (a unary or server-streaming method given other than one message); `Failure::Rpc` for the
/// call's status.
pub async fn invoke(
    channel: Channel,
    method: &MethodDescriptor,
    data: Option<&str>,
    metadata: MetadataMap,
    emit_defaults: bool,
) -> Result<(), Failure> {
    let requests = parse_requests(&method.input(), data)?;
    let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
    let path = PathAndQuery::try_from(path.as_str())
        .map_err(|e| Failure::Other(format!("invalid method path {path}: {e}")))?;
    let mut grpc = Grpc::new(channel);
    let output = method.output();
    let print = |raw: Raw| print_response(&output, raw, emit_defaults);
    let one = |requests: Vec<DynamicMessage>| {
        let count = requests.len();
        let mut requests = requests.into_iter();
        match (requests.next(), requests.next()) {
            (Some(request), None) => Ok(request),
            _ => Err(Failure::Other(format!(
                "method {:?} is a {} RPC, but request data contained {count} messages",
                method.full_name(),
                if method.is_server_streaming() {
                    "server-streaming"
                } else {
                    "unary"
                }
            ))),
        }
    };
    match (method.is_client_streaming(), method.is_server_streaming()) {
        (false, false) => {
            let request = with_metadata(one(requests)?, metadata);
            let response = grpc.unary::<_, Raw>(request, path).await?;
            print(response.into_inner())
        }
        (false, true) => {
            let request = with_metadata(one(requests)?, metadata);
            let response = grpc.server_streaming::<_, Raw>(request, path).await?;
            print_all(response.into_inner(), print).await
        }
        (true, false) => {
            let request = with_metadata(futures_lite::stream::iter(requests), metadata);
            let response = grpc.client_streaming::<_, _, Raw>(request, path).await?;
            print(response.into_inner())
        }
        (true, true) => {
            let request = with_metadata(futures_lite::stream::iter(requests), metadata);
            let response = grpc.streaming::<_, _, Raw>(request, path).await?;
            print_all(response.into_inner(), print).await
        }
    }
}

fn with_metadata<T>(message: T, metadata: MetadataMap) -> Request<T> {
    let mut request = Request::new(message);
    *request.metadata_mut() = metadata;
    request
}

async fn print_all(
    mut responses: Streaming<Raw>,
    print: impl Fn(Raw) -> Result<(), Failure>,
) -> Result<(), Failure> {
    while let Some(response) = responses.next().await {
        print(response?)?;
    }
    Ok(())
}

/// The request messages: the JSON values of `data` one after another (whitespace between
/// them, as grpcurl reads them), each as a `message`.
fn parse_requests(
    message: &MessageDescriptor,
    data: Option<&str>,
) -> Result<Vec<DynamicMessage>, Failure> {
    let Some(data) = data else {
        return Ok(vec![DynamicMessage::new(message.clone())]);
    };
    serde_json::Deserializer::from_str(data)
        .into_iter::<serde_json::Value>()
        .map(|value| {
            let value = value.map_err(|e| bad_data(format!("{e}")))?;
            DynamicMessage::deserialize(message.clone(), value)
                .map_err(|e| bad_data(format!("message type {}: {e}", message.full_name())))
        })
        .collect()
}

fn bad_data(why: String) -> Failure {
    Failure::Other(format!("error getting request data: {why}"))
}

/// Prints one response as indented JSON.
fn print_response(
    output: &MessageDescriptor,
    raw: Raw,
    emit_defaults: bool,
) -> Result<(), Failure> {
    let message = DynamicMessage::decode(output.clone(), raw.0.as_slice()).map_err(|e| {
        Failure::Rpc(Status::internal(format!(
            "a response is not a valid {}: {e}",
            output.full_name()
        )))
    })?;
    let options = SerializeOptions::new().skip_default_fields(!emit_defaults);
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::pretty(&mut out);
    message
        .serialize_with_options(&mut serializer, &options)
        .map_err(|e| Failure::Other(format!("formatting a response: {e}")))?;
    println!("{}", String::from_utf8_lossy(&out));
    Ok(())
}
