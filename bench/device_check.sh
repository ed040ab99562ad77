#!/usr/bin/env bash
# The one prepared script for a lent GPU machine (the `device` tool's `run`):
# GPU checks first, then the engine benchmark, each under its own time limit so
# a hang in one still returns the other's results. Results go to $OUT (the
# device tool's output folder) or bench/results/device/ when run by hand.
#
#   bash bench/device_check.sh            # at most 8 minutes: its two time limits, 150 s + 330 s
set -u
out=${OUT:-bench/results/device}
mkdir -p "$out"
python=${PYTHON:-python3}
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH}
# The device machine reaches no package index: use its own torch (PYTHONPATH=src).
"$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/nvidia_smi.csv"
timeout 150 "$python" bench/gpu_smoke.py --out "$out/gpu_smoke.json" >"$out/gpu_smoke.log" 2>&1
echo "gpu_smoke rc=$?"
timeout 330 "$python" bench/bench_gpu_training.py --replicas 1,8,16,32 --steps 20 \
  --out "$out/bench_gpu_training.json" 2>&1 | tee "$out/bench_gpu_training.log"
echo "bench rc=${PIPESTATUS[0]}"
