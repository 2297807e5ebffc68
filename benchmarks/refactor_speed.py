"""Did a change make skwvq slower? The same workloads timed on two trees, alternated in one run.

The companion of ``equivalence.py`` (which asks whether a change altered
results): each workload (the fits of ``fit.py``, the kernels of ``assign.py``,
mini-batches, a stream, inference and the layer's step) runs in a fresh
subprocess per tree, compiled by a warm-up call and then timed ``--repeats``
times (the best kept); the trees alternate over ``--rounds`` rounds, first one
then the other, so that a busy spell on this shared machine falls on both.
The table gives the median of the rounds for each tree and their ratio, with
each tree's range, and goes to ``results/refactor_speed.csv``::

    git worktree add /tmp/previous <commit>
    python benchmarks/refactor_speed.py --before /tmp/previous

(about 30 minutes on 2 cores; ``--quick``: 3 rounds of the fits and kernels).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import add_output_options, format_table, machine_description, write_csv  # noqa: E402

HERE = Path(__file__).resolve().parent.parent

_FIT = """
import numpy as np
from skwvq import WassersteinVQ
rng = np.random.default_rng(0)
X = rng.normal(size=(100_000, 64)).astype(np.float32)
init = X[rng.choice(len(X), 1024, replace=False)]
def go():
    WassersteinVQ(1024, alignment="{alignment}", init=init, max_iter=10, tol=0,
                  random_state=0).fit(X)
"""
_KERNEL = """
import numpy as np
try:
    from skwvq.kernels import nearest_codes
except ImportError:  # trees before the kernels were one subpackage
    from skwvq.assignment import nearest_codes
rng = np.random.default_rng(0)
X = rng.normal(size=(200_000, {d})).astype(np.float32)
C = rng.normal(size=(1024, {d})).astype(np.float32)
def go():
    nearest_codes(X, C)
"""
_LAYER = """
import torch
torch.set_num_threads(2)
from skwvq.nn import WassersteinQuantizer
g = torch.Generator().manual_seed(0)
layer = WassersteinQuantizer(16, 1024, alignment="{alignment}", random_state=0)
batches = [torch.randn(8192, 16, generator=g) + 2 for _ in range(10)]
layer(batches[0])
def go():
    for z in batches:
        layer(z)
"""
WORKLOADS = {
    "fit N=1e5 d=64 K=1024 sliced, 10 iterations": _FIT.format(alignment="sliced"),
    "fit N=1e5 d=64 K=1024 gaussian, 10 iterations": _FIT.format(alignment="gaussian"),
    "default fit from a far start, d=8 N=2e5 K=1024": """
import numpy as np
from skwvq import WassersteinVQ
from skwvq.datasets import mismatched_gaussian
X, init = mismatched_gaussian(n_samples=200_000, n_features=8, n_clusters=1024,
                              shift=8.0, random_state=0)
X, init = X.astype(np.float32), init.astype(np.float32)
def go():
    WassersteinVQ(1024, init=init, random_state=0).fit(X)
""",
    "default fit of the digits, K=128": """
from sklearn.datasets import load_digits
from skwvq import WassersteinVQ
X = load_digits().data
def go():
    WassersteinVQ(128, random_state=0).fit(X)
""",
    "mini-batch fit N=2e5 d=16 K=256, 3 epochs": """
import numpy as np
from skwvq import WassersteinVQ
X = np.random.default_rng(0).normal(size=(200_000, 16)).astype(np.float32)
def go():
    WassersteinVQ(256, batch_size=4096, max_iter=3, random_state=0).fit(X)
""",
    "partial_fit 40 batches of 5000, d=16 K=256": """
import numpy as np
from skwvq import WassersteinVQ
X = np.random.default_rng(0).normal(size=(200_000, 16)).astype(np.float32)
def go():
    vq = WassersteinVQ(256, random_state=0)
    for start in range(0, 200_000, 5000):
        vq.partial_fit(X[start : start + 5000])
""",
    "predict, transform, score N=2e5 d=64 K=1024": """
import numpy as np
from skwvq import WassersteinVQ
X = np.random.default_rng(0).normal(size=(200_000, 64)).astype(np.float32)
vq = WassersteinVQ(1024, max_iter=1, random_state=0).fit(X[:20000])
def go():
    vq.predict(X); vq.transform(X); vq.score(X)
""",
    "nearest codes N=2e5 d=8 K=1024 (fused)": _KERNEL.format(d=8),
    "nearest codes N=2e5 d=64 K=1024 (BLAS)": _KERNEL.format(d=64),
    "layer, 10 steps, K=1024 d=16 batch 8192, sliced": _LAYER.format(
        alignment="sliced"
    ),
    "layer, 10 steps, K=1024 d=16 batch 8192, gaussian": _LAYER.format(
        alignment="gaussian"
    ),
}
QUICK = list(WORKLOADS)[:2] + list(WORKLOADS)[7:9]

_RUNNER = """
import json, time
{setup}
go()  # warm-up: compiles the kernels
times = []
for _ in range({repeats}):
    start = time.perf_counter()
    go()
    times.append(time.perf_counter() - start)
print(json.dumps(min(times)))
"""


def best_time(tree: Path, setup: str, repeats: int) -> float:
    """The best of ``repeats`` timed calls of ``go()``, in a fresh process importing skwvq from ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER.format(setup=setup, repeats=repeats)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tree,
    )
    if done.returncode:
        raise RuntimeError(f"{tree}: {done.stderr}")
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--before", type=Path, required=True, help="checkout of the earlier tree"
    )
    parser.add_argument(
        "--after", type=Path, default=HERE, help="checkout of the later tree"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="3 rounds, 4 workloads")
    parser.add_argument(
        "--only", default="", help="run the workloads whose names contain this text"
    )
    add_output_options(parser)
    args = parser.parse_args(argv)
    names = [n for n in (QUICK if args.quick else WORKLOADS) if args.only in n]
    rounds = 3 if args.quick else args.rounds
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    print(machine_description())
    print(f"before: {trees['before']}\nafter:  {trees['after']}")
    header = [
        "workload",
        "before s",
        "after s",
        "after/before",
        "before range",
        "after range",
    ]
    rows = []
    for name in names:
        seconds = {"before": [], "after": []}
        for r in range(rounds):
            for tree in ("before", "after") if r % 2 == 0 else ("after", "before"):
                seconds[tree].append(
                    best_time(trees[tree], WORKLOADS[name], args.repeats)
                )
        before, after = (statistics.median(seconds[t]) for t in ("before", "after"))
        ranges = [f"{min(seconds[t]):.3f}-{max(seconds[t]):.3f}" for t in trees]
        rows.append([name, before, after, after / before, *ranges])
        print(format_table(header, rows[-1:]).splitlines()[-1], flush=True)
    print(format_table(header, rows))
    name = "refactor_speed-quick" if args.quick or args.only else "refactor_speed"
    print(f"wrote {write_csv(name, header, rows, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
