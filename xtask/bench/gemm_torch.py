"""The PyTorch side of the GEMM-peak line of `cargo xtask bench train`.

Times `torch.mm` of two float32 N x N matrices (uniform in [0, 1)) on `--threads` threads: `--reps` products after
two warm-up ones, and prints one JSON line on stdout, {"n", "ms" (the median), "gflops" (2 N^3 / median), "torch"}.
Its twin on doppel's side is `crates/models/examples/gemm_peak.rs` (burn flex's matmul), same N, same statistic.
"""

import argparse
import json
import os
import statistics
import time


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1024)
    p.add_argument("--reps", type=int, default=9)
    p.add_argument("--threads", type=int, required=True)
    args = p.parse_args()
    # Before torch is imported, so that its OpenMP pool starts at the asked size.
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    a = torch.rand(args.n, args.n)
    b = torch.rand(args.n, args.n)
    for _ in range(2):
        torch.mm(a, b)
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    ms = statistics.median(times) * 1e3
    print(json.dumps({"n": args.n, "ms": ms, "gflops": 2 * args.n**3 / (ms * 1e6), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
