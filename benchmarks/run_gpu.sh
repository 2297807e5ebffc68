#!/usr/bin/env bash
# On a machine with a CUDA device: every test with a device="cuda" case (the backend
# fixture's "torch-cuda" parametrisations, the layer on CUDA) and the torch backend's
# own tests, then the GPU benchmark: about 7 minutes on an H100.
# Usage: bash benchmarks/run_gpu.sh [OUT_DIR] [gpu.py options]
#   (CSV and the logs go to OUT_DIR; the options default to --repeats 3 --fit-iters 11)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-benchmarks/results}"
shift || true
mkdir -p "$out"
export PYTHONUNBUFFERED=1
python="${PYTHON:-python3}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$python" -c "import torch, numpy, sklearn, ot, numba; print('torch', torch.__version__, '| numpy', numpy.__version__, '| sklearn', sklearn.__version__, '| POT', ot.__version__, '| numba', numba.__version__)"
timeout "${TEST_TIMEOUT:-1800}" "$python" -m pytest -q -p no:cacheprovider -n "${TEST_WORKERS:-8}" -rfE \
    -k "cuda or torch_backend" tests 2>&1 | tee "$out/gpu_tests.log"
if [ $# -eq 0 ]; then set -- --repeats 3 --fit-iters 11; fi
"$python" benchmarks/gpu.py --out "$out" "$@" 2>&1 | tee "$out/gpu.log"
