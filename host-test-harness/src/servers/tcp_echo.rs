//! A TCP echo server, with no HTTP/2 or gRPC: each connection gets back every byte it sends.
//! The bench's floor rows time raw TCP round trips against it.

use std::net::SocketAddr;

use futures::StreamExt as _;

use super::test_server::{Incoming, Serve, Shutdown, TestServer};

/// Starts the echo server on `addr` (port 0: any free one). Errors: `addr` cannot be bound.
pub fn start(addr: SocketAddr) -> anyhow::Result<TestServer> {
    TestServer::start(addr, "tcp-echo-server", serve)
}

fn serve(mut incoming: Incoming, stop: Shutdown) -> Serve {
    Box::pin(async move {
        let accept = async {
            while let Some(Ok(io)) = incoming.next().await {
                tokio::spawn(async move {
                    let (mut reader, mut writer) = tokio::io::split(io);
                    // Each read is written back before the next is made; it ends with the
                    // connection.
                    let _ = tokio::io::copy(&mut reader, &mut writer).await;
                });
            }
        };
        tokio::select! {
            () = accept => {}
            () = stop => {}
        }
        Ok(())
    })
}
