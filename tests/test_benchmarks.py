"""The paper-reproduction, sparse-input and layer benchmark scripts run end to end in their smallest mode.

Each test imports one script's ``main`` and runs it with ``--tiny`` (a hidden,
smaller-than-``--quick`` mode) into a temporary directory, then checks that the
CSV has the columns of the script's committed run in ``benchmarks/results/``,
that its numbers are finite, and that the figures were written.
BLAS/OpenMP are held at one thread: under ``pytest -n 2`` sklearn's KMeans
would otherwise spin against the other worker on a 2-core machine.
"""

from __future__ import annotations

import csv
import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest
from threadpoolctl import threadpool_limits

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

# Each script's text columns and figures; its columns are those of its committed
# full run in benchmarks/results/, which the --tiny run must reproduce.
CASES = {
    "paper_prototypical": dict(
        text=["experiment"],
        figures=["paper_prototypical-quick.png"],
    ),
    "paper_atomic": dict(
        text=["family", "method", "note"],
        figures=[
            "paper_atomic_gaussian-quick.png",
            "paper_atomic_uniform-quick.png",
        ],
    ),
    "paper_sweeps": dict(
        text=["sweep", "method"],
        figures=["paper_sweeps-quick.png"],
    ),
    "real_data": dict(
        text=["data", "method"],
        figures=["real_data-quick.png", "real_data_china-quick.png"],
    ),
    "sparse_input": dict(text=["method"], figures=[]),
    "layer_simulation": dict(
        text=["method"], figures=["layer_simulation-quick.png"], requires=["torch"]
    ),
    # codebook_lr is NaN for the layers that train no codebook.
    "vqvae": dict(
        text=["data", "method", "codebook_lr"], figures=[], requires=["torch"]
    ),
    # Traffic is measured for the Dask fit only; ratios where both arms ran.
    "dask_scaling": dict(
        text=["method"],
        figures=[],
        requires=["distributed", "dask_ml"],
        may_be_nan=[
            "ratio_to_numpy",
            "ratio_to_dask_ml",
            "tasks_per_iteration",
            "graph_bytes_per_iteration",
            "transfer_bytes_per_iteration",
            "result_bytes_per_iteration",
        ],
    ),
}


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of a CSV file."""
    with path.open(newline="") as file:
        reader = csv.reader(file)
        header = next(reader)
        return header, list(reader)


def committed_header(name: str) -> list[str]:
    """The columns of ``benchmarks/results/NAME.csv``, the committed full run."""
    return read_csv(BENCHMARKS / "results" / f"{name}.csv")[0]


# The latest committed run of benchmarks/gpu.py's outputs: gpu_assign.csv is the
# H100 run from before the fused kernel added its columns.
GPU_RESULTS = {
    "gpu_assign": "gpu_assign_fused-h200",
    "gpu_fit": "gpu_fit",
    "gpu_default_fit": "gpu_default_fit_fused-h200",
}


def load_script(name: str) -> ModuleType:
    """Import ``benchmarks/NAME.py`` (it puts ``benchmarks/`` on sys.path itself)."""
    spec = importlib.util.spec_from_file_location(
        f"benchmark_{name}", BENCHMARKS / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(CASES))
def test_benchmark_script_writes_csv_and_figures(name, tmp_path):
    pytest.importorskip("matplotlib")
    case = CASES[name]
    for module in case.get("requires", []):
        pytest.importorskip(module)
    with threadpool_limits(1):
        status = load_script(name).main(["--quick", "--tiny", "--out", str(tmp_path)])
    assert status == 0

    header, rows = read_csv(tmp_path / f"{name}-quick.csv")
    assert header == committed_header(name)
    assert rows
    for row in rows:
        assert len(row) == len(header)
        for column, value in zip(header, row):
            if column in case.get("may_be_nan", []):
                assert not math.isinf(float(value)), (column, row)
            elif column not in case["text"]:
                assert math.isfinite(float(value)), (column, row)
    for figure in case["figures"]:
        path = tmp_path / figure
        assert path.is_file() and path.stat().st_size > 0, figure


def test_gpu_benchmark_runs_on_torch_cpu(tmp_path):
    """benchmarks/gpu.py runs end to end on torch's CPU build and writes finite tables."""
    pytest.importorskip("torch")
    with threadpool_limits(1):
        status = load_script("gpu").main(
            ["--tiny", "--device", "cpu", "--repeats", "1", "--fit-iters", "2"]
            + ["--out", str(tmp_path)]
        )
    assert status == 0
    for name, n_rows in [("gpu_assign", 4), ("gpu_fit", 1), ("gpu_default_fit", 1)]:
        header, rows = read_csv(tmp_path / f"{name}.csv")
        assert header == committed_header(GPU_RESULTS[name]), name
        assert len(rows) == n_rows, name
        numbers = [
            value
            for row in rows
            for value in row
            if value not in ("", "grid", "chunks")
        ]
        assert all(math.isfinite(float(value)) for value in numbers), (name, rows)
