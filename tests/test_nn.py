"""The VQ layer ``skwvq.nn.WassersteinQuantizer``: the peer layer's contract, its update, DDP."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skwvq import WassersteinVQ  # noqa: E402
from skwvq.metrics import codebook_utilization  # noqa: E402
from skwvq.nn import WassersteinQuantizer, gaussian_w2_loss  # noqa: E402

ALIGNMENTS = ["gaussian", "sliced"]


@pytest.fixture(params=ALIGNMENTS)
def alignment(request):
    return request.param


def features(*shape, shift=0.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator) + shift


def trained(alignment, steps=5, **kwargs):
    layer = WassersteinQuantizer(8, 32, alignment=alignment, random_state=0, **kwargs)
    for step in range(steps):
        layer(features(256, 8, seed=step))
    return layer


def test_eval_output_is_the_codes_of_the_indices(alignment):
    layer = trained(alignment).eval()
    z = features(4, 50, 8, seed=9).requires_grad_()
    quantized, indices, loss = layer(z)
    assert quantized.shape == z.shape and indices.shape == (4, 50)
    assert torch.equal(quantized, layer.get_output_from_indices(indices))
    # indices are the nearest codes (float64 reference)
    distances = torch.cdist(z.detach().double().reshape(-1, 8), layer.codebook.double())
    assert torch.equal(indices.reshape(-1), distances.argmin(1))
    expected = ((z.detach() - quantized.detach()) ** 2).mean()
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-5)


def test_gradients_reach_the_encoder_through_the_straight_through_path(alignment):
    layer = trained(alignment)
    encoder = torch.nn.Linear(8, 8)
    quantized, _, loss = layer(encoder(features(64, 8, seed=3)))
    (quantized.sum() + loss).backward()
    assert encoder.weight.grad is not None
    assert torch.count_nonzero(encoder.weight.grad) > 0
    assert not layer.codebook.requires_grad  # updated by statistics, not gradients


def test_a_mask_excludes_padding_from_the_update(alignment):
    padded, plain = trained(alignment), trained(alignment)
    z = features(2, 10, 8, seed=11)
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[0, :7] = True
    mask[1, :4] = True
    padded(z, mask=mask)
    plain(z[mask][None])
    torch.testing.assert_close(padded.codebook, plain.codebook)
    torch.testing.assert_close(padded.usage, plain.usage)
    by_lengths = trained(alignment)
    by_lengths(z, lens=torch.tensor([7, 4]))
    torch.testing.assert_close(by_lengths.codebook, plain.codebook)


def test_image_feature_maps_are_quantized_per_position():
    layer = WassersteinQuantizer(8, 32, accept_image_fmap=True, random_state=0)
    fmap = features(2, 8, 5, 6)
    quantized, indices, _ = layer(fmap)
    assert quantized.shape == fmap.shape and indices.shape == (2, 5, 6)
    layer.eval()
    quantized, indices, _ = layer(fmap)
    assert torch.equal(quantized, layer.get_output_from_indices(indices))
    torch.testing.assert_close(
        quantized[1, :, 3, 4], layer.codebook[indices[1, 3, 4]], rtol=0, atol=0
    )


def test_frozen_codebook_changes_nothing(alignment):
    layer = trained(alignment)
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    layer(features(256, 8, seed=20), freeze_codebook=True)
    for key, value in layer.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_state_dict_round_trip_continues_identically(alignment):
    layer = trained(alignment)
    twin = WassersteinQuantizer(8, 32, alignment=alignment, random_state=0)
    twin.load_state_dict(layer.state_dict())
    for name in ("codebook", "usage", "running_counts", "running_sums", "queue"):
        assert torch.equal(getattr(twin, name), getattr(layer, name)), name
    assert twin.utilization() == layer.utilization()


def test_the_update_is_the_estimators_step_on_the_running_statistics():
    # With g = 0 and no forgetting of the first batch, one training forward is
    # Lloyd's step from the given codebook: the codes move to their means.
    start = features(32, 8, seed=1)
    layer = WassersteinQuantizer(
        8, 32, init=start, alignment_weight=0.0, dead_code_threshold=0.0
    )
    z = features(512, 8, seed=2)
    layer(z)
    labels = torch.cdist(z.double(), start.double()).argmin(1)
    for k in range(32):
        rows = z[labels == k]
        expected = rows.mean(0) if len(rows) else start[k]
        torch.testing.assert_close(layer.codebook[k], expected, rtol=1e-5, atol=1e-5)


def test_dead_codes_move_onto_distinct_unmasked_rows_of_the_batch():
    # Half the codes stand far from every feature; with g = 0 nothing but
    # re-seeding can bring them back. Masked rows (marked at 50) must not be drawn.
    start = torch.cat([features(8, 8, seed=1), torch.full((8, 8), 1000.0)])
    layer = WassersteinQuantizer(8, 16, init=start, alignment_weight=0.0)
    z = features(4, 64, 8, seed=2)
    mask = torch.ones(4, 64, dtype=torch.bool)
    mask[:, 48:] = False
    z[~mask] = 50.0
    layer(z, mask=mask)
    moved = layer.codebook[8:]
    real_rows = z[mask]
    matches = (moved[:, None, :] == real_rows[None]).all(-1)
    assert matches.any(1).all(), "every dead code stands on a real row"
    assert len({tuple(code.tolist()) for code in moved}) == 8, "on distinct rows"
    assert torch.equal(layer.running_counts[8:], torch.ones(8, dtype=torch.float64))
    assert (layer.codebook[8:] != 50.0).any(1).all()


def test_layer_keeps_its_codes_where_plain_vq_collapses():
    # The paper's simulation: features N(8 * 1, I), codes initialised N(0, I).
    K, steps = 1024, 150
    start = features(K, 8, seed=0)
    layer = WassersteinQuantizer(8, K, init=start, random_state=0)
    plain = torch.nn.Parameter(start.clone())
    optimizer = torch.optim.SGD([plain], lr=1.0)
    for step in range(steps):
        z = features(1024, 8, shift=8.0, seed=step + 1)
        layer(z)
        nearest = torch.cdist(z, plain.detach()).argmin(1)
        optimizer.zero_grad()
        ((z - plain[nearest]) ** 2).sum(1).mean().backward()
        optimizer.step()
    test = features(20000, 8, shift=8.0, seed=10_000).numpy()
    assert codebook_utilization(test, plain.detach().numpy()) < 0.05
    assert codebook_utilization(test, layer.codebook.numpy()) >= 0.99


def test_usage_histogram_counts_an_epoch_and_resets():
    layer = WassersteinQuantizer(8, 4, init=torch.eye(4, 8) * 100, random_state=0)
    layer(torch.zeros(10, 8), freeze_codebook=True)
    assert layer.utilization() == 0.0
    layer(torch.eye(4, 8) * 100)
    assert layer.usage.sum() == 4
    assert layer.utilization() == 1.0 and layer.perplexity() == pytest.approx(4.0)
    assert layer.dead_codes().numel() == 0
    layer.reset_usage()
    assert layer.utilization() == 0.0 and layer.dead_codes().numel() == 4


def test_batch_metrics_match_skwvq_metrics():
    layer = trained("gaussian")
    z = features(300, 8, seed=40)
    codebook = layer.codebook.clone().numpy()
    layer(z)
    from skwvq import metrics

    assert layer.batch_metrics["E"] == pytest.approx(
        metrics.quantization_error(z.numpy(), codebook), rel=1e-5
    )
    assert layer.batch_metrics["U"] == metrics.codebook_utilization(z.numpy(), codebook)
    assert layer.batch_metrics["C"] == pytest.approx(
        metrics.codebook_perplexity(z.numpy(), codebook)
    )


def test_half_precision_features_are_quantized_in_float32():
    layer = trained("gaussian").eval()
    z = features(64, 8, seed=5)
    quantized, indices, _ = layer(z.to(torch.bfloat16))
    assert quantized.dtype == torch.bfloat16
    reference = torch.cdist(
        z.to(torch.bfloat16).float().double(), layer.codebook.double()
    )
    assert torch.equal(indices, reference.argmin(1))


def test_gaussian_w2_loss_against_scipy_sqrtm():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5, 5))
    cov = A @ A.T + np.eye(5)
    mean = rng.normal(size=5)
    codebook = rng.normal(size=(40, 5)) * 2 + 1
    code_mean = codebook.mean(0)
    code_cov = np.cov(codebook.T, bias=True)
    root = np.real(scipy_linalg.sqrtm(cov))
    cross = np.real(scipy_linalg.sqrtm(root @ code_cov @ root))
    expected = np.sum((mean - code_mean) ** 2) + np.trace(cov + code_cov - 2 * cross)
    got = gaussian_w2_loss(
        torch.as_tensor(mean), torch.as_tensor(cov), torch.as_tensor(codebook)
    )
    assert float(got) == pytest.approx(expected, rel=1e-8)


def test_gradient_variant_trains_the_codebook_by_the_optimizer():
    layer = WassersteinQuantizer(
        8, 16, init=features(16, 8, seed=1), update="gradient", alignment_weight=0.5
    )
    assert isinstance(layer.codebook, torch.nn.Parameter)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.1)
    for step in range(60):
        _, _, loss = layer(features(256, 8, shift=5.0, seed=step + 2))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    # The W2 term pulls the whole codebook to the features, so no code is left behind.
    test = features(4000, 8, shift=5.0, seed=99).numpy()
    assert codebook_utilization(test, layer.codebook.detach().numpy()) == 1.0


def test_round_trip_with_the_estimator():
    X = features(2000, 8, seed=3).numpy()
    fitted = WassersteinVQ(32, random_state=0).fit(X)
    layer = WassersteinQuantizer.from_estimator(fitted)
    np.testing.assert_array_equal(layer.codebook.numpy(), fitted.codebook_)
    assert layer.alignment == "sliced" and layer.alignment_weight == 0.05
    _, indices, _ = layer.eval()(torch.as_tensor(X))
    np.testing.assert_array_equal(indices.numpy(), fitted.predict(X))
    back = layer.to_estimator(X)
    np.testing.assert_array_equal(back.codebook_, fitted.codebook_)
    np.testing.assert_array_equal(back.labels_, fitted.labels_)
    assert back.score(X) == pytest.approx(fitted.score(X), rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(alignment="exact"), "alignment must be one of"),
        (dict(update="adam"), "update must be one of"),
        (dict(update="gradient", alignment="sliced"), "use alignment='gaussian'"),
        (dict(alignment_weight=2.0), r"alignment_weight must be in \[0, 1\]"),
        (dict(decay=1.0), r"decay must be in \[0, 1\)"),
        (dict(init=np.zeros((3, 8))), r"init has shape \(3, 8\), expected \(32, 8\)"),
    ],
)
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WassersteinQuantizer(8, 32, **kwargs)


@pytest.mark.parametrize(
    "x, kwargs, match",
    [
        (torch.zeros(4, 7), {}, r"expected \(B, 8\) or \(B, N, 8\)"),
        (
            torch.zeros(2, 3, 8),
            dict(mask=torch.ones(2, 4, dtype=torch.bool)),
            "mask has shape",
        ),
        (torch.zeros(10, 8), {}, "fewer than codebook_size=32"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(x, kwargs, match):
    layer = WassersteinQuantizer(8, 32, random_state=0)
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    with pytest.raises(ValueError, match=match):
        layer(x, **kwargs)
    for key, value in layer.state_dict().items():
        assert torch.equal(value, before[key]), key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("alignment", ALIGNMENTS)
def test_two_gloo_ranks_hold_the_single_process_codebook(alignment, tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    import ddp_worker

    worker = Path(ddp_worker.__file__)
    port = free_port()
    outputs = [tmp_path / f"rank{rank}.npz" for rank in range(2)]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                str(worker),
                str(rank),
                "2",
                str(port),
                str(out),
                alignment,
            ]
        )
        for rank, out in enumerate(outputs)
    ]
    try:
        codes = [process.wait(timeout=240) for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert codes == [0, 0]
    single = ddp_worker.make_layer(alignment)
    for batch, _ in ddp_worker.training_batches():
        single(batch)
    ranks = [np.load(out) for out in outputs]
    for saved in ranks:
        np.testing.assert_array_equal(saved["codebook"], ranks[0]["codebook"])
        np.testing.assert_allclose(
            saved["codebook"], single.codebook.numpy(), rtol=1e-5, atol=1e-5
        )
        np.testing.assert_allclose(saved["usage"], single.usage.numpy())
        np.testing.assert_allclose(
            saved["running_counts"], single.running_counts.numpy(), rtol=1e-9
        )


def test_the_layer_runs_on_cuda():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    layer = WassersteinQuantizer(8, 64, random_state=0).cuda()
    z = features(2048, 8).cuda()
    quantized, _, _ = layer(z.half())
    assert quantized.device.type == "cuda" and quantized.dtype == torch.float16
    layer.eval()
    _, indices, _ = layer(z)
    reference = torch.cdist(z.double(), layer.codebook.double()).argmin(1)
    assert torch.equal(indices, reference)
