"""pytest collection: modules and doctests that need an optional dependency run only where it is installed."""

import importlib.util

import pytest

HAVE_TORCH = importlib.util.find_spec("torch") is not None

collect_ignore = []
if importlib.util.find_spec("triton") is None:
    collect_ignore.append("skwvq/kernels/_triton.py")
if not HAVE_TORCH:
    collect_ignore += [
        "skwvq/kernels/_torch.py",
        "skwvq/nn",
        "skwvq/_reference_layers.py",
        "tests/ddp_worker.py",
    ]


def pytest_collection_modifyitems(config, items):
    """Skip the doctests whose examples use torch where torch is not installed."""
    if HAVE_TORCH:
        return
    skip = pytest.mark.skip(reason="the example needs torch")
    for item in items:
        examples = getattr(getattr(item, "dtest", None), "examples", ())
        if any("torch" in example.source for example in examples):
            item.add_marker(skip)
