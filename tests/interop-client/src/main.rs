//! interop-client: the gRPC interop test client (`doc/interop-test-descriptions.md`, "Client")
//! as a grpc-wasi guest.
//!
//! ```text
//! interop-client --server_host=127.0.0.1 --server_port=10000 --test_case=large_unary \
//!     [--transport=sockets|wasi-http|grpc-web]
//! ```
//!
//! Prints `PASS: CASE` and exits 0, or `FAIL: CASE: WHY` and exits 1 (2 for bad arguments).
//! Cases: empty_unary, large_unary, client_streaming, server_streaming, ping_pong,
//! empty_stream, custom_metadata, status_code_and_message, special_status_message,
//! unimplemented_method, unimplemented_service, timeout_on_sleeping_server,
//! cancel_after_begin, cancel_after_first_response, client_compressed_unary,
//! server_compressed_unary, client_compressed_streaming, server_compressed_streaming.
//!
//! The compression cases set and check the `Compressed-Flag` of each message, as the spec
//! says: client_compressed_streaming sends its second message uncompressed in a gzip call
//! ([`StreamMessage::uncompressed`]), and server_compressed_* check each response message's
//! flag ([`grpc_wasi::Response::message_compressed`], [`grpc_wasi::Streaming::message_compressed`]).

use std::process::ExitCode;
use std::time::Duration;

use futures::SinkExt;
use futures::channel::mpsc;
use grpc_wasi::{
    Certificate, Channel, ClientTlsConfig, Code, CompressionEncoding, Request, Status,
    StreamMessage, Transport,
};

mod testing {
    #![allow(missing_docs)]
    grpc_wasi::include_proto!("grpc.testing");
}

use testing::test_service_client::TestServiceClient;
use testing::unimplemented_service_client::UnimplementedServiceClient;
use testing::{
    BoolValue, EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest,
    StreamingInputCallRequest, StreamingOutputCallRequest,
};

/// A check that failed, or the status of a call that should not have failed.
type Check = Result<(), String>;

fn fail(status: Status) -> String {
    format!(
        "unexpected status {:?}: {:?}",
        status.code(),
        status.message()
    )
}

fn ensure(condition: bool, why: impl FnOnce() -> String) -> Check {
    if condition { Ok(()) } else { Err(why()) }
}

fn zeros(size: usize) -> Option<Payload> {
    Some(Payload {
        r#type: 0,
        body: vec![0; size],
    })
}

fn payload_len(payload: &Option<Payload>) -> usize {
    payload.as_ref().map_or(0, |p| p.body.len())
}

fn bool_value(value: bool) -> Option<BoolValue> {
    Some(BoolValue { value })
}

fn output_request(sizes: &[i32], request_size: usize) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: sizes
            .iter()
            .map(|&size| ResponseParameters {
                size,
                ..ResponseParameters::default()
            })
            .collect(),
        payload: zeros(request_size),
        ..StreamingOutputCallRequest::default()
    }
}

fn large_request() -> SimpleRequest {
    SimpleRequest {
        response_size: 314_159,
        payload: zeros(271_828),
        ..SimpleRequest::default()
    }
}

/// Expects `result` to be the status `code` with `message` (any message when `None`).
fn expect_status<T>(result: Result<T, Status>, code: Code, message: Option<&str>) -> Check {
    match result {
        Ok(_) => Err(format!("expected {code:?}, the call succeeded")),
        Err(status) if status.code() == code && message.is_none_or(|m| m == status.message()) => {
            Ok(())
        }
        Err(status) => Err(format!(
            "expected {code:?} {message:?}, got {:?} {:?}",
            status.code(),
            status.message()
        )),
    }
}

async fn run_case(channel: Channel, case: &str) -> Check {
    let mut client = TestServiceClient::new(channel.clone());
    match case {
        "empty_unary" => {
            let reply = client.empty_call(Empty {}).await.map_err(fail)?;
            ensure(reply.into_inner() == Empty {}, || "not empty".into())
        }
        "large_unary" => expect_large_reply(&mut client, large_request())
            .await
            .map(drop),
        "client_streaming" => {
            let sizes = [27_182, 8, 1_828, 45_904];
            let requests = futures::stream::iter(sizes.map(|size| StreamingInputCallRequest {
                payload: zeros(size),
                ..StreamingInputCallRequest::default()
            }));
            let reply = client.streaming_input_call(requests).await.map_err(fail)?;
            let total = reply.into_inner().aggregated_payload_size;
            ensure(total == 74_922, || format!("aggregated size {total}"))
        }
        "server_streaming" => {
            let sizes = [31_415, 9, 2_653, 58_979];
            let got = payload_sizes(&mut client, output_request(&sizes, 0)).await?;
            let got: Vec<usize> = got.into_iter().map(|(size, _)| size).collect();
            ensure(got == sizes.map(|s| s as usize), || {
                format!("sizes {got:?}")
            })
        }
        "ping_pong" => {
            let (mut tx, rx) = mpsc::unbounded();
            let pairs = [(27_182, 31_415), (8, 9), (1_828, 2_653), (45_904, 58_979)];
            // The first request is queued before the call is awaited: the call resolves with
            // the response headers, and many servers (grpcio, grpc-js, grpc-go) send those with
            // their first message, which answers the first request.
            let _ = tx.send(output_request(&[pairs[0].1], pairs[0].0)).await;
            let mut stream = client
                .full_duplex_call(rx)
                .await
                .map_err(fail)?
                .into_inner();
            for (i, (request, response)) in pairs.into_iter().enumerate() {
                if i > 0 {
                    let _ = tx.send(output_request(&[response], request)).await;
                }
                let reply = stream.message().await.map_err(fail)?;
                let len = reply.map(|r| payload_len(&r.payload));
                ensure(len == Some(response as usize), || format!("reply {len:?}"))?;
            }
            drop(tx);
            let end = stream.message().await.map_err(fail)?;
            ensure(end.is_none(), || "a reply after the last request".into())
        }
        "empty_stream" => {
            let requests = futures::stream::empty::<StreamingOutputCallRequest>();
            let mut stream = client
                .full_duplex_call(requests)
                .await
                .map_err(fail)?
                .into_inner();
            let first = stream.message().await.map_err(fail)?;
            ensure(first.is_none(), || "a reply to no request".into())
        }
        "custom_metadata" => custom_metadata(&mut client).await,
        "status_code_and_message" => status_and_message(&mut client, "test status message").await,
        "special_status_message" => {
            let message = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";
            status_and_message(&mut client, message).await
        }
        "unimplemented_method" => expect_status(
            client.unimplemented_call(Empty {}).await,
            Code::Unimplemented,
            None,
        ),
        "unimplemented_service" => {
            let mut other = UnimplementedServiceClient::new(channel);
            expect_status(
                other.unimplemented_call(Empty {}).await,
                Code::Unimplemented,
                None,
            )
        }
        "timeout_on_sleeping_server" => {
            let (mut tx, rx) = mpsc::unbounded();
            let _ = tx.send(output_request(&[31_415], 27_182)).await;
            let mut request = Request::new(rx);
            request.set_timeout(Duration::from_millis(1));
            // The deadline may end the call before or after the response head.
            let result = match client.full_duplex_call(request).await {
                Ok(response) => {
                    let mut stream = response.into_inner();
                    loop {
                        match stream.message().await {
                            Ok(Some(_)) => continue,
                            other => break other.map(|_| ()),
                        }
                    }
                }
                Err(status) => Err(status),
            };
            drop(tx);
            expect_status(result, Code::DeadlineExceeded, None)
        }
        "cancel_after_begin" => {
            // Open the connection first: this case cancels a call, not a connection attempt.
            // (On the wasi:http transport, a call cancelled while the host is still connecting
            // can leave the harness's HTTP client unable to connect for the next call.)
            still_usable(&mut client).await?;
            // A request stream that never ends: the call cannot complete by itself.
            let (_tx, rx) = mpsc::unbounded::<StreamingInputCallRequest>();
            let mut caller = client.clone();
            let call = Box::pin(async move { caller.streaming_input_call(rx).await });
            match futures::future::select(call, futures::future::ready(())).await {
                futures::future::Either::Left(_) => Err("the call completed".into()),
                // Dropping the call future cancels the call (RST_STREAM CANCEL).
                futures::future::Either::Right(((), call)) => {
                    drop(call);
                    still_usable(&mut client).await
                }
            }
        }
        "cancel_after_first_response" => {
            let (mut tx, rx) = mpsc::unbounded();
            let _ = tx.send(output_request(&[31_415], 27_182)).await;
            let mut stream = client
                .full_duplex_call(rx)
                .await
                .map_err(fail)?
                .into_inner();
            let first = stream.message().await.map_err(fail)?;
            ensure(first.is_some(), || "no first response".into())?;
            // Dropping the response stream cancels the call.
            drop(stream);
            drop(tx);
            still_usable(&mut client).await
        }
        "client_compressed_unary" => {
            let probe = SimpleRequest {
                expect_compressed: bool_value(true),
                ..large_request()
            };
            expect_status(
                client.unary_call(probe.clone()).await,
                Code::InvalidArgument,
                None,
            )?;
            let mut compressed = Request::new(probe);
            compressed.set_send_compressed(CompressionEncoding::Gzip);
            expect_large_reply(&mut client, compressed).await?;
            let plain = SimpleRequest {
                expect_compressed: bool_value(false),
                ..large_request()
            };
            expect_large_reply(&mut client, plain).await.map(drop)
        }
        "server_compressed_unary" => {
            let mut client = client.accept_compressed(CompressionEncoding::Gzip);
            for compressed in [true, false] {
                let request = SimpleRequest {
                    response_compressed: bool_value(compressed),
                    ..large_request()
                };
                let flag = expect_large_reply(&mut client, request).await?;
                ensure(flag == Some(compressed), || {
                    format!("response_compressed {compressed}: the response's flag is {flag:?}")
                })?;
            }
            Ok(())
        }
        "client_compressed_streaming" => {
            let probe = futures::stream::iter([StreamingInputCallRequest {
                payload: zeros(27_182),
                expect_compressed: bool_value(true),
            }]);
            expect_status(
                client.streaming_input_call(probe).await,
                Code::InvalidArgument,
                None,
            )?;
            let messages = futures::stream::iter([
                StreamMessage::new(StreamingInputCallRequest {
                    payload: zeros(27_182),
                    expect_compressed: bool_value(true),
                }),
                StreamMessage::uncompressed(StreamingInputCallRequest {
                    payload: zeros(45_904),
                    expect_compressed: bool_value(false),
                }),
            ]);
            let mut request = Request::new(messages);
            request.set_send_compressed(CompressionEncoding::Gzip);
            let reply = client.streaming_input_call(request).await.map_err(fail)?;
            let total = reply.into_inner().aggregated_payload_size;
            ensure(total == 73_086, || format!("aggregated size {total}"))
        }
        "server_compressed_streaming" => {
            let mut client = client.accept_compressed(CompressionEncoding::Gzip);
            let mut request = output_request(&[31_415, 92_653], 0);
            request.response_parameters[0].compressed = bool_value(true);
            request.response_parameters[1].compressed = bool_value(false);
            let got = payload_sizes(&mut client, request).await?;
            ensure(got == [(31_415, true), (92_653, false)], || {
                format!("(size, compressed) of the responses: {got:?}")
            })
        }
        other => Err(format!("unknown test case {other:?}")),
    }
}

/// The payload size and `Compressed-Flag` of each response to a `StreamingOutputCall`.
async fn payload_sizes(
    client: &mut TestServiceClient,
    request: StreamingOutputCallRequest,
) -> Result<Vec<(usize, bool)>, String> {
    let mut stream = client
        .streaming_output_call(request)
        .await
        .map_err(fail)?
        .into_inner();
    let mut sizes = Vec::new();
    while let Some(reply) = stream.message().await.map_err(fail)? {
        let compressed = stream.message_compressed() == Some(true);
        sizes.push((payload_len(&reply.payload), compressed));
    }
    Ok(sizes)
}

/// A unary call that must answer with the 314,159-byte payload of [`large_request`]; returns
/// whether the response message arrived compressed.
async fn expect_large_reply(
    client: &mut TestServiceClient,
    request: impl grpc_wasi::IntoRequest<SimpleRequest>,
) -> Result<Option<bool>, String> {
    let reply = client.unary_call(request).await.map_err(fail)?;
    let len = payload_len(&reply.get_ref().payload);
    ensure(len == 314_159, || format!("payload of {len} bytes"))?;
    Ok(reply.message_compressed())
}

/// After a cancelled call, the channel still carries calls.
async fn still_usable(client: &mut TestServiceClient) -> Check {
    client.empty_call(Empty {}).await.map(drop).map_err(fail)
}

async fn custom_metadata(client: &mut TestServiceClient) -> Check {
    const INITIAL: (&str, &str) = ("x-grpc-test-echo-initial", "test_initial_metadata_value");
    const TRAILING: (&str, &[u8]) = ("x-grpc-test-echo-trailing-bin", &[0xab, 0xab, 0xab]);
    fn with_metadata<T>(message: T) -> Result<Request<T>, String> {
        let mut request = Request::new(message);
        let md = request.metadata_mut();
        md.insert(INITIAL.0, INITIAL.1)
            .and_then(|()| md.insert_bin(TRAILING.0, TRAILING.1))
            .map_err(|e| e.to_string())?;
        Ok(request)
    }
    let check = |initial: Option<&str>, trailing: Option<Vec<u8>>| {
        ensure(initial == Some(INITIAL.1), || {
            format!("initial metadata {initial:?}")
        })?;
        ensure(trailing.as_deref() == Some(TRAILING.1), || {
            format!("trailing metadata {trailing:?}")
        })
    };
    // Unary: the response's metadata holds the initial and the trailing metadata.
    let reply = client
        .unary_call(with_metadata(large_request())?)
        .await
        .map_err(fail)?;
    check(
        reply.metadata().get(INITIAL.0),
        reply.metadata().get_bin(TRAILING.0),
    )?;
    // Full duplex: initial metadata on the response, trailing from the stream's trailers.
    let requests = futures::stream::iter([output_request(&[314_159], 271_828)]);
    let response = client
        .full_duplex_call(with_metadata(requests)?)
        .await
        .map_err(fail)?;
    let initial = response.metadata().get(INITIAL.0).map(str::to_owned);
    let mut stream = response.into_inner();
    let trailers = stream.trailers().await.map_err(fail)?.unwrap_or_default();
    check(initial.as_deref(), trailers.get_bin(TRAILING.0))
}

async fn status_and_message(client: &mut TestServiceClient, message: &str) -> Check {
    let echo = Some(EchoStatus {
        code: 2,
        message: message.to_owned(),
    });
    let request = SimpleRequest {
        response_status: echo.clone(),
        ..SimpleRequest::default()
    };
    expect_status(
        client.unary_call(request).await,
        Code::Unknown,
        Some(message),
    )?;
    let request = StreamingOutputCallRequest {
        response_status: echo,
        ..StreamingOutputCallRequest::default()
    };
    let result = match client
        .full_duplex_call(futures::stream::iter([request]))
        .await
    {
        Ok(response) => response.into_inner().message().await.map(drop),
        Err(status) => Err(status),
    };
    expect_status(result, Code::Unknown, Some(message))
}

/// The command line: the interop client's flags (`doc/interop-test-descriptions.md`).
struct Args {
    host: String,
    port: String,
    case: String,
    transport: Transport,
    /// `--use_tls=true`: `https://`.
    use_tls: bool,
    /// `--ca_file=PATH`: the CA to trust (read through wasi:filesystem), instead of
    /// Mozilla's roots.
    ca_file: Option<String>,
    /// `--server_host_override=NAME`: the name the server's certificate is checked for.
    host_override: Option<String>,
}

/// `--name=value` or `--name value`.
fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut host, mut port, mut case, mut transport) =
        ("127.0.0.1".to_owned(), None, None, Transport::Sockets);
    let (mut use_tls, mut ca_file, mut host_override) = (false, None, None);
    while let Some(arg) = args.next() {
        let (name, value) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (
                arg.clone(),
                args.next().ok_or(format!("{arg} needs a value"))?,
            ),
        };
        match name.as_str() {
            "--server_host" => host = value,
            "--server_port" => port = Some(value),
            "--test_case" => case = Some(value),
            "--use_tls" => use_tls = value == "true",
            "--ca_file" => ca_file = Some(value),
            "--server_host_override" => host_override = Some(value),
            "--transport" => {
                transport = value
                    .parse()
                    .map_err(|status: grpc_wasi::Status| status.message().to_owned())?
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let port = port.ok_or("--server_port is required")?;
    let case = case.ok_or("--test_case is required")?;
    Ok(Args {
        host,
        port,
        case,
        transport,
        use_tls,
        ca_file,
        host_override,
    })
}

/// The channel `args` name, connected.
async fn connect(args: &Args) -> Result<Channel, String> {
    let host = if args.host.contains(':') {
        format!("[{}]", args.host)
    } else {
        args.host.clone()
    };
    let scheme = if args.use_tls { "https" } else { "http" };
    let mut endpoint = Channel::from_shared(format!("{scheme}://{host}:{}", args.port))
        .map_err(fail)?
        .transport(args.transport);
    if args.use_tls && args.transport == Transport::Sockets {
        let mut tls = ClientTlsConfig::new();
        if let Some(path) = &args.ca_file {
            let pem = std::fs::read(path).map_err(|e| format!("--ca_file {path}: {e}"))?;
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        if let Some(name) = &args.host_override {
            tls = tls.domain_name(name);
        }
        endpoint = endpoint.tls_config(tls).map_err(fail)?;
    }
    endpoint.connect().await.map_err(fail)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!(
                "usage: interop-client --server_host=H --server_port=P --test_case=C \
                 [--transport=T] [--use_tls=true [--ca_file=PEM] [--server_host_override=NAME]]: {e}"
            );
            return ExitCode::from(2);
        }
    };
    let case = args.case.clone();
    let outcome = grpc_wasi::block_on(async {
        let channel = connect(&args).await?;
        run_case(channel, &case).await
    });
    match outcome {
        Ok(()) => {
            println!("PASS: {case}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            println!("FAIL: {case}: {why}");
            ExitCode::FAILURE
        }
    }
}
