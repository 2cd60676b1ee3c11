//! `target/bench/ratios.svg`: how the guest compares with native tonic, row by row, readable
//! without the table: every row labelled, a legend, each ratio turned so that right of 1.0 is
//! always "guest better" (native ÷ guest for times, guest ÷ native for rates), the value at
//! each bar, the targets marked, and the machine and date in the title.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::measure::{Row, ratio};

/// Targets, as the table's guest/native ratio for (figure, client 1 = sockets or 2 =
/// wasi:http); the chart marks each where the bar would have to reach.
const TARGETS: &[(&str, usize, f64)] = &[
    ("unary 1 KiB, p50 µs/call", 1, 1.0),
    ("unary 1 KiB, p50 µs/call", 2, 1.15),
    ("64 concurrent unary, calls/s", 2, 0.9),
    ("bidi ping-pong, p50 µs/round trip", 1, 1.1),
    ("bidi ping-pong, p50 µs/round trip", 2, 1.25),
];

/// The bars' colours: sockets, wasi:http.
const COLOURS: [RGBColor; 2] = [RGBColor(31, 119, 180), RGBColor(255, 127, 14)];

/// Layout, in pixels.
const WIDTH: i32 = 1200;
const LABELS: i32 = 440;
const PLOT_LEFT: i32 = LABELS + 20;
const PLOT_RIGHT: i32 = WIDTH - 70;
const TOP: i32 = 115;
const ROW: i32 = 44;
const BAR: i32 = 16;

/// `ratio` (the table's guest/native) turned so that above 1.0 means the guest did better.
fn speedup(row: &Row, ratio: f64) -> f64 {
    if row.lower_is_better {
        1.0 / ratio
    } else {
        ratio
    }
}

/// Draws the chart of `rows` (those with a native figure and a guest's: both guests', or
/// one, such as the WASI 0.3 guest's rows in the wasi:http column) to `path`;
/// `context` (machine, date) goes in the title. Errors: the file cannot be written.
pub(crate) fn draw(rows: &[Row], context: &str, path: &std::path::Path) -> anyhow::Result<()> {
    let bars: Vec<(&Row, [Option<f64>; 2])> = rows
        .iter()
        .filter_map(|row| {
            let up = |client| Some(speedup(row, ratio(row, client)?));
            let speeds = [up(1), up(2)];
            speeds.iter().any(Option::is_some).then_some((row, speeds))
        })
        .collect();
    let height = TOP + ROW * bars.len() as i32 + 70;
    let root = SVGBackend::new(path, (WIDTH as u32, height as u32)).into_drawing_area();
    draw_on(&root, &bars, context).map_err(|e| anyhow::anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

fn draw_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    bars: &[(&Row, [Option<f64>; 2])],
    context: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    // A log scale, so 2× better and 2× worse are as far from 1.0; wide enough for every bar.
    let speeds = || bars.iter().flat_map(|(_, s)| s.iter().flatten().copied());
    let hi = speeds().fold(2.0_f64, f64::max) * 1.15;
    // Room left of the lowest bar for its value.
    let lo = speeds().fold(0.5_f64, f64::min) / 1.35;
    let x = |v: f64| {
        let t = (v.ln() - lo.ln()) / (hi.ln() - lo.ln());
        PLOT_LEFT + (t * f64::from(PLOT_RIGHT - PLOT_LEFT)).round() as i32
    };
    let bottom = TOP + ROW * bars.len() as i32;
    let text = |size: f64| ("sans-serif", size).into_font().color(&BLACK);
    let anchored = |size: f64, h: HPos| text(size).pos(Pos::new(h, VPos::Center));

    root.draw_text(
        &format!("grpc-wasi guest vs native tonic — {context}"),
        &text(24.0),
        (10, 12),
    )?;
    root.draw_text(
        "Bar = how many times better the guest does than native tonic: native ÷ guest for \
         times (µs, ms), guest ÷ native for rates (calls/s, MB/s).",
        &text(16.0),
        (10, 42),
    )?;
    root.draw_text(
        "Right of 1.0: guest better; left: native better. Log scale. Black tick: the target.",
        &text(16.0),
        (10, 62),
    )?;
    // Legend.
    for (i, name) in ["guest over sockets", "guest over wasi:http"]
        .iter()
        .enumerate()
    {
        let left = 10 + 220 * i as i32;
        root.draw(&Rectangle::new(
            [(left, 84), (left + 24, 98)],
            COLOURS[i].filled(),
        ))?;
        root.draw_text(name, &anchored(16.0, HPos::Left), (left + 30, 91))?;
    }
    let tick = 10 + 220 * 2;
    root.draw(&PathElement::new(
        vec![(tick + 12, 82), (tick + 12, 100)],
        BLACK.stroke_width(3),
    ))?;
    root.draw_text("target", &anchored(16.0, HPos::Left), (tick + 22, 91))?;

    // Background halves, grid and the 1.0 line.
    root.draw(&Rectangle::new(
        [(PLOT_LEFT, TOP), (x(1.0), bottom)],
        RGBColor(253, 236, 236).filled(),
    ))?;
    root.draw(&Rectangle::new(
        [(x(1.0), TOP), (PLOT_RIGHT, bottom)],
        RGBColor(234, 246, 234).filled(),
    ))?;
    // Grid lines at these ratios; a label only where it does not run into the last one.
    let mut last_label: Option<i32> = None;
    for v in [
        0.1, 0.2, 0.25, 0.33, 0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 10.0,
    ] {
        if v < lo || v > hi {
            continue;
        }
        let style = if v == 1.0 {
            BLACK.stroke_width(2)
        } else {
            RGBColor(200, 200, 200).stroke_width(1)
        };
        root.draw(&PathElement::new(vec![(x(v), TOP), (x(v), bottom)], style))?;
        if last_label.is_some_and(|at| x(v) - at < 48) {
            continue;
        }
        last_label = Some(x(v));
        root.draw_text(
            &format!("{v}×"),
            &text(15.0).pos(Pos::new(HPos::Center, VPos::Top)),
            (x(v), bottom + 6),
        )?;
    }
    root.draw_text(
        "◀ native better",
        &anchored(16.0, HPos::Right),
        (x(1.0) - 8, bottom + 34),
    )?;
    root.draw_text(
        "guest better ▶",
        &anchored(16.0, HPos::Left),
        (x(1.0) + 8, bottom + 34),
    )?;

    // One row per figure: its label, a bar per guest with its value, the targets.
    for (i, (row, speeds)) in bars.iter().enumerate() {
        let top = TOP + ROW * i as i32;
        root.draw_text(
            &row.label,
            &anchored(16.0, HPos::Right),
            (LABELS, top + ROW / 2),
        )?;
        for (client, speed) in speeds.iter().enumerate() {
            let Some(speed) = speed else {
                continue;
            };
            let y0 = top + 5 + client as i32 * (BAR + 2);
            let (from, to) = (x(1.0), x(*speed));
            root.draw(&Rectangle::new(
                [(from.min(to), y0), (from.max(to), y0 + BAR)],
                COLOURS[client].filled(),
            ))?;
            let (h, at) = if to >= from {
                (HPos::Left, to + 4)
            } else {
                (HPos::Right, to - 4)
            };
            root.draw_text(
                &format!("{speed:.2}×"),
                &anchored(15.0, h),
                (at, y0 + BAR / 2),
            )?;
            for (label, target_client, target) in TARGETS {
                if *label == row.label && *target_client == client + 1 {
                    let at = x(speedup(row, *target));
                    root.draw(&PathElement::new(
                        vec![(at, y0 - 2), (at, y0 + BAR + 2)],
                        BLACK.stroke_width(3),
                    ))?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn row(label: &str, values: [Option<f64>; 3], lower_is_better: bool) -> Row {
        Row {
            label: label.to_owned(),
            values,
            lower_is_better,
        }
    }

    #[test]
    fn every_target_names_a_figure_the_bench_measures() {
        let figures: Vec<&str> = super::super::measure::workloads(false)
            .iter()
            .flat_map(|w| w.figures.iter().map(|(_, label)| *label))
            .collect();
        for (label, client, _) in TARGETS {
            assert!(figures.contains(label), "{label:?} is no figure");
            assert!([1, 2].contains(client), "{label:?}: client {client}");
        }
    }

    #[test]
    fn every_row_is_labelled_and_turned_so_right_is_guest_better() {
        let rows = [
            // Times: the guest at 50 µs against native 100 is 2× better.
            row(
                "unary 1 KiB, p50 µs/call",
                [Some(100.0), Some(50.0), Some(125.0)],
                true,
            ),
            // Rates: 5,000 calls/s against native 10,000 is 0.5×.
            row(
                "64 concurrent unary, calls/s",
                [Some(10_000.0), Some(20_000.0), Some(5_000.0)],
                false,
            ),
            row(
                "bidi ping-pong, p50 µs/round trip",
                [Some(90.0), Some(99.0), Some(180.0)],
                true,
            ),
            // One guest's figure (the WASI 0.3 guest's, in the wasi:http column): one bar.
            row(
                "unary 1 KiB over WASI 0.3, p50 µs/call",
                [Some(100.0), None, Some(350.0)],
                true,
            ),
            // A guest-only figure has no bar.
            row(
                "echo-client.wasm, bytes",
                [None, Some(500_000.0), None],
                true,
            ),
        ];
        let path = std::env::temp_dir().join(format!("ratios-{}.svg", std::process::id()));
        draw(&rows, "test machine, 2026-12-04", &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        for text in [
            "unary 1 KiB, p50 µs/call",
            "64 concurrent unary, calls/s",
            "bidi ping-pong, p50 µs/round trip",
            "unary 1 KiB over WASI 0.3, p50 µs/call",
            "0.29×",
            "guest over sockets",
            "guest over wasi:http",
            "target",
            "test machine, 2026-12-04",
            // Oriented values: unary 2.00× and 0.80×, concurrent 2.00× and 0.50×, ping-pong
            // 0.91× and 0.50×.
            "2.00×",
            "0.80×",
            "0.50×",
            "0.91×",
        ] {
            assert!(svg.contains(text), "{text:?} missing");
        }
        assert!(!svg.contains("echo-client.wasm"));
        // Five targets, each a tick across its bar.
        assert_eq!(
            svg.matches("stroke-width=\"3\"").count(),
            5 + 1,
            "five ticks and the legend's"
        );
    }
}
