//! SpamAssassin as a study dataset: natural near-duplicates recorded as lineage.
//!
//! The corpus (`cargo xtask data fetch --only spam-assassin`: 6,046 mails, 1,896 spam) holds many identical and
//! near-identical bodies. This module turns it into a dataset directory the image pipeline (`doppel train`,
//! `unlearn`, `eval`) reads unchanged:
//!
//! - [`mail`]: headers vs body, `Subject`, multipart, quoted-printable and base64 text parts, HTML stripped.
//! - [`SpamConfig`] ([`config`]): the checked TOML (`configs/spam-assassin.toml`, `…-without.toml`).
//! - [`build_spam`] ([`build`]): stratified split, vocabulary, binary bag-of-words "images", look-alike groups
//!   (doppel-mine's [`doppel_mine::Index`] + identical bodies, union–find), targets `with` or `without`
//!   look-alikes, lineage (look-alikes are variants of kind `exact_dup` / `near_dup`).
//! - [`write_spam`] ([`store`]): `train.parquet` / `test.parquet` in doppel-data's layout, `manifest.json` with a
//!   `natural` section, `vocab.tsv`, `messages.parquet`, `sheet.md`.

pub mod build;
pub mod config;
pub mod mail;
pub mod store;

pub use build::{
    BuiltSpam, GroupStats, Message, SPAM_FETCH, TargetStats, build_from_messages, build_spam, read_corpus,
};
pub use config::{LookalikeSpec, SpamConfig, SpamEmbedder, TargetGroup};
pub use mail::Mail;
pub use store::write_spam;
