//! The benchmark's report: the table printed, `target/bench/results.json` and the chart.

use super::measure::{CLIENTS, Row, ratio};
use crate::guest;

/// Prints `rows` as a Markdown table with the guest/native ratios.
pub(crate) fn print_table(rows: &[Row]) {
    let cell = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
    // Padding counts chars, so `µ` and `×` take one column each.
    let width = rows
        .iter()
        .map(|row| row.label.chars().count())
        .max()
        .unwrap_or(0);
    println!();
    println!(
        "| {:<width$} | {:>14} | {:>14} | {:>15} | {:>13} | {:>15} |",
        "figure", CLIENTS[0], CLIENTS[1], CLIENTS[2], "sockets/native", "wasi:http/native"
    );
    println!(
        "|{:-<rule$}|{:-<16}|{:-<16}|{:-<17}|{:-<15}|{:-<17}|",
        "",
        "",
        "",
        "",
        "",
        "",
        rule = width + 2
    );
    for row in rows {
        println!(
            "| {:<width$} | {:>14} | {:>14} | {:>15} | {:>14} | {:>16} |",
            row.label,
            cell(row.values[0]),
            cell(row.values[1]),
            cell(row.values[2]),
            ratio(row, 1).map_or("-".into(), |r| format!("{r:.2}×")),
            ratio(row, 2).map_or("-".into(), |r| format!("{r:.2}×")),
        );
    }
    println!("(µs and ms: lower is better; calls/s and MB/s: higher is better)");
}

/// Writes `target/bench/results.json` and `target/bench/ratios.svg`. Errors: the files
/// cannot be written.
pub(crate) fn write(rows: &[Row], quick: bool) -> anyhow::Result<()> {
    let dir = guest::workspace_root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let json: Vec<_> = rows
        .iter()
        .map(|row| {
            serde_json::json!({
                "figure": row.label,
                "native": row.values[0],
                "guest_sockets": row.values[1],
                "guest_wasi_http": row.values[2],
                "ratio_sockets": ratio(row, 1),
                "ratio_wasi_http": ratio(row, 2),
                "lower_is_better": row.lower_is_better,
            })
        })
        .collect();
    let machine = machine();
    let date = time::OffsetDateTime::now_utc().date();
    let report = serde_json::json!({
        "quick": quick,
        "machine": machine,
        "date": date.to_string(),
        "figures": json,
    });
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    let run = if quick {
        ", --quick (too short to compare)"
    } else {
        ""
    };
    let context = format!("{machine}, {date}{run}");
    super::chart::draw(rows, &context, &dir.join("ratios.svg"))?;
    println!("wrote {}", dir.join("results.json").display());
    println!("wrote {}", dir.join("ratios.svg").display());
    Ok(())
}

/// The machine the figures come from: its CPU model (`/proc/cpuinfo`), how many CPUs this
/// process may use, and the load average over the last minute when the report is written
/// (`/proc/loadavg`); what cannot be read is left out.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, m)| m.trim().to_owned())
            })
        });
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned));
    let mut parts: Vec<String> = cpu.into_iter().collect();
    parts.push(format!("{cpus} CPUs"));
    parts.extend(load.map(|l| format!("load {l}")));
    parts.join(", ")
}
