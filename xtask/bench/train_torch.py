"""The PyTorch side of `cargo xtask bench train`.

Trains the same network as doppel's `configs/bench/train-{mlp,cnn,resnet8}.toml` on the same rows and prints one JSON line
on stdout: {"model", "samples_per_second", "final_loss", ...}. Progress goes to stderr.

The rows are exactly doppel's: the `label` and `pixels` columns of the dataset directory's `train.parquet`, in file
order (read with pyarrow). They are normalised once, up front, the way doppel does it (`byte / 255`, then the mean
and standard deviation per channel over every training pixel), and kept in memory as one float32 tensor, so a batch here is
an index-select. doppel instead assembles every batch from the u8 pixels on the host and normalises it inside its
timed loop; that cost is part of its number, not of this one.

What matches doppel: the architecture, PyTorch's default initialisation (doppel uses burn's, so the weights
differ), SGD with momentum 0.9, dampening 0, weight decay added to the gradient, a constant learning rate, the
batch size, a new shuffle each epoch, mean cross-entropy, and the per-step work of summing the loss and counting
correct predictions. The timer covers the whole training loop, as doppel's `samples_per_second` does.

After the timed loop, one training step of a copy of the network on one batch runs under PyTorch's own FLOP
counter (`torch.utils.flop_counter.FlopCounterMode`: the matrix products and convolutions of the forward and
backward passes, 2 FLOPs per multiply-add; element-wise work, pooling and batch norm are not counted), and the
JSON line carries that count per sample as `train_flops_per_sample`. The bench multiplies both sides' samples/s
by it, since both train the same network.
"""

import argparse
import copy
import json
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["mlp", "cnn", "resnet8"], required=True)
    p.add_argument("--dataset", required=True, help="a doppel dataset directory (reads its train.parquet)")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=42)
    return p.parse_args()


# Image shape (channels, height, width) each model trains on: MNIST for the MLP and CNN, CIFAR-10 for ResNet-8.
SHAPES = {"mlp": (1, 28, 28), "cnn": (1, 28, 28), "resnet8": (3, 32, 32)}


def load_rows(dataset, shape):
    """Returns (pixels u8 [N, C*H*W], labels i64 [N]) from DATASET/train.parquet, in file order; pixels are planar."""
    import numpy as np
    import pyarrow.parquet as pq

    path = os.path.join(dataset, "train.parquet")
    table = pq.read_table(path, columns=["label", "pixels"])
    labels = np.asarray(table.column("label").to_numpy(), dtype=np.int64)
    blobs = table.column("pixels").to_pylist()
    pixels = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), -1)
    c, h, w = shape
    if pixels.shape[1] != c * h * w:
        sys.exit(f"{path}: images have {pixels.shape[1]} values, expected {c * h * w} ({c} x {h} x {w})")
    return pixels, labels


def build(model, torch):
    nn = torch.nn
    F = torch.nn.functional
    if model == "resnet8":
        # doppel's ResNet (crates/models/src/arch.rs): a 3x3 stem with batch norm, one basic block per width (the
        # first at stride 1, the others at 2, with a 1x1 strided projection where the shape changes), global
        # average pooling, a linear head. Convolutions have no bias.
        def conv3(i, o, stride):
            return nn.Conv2d(i, o, 3, stride, 1, bias=False)

        class Block(nn.Module):
            def __init__(self, i, o, stride):
                super().__init__()
                self.c1, self.b1 = conv3(i, o, stride), nn.BatchNorm2d(o)
                self.c2, self.b2 = conv3(o, o, 1), nn.BatchNorm2d(o)
                self.short = (
                    nn.Sequential(nn.Conv2d(i, o, 1, stride, bias=False), nn.BatchNorm2d(o))
                    if stride != 1 or i != o
                    else nn.Identity()
                )

            def forward(self, z):
                out = self.b2(self.c2(F.relu(self.b1(self.c1(z)))))
                return F.relu(out + self.short(z))

        class ResNet(nn.Module):
            def __init__(self, widths):
                super().__init__()
                self.stem, self.bn = conv3(3, widths[0], 1), nn.BatchNorm2d(widths[0])
                blocks, c = [], widths[0]
                for i, w in enumerate(widths):
                    blocks.append(Block(c, w, 1 if i == 0 else 2))
                    c = w
                self.blocks, self.head = nn.Sequential(*blocks), nn.Linear(c, 10)

            def forward(self, z):
                z = self.blocks(F.relu(self.bn(self.stem(z))))
                return self.head(F.adaptive_avg_pool2d(z, 1).flatten(1))

        return ResNet([16, 32, 64])
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


def train_flops_per_sample(net, xb, yb, torch, F):
    """FLOPs of one training step (forward and backward) per sample, counted by torch on a copy of `net`."""
    from torch.utils.flop_counter import FlopCounterMode

    twin = copy.deepcopy(net)
    twin.train()
    counter = FlopCounterMode(display=False)
    with counter:
        loss = F.cross_entropy(twin(xb), yb)
        loss.backward()
    return counter.get_total_flops() / len(yb)


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

    shape = SHAPES[args.model]
    pixels, labels = load_rows(args.dataset, shape)
    n = len(labels)
    c, h, w = shape
    # doppel's channel_stats: per channel, the mean and standard deviation of byte / 255 over every training
    # pixel, in f64.
    v = pixels.reshape(n, c, h * w).astype(np.float64) / 255.0
    mean = v.mean(axis=(0, 2))
    std = np.maximum(np.sqrt(np.maximum((v * v).mean(axis=(0, 2)) - mean * mean, 0.0)), 1e-3)
    mean32 = mean.astype(np.float32)[None, :, None]
    std32 = std.astype(np.float32)[None, :, None]
    x = (pixels.reshape(n, c, h * w).astype(np.float32) / np.float32(255.0) - mean32) / std32
    x = torch.from_numpy(x.astype(np.float32).reshape(n, c, h, w).copy())
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
    flops_per_sample = train_flops_per_sample(net, x[: args.batch], y[: args.batch], torch, F)

    print(
        json.dumps(
            {
                "model": args.model,
                "samples_per_second": n * args.epochs / seconds,
                "final_loss": loss_mean,
                "final_accuracy": accuracy,
                "seconds": seconds,
                "train_flops_per_sample": flops_per_sample,
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
