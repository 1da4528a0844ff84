#!/usr/bin/env bash
# DeepPCB on one GPU, inside one device lease (issue 5): the 10-epoch comparison of our Lightning
# pipeline with ultralytics' trainer, then a longer run of ours sized to the time left.
#
#   bash bench/deeppcb_gpu.sh DATA_YAML OUT_DIR [SECONDS=540]
#
# Step 2's epochs come from step 1's measured seconds per epoch, so the whole script ends inside SECONDS.
# Outputs (JSON, per-epoch CSV, log) go to OUT_DIR; weights stay under var/ (never commit them).
set -u
data=$1 out=$2 budget=${3:-540}
start=$(date +%s)
model=${PUSH_MODEL:-yolo11s.yaml}
export OMP_WAIT_POLICY=PASSIVE PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 300 python3 bench/bench_deeppcb.py --data "$data" --accelerator gpu --epochs 10 --imgsz 640 \
  --batch 16 --workers 8 --threads 8 --out var/bench/deeppcb-gpu --json "$out/deeppcb_gpu_10ep.json"
left=$(( budget - ($(date +%s) - start) ))
epochs=$(python3 - "$out/deeppcb_gpu_10ep.json" "$left" <<'PY'
import json, sys
left = float(sys.argv[2])
try:
    s = json.load(open(sys.argv[1]))["results"]["ours"]["mean_epoch_total_s"]
except Exception:
    s = 6.0
# yolo11s costs more per step than 11n; keep 60 s for start-up and the test evaluation
print(max(0, min(150, int((left - 60) / (1.6 * s)))))
PY
)
echo "step 2: $left s left -> $model for $epochs epochs"
if [ "$epochs" -ge 20 ]; then
  timeout $(( left - 10 )) python3 bench/bench_deeppcb.py --data "$data" --accelerator gpu --only ours \
    --model "$model" --epochs "$epochs" --imgsz 640 --batch 16 --workers 12 --threads 8 \
    --out var/bench/deeppcb-gpu-push --json "$out/deeppcb_gpu_push.json"
fi
for f in var/bench/deeppcb-gpu-push/ours-*/csv/metrics.csv; do [ -f "$f" ] && cp "$f" "$out/push_metrics.csv"; done
echo "done in $(( $(date +%s) - start )) s"
