"""The reference side of `cargo xtask bench mine`: faiss HNSW and sentence-transformers MiniLM.

Two modes, each printing one JSON line on stdout (progress goes to stderr):

- `index`: reads the vectors doppel indexed (`vectors.f32`, row-major float32, unit-normalised when doppel's
  metric is cosine, so faiss's L2 ranks them exactly as doppel's 1 - cos does) and doppel's query rows
  (`queries.json`); builds `faiss.IndexHNSWFlat` with the same M, efConstruction and efSearch; times the build
  and the search of the same query rows; and prints the neighbour rows it found. Exact search with
  `faiss.IndexFlatL2` (BLAS) is timed as well, for information. The xtask counts recall for both sides against
  doppel's exact neighbours.
- `minilm`: embeds the lines of a text file with `SentenceTransformer(model_dir)` (the same all-MiniLM-L6-v2
  files doppel loads: the pip package's `modules.json` gives mean pooling), normalised, after one warm-up batch,
  and writes the embeddings as float32 so the xtask can compare them with doppel's.

Threads: `torch.set_num_threads` and `faiss.omp_set_num_threads`, both set to `--threads`.
"""

import argparse
import json
import os
import sys
import time


def index_mode(a):
    import numpy as np
    import faiss

    faiss.omp_set_num_threads(a.threads)
    with open(a.queries) as f:
        q = json.load(f)
    x = np.fromfile(a.vectors, dtype="<f4")
    if x.size != a.rows * a.dim:
        sys.exit(f"{a.vectors} holds {x.size} floats, not rows {a.rows} x dim {a.dim}")
    x = np.ascontiguousarray(x.reshape(a.rows, a.dim))
    rows = np.asarray(q["rows"], dtype=np.int64)
    k = int(q["k"])
    queries = np.ascontiguousarray(x[rows])

    index = faiss.IndexHNSWFlat(a.dim, a.m)
    index.hnsw.efConstruction = a.ef_construction
    t = time.perf_counter()
    index.add(x)
    build_s = time.perf_counter() - t
    print(f"faiss: HNSW built over {a.rows} rows in {build_s:.2f} s", file=sys.stderr)
    index.hnsw.efSearch = max(a.ef_search, k)
    t = time.perf_counter()
    _, found = index.search(queries, k)
    query_s = time.perf_counter() - t

    flat = faiss.IndexFlatL2(a.dim)
    flat.add(x)
    t = time.perf_counter()
    flat.search(queries, k)
    exact_s = time.perf_counter() - t

    print(json.dumps({
        "faiss": faiss.__version__,
        "numpy": np.__version__,
        "build_s": build_s,
        "query_s": query_s,
        "exact_query_s": exact_s,
        "rows": found.tolist(),
    }))


def minilm_mode(a):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import numpy as np
    import torch
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(a.threads)
    with open(a.sentences, encoding="utf-8") as f:
        sentences = [line.strip() for line in f if line.strip()]
    model = SentenceTransformer(a.model_dir, device="cpu")
    model.encode(sentences[: a.batch_size], batch_size=a.batch_size, normalize_embeddings=True)
    t = time.perf_counter()
    emb = model.encode(sentences, batch_size=a.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    seconds = time.perf_counter() - t
    np.ascontiguousarray(emb, dtype="<f4").tofile(a.out)
    print(json.dumps({
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "sentences": len(sentences),
        "batch_size": a.batch_size,
        "max_seq_length": model.max_seq_length,
        "seconds": seconds,
        "sentences_per_s": len(sentences) / seconds,
    }))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    i = sub.add_parser("index")
    i.add_argument("--vectors", required=True)
    i.add_argument("--queries", required=True)
    i.add_argument("--rows", type=int, required=True)
    i.add_argument("--dim", type=int, required=True)
    i.add_argument("--m", type=int, required=True)
    i.add_argument("--ef-construction", type=int, required=True)
    i.add_argument("--ef-search", type=int, required=True)
    i.add_argument("--threads", type=int, required=True)
    t = sub.add_parser("minilm")
    t.add_argument("--sentences", required=True)
    t.add_argument("--model-dir", required=True)
    t.add_argument("--batch-size", type=int, required=True)
    t.add_argument("--threads", type=int, required=True)
    t.add_argument("--out", required=True)
    a = p.parse_args()
    index_mode(a) if a.mode == "index" else minilm_mode(a)


if __name__ == "__main__":
    main()
