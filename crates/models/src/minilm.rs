//! The MiniLM text embedder: all-MiniLM-L6-v2 (a 6-layer BERT, hidden 384) in burn, loaded from the fetched
//! sentence-transformers files, with mean pooling over real tokens and L2 normalisation.
//!
//! - [`BertConfig`] is the model's `config.json`; [`BertConfig::init`] builds a zeroed [`Bert`] and
//!   [`Bert::load`] fills it from `model.safetensors` through burn-store, after checking every tensor's name, type
//!   and shape against the config (an error names the tensor). `embeddings.position_ids` (I64) and the unused
//!   `pooler.*` are skipped.
//! - [`Bert`] is the post-norm encoder of Devlin et al. (2019) as Hugging Face's `BertModel` runs it: word +
//!   position + token-type embeddings (token type always 0), LayerNorm (eps from the config, 1e-12), then per layer
//!   self-attention with a padding mask, residual + LayerNorm, a GELU (erf) feed-forward, residual + LayerNorm.
//! - [`MiniLm`] joins it to the [`WordPiece`] tokenizer: [`MiniLm::embed`] tokenises, sorts the texts by length,
//!   pads each batch to its longest text, masks the padding in attention and in pooling, mean-pools, and
//!   L2-normalises, returning one `[f32; 384]` per text in input order.
//!
//! The files come from `cargo xtask data fetch --only minilm` (`data/minilm/`, see `DATA.md`).

use std::io::Read;
use std::path::{Path, PathBuf};

use burn::nn::{Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::activation::{gelu, softmax};

use crate::error::{ModelError, Result};
use crate::wordpiece::WordPiece;

/// The size of a MiniLM sentence embedding.
pub const MINILM_DIM: usize = 384;

/// The command that fetches the MiniLM files into `data/minilm/`.
pub const MINILM_FETCH: &str = "cargo xtask data fetch --only minilm";

/// The files [`MiniLm::load`] needs in the model folder.
const REQUIRED_FILES: [&str; 4] = ["config.json", "model.safetensors", "vocab.txt", "tokenizer.json"];

/// The additive attention bias on padded keys; `exp` of it underflows to exactly 0, so padding gets no weight.
const MASKED: f32 = -1e9;

/// A Hugging Face BERT `config.json` (the fields this encoder uses; the others are ignored).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct BertConfig {
    /// Rows of the word-embedding table.
    pub vocab_size: usize,
    /// Width of every hidden state.
    pub hidden_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer (must divide `hidden_size`).
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Rows of the position-embedding table (the longest input).
    pub max_position_embeddings: usize,
    /// Rows of the token-type table.
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// The activation; only `gelu` (the erf form) is supported.
    pub hidden_act: String,
}

impl BertConfig {
    /// Reads and checks `config.json`.
    pub fn read(path: &Path) -> Result<BertConfig> {
        let text = std::fs::read_to_string(path).map_err(ModelError::io("reading", path))?;
        let bad = |problem: String| ModelError::Pretrained { path: path.to_path_buf(), problem };
        let cfg: BertConfig =
            serde_json::from_str(&text).map_err(|e| bad(format!("is not a BERT config.json: {e}")))?;
        if cfg.hidden_act != "gelu" {
            return Err(bad(format!("has hidden_act {:?}; only \"gelu\" is supported", cfg.hidden_act)));
        }
        let sizes = [cfg.vocab_size, cfg.hidden_size, cfg.num_attention_heads, cfg.intermediate_size];
        if sizes.contains(&0) || cfg.max_position_embeddings < 2 || cfg.type_vocab_size == 0 {
            return Err(bad("has a size of 0".into()));
        }
        if !cfg.hidden_size.is_multiple_of(cfg.num_attention_heads) {
            return Err(bad(format!(
                "has hidden_size {} not divisible by num_attention_heads {}",
                cfg.hidden_size, cfg.num_attention_heads
            )));
        }
        Ok(cfg)
    }

    /// Builds the encoder with zero weights (no random draws: the weights are loaded next).
    pub fn init(&self, device: &Device) -> Bert {
        let linear = |i, o| LinearConfig::new(i, o).with_initializer(Initializer::Zeros).init(device);
        let embedding = |n, d| EmbeddingConfig::new(n, d).with_initializer(Initializer::Zeros).init(device);
        let norm = || LayerNormConfig::new(self.hidden_size).with_epsilon(self.layer_norm_eps).init(device);
        let (h, f) = (self.hidden_size, self.intermediate_size);
        Bert {
            embeddings: BertEmbeddings {
                word_embeddings: embedding(self.vocab_size, h),
                position_embeddings: embedding(self.max_position_embeddings, h),
                token_type_embeddings: embedding(self.type_vocab_size, h),
                norm: norm(),
            },
            layers: (0..self.num_hidden_layers)
                .map(|_| BertLayer {
                    query: linear(h, h),
                    key: linear(h, h),
                    value: linear(h, h),
                    attention_output: linear(h, h),
                    attention_norm: norm(),
                    intermediate: linear(h, f),
                    output: linear(f, h),
                    output_norm: norm(),
                    heads: self.num_attention_heads,
                })
                .collect(),
        }
    }

    /// Every tensor the encoder needs, with its Hugging Face name and PyTorch shape (`Linear` weights are
    /// `[out, in]`).
    pub fn expected_tensors(&self) -> Vec<(String, Vec<usize>)> {
        let (h, f) = (self.hidden_size, self.intermediate_size);
        let mut out = vec![
            ("embeddings.word_embeddings.weight".to_string(), vec![self.vocab_size, h]),
            ("embeddings.position_embeddings.weight".to_string(), vec![self.max_position_embeddings, h]),
            ("embeddings.token_type_embeddings.weight".to_string(), vec![self.type_vocab_size, h]),
            ("embeddings.LayerNorm.weight".to_string(), vec![h]),
            ("embeddings.LayerNorm.bias".to_string(), vec![h]),
        ];
        for l in 0..self.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            for (name, out_dim, in_dim) in [
                ("attention.self.query", h, h),
                ("attention.self.key", h, h),
                ("attention.self.value", h, h),
                ("attention.output.dense", h, h),
                ("intermediate.dense", f, h),
                ("output.dense", h, f),
            ] {
                out.push((format!("{p}.{name}.weight"), vec![out_dim, in_dim]));
                out.push((format!("{p}.{name}.bias"), vec![out_dim]));
            }
            for name in ["attention.output.LayerNorm", "output.LayerNorm"] {
                out.push((format!("{p}.{name}.weight"), vec![h]));
                out.push((format!("{p}.{name}.bias"), vec![h]));
            }
        }
        out
    }
}

/// Hugging Face BERT names → the fields of [`Bert`], applied in order to each name in the file.
/// `embeddings.{word,position,token_type}_embeddings.weight` keep their names.
const KEY_REMAPPING: [(&str, &str); 7] = [
    (r"^embeddings\.LayerNorm\.", "embeddings.norm."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.", "layers.${1}.${2}."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", "layers.${1}.attention_output."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", "layers.${1}.attention_norm."),
    (r"^encoder\.layer\.(\d+)\.intermediate\.dense\.", "layers.${1}.intermediate."),
    (r"^encoder\.layer\.(\d+)\.output\.dense\.", "layers.${1}.output."),
    (r"^encoder\.layer\.(\d+)\.output\.LayerNorm\.", "layers.${1}.output_norm."),
];

/// The embedding layer of BERT: word + position + token type, then LayerNorm.
#[derive(Module, Debug)]
pub struct BertEmbeddings {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    token_type_embeddings: Embedding,
    norm: LayerNorm,
}

/// One post-norm encoder layer: self-attention, residual, LayerNorm, GELU feed-forward, residual, LayerNorm.
#[derive(Module, Debug)]
pub struct BertLayer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
    heads: usize,
}

impl BertLayer {
    /// # Shapes
    /// - `x`: `[B, T, H]`
    /// - `bias`: `[B, 1, 1, T]`, 0 on real keys and [`MASKED`] on padding
    /// - returns `[B, T, H]`
    fn forward(&self, x: Tensor<3>, bias: Tensor<4>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let (h, dh) = (self.heads, d / self.heads);
        let split = |y: Tensor<3>| -> Tensor<4> { y.reshape([b, t, h, dh]).swap_dims(1, 2) };
        let q = split(self.query.forward(x.clone()));
        let k = split(self.key.forward(x.clone()));
        let v = split(self.value.forward(x.clone()));
        // [B, h, T, T]: every query against every key, scaled by 1/sqrt(head width), padding keys masked.
        let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(1.0 / (dh as f64).sqrt()) + bias;
        let context: Tensor<3> = softmax(scores, 3).matmul(v).swap_dims(1, 2).reshape([b, t, d]);
        let x = self.attention_norm.forward(self.attention_output.forward(context) + x);
        let ff = self.output.forward(gelu(self.intermediate.forward(x.clone())));
        self.output_norm.forward(ff + x)
    }
}

/// The BERT encoder (Devlin et al. 2019) in Hugging Face's post-norm form, without the pooler.
#[derive(Module, Debug)]
pub struct Bert {
    embeddings: BertEmbeddings,
    layers: Vec<BertLayer>,
}

impl Bert {
    /// Loads `weights` (Hugging Face `BertModel` safetensors) into a fresh encoder of `config` on `device`.
    ///
    /// The header is checked first: every tensor of [`BertConfig::expected_tensors`] must be there as F32 with
    /// its shape, or a [`ModelError::PretrainedTensor`] names it. Other tensors (`embeddings.position_ids`,
    /// `pooler.*`) are skipped.
    pub fn load(weights: &Path, config: &BertConfig, device: &Device) -> Result<Bert> {
        if !weights.exists() {
            return Err(ModelError::PretrainedMissing {
                path: weights.to_path_buf(),
                model: "all-MiniLM-L6-v2",
                fetch: MINILM_FETCH,
            });
        }
        check_header(weights, config)?;
        let mut bert = config.init(device);
        let mut store = SafetensorsStore::from_file(weights)
            .with_from_adapter(PyTorchToBurnAdapter)
            .validate(true)
            .allow_partial(false);
        for (from, to) in KEY_REMAPPING {
            store = store.with_key_remapping(from, to);
        }
        let result = bert
            .load_from(&mut store)
            .map_err(|e| ModelError::Pretrained { path: weights.to_path_buf(), problem: e.to_string() })?;
        if !result.errors.is_empty() || !result.missing.is_empty() {
            let mut problems: Vec<String> = result.errors.iter().map(ToString::to_string).collect();
            problems.extend(result.missing.iter().map(|(p, _)| format!("missing tensor {p}")));
            return Err(ModelError::Pretrained {
                path: weights.to_path_buf(),
                problem: format!("does not fit the BERT of config.json: {}", problems.join("; ")),
            });
        }
        tracing::debug!(applied = result.applied.len(), skipped = ?result.unused, "loaded BERT weights");
        Ok(bert)
    }

    /// The hidden width.
    pub fn hidden_size(&self) -> usize {
        self.embeddings.norm.gamma.val().dims()[0]
    }

    /// The longest input the position table allows.
    pub fn max_positions(&self) -> usize {
        self.embeddings.position_embeddings.weight.val().dims()[0]
    }

    /// The last hidden states.
    ///
    /// # Shapes
    /// - `tokens`: `[B, T]` token ids, padded after the real tokens with any valid id
    /// - `mask`: `[B, T]`, 1 for real tokens and 0 for padding (padding keys get no attention weight)
    /// - returns `[B, T, H]`; rows at padded positions are computed but meaningless
    pub fn forward(&self, tokens: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<3> {
        let [b, t] = tokens.dims();
        let device = tokens.device();
        let positions = Tensor::<1, Int>::arange(0..t as i64, &device).reshape([1, t]).repeat_dim(0, b);
        let types = Tensor::<2, Int>::zeros([b, t], &device);
        let e = &self.embeddings;
        let x = e.word_embeddings.forward(tokens)
            + e.position_embeddings.forward(positions)
            + e.token_type_embeddings.forward(types);
        let mut x = e.norm.forward(x);
        let bias: Tensor<4> = (mask.neg() + 1.0).mul_scalar(MASKED).reshape([b, 1, 1, t]);
        for layer in &self.layers {
            x = layer.forward(x, bias.clone());
        }
        x
    }

    /// Mean of the last hidden states over the real tokens (sentence-transformers' mean pooling).
    ///
    /// # Shapes
    /// - `tokens`, `mask`: as in [`Bert::forward`]; every row of `mask` needs at least one 1
    /// - returns `[B, H]`, not normalised
    pub fn mean_pooled(&self, tokens: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<2> {
        let [b, t] = mask.dims();
        let hidden = self.forward(tokens, mask.clone());
        let [_, _, d] = hidden.dims();
        let summed: Tensor<2> = (hidden * mask.clone().reshape([b, t, 1])).sum_dim(1).reshape([b, d]);
        summed / mask.sum_dim(1)
    }
}

/// Checks the safetensors header of `weights` against `config`: each expected tensor present, F32, of its shape.
fn check_header(weights: &Path, config: &BertConfig) -> Result<()> {
    let bad = |problem: String| ModelError::Pretrained { path: weights.to_path_buf(), problem };
    let mut file = std::fs::File::open(weights).map_err(ModelError::io("opening", weights))?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(ModelError::io("reading the header of", weights))?;
    let len = u64::from_le_bytes(len);
    // Real headers are tens of kilobytes; a huge value means the file is not safetensors.
    if len > 100 << 20 {
        return Err(bad(format!("is not a safetensors file (header length {len})")));
    }
    let mut header = vec![0u8; len as usize];
    file.read_exact(&mut header).map_err(ModelError::io("reading the header of", weights))?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|e| bad(format!("has an unreadable safetensors header: {e}")))?;
    for (name, shape) in config.expected_tensors() {
        let tensor_err = |problem: String| ModelError::PretrainedTensor {
            path: weights.to_path_buf(),
            tensor: name.clone(),
            problem,
        };
        let Some(entry) = header.get(&name) else {
            return Err(tensor_err(format!("is missing (expected F32 {shape:?})")));
        };
        let dtype = entry["dtype"].as_str().unwrap_or("?");
        if dtype != "F32" {
            return Err(tensor_err(format!("has dtype {dtype}; expected F32")));
        }
        let found: Option<Vec<usize>> = entry["shape"]
            .as_array()
            .map(|dims| dims.iter().map(|d| d.as_u64().map_or(usize::MAX, |d| d as usize)).collect());
        if found.as_ref() != Some(&shape) {
            return Err(tensor_err(format!("has shape {found:?}; config.json asks for {shape:?}")));
        }
    }
    Ok(())
}

/// all-MiniLM-L6-v2: the tokenizer, the encoder, mean pooling and L2 normalisation.
#[derive(Debug)]
pub struct MiniLm {
    bert: Bert,
    tokenizer: WordPiece,
    device: Device,
    batch_size: usize,
}

impl MiniLm {
    /// Texts per forward pass unless [`MiniLm::with_batch_size`] says otherwise.
    pub const DEFAULT_BATCH_SIZE: usize = 64;

    /// Loads the model folder `dir` (`config.json`, `model.safetensors`, `vocab.txt`, `tokenizer.json`, and
    /// optionally `sentence_bert_config.json`) onto `device`. A missing file is a
    /// [`ModelError::PretrainedMissing`] naming the fetch command.
    pub fn load(dir: &Path, device: &Device) -> Result<MiniLm> {
        for file in REQUIRED_FILES {
            let path = dir.join(file);
            if !path.exists() {
                return Err(ModelError::PretrainedMissing { path, model: "all-MiniLM-L6-v2", fetch: MINILM_FETCH });
            }
        }
        let config_path = dir.join("config.json");
        let config = BertConfig::read(&config_path)?;
        if config.hidden_size != MINILM_DIM {
            return Err(ModelError::Pretrained {
                path: config_path,
                problem: format!("has hidden_size {}; MiniLM embeddings are {MINILM_DIM}-d", config.hidden_size),
            });
        }
        let tokenizer = WordPiece::from_dir(dir)?;
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(ModelError::Pretrained {
                path: dir.join("vocab.txt"),
                problem: format!(
                    "has {} tokens but config.json's embedding table only {}",
                    tokenizer.vocab_size(),
                    config.vocab_size
                ),
            });
        }
        let max_len = tokenizer.max_len().min(config.max_position_embeddings);
        let tokenizer = tokenizer.with_max_len(max_len);
        let bert = Bert::load(&dir.join("model.safetensors"), &config, device)?;
        Ok(MiniLm { bert, tokenizer, device: device.clone(), batch_size: Self::DEFAULT_BATCH_SIZE })
    }

    /// The same model with another batch size (at least 1). Results agree across batch sizes within float
    /// rounding (about 1e-6).
    pub fn with_batch_size(mut self, batch_size: usize) -> MiniLm {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &WordPiece {
        &self.tokenizer
    }

    /// The encoder.
    pub fn bert(&self) -> &Bert {
        &self.bert
    }

    /// The device the model lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The unit-length embedding of each text, in input order.
    pub fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<[f32; MINILM_DIM]>> {
        let ids: Vec<Vec<u32>> = texts.iter().map(|t| self.tokenizer.encode(t.as_ref())).collect();
        self.embed_ids(&ids)
    }

    /// The unit-length embedding of each tokenised text (as [`WordPiece::encode`] gives), in input order.
    ///
    /// Texts are sorted by length so that each batch pads little; the order does not change the results beyond
    /// float rounding.
    pub fn embed_ids(&self, ids: &[Vec<u32>]) -> Result<Vec<[f32; MINILM_DIM]>> {
        let span = tracing::debug_span!("minilm_embed", texts = ids.len());
        let _guard = span.enter();
        let start = std::time::Instant::now();
        let max = self.bert.max_positions();
        for (i, seq) in ids.iter().enumerate() {
            if seq.is_empty() || seq.len() > max {
                return Err(ModelError::Config {
                    context: "minilm".into(),
                    field: format!("ids[{i}]"),
                    problem: format!("has {} tokens; it needs 1 to {max}", seq.len()),
                });
            }
        }
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let mut out = vec![[0f32; MINILM_DIM]; ids.len()];
        for chunk in order.chunks(self.batch_size) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            for (&i, row) in chunk.iter().zip(self.embed_batch(&batch)?) {
                out[i] = row;
            }
        }
        tracing::debug!(texts = ids.len(), seconds = start.elapsed().as_secs_f64(), "embedded");
        Ok(out)
    }

    /// One padded forward pass.
    fn embed_batch(&self, batch: &[&[u32]]) -> Result<Vec<[f32; MINILM_DIM]>> {
        let b = batch.len();
        let t = batch.iter().map(|s| s.len()).max().unwrap_or(1);
        let pad = i64::from(self.tokenizer.pad_id());
        let mut tokens = vec![pad; b * t];
        let mut mask = vec![0f32; b * t];
        for (r, seq) in batch.iter().enumerate() {
            for (c, &id) in seq.iter().enumerate() {
                tokens[r * t + c] = i64::from(id);
                mask[r * t + c] = 1.0;
            }
        }
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(tokens, [b, t]), &self.device);
        let mask = Tensor::<2>::from_data(TensorData::new(mask, [b, t]), &self.device);
        let pooled = self.bert.mean_pooled(tokens, mask);
        let values: Vec<f32> =
            pooled.into_data().try_to_vec::<f32>().map_err(|e| ModelError::TensorData(format!("{e:?}")))?;
        Ok(values
            .chunks_exact(MINILM_DIM)
            .map(|row| {
                let norm = row.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt().max(1e-12);
                std::array::from_fn(|j| (f64::from(row[j]) / norm) as f32)
            })
            .collect())
    }
}

/// The default MiniLM folder under a doppel data directory: `<data>/minilm`.
pub fn minilm_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("minilm")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_config() -> BertConfig {
        BertConfig {
            vocab_size: 10,
            hidden_size: 8,
            num_hidden_layers: 2,
            num_attention_heads: 2,
            intermediate_size: 16,
            max_position_embeddings: 6,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_act: "gelu".into(),
        }
    }

    #[test]
    fn expected_tensors_cover_the_module() {
        let cfg = tiny_config();
        // 5 embedding tensors, 16 per layer; the Hugging Face file has position_ids and the pooler on top.
        assert_eq!(cfg.expected_tensors().len(), 5 + 16 * cfg.num_hidden_layers);
        let bert = cfg.init(&Device::flex());
        let params: usize = cfg.expected_tensors().iter().map(|(_, s)| s.iter().product::<usize>()).sum();
        assert_eq!(bert.num_params(), params);
    }

    #[test]
    fn a_missing_weights_file_names_the_fetch_command() {
        let dir = tempfile::tempdir().unwrap();
        let err = Bert::load(&dir.path().join("model.safetensors"), &tiny_config(), &Device::flex()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("model.safetensors does not exist"), "{msg}");
        assert!(msg.contains(MINILM_FETCH), "{msg}");
    }

    #[test]
    fn a_tensor_of_the_wrong_shape_is_named() {
        // A header-only safetensors file is enough: the check runs before any data is read.
        let cfg = tiny_config();
        let mut entries = serde_json::Map::new();
        let mut offset = 0usize;
        for (name, mut shape) in cfg.expected_tensors() {
            if name == "encoder.layer.1.intermediate.dense.weight" {
                shape = vec![3, 3];
            }
            let bytes = shape.iter().product::<usize>() * 4;
            entries.insert(
                name,
                serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + bytes]}),
            );
            offset += bytes;
        }
        let header = serde_json::Value::Object(entries).to_string();
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend(header.as_bytes());
        file.extend(vec![0u8; offset]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        std::fs::write(&path, file).unwrap();
        let err = Bert::load(&path, &cfg, &Device::flex()).unwrap_err();
        match &err {
            ModelError::PretrainedTensor { tensor, .. } => {
                assert_eq!(tensor, "encoder.layer.1.intermediate.dense.weight");
            }
            other => panic!("unexpected error {other}"),
        }
        assert!(err.to_string().ends_with("has shape Some([3, 3]); config.json asks for [16, 8]"), "{err}");
    }
}
