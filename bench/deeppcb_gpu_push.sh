#!/usr/bin/env bash
# DeepPCB accuracy push on one GPU inside one short device call: our Lightning pipeline only, one longer
# schedule (the learning rate decays over the epochs given, so they are fixed ahead from the seconds per
# epoch measured in the last run, bench/results/deeppcb_gpu_push.json), test metrics of the best epoch.
#
#   bash bench/deeppcb_gpu_push.sh DATA_YAML OUT_DIR EPOCHS [TRAIN_SECONDS=540] [MODEL=yolo11s.yaml]
#
# If training outruns TRAIN_SECONDS it is stopped and the best checkpoint so far is evaluated on test
# (recorded as such in OUT_DIR/deeppcb_gpu_push_fallback.json). Weights stay under var/ (never commit them).
set -u
data=$1 out=$2 epochs=$3 train_s=${4:-540} model=${5:-yolo11s.yaml}
start=$(date +%s)
export OMP_WAIT_POLICY=PASSIVE PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
runs=var/bench/deeppcb-gpu-push
timeout "$train_s" python3 bench/bench_deeppcb.py --data "$data" --accelerator gpu --only ours --no-deterministic \
  --model "$model" --epochs "$epochs" --imgsz 640 --batch 16 --workers 14 --threads 8 \
  --out "$runs" --json "$out/deeppcb_gpu_push.json"
rc=$?
run=$(ls -d "$runs"/ours-* 2>/dev/null | tail -1)
[ -n "$run" ] && [ -f "$run/csv/metrics.csv" ] && cp "$run/csv/metrics.csv" "$out/push_metrics.csv"
if [ "$rc" -ne 0 ] && [ -n "$run" ] && [ -f "$run/weights/best.pt" ]; then
  echo "training stopped (rc $rc) after $(( $(date +%s) - start )) s: evaluating the best epoch so far on test"
  python3 - "$data" "$run/weights/best.pt" "$out/deeppcb_gpu_push_fallback.json" <<'PY'
import json, sys
from pathlib import Path
sys.path.insert(0, ".")
from inspect_app.offline import configure_offline
configure_offline(Path("var"))
from training.evaluate import evaluate
data, best, dst = sys.argv[1:4]
ev = evaluate(best, data, "test", Path(best).parent.parent / "test", 640, threads=8, plots=False)
json.dump({"best_pt": best, "test": ev["metrics"], "note": "training stopped at its time limit"},
          open(dst, "w"), indent=2, default=str)
print(json.dumps(ev["metrics"], default=str)[:600])
PY
fi
echo "done in $(( $(date +%s) - start )) s"
