#!/usr/bin/env bash
# On a machine with a CUDA device: the torch backend's tests (their device="cuda"
# cases run there) and then the GPU benchmark, about 7 minutes on an H100.
# Usage: bash benchmarks/run_gpu.sh [OUT_DIR]   (CSV and the log go to OUT_DIR)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-benchmarks/results}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
python="${PYTHON:-python3}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$python" -c "import torch, numpy, sklearn, ot, numba; print('torch', torch.__version__, '| numpy', numpy.__version__, '| sklearn', sklearn.__version__, '| POT', ot.__version__, '| numba', numba.__version__)"
"$python" -m pytest -q -p no:cacheprovider tests/test_torch_backend.py 2>&1 | tee "$out/gpu_tests.log"
"$python" benchmarks/gpu.py --repeats 3 --fit-iters 11 --out "$out" 2>&1 | tee "$out/gpu.log"
