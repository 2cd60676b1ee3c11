//! `plugin-host PLUGIN.wasm BACKEND_URI INPUT...`: loads the plugin, grants it the backend,
//! and calls `transform` once per input, each in a fresh instance, printing `INPUT -> OUTPUT`
//! (or the error). Exits 1 if any call failed.

use std::process::ExitCode;

use grpc_wasi_host::NetworkPolicy;
use plugin_host::{Limits, PluginHost};

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<bool> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: plugin-host PLUGIN.wasm BACKEND_URI INPUT...";
    let plugin = args.next().ok_or_else(|| anyhow::anyhow!(usage))?;
    let backend = args.next().ok_or_else(|| anyhow::anyhow!(usage))?;
    // The one grant: the backend's host and port.
    let uri: http::Uri = backend.parse()?;
    let authority = uri
        .authority()
        .ok_or_else(|| anyhow::anyhow!("{backend:?}: expected http://HOST:PORT"))?;
    let mut policy = NetworkPolicy::deny_all();
    policy.allow(authority.as_str())?;
    let host = PluginHost::load(plugin.as_ref(), &backend, policy, Limits::default())?;
    let mut ok = true;
    for input in args {
        match host.transform(&input) {
            Ok(Ok(output)) => println!("{input} -> {output}"),
            Ok(Err(message)) => {
                println!("{input} -> plugin error: {message}");
                ok = false;
            }
            Err(e) => {
                println!("{input} -> {e}");
                ok = false;
            }
        }
    }
    Ok(ok)
}
