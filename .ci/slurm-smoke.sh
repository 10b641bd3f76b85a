#!/usr/bin/env bash
# The cluster path against a real Slurm: the smoke preset's emitted array (3 shards) and its dependent merge run
# by sbatch on a one-node localhost cluster must give the report an unsharded run gives, byte for byte.
# Run by .ci/run after the tests (the release doppel binary is built by then); needs root for the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/doppel-target}"

bash .ci/slurm-localhost.sh
cargo build --release --locked --quiet -p doppel-cli
bin="$CARGO_TARGET_DIR/release/doppel"
tmp="$(mktemp -d /var/tmp/doppel-slurm.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

cargo xtask reproduce --preset smoke --out "$tmp/whole" --doppel-bin "$bin" 2>"$tmp/whole.log" \
    || { tail -30 "$tmp/whole.log" >&2; exit 1; }
cargo xtask reproduce --preset smoke --out "$tmp/sharded" --doppel-bin "$bin" \
    --emit-jobs "$tmp/jobs.txt" --shards 3 --cpus-per-task 1 --estimate-from "$tmp/whole"
grep '^#   shard\|^#SBATCH' "$tmp/jobs.sbatch"
# --wait: sbatch returns when the merge ends, non-zero if it failed or was cancelled because a shard failed.
if ! timeout 1800 bash "$tmp/jobs.submit.sh" --wait; then
    echo "error: the Slurm jobs failed; their logs:" >&2
    tail -n 30 "$tmp"/sharded/slurm-*.log >&2 || true
    squeue >&2 || true
    exit 1
fi
for i in 0 1 2; do
    ls "$tmp"/sharded/slurm-*_"$i".log >/dev/null
    ls "$tmp/sharded/reproduce-shard-$i-of-3.log" >/dev/null
done
# The report, its tables and figures are the same bytes; manifest.json and reproduce.log say how each ran.
for f in report.md tables figures; do
    diff -r "$tmp/whole/$f" "$tmp/sharded/$f"
done
echo "slurm: 3 shards and the merge under sbatch gave the unsharded report ($(ls "$tmp/sharded/tables" | wc -l) tables, $(ls "$tmp/sharded/figures" | wc -l) figures)"
