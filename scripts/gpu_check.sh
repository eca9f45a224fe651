#!/usr/bin/env bash
# GPU checks in a few minutes: run on a machine with CUDA; prints the figures the GPU
# issue asks for. Nothing else depends on this script (CI has no GPU).
#
#   bash scripts/gpu_check.sh                 # every check (about 5 minutes on one H200)
#   STEPS=100 bash scripts/gpu_check.sh       # shorter training runs
#
# Where hmrflow is not installed (the lent H200 has torch, Lightning, PyYAML, tqdm, SciPy
# and Pillow but not roma), put roma's wheel on PYTHONPATH first, e.g. with the device
# tool: `pip download --no-deps --only-binary=:all: -d .whl roma==1.5.1`, carry `.whl`,
# and start with `pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl &&
# export PYTHONPATH=/tmp/site`. Logs go to $OUT (the device tool's folder) or /tmp/gpu_check.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-python3}"
[ -x "$root/.venv/bin/python" ] && py="$root/.venv/bin/python"
export PYTHONPATH="$root/src:$root/benchmarks:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
out="${OUT:-/tmp/gpu_check}"
mkdir -p "$out"
steps="${STEPS:-300}"
hm() { "$py" -m hmrflow "$@"; }
"$py" -c "import torch; assert torch.cuda.is_available(), 'no CUDA'; print('GPU:', torch.cuda.get_device_name())" || exit 1

echo "== 1. hmrflow train keypoints on the GPU: samples/s (target 100k), data made on the GPU"
for batch in 4096 16384; do
    hm train keypoints trainer.accelerator=gpu trainer.devices=1 "data.batch_size=$batch" \
        optim.lr_scaling=sqrt "trainer.max_steps=$steps" trainer.val_every=100000 \
        "trainer.output_dir=$out/train-$batch" --no-progress 2>&1 | tee "$out/train-$batch.log" \
        | grep -E "samples/s|Error|error" || true
done

echo "== 2. image training steps: ResNet-50 + ProHMR flow (target 3,000 samples/s)"
for batch in 128 512; do
    "$py" benchmarks/bench_image_training.py --device cuda --batch "$batch" --depth 50 2>&1 | tee "$out/image-$batch.log"
done

echo "== 3. eval on CUDA gives the CPU's numbers"
for device in cpu cuda; do
    hm eval default --data synthetic-keypoints-v1 --device "$device" --out "$out/eval-$device" \
        --no-plots --no-progress > "$out/eval-$device.log" 2>&1
done
"$py" - "$out" <<'EOF'
import csv, sys
from pathlib import Path
out = Path(sys.argv[1])
def figures(device):
    with open(out / f"eval-{device}" / "metrics.csv") as f:
        return {row["figure"]: float(row["value"]) for row in csv.DictReader(f) if row["value"]}
a, b = figures("cpu"), figures("cuda")
common = a.keys() & b.keys()
worst = max((abs(a[k] - b[k]) / max(abs(a[k]), 1e-9), k) for k in common)
print(f"eval: {len(common)} figures compared, largest relative difference {worst[0]:.2e} ({worst[1]})")
EOF

echo "== 4. fit --evaluate on CUDA gives the CPU's numbers (small sets)"
for device in cpu cuda; do
    hm fit --evaluate --size 64 --multiview-size 16 --device "$device" > "$out/fit-$device.log" 2>&1
done
diff <(grep -E "^\|" "$out/fit-cpu.log") <(grep -E "^\|" "$out/fit-cuda.log") && echo "fit --evaluate: tables equal" \
    || echo "fit --evaluate: tables differ (above); float rounding differs between devices"

echo "== 5. fitting 64 people: GPU against CPU"
for device in cpu cuda; do
    "$py" benchmarks/bench_fitting.py --device "$device" --batch 64 2>&1 | tee "$out/fitting-$device.log" | tail -4
done
echo "logs in $out"
