//! doppel-report: the one owner of the study's report — its tables, `report.md`, `timing.md` and figures —
//! built from a `cargo xtask reproduce` run's cache alone.
//!
//! The flow, one module each:
//!
//! 1. [`found::read`] reads every step of the [`ReportPlan`] (`OUT/plan.json`) from `CACHE/<kind>/<key>/`: each
//!    command's `result.json` (doppel-protocol's types), never a printed table or a CSV file.
//! 2. [`found::summarise`] (and the LM and attack summaries) reduce the seeds with [`stats::mean_std_sample`].
//! 3. [`tables`] makes the study's tables as typed [`table::Table`]s: `tables/<name>.csv` and its Parquet twin
//!    come from the same cells.
//! 4. [`markdown`] writes `report.md` (headline, verdicts, one section per arm; [`lm`] the language arm's part) and
//!    `timing.md` (wall-time costs, which vary, so they stay out of `report.md` and `tables/`).
//! 5. [`figures`] draws the PNGs from the tables ([`figures::render`] with plotters) and lists them in
//!    `figures/index.md`.
//!
//! [`write_report`] runs all of it; `doppel report --plan … --cache … --out …` is its command line. The same
//! plan and artifacts give byte-identical files, whatever order the steps ran in.

pub mod error;
pub mod figures;
pub mod found;
pub mod lm;
pub mod markdown;
pub mod stats;
pub mod table;
pub mod tables;

use std::path::{Path, PathBuf};

use doppel_protocol::{ReportPlan, Settings};

pub use error::{ReportError, Result};
pub use stats::mean_std_sample;
pub use table::{Cell, Table};

/// What [`write_report`] wrote, relative to the output folder.
#[derive(Debug, Default)]
pub struct Written {
    /// Every file, in the order written.
    pub files: Vec<PathBuf>,
    /// Figures skipped for want of data, with the reason.
    pub skipped: Vec<(String, String)>,
}

/// Reads `plan` (the file at `path`), checking its format.
pub fn read_plan(path: &Path) -> Result<ReportPlan> {
    let bytes = std::fs::read(path).map_err(doppel_stdx::IoError::at("reading", path))?;
    let problem = |problem: String| ReportError::Plan { path: path.to_path_buf(), problem };
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| problem(format!("not JSON: {e}")))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(ReportPlan::FORMAT) => {}
        other => return Err(problem(format!("format is {other:?}, expected {:?}", ReportPlan::FORMAT))),
    }
    serde_json::from_value(value).map_err(|e| problem(format!("not a report plan: {e}")))
}

/// Builds the whole report of `plan` from the artifacts in `cache` into `out`: `report.md`, `timing.md`,
/// `tables/*.{csv,parquet}`, `figures/*.png` with `figures/index.md`, and `reconstructions/*.png`.
pub fn write_report(plan: &ReportPlan, cache: &Path, out: &Path) -> Result<Written> {
    let found = found::read(plan, cache, out)?;
    let mut written = Written::default();
    written.files.extend(found.grids.iter().map(|(_, _, n)| PathBuf::from("reconstructions").join(n)));
    let cells = found::summarise(&found.rows);
    let attack_cells = found::summarise_attacks(&found.attacks);
    let lm_cells = lm::summarise(&found.lm_rows);
    let preset = &plan.preset;
    let mut all = vec![
        tables::reference_models(&cells),
        tables::reference_models_per_seed(&found.rows),
        tables::datasets(preset, &found.counts),
        tables::evaluation(&found.evals, &found.costs),
    ];
    if !found.calibrations.is_empty() {
        all.push(tables::calibration(preset, &found.calibrations));
    }
    if !attack_cells.is_empty() {
        all.push(tables::reconstruction(preset, &attack_cells));
    }
    if !found.quality.is_empty() {
        all.push(tables::mining_quality(&found));
    }
    if !lm_cells.is_empty() {
        all.push(tables::lm(&lm_cells, &found.costs));
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    for t in &all {
        for (ext, bytes) in [("csv", t.csv().into_bytes()), ("parquet", t.parquet()?)] {
            let rel = PathBuf::from("tables").join(format!("{}.{ext}", t.name));
            doppel_stdx::write_atomic(&out.join(&rel), &bytes)?;
            written.files.push(rel);
        }
    }
    let summary = markdown::Summary {
        cells: &cells,
        counts: &found.counts,
        evals: &found.evals,
        costs: &found.costs,
        calibrations: &found.calibrations,
        attacks: &attack_cells,
        lm: &lm_cells,
        grids: &found.grids,
    };
    for (name, text) in [
        ("report.md", markdown::markdown(preset, &summary)),
        ("timing.md", markdown::timing_markdown(preset, &found.costs)),
    ] {
        doppel_stdx::write_atomic(&out.join(name), text.as_bytes())?;
        written.files.push(PathBuf::from(name));
    }

    let models: figures::Models = plan
        .steps
        .iter()
        .filter_map(|s| {
            let (model, u) = (s.model.as_ref()?, s.unlearn.as_ref()?);
            let method = if u.settings == Settings::Search { format!("{}+search", u.method) } else { u.method.clone() };
            Some((model.clone(), (method, u.scope.name().to_string())))
        })
        .collect();
    let figures_dir = out.join("figures");
    std::fs::create_dir_all(&figures_dir).map_err(doppel_stdx::IoError::at("creating", &figures_dir))?;
    let mut drawn = Vec::new();
    for (file, fig) in figures::figures(&all, &models) {
        match figures::render::render_png(&fig) {
            Ok(png) => {
                doppel_stdx::write_atomic(&figures_dir.join(&file), &png)?;
                written.files.push(PathBuf::from("figures").join(&file));
                drawn.push((file, fig));
            }
            Err(figures::render::FigureError::NoData { .. }) => {
                tracing::warn!(figure = %file, "no finite value to draw; skipping the figure");
                written.skipped.push((file, "no finite value to draw".into()));
            }
            Err(source) => return Err(ReportError::Figure { file, source }),
        }
    }
    doppel_stdx::write_atomic(&figures_dir.join("index.md"), figures::index_markdown(&drawn).as_bytes())?;
    written.files.push(PathBuf::from("figures/index.md"));
    figures::remove_stale(&figures_dir, &drawn)?;
    Ok(written)
}
