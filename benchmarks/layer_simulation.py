"""The paper's fixed-distribution simulation, run with VQ layers: who keeps their codes.

No encoder: every step draws a fresh batch of 1,024 features from N(mu * 1, I)
in d = 8 and hands it to the layer, whose codebook starts N(0, I) (the same
draw for every arm). After the steps, E, U and C are measured on fresh
features, 64 per code and at least 100,000; E is also given relative to
k-means on the same distribution (faiss ``Kmeans`` when installed, else
scikit-learn's ``KMeans``, fitted on 100 rows per code of N(0, I) and evaluated
on held-out rows; a shift does not change it). The layers see 2,000 fresh
batches, more rows than k-means is fitted on, so a ratio below 1 is possible.

Arms:

- ``skwvq``: ``skwvq.nn.WassersteinQuantizer`` with its defaults;
- ``skwvq (gradient)``: its ``update="gradient"`` variant (the paper's: the
  codebook trained by Adam, lr 1e-2, on the codebook loss plus ``g W^2``);
- ``plain VQ``: ``skwvq._reference_layers.StraightThroughVQ``, the codebook a
  parameter trained by SGD (lr 1.0 on the codebook loss ``||sg(z) - q||^2``,
  a mean over rows and features), no re-seeding;
- ``EMA VQ``: ``skwvq._reference_layers.EmaVQ``, exponential moving averages
  of counts and sums (decay 0.99), Laplace-smoothed, as in VQ-VAE-2;
- ``VectorQuantize``: vector-quantize-pytorch's layer with its defaults (EMA,
  decay 0.8), and with ``threshold_ema_dead_code=2`` (dead codes replaced by
  batch features), when that package is installed.

Run: ``python benchmarks/layer_simulation.py`` (K = 1024 and 16,384, mu in
{0, 2, 4, 8}, 2,000 steps: about an hour on 2 cores), ``--codebook-sizes 1024``
for the smaller half, ``--methods skwvq "skwvq (gradient)"`` for chosen arms,
or ``--quick`` (K = 256, 300 steps, mu in {0, 8}). Writes
results/layer_simulation.csv, the utilization curves (U of max(10,000, 8 K) probe
features every 1/20 of the steps, untimed) in results/layer_simulation-curves.csv
and their figure docs/figures/layer_simulation.png (``-quick`` suffix in quick
mode; ``--out DIR`` puts all of them in DIR).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import _common
from _common import format_table, machine_description

from skwvq._reference_layers import EmaVQ, StraightThroughVQ
from skwvq.metrics import codebook_perplexity, codebook_utilization, quantization_error
from skwvq.nn import WassersteinQuantizer

NAME = "layer_simulation"
DIM, BATCH = 8, 1024
HEADER = [
    "n_clusters",
    "mu",
    "method",
    "steps",
    "E",
    "U",
    "C",
    "E_ratio_to_kmeans",
    "seconds",
    "ms_per_step",
]


class Layer:
    """An ``nn.Module`` layer called on each batch (optionally with an optimizer)."""

    def __init__(self, module, codes, optimizer=None):
        self.module, self._codes, self.optimizer = module, codes, optimizer

    def __call__(self, z):
        _, _, loss = self.module(z)
        if self.optimizer is not None:
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()

    def codes(self):
        return self._codes(self.module).detach()


def peer_layer(init, **kwargs):
    from vector_quantize_pytorch import VectorQuantize

    layer = VectorQuantize(DIM, init.shape[0], **kwargs)
    with torch.no_grad():
        layer._codebook.embed.copy_(init[None])
        layer._codebook.embed_avg.copy_(init[None])
    return Layer(layer, lambda m: m._codebook.embed[0])


def codebook_of(module):
    return module.codebook


def arms(init, seed):
    """(name, runner) of every arm, each from the same initial codebook."""
    result = [
        (
            "skwvq",
            Layer(
                WassersteinQuantizer(DIM, init.shape[0], init=init, random_state=seed),
                codebook_of,
            ),
        ),
    ]
    gradient = WassersteinQuantizer(
        DIM, init.shape[0], init=init, update="gradient", random_state=seed
    )
    result.append(
        (
            "skwvq (gradient)",
            Layer(
                gradient, codebook_of, torch.optim.Adam(gradient.parameters(), lr=1e-2)
            ),
        )
    )
    plain = StraightThroughVQ(init)
    result += [
        (
            "plain VQ",
            Layer(plain, codebook_of, torch.optim.SGD(plain.parameters(), lr=1.0)),
        ),
        ("EMA VQ", Layer(EmaVQ(init), codebook_of)),
    ]
    try:
        result += [
            ("VectorQuantize", peer_layer(init)),
            (
                "VectorQuantize (dead-code expiry)",
                peer_layer(init, threshold_ema_dead_code=2),
            ),
        ]
    except ImportError:
        print("vector-quantize-pytorch is not installed: its arms are skipped")
    return result


def kmeans_error(n_clusters: int, seed: int) -> float:
    """Held-out E of k-means on N(0, I) (100 rows per code to fit)."""
    rng = np.random.default_rng(seed + 1000)
    fit = rng.normal(size=(100 * n_clusters, DIM)).astype(np.float32)
    held_out = rng.normal(size=(100_000, DIM)).astype(np.float32)
    try:
        import faiss

        kmeans = faiss.Kmeans(DIM, n_clusters, niter=50, seed=seed, verbose=False)
        kmeans.train(fit)
        centres = kmeans.centroids
    except ImportError:
        from sklearn.cluster import KMeans

        centres = (
            KMeans(n_clusters, n_init=1, random_state=seed).fit(fit).cluster_centers_
        )
    return quantization_error(held_out, centres)


def run(
    cluster_sizes: Sequence[int],
    mus: Sequence[float],
    steps: int,
    seed: int,
    methods: Sequence[str] = (),
) -> tuple[list[list[object]], list[list[object]]]:
    """Result rows (one per K, mu and arm) and utilization curves (U of max(10,000, 8 K) probe features every ``steps / 20`` steps, untimed).

    ``methods`` runs only the arms of those names (all when empty).
    """
    rows, curves = [], []
    probe_every = max(1, steps // 20)
    for n_clusters in cluster_sizes:
        reference = kmeans_error(n_clusters, seed)
        for mu in mus:
            generator = torch.Generator().manual_seed(seed)
            init = torch.randn(n_clusters, DIM, generator=generator)
            batches = [
                torch.randn(BATCH, DIM, generator=generator) + mu for _ in range(steps)
            ]
            # 64 rows per code, 100,000 at least: with fewer, codes of small
            # cells show as unused although features do reach them.
            n_test = max(100_000, 64 * n_clusters)
            test = (torch.randn(n_test, DIM, generator=generator) + mu).numpy()
            # 8 rows per code at least: 10,000 probe rows cannot reach all of 16,384 codes.
            probe = test[: max(10_000, 8 * n_clusters)]
            for name, runner in arms(init, seed):
                if methods and name not in methods:
                    continue
                torch.manual_seed(seed)
                elapsed = 0.0
                for step, batch in enumerate(batches):
                    if step % probe_every == 0:
                        U = codebook_utilization(probe, runner.codes().numpy())
                        curves.append([n_clusters, mu, name, step, U])
                    start = time.perf_counter()
                    runner(batch)
                    elapsed += time.perf_counter() - start
                codes = runner.codes().numpy()
                curves.append(
                    [n_clusters, mu, name, steps, codebook_utilization(probe, codes)]
                )
                E = quantization_error(test, codes)
                rows.append(
                    [
                        n_clusters,
                        mu,
                        name,
                        steps,
                        E,
                        codebook_utilization(test, codes),
                        codebook_perplexity(test, codes),
                        E / reference,
                        elapsed,
                        1000 * elapsed / steps,
                    ]
                )
                print(
                    f"  K={n_clusters} mu={mu} {name}: U={rows[-1][5]:.4f} "
                    f"E/E_kmeans={rows[-1][7]:.3f}",
                    flush=True,
                )
    return rows, curves


def plot_curves(curves: list[list[object]], path: Path) -> Path | None:
    """U over training at the largest shift, one panel per codebook size."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: figure skipped")
        return None
    sizes = sorted({c[0] for c in curves})
    mu = max(c[1] for c in curves)
    fig, axes = plt.subplots(
        1, len(sizes), figsize=(5.5 * len(sizes), 4), squeeze=False
    )
    for ax, n_clusters in zip(axes[0], sizes):
        for name in dict.fromkeys(c[2] for c in curves):
            points = [(c[3], c[4]) for c in curves if c[:3] == [n_clusters, mu, name]]
            if points:
                x, y = np.array(points).T
                ax.plot(x, y, marker=".", label=name)
        ax.set_title(f"K = {n_clusters}, features N({mu:g}·1, I), codes from N(0, I)")
        ax.set_xlabel("training step (batches of 1,024)")
        ax.set_ylabel("codebook utilization U")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options (``--tiny``, hidden, is for the tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="K=256, 300 steps")
    parser.add_argument("--codebook-sizes", type=int, nargs="+", default=[1024, 16384])
    parser.add_argument("--mus", type=float, nargs="+", default=[0.0, 2.0, 4.0, 8.0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    _common.add_methods_option(parser)
    _common.add_output_options(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulation, print its table and write the CSV; return 0."""
    args = parse_args(argv)
    quick = args.quick or args.tiny
    sizes, mus, steps = args.codebook_sizes, args.mus, args.steps
    if args.tiny:
        sizes, mus, steps = [32], [8.0], 20
    elif args.quick:
        sizes, mus, steps = [256], [0.0, 8.0], 300
    print(machine_description())
    rows, curves = run(sizes, mus, steps, args.seed, args.methods)
    print(format_table(HEADER, rows))
    name = NAME + ("-quick" if quick else "")
    print("wrote", _common.write_csv(name, HEADER, rows, args.out))
    print(
        "wrote",
        _common.write_csv(
            name + "-curves",
            ["n_clusters", "mu", "method", "step", "U"],
            curves,
            args.out,
        ),
    )
    figures = _common.FIGURES if args.out is None else Path(args.out)
    figures.mkdir(parents=True, exist_ok=True)
    print("wrote", plot_curves(curves, figures / f"{name}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
