//! e2e-guest: runs one end-to-end scenario against the harness's echo server.
//!
//! Usage: `e2e-guest URI SCENARIO [N]`, with the transport in the environment variable
//! `TRANSPORT` (`sockets`, the default, `wasi-http` or `grpc-web`), `CONNECT=lazy` for a
//! channel made with `Endpoint::connect_lazy`, `CONNECT_TIMEOUT_MS` for
//! `Endpoint::connect_timeout`, and `KEEPALIVE_MS`, `KEEPALIVE_TIMEOUT_MS` and
//! `KEEPALIVE_IDLE` (set: true) for the keepalive settings; for an `https://` URI over sockets,
//! `TLS_CA` (a CA to trust, PEM text), `TLS_CERT` and `TLS_KEY` (a client identity, PEM text),
//! `TLS_DOMAIN` (the name to check) and `TLS_ASSUME_H2` (set: accept a server that selects no
//! ALPN protocol) make its `ClientTlsConfig`; `RUNTIME=tokio` runs the scenario in a tokio
//! runtime instead of `grpc_wasi::block_on`; `SERVICE_CONFIG` is the channel's service config
//! (JSON), and `HEALTH_CHECK` (set) turns on client-side health checking. Prints one line: `ok: DETAILS`
//! when the scenario's checks passed, `status: CODE MESSAGE` when a call failed with a status
//! (`CODE` is the number) and `check failed: WHAT` when a reply was not what the scenario
//! expected. The host-side tests assert on that line. Exit code 0 unless the arguments are wrong.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use grpc_wasi::client::Grpc;
use grpc_wasi::codegen::PathAndQuery;
use grpc_wasi::{
    Certificate, Channel, ClientTlsConfig, CompressionEncoding, Identity, Request, Status,
    Transport,
};

mod echo {
    #![allow(missing_docs)]
    grpc_wasi::include_proto!("grpc.examples.echo");
}

use echo::echo_client::EchoClient;
use echo::{EchoRequest, EchoResponse};

/// The path of the fault server's method for the fault named in `FAULT`.
fn fault_path() -> Result<PathAndQuery, Status> {
    fault_path_of(&std::env::var("FAULT").unwrap_or_default())
}

/// The path of the fault server's method for the fault `fault`.
fn fault_path_of(fault: &str) -> Result<PathAndQuery, Status> {
    PathAndQuery::try_from(format!("/fault.Fault/{fault}"))
        .map_err(|e| Status::invalid_argument(e.to_string()))
}

/// One unary call to the fault server's `fault`: the reply's message.
async fn call_fault(grpc: &mut Grpc, fault: &str) -> Result<String, Status> {
    let reply: grpc_wasi::Response<EchoResponse> = grpc
        .unary(Request::new(request("x")), fault_path_of(fault)?)
        .await?;
    Ok(reply.into_inner().message)
}

/// The environment variable `var`, a number of milliseconds, if it is set.
fn env_ms(var: &str) -> Option<Duration> {
    let ms = std::env::var(var).ok()?.parse().ok()?;
    Some(Duration::from_millis(ms))
}

/// The TLS configuration the `TLS_*` variables describe, if any is set.
fn tls_config() -> Option<ClientTlsConfig> {
    let var = |name: &str| std::env::var(name).ok();
    if ["TLS_CA", "TLS_CERT", "TLS_DOMAIN", "TLS_ASSUME_H2"]
        .iter()
        .all(|name| var(name).is_none())
    {
        return None;
    }
    let mut tls = ClientTlsConfig::new();
    if let Some(ca) = var("TLS_CA") {
        tls = tls.ca_certificate(Certificate::from_pem(ca));
    }
    if let (Some(cert), Some(key)) = (var("TLS_CERT"), var("TLS_KEY")) {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    if let Some(domain) = var("TLS_DOMAIN") {
        tls = tls.domain_name(domain);
    }
    Some(tls.assume_http2(var("TLS_ASSUME_H2").is_some()))
}

fn request(message: impl Into<String>) -> EchoRequest {
    EchoRequest {
        message: message.into(),
    }
}

/// What a scenario found: `Ok(details)`, or `Err(what)` for a reply that was wrong.
type Outcome = Result<String, String>;

fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

async fn scenario(uri: String, name: &str, n: usize) -> Result<Outcome, Status> {
    let transport = match std::env::var("TRANSPORT") {
        Ok(name) => name.parse()?,
        Err(_) => Transport::Sockets,
    };
    let mut endpoint = Channel::from_shared(uri)?.transport(transport);
    if let Some(timeout) = env_ms("CONNECT_TIMEOUT_MS") {
        endpoint = endpoint.connect_timeout(timeout);
    }
    if let Some(interval) = env_ms("KEEPALIVE_MS") {
        endpoint = endpoint.http2_keep_alive_interval(interval);
    }
    if let Some(timeout) = env_ms("KEEPALIVE_TIMEOUT_MS") {
        endpoint = endpoint.keep_alive_timeout(timeout);
    }
    if std::env::var("KEEPALIVE_IDLE").is_ok() {
        endpoint = endpoint.keep_alive_while_idle(true);
    }
    if let Some(tls) = tls_config() {
        endpoint = endpoint.tls_config(tls)?;
    }
    if let Ok(config) = std::env::var("SERVICE_CONFIG") {
        endpoint = endpoint.service_config(&config)?;
    }
    if std::env::var("HEALTH_CHECK").is_ok() {
        endpoint = endpoint.health_check();
    }
    let channel = match std::env::var("CONNECT").as_deref() {
        Ok("lazy") => endpoint.connect_lazy(),
        _ => endpoint.connect().await?,
    };
    let mut client = EchoClient::new(channel.clone());
    Ok(match name {
        "unary" => {
            let reply = client.unary_echo(request("hello")).await?.into_inner();
            Ok(format!("reply {:?}", reply.message))
        }
        "status" => {
            // The message the server fails with comes as the second part of the request.
            let message = std::env::var("STATUS_MESSAGE").unwrap_or_default();
            let reply = client
                .unary_echo(request(format!("status:{n}:{message}")))
                .await?;
            Err(format!("expected an error, got {:?}", reply.into_inner()))
        }
        "unimplemented" => {
            let mut grpc = Grpc::new(channel);
            let path = PathAndQuery::from_static("/grpc.examples.echo.Echo/NoSuchMethod");
            let reply: grpc_wasi::Response<EchoResponse> =
                grpc.unary(Request::new(request("x")), path).await?;
            Err(format!("expected an error, got {:?}", reply.into_inner()))
        }
        "server-streaming" => {
            let mut stream = client
                .server_streaming_echo(request(format!("repeat:{n}:m")))
                .await?
                .into_inner();
            let mut count = 0;
            while let Some(reply) = stream.message().await? {
                let expected = format!("m {count}");
                if reply.message != expected {
                    return Ok(Err(format!(
                        "message {count}: {:?} != {expected:?}",
                        reply.message
                    )));
                }
                count += 1;
            }
            check(count == n, || format!("{count} messages, expected {n}"))
                .map(|()| format!("{count} messages in order"))
        }
        "client-streaming" => {
            let requests = futures::stream::iter((0..n).map(|i| request(format!("m{i}"))));
            let reply = client.client_streaming_echo(requests).await?.into_inner();
            let expected: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
            check(reply.message == expected.join(","), || {
                format!("reply {:?}", reply.message)
            })
            .map(|()| format!("server received {n} messages in order"))
        }
        "bidi" => {
            let requests = futures::stream::iter((0..n).map(|i| request(format!("m{i}"))));
            let replies: Vec<EchoResponse> = client
                .bidirectional_streaming_echo(requests)
                .await?
                .into_inner()
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<_, _>>()?;
            let ok = replies.len() == n
                && replies
                    .iter()
                    .enumerate()
                    .all(|(i, r)| r.message == format!("m{i}"));
            check(ok, || {
                format!("{} replies, not m0..m{}", replies.len(), n - 1)
            })
            .map(|()| format!("{n} replies in order"))
        }
        "ping-pong" => ping_pong(&mut client, n).await?,
        "sequential" => {
            for i in 0..n {
                let reply = client.unary_echo(request(format!("call {i}"))).await?;
                let message = reply.into_inner().message;
                if message != format!("call {i}") {
                    return Ok(Err(format!("call {i}: reply {message:?}")));
                }
            }
            Ok(format!("{n} sequential calls"))
        }
        "concurrent" => {
            let calls = (0..n).map(|_| {
                let mut client = client.clone();
                async move {
                    let reply = client
                        .unary_echo(request(format!("barrier:{n}:concurrent")))
                        .await?;
                    Ok::<_, Status>(reply.into_inner().message)
                }
            });
            let peers: BTreeSet<String> = futures::future::join_all(calls)
                .await
                .into_iter()
                .collect::<Result<_, _>>()?;
            Ok(format!(
                "{n} calls in flight at once on {} connection(s)",
                peers.len()
            ))
        }
        "grpc-timeout" => {
            let mut request = Request::new(request("header?:grpc-timeout"));
            request.set_timeout(Duration::from_millis(n as u64));
            let reply = client.unary_echo(request).await?.into_inner();
            Ok(format!("server saw grpc-timeout {:?}", reply.message))
        }
        "interceptor" => {
            let token = std::env::var("TOKEN").unwrap_or_default();
            let value: grpc_wasi::metadata::AsciiMetadataValue =
                format!("Bearer {token}").parse()?;
            // FnMut: the interceptor counts the calls it sees and says so in `x-call`.
            let mut calls = 0u32;
            let mut authed =
                EchoClient::with_interceptor(channel.clone(), move |mut request: Request<()>| {
                    calls += 1;
                    request.metadata_mut().insert("authorization", &value)?;
                    request.metadata_mut().insert("x-call", calls)?;
                    Ok(request)
                });
            let seen = authed
                .unary_echo(request("header?:authorization"))
                .await?
                .into_inner()
                .message;
            let call = authed
                .clone()
                .unary_echo(request("header?:x-call"))
                .await?
                .into_inner()
                .message;
            let mut refusing = EchoClient::with_interceptor(channel, |_: Request<()>| {
                Err(Status::unauthenticated("no credentials"))
            });
            let refused = refusing.unary_echo(request("x")).await;
            Ok(format!(
                "server saw authorization {seen:?}, x-call {call:?}; refused call: {:?}",
                refused.map_err(|s| (s.code(), s.message().to_owned()))
            ))
        }
        "metadata" => {
            let mut call = Request::new(request("header?:x-multi"));
            call.metadata_mut()
                .append("x-multi", "one")
                .map_err(|e| Status::internal(e.to_string()))?;
            call.metadata_mut()
                .append("x-multi", "two")
                .map_err(|e| Status::internal(e.to_string()))?;
            call.metadata_mut()
                .insert_bin("x-trace-bin", &[0, 159, 255])
                .map_err(|e| Status::internal(e.to_string()))?;
            let reply = client.unary_echo(call).await?.into_inner().message;
            let mut call = Request::new(request("header?:x-trace-bin"));
            call.metadata_mut()
                .insert_bin("x-trace-bin", &[0, 159, 255])
                .map_err(|e| Status::internal(e.to_string()))?;
            let bin = client.unary_echo(call).await?.into_inner().message;
            Ok(format!("x-multi {reply:?}, x-trace-bin {bin:?}"))
        }
        "compression" => {
            let encoding = encoding_from_env("ENCODING")?
                .ok_or_else(|| Status::invalid_argument("ENCODING is not set"))?;
            let mut client = client.send_compressed(encoding).accept_compressed(encoding);
            let big = "a".repeat(n);
            let reply = client.unary_echo(request(big.clone())).await?.into_inner();
            if reply.message != big {
                return Ok(Err(format!(
                    "reply of {} bytes differs",
                    reply.message.len()
                )));
            }
            let header = client
                .unary_echo(request("header?:grpc-encoding"))
                .await?
                .into_inner()
                .message;
            let accept = client
                .unary_echo(request("header?:grpc-accept-encoding"))
                .await?
                .into_inner()
                .message;
            Ok(format!(
                "{n} bytes round trip; server saw grpc-encoding {header:?}, grpc-accept-encoding {accept:?}"
            ))
        }
        "rich" => {
            let status = match client.unary_echo(request("rich")).await {
                Ok(reply) => return Ok(Err(format!("expected an error, got {reply:?}"))),
                Err(status) => status,
            };
            let details = status.error_details()?;
            Ok(format!(
                "{:?} {:?} {details:?}",
                status.code(),
                status.message()
            ))
        }
        "limits" => {
            let big = request("x".repeat(2000));
            let mut small_in = client.clone().max_decoding_message_size(1000);
            let decode = small_in.unary_echo(big.clone()).await.map(|_| ());
            let mut small_out = client.clone().max_encoding_message_size(1000);
            let encode = small_out.unary_echo(big).await.map(|_| ());
            let show = |r: Result<(), Status>| r.map_err(|s| (s.code(), s.message().to_owned()));
            Ok(format!(
                "decode: {:?}; encode: {:?}",
                show(decode),
                show(encode)
            ))
        }
        "deadline" => {
            // The server would answer after 60 s; the deadline is N ms.
            let mut request = Request::new(request("sleep:60000:deadline"));
            request.set_timeout(Duration::from_millis(n as u64));
            let reply = client.unary_echo(request).await?;
            Err(format!("expected an error, got {:?}", reply.into_inner()))
        }
        "fault" => {
            // N is unused; the fault is FAULT, the deadline TIMEOUT_MS if set.
            let path = fault_path()?;
            let mut call = Request::new(request("x"));
            if let Some(timeout) = env_ms("TIMEOUT_MS") {
                call.set_timeout(timeout);
            }
            if let Some(encoding) = encoding_from_env("ACCEPT_CALL")? {
                call.add_accept_compressed(encoding);
            }
            let mut grpc = Grpc::new(channel);
            if let Some(encoding) = encoding_from_env("ACCEPT")? {
                grpc = grpc.accept_compressed(encoding);
            }
            let reply: grpc_wasi::Response<EchoResponse> = grpc.unary(call, path).await?;
            Ok(format!("reply {:?}", reply.into_inner().message))
        }
        "fault-then-ok" => {
            // The fault FAULT, then N calls at once to the fault `ok`, on the same channel.
            let mut grpc = Grpc::new(channel);
            let fault = std::env::var("FAULT").unwrap_or_default();
            let first = match call_fault(&mut grpc, &fault).await {
                Ok(reply) => return Ok(Err(format!("the fault answered {reply:?}"))),
                Err(status) => status.code().as_i32(),
            };
            let calls = (0..n).map(|_| {
                let mut grpc = grpc.clone();
                async move { call_fault(&mut grpc, "ok").await }
            });
            let replies: BTreeSet<String> = futures::future::join_all(calls)
                .await
                .into_iter()
                .collect::<Result<_, _>>()?;
            Ok(format!(
                "first status {first}, then {n} replies {replies:?}"
            ))
        }
        "reconnect" => reconnect(&mut client).await?,
        "no-call" => Ok("no call made".into()),
        "pings-after-idle" => {
            // A call, N ms without one, then the fault `pings`: the PINGs sent meanwhile.
            let mut grpc = Grpc::new(channel);
            call_fault(&mut grpc, "ok").await?;
            wstd::task::sleep(wstd::time::Duration::from_millis(n as u64)).await;
            Ok(format!("reply {:?}", call_fault(&mut grpc, "pings").await?))
        }
        "tasks" => tasks(&mut client).await?,
        "balanced" => {
            // CALLS calls, PACE_MS apart, of the fail: hook `fail:0:14:rr` (counted by each
            // server), on one channel over the `,`-separated BACKENDS, or without BACKENDS on
            // the URI's channel (its service config's policy, round_robin say).
            let mut balanced = match std::env::var("BACKENDS") {
                Ok(backends) => {
                    let endpoints: Result<Vec<_>, Status> =
                        backends.split(',').map(Channel::from_shared).collect();
                    EchoClient::new(Channel::balance_list(endpoints?))
                }
                Err(_) => client.clone(),
            };
            let pace = env_ms("PACE_MS").unwrap_or_default();
            let (mut ok, mut failed) = (0, Vec::new());
            for _ in 0..n {
                match balanced.unary_echo(request("fail:0:14:rr")).await {
                    Ok(_) => ok += 1,
                    Err(status) => failed.push(status.code()),
                }
                grpc_wasi::time::sleep(pace).await;
            }
            check(failed.is_empty(), || format!("{ok} ok, failed: {failed:?}"))
                .map(|()| format!("{ok} calls"))
        }
        "health" => {
            // The health client: Check, then Watch while the echo server's `health:` hook
            // makes Echo NOT_SERVING and SERVING again.
            use grpc_wasi::health::{HealthCheckRequest, HealthClient};
            let mut health = HealthClient::new(channel.clone());
            let ask = |service: &str| HealthCheckRequest {
                service: service.to_owned(),
            };
            let overall = health.check(ask("")).await?.into_inner().status();
            let unknown = health.check(ask("no.such.Service")).await.map(|_| ()).err();
            let mut watch = health
                .watch(ask("grpc.examples.echo.Echo"))
                .await?
                .into_inner();
            let mut seen = Vec::new();
            let first = watch.message().await?.map(|r| r.status());
            seen.push(format!("{first:?}"));
            for hook in ["health:NOT_SERVING", "health:SERVING"] {
                client.unary_echo(request(hook)).await?;
                let next = watch.message().await?.map(|r| r.status());
                seen.push(format!("{next:?}"));
            }
            Ok(format!(
                "check {overall:?}, unknown {:?}, watch {}",
                unknown.map(|s| s.code()),
                seen.join(" ")
            ))
        }
        "reflection" => {
            // The reflection client: the services, and the files behind Echo.
            let mut reflection = grpc_wasi::reflection::ReflectionClient::new(channel.clone());
            let services = reflection.list_services().await?;
            let files = reflection
                .file_containing_symbol("grpc.examples.echo.Echo")
                .await?;
            let names: Vec<&str> = files.file.iter().map(|f| f.name()).collect();
            let unknown = reflection.file_containing_symbol("no.Such").await.err();
            Ok(format!(
                "{:?} services {services:?} files {names:?} unknown {:?}",
                reflection.version(),
                unknown.map(|s| s.code())
            ))
        }
        "say" => {
            // One unary call of MESSAGE (a hook of the echo server's, say), waiting for ready
            // with WAIT_FOR_READY set, within TIMEOUT_MS if set.
            let message = std::env::var("MESSAGE").unwrap_or_default();
            let mut call = Request::new(request(message));
            if std::env::var("WAIT_FOR_READY").is_ok() {
                call.set_wait_for_ready(true);
            }
            if let Some(timeout) = env_ms("TIMEOUT_MS") {
                call.set_timeout(timeout);
            }
            let reply = client.unary_echo(call).await?.into_inner();
            Ok(format!("reply {:?}", reply.message))
        }
        "fail-fast" => {
            // Two calls to a server that cannot be reached: the second, inside the connection
            // backoff, fails at once with the first one's error.
            let first = client.unary_echo(request("x")).await.map(|_| ());
            let start = grpc_wasi::time::Instant::now();
            let second = client.unary_echo(request("x")).await.map(|_| ());
            let took = start.elapsed();
            let same = first
                .as_ref()
                .err()
                .map(|s| (s.code(), s.message().to_owned()))
                == second
                    .as_ref()
                    .err()
                    .map(|s| (s.code(), s.message().to_owned()));
            check(same && first.is_err(), || {
                format!("{first:?} then {second:?}")
            })
            .and_then(|()| {
                check(took < Duration::from_millis(200), || {
                    format!("took {took:?}")
                })
            })
            .map(|()| format!("both {:?}", first.err().map(|s| s.code())))
        }
        "say-stream" => {
            // One client-streaming call of the `|`-separated MESSAGES.
            let messages = std::env::var("MESSAGES").unwrap_or_default();
            let requests: Vec<EchoRequest> = messages.split('|').map(request).collect();
            let stream = futures::stream::iter(requests);
            let reply = client.client_streaming_echo(stream).await?.into_inner();
            Ok(format!("reply {:?}", reply.message))
        }
        "listen" => {
            // One server-streaming call of MESSAGE: the replies, then how it ended.
            let message = std::env::var("MESSAGE").unwrap_or_default();
            let mut stream = client
                .server_streaming_echo(request(message))
                .await?
                .into_inner();
            let mut replies = Vec::new();
            let end = loop {
                match stream.message().await {
                    Ok(Some(reply)) => replies.push(reply.message),
                    Ok(None) => break "end".to_owned(),
                    Err(status) => break format!("{:?} {}", status.code(), status.message()),
                }
            };
            Ok(format!("replies {replies:?}, then {end}"))
        }
        "timers" => timers(&mut client).await?,
        "in-flight" => {
            // A call the server answers after N ms (the test stops the server meanwhile).
            let reply = client
                .unary_echo(request(format!("sleep:{n}:in-flight")))
                .await?;
            Ok(format!("reply {:?}", reply.into_inner().message))
        }
        "fault-paced" => {
            // One client-streaming call to the fault FAULT: N messages, 5 ms apart.
            let messages = futures::stream::iter(0..n).then(|i| async move {
                if i > 0 {
                    wstd::task::sleep(wstd::time::Duration::from_millis(5)).await;
                }
                request("x")
            });
            let reply: grpc_wasi::Response<EchoResponse> = Grpc::new(channel)
                .client_streaming(Request::new(messages), fault_path()?)
                .await?;
            Ok(format!("reply {:?}", reply.into_inner().message))
        }
        "upload" => {
            // One client-streaming call to the fault FAULT: N messages of 64 KiB, produced as
            // fast as the call takes them, within TIMEOUT_MS if set.
            let chunk = "u".repeat(64 * 1024);
            let messages = futures::stream::iter(0..n).map(move |_| request(chunk.clone()));
            let mut call = Request::new(messages);
            if let Some(timeout) = env_ms("TIMEOUT_MS") {
                call.set_timeout(timeout);
            }
            let reply: grpc_wasi::Response<EchoResponse> = Grpc::new(channel)
                .client_streaming(call, fault_path()?)
                .await?;
            Ok(format!("reply {:?}", reply.into_inner().message))
        }
        "cancel-stream" => {
            let tag = "cancel-stream";
            let mut stream = client
                .server_streaming_echo(request(format!("forever:{tag}")))
                .await?
                .into_inner();
            for _ in 0..2 {
                stream.message().await?;
            }
            drop(stream);
            server_saw_cancel(&mut client, tag).await?
        }
        "cancel-request-stream" => {
            // A client-streaming call whose request stream is still open when the call is
            // dropped: the server must see the stream aborted, not ended.
            let tag = "cancel-request-stream";
            let messages = futures::stream::once(async move { request(format!("track:{tag}")) })
                .chain(futures::stream::pending());
            let mut call_client = client.clone();
            let call = async move {
                call_client
                    .client_streaming_echo(Request::new(messages))
                    .await
                    .map(drop)
            };
            if let Err(what) = drop_after_200ms(call).await? {
                return Ok(Err(what));
            }
            server_saw_cancel(&mut client, tag).await?
        }
        "cancel-unary" => {
            let tag = "cancel-unary";
            let mut call_client = client.clone();
            let call = async move {
                call_client
                    .unary_echo(request(format!("sleep:60000:{tag}")))
                    .await
                    .map(drop)
            };
            if let Err(what) = drop_after_200ms(call).await? {
                return Ok(Err(what));
            }
            server_saw_cancel(&mut client, tag).await?
        }
        other => Err(format!("unknown scenario {other:?}")),
    })
}

/// The compression encoding named by the environment variable `var`, if it is set.
fn encoding_from_env(var: &str) -> Result<Option<CompressionEncoding>, Status> {
    let Ok(name) = std::env::var(var) else {
        return Ok(None);
    };
    CompressionEncoding::from_name(&name)
        .map(Some)
        .ok_or_else(|| Status::invalid_argument(format!("{var}: unknown encoding {name:?}")))
}

/// Runs `call` for 200 ms and drops it then, which cancels it: `Err(what)` if it ended first.
/// Errors: the call's status, if it failed first.
async fn drop_after_200ms(
    call: impl Future<Output = Result<(), Status>>,
) -> Result<Result<(), String>, Status> {
    let gave_up = async {
        wstd::task::sleep(wstd::time::Duration::from_millis(200)).await;
        Ok(false)
    };
    let call = async { call.await.map(|()| true) };
    let first = futures::future::select(Box::pin(call), Box::pin(gave_up)).await;
    match first.factor_first().0? {
        true => Ok(Err("the call answered".to_owned())),
        false => Ok(Ok(())),
    }
}

/// Asks the server, for up to 5 s, whether it saw the call tagged `tag` cancelled.
async fn server_saw_cancel(client: &mut EchoClient, tag: &str) -> Result<Outcome, Status> {
    for _ in 0..500 {
        let reply = client
            .unary_echo(request(format!("cancelled?:{tag}")))
            .await?;
        if reply.into_inner().message == "yes" {
            return Ok(Ok("the server observed the cancel".into()));
        }
        wstd::task::sleep(wstd::time::Duration::from_millis(10)).await;
    }
    Ok(Err("the server never saw the call cancelled".into()))
}

/// Calls, 10 ms apart, for up to 20 s, until a call is carried by a connection other than the
/// first (the test restarts the server meanwhile). Every failed call must be `Unavailable`.
async fn reconnect(client: &mut EchoClient) -> Result<Outcome, Status> {
    let peer = async |client: &mut EchoClient| {
        let reply = client.unary_echo(request("barrier:1:reconnect")).await?;
        Ok::<_, Status>(reply.into_inner().message)
    };
    let first = peer(client).await?;
    let mut unavailable = 0;
    for _ in 0..2000 {
        wstd::task::sleep(wstd::time::Duration::from_millis(10)).await;
        match peer(client).await {
            Ok(now) if now == first => {}
            Ok(_) => {
                return Ok(Ok(format!(
                    "a new connection after {unavailable} unavailable call(s)"
                )));
            }
            Err(status) if status.code() == grpc_wasi::Code::Unavailable => unavailable += 1,
            Err(status) => return Err(status),
        }
    }
    Ok(Err(format!(
        "still no new connection after 20 s ({unavailable} unavailable call(s))"
    )))
}

/// tonic's streaming style: one task sends a bidirectional call's requests while this one
/// reads the replies; an aborted task gives a `JoinError`; a detached task that would sleep
/// for an hour must not keep the guest from exiting (the test's run limit is a minute).
async fn tasks(client: &mut EchoClient) -> Result<Outcome, Status> {
    use grpc_wasi::time::{Duration, sleep};
    let (tx, rx) = mpsc::unbounded::<EchoRequest>();
    let sender = grpc_wasi::spawn(async move {
        for i in 0..3 {
            let _ = tx.unbounded_send(request(format!("note {i}")));
            sleep(Duration::from_millis(20)).await;
        }
        "sent 3"
    });
    let mut replies = client.bidirectional_streaming_echo(rx).await?.into_inner();
    let mut got = Vec::new();
    while let Some(reply) = replies.message().await? {
        got.push(reply.message);
    }
    let sent = sender.await;
    let mut aborted = grpc_wasi::spawn(async {
        sleep(Duration::from_secs(3600)).await;
        1
    });
    aborted.abort();
    let aborted = aborted.await;
    drop(grpc_wasi::spawn(async {
        sleep(Duration::from_secs(3600)).await;
    }));
    let outcome = check(got == ["note 0", "note 1", "note 2"], || {
        format!("replies {got:?}")
    })
    .and_then(|()| check(sent == Ok("sent 3"), || format!("sender {sent:?}")))
    .and_then(|()| check(aborted.is_err(), || format!("aborted {aborted:?}")));
    Ok(outcome.map(|()| {
        let aborted = aborted.err().map(|e| e.to_string());
        format!("replies {got:?}, sender {sent:?}, aborted task: {aborted:?}")
    }))
}

/// `grpc_wasi::time` as tokio's: an interval's first tick at once and the next ones a period
/// apart (the instants returned are the schedule's), `sleep` at least as long as asked,
/// `timeout` cutting a slow wait and passing a quick call through.
async fn timers(client: &mut EchoClient) -> Result<Outcome, Status> {
    use grpc_wasi::time::{self, Duration, Instant};
    let start = Instant::now();
    let mut interval = time::interval(Duration::from_millis(50));
    let mut ticks = Vec::new();
    for _ in 0..3 {
        ticks.push(interval.tick().await);
    }
    let spacing: Vec<Duration> = ticks.windows(2).map(|w| w[1] - w[0]).collect();
    let after_ticks = start.elapsed();
    let before_sleep = Instant::now();
    time::sleep(Duration::from_millis(30)).await;
    let slept = before_sleep.elapsed();
    let slow = time::sleep(Duration::from_secs(60));
    let cut = time::timeout(Duration::from_millis(20), slow).await;
    let quick = client.unary_echo(request("in time"));
    let call = time::timeout(Duration::from_secs(20), quick).await;
    let status = cut.map_err(Status::from);
    time::sleep_until(start).await; // in the past: at once
    let call = match call {
        Ok(reply) => reply?.into_inner().message,
        Err(elapsed) => return Ok(Err(format!("the call timed out: {elapsed}"))),
    };
    let outcome = check(
        spacing == [Duration::from_millis(50); 2] && after_ticks >= Duration::from_millis(100),
        || format!("ticks {spacing:?} after {after_ticks:?}"),
    )
    .and_then(|()| {
        check(slept >= Duration::from_millis(30), || {
            format!("slept {slept:?}")
        })
    });
    Ok(outcome.map(|()| {
        let status = status.map_err(|s| (s.code(), s.message().to_owned()));
        format!("ticks 50 ms apart, slept >= 30 ms, timeout: {status:?}, call: {call:?}")
    }))
}

/// Full duplex: each request is sent only after the reply to the previous one arrived, so a
/// client that sends the whole request stream before reading would never finish.
async fn ping_pong(client: &mut EchoClient, n: usize) -> Result<Outcome, Status> {
    let (mut tx, rx) = mpsc::unbounded::<EchoRequest>();
    let _ = tx.send(request("ping 0")).await;
    let mut replies = client.bidirectional_streaming_echo(rx).await?.into_inner();
    for i in 0..n {
        let Some(reply) = replies.message().await? else {
            return Ok(Err(format!("stream ended after {i} replies")));
        };
        if reply.message != format!("ping {i}") {
            return Ok(Err(format!("reply {i}: {:?}", reply.message)));
        }
        if i + 1 < n {
            let _ = tx.send(request(format!("ping {}", i + 1))).await;
        }
    }
    drop(tx);
    let extra = replies.message().await?;
    Ok(
        check(extra.is_none(), || format!("unexpected reply {extra:?}"))
            .map(|()| format!("{n} round trips")),
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(uri), Some(name)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: e2e-guest URI SCENARIO [N]");
        return ExitCode::from(2);
    };
    let n = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(1);
    let result = if std::env::var("RUNTIME").as_deref() == Ok("tokio") {
        // The mistake of a guest written for tokio: its runtime cannot wake grpc-wasi's waits.
        match tokio::runtime::Builder::new_current_thread().build() {
            Ok(runtime) => runtime.block_on(scenario(uri.clone(), name, n)),
            Err(e) => Err(Status::internal(format!("tokio runtime: {e}"))),
        }
    } else {
        grpc_wasi::block_on(scenario(uri.clone(), name, n))
    };
    match result {
        Ok(Ok(details)) => println!("ok: {details}"),
        Ok(Err(what)) => println!("check failed: {what}"),
        Err(status) => println!("status: {} {}", status.code().as_i32(), status.message()),
    }
    ExitCode::SUCCESS
}
