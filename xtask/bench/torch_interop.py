"""The PyTorch side of `cargo xtask bench interop`: PyTorch reads doppel's checkpoints, and doppel reads PyTorch's.

Run it from the bench venv (torch, numpy, pyarrow, safetensors), not from CI's default path. Two modes, each
printing one JSON line per result on stdout (progress and errors go to stderr):

`check --dataset DS --model NAME=DIR [--model ...]` checks that PyTorch reproduces doppel. For each model folder
written by `doppel train` (DIR holds model.safetensors, model.json and outputs_test.parquet), it

1. builds the equivalent `torch.nn` module from the sidecar's `spec` (MLP, CNN or ResNet-8, the same layer names
   as doppel's `crates/models/src/arch.rs`), so that its `state_dict` keys are the checkpoint's tensor names;
2. loads `model.safetensors` with `safetensors.torch.load_file` and `load_state_dict(strict=True)`: every
   tensor of the module must be in the file with its shape, and nothing else may be, except BatchNorm's
   `num_batches_tracked` counters, which doppel does not keep and eval mode does not read (recent PyTorch fills
   them in itself; on a release that calls them missing, they and only they are tolerated);
3. runs every row of DS/test.parquet through it in eval mode (BatchNorm on its running mean and variance, which
   therefore have to round-trip too), the planar u8 pixels `[C, H, W]` normalised exactly as doppel's
   `ModelSpec::input_tensor` does, in float32: `(p / 255 - mean[c]) / std[c]` with the sidecar's mean and std;
4. compares those logits with doppel's own, the `logit_0..logit_{K-1}` columns of DIR/outputs_test.parquet,
   matched by `id` (every test row must be there), and prints {"mode": "check", "model", "arch", "rows",
   "max_abs_dlogit", "argmax_agree", ...}. For a model with BatchNorm it also prints a control: the largest
   |Δlogit| with every running mean and variance reset to 0 and 1, what a checkpoint that lost them would give.

It exits non-zero when any model's max |Δlogit| exceeds --tolerance (1e-4), after printing every model's line.

`train-mlp --dataset DS --from RUN/m0 --out RUN/pytorch_m0` is the reverse. It trains a PyTorch MLP with the
widths of doppel's m0 MLP on all of DS/train.parquet (the rows m0 trained on), with the m0 sidecar's recipe
(epochs, batch size, SGD with momentum, dampening 0 and weight decay added to the gradient, or Adam; the
constant, step or cosine schedule evaluated per step as doppel's `Schedule::lr` does) and the sidecar's input
normalisation, from PyTorch's own initialisation and shuffling (seeded by --seed). Then it

- saves the weights with `safetensors.torch.save_file` under doppel's tensor names (the module's own
  `state_dict`: PyTorch's [out, in] Linear layout) into OUT/model.safetensors;
- writes OUT/model.json, a doppel sidecar derived from the m0 one: the same spec, recipe and dataset manifest
  sha256 (checked against DS/manifest.json), but role "pytorch_m0", seeds {init, order} = --seed (the
  `torch.manual_seed` of the initial weights and the seed of the shuffling generator), device naming PyTorch and
  its version, doppel_version saying that this script wrote it, and report = PyTorch's own epoch logs;
- writes no outputs_*.parquet, so that `doppel eval` has to load and run the checkpoint itself;
- evaluates the model on DS/test.parquet and prints {"mode": "train", "test_rows", "test_correct",
  "test_accuracy", ...}, the accuracy that `doppel eval` must reproduce to the row.
"""

import argparse
import hashlib
import json
import math
import os
import sys
import time
from collections import OrderedDict

SCRIPT = "xtask/bench/torch_interop.py"


def fail(message):
    print(f"torch_interop: {message}", file=sys.stderr)
    sys.exit(2)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    check = sub.add_parser("check", help="reproduce doppel's test logits in PyTorch")
    check.add_argument("--dataset", required=True, help="the doppel dataset directory the models were trained on")
    check.add_argument(
        "--model", action="append", required=True, metavar="NAME=DIR", help="a `doppel train` model folder"
    )
    check.add_argument("--tolerance", type=float, default=1e-4, help="the largest |Δlogit| allowed")
    check.add_argument("--threads", type=int, default=2)
    train = sub.add_parser("train-mlp", help="train a PyTorch MLP with m0's recipe and save it for doppel")
    train.add_argument("--dataset", required=True, help="the doppel dataset directory m0 was trained on")
    train.add_argument("--from", dest="source", required=True, help="doppel's m0 folder (its model.json)")
    train.add_argument("--out", required=True, help="the model folder to write, e.g. RUN/pytorch_m0")
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--threads", type=int, default=2)
    return p.parse_args()


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        fail(f"{path} is not JSON ({e}); rerun `doppel train` for that folder")


def read_rows(dataset, split, spec):
    """(ids u32 [N], labels i64 [N], pixels u8 [N, C, H, W]) of DATASET/{split}.parquet, in file order."""
    import numpy as np
    import pyarrow.parquet as pq

    path = os.path.join(dataset, f"{split}.parquet")
    try:
        table = pq.read_table(path, columns=["id", "label", "pixels"])
    except (OSError, KeyError, ValueError) as e:
        fail(f"cannot read {path} ({e}); pass a directory written by `doppel data build`")
    shape = spec["input"]
    c, h, w = shape["channels"], shape["height"], shape["width"]
    blobs = table.column("pixels").to_pylist()
    if any(len(b) != c * h * w for b in blobs):
        fail(f"{path}: an image does not have {c * h * w} pixels ({c} x {h} x {w}, the model's input)")
    ids = np.asarray(table.column("id").to_numpy(), dtype=np.int64)
    labels = np.asarray(table.column("label").to_numpy(), dtype=np.int64)
    pixels = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), c, h, w)
    return ids, labels, pixels


def normalise(pixels, spec, torch):
    """doppel's `ModelSpec::input_tensor` in float32: (p / 255 - mean[c]) / std[c], planar [N, C, H, W]."""
    import numpy as np

    mean = np.asarray(spec["mean"], dtype=np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(spec["std"], dtype=np.float32).reshape(1, -1, 1, 1)
    x = (pixels.astype(np.float32) / np.float32(255.0) - mean) / std
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def build(spec, torch):
    """The torch.nn module of a doppel `ModelSpec`; its state_dict keys are doppel's tensor names."""
    nn = torch.nn
    F = torch.nn.functional
    arch = spec["arch"]
    shape = spec["input"]
    c, h, w = shape["channels"], shape["height"], shape["width"]
    k = spec["classes"]

    if arch["arch"] == "mlp":
        h1, h2 = arch["hidden"]
        # The README's module (section "Reading a checkpoint in PyTorch"): named children, so that the keys are
        # fc1.*, fc2.* and head.*.
        return nn.Sequential(
            OrderedDict(
                flatten=nn.Flatten(),
                fc1=nn.Linear(c * h * w, h1),
                relu1=nn.ReLU(),
                fc2=nn.Linear(h1, h2),
                relu2=nn.ReLU(),
                head=nn.Linear(h2, k),
            )
        )

    if arch["arch"] == "cnn":
        c1, c2 = arch["channels"]
        hidden = arch["hidden"]

        class Cnn(nn.Module):
            """doppel's Cnn: two 5x5 convolutions (padding 2), each ReLU + 2x2 max-pool, a ReLU layer, the head."""

            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(c, c1, 5, padding=2)
                self.conv2 = nn.Conv2d(c1, c2, 5, padding=2)
                self.fc = nn.Linear(c2 * (h // 4) * (w // 4), hidden)
                self.head = nn.Linear(hidden, k)

            def forward(self, x):
                x = F.max_pool2d(F.relu(self.conv1(x)), 2)
                x = F.max_pool2d(F.relu(self.conv2(x)), 2)
                return self.head(F.relu(self.fc(torch.flatten(x, 1))))

        return Cnn()

    if arch["arch"] == "resnet":
        widths = arch["widths"]

        def conv3x3(i, o, stride):
            return nn.Conv2d(i, o, 3, stride=stride, padding=1, bias=False)

        class Projection(nn.Module):
            """The 1x1 strided projection of a shortcut that changes shape."""

            def __init__(self, i, o, stride):
                super().__init__()
                self.conv = nn.Conv2d(i, o, 1, stride=stride, bias=False)
                self.bn = nn.BatchNorm2d(o)

            def forward(self, x):
                return self.bn(self.conv(x))

        class BasicBlock(nn.Module):
            """Two 3x3 convolutions with BatchNorm and an identity or projection shortcut."""

            def __init__(self, i, o, stride):
                super().__init__()
                self.conv1 = conv3x3(i, o, stride)
                self.bn1 = nn.BatchNorm2d(o)
                self.conv2 = conv3x3(o, o, 1)
                self.bn2 = nn.BatchNorm2d(o)
                self.shortcut = Projection(i, o, stride) if stride != 1 or i != o else None

            def forward(self, x):
                out = F.relu(self.bn1(self.conv1(x)))
                out = self.bn2(self.conv2(out))
                short = x if self.shortcut is None else self.shortcut(x)
                return F.relu(out + short)

        class ResNet(nn.Module):
            """doppel's ResNet-8: a 3x3 stem with BatchNorm, three basic blocks (stride 1, 2, 2), mean pool."""

            def __init__(self):
                super().__init__()
                self.stem = conv3x3(c, widths[0], 1)
                self.bn = nn.BatchNorm2d(widths[0])
                blocks, c_in = [], widths[0]
                for i, width in enumerate(widths):
                    blocks.append(BasicBlock(c_in, width, 1 if i == 0 else 2))
                    c_in = width
                self.blocks = nn.ModuleList(blocks)
                self.head = nn.Linear(widths[2], k)

            def forward(self, x):
                x = F.relu(self.bn(self.stem(x)))
                for block in self.blocks:
                    x = block(x)
                return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

        return ResNet()

    fail(f"unknown architecture {arch['arch']!r} in the sidecar; this script knows mlp, cnn and resnet")


def load_doppel(net, weights, torch):
    """Loads doppel's safetensors into `net`, strictly, except BatchNorm's num_batches_tracked (doppel keeps
    none, eval mode reads none). Returns (tensors loaded, num_batches_tracked counters not in the file)."""
    from safetensors.torch import load_file

    try:
        state = load_file(weights)
    except (OSError, ValueError) as e:
        fail(f"cannot read {weights}: {e}")
    absent = [k for k in net.state_dict() if k not in state]
    try:
        # Recent PyTorch's BatchNorm fills a missing num_batches_tracked in itself, so strict loading passes.
        net.load_state_dict(state, strict=True)
    except RuntimeError as strict_error:
        # Older releases call the counters missing: tolerate those, and nothing else.
        try:
            result = net.load_state_dict(state, strict=False)
        except RuntimeError as e:
            fail(f"{weights} does not fit the PyTorch module: {e}")
        missing = [m for m in result.missing_keys if not m.endswith("num_batches_tracked")]
        if missing or result.unexpected_keys:
            fail(f"{weights} does not fit the PyTorch module: {strict_error}")
    others = [k for k in absent if not k.endswith("num_batches_tracked")]
    if others:
        fail(f"{weights} lacks {others}")
    return len(state), len(absent)


def logits_of(net, x, torch, batch=512):
    net.eval()
    with torch.no_grad():
        return torch.cat([net(x[i : i + batch]) for i in range(0, len(x), batch)]) if len(x) else torch.zeros(0)


def bn_control(net, x, theirs, torch):
    """The control of the BatchNorm round trip: max |Δlogit| against doppel with every running mean and variance
    reset to PyTorch's defaults (0 and 1), which a lost round trip would give; None for a model without BatchNorm.
    It has to be far above the tolerance for the check to mean anything."""
    import copy

    import numpy as np

    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return None
    reset = copy.deepcopy(net)
    for m in reset.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
    return float(np.abs(logits_of(reset, x, torch).double().numpy() - theirs).max())


def doppel_logits(path, classes):
    """(ids, logits f64 [N, K]) of a doppel outputs_*.parquet."""
    import numpy as np
    import pyarrow.parquet as pq

    names = ["id"] + [f"logit_{j}" for j in range(classes)]
    try:
        table = pq.read_table(path, columns=names)
    except (OSError, KeyError, ValueError) as e:
        fail(f"cannot read {names} from {path} ({e}); rerun `doppel train` for that folder")
    ids = np.asarray(table.column("id").to_numpy(), dtype=np.int64)
    logits = np.stack([table.column(n).to_numpy().astype(np.float64) for n in names[1:]], axis=1)
    return ids, logits


def check(args):
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    over = []
    for item in args.model:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            fail(f"--model {item!r} is not NAME=DIR")
        sidecar = read_json(os.path.join(folder, "model.json"))
        spec = sidecar.get("spec")
        if not isinstance(spec, dict):
            fail(f"{os.path.join(folder, 'model.json')} has no `spec`; is it a doppel model folder?")
        net = build(spec, torch)
        loaded, counters = load_doppel(net, os.path.join(folder, "model.safetensors"), torch)
        ids, _, pixels = read_rows(args.dataset, "test", spec)
        ours = logits_of(net, normalise(pixels, spec, torch), torch).double().numpy()
        their_ids, theirs = doppel_logits(os.path.join(folder, "outputs_test.parquet"), spec["classes"])
        where = {int(i): r for r, i in enumerate(their_ids)}
        missing = [int(i) for i in ids if int(i) not in where]
        if missing or len(their_ids) != len(ids):
            fail(
                f"{folder}/outputs_test.parquet has {len(their_ids)} rows but {args.dataset}/test.parquet "
                f"{len(ids)} (ids missing: {missing[:5]}); retrain the model on this dataset"
            )
        theirs = theirs[[where[int(i)] for i in ids]]
        delta = np.abs(ours - theirs)
        max_abs = float(delta.max()) if delta.size else 0.0
        row = int(delta.max(axis=1).argmax()) if delta.size else 0
        agree = int((ours.argmax(axis=1) == theirs.argmax(axis=1)).sum())
        control = bn_control(net, normalise(pixels, spec, torch), theirs, torch)
        print(
            json.dumps(
                {
                    "mode": "check",
                    "model": name,
                    "arch": spec["arch"]["arch"],
                    "rows": len(ids),
                    "max_abs_dlogit": max_abs,
                    "worst_id": int(ids[row]) if len(ids) else None,
                    "max_abs_logit": float(np.abs(theirs).max()) if theirs.size else 0.0,
                    "argmax_agree": agree,
                    "tensors": loaded,
                    "num_batches_tracked_absent": counters,
                    "control_max_abs_dlogit_default_bn_stats": control,
                    "tolerance": args.tolerance,
                    "torch": torch.__version__,
                }
            ),
            flush=True,
        )
        if not max_abs <= args.tolerance:
            over.append(f"{name}: max |dlogit| {max_abs:.3g} > {args.tolerance:g}")
    if over:
        print(f"torch_interop: PyTorch does not reproduce doppel's logits: {'; '.join(over)}", file=sys.stderr)
        sys.exit(1)


def schedule_lr(schedule, base, epoch, step, total):
    """doppel's `Schedule::lr`: the rate at 0-based `step` of `total`, in 0-based `epoch`."""
    kind = schedule.get("kind")
    if kind == "constant":
        return base
    if kind == "step":
        return base * schedule["gamma"] ** (epoch // max(schedule["every"], 1))
    if kind == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * step / max(total, 1)))
    fail(f"unknown schedule {kind!r} in the m0 sidecar; this script knows constant, step and cosine")


def train_mlp(args):
    import numpy as np
    import pyarrow
    import safetensors
    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file

    torch.set_num_threads(args.threads)
    source = os.path.join(args.source, "model.json")
    side = read_json(source)
    spec, recipe = side.get("spec"), side.get("recipe")
    if not isinstance(spec, dict) or not isinstance(recipe, dict):
        fail(f"{source} has no `spec` or `recipe`; pass a `doppel train` model folder")
    if side.get("role") != "m0":
        fail(f"{source} is the sidecar of {side.get('role')!r}, not m0; pass RUN/m0")
    if spec["arch"]["arch"] != "mlp":
        fail(f"{source} describes a {spec['arch']['arch']}; train-mlp reproduces an MLP's recipe")
    augment = recipe.get("augment", {})
    if augment.get("crop_pad", 0) or augment.get("flip", False):
        fail(f"{source}: the recipe augments ({augment}); train-mlp has no augmentation, use an MLP config without")
    manifest = os.path.join(args.dataset, "manifest.json")
    try:
        with open(manifest, "rb") as f:
            manifest_sha = hashlib.sha256(f.read()).hexdigest()
    except OSError as e:
        fail(f"cannot read {manifest}: {e.strerror}")
    if manifest_sha != side.get("dataset_manifest_sha256"):
        fail(f"{source} was trained on another dataset than {args.dataset} (manifest sha256 differs)")

    _, labels, pixels = read_rows(args.dataset, "train", spec)
    n = len(labels)
    if n != side["report"]["rows"]:
        fail(f"{args.dataset}/train.parquet has {n} rows but m0 trained on {side['report']['rows']}")
    x = normalise(pixels, spec, torch)
    y = torch.from_numpy(labels)
    _, test_labels, test_pixels = read_rows(args.dataset, "test", spec)
    x_test = normalise(test_pixels, spec, torch)

    torch.manual_seed(args.seed)
    net = build(spec, torch)
    opt_spec = recipe["optimizer"]
    base_lr = opt_spec["lr"]
    if opt_spec["kind"] == "sgd":
        opt = torch.optim.SGD(
            net.parameters(),
            lr=base_lr,
            momentum=opt_spec["momentum"],
            dampening=0.0,
            weight_decay=opt_spec["weight_decay"],
        )
    elif opt_spec["kind"] == "adam":
        opt = torch.optim.Adam(
            net.parameters(), lr=base_lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=opt_spec["weight_decay"]
        )
    else:
        fail(f"unknown optimizer {opt_spec['kind']!r} in {source}; this script knows sgd and adam")
    gen = torch.Generator().manual_seed(args.seed)
    epochs, batch = recipe["epochs"], recipe["batch_size"]
    steps = -(-n // batch)
    total = steps * epochs

    logs = []
    net.train()
    started = time.perf_counter()
    for epoch in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=gen)
        loss_sum, correct = 0.0, 0
        lr0 = schedule_lr(recipe["schedule"], base_lr, epoch, epoch * steps, total)
        for step in range(steps):
            lr = schedule_lr(recipe["schedule"], base_lr, epoch, epoch * steps + step, total)
            for group in opt.param_groups:
                group["lr"] = lr
            idx = order[step * batch : (step + 1) * batch]
            logits = net(x.index_select(0, idx))
            yb = y.index_select(0, idx)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.detach().argmax(1) == yb).sum())
        logs.append(
            {
                "epoch": epoch + 1,
                "loss": loss_sum / n,
                "accuracy": correct / n,
                "lr": lr0,
                "seconds": time.perf_counter() - t0,
            }
        )
        print(
            f"torch mlp: epoch {epoch + 1}/{epochs} loss {logs[-1]['loss']:.4f} train acc "
            f"{logs[-1]['accuracy']:.4f} {logs[-1]['seconds']:.1f} s",
            file=sys.stderr,
        )
    seconds = time.perf_counter() - started

    test_pred = logits_of(net, x_test, torch).argmax(1).numpy()
    test_correct = int((test_pred == test_labels).sum())

    os.makedirs(args.out, exist_ok=True)
    weights = os.path.join(args.out, "model.safetensors")
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    save_file(state, weights + ".tmp")
    sidecar = dict(side)
    sidecar.update(
        {
            "role": "pytorch_m0",
            "seeds": {"init": args.seed, "order": args.seed},
            "report": {
                "rows": n,
                "epochs": logs,
                "seconds": seconds,
                "samples_per_second": n * epochs / seconds if seconds > 0 else 0.0,
            },
            "device": f"PyTorch {torch.__version__} on the CPU, {torch.get_num_threads()} threads",
            "doppel_version": f"none: written by {SCRIPT} with PyTorch {torch.__version__}, not by doppel",
        }
    )
    side_path = os.path.join(args.out, "model.json")
    with open(side_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")
    for stale in ("outputs_train.parquet", "outputs_test.parquet"):
        if os.path.exists(os.path.join(args.out, stale)):
            os.remove(os.path.join(args.out, stale))
    os.replace(weights + ".tmp", weights)
    os.replace(side_path + ".tmp", side_path)

    print(
        json.dumps(
            {
                "mode": "train",
                "model": "pytorch_m0",
                "arch": "mlp",
                "rows": n,
                "epochs": epochs,
                "final_loss": logs[-1]["loss"] if logs else float("nan"),
                "test_rows": len(test_labels),
                "test_correct": test_correct,
                "test_accuracy": test_correct / len(test_labels) if len(test_labels) else float("nan"),
                "seconds": seconds,
                "torch": torch.__version__,
                "numpy": np.__version__,
                "pyarrow": pyarrow.__version__,
                "safetensors": safetensors.__version__,
            }
        ),
        flush=True,
    )


def main():
    args = parse_args()
    # Before torch is imported, so that its OpenMP pool starts at the asked size.
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    if args.mode == "check":
        check(args)
    else:
        train_mlp(args)


if __name__ == "__main__":
    main()
