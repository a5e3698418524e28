#!/usr/bin/env bash
# GPU check of the vllm backend: the smoke profile's greedy generations with backend vllm and with
# backend hf (device cuda), on the same items, weights and dtype; prints per-item agreement and
# exits non-zero below the threshold (see perf/gpu_check.py for the threshold's rationale).
#
# Needs a CUDA GPU and vLLM in the active environment (pip install -e '.[vllm]').
# Usage: perf/gpu_check.sh [--dtype float32|bfloat16|float16] [--min-agreement 0.8] [--json out.json]
set -euo pipefail
cd "$(dirname "$0")/.."

python - <<'PY' || exit 2
import sys
try:
    import torch
except ImportError:
    sys.exit("gpu_check: torch is not installed")
if not torch.cuda.is_available():
    sys.exit("gpu_check: no CUDA device is visible to torch")
try:
    import vllm
except ImportError:
    sys.exit("gpu_check: vllm is not installed; pip install -e '.[vllm]' (on the CUDA machine)")
print(f"gpu_check: torch {torch.__version__}, vllm {vllm.__version__}, {torch.cuda.get_device_name(0)}")
PY

exec python perf/gpu_check.py --profile smoke "$@"
