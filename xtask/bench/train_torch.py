"""The PyTorch side of `cargo xtask bench train`.

Trains the same network as doppel's `configs/bench/train-{mlp,cnn}.toml` on the same rows and prints one JSON line
on stdout: {"model", "samples_per_second", "final_loss", ...}. Progress goes to stderr.

The rows are exactly doppel's: the `label` and `pixels` columns of the dataset directory's `train.parquet`, in file
order (read with pyarrow). They are normalised once, up front, the way doppel does it (`byte / 255`, then the mean
and standard deviation over every training pixel), and kept in memory as one float32 tensor, so a batch here is
an index-select. doppel instead assembles every batch from the u8 pixels on the host and normalises it inside its
timed loop; that cost is part of its number, not of this one.

What matches doppel: the architecture, PyTorch's default initialisation (doppel uses burn's, so the weights
differ), SGD with momentum 0.9, dampening 0, weight decay added to the gradient, a constant learning rate, the
batch size, a new shuffle each epoch, mean cross-entropy, and the per-step work of summing the loss and counting
correct predictions. The timer covers the whole training loop, as doppel's `samples_per_second` does.
"""

import argparse
import json
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["mlp", "cnn"], required=True)
    p.add_argument("--dataset", required=True, help="a doppel dataset directory (reads its train.parquet)")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=42)
    return p.parse_args()


def load_rows(dataset):
    """Returns (pixels u8 [N, 784], labels i64 [N]) from DATASET/train.parquet, in file order."""
    import numpy as np
    import pyarrow.parquet as pq

    path = os.path.join(dataset, "train.parquet")
    table = pq.read_table(path, columns=["label", "pixels"])
    labels = np.asarray(table.column("label").to_numpy(), dtype=np.int64)
    blobs = table.column("pixels").to_pylist()
    pixels = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), -1)
    if pixels.shape[1] != 784:
        sys.exit(f"{path}: images have {pixels.shape[1]} pixels, expected 784 (28 x 28 x 1)")
    return pixels, labels


def build(model, torch):
    nn = torch.nn
    if model == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 256),
            nn.ReLU(),
            nn.Linear(256, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def main():
    args = parse_args()
    # Before torch is imported, so that its OpenMP pool starts at the asked size.
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import numpy as np
    import pyarrow
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    pixels, labels = load_rows(args.dataset)
    n = len(labels)
    # doppel's channel_stats: mean and standard deviation of byte / 255 over every training pixel, in f64.
    v = pixels.astype(np.float64) / 255.0
    mean = float(v.mean())
    std = max(float(np.sqrt(max((v * v).mean() - mean * mean, 0.0))), 1e-3)
    x = ((pixels.astype(np.float32) / np.float32(255.0) - np.float32(mean)) / np.float32(std)).astype(np.float32)
    x = torch.from_numpy(x.reshape(n, 1, 28, 28).copy())
    y = torch.from_numpy(labels)

    net = build(args.model, torch)
    opt = torch.optim.SGD(
        net.parameters(), lr=args.lr, momentum=args.momentum, dampening=0.0, weight_decay=args.weight_decay
    )
    gen = torch.Generator().manual_seed(args.seed)

    epoch_seconds = []
    loss_mean = float("nan")
    accuracy = float("nan")
    net.train()
    started = time.perf_counter()
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=gen)
        loss_sum = torch.zeros(())
        correct = torch.zeros((), dtype=torch.int64)
        for start in range(0, n, args.batch):
            idx = order[start : start + args.batch]
            xb = x.index_select(0, idx)
            yb = y.index_select(0, idx)
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            loss_sum += loss.detach() * len(idx)
            correct += (logits.detach().argmax(1) == yb).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        loss_mean = float(loss_sum) / n
        accuracy = int(correct) / n
        epoch_seconds.append(time.perf_counter() - t0)
        print(
            f"torch {args.model}: epoch {epoch + 1}/{args.epochs} loss {loss_mean:.4f} "
            f"train acc {accuracy:.4f} {epoch_seconds[-1]:.1f} s",
            file=sys.stderr,
        )
    seconds = time.perf_counter() - started

    print(
        json.dumps(
            {
                "model": args.model,
                "samples_per_second": n * args.epochs / seconds,
                "final_loss": loss_mean,
                "final_accuracy": accuracy,
                "seconds": seconds,
                "epoch_seconds": epoch_seconds,
                "rows": n,
                "epochs": args.epochs,
                "batch": args.batch,
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "numpy": np.__version__,
                "pyarrow": pyarrow.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
