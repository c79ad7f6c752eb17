#!/usr/bin/env bash
# One prepared GPU run of issue 6's benchmarks (bf16, larger models, contexts to 16k), about 5 minutes of wall time.
# Run from the repository root on a fresh GPU machine:  bash benchmarks/gpu_check.sh
# Writes into $OUT (default benchmarks/results/gpu-<UTC time>): infer.json, train.json (full results), infer_summary.json
# and train_summary.json (the scripts' JSON lines with headline figures), gpu_check.log, device.txt and two PNGs.
# Needs torch with CUDA and transformers; retlab runs from src/ when it is not installed (nothing is downloaded:
# wheels placed in .whl/ are installed first when present). fla is used by RetNet's chunkwise form when installed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results/gpu-$(date -u +%Y%m%dT%H%M)}
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
PY=${PYTHON:-python3}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
exec > >(tee -a "$LOG") 2>&1

if ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
if ! $PY -c "import retlab" 2>/dev/null; then
  export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
fi
$PY - <<'EOF' | tee "$OUT/device.txt"
import importlib.util, torch, transformers
print("device:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "NO CUDA")
print("torch", torch.__version__, "| transformers", transformers.__version__)
print("fla:", "yes" if importlib.util.find_spec("fla") else "no (RetNet chunkwise runs in plain PyTorch)")
print("torchscale:", "yes" if importlib.util.find_spec("torchscale") else "no (TorchScale backends skipped)")
EOF
$PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || { echo "no CUDA device: stop"; exit 1; }
# retlab's models return their cache as `cache` (transformers >= 5.2x); older versions need a newer wheel in .whl/.
$PY -c "from transformers.modeling_outputs import CausalLMOutputWithPast as C; C(cache=None)" 2>/dev/null \
  || echo "WARNING: this transformers has no 'cache' output field; put a transformers>=5.24 wheel in .whl/ and rerun"
$PY -c "import jsonargparse, yaml" 2>/dev/null \
  || { echo "jsonargparse or pyyaml missing (the scripts read their flags with retlab's loader): put wheels in .whl/"; exit 1; }

# ~270M parameters: hidden 1024, 12 layers, 8 heads, vocabulary 32000 (RetNet value_dim 2048, Transformer matched).
# The scripts take retlab's own config flags (they read them with retlab's loader, which needs pyyaml and
# jsonargparse, retlab dependencies: put their wheels in .whl/ if this machine lacks them).
MODEL=(--model.hidden_size 1024 --model.num_hidden_layers 12 --model.num_heads 8 --bench.vocab_size 32000
  --bench.device cuda --bench.dtype bfloat16)
RUNS=/tmp/retlab-gpu-runs

echo "== bench infer: contexts 1k..16k, batch 1 and 8"
timeout 180 $PY benchmarks/bench_infer.py "${MODEL[@]}" --bench.contexts 1024,2048,4096,8192,16384 \
  --bench.batch_sizes 1,8 --bench.decode_steps 64 --bench.warmup_steps 8 --output_dir "$RUNS" --name gpu \
  | tee /tmp/infer.out
tail -n 1 /tmp/infer.out > "$OUT/infer_summary.json"

echo "== bench train: seq 1k..16k, batch 1"
timeout 240 $PY benchmarks/bench_train.py "${MODEL[@]}" --bench.train_seq_lens 1024,2048,4096,8192,16384 \
  --bench.train_steps 5 --output_dir "$RUNS" --name gpu | tee /tmp/train.out
tail -n 1 /tmp/train.out > "$OUT/train_summary.json"

cp "$RUNS/gpu/bench/infer.json" "$RUNS/gpu/bench/train.json" "$OUT/" 2>/dev/null
cp "$RUNS/gpu/bench/infer_time_per_token.png" "$RUNS/gpu/bench/infer_speedup.png" "$RUNS/gpu/bench/train_tokens_per_s.png" "$OUT/" 2>/dev/null
echo "results in $OUT:"; ls -la "$OUT"
