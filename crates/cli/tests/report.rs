//! `doppel report` end to end on small tables written here: the Parquet twins read back with the CSVs' rows,
//! columns and values; the figures are PNGs of the stated size with something drawn; missing columns and
//! non-finite values skip a figure without failing; bad input is a one-line error naming the file.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly; a panic is the test failing.

use std::path::Path;
use std::process::Output;

use polars::prelude::{AnyValue, DataFrame, DataType, ParquetReader, SerReader};

mod common;
use common::{doppel, failing};

fn ok(out: &Output) -> (String, String) {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A two-dataset evaluation table in the shape `cargo xtask reproduce` writes: d1 has methods under two scopes at
/// two k, d2 only the reference models; one method has one seed (no std).
const EVALUATION: &str = "\
dataset,k,model,seeds,f_acc_mean,f_acc_std,test_acc_mean,test_acc_std,mia_auc_mean,mia_auc_std,diverged
d1,0,m0,3,1.00000,0.00000,0.98,0.001,0.55,0.01,
d1,0,retrain_exact,3,0.90000,0.02000,0.98,0.002,0.50,0.01,
d1,0,retrain_clean,3,0.90000,0.02000,0.98,0.002,0.50,0.01,
d1,0,ft-exact,3,0.95000,0.03000,0.97,0.003,0.52,0.02,0
d1,0,ft-lineage,3,0.93000,0.01000,0.97,0.003,0.51,0.02,0
d1,0,ga-exact,3,0.80000,0.05000,0.95,0.010,0.45,0.03,1
d1,10,m0,3,1.00000,0.00000,0.98,0.001,0.65,0.01,
d1,10,retrain_exact,3,1.00000,0.00000,0.98,0.001,0.64,0.01,
d1,10,retrain_clean,3,0.90000,0.02000,0.98,0.002,0.50,0.01,
d1,10,ft-exact,3,1.00000,0.00000,0.97,0.002,0.60,0.02,0
d1,10,ft-lineage,1,0.85000,,0.96,,0.48,,0
d2,0,m0,3,0.80000,0.05000,0.85,0.01,0.49,0.01,
d2,0,retrain_exact,3,0.78000,0.02000,0.85,0.01,0.48,0.01,
d2,0,retrain_clean,3,0.78000,0.02000,0.85,0.01,0.48,0.01,
d2,50,m0,3,1.00000,0.00000,0.86,0.01,0.63,0.01,
d2,50,retrain_exact,3,1.00000,0.00000,0.86,0.01,0.63,0.01,
d2,50,retrain_clean,3,0.78000,0.02000,0.85,0.01,0.48,0.01,
";

const RECONSTRUCTION: &str = "\
dataset,k,model,attack,seeds,best_ssim_mean,best_ssim_std,class_mean_ssim_mean,class_mean_ssim_std,nearest_ssim_mean,nearest_ssim_std
d1,0,m0,kkt,3,0.28,0.02,0.31,0.0,0.55,0.0
d1,0,retrain_exact,kkt,3,0.27,0.01,0.31,0.0,0.55,0.0
d1,0,retrain_clean,kkt,3,0.27,0.01,0.31,0.0,0.55,0.0
d1,10,m0,kkt,3,0.41,0.02,0.31,0.0,0.55,0.0
d1,10,retrain_exact,kkt,3,0.41,0.01,0.31,0.0,0.55,0.0
d1,10,retrain_clean,kkt,3,0.27,0.01,0.31,0.0,0.55,0.0
d1,10,ft-exact,kkt,1,0.40,,0.31,,0.55,
";

/// A mining-quality table: a sweep of three thresholds at k = 10, one operating point at k = 20, a top-k row
/// (left out of the curve) and a row without values.
const MINING: &str = "\
dataset,k,rule,value,precision,recall
d1,10,threshold,0.25,1.0,0.2
d1,10,threshold,0.5,0.9,0.6
d1,10,threshold,0.75,0.5,0.9
d1,10,top_k,10,0.7,0.7
d1,20,threshold,0.75,0.6,0.8
d1,30,threshold,0.75,,
";

/// A table with a column that is always empty and a text column of numbers and words.
const DATASETS: &str = "\
dataset,k,data_seed,base,note
d1,0,,100,\"plain, quoted\"
d1,10,,100,7
";

/// The language arm's table: reference LMs and two methods under the exact and lineage scopes at k = 0 and 50.
const LM: &str = "\
dataset,k,model,seeds,answer_nll_forget_mean,answer_nll_forget_std,rouge_l_forget_mean,rouge_l_forget_std,diverged
qa,0,m0,1,0.2,,0.97,,
qa,0,retrain_exact,1,6.0,,0.11,,
qa,0,retrain_clean,1,6.0,,0.11,,
qa,0,ga-exact,1,30.0,,0.01,,0
qa,50,m0,1,0.15,,0.97,,
qa,50,retrain_exact,1,0.2,,0.95,,
qa,50,retrain_clean,1,6.0,,0.11,,
qa,50,ga-exact,1,2.5,,0.38,,0
qa,50,ga-lineage,1,34.0,,0.01,,0
qa,50,npo-lineage,1,7.2,,0.18,,0
";

fn write_tables(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, text) in [
        ("evaluation.csv", EVALUATION),
        ("reconstruction.csv", RECONSTRUCTION),
        ("mining_quality.csv", MINING),
        ("datasets.csv", DATASETS),
        ("lm.csv", LM),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap()).finish().unwrap()
}

/// Decodes a PNG and checks its size and that it is not one flat colour.
fn check_png(path: &Path, width: u32, height: u32) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8();
    assert_eq!(img.dimensions(), (width, height), "{}", path.display());
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 20, "{}: only {} colours", path.display(), colours.len());
}

/// A CSV cell as the Parquet twin should hold it.
fn same(cell: &str, v: &AnyValue) -> bool {
    match v {
        AnyValue::Null => cell.trim().is_empty(),
        AnyValue::Int64(x) => cell.trim().parse::<i64>() == Ok(*x),
        AnyValue::Float64(x) => cell.trim().parse::<f64>() == Ok(*x),
        AnyValue::String(s) => cell == *s,
        other => panic!("unexpected value {other:?}"),
    }
}

#[test]
fn parquet_twins_hold_the_csv_rows_columns_and_values() {
    let dir = tempfile::tempdir().unwrap();
    write_tables(&dir.path().join("tables"));
    let (stdout, _) = ok(&doppel(&["report", "--tables", "tables", "--out", "out"], dir.path()));
    for (name, text) in [("evaluation", EVALUATION), ("reconstruction", RECONSTRUCTION), ("mining_quality", MINING)] {
        let df = read_parquet(&dir.path().join(format!("out/tables/{name}.parquet")));
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
        assert_eq!(names, header, "{name}");
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(df.height(), rows.len(), "{name}");
        for (c, col) in df.columns().iter().enumerate() {
            for (r, row) in rows.iter().enumerate() {
                let v = col.get(r).unwrap();
                assert!(same(row[c], &v), "{name} row {r} column {}: {:?} vs {v:?}", header[c], row[c]);
            }
        }
        assert!(stdout.contains(&format!("{name}.parquet ({} rows × {} columns)", rows.len(), header.len())));
    }
    let eval = read_parquet(&dir.path().join("out/tables/evaluation.parquet"));
    let dtype = |df: &DataFrame, c: &str| df.column(c).unwrap().dtype().clone();
    assert_eq!(dtype(&eval, "dataset"), DataType::String);
    assert_eq!(dtype(&eval, "k"), DataType::Int64);
    assert_eq!(dtype(&eval, "f_acc_mean"), DataType::Float64);
    assert_eq!(dtype(&eval, "diverged"), DataType::Int64, "integers with empty cells stay integers");
    assert_eq!(eval.column("diverged").unwrap().null_count(), 12);
    let ds = read_parquet(&dir.path().join("out/tables/datasets.parquet"));
    assert_eq!(dtype(&ds, "data_seed"), DataType::Float64, "a column with no value is a null f64");
    assert_eq!(ds.column("data_seed").unwrap().null_count(), 2);
    assert_eq!(dtype(&ds, "note"), DataType::String, "a quoted cell with a comma is text");
    assert_eq!(ds.column("note").unwrap().get(0).unwrap(), AnyValue::String("plain, quoted"));
}

#[test]
fn figures_are_pngs_of_their_size_listed_in_the_index() {
    let dir = tempfile::tempdir().unwrap();
    write_tables(&dir.path().join("tables"));
    std::fs::create_dir_all(dir.path().join("out/figures")).unwrap();
    std::fs::write(dir.path().join("out/figures/stale.png"), b"not drawn by this run").unwrap();
    let (stdout, _) = ok(&doppel(&["report", "--tables", "tables", "--out", "out"], dir.path()));
    let figures = dir.path().join("out/figures");
    // d1 has two scopes: two panels, 1500 pixels wide; d2 only references: one panel.
    for (file, w) in [
        ("forget_acc_vs_k-d1.png", 1500),
        ("test_acc_vs_k-d1.png", 1500),
        ("mia_auc_vs_k-d1.png", 1500),
        ("forget_acc_vs_k-d2.png", 1200),
        ("mia_auc_vs_k-d2.png", 1200),
        ("recon_ssim_vs_k-kkt-d1.png", 1200),
        ("mining_pr-mining_quality-d1.png", 1200),
        // The language arm: exact and lineage panels.
        ("lm_rouge_l_vs_k-qa.png", 1500),
        ("lm_answer_nll_vs_k-qa.png", 1500),
    ] {
        check_png(&figures.join(file), w, 800);
        assert!(stdout.contains(file), "{file} not reported: {stdout}");
    }
    assert!(!figures.join("stale.png").exists(), "a PNG this run did not draw is removed");
    let index = std::fs::read_to_string(figures.join("index.md")).unwrap();
    assert_eq!(index.matches("](").count(), 10, "{index}");
    assert!(index.contains("![qa: ROUGE-L of the answers to the targets vs k](lm_rouge_l_vs_k-qa.png)"), "{index}");
    assert!(index.contains("![d1: forget accuracy vs k](forget_acc_vs_k-d1.png)"), "{index}");
    assert!(index.contains("Runs diverged for: ga-exact"), "{index}");
    assert!(index.contains("No unlearning method ran on this dataset"), "{index}");
    assert!(
        index.contains("Only one operating point was measured for k = 20 (threshold 0.75), so it is drawn as a point"),
        "{index}"
    );
    // The same tables give the same bytes.
    let before: Vec<Vec<u8>> = ["figures/forget_acc_vs_k-d1.png", "tables/evaluation.parquet", "figures/index.md"]
        .iter()
        .map(|f| std::fs::read(dir.path().join("out").join(f)).unwrap())
        .collect();
    ok(&doppel(&["report", "--tables", "tables", "--out", "out"], dir.path()));
    for (f, b) in ["figures/forget_acc_vs_k-d1.png", "tables/evaluation.parquet", "figures/index.md"].iter().zip(before)
    {
        assert_eq!(std::fs::read(dir.path().join("out").join(f)).unwrap(), b, "{f} changed on a rerun");
    }
    let leftovers: Vec<String> = std::fs::read_dir(&figures)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn missing_columns_and_missing_values_skip_figures_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let tables = dir.path().join("tables");
    std::fs::create_dir_all(&tables).unwrap();
    // No mia_auc or test_acc columns; forget accuracy NaN or empty in most rows, and no finite value at all for d2.
    std::fs::write(
        tables.join("evaluation.csv"),
        "dataset,k,model,f_acc_mean,f_acc_std\n\
         d1,0,m0,1.0,NaN\n\
         d1,0,ft-exact,NaN,0.1\n\
         d1,10,m0,,\n\
         d1,10,ft-exact,0.9,inf\n\
         d2,0,m0,NaN,\n",
    )
    .unwrap();
    // A reconstruction table without its SSIM column.
    std::fs::write(tables.join("reconstruction.csv"), "dataset,k,model,attack\nd1,0,m0,kkt\n").unwrap();
    let (stdout, stderr) = ok(&doppel(&["report", "--tables", "tables", "--out", "out"], dir.path()));
    let figures = dir.path().join("out/figures");
    check_png(&figures.join("forget_acc_vs_k-d1.png"), 1200, 800);
    assert!(!figures.join("forget_acc_vs_k-d2.png").exists(), "no finite value: no figure");
    assert!(!figures.join("mia_auc_vs_k-d1.png").exists());
    assert!(!stdout.contains("recon_ssim"), "{stdout}");
    for warning in [
        "column=mia_auc_mean",
        "column=test_acc_mean",
        "figure=forget_acc_vs_k-d2.png",
        "best_ssim_mean",
        "no table with `precision` and `recall` columns",
    ] {
        assert!(stderr.contains(warning), "no warning {warning:?} in {stderr}");
    }
    assert!(stderr.contains("WARN"), "{stderr}");
}

#[test]
fn bad_input_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = failing(&doppel(&["report", "--tables", "nowhere", "--out", "out"], dir.path()));
    assert!(err.contains("--tables nowhere is not a folder"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    let err = failing(&doppel(&["report", "--tables", "empty", "--out", "out"], dir.path()));
    assert!(err.contains("empty holds no .csv table"), "{err}");

    let tables = dir.path().join("tables");
    std::fs::create_dir_all(&tables).unwrap();
    std::fs::write(tables.join("evaluation.csv"), "dataset,k,k\nd1,0,1\n").unwrap();
    let err = failing(&doppel(&["report", "--tables", "tables", "--out", "out"], dir.path()));
    assert!(err.contains("evaluation.csv is not a table") && err.contains("names column \"k\" twice"), "{err}");

    std::fs::write(tables.join("evaluation.csv"), "d1,0,0.5\nd1,10,0.6\n").unwrap();
    let err = failing(&doppel(&["report", "--tables", "tables", "--out", "out"], dir.path()));
    assert!(err.contains("evaluation.csv") && err.contains("not data"), "{err}");

    std::fs::write(tables.join("evaluation.csv"), "dataset,k,model\nd1,0\n").unwrap();
    let err = failing(&doppel(&["report", "--tables", "tables", "--out", "out"], dir.path()));
    assert!(err.contains("evaluation.csv") && err.contains("line 2 has 2 cells for the header's 3 columns"), "{err}");
    assert!(!dir.path().join("out/tables/evaluation.parquet").exists(), "nothing is written from a bad table");
}
