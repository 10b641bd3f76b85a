//! Figures of the study: line charts of a metric against k (look-alikes per target), one line per method, error
//! bars for the spread over seeds, the oracles as reference lines, optionally side by side per forget scope; and
//! scatter-line charts such as a precision–recall curve. Rendered to PNG bytes; writing them is the caller's job.
//!
//! The input is plain data, never a table: a [`Figure`] holds [`Panel`]s (one per scope, or one), each holding
//! [`Series`] of [`Point`]s `(x, mean, std)`. [`render_png`] draws it with plotters into an RGB buffer and encodes
//! it with `image`.
//!
//! - Points whose mean is not finite are left out, and so is an error bar whose std is not finite or not positive;
//!   a series with no point left is left out of the plot and of the legend. A figure with no point at all is
//!   [`FigureError::NoData`], never an empty picture.
//! - A series keeps its colour and marker in every panel: methods take, in order of first appearance, a colour of
//!   Paul Tol's colour-blind-safe "muted" scheme and one of five marker shapes (dashed from the tenth method on,
//!   where the colours repeat);
//!   references ([`SeriesKind::Reference`]: the oracles, controls) are black and greys, dashed or dotted, with
//!   hollow markers.
//! - With [`Figure::dodge`] every series is shifted a little along x so that overlapping error bars stay visible;
//!   the tick labels stay at the true x values.
//! - Figures up to 6 megapixels are drawn at twice their size and scaled down, which anti-aliases plotters'
//!   lines and hides its whole-pixel glyph placement (gaps inside small numbers).
//! - Text uses DejaVu Sans, embedded (`assets/DejaVuSans-subset.ttf`, licence beside it), so a machine without
//!   system fonts draws the same PNG, byte for byte.

use std::sync::OnceLock;

use image::ImageEncoder as _;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

/// The embedded text font: DejaVu Sans, subset (see `assets/README.md`).
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");
/// The family name every text style of this module uses; plotters' own default labels ask for it too.
const FAMILY: &str = "sans-serif";

/// Paul Tol's "muted" qualitative scheme (https://personal.sron.nl/~pault/#sec:qualitative), safe for the common
/// colour-vision deficiencies: rose, indigo, sand, green, cyan, wine, teal, olive, purple.
const MUTED: [RGBColor; 9] = [
    RGBColor(0xCC, 0x66, 0x77),
    RGBColor(0x33, 0x22, 0x88),
    RGBColor(0xDD, 0xCC, 0x77),
    RGBColor(0x11, 0x77, 0x33),
    RGBColor(0x88, 0xCC, 0xEE),
    RGBColor(0x88, 0x22, 0x55),
    RGBColor(0x44, 0xAA, 0x99),
    RGBColor(0x99, 0x99, 0x33),
    RGBColor(0xAA, 0x44, 0x99),
];

/// Figures up to this many pixels are drawn at twice their size and scaled down (anti-aliasing).
const SUPERSAMPLE_MAX_PIXELS: u64 = 6_000_000;

/// The smallest and largest side of a figure, in pixels.
const SIDE: std::ops::RangeInclusive<u32> = 200..=8000;

/// Results of this module.
pub type Result<T, E = FigureError> = std::result::Result<T, E>;

/// What can keep a figure from being drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FigureError {
    /// No series of the figure has a finite point.
    #[error("figure `{title}` has no finite point to draw; check that its table has values for this metric")]
    NoData {
        /// The figure's title.
        title: String,
    },
    /// The requested size is outside 200..=8000 pixels a side.
    #[error("figure `{title}` is {width}×{height} pixels; each side must be 200 to 8000")]
    Size {
        /// The figure's title.
        title: String,
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// plotters failed while drawing (a font without a glyph table, a backend error).
    #[error("drawing figure `{title}`: {detail}")]
    Draw {
        /// The figure's title.
        title: String,
        /// plotters' message.
        detail: String,
    },
    /// The PNG encoder failed.
    #[error("encoding figure `{title}` as PNG: {detail}")]
    Encode {
        /// The figure's title.
        title: String,
        /// The encoder's message.
        detail: String,
    },
}

/// One value of a series: its position, its mean over seeds and their sample standard deviation (`None` for one
/// seed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The x position (k, recall, …).
    pub x: f64,
    /// The mean over seeds; a non-finite mean leaves the point out.
    pub mean: f64,
    /// The standard deviation over seeds, drawn as an error bar of ± std; `None`, zero or non-finite: no bar.
    pub std: Option<f64>,
}

/// What a series stands for, which decides how it is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesKind {
    /// A method under study: a palette colour, a solid line, filled markers.
    Method,
    /// A reference (an oracle, a control): black or grey, dashed or dotted, hollow markers.
    Reference,
}

/// One labelled line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend label; the same label in two panels is drawn the same way.
    pub label: String,
    /// Method or reference.
    pub kind: SeriesKind,
    /// The points, in any order (they are joined in x order).
    pub points: Vec<Point>,
}

/// One chart of a figure (one forget scope, say), sharing the figure's axes ranges.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// The panel's heading; empty for none.
    pub title: String,
    /// Its lines.
    pub series: Vec<Series>,
}

/// Where the x axis puts its tick labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum XTicks {
    /// At every x value some point has (the k values of a sweep), and nowhere else.
    AtData,
    /// Evenly spaced over the range, plotters' choice.
    Even,
}

/// A figure: a title, axes, panels side by side, a legend on the right and a caption below.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// The heading.
    pub title: String,
    /// The x axis label, with its unit.
    pub x_label: String,
    /// The y axis label, with its unit.
    pub y_label: String,
    /// The charts, left to right.
    pub panels: Vec<Panel>,
    /// The text under the charts (wrapped to the width); empty for none.
    pub caption: String,
    /// The x range; `None` fits the data.
    pub x_range: Option<(f64, f64)>,
    /// The y range; `None` fits the data and its error bars.
    pub y_range: Option<(f64, f64)>,
    /// Where the x ticks go.
    pub x_ticks: XTicks,
    /// Shift each series a little along x so that overlapping error bars stay visible.
    pub dodge: bool,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// How one legend entry is drawn.
#[derive(Debug, Clone, Copy)]
struct Look {
    color: RGBColor,
    /// `None`: solid; `Some((dash, gap))` in pixels.
    dash: Option<(u32, u32)>,
    width: u32,
    marker: Marker,
    filled: bool,
}

#[derive(Debug, Clone, Copy)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
}

const MARKERS: [Marker; 5] = [Marker::Circle, Marker::Square, Marker::Triangle, Marker::Diamond, Marker::Cross];

/// The looks of references in order of first appearance: black dashes with diamonds, grey short dashes with
/// squares, black dots with circles, then light greys.
const REFERENCES: [(RGBColor, (u32, u32), Marker); 5] = [
    (RGBColor(0, 0, 0), (14, 7), Marker::Diamond),
    (RGBColor(0x77, 0x77, 0x77), (6, 5), Marker::Square),
    (RGBColor(0, 0, 0), (2, 5), Marker::Circle),
    (RGBColor(0xAA, 0xAA, 0xAA), (14, 7), Marker::Triangle),
    (RGBColor(0xAA, 0xAA, 0xAA), (2, 5), Marker::Cross),
];

/// Method `i`'s look: the palette's colours in turn with the markers in turn; from the tenth method on, the
/// colours repeat, so those lines are dashed (thinner and with filled markers, unlike the references).
fn method_look(i: usize) -> Look {
    let dash = if (i / MUTED.len()) % 2 == 1 { Some((10, 4)) } else { None };
    Look { color: MUTED[i % MUTED.len()], dash, width: 2, marker: MARKERS[i % MARKERS.len()], filled: true }
}

fn reference_look(i: usize) -> Look {
    let (color, dash, marker) = REFERENCES[i % REFERENCES.len()];
    Look { color, dash: Some(dash), width: 3, marker, filled: false }
}

/// Registers the embedded font with plotters, once per process.
fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok())
}

/// The finite points of a series, sorted by x.
fn finite(points: &[Point]) -> Vec<Point> {
    let mut out: Vec<Point> = points.iter().copied().filter(|p| p.x.is_finite() && p.mean.is_finite()).collect();
    out.sort_by(|a, b| a.x.total_cmp(&b.x));
    out
}

/// The std of a point when it makes an error bar.
fn bar(p: &Point) -> Option<f64> {
    p.std.filter(|s| s.is_finite() && *s > 0.0)
}

/// `(lo, hi)` widened so that it has a span, then padded by `pad` of the span on both sides.
fn padded(lo: f64, hi: f64, pad: f64) -> (f64, f64) {
    let (lo, hi) = if hi - lo > 1e-12 {
        (lo, hi)
    } else {
        let half = if lo.abs() > 1e-12 { lo.abs() * 0.05 } else { 0.05 };
        (lo - half, hi + half)
    };
    let p = (hi - lo) * pad;
    (lo - p, hi + p)
}

/// Decimals that tell ticks `span / 8` apart.
fn decimals(span: f64) -> usize {
    let step = span / 8.0;
    if !(step.is_finite() && step > 0.0) {
        return 2;
    }
    (-step.log10()).ceil().clamp(0.0, 4.0) as usize
}

fn tick_text(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 { format!("{}", x.round() as i64) } else { format!("{x:.2}") }
}

/// Splits `text` into lines no wider than `width` pixels in `style`, at spaces.
fn wrap<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, text: &str, style: &TextStyle, width: u32) -> Vec<String> {
    let fits = |s: &str| area.estimate_text_size(s, style).map_or(true, |(w, _)| w <= width);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
            if line.is_empty() || fits(&candidate) {
                line = candidate;
            } else {
                lines.push(std::mem::take(&mut line));
                line = word.to_string();
            }
        }
        lines.push(line);
    }
    lines
}

/// Draws `fig` and returns it as PNG bytes (8-bit RGB, `fig.width × fig.height`).
///
/// # Errors
/// [`FigureError::Size`] for a side outside 200..=8000 pixels, [`FigureError::NoData`] when no series has a
/// finite point, [`FigureError::Draw`] or [`FigureError::Encode`] when plotters or the encoder fail.
pub fn render_png(fig: &Figure) -> Result<Vec<u8>> {
    let (w, h) = (fig.width, fig.height);
    if !SIDE.contains(&w) || !SIDE.contains(&h) {
        return Err(FigureError::Size { title: fig.title.clone(), width: w, height: h });
    }
    // Looks: every label once, in order of first appearance over all series, drawn or not (so a caller that
    // lists every method in every figure keeps each method's look fixed); methods and references numbered apart.
    let mut looks: Vec<(String, Look)> = Vec::new();
    let (mut methods, mut references) = (0, 0);
    for s in fig.panels.iter().flat_map(|p| p.series.iter()) {
        if looks.iter().any(|(l, _)| *l == s.label) {
            continue;
        }
        let look = match s.kind {
            SeriesKind::Method => {
                methods += 1;
                method_look(methods - 1)
            }
            SeriesKind::Reference => {
                references += 1;
                reference_look(references - 1)
            }
        };
        looks.push((s.label.clone(), look));
    }
    let panels: Vec<(String, Vec<Drawn>)> = fig
        .panels
        .iter()
        .map(|p| {
            let series = p
                .series
                .iter()
                .filter_map(|s| {
                    let look = looks.iter().find(|(l, _)| *l == s.label).map(|(_, look)| *look)?;
                    Some(Drawn { label: s.label.clone(), look, points: finite(&s.points) })
                })
                .filter(|d| !d.points.is_empty())
                .collect();
            (p.title.clone(), series)
        })
        .collect();
    let all: Vec<&Point> = panels.iter().flat_map(|(_, s)| s.iter().flat_map(|d| d.points.iter())).collect();
    if all.is_empty() {
        return Err(FigureError::NoData { title: fig.title.clone() });
    }
    if !font_ready() {
        return Err(FigureError::Draw { title: fig.title.clone(), detail: "the embedded font did not load".into() });
    }
    // The legend lists the labels that have a drawn series.
    let legend: Vec<(String, Look)> =
        looks.into_iter().filter(|(l, _)| panels.iter().any(|(_, s)| s.iter().any(|d| d.label == *l))).collect();

    let xs: Vec<f64> = {
        let mut xs: Vec<f64> = all.iter().map(|p| p.x).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        xs
    };
    let x = fig.x_range.unwrap_or_else(|| padded(xs[0], xs[xs.len() - 1], 0.08));
    let y = fig.y_range.unwrap_or_else(|| {
        let lo = all.iter().map(|p| p.mean - bar(p).unwrap_or(0.0)).fold(f64::INFINITY, f64::min);
        let hi = all.iter().map(|p| p.mean + bar(p).unwrap_or(0.0)).fold(f64::NEG_INFINITY, f64::max);
        padded(lo, hi, 0.06)
    });
    let per_panel = panels.iter().map(|(_, s)| s.len()).max().unwrap_or(1);
    let dodge_step = if fig.dodge && per_panel > 1 { (x.1 - x.0) * 0.07 / per_panel as f64 } else { 0.0 };

    // Drawn at twice the size and scaled down: plotters draws lines without anti-aliasing and places glyphs at
    // whole pixels, which at tick-label sizes leaves gaps inside numbers ("0.5 0"); halving smooths both.
    let ss = if u64::from(w) * u64::from(h) <= SUPERSAMPLE_MAX_PIXELS { 2 } else { 1 };
    let size = (w * ss, h * ss);
    let layout = Layout { fig, size, panels, legend, xs, x, y, dodge_step };
    let mut buf = vec![0u8; size.0 as usize * size.1 as usize * 3];
    draw(&layout, &mut buf).map_err(|detail| FigureError::Draw { title: fig.title.clone(), detail })?;
    let big = image::RgbImage::from_raw(size.0, size.1, buf).ok_or_else(|| FigureError::Draw {
        title: fig.title.clone(),
        detail: "the drawing buffer does not match the figure size".into(),
    })?;
    let img = if ss > 1 { image::imageops::resize(&big, w, h, image::imageops::FilterType::Triangle) } else { big };
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .map_err(|e| FigureError::Encode { title: fig.title.clone(), detail: e.to_string() })?;
    Ok(png)
}

/// A series as drawn: its finite points in x order and its look.
struct Drawn {
    label: String,
    look: Look,
    points: Vec<Point>,
}

/// What [`draw`] needs, worked out from a [`Figure`].
struct Layout<'a> {
    fig: &'a Figure,
    /// The size drawn at, in pixels (a multiple of the figure's).
    size: (u32, u32),
    /// Per panel: its title and the series that have points.
    panels: Vec<(String, Vec<Drawn>)>,
    legend: Vec<(String, Look)>,
    /// Every x value of a point, sorted, once.
    xs: Vec<f64>,
    x: (f64, f64),
    y: (f64, f64),
    /// The x shift between neighbouring series.
    dodge_step: f64,
}

/// Draws the figure into `buf`; errors are plotters' messages.
fn draw(layout: &Layout, buf: &mut [u8]) -> std::result::Result<(), String> {
    let Layout { fig, size: (w, h), panels, legend, xs, x: (x_lo, x_hi), y: (y_lo, y_hi), dodge_step } = layout;
    let (w, h) = (*w, *h);
    let (x_lo, x_hi, y_lo, y_hi, dodge_step) = (*x_lo, *x_hi, *y_lo, *y_hi, *dodge_step);
    let e = |e: &dyn std::fmt::Display| e.to_string();
    // Sizes scale with the drawing, from 17 px tick labels at 800 px high.
    let s = (f64::from(h) / 800.0).min(f64::from(w) / 1200.0).max(0.4);
    let px = |v: f64| (v * s).round().max(1.0);
    let root = BitMapBackend::with_buffer(buf, (w, h)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;

    let title_style = TextStyle::from((FAMILY, px(30.0)).into_font()).color(&BLACK);
    let caption_style = TextStyle::from((FAMILY, px(17.0)).into_font()).color(&RGBColor(0x33, 0x33, 0x33));
    let legend_style = TextStyle::from((FAMILY, px(18.0)).into_font()).color(&BLACK);
    let label_style = TextStyle::from((FAMILY, px(17.0)).into_font()).color(&BLACK);
    let desc_style = TextStyle::from((FAMILY, px(20.0)).into_font()).color(&BLACK);
    let panel_style = TextStyle::from((FAMILY, px(22.0)).into_font()).color(&BLACK);

    let margin = px(20.0) as i32;
    let title_h = (px(30.0) * 1.9) as u32;
    let caption_lines = if fig.caption.trim().is_empty() {
        Vec::new()
    } else {
        wrap(&root, &fig.caption, &caption_style, w - 2 * margin as u32)
    };
    let line_h = (px(17.0) * 1.35) as u32;
    let caption_h =
        if caption_lines.is_empty() { margin as u32 } else { caption_lines.len() as u32 * line_h + 2 * margin as u32 };

    // Title, centred.
    root.draw_text(
        &fig.title,
        &title_style.pos(Pos::new(HPos::Center, VPos::Center)),
        (w as i32 / 2, title_h as i32 / 2),
    )
    .map_err(|x| e(&x))?;
    // Caption, left-aligned under the charts.
    for (i, line) in caption_lines.iter().enumerate() {
        let y = h as i32 - caption_h as i32 + margin + (i as u32 * line_h) as i32;
        root.draw_text(line, &caption_style, (margin, y)).map_err(|x| e(&x))?;
    }

    // The legend's width: its longest label, a line sample and padding; at most a third of the width.
    let sample_w = px(50.0) as u32;
    let longest = legend
        .iter()
        .map(|(l, _)| root.estimate_text_size(l, &legend_style).map_or(0, |(tw, _)| tw))
        .max()
        .unwrap_or(0);
    let legend_w = (longest + sample_w + 3 * margin as u32).clamp(px(160.0) as u32, w / 3);
    let body_h = h.saturating_sub(title_h + caption_h).max(50);
    let body = root.margin(title_h as i32, caption_h as i32, 0, 0);
    let (charts, legend_area) = body.split_horizontally(w - legend_w);
    let areas = charts.split_evenly((1, panels.len().max(1)));

    let y_dec = decimals(y_hi - y_lo);
    let x_dec = decimals(x_hi - x_lo);
    let y_fmt = move |v: &f64| format!("{v:.y_dec$}");
    let x_fmt = move |v: &f64| format!("{v:.x_dec$}");
    let grid = RGBColor(0xDD, 0xDD, 0xDD).stroke_width(px(1.0) as u32);
    for (i, ((panel_title, series), area)) in panels.iter().zip(&areas).enumerate() {
        let mut builder = ChartBuilder::on(area);
        builder.margin(margin).x_label_area_size(px(70.0) as u32).y_label_area_size(if i == 0 {
            px(95.0) as u32
        } else {
            px(60.0) as u32
        });
        if !panel_title.is_empty() {
            builder.caption(panel_title, panel_style.clone());
        }
        let mut chart = builder.build_cartesian_2d(x_lo..x_hi, y_lo..y_hi).map_err(|x| e(&x))?;
        let mut mesh = chart.configure_mesh();
        mesh.bold_line_style(grid)
            .light_line_style(TRANSPARENT)
            .axis_style(BLACK.stroke_width(px(1.0) as u32))
            .label_style(label_style.clone())
            .axis_desc_style(desc_style.clone())
            .y_labels(8)
            .y_label_formatter(&y_fmt)
            .x_desc(fig.x_label.as_str());
        if i == 0 {
            mesh.y_desc(fig.y_label.as_str());
        }
        match fig.x_ticks {
            XTicks::AtData => {
                mesh.disable_x_mesh().x_labels(0);
            }
            XTicks::Even => {
                mesh.x_labels(6).x_label_formatter(&x_fmt);
            }
        }
        mesh.draw().map_err(|x| e(&x))?;
        if matches!(fig.x_ticks, XTicks::AtData) {
            for &x in xs.iter() {
                chart
                    .draw_series(std::iter::once(PathElement::new(vec![(x, y_lo), (x, y_hi)], grid)))
                    .map_err(|x| e(&x))?;
                let (bx, by) = chart.backend_coord(&(x, y_lo));
                root.draw(&PathElement::new(
                    vec![(bx, by), (bx, by + px(6.0) as i32)],
                    BLACK.stroke_width(px(1.0) as u32),
                ))
                .map_err(|x| e(&x))?;
                root.draw_text(
                    &tick_text(x),
                    &label_style.pos(Pos::new(HPos::Center, VPos::Top)),
                    (bx, by + px(10.0) as i32),
                )
                .map_err(|x| e(&x))?;
            }
        }
        let n = series.len() as f64;
        for (j, Drawn { look, points, .. }) in series.iter().enumerate() {
            let look = *look;
            let shift = (j as f64 - (n - 1.0) / 2.0) * dodge_step;
            let at: Vec<(f64, f64)> = points.iter().map(|p| (p.x + shift, p.mean)).collect();
            let color = look.color;
            // Error bars under the lines: a vertical stroke with caps.
            for p in points {
                if let Some(sd) = bar(p) {
                    let x = p.x + shift;
                    let style = color.mix(0.85).stroke_width(px(2.0) as u32);
                    chart
                        .draw_series(std::iter::once(PathElement::new(vec![(x, p.mean - sd), (x, p.mean + sd)], style)))
                        .map_err(|x| e(&x))?;
                    let cap = px(5.0) as i32;
                    for y in [p.mean - sd, p.mean + sd] {
                        let (bx, by) = chart.backend_coord(&(x, y));
                        root.draw(&PathElement::new(vec![(bx - cap, by), (bx + cap, by)], style)).map_err(|x| e(&x))?;
                    }
                }
            }
            let line = color.stroke_width(px(f64::from(look.width)) as u32);
            match look.dash {
                None => chart.draw_series(LineSeries::new(at.clone(), line)).map(|_| ()),
                Some((d, g)) => chart
                    .draw_series(DashedLineSeries::new(
                        at.clone(),
                        px(f64::from(d)) as u32,
                        px(f64::from(g)) as u32,
                        line,
                    ))
                    .map(|_| ()),
            }
            .map_err(|x| e(&x))?;
            let r = px(6.0) as i32;
            for &(x, y) in &at {
                draw_marker(&root, chart.backend_coord(&(x, y)), look, r)?;
            }
        }
    }

    // The legend, top-down in its own column.
    let entry_h = ((px(18.0) * 1.7) as u32).min(body_h / (legend.len() as u32 + 1)).max(8);
    let top = px(40.0) as i32;
    for (i, (label, look)) in legend.iter().enumerate() {
        let y = top + (i as u32 * entry_h) as i32 + entry_h as i32 / 2;
        let x0 = margin / 2;
        let x1 = x0 + sample_w as i32;
        let line = look.color.stroke_width(px(f64::from(look.width)) as u32);
        match look.dash {
            None => legend_area.draw(&PathElement::new(vec![(x0, y), (x1, y)], line)),
            Some((d, g)) => legend_area.draw(&plotters::element::DashedPathElement::new(
                vec![(x0, y), (x1, y)],
                px(f64::from(d)) as u32,
                px(f64::from(g)) as u32,
                line,
            )),
        }
        .map_err(|x| e(&x))?;
        let (ax, ay) = (legend_area.get_base_pixel().0, legend_area.get_base_pixel().1);
        draw_marker(&root, (ax + (x0 + x1) / 2, ay + y), *look, px(6.0) as i32)?;
        legend_area
            .draw_text(label, &legend_style.pos(Pos::new(HPos::Left, VPos::Center)), (x1 + margin / 2, y))
            .map_err(|x| e(&x))?;
    }
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

/// Draws a marker of `look` with radius `r` pixels centred on the pixel `(x, y)` of `root`.
fn draw_marker<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    look: Look,
    r: i32,
) -> std::result::Result<(), String> {
    let fill = if look.filled { look.color.filled() } else { WHITE.filled() };
    let edge = look.color.stroke_width((r / 3).max(1) as u32);
    let closed = |pts: &[(i32, i32)]| {
        let mut v: Vec<(i32, i32)> = pts.iter().map(|&(dx, dy)| (x + dx, y + dy)).collect();
        v.push(v[0]);
        v
    };
    let done = match look.marker {
        Marker::Circle => {
            root.draw(&Circle::new((x, y), r, fill)).and_then(|()| root.draw(&Circle::new((x, y), r, edge)))
        }
        Marker::Square => {
            let corners = [(x - r, y - r), (x + r, y + r)];
            root.draw(&Rectangle::new(corners, fill)).and_then(|()| root.draw(&Rectangle::new(corners, edge)))
        }
        Marker::Triangle | Marker::Diamond => {
            let d = r + 1;
            let shape: Vec<(i32, i32)> = if matches!(look.marker, Marker::Triangle) {
                vec![(0, -d - 1), (d, d - 1), (-d, d - 1)]
            } else {
                let d = r + 2;
                vec![(0, -d), (d, 0), (0, d), (-d, 0)]
            };
            let outline = closed(&shape);
            let body: Vec<(i32, i32)> = outline[..outline.len() - 1].to_vec();
            root.draw(&Polygon::new(body, fill)).and_then(|()| root.draw(&PathElement::new(outline, edge)))
        }
        Marker::Cross => {
            let style = look.color.stroke_width((r / 2).max(1) as u32);
            root.draw(&PathElement::new(vec![(x - r, y - r), (x + r, y + r)], style))
                .and_then(|()| root.draw(&PathElement::new(vec![(x - r, y + r), (x + r, y - r)], style)))
        }
    };
    done.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png: &[u8]) -> image::RgbImage {
        image::load_from_memory_with_format(png, image::ImageFormat::Png).expect("a PNG").to_rgb8()
    }

    fn colours(img: &image::RgbImage) -> usize {
        let mut seen: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }

    fn pts(values: &[(f64, f64, Option<f64>)]) -> Vec<Point> {
        values.iter().map(|&(x, mean, std)| Point { x, mean, std }).collect()
    }

    fn figure(panels: Vec<Panel>) -> Figure {
        Figure {
            title: "forget accuracy vs k".into(),
            x_label: "k (look-alikes per target)".into(),
            y_label: "forget accuracy (fraction)".into(),
            panels,
            caption: "Mean ± std over 3 seeds. A caption long enough to wrap onto a second line when it is drawn \
                      under the charts of a figure that is only a few hundred pixels wide."
                .into(),
            x_range: None,
            y_range: None,
            x_ticks: XTicks::AtData,
            dodge: true,
            width: 1200,
            height: 800,
        }
    }

    fn method(label: &str, values: &[(f64, f64, Option<f64>)]) -> Series {
        Series { label: label.into(), kind: SeriesKind::Method, points: pts(values) }
    }

    fn reference(label: &str, values: &[(f64, f64, Option<f64>)]) -> Series {
        Series { label: label.into(), kind: SeriesKind::Reference, points: pts(values) }
    }

    #[test]
    fn a_figure_is_a_png_of_the_stated_size_with_content() {
        let fig = figure(vec![Panel {
            title: String::new(),
            series: vec![
                method("ft", &[(0.0, 1.0, Some(0.0)), (25.0, 0.98, Some(0.01)), (50.0, 0.9, Some(0.05))]),
                method("ga", &[(0.0, 0.95, Some(0.02)), (25.0, 0.93, None)]),
                reference("retrain_exact", &[(0.0, 0.97, Some(0.01)), (25.0, 1.0, Some(0.0))]),
                reference("retrain_clean", &[(0.0, 0.97, Some(0.01)), (25.0, 0.97, Some(0.01))]),
            ],
        }]);
        let png = render_png(&fig).unwrap();
        let img = decode(&png);
        assert_eq!(img.dimensions(), (1200, 800));
        assert!(colours(&img) > 20, "lines, markers, anti-aliased text: {} colours", colours(&img));
        // The same figure draws the same bytes (the report is byte-reproducible).
        assert_eq!(render_png(&fig).unwrap(), png);
    }

    #[test]
    fn panels_share_looks_and_sizes_are_respected() {
        let panel = |t: &str, shift: f64| Panel {
            title: t.into(),
            series: vec![
                method("ft", &[(0.0, 0.5 + shift, Some(0.1)), (25.0, 0.6, Some(0.1))]),
                reference("retrain_exact", &[(0.0, 0.7, None), (25.0, 0.8, None)]),
            ],
        };
        let mut fig = figure(vec![panel("exact", 0.0), panel("mined", 0.1), panel("lineage", 0.2)]);
        fig.width = 1800;
        fig.height = 700;
        let img = decode(&render_png(&fig).unwrap());
        assert_eq!(img.dimensions(), (1800, 700));
        assert!(colours(&img) > 20);
    }

    #[test]
    fn non_finite_points_and_empty_series_are_left_out() {
        let fig = figure(vec![Panel {
            title: "exact".into(),
            series: vec![
                method("ft", &[(0.0, f64::NAN, Some(0.1)), (25.0, 0.9, Some(f64::NAN)), (50.0, 0.8, Some(-1.0))]),
                method("all-missing", &[(0.0, f64::NAN, None), (f64::INFINITY, 0.5, None)]),
                method("empty", &[]),
            ],
        }]);
        let img = decode(&render_png(&fig).unwrap());
        assert_eq!(img.dimensions(), (1200, 800));
        assert!(colours(&img) > 20);
    }

    #[test]
    fn a_single_point_and_a_fixed_range_draw() {
        let mut fig = figure(vec![Panel {
            title: String::new(),
            series: vec![method("precision–recall at threshold 0.75", &[(0.4, 0.9, None)])],
        }]);
        fig.x_range = Some((0.0, 1.0));
        fig.y_range = Some((0.0, 1.0));
        fig.x_ticks = XTicks::Even;
        fig.dodge = false;
        let img = decode(&render_png(&fig).unwrap());
        assert_eq!(img.dimensions(), (1200, 800));
        assert!(colours(&img) > 10);
    }

    #[test]
    fn no_finite_point_and_bad_sizes_are_errors() {
        let fig = figure(vec![Panel { title: String::new(), series: vec![method("ft", &[(0.0, f64::NAN, None)])] }]);
        assert_eq!(render_png(&fig), Err(FigureError::NoData { title: "forget accuracy vs k".into() }));
        assert!(matches!(render_png(&figure(Vec::new())), Err(FigureError::NoData { .. })));
        let mut fig = figure(vec![Panel { title: String::new(), series: vec![method("ft", &[(0.0, 1.0, None)])] }]);
        fig.width = 10;
        let err = render_png(&fig).unwrap_err();
        assert!(err.to_string().contains("10×800 pixels"), "{err}");
    }

    #[test]
    fn helpers_pad_and_format() {
        assert_eq!(padded(1.0, 1.0, 0.0), (0.95, 1.05));
        assert_eq!(padded(0.0, 0.0, 0.0), (-0.05, 0.05));
        let (lo, hi) = padded(0.0, 10.0, 0.1);
        assert!((lo + 1.0).abs() < 1e-12 && (hi - 11.0).abs() < 1e-12);
        assert_eq!(decimals(1.0), 1);
        assert_eq!(decimals(0.02), 3);
        assert_eq!(decimals(100.0), 0);
        assert_eq!(tick_text(25.0), "25");
        assert_eq!(tick_text(0.5), "0.50");
        assert!(bar(&Point { x: 0.0, mean: 1.0, std: Some(0.0) }).is_none());
    }
}
