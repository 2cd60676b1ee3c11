//! The TLS rows of `bench`: unary p50 and cold start with the TLS handshake, on one tonic
//! echo server speaking TLS (rustls, ring; a certificate from a throw-away CA). Clients: native
//! tonic with TLS (rustls, ring), the `bench-guest` (built with `tls`) over sockets with TLS in
//! the guest (rustls, RustCrypto), and over wasi:http with the host's TLS (hyper-rustls, ring).
//! Where clang is installed (ring needs it to build for `wasm32-wasip2`), the guest built with
//! `tls-ring` (ring's cryptography in the guest) gets rows of its own over sockets.

use std::time::Instant;

use tonic::transport::{Certificate, ClientTlsConfig};

use super::measure::{Latencies, Row, Workload, cold_args, guest_args, guest_with_env, run_native};
use crate::guest;
use crate::proto::EchoRequest;
use crate::proto::echo_client::EchoClient;
use crate::servers::echo_server;
use crate::servers::tls::{ServerTls, TestPki};
use grpc_wasi_host::Runner;

/// A native tonic client of `uri`, trusting `ca_pem`, connected (TLS handshake done).
async fn native_client(
    uri: &str,
    ca_pem: &str,
) -> anyhow::Result<EchoClient<tonic::transport::Channel>> {
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem));
    let channel = tonic::transport::Channel::from_shared(uri.to_owned())?
        .tls_config(tls)?
        .connect()
        .await?;
    Ok(EchoClient::new(channel))
}

/// The TLS rows, each figure the median of `rounds` rounds. Errors: a run fails.
pub(crate) fn rows(quick: bool, rounds: usize) -> anyhow::Result<Vec<Row>> {
    let pki = TestPki::generate()?;
    let server = echo_server::start_tls("127.0.0.1:0".parse()?, &ServerTls::new(&pki.server))?;
    let uri = server.uri();
    let runner = Runner::trusting(&[pki.ca_pem.clone().into_bytes()])?;
    let component = runner.load(&guest::build_with_features("bench-guest", &["tls"])?)?;
    // A quick run (CI's) leaves the ring guest out: one guest build fewer.
    let ring = if !quick && clang_installed() {
        Some(runner.load(&guest::build_with_features("bench-guest", &["tls-ring"])?)?)
    } else {
        if !quick {
            println!("clang not found: no rows for TLS with ring in the guest");
        }
        None
    };
    let env = vec![("TLS_CA".to_owned(), pki.ca_pem.clone())];
    let unary = Workload {
        name: "unary",
        count: if quick { 100 } else { 2000 },
        size: 1024,
        figures: &[],
    };
    // [guest built with `tls`, guest built with `tls-ring`][client]: values over rounds; the
    // ring guest runs over sockets only, in the sockets column.
    let mut p50: [[Vec<f64>; 3]; 2] = Default::default();
    let mut cold: [[Vec<f64>; 3]; 2] = Default::default();
    let mut runs = vec![
        (0, &component, 1, "sockets"),
        (0, &component, 2, "wasi-http"),
    ];
    if let Some(ring) = &ring {
        runs.push((1, ring, 1, "sockets"));
    }
    for _ in 0..rounds {
        let payload = "x".repeat(unary.size);
        let request = move || EchoRequest {
            message: payload.clone(),
        };
        let (native_uri, ca_pem, count) = (uri.clone(), pki.ca_pem.clone(), unary.count);
        let (native_p50, native_cold) = run_native(&runner, async move {
            let start = Instant::now();
            let mut client = native_client(&native_uri, &ca_pem).await?;
            client.unary_echo(request()).await?;
            let cold = start.elapsed().as_secs_f64() * 1e3;
            let mut latencies = Latencies::with_capacity(count);
            for _ in 0..count {
                let call = async { Ok(client.unary_echo(request()).await?) };
                latencies.time(call).await?;
            }
            anyhow::Ok((latencies.p50(), cold))
        })?;
        for variant in 0..2 {
            p50[variant][0].push(native_p50);
            cold[variant][0].push(native_cold);
        }
        for &(variant, component, client, transport) in &runs {
            let args = guest_args(&uri, transport, &unary);
            let (figures, _) =
                guest_with_env(&runner, component, server.addr(), args, env.clone())?;
            p50[variant][client].push(figures.get("p50_us").copied().unwrap_or(0.0));
            let args = cold_args(&uri, transport);
            let (_, elapsed) =
                guest_with_env(&runner, component, server.addr(), args, env.clone())?;
            cold[variant][client].push(elapsed.as_secs_f64() * 1e3);
        }
    }
    let row = |label: &str, samples| Row::median(label, samples, true);
    let [p50, ring_p50] = p50;
    let [cold, ring_cold] = cold;
    let mut rows = vec![
        row("unary 1 KiB over TLS, p50 µs/call", p50),
        row("cold start with TLS handshake, ms", cold),
    ];
    if ring.is_some() {
        rows.push(row(
            "unary 1 KiB over TLS, ring guest, p50 µs/call",
            ring_p50,
        ));
        rows.push(row(
            "cold start with TLS handshake, ring guest, ms",
            ring_cold,
        ));
    }
    Ok(rows)
}

/// Whether clang, which ring needs to build for `wasm32-wasip2`, is installed.
pub(crate) fn clang_installed() -> bool {
    std::process::Command::new("clang")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}
