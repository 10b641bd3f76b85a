//! sha256 as lowercase hex: of a buffer, and of a file streamed in 1 MiB chunks.

use std::io::Read as _;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::fs::IoError;

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex sha256 of the file at `path`.
pub fn sha256_file(path: &Path) -> Result<String, IoError> {
    sha256_file_len(path).map(|(sha, _)| sha)
}

/// Lowercase hex sha256 of the file at `path` and the number of bytes hashed.
pub fn sha256_file_len(path: &Path) -> Result<(String, u64), IoError> {
    let mut file = std::fs::File::open(path).map_err(IoError::at("opening", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(IoError::at("reading", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((hex(&hasher.finalize()), len))
}

/// Lowercase hex digits of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // printf 'abc' | sha256sum
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn known_digests() {
        assert_eq!(sha256_hex(b"abc"), ABC);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(sha256_file_len(&p).unwrap(), (ABC.to_string(), 3));
        let e = sha256_file(&dir.path().join("nope")).unwrap_err();
        assert_eq!(e.action, "opening");
    }
}
