"""The paper-reproduction benchmark scripts run end to end in their smallest mode.

Each test imports one script's ``main`` and runs it with ``--tiny`` (a hidden,
smaller-than-``--quick`` mode) into a temporary directory, then checks the CSV's
columns, that its numbers are finite, and that the figures were written.
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

CASES = {
    "paper_prototypical": dict(
        columns=[
            "experiment",
            "shift",
            "radius_ratio",
            "sqrt_E",
            "U",
            "C",
            "sqrt_E_sd",
            "U_sd",
            "C_sd",
            "n_seeds",
        ],
        text=["experiment"],
        figures=["paper_prototypical-quick.png"],
    ),
    "paper_atomic": dict(
        columns=[
            "family",
            "m",
            "method",
            "E",
            "U",
            "C",
            "W",
            "fit_s",
            "n_iter",
            "n_clusters",
            "n_samples",
            "note",
        ],
        text=["family", "method", "note"],
        figures=[
            "paper_atomic_gaussian-quick.png",
            "paper_atomic_uniform-quick.png",
        ],
    ),
    "paper_sweeps": dict(
        columns=[
            "sweep",
            "n_clusters",
            "n_features",
            "n_samples",
            "method",
            "E",
            "U",
            "C",
            "E_ratio_to_kmeans",
            "fit_s",
            "n_iter",
        ],
        text=["sweep", "method"],
        figures=["paper_sweeps-quick.png"],
    ),
    "real_data": dict(
        columns=[
            "data",
            "n_clusters",
            "method",
            "E",
            "U",
            "C",
            "PSNR_dB",
            "E_ratio_to_kmeans",
            "fit_s",
            "n_iter",
            "n_fit",
            "n_eval",
        ],
        text=["data", "method"],
        figures=["real_data-quick.png", "real_data_china-quick.png"],
    ),
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
    if name == "real_data":
        pytest.importorskip("PIL")  # scikit-learn reads its sample images with it
    case = CASES[name]
    with threadpool_limits(1):
        status = load_script(name).main(["--quick", "--tiny", "--out", str(tmp_path)])
    assert status == 0

    with (tmp_path / f"{name}-quick.csv").open(newline="") as file:
        reader = csv.reader(file)
        header = next(reader)
        rows = list(reader)
    assert header == case["columns"]
    assert rows
    for row in rows:
        assert len(row) == len(header)
        for column, value in zip(header, row):
            if column not in case["text"]:
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
        with (tmp_path / f"{name}.csv").open(newline="") as file:
            rows = list(csv.reader(file))[1:]
        assert len(rows) == n_rows, name
        numbers = [
            value
            for row in rows
            for value in row
            if value not in ("", "grid", "chunks")
        ]
        assert all(math.isfinite(float(value)) for value in numbers), (name, rows)
