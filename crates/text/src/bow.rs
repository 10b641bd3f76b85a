//! [`BagOfWords`]: a fast text embedder with no model, for tests and smoke runs.
//!
//! Each lowercase alphanumeric word is hashed (FNV-1a, 64 bit) into one of `dim` buckets; a text's row is its
//! bucket counts. The cosine of two rows is then the bag-of-words cosine of the texts (up to hash collisions), so
//! a paraphrase that changes more words scores lower — the behaviour MiniLM has on these templates, without the
//! model download.

use doppel_mine::{Embedder, Matrix, MineError, Samples};

/// Hashed bag-of-words counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BagOfWords {
    dim: usize,
}

impl BagOfWords {
    /// An embedder with `dim` buckets (at least 1).
    pub fn new(dim: usize) -> Self {
        BagOfWords { dim: dim.max(1) }
    }

    fn bucket(&self, word: &str) -> usize {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in word.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        (h % self.dim as u64) as usize
    }
}

impl Embedder for BagOfWords {
    fn name(&self) -> &str {
        "bow"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::json!({ "dim": self.dim, "hash": "fnv1a64" })
    }

    fn dim(&self) -> Option<usize> {
        Some(self.dim)
    }

    fn embed(&self, samples: Samples<'_>) -> doppel_mine::Result<Matrix> {
        let Samples::Texts(texts) = samples else {
            return Err(MineError::UnsupportedInput { embedder: "bow".into(), input: samples.kind(), reads: "texts" });
        };
        let mut data = vec![0.0f32; texts.len() * self.dim];
        for (i, text) in texts.iter().enumerate() {
            let lower = text.to_lowercase();
            for word in lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
                data[i * self.dim + self.bucket(word)] += 1.0;
            }
        }
        Matrix::new(texts.len(), self.dim, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::cosine;

    #[test]
    fn cosine_falls_as_words_change() {
        let e = BagOfWords::new(4096);
        let texts: Vec<String> =
            ["What is a dog? a domestic canine", "Define dog. a domestic canine", "What is a dog? a domestic canine"]
                .map(String::from)
                .to_vec();
        let m = e.embed(Samples::Texts(&texts)).unwrap();
        assert!((cosine(m.row(0), m.row(2)) - 1.0).abs() < 1e-12);
        let c = cosine(m.row(0), m.row(1));
        assert!(c > 0.5 && c < 0.9, "{c}");
    }
}
