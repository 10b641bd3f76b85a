//! Loaders on the fetched datasets, checked against their published class counts.
//!
//! These need `cargo xtask data fetch`. When a dataset is absent the test prints how to fetch it and passes,
//! unless `DOPPEL_REQUIRE_DATA=1` (set by `.ci/run`, which fetches first), in which case absence is a failure.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly; a panic is the test failing.

use std::path::PathBuf;

use doppel_data::readers::{SourceName, load_source};

fn data_dir() -> PathBuf {
    std::env::var_os("DOPPEL_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../../data"))
}

/// The splits of `name`, or `None` (with a message) when it was not fetched and data is not required.
fn load(name: SourceName) -> Option<doppel_data::Splits> {
    let dir = data_dir();
    if !dir.join(name.dir_name()).join(".fetched.json").exists() {
        let msg = format!(
            "{} not fetched in {}; run `cargo xtask data fetch --only {}`",
            name.dir_name(),
            dir.display(),
            name.dir_name()
        );
        assert!(std::env::var("DOPPEL_REQUIRE_DATA").as_deref() != Ok("1"), "{msg}");
        eprintln!("skipped: {msg}");
        return None;
    }
    Some(load_source(name, &dir).expect("fetched data loads"))
}

#[test]
fn mnist_has_the_official_counts() {
    let Some(s) = load(SourceName::Mnist) else { return };
    assert_eq!((s.train.len(), s.test.len()), (60_000, 10_000));
    // Official MNIST class counts (LeCun et al.; DATA.md lists the test counts).
    assert_eq!(s.train.class_counts(), vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    assert_eq!(s.test.class_counts(), vec![980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    assert_eq!(s.train.shape(), doppel_data::ImageShape::grey(28, 28));
    // Real digits: mostly black background, some full-intensity strokes.
    let zeros = s.train.pixels().iter().filter(|&&p| p == 0).count() as f64 / s.train.pixels().len() as f64;
    assert!((0.75..0.85).contains(&zeros), "fraction of zero pixels {zeros}");
    assert_eq!(s.train.pixels().iter().max(), Some(&255));
}

#[test]
fn fashion_mnist_is_balanced() {
    let Some(s) = load(SourceName::FashionMnist) else { return };
    assert_eq!(s.train.class_counts(), vec![6000; 10]);
    assert_eq!(s.test.class_counts(), vec![1000; 10]);
    assert_eq!(s.train.class_names()[9], "Ankle boot");
}

#[test]
fn cifar10_is_balanced_and_in_official_order() {
    let Some(s) = load(SourceName::Cifar10) else { return };
    assert_eq!(s.train.class_counts(), vec![5000; 10]);
    assert_eq!(s.test.class_counts(), vec![1000; 10]);
    assert_eq!(s.train.class_names(), doppel_data::readers::cifar::CLASSES.map(String::from).as_slice());
    assert_eq!(s.train.shape(), doppel_data::ImageShape::rgb(32, 32));
    // Mean pixel of CIFAR-10 train is about (125, 123, 114) per channel (widely quoted 0.491, 0.482, 0.447).
    let n = s.train.len();
    for (c, want) in [125.3, 123.0, 113.9].into_iter().enumerate() {
        let sum: u64 =
            (0..n).map(|i| s.train.image(i)[c * 1024..(c + 1) * 1024].iter().map(|&p| u64::from(p)).sum::<u64>()).sum();
        let mean = sum as f64 / (n * 1024) as f64;
        assert!((mean - want).abs() < 1.5, "channel {c} mean {mean}, expected about {want}");
    }
}

#[test]
fn digits_has_sklearn_counts() {
    let Some(s) = load(SourceName::Digits) else { return };
    let mut counts = s.train.class_counts();
    for (c, t) in counts.iter_mut().zip(s.test.class_counts()) {
        *c += t;
    }
    // sklearn.datasets.load_digits(): np.bincount(y)
    assert_eq!(counts, vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    assert_eq!(s.train.len() + s.test.len(), 1797);
}
