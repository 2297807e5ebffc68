"""The paper's prototypical study: E, U and C of a fixed codebook against a data disk.

No learning takes place. The data are 10,000 points drawn uniformly from the unit
disk centred at (1.4, 0); the codebook is 400 points drawn uniformly from a disk
that is either shifted (centre (m, 0), m from -0.6 to 1.4, radius 1) or rescaled
(centre (1.4, 0), radius = ratio x the data's radius). sqrt(E), U and C
(``skwvq.metrics``) are averaged over 5 seeds and printed next to the paper's
figures (Fang et al., 2025): exact match sqrt(E) = 0.05, U = 100%, C = 344.9;
high mismatch (m = -0.6) 1.19, 2%, 3.8; codebook support smaller than the data's
C = 63.2; larger U = 45.3%. The radius ratios that reproduce the last two are
found by interpolation on the measured curves.

Run: ``python benchmarks/paper_prototypical.py`` (a few seconds on 2 cores) or
with ``--quick`` (2 seeds, coarser grids). Writes results/paper_prototypical.csv
and docs/figures/paper_prototypical.png (``-quick`` suffix in quick mode;
``--out DIR`` puts both in DIR).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _common
from _common import format_table, machine_description

from skwvq.metrics import (
    codebook_perplexity,
    codebook_utilization,
    quantization_error,
)

NAME = "paper_prototypical"
DATA_CENTRE = 1.4
HEADER = [
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
]
# The paper's reported figures: (sqrt(E), U, C); None where it gives no number.
PAPER = {
    "exact match (m=1.4, ratio 1)": (0.05, 1.00, 344.9),
    "high mismatch (m=-0.6)": (1.19, 0.02, 3.8),
    "codebook support smaller than the data's": (None, None, 63.2),
    "codebook support larger than the data's": (None, 0.453, None),
}


def uniform_disk(
    n_points: int, centre: float, radius: float, rng: np.random.Generator
) -> np.ndarray:
    """Points drawn uniformly from the disk of ``radius`` centred at ``(centre, 0)``.

    Parameters
    ----------
    n_points : int
    centre : float
        First coordinate of the centre; the second is 0.
    radius : float
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n_points, 2)
    """
    r = radius * np.sqrt(rng.random(n_points))
    theta = 2.0 * np.pi * rng.random(n_points)
    return np.column_stack([centre + r * np.cos(theta), r * np.sin(theta)])


def measure(X: np.ndarray, codebook: np.ndarray) -> tuple[float, float, float]:
    """sqrt(E), U and C of ``codebook`` on ``X``."""
    return (
        float(np.sqrt(quantization_error(X, codebook))),
        codebook_utilization(X, codebook),
        codebook_perplexity(X, codebook),
    )


def run_case(
    shift: float,
    ratio: float,
    seeds: Sequence[int],
    n_samples: int,
    n_codes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over seeds of (sqrt(E), U, C) for one codebook disk.

    Parameters
    ----------
    shift : float
        First coordinate of the codebook disk's centre.
    ratio : float
        Codebook radius over data radius (the data disk has radius 1).
    seeds : sequence of int
        One fresh draw of data and codebook per seed.
    n_samples, n_codes : int

    Returns
    -------
    mean, sd : ndarray of shape (3,)
    """
    values = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        X = uniform_disk(n_samples, DATA_CENTRE, 1.0, rng)
        codebook = uniform_disk(n_codes, shift, ratio, rng)
        values.append(measure(X, codebook))
    values = np.asarray(values)
    return values.mean(axis=0), values.std(axis=0)


def sweep(
    shifts: Sequence[float],
    ratios: Sequence[float],
    seeds: Sequence[int],
    n_samples: int,
    n_codes: int,
) -> list[list]:
    """CSV rows: the shift sweep (ratio 1), then the radius sweep (no shift)."""
    cases = [("shift", float(m), 1.0) for m in shifts]
    cases += [("radius", DATA_CENTRE, float(r)) for r in ratios]
    rows = []
    for experiment, shift, ratio in cases:
        mean, sd = run_case(shift, ratio, seeds, n_samples, n_codes)
        rows.append(
            [experiment, shift, ratio, *map(float, mean), *map(float, sd), len(seeds)]
        )
    return rows


def crossing(xs: np.ndarray, ys: np.ndarray, level: float) -> float:
    """First x at which the piecewise-linear curve (xs, ys) reaches ``level`` (NaN if none)."""
    for i in range(len(xs) - 1):
        lo, hi = sorted((ys[i], ys[i + 1]))
        if lo <= level <= hi and ys[i] != ys[i + 1]:
            t = (level - ys[i]) / (ys[i + 1] - ys[i])
            return float(xs[i] + t * (xs[i + 1] - xs[i]))
    return float("nan")


def paper_comparison(rows: list[list]) -> tuple[list[list], dict[str, float]]:
    """The paper's four reference cases next to the measured ones.

    The two support-mismatch cases give no radius ratio in the paper: the ratio
    whose measured C (smaller support) or U (larger support) equals the paper's
    figure is found by linear interpolation along the radius sweep, and the
    nearest grid point is shown.

    Returns
    -------
    table : list of rows (case, quantity, paper, measured, at)
    ratios : dict
        The interpolated ratios, keys ``"smaller"`` and ``"larger"``.
    """
    shift_rows = {r[1]: r for r in rows if r[0] == "shift"}
    radius = sorted((r for r in rows if r[0] == "radius"), key=lambda r: r[2])
    small = [r for r in radius if r[2] < 1.0]
    large = [r for r in radius if r[2] > 1.0]
    found = {
        "smaller": crossing(
            np.array([r[2] for r in small]), np.array([r[5] for r in small]), 63.2
        ),
        "larger": crossing(
            np.array([r[2] for r in large]), np.array([r[4] for r in large]), 0.453
        ),
    }
    exact = next((r for r in radius if r[2] == 1.0), None)
    mismatch = shift_rows.get(min(shift_rows)) if shift_rows else None
    chosen = {
        "exact match (m=1.4, ratio 1)": (exact, "m=1.4, ratio 1"),
        "high mismatch (m=-0.6)": (
            mismatch,
            f"m={mismatch[1]:.2g}" if mismatch else "",
        ),
    }
    for key, case in (
        ("smaller", "codebook support smaller than the data's"),
        ("larger", "codebook support larger than the data's"),
    ):
        value = found[key]
        pool = small if key == "smaller" else large
        if pool and np.isfinite(value):
            nearest = min(pool, key=lambda r: abs(r[2] - value))
            chosen[case] = (nearest, f"ratio {nearest[2]:.3g} (match at {value:.3g})")
        elif pool:
            chosen[case] = (pool[0], f"ratio {pool[0][2]:.3g} (no match on grid)")
    table = []
    for case, paper in PAPER.items():
        row, where = chosen.get(case, (None, ""))
        if row is None:
            continue
        for quantity, reference, measured in zip(
            ("sqrt(E)", "U", "C"), paper, row[3:6]
        ):
            table.append(
                [
                    case,
                    quantity,
                    "-" if reference is None else reference,
                    measured,
                    where,
                ]
            )
    return table, found


def plot(rows: list[list], path: Path) -> Path | None:
    """Two rows of panels (sqrt(E), U, C against shift, then against radius ratio)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: figure skipped")
        return None
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5), constrained_layout=True)
    labels = ("sqrt(E)", "U", "C")
    for row_axes, experiment, x_index, x_label in (
        (axes[0], "shift", 1, "codebook centre m (data centre 1.4)"),
        (axes[1], "radius", 2, "codebook radius / data radius"),
    ):
        subset = sorted(
            (r for r in rows if r[0] == experiment), key=lambda r: r[x_index]
        )
        x = np.array([r[x_index] for r in subset])
        for j, ax in enumerate(row_axes):
            mean = np.array([r[3 + j] for r in subset])
            sd = np.array([r[6 + j] for r in subset])
            ax.errorbar(x, mean, yerr=sd, marker="o", ms=4, label="measured (skwvq)")
            ax.set_xlabel(x_label)
            ax.set_ylabel(labels[j])
            ax.grid(alpha=0.3)
            if experiment == "radius":
                ax.set_xscale("log")
                ticks = [t for t in (0.25, 0.5, 1.0, 1.5, 2.0) if x[0] <= t <= x[-1]]
                ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
                ax.minorticks_off()
    paper_points = {0: (0.05, 1.19), 1: (1.00, 0.02), 2: (344.9, 3.8)}
    for j, (exact, mismatch) in paper_points.items():
        axes[0, j].plot([1.4, -0.6], [exact, mismatch], "r*", ms=12, label="paper")
        axes[1, j].plot([1.0], [exact], "r*", ms=12, label="paper (exact match)")
    axes[1, 2].axhline(63.2, color="r", ls="--", label="paper: smaller support")
    axes[1, 1].axhline(0.453, color="r", ls=":", label="paper: larger support")
    for ax in axes.ravel():
        ax.legend(fontsize=7)
    fig.suptitle(
        "Prototypical study: 10,000 points uniform in the unit disk at (1.4, 0), "
        "400 codes uniform in a shifted or rescaled disk"
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options (``--tiny``, hidden, is for the tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="2 seeds and coarser grids"
    )
    _common.add_output_options(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study, print the tables and write the CSV and the figure.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments (``sys.argv[1:]`` when None).

    Returns
    -------
    int
        Exit status (0).
    """
    args = parse_args(argv)
    quick = args.quick or args.tiny
    n_samples, n_codes = 10000, 400
    if args.tiny:
        shifts, ratios, seeds = (-0.6, 0.4, 1.4), (0.5, 1.0, 2.0), (0,)
    elif quick:
        shifts = np.round(np.arange(-0.6, 1.41, 0.4), 2)
        ratios, seeds = (0.25, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0), (0, 1)
    else:
        shifts = np.round(np.arange(-0.6, 1.41, 0.2), 2)
        ratios = (0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
        seeds = (0, 1, 2, 3, 4)
    print(machine_description())
    print(
        f"{n_samples} data points, {n_codes} codes, mean (sd) over {len(seeds)} seeds"
    )
    rows = sweep(shifts, ratios, seeds, n_samples, n_codes)
    for experiment, title in (
        ("shift", "Shifted codebook disk (radius 1), data disk centred at 1.4"),
        ("radius", "Rescaled codebook disk (same centre), data radius 1"),
    ):
        subset = [r for r in rows if r[0] == experiment]
        print(f"\n{title}")
        print(
            format_table(
                [
                    "shift m",
                    "radius ratio",
                    "sqrt(E)",
                    "U",
                    "C",
                    "sd sqrt(E)",
                    "sd U",
                    "sd C",
                ],
                [r[1:9] for r in subset],
            )
        )
    table, found = paper_comparison(rows)
    print("\nAgainst the paper's figures")
    print(format_table(["case", "quantity", "paper", "measured", "at"], table))
    print(
        f"C = 63.2 is reached at radius ratio {found['smaller']:.3g}; "
        f"U = 45.3% at radius ratio {found['larger']:.3g}."
    )
    suffix = "-quick" if quick else ""
    results = args.out or _common.RESULTS
    figures = args.out or _common.FIGURES
    print(f"\nwrote {_common.write_csv(NAME + suffix, HEADER, rows, results)}")
    figures.mkdir(parents=True, exist_ok=True)
    figure = plot(rows, figures / f"{NAME}{suffix}.png")
    if figure is not None:
        print(f"wrote {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
