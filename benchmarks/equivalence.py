"""Fixed fits compared with those of a reference release: did a refactor change behaviour?

Each case fits one alignment in one way (full batch, ``batch_size`` mini-batches, a
``partial_fit`` stream) on one backend (numpy, torch on the CPU) with fixed seeds.
``--save FILE`` writes every codebook and its E, U, C to an ``.npz``; ``--against
FILE`` fits the same cases with the installed skwvq and prints, per case, the
largest codebook difference from the reference, whether it is bit-identical, and
E, U, C before and after.

Where the installed release changed a rule on purpose (the running statistics'
forgetting rate and the stopping rule), the case is also fitted with the parameters that
reproduce the previous rule (``PREVIOUS_RULE``), so that the refactor itself and
the change of default are judged apart.

Bit-identity holds only against a reference recorded on the same kind of CPU:
OpenBLAS picks its kernels by CPU, so the committed reference (recorded on an
Intel Xeon) differs in the last bits (up to 2e-15) from the same release run on an
AMD EPYC. To compare on another machine, record the previous release there first::

    git worktree add /tmp/previous <commit>
    (cd /tmp/previous && PYTHONPATH=. python benchmarks/equivalence.py --save /tmp/ref.npz)
    python benchmarks/equivalence.py --against /tmp/ref.npz

Run: ``python benchmarks/equivalence.py --against
benchmarks/results/equivalence-0.1.0.npz`` (about 20 s on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import format_table, machine_description  # noqa: E402

from skwvq import WassersteinVQ  # noqa: E402
from skwvq.datasets import mismatched_gaussian  # noqa: E402
from skwvq.metrics import (  # noqa: E402
    codebook_perplexity,
    codebook_utilization,
    quantization_error,
)

ALIGNMENTS = ("gaussian", "sliced", "exact")
WAYS = ("full", "minibatch", "partial_fit")
N_SAMPLES, N_CLUSTERS, BATCH = 3000, 32, 500
# Parameters that make this release run the previous release's mini-batch rule:
# statistics that forget over one epoch (fit) or never (partial_fit), and no
# smoothed-error stopping.
PREVIOUS_RULE = {
    "minibatch": {"stats_horizon": N_SAMPLES, "max_no_improvement": None},
    "partial_fit": {"stats_horizon": np.inf},
}


def backends() -> list[str]:
    try:
        import torch  # noqa: F401
    except ImportError:
        return ["numpy"]
    return ["numpy", "torch"]


def fit_case(alignment: str, way: str, backend: str, extra: dict) -> np.ndarray:
    X, init = mismatched_gaussian(
        n_samples=N_SAMPLES, n_clusters=N_CLUSTERS, shift=3.0, random_state=0
    )
    params = dict(
        n_clusters=N_CLUSTERS,
        alignment=alignment,
        init=init,
        max_iter=15,
        random_state=0,
        backend=backend,
        device="cpu" if backend == "torch" else None,
    )
    if way == "minibatch":
        params["batch_size"] = BATCH
    vq = WassersteinVQ(**params)
    known = vq.get_params()
    vq.set_params(**{k: v for k, v in extra.items() if k in known})
    if way == "partial_fit":
        for _ in range(2):
            for start in range(0, N_SAMPLES, BATCH):
                vq.partial_fit(X[start : start + BATCH])
    else:
        vq.fit(X)
    return np.asarray(vq.codebook_), X


def scores(codebook, X) -> tuple[float, float, float]:
    return (
        quantization_error(X, codebook),
        codebook_utilization(X, codebook),
        codebook_perplexity(X, codebook),
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path, help="write the reference .npz here")
    group.add_argument("--against", type=Path, help="compare with this reference")
    args = parser.parse_args(argv)
    print(machine_description())
    reference = dict(np.load(args.against)) if args.against else {}
    saved, rows = {}, []
    for backend in backends():
        for alignment in ALIGNMENTS:
            for way in WAYS:
                name = f"{backend}/{alignment}/{way}"
                variants = [("default", {})]
                if args.against and way in PREVIOUS_RULE:
                    variants.append(("previous rule", PREVIOUS_RULE[way]))
                for variant, extra in variants:
                    codebook, X = fit_case(alignment, way, backend, extra)
                    saved[name] = codebook
                    if not args.against:
                        continue
                    if name not in reference:
                        rows.append([name, variant, "no reference", "", "", ""])
                        continue
                    before = reference[name]
                    difference = float(np.max(np.abs(codebook - before)))
                    e0, u0, c0 = scores(before, X)
                    e1, u1, c1 = scores(codebook, X)
                    rows.append(
                        [
                            name,
                            variant,
                            f"{difference:.3g}",
                            "yes" if np.array_equal(codebook, before) else "no",
                            f"{e0:.4f} / {u0:.3f} / {c0:.1f}",
                            f"{e1:.4f} / {u1:.3f} / {c1:.1f}",
                        ]
                    )
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.save, **saved)
        print(f"wrote {len(saved)} codebooks to {args.save}")
        return 0
    header = ["case", "rule", "max |dC|", "identical", "E / U / C before", "after"]
    print(format_table(header, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
