//! Line charts of the benches' scaling curves, drawn as SVG with plotters:
//! a title, two labelled axes (each linear or logarithmic, with readable
//! tick labels), and named series of points, each drawn as a line with its
//! points marked and named in a legend.
//!
//! ```ignore
//! plot::LineChart::new("Per-call time against body size")
//!     .x(plot::Axis::log("response body").ticks([1024.0, 4096.0]).format(plot::bytes))
//!     .y(plot::Axis::log("time per call (µs)"))
//!     .series("native Rust", vec![(1030.0, 4.1), (4100.0, 11.0)])
//!     .write_svg(&path)?;
//! ```
//!
//! The SVG backend writes its text as `<text>` elements, so drawing needs
//! no font files or system libraries; the viewer picks a sans-serif font.
#![allow(dead_code, reason = "each bench binary uses the part it needs")]

use std::fmt;
use std::ops::Range;
use std::path::Path;

use anyhow::{Context, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;

/// The chart's size in pixels, a README figure's width.
const SIZE: (u32, u32) = (960, 600);

/// Series colours, in order: the Okabe-Ito palette, told apart by readers
/// with any common colour blindness.
const COLOURS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// One axis of a chart: its label, its scale, where its ticks go and how
/// their values read.
pub struct Axis {
    label: String,
    log: bool,
    ticks: Option<Vec<f64>>,
    format: Box<dyn Fn(f64) -> String>,
}

impl Axis {
    /// A linear axis from zero (or below, for negative values) to just past
    /// the largest value, its ticks at round numbers.
    pub fn linear(label: impl Into<String>) -> Self {
        Self { label: label.into(), log: false, ticks: None, format: Box::new(number) }
    }

    /// A logarithmic axis around the values, its ticks at 1, 2 and 5 times
    /// powers of ten (only the powers when it spans more than two and a
    /// half decades, every multiple when it spans less than one). Values of zero or below cannot be shown on it, and the
    /// points that have them are left out.
    pub fn log(label: impl Into<String>) -> Self {
        Self { log: true, ..Self::linear(label) }
    }

    /// Ticks at exactly these values instead of round numbers; the axis is
    /// widened to show them all.
    pub fn ticks(mut self, ticks: impl IntoIterator<Item = f64>) -> Self {
        self.ticks = Some(ticks.into_iter().filter(|&t| self.shows(t)).collect());
        self
    }

    /// How tick values read, e.g. [`bytes`]; [`number`] by default.
    pub fn format(mut self, format: impl Fn(f64) -> String + 'static) -> Self {
        self.format = Box::new(format);
        self
    }

    /// Whether the axis can show `value`.
    fn shows(&self, value: f64) -> bool {
        value.is_finite() && (!self.log || value > 0.0)
    }

    /// Where `value` goes along the drawn axis: its logarithm on a log axis.
    /// The chart is drawn in these coordinates, on linear axes, so that
    /// linear and logarithmic axes share one code path.
    fn drawn(&self, value: f64) -> f64 {
        if self.log { value.log10() } else { value }
    }

    /// The value at a drawn coordinate: the inverse of [`Self::drawn`].
    fn value_at(&self, drawn: f64) -> f64 {
        if self.log { 10f64.powf(drawn) } else { drawn }
    }

    /// The drawn range for these values, with its bold ticks and light grid
    /// lines, all in drawn coordinates.
    fn layout(&self, values: &[f64]) -> Drawn {
        let mut all: Vec<f64> = values.iter().copied().chain(self.ticks.iter().flatten().copied()).collect();
        if !self.log {
            // A linear axis starts at zero, so that heights compare as ratios.
            all.push(0.0);
        }
        let (min, max) = all
            .iter()
            .map(|&v| self.drawn(v))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (min, max) = match (min.is_finite(), max > min) {
            (false, _) => (0.0, 1.0),
            (true, false) => (min - 0.5, max + 0.5),
            (true, true) => (min, max),
        };
        let pad = (max - min) * 0.06;
        let range = if self.log { (min - pad)..(max + pad) } else { min.min(0.0)..(max + pad) };
        let inside = |v: &f64| range.contains(v);
        let (bold, light) = match &self.ticks {
            Some(ticks) => (ticks.iter().map(|&t| self.drawn(t)).collect(), Vec::new()),
            None if self.log => log_ticks(&range),
            None => (linear_ticks(&range), Vec::new()),
        };
        let bold = bold.into_iter().filter(inside).collect();
        let light = light.into_iter().filter(inside).collect();
        Drawn { range, bold, light }
    }
}

impl fmt::Debug for Axis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Axis").field("label", &self.label).field("log", &self.log).field("ticks", &self.ticks).finish()
    }
}

/// One axis in drawn coordinates, mapped linearly to pixels, with its ticks
/// chosen by [`Axis::layout`] rather than by plotters.
struct Drawn {
    range: Range<f64>,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Drawn {
    type ValueType = f64;
    // Debug formatting, which the axes' own formatters replace.
    type FormatOption = DefaultFormatting;

    fn map(&self, value: &f64, pixels: (i32, i32)) -> i32 {
        let share = (value - self.range.start) / (self.range.end - self.range.start);
        pixels.0 + (f64::from(pixels.1 - pixels.0) * share).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() { self.light.clone() } else { self.bold.clone() }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// Ticks of a logarithmic axis in drawn coordinates (decades): the bold
/// ones at 1, 2 and 5 times powers of ten, only the powers on a wide axis,
/// every integer multiple on an axis narrower than a decade; light grid
/// lines at the other multiples.
fn log_ticks(range: &Range<f64>) -> (Vec<f64>, Vec<f64>) {
    let span = range.end - range.start;
    let bold_multiples: &[u32] = if span > 2.5 {
        &[1]
    } else if span > 1.0 {
        &[1, 2, 5]
    } else {
        &[1, 2, 3, 4, 5, 6, 7, 8, 9]
    };
    let (mut bold, mut light) = (Vec::new(), Vec::new());
    for decade in (range.start.floor() as i32)..=(range.end.ceil() as i32) {
        for multiple in 1..10u32 {
            let tick = decade as f64 + f64::from(multiple).log10();
            if bold_multiples.contains(&multiple) { bold.push(tick) } else { light.push(tick) }
        }
    }
    (bold, light)
}

/// About six ticks of a linear axis, a round step apart (1, 2 or 5 times a
/// power of ten).
fn linear_ticks(range: &Range<f64>) -> Vec<f64> {
    let rough = (range.end - range.start) / 6.0;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|&s| s >= rough).unwrap_or(10.0 * power);
    let first = (range.start / step).ceil() as i64;
    let last = (range.end / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// A line chart: a title, two axes and named series of `(x, y)` points.
#[derive(Debug)]
pub struct LineChart {
    title: String,
    x: Axis,
    y: Axis,
    series: Vec<(String, Vec<(f64, f64)>)>,
}

impl LineChart {
    /// A chart with this title and linear axes without labels.
    pub fn new(title: impl Into<String>) -> Self {
        Self { title: title.into(), x: Axis::linear(""), y: Axis::linear(""), series: Vec::new() }
    }

    /// The horizontal axis.
    pub fn x(mut self, axis: Axis) -> Self {
        self.x = axis;
        self
    }

    /// The vertical axis.
    pub fn y(mut self, axis: Axis) -> Self {
        self.y = axis;
        self
    }

    /// One more series, named in the legend; its points are joined in the
    /// order given.
    pub fn series(mut self, name: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        self.series.push((name.into(), points.into_iter().collect()));
        self
    }

    /// Draws the chart into an SVG file at `path`, creating its folder.
    pub fn write_svg(&self, path: &Path) -> Result<()> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).with_context(|| format!("create {}", folder.display()))?;
        }
        self.draw(path).with_context(|| format!("draw {}", path.display()))
    }

    fn draw(&self, path: &Path) -> Result<()> {
        let (x, y) = (&self.x, &self.y);
        // Every series in drawn coordinates, without the points an axis
        // cannot show.
        let series: Vec<(&str, Vec<(f64, f64)>)> = self
            .series
            .iter()
            .map(|(name, points)| {
                let shown = points.iter().filter(|(px, py)| x.shows(*px) && y.shows(*py));
                (name.as_str(), shown.map(|&(px, py)| (x.drawn(px), y.drawn(py))).collect())
            })
            .collect();
        let xs: Vec<f64> = series.iter().flat_map(|(_, p)| p.iter().map(|&(v, _)| x.value_at(v))).collect();
        let ys: Vec<f64> = series.iter().flat_map(|(_, p)| p.iter().map(|&(_, v)| y.value_at(v))).collect();

        let root = SVGBackend::new(path, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(20)
            .x_label_area_size(56)
            .y_label_area_size(84)
            .build_cartesian_2d(x.layout(&xs), y.layout(&ys))?;
        let x_label = |v: &f64| (x.format)(x.value_at(*v));
        let y_label = |v: &f64| (y.format)(y.value_at(*v));
        chart
            .configure_mesh()
            .x_desc(x.label.as_str())
            .y_desc(y.label.as_str())
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .bold_line_style(RGBColor(200, 200, 200))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()?;
        for (index, (name, points)) in series.into_iter().enumerate() {
            let colour = COLOURS[index % COLOURS.len()];
            let line = colour.stroke_width(2);
            chart.draw_series(points.iter().map(|&point| Circle::new(point, 4, colour.filled())))?;
            chart.draw_series(LineSeries::new(points, line))?.label(name).legend(move |(lx, ly)| {
                EmptyElement::at((lx + 10, ly))
                    + PathElement::new(vec![(-10, 0), (10, 0)], line)
                    + Circle::new((0, 0), 4, colour.filled())
            });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .draw()?;
        root.present()?;
        Ok(())
    }
}

/// A number as a tick label: whole numbers with thousands separators
/// ("1,000"), others to three significant digits ("2.5", "0.05").
pub fn number(value: f64) -> String {
    if value.abs() >= 100.0 || value == 0.0 {
        let whole = value.round() as i64;
        let digits = whole.unsigned_abs().to_string();
        let mut grouped = String::new();
        for (index, digit) in digits.chars().enumerate() {
            if index > 0 && (digits.len() - index).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        return if whole < 0 { format!("-{grouped}") } else { grouped };
    }
    let decimals = (2 - value.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

/// A size in bytes as a tick label, in binary units: "512 B", "1 KiB",
/// "1.5 MiB".
pub fn bytes(value: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut scaled = value;
    let mut unit = 0;
    // A hair under a whole unit still counts as one: drawn coordinates come
    // back from logarithms with rounding errors (1023.9999... for 1 KiB).
    while scaled.abs() >= 1024.0 * (1.0 - 1e-9) && unit + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit += 1;
    }
    format!("{} {}", number(scaled), UNITS[unit])
}
