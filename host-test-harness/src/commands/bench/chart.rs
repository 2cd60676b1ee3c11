//! `target/bench/ratios.svg`: the guest/native ratios as a chart.

use super::measure::{Row, ratio};

/// A bar chart of the guest/native ratios (1.0 = as fast as native).
pub(crate) fn draw(rows: &[Row], _quick: bool, path: &std::path::Path) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let bars: Vec<(&str, f64, f64)> = rows
        .iter()
        .filter_map(|row| Some((row.label.as_str(), ratio(row, 1)?, ratio(row, 2)?)))
        .collect();
    // A log scale, bars drawn from 1.0: 2× and 0.5× look as far from native, and one row far
    // off (a 40 ms Nagle wait is 10×) does not flatten the others.
    let ratios = || bars.iter().flat_map(|(_, a, b)| [*a, *b]);
    let top = ratios().fold(2.0_f64, f64::max) * 1.1;
    let bottom = ratios().fold(0.5_f64, f64::min) / 1.1;
    let root = SVGBackend::new(path, (1000, 140 + 40 * bars.len() as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "grpc-wasi guest / native tonic (1.0 = native, log scale)",
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(300)
        .build_cartesian_2d((bottom..top).log_scale(), 0.0..bars.len() as f64)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(bars.len())
        .y_label_formatter(&|y| {
            let i = y.floor() as usize;
            bars.get(i).map_or(String::new(), |b| b.0.to_owned())
        })
        .draw()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for (i, (_, sockets, http)) in bars.iter().enumerate() {
        let y = i as f64;
        chart
            .draw_series([
                Rectangle::new([(1.0, y + 0.1), (*sockets, y + 0.45)], BLUE.filled()),
                Rectangle::new([(1.0, y + 0.55), (*http, y + 0.9)], RED.filled()),
            ])
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    chart
        .draw_series(LineSeries::new(
            [(1.0, 0.0), (1.0, bars.len() as f64)],
            &BLACK,
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
