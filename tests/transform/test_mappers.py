"""Mappers and analyzers pinned to TF.Transform's documented values (REFERENCE.md 1.2)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import tensorbridge.transform as tbt

tf = pytest.importorskip("tensorflow")


def test_scale_to_z_score_nan_and_zero_variance(transform_run, tmp_path: Path) -> None:
    table = pa.table({"x": pa.array([1.0, math.nan, math.nan, 2.0]), "c": [4.0, 4.0, 4.0, 4.0]})
    out, output = transform_run(
        lambda i: {"z": tbt.scale_to_z_score(i["x"]), "zc": tbt.scale_to_z_score(i["c"])},
        table,
        tmp_path,
    )
    z = out.column("z").to_pylist()
    assert z[0] == pytest.approx(-1.0) and z[3] == pytest.approx(1.0)
    assert math.isnan(z[1]) and math.isnan(z[2])
    assert out.column("zc").to_pylist() == [0.0, 0.0, 0.0, 0.0]  # x - mean when std == 0
    stats = output.analyzer_results["mean_and_var_x"]
    assert float(stats["mean"]) == pytest.approx(1.5) and float(stats["var"]) == pytest.approx(0.25)


def test_mean_and_var_of_1_to_100_with_nans(transform_run, tmp_path: Path) -> None:
    values = [float(v) for v in range(1, 101)] + [math.nan] * 10
    table = pa.table({"x": values})
    _, output = transform_run(
        lambda i: {"m": i["x"] - tbt.mean(i["x"]), "v": i["x"] * 0 + tbt.var(i["x"])},
        table,
        tmp_path,
    )
    results = output.analyzer_results
    assert float(results["mean_and_var_x"]["mean"]) == pytest.approx(50.5)
    assert float(results["mean_and_var_x_1"]["var"]) == pytest.approx(833.25)


def test_scale_by_min_max_and_sigmoid_fallback(transform_run, tmp_path: Path) -> None:
    table = pa.table({"x": [1.0, 3.0, 5.0], "c": [4.0, 4.0, 4.0]})
    out, _ = transform_run(
        lambda i: {
            "s": tbt.scale_to_0_1(i["x"]),
            "r": tbt.scale_by_min_max(i["c"], output_min=0.0, output_max=10.0),
        },
        table,
        tmp_path,
    )
    assert out.column("s").to_pylist() == pytest.approx([0.0, 0.5, 1.0])
    assert out.column("r").to_pylist() == pytest.approx([9.8201379] * 3)  # 10 * sigmoid(4)


def test_scale_by_min_max_rejects_bad_range(transform_run, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="output_min must be less than output_max"):
        transform_run(
            lambda i: {"r": tbt.scale_by_min_max(i["x"], 1.0, 1.0)},
            pa.table({"x": [1.0]}),
            tmp_path,
        )


def test_vocabulary_order_threshold_top_k_and_oov(transform_run, tmp_path: Path) -> None:
    tokens = ["a"] * 5 + ["c"] * 3 + ["b"] * 3 + ["d"] + [""] * 4
    table = pa.table({"t": tokens})
    out, output = transform_run(
        lambda i: {
            "all": tbt.compute_and_apply_vocabulary(i["t"], vocab_filename="all"),
            "top2": tbt.compute_and_apply_vocabulary(i["t"], top_k=2, vocab_filename="top2"),
            "freq": tbt.compute_and_apply_vocabulary(
                i["t"], frequency_threshold=3, num_oov_buckets=2, vocab_filename="freq"
            ),
        },
        table,
        tmp_path,
    )
    assert output.vocabulary("all") == ["a", "c", "b", "d"]  # count desc, then reverse lex
    assert output.vocabulary("top2") == ["a", "c"]
    assert output.vocabulary("freq") == ["a", "c", "b"]
    ids = dict(zip(tokens, out.column("all").to_pylist(), strict=True))
    assert ids == {"a": 0, "c": 1, "b": 2, "d": 3, "": -1}  # empty tokens are not in it
    top2 = dict(zip(tokens, out.column("top2").to_pylist(), strict=True))
    assert top2["b"] == -1 and top2["a"] == 0
    freq = dict(zip(tokens, out.column("freq").to_pylist(), strict=True))
    assert 3 <= freq["d"] < 5  # an OOV bucket after the 3 tokens
    # The OOV bucket is TF's own fingerprint hash, as in TF.Transform.
    table_op = tf.lookup.StaticVocabularyTable(
        tf.lookup.KeyValueTensorInitializer(["a", "c", "b"], [0, 1, 2], value_dtype=tf.int64), 2
    )
    assert freq["d"] == int(table_op.lookup(tf.constant(["d"]))[0])


def test_integer_vocabulary_ties_in_reverse_lexicographic_order(
    transform_run, tmp_path: Path
) -> None:
    table = pa.table({"n": [3] * 5 + [2] * 3 + [111] * 3})
    _, output = transform_run(
        lambda i: {"v": tbt.compute_and_apply_vocabulary(i["n"], vocab_filename="ints")},
        table,
        tmp_path,
    )
    assert output.vocabulary("ints") == ["3", "2", "111"]


def test_apply_buckets_docstring_example(transform_run, tmp_path: Path) -> None:
    table = pa.table({"x": [4.0, math.nan, 1.0, -math.inf, 7.5, 10.0]})
    out, _ = transform_run(
        lambda i: {"b": tbt.apply_buckets(i["x"], tf.constant([[2.0, 5.0, 10.0]]))},
        table,
        tmp_path,
    )
    assert out.column("b").to_pylist() == [1, 3, 0, 0, 2, 3]


@pytest.mark.parametrize(
    ("num_buckets", "expected"),
    [(2, [3]), (3, [2, 3]), (6, [1, 2, 3, 3, 4]), (10, [1, 1, 2, 2, 3, 3, 3, 4, 4])],
)
def test_quantile_boundaries_are_data_values_with_duplicates(
    transform_run, tmp_path: Path, num_buckets: int, expected: list[int]
) -> None:
    table = pa.table({"x": [1.0, 2.0, 3.0, 4.0]})
    _, output = transform_run(lambda i: {"b": tbt.bucketize(i["x"], num_buckets)}, table, tmp_path)
    boundaries = output.analyzer_results["quantiles_x"]["boundaries"]
    assert boundaries.tolist() == expected


def test_tfidf_docstring_example(transform_run, tmp_path: Path) -> None:
    table = pa.table({"doc": ["I like pie pie pie", "yum yum pie"]})

    def fn(inputs):
        tokens = tf.strings.split(inputs["doc"]).to_sparse()
        ids = tbt.compute_and_apply_vocabulary(tokens, vocab_filename="words")
        index, weight = tbt.tfidf(ids, vocab_size=4)
        return {"index": index, "weight": weight}

    out, output = transform_run(fn, table, tmp_path)
    assert output.vocabulary("words") == ["pie", "yum", "like", "I"]
    assert out.column("index").to_pylist() == [[0, 2, 3], [0, 1]]
    weights = out.column("weight").to_pylist()
    assert weights[0] == pytest.approx([0.6, 0.28109303, 0.28109303], rel=1e-6)
    assert weights[1] == pytest.approx([0.33333334, 0.9369768], rel=1e-6)


def test_ngrams_and_bag_of_words(transform_run, tmp_path: Path) -> None:
    table = pa.table({"s": ["One was Johnny", "a a"]})

    def fn(inputs):
        tokens = tf.strings.split(inputs["s"]).to_sparse()
        return {
            "ngrams": tbt.ngrams(tokens, (1, 3), " "),
            "bag": tbt.bag_of_words(tokens, (1, 1), " "),
        }

    out, _ = transform_run(fn, table, tmp_path)
    assert out.column("ngrams").to_pylist()[0] == [
        "One",
        "One was",
        "One was Johnny",
        "was",
        "was Johnny",
        "Johnny",
    ]
    assert out.column("ngrams").to_pylist()[1] == ["a", "a a", "a"]
    assert [sorted(b) for b in out.column("bag").to_pylist()] == [["Johnny", "One", "was"], ["a"]]


def test_hash_strings_matches_tf(transform_run, tmp_path: Path) -> None:
    words = ["taxi", "cab", "", "taxi"]
    out, _ = transform_run(
        lambda i: {"h": tbt.hash_strings(i["w"], 7)}, pa.table({"w": words}), tmp_path
    )
    assert out.column("h").to_pylist() == tf.strings.to_hash_bucket_fast(words, 7).numpy().tolist()


def test_sum_size_min_max(transform_run, tmp_path: Path) -> None:
    table = pa.table({"x": pa.array([3, -2, 7, None], pa.int64())})

    def fn(inputs):
        x = inputs["x"]
        dense = tbt.fill_missing(x, 0)
        return {
            "s": dense * 0 + tbt.sum(x),
            "n": dense * 0 + tbt.size(x),
            "lo": dense * 0 + tbt.min(x),
            "hi": dense * 0 + tbt.max(x),
        }

    out, _ = transform_run(fn, table, tmp_path)
    row = out.to_pylist()[0]
    assert row == {"s": 8, "n": 3, "lo": -2, "hi": 7}  # the missing value is not counted


def test_covariance_and_pca(transform_run, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(500, 3)) @ np.array([[3.0, 0, 0], [1.0, 1.0, 0], [0, 0, 0.1]])
    table = pa.table({f"x{j}": data[:, j] for j in range(3)})

    def fn(inputs):
        stacked = tf.stack([inputs[f"x{j}"] for j in range(3)], axis=1)
        projected = tf.matmul(stacked, tbt.pca(stacked, output_dim=2))
        cov = tbt.covariance(stacked)
        return {"p": projected, "c00": stacked[:, 0] * 0 + cov[0, 0]}

    out, output = transform_run(fn, table, tmp_path)
    expected_cov = np.cov(data.astype(np.float32).T, bias=True)
    cov = output.analyzer_results["covariance_x0_x1_x2"]["covariance"]
    assert np.allclose(cov, expected_cov, rtol=1e-4)
    axes = output.analyzer_results["pca_x0_x1_x2"]["pca"]
    eigenvalues, eigenvectors = np.linalg.eigh(expected_cov)
    top = eigenvectors[:, np.argsort(eigenvalues)[::-1][:2]]
    assert np.allclose(np.abs(axes), np.abs(top), atol=1e-4)
    assert out.schema.field("p").type == pa.list_(pa.float32(), 2)
