//! doppel-text: the data of the language arm — question–answer pairs from WordNet glosses, their paraphrases, and
//! the lineage that says which paraphrase came from which target.
//!
//! The principal types, in the order data flows through them:
//!
//! - [`WordNet`] ([`wordnet`]): the four data and index files of WordNet 3.0, read into [`wordnet::Synset`]s
//!   (lemmas, lexical class, definition, examples) and per-lemma sense lists.
//! - [`QaPair`] ([`qa`]): `What is a <lemma>?` → the definition, one per usable synset, with synset id, part of
//!   speech and lexical class; the question templates live here too.
//! - [`paraphrase::candidates`]: the paraphrase candidates of a target (templates, WordNet synonyms in question
//!   and answer, safe clause reordering), each with its kind and parameters.
//! - [`QaConfig`] ([`config`]): a checked TOML config (`configs/qa-wordnet.toml`).
//! - [`build_qa`] ([`build`]): picks the train and test pools and the `T` targets (seeded), scores candidates
//!   with an injected [`doppel_mine::Embedder`] (MiniLM in the study, [`BagOfWords`] in tests) and keeps up to `k`
//!   per target above the cosine threshold, recording lineage as the image arm does
//!   ([`doppel_data::lineage::Origin`]). The result is a [`BuiltQa`].
//! - [`store::write`] writes a dataset directory (`samples.parquet`, `manifest.json`, `sheet.md`) atomically;
//!   [`store::open`] reads it back after checking every file's sha256.
//!
//! This is its own crate, not part of doppel-data (where the issue first placed it), so image-only users do not
//! compile it and so work on the language arm does not rebuild the image crates. It takes seeds, hashes, splits and
//! lineage types from doppel-data and the `Embedder` trait from doppel-mine.
//!
//! `doppel data build-qa --config configs/qa-wordnet.toml --out OUT` builds a dataset directory with MiniLM
//! (`--embedder bag-of-words` for the model-free scorer).
//!
//! [`spam`] turns the SpamAssassin corpus into an image-format dataset directory (binary bag-of-words rows) whose
//! lineage records natural look-alikes: `doppel data build-spam --config configs/spam-assassin.toml --out OUT`.
//!
//! Errors are one [`TextError`] enum whose messages name the file (and line) or config key at fault.

pub mod bow;
pub mod build;
pub mod config;
pub mod error;
pub mod paraphrase;
pub mod qa;
pub mod spam;
pub mod store;
pub mod wordnet;

pub use bow::BagOfWords;
pub use build::{BuiltQa, QaSample, Scored, Seeds, build_qa};
pub use config::{AnswerMode, QaConfig};
pub use error::{Result, TextError};
pub use qa::QaPair;
pub use store::{Manifest, QaDir, open, write};
pub use wordnet::{Pos, WordNet};
