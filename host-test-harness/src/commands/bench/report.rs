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
    let report = serde_json::json!({ "quick": quick, "figures": json });
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    super::chart::draw(rows, quick, &dir.join("ratios.svg"))?;
    println!("wrote {}", dir.join("results.json").display());
    println!("wrote {}", dir.join("ratios.svg").display());
    Ok(())
}
