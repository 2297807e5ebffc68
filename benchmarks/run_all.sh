#!/usr/bin/env bash
# Nightly-style run of every benchmark, one after another (about 3 hours on 2 cores).
# Pass --quick to run every script in its quick mode instead (a few minutes).
set -euo pipefail
cd "$(dirname "$0")"
mode=("$@")
for script in defaults promise assign fit scaling streaming \
    paper_prototypical paper_atomic paper_sweeps real_data sparse_input layer_simulation vqvae \
    dask_scaling; do
  echo "=== ${script} $(date -u +%H:%M:%S)"
  python "${script}.py" "${mode[@]}"
done
