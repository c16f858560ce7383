"""Tests of the mergeable combiners behind the TF.Transform-compatible analyzers."""

from __future__ import annotations

import itertools
import math
import pickle
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tensorbridge.errors import BadInputError, ConfigError
from tensorbridge.transform import combiners as cmod
from tensorbridge.transform.combiners import (
    DUMMY_INTEGER_TOKEN,
    DUMMY_STRING_TOKEN,
    Combiner,
    CovarianceCombiner,
    DocumentFrequencyCombiner,
    MeanVarCombiner,
    MinMaxCombiner,
    PcaCombiner,
    QuantilesCombiner,
    SizeCombiner,
    SumCombiner,
    VocabularyCombiner,
)

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---------------------------------------------------------------------------------------
# Running a combiner: batches, random grouping, pickling
# ---------------------------------------------------------------------------------------


def run(combiner: Combiner, batches: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """One accumulator, every batch added in order, then one merge."""
    acc = combiner.create()
    for batch in batches:
        acc = combiner.add_input(acc, batch)
    return combiner.extract(combiner.merge([acc]))


def split(n: int, rnd: random.Random) -> list[slice]:
    """Random contiguous batches covering range(n) (empty batches included)."""
    cuts = sorted(rnd.randint(0, n) for _ in range(rnd.randint(0, 6)))
    bounds = [0, *cuts, n]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def leaves(combiner: Combiner, batches: Sequence[Sequence[Any]], rnd: random.Random) -> list[Any]:
    """Accumulators for the batches: some batches share an accumulator, some are pickled."""
    accs: list[Any] = []
    current = None
    for batch in batches:
        if current is None or rnd.random() < 0.5:
            current = combiner.create()
            accs.append(current)
        current = combiner.add_input(current, batch)
        accs[-1] = current
    if rnd.random() < 0.3:
        accs.append(combiner.create())  # an empty partition
    accs = [pickle.loads(pickle.dumps(a)) if rnd.random() < 0.3 else a for a in accs]
    rnd.shuffle(accs)
    return accs


def merge_tree(combiner: Combiner, accs: list[Any], rnd: random.Random) -> Any:
    """Merge in a random grouping: merges of merges, some pickled in between."""
    accs = list(accs)
    while len(accs) > 1:
        i = rnd.randrange(len(accs))
        j = rnd.randint(i + 1, len(accs))
        merged = combiner.merge(accs[i:j])
        if rnd.random() < 0.3:
            merged = pickle.loads(pickle.dumps(merged))
        accs[i:j] = [merged]
    return combiner.merge(accs)


def outcomes(
    combiner: Combiner, batches: Sequence[Sequence[Any]], rnd: random.Random
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(flat merge, random tree merge) of the same leaves, extracted."""
    combiner = pickle.loads(pickle.dumps(combiner))
    accs = leaves(combiner, batches, rnd)
    flat = combiner.extract(combiner.merge(accs))
    tree = combiner.extract(merge_tree(combiner, accs, rnd))
    return flat, tree


def assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], list):
            assert a[key] == b[key], key
        else:
            x, y = np.asarray(a[key]), np.asarray(b[key])
            assert x.dtype == y.dtype, key
            assert x.shape == y.shape, key
            np.testing.assert_array_equal(x, y, err_msg=key)


# ---------------------------------------------------------------------------------------
# Data strategies
# ---------------------------------------------------------------------------------------

FINITE = st.floats(-1e6, 1e6)
SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf])
SEEDS = st.integers(0, 2**32 - 1)  # drives batching, grouping and pickling (random.Random)


@st.composite
def float_arrays(draw: Any, specials: bool = True, max_size: int = 300, width: int = 0) -> Any:
    """float64 data: any values, a few distinct values, or one value repeated."""
    n = draw(st.integers(0, max_size))
    shape = (n, width) if width else (n,)
    mode = draw(st.sampled_from(["any", "few", "constant"]))
    if mode == "any":
        elements = st.one_of(FINITE, FINITE, FINITE, SPECIAL) if specials else FINITE
        x = draw(hnp.arrays(np.float64, shape, elements=elements))
    elif mode == "few":
        pool = draw(st.lists(FINITE, min_size=1, max_size=4))
        x = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from(pool)))
    else:
        x = np.full(shape, draw(FINITE))
    if specials and x.size and draw(st.booleans()):
        flat = x.reshape(-1)
        picks = draw(st.lists(st.tuples(st.integers(0, flat.size - 1), SPECIAL), max_size=10))
        for i, value in picks:
            flat[i] = value
    return x


INT_ARRAYS = st.integers(0, 300).flatmap(
    lambda n: hnp.arrays(np.int64, n, elements=st.integers(-(10**6), 10**6))
)


def scale(x: np.ndarray) -> float:
    finite = np.abs(x[np.isfinite(x)])
    return max(1.0, float(finite.max()) if finite.size else 1.0)


# ---------------------------------------------------------------------------------------
# MeanVarCombiner
# ---------------------------------------------------------------------------------------


def test_mean_var_tft_example_nan_ignored() -> None:
    # TF.Transform's test: 1..100 plus 10 NaNs.
    x = np.concatenate([np.arange(1, 101, dtype=np.float32), np.full(10, np.nan, np.float32)])
    out = run(MeanVarCombiner(), [[x[:37]], [x[37:]]])
    assert out["mean"].dtype == np.float32 and out["var"].dtype == np.float32
    assert out["mean"] == np.float32(50.5)
    assert out["var"] == np.float32(833.25)


def test_mean_var_ignores_infinities_and_uses_population_variance() -> None:
    out = run(MeanVarCombiner(output_dtype=np.float64), [[np.array([1.0, np.inf, 3.0, -np.inf])]])
    assert out["mean"] == 2.0 and out["var"] == 1.0  # ddof=0
    assert out["mean"].dtype == np.float64


def test_mean_var_empty_and_integer_inputs() -> None:
    empty = run(MeanVarCombiner(), [])
    assert empty["mean"] == 0 and empty["var"] == 0 and empty["mean"].shape == ()
    all_nan = run(MeanVarCombiner(), [[np.array([np.nan, np.inf])]])
    assert all_nan["mean"] == 0 and all_nan["var"] == 0
    ints = run(MeanVarCombiner(), [[np.array([1, 2, 3, 4], np.int64)]])
    assert ints["mean"].dtype == np.float32 and ints["mean"] == 2.5 and ints["var"] == 1.25


def test_mean_var_elementwise() -> None:
    x = np.array([[1.0, 2.0, np.nan], [3.0, 4.0, np.nan], [5.0, np.nan, np.nan]])
    out = run(MeanVarCombiner(reduce_instance_dims=False), [[x[:1]], [x[1:]]])
    np.testing.assert_array_equal(out["mean"], np.array([3.0, 3.0, np.nan], np.float32))
    np.testing.assert_allclose(out["var"][:2], [8 / 3, 1.0])
    # A position that never had a finite value is NaN (TF.Transform's sparse behaviour).
    assert np.isnan(out["var"][2])
    shaped = run(MeanVarCombiner(reduce_instance_dims=False), [[np.ones((4, 2, 3))]])
    assert shaped["mean"].shape == (2, 3)
    never = MeanVarCombiner(reduce_instance_dims=False)
    assert never.extract(never.create())["mean"].shape == (0,)


def test_mean_var_merge_puts_the_larger_count_first() -> None:
    # The pairwise update with the larger accumulator as ``a``, by hand.
    combiner = MeanVarCombiner(output_dtype=np.float64)
    small = combiner.add_input(combiner.create(), [np.array([10.0, 11.0])])
    large = combiner.add_input(combiner.create(), [np.array([1.0, 2.0, 4.0, 8.0, 16.0])])
    a, b = np.array([1.0, 2.0, 4.0, 8.0, 16.0]), np.array([10.0, 11.0])
    b_n, n = b.size, a.size + b.size
    mean = a.mean() + (b_n / n) * (b.mean() - a.mean())
    var = a.var() + (b_n / n) * (b.var() - a.var() + (b.mean() - mean) * (b.mean() - a.mean()))
    for order in ([small, large], [large, small]):
        out = combiner.extract(combiner.merge(order))
        assert out["mean"] == mean and out["var"] == var


@PROPERTY
@given(data=float_arrays(), seed=SEEDS)
def test_mean_var_property(data: np.ndarray, seed: int) -> None:
    rnd = random.Random(seed)
    combiner = MeanVarCombiner(output_dtype=np.float64)
    batches = [[data[s]] for s in split(len(data), rnd)]
    flat, tree = outcomes(combiner, batches, rnd)
    finite = data[np.isfinite(data)]
    mean = finite.mean() if finite.size else 0.0
    var = finite.var() if finite.size else 0.0
    s = scale(data)
    for out in (flat, tree):
        np.testing.assert_allclose(out["mean"], mean, rtol=1e-12, atol=1e-12 * s)
        np.testing.assert_allclose(out["var"], var, rtol=1e-12, atol=1e-12 * s * s)
    np.testing.assert_allclose(tree["mean"], flat["mean"], rtol=1e-12, atol=1e-12 * s)
    np.testing.assert_allclose(tree["var"], flat["var"], rtol=1e-12, atol=1e-12 * s * s)


@PROPERTY
@given(data=float_arrays(width=3, max_size=100), seed=SEEDS)
def test_mean_var_elementwise_property(data: np.ndarray, seed: int) -> None:
    rnd = random.Random(seed)
    combiner = MeanVarCombiner(reduce_instance_dims=False, output_dtype=np.float64)
    batches = [[data[s]] for s in split(len(data), rnd)]
    flat, tree = outcomes(combiner, batches, rnd)
    s = scale(data)
    for j in range(3):
        column = data[:, j][np.isfinite(data[:, j])]
        mean = column.mean() if column.size else np.nan
        var = column.var() if column.size else np.nan
        for out in (flat, tree):
            np.testing.assert_allclose(out["mean"][j], mean, rtol=1e-12, atol=1e-12 * s)
            np.testing.assert_allclose(out["var"][j], var, rtol=1e-12, atol=1e-12 * s * s)


def test_mean_var_merge_is_bit_deterministic() -> None:
    rng = np.random.default_rng(7)
    combiner = MeanVarCombiner(output_dtype=np.float64)
    accs = [combiner.add_input(combiner.create(), [rng.normal(5, 3, 97)]) for _ in range(9)]
    first = combiner.extract(combiner.merge(accs))
    copies = [pickle.loads(pickle.dumps(a)) for a in accs]
    second = combiner.extract(combiner.merge(copies))
    assert first["mean"].tobytes() == second["mean"].tobytes()
    assert first["var"].tobytes() == second["var"].tobytes()


# ---------------------------------------------------------------------------------------
# MinMaxCombiner
# ---------------------------------------------------------------------------------------


def test_min_max_ignores_nan_keeps_infinities() -> None:
    out = run(MinMaxCombiner(), [[np.array([2.0, np.nan], np.float32)], [np.array([-1.0, 5.0])]])
    assert out["min"] == -1.0 and out["max"] == 5.0
    out = run(MinMaxCombiner(), [[np.array([1.0, -np.inf, np.inf, np.nan], np.float32)]])
    assert out["min"] == -np.inf and out["max"] == np.inf


def test_min_max_dtypes_and_empty_data() -> None:
    floats = run(MinMaxCombiner(), [[np.array([], np.float32)]])
    assert floats["min"] == np.inf and floats["max"] == -np.inf
    assert floats["min"].dtype == np.float32
    assert run(MinMaxCombiner(), [[np.array([1.5], np.float16)]])["min"].dtype == np.float32
    assert run(MinMaxCombiner(), [[np.array([1.5], np.float64)]])["min"].dtype == np.float64
    ints = run(MinMaxCombiner(), [[np.array([], np.int64)]])
    assert ints["min"] == np.iinfo(np.int64).max and ints["max"] == np.iinfo(np.int64).min
    narrow = run(MinMaxCombiner(), [[np.array([], np.int32)]])
    assert narrow["min"].dtype == np.int32 and narrow["min"] == np.iinfo(np.int32).max
    assert narrow["max"] == np.iinfo(np.int32).min
    small = run(MinMaxCombiner(), [[np.array([7, 3], np.uint8)]])
    assert small["min"].dtype == np.uint8 and small["min"] == 3 and small["max"] == 7
    nothing = MinMaxCombiner()
    assert nothing.extract(nothing.create())["min"] == np.float32(np.inf)


def test_min_max_elementwise() -> None:
    x = np.array([[1.0, np.nan], [-2.0, np.nan], [3.0, np.nan]])
    out = run(MinMaxCombiner(reduce_instance_dims=False), [[x]])
    np.testing.assert_array_equal(out["min"], [-2.0, np.inf])
    np.testing.assert_array_equal(out["max"], [3.0, -np.inf])


@PROPERTY
@given(
    data=st.one_of(float_arrays(), INT_ARRAYS),
    dtype=st.sampled_from([None, np.float32, np.int32]),
    seed=SEEDS,
)
def test_min_max_property(data: np.ndarray, dtype: Any, seed: int) -> None:
    rnd = random.Random(seed)
    if dtype is not None and (data.dtype.kind == "f") == (np.dtype(dtype).kind == "f"):
        with np.errstate(over="ignore", invalid="ignore"):
            data = data.astype(dtype)
    batches = [[data[s]] for s in split(len(data), rnd)]
    flat, tree = outcomes(MinMaxCombiner(), batches, rnd)
    assert_same(flat, tree)
    present = data[~np.isnan(data)] if data.dtype.kind == "f" else data
    if data.dtype.kind == "f":
        out = np.float64 if data.dtype == np.float64 else np.float32
        lo = present.min() if present.size else np.inf
        hi = present.max() if present.size else -np.inf
    else:
        out = data.dtype
        lo = present.min() if present.size else np.iinfo(out).max
        hi = present.max() if present.size else np.iinfo(out).min
    assert_same(flat, {"min": np.asarray(lo, out), "max": np.asarray(hi, out)})


# ---------------------------------------------------------------------------------------
# SumCombiner and SizeCombiner
# ---------------------------------------------------------------------------------------


def test_sum_dtypes_and_empty() -> None:
    half = run(SumCombiner(), [[np.array([1.5, 2.25], np.float16)]])
    assert half["sum"].dtype == np.float32 and half["sum"] == 3.75
    single = run(SumCombiner(), [[np.array([0.1, 0.2], np.float32)]])
    assert single["sum"].dtype == np.float32
    assert single["sum"] == np.float32(np.float64(np.float32(0.1)) + np.float64(np.float32(0.2)))
    assert run(SumCombiner(), [[np.array([0.5])]])["sum"].dtype == np.float64
    ints = run(SumCombiner(), [[np.array([1, 2], np.int32)], [np.array([3], np.uint8)]])
    assert ints["sum"].dtype == np.int64 and ints["sum"] == 6
    assert run(SumCombiner(), [[np.array([], np.int64)]])["sum"] == 0
    assert run(SumCombiner(), [])["sum"] == 0
    elementwise = run(SumCombiner(reduce_instance_dims=False), [[np.array([[1, 2], [3, 4]])]])
    np.testing.assert_array_equal(elementwise["sum"], [4, 6])


def test_sum_is_exact_and_propagates_nan() -> None:
    x = np.array([1e16, 1.0, -1e16, 1.0])
    assert run(SumCombiner(), [[x]])["sum"] == 2.0  # float64 accumulation would give 0 or 1
    assert np.isnan(run(SumCombiner(), [[np.array([1.0, np.nan])]])["sum"])
    assert np.isnan(run(SumCombiner(), [[np.array([np.inf])], [np.array([-np.inf])]])["sum"])
    assert run(SumCombiner(), [[np.array([np.inf, 1.0])]])["sum"] == np.inf
    huge = np.array([np.finfo(np.float64).max] * 2)
    assert run(SumCombiner(), [[huge]])["sum"] == np.inf
    tiny = np.array([5e-324, 5e-324, -1e-320])
    assert run(SumCombiner(), [[tiny]])["sum"] == math.fsum(tiny.tolist())


def test_exact_sum_chunks_and_sparse_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1e8, 1000) * rng.choice([1e-30, 1.0, 1e30], 1000)
    expected = math.fsum(x.tolist())
    assert run(SumCombiner(), [[x]])["sum"] == expected
    monkeypatch.setattr(cmod.exact, "_EXACT_CHUNK", 7)
    monkeypatch.setattr(cmod.exact, "_DENSE_KEYS", 0)
    assert run(SumCombiner(), [[x]])["sum"] == expected
    grid = x.reshape(100, 10)
    got = run(SumCombiner(reduce_instance_dims=False), [[grid]])["sum"]
    np.testing.assert_array_equal(got, [math.fsum(grid[:, j].tolist()) for j in range(10)])


def _reference_sum(x: np.ndarray) -> float:
    finite = x[np.isfinite(x)]
    if np.isnan(x).any() or (np.isposinf(x).any() and np.isneginf(x).any()):
        return math.nan
    if np.isposinf(x).any():
        return math.inf
    if np.isneginf(x).any():
        return -math.inf
    return math.fsum(finite.tolist())


@PROPERTY
@given(
    data=st.one_of(float_arrays(), INT_ARRAYS),
    half=st.booleans(),
    seed=SEEDS,
)
def test_sum_property(data: np.ndarray, half: bool, seed: int) -> None:
    rnd = random.Random(seed)
    if half and data.dtype.kind == "f":
        data = data.astype(np.float32)
    batches = [[data[s]] for s in split(len(data), rnd)]
    flat, tree = outcomes(SumCombiner(), batches, rnd)
    assert_same(flat, tree)  # exact: grouping and order never matter
    if data.dtype.kind == "f":
        out = np.float32 if data.dtype == np.float32 else np.float64
        expected = np.asarray(_reference_sum(data.astype(np.float64)), out)
    else:
        expected = np.asarray(int(data.sum(dtype=np.int64)), np.int64)
    assert_same(flat, {"sum": expected})


@PROPERTY
@given(data=float_arrays(width=2, max_size=100), seed=SEEDS)
def test_sum_elementwise_property(data: np.ndarray, seed: int) -> None:
    rnd = random.Random(seed)
    batches = [[data[s]] for s in split(len(data), rnd)]
    flat, tree = outcomes(SumCombiner(reduce_instance_dims=False), batches, rnd)
    assert_same(flat, tree)
    expected = np.asarray([_reference_sum(data[:, j]) for j in range(2)])
    assert_same(flat, {"sum": expected})


def test_size() -> None:
    out = run(SizeCombiner(), [[np.ones((3, 4))], [np.array([np.nan])]])
    assert out["size"] == 13 and out["size"].dtype == np.int64
    assert run(SizeCombiner(), [])["size"] == 0
    elementwise = run(
        SizeCombiner(reduce_instance_dims=False), [[np.ones((3, 2))], [np.ones((1, 2))]]
    )
    np.testing.assert_array_equal(elementwise["size"], [4, 4])


@PROPERTY
@given(data=st.one_of(float_arrays(), INT_ARRAYS), seed=SEEDS)
def test_size_property(data: np.ndarray, seed: int) -> None:
    rnd = random.Random(seed)
    batches = [[data[s]] for s in split(len(data), rnd)]
    flat, tree = outcomes(SizeCombiner(), batches, rnd)
    assert_same(flat, tree)
    assert_same(flat, {"size": np.asarray(data.size, np.int64)})


# ---------------------------------------------------------------------------------------
# VocabularyCombiner
# ---------------------------------------------------------------------------------------


def test_vocabulary_tft_order_strings_and_ints() -> None:
    tokens = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 3, dtype=object)
    out = run(VocabularyCombiner(), [[tokens[:4]], [tokens[4:]]])
    assert out["tokens"] == [b"a", b"c", b"b"]
    assert out["counts"].dtype == np.int64 and out["counts"].tolist() == [5, 3, 3]
    ints = np.array([3] * 5 + [2] * 3 + [111] * 3, dtype=np.int64)
    out = run(VocabularyCombiner(), [[ints]])
    assert out["tokens"] == [b"3", b"2", b"111"] and out["counts"].tolist() == [5, 3, 3]


def test_vocabulary_threshold_top_k_and_discarded_tokens() -> None:
    tokens = np.array(
        ["a"] * 5 + ["b"] * 3 + ["c"] * 3 + ["d"] + [""] * 9 + ["x\ny"] * 9 + ["r\r"] * 9,
        dtype=object,
    )
    out = run(VocabularyCombiner(), [[tokens]])
    assert out["tokens"] == [b"a", b"c", b"b", b"d"]
    out = run(VocabularyCombiner(frequency_threshold=3), [[tokens]])
    assert out["tokens"] == [b"a", b"c", b"b"]
    out = run(VocabularyCombiner(top_k=2), [[tokens]])
    assert out["tokens"] == [b"a", b"c"] and out["counts"].tolist() == [5, 3]
    out = run(VocabularyCombiner(top_k=2, frequency_threshold=4), [[tokens]])
    assert out["tokens"] == [b"a"]


def test_vocabulary_empty_gives_the_dummy_token() -> None:
    out = run(VocabularyCombiner(), [[np.array(["", "\n"], dtype=object)]])
    assert out["tokens"] == [DUMMY_STRING_TOKEN] and out["counts"].tolist() == [1]
    assert DUMMY_STRING_TOKEN == b"49d0cd50-04bb-48c0-bc6f-5b575dce351a"
    out = run(VocabularyCombiner(frequency_threshold=10), [[np.array([1, 2])]])
    assert out["tokens"] == [DUMMY_INTEGER_TOKEN] == [b"-1"]
    assert run(VocabularyCombiner(), [])["tokens"] == [DUMMY_STRING_TOKEN]


def test_vocabulary_input_kinds() -> None:
    import pyarrow as pa

    expected = [b"\xc3\xa9t\xc3\xa9", b"a"]
    for batch in (
        np.array(["été", "a", "été"]),
        np.array(["été".encode(), b"a", "été".encode()]),
        np.array(["été", "a", None, "été"], dtype=object),
        pa.array(["été", "a", None, "été"]),
        pa.array(["été", "a", "été"]).dictionary_encode(),
    ):
        assert run(VocabularyCombiner(), [[batch]])["tokens"] == expected
    with pytest.raises(BadInputError, match="strings or integers"):
        run(VocabularyCombiner(), [[np.array([1.5])]])
    with pytest.raises(BadInputError, match="mix"):
        run(VocabularyCombiner(), [[np.array(["a"])], [np.array([1])]])


def test_vocabulary_weights() -> None:
    combiner = VocabularyCombiner(weighted=True)
    out = run(
        combiner,
        [
            [np.array(["a", "b", "a"], dtype=object), np.array([0.5, 2.0, 0.25])],
            [np.array(["c"], dtype=object), np.array([2.0])],
        ],
    )
    assert out["tokens"] == [b"c", b"b", b"a"]
    assert out["counts"].dtype == np.float64 and out["counts"].tolist() == [2.0, 2.0, 0.75]
    with pytest.raises(BadInputError, match="finite"):
        run(combiner, [[np.array(["a"]), np.array([np.nan])]])
    with pytest.raises(BadInputError, match="one weight per token"):
        run(combiner, [[np.array(["a"]), np.array([1.0, 2.0])]])


def _reference_vocabulary(
    tokens: list[bytes], top_k: int | None, threshold: int | None, integer: bool
) -> dict[str, Any]:
    items = [(n, t) for t, n in Counter(tokens).items() if t and b"\n" not in t and b"\r" not in t]
    items.sort(reverse=True)
    if threshold is not None:
        items = [(n, t) for n, t in items if n >= threshold]
    if top_k is not None:
        items = items[:top_k]
    if not items:
        items = [(1, DUMMY_INTEGER_TOKEN if integer else DUMMY_STRING_TOKEN)]
    return {"tokens": [t for _, t in items], "counts": np.asarray([n for n, _ in items], np.int64)}


TEXT = st.text(alphabet="ab\n\rcé ", max_size=3)


@PROPERTY
@given(
    pool=st.lists(TEXT, min_size=1, max_size=8),
    picks=st.lists(st.integers(0, 7), max_size=300),
    form=st.sampled_from(["str", "bytes", "unicode", "int"]),
    top_k=st.none() | st.integers(1, 5),
    threshold=st.none() | st.integers(0, 4),
    seed=SEEDS,
)
def test_vocabulary_property(
    pool: list[str],
    picks: list[int],
    form: str,
    top_k: int | None,
    threshold: int | None,
    seed: int,
) -> None:
    rnd = random.Random(seed)
    words = [pool[i % len(pool)] for i in picks]
    if form == "int":
        values = [(i % len(pool)) * 37 - 50 for i in picks]
        data: np.ndarray = np.asarray(values, dtype=np.int64)
        tokens = [str(v).encode() for v in values]
    elif form == "bytes":
        data = np.asarray([w.encode() for w in words] or [], dtype=object)
        tokens = [w.encode() for w in words]
    elif form == "unicode":
        data = np.asarray(words, dtype=np.str_) if words else np.array([], np.str_)
        tokens = [w.encode() for w in words]
    else:
        data = np.asarray(words, dtype=object)
        tokens = [w.encode() for w in words]
    combiner = VocabularyCombiner(top_k=top_k, frequency_threshold=threshold)
    batches = [[data[s]] for s in split(len(data), rnd)]
    flat, tree = outcomes(combiner, batches, rnd)
    assert_same(flat, tree)
    assert_same(flat, _reference_vocabulary(tokens, top_k, threshold, form == "int"))


def test_vocabulary_many_tokens_merge_fast() -> None:
    rng = np.random.default_rng(0)
    combiner = VocabularyCombiner()
    accs = []
    for _ in range(4):
        ids = rng.integers(0, 100_000, 200_000)
        accs.append(combiner.add_input(combiner.create(), [ids]))
    out = combiner.extract(combiner.merge(accs))
    assert int(out["counts"].sum()) == 800_000
    assert len(out["tokens"]) > 99_000


# ---------------------------------------------------------------------------------------
# QuantilesCombiner
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("num_buckets", "expected"),
    [
        (2, [3]),
        (3, [2, 3]),
        (6, [1, 2, 3, 3, 4]),
        (10, [1, 1, 2, 2, 3, 3, 3, 4, 4]),
    ],
)
def test_quantiles_tft_examples(num_buckets: int, expected: list[float]) -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    for max_exact in (10_000_000, 0):  # exact path, and the sketch path (holds every value)
        out = run(QuantilesCombiner(num_buckets, max_exact_values=max_exact), [[x[:1]], [x[1:]]])
        assert out["boundaries"].dtype == np.float32
        assert out["boundaries"].tolist() == expected


def test_quantiles_edge_cases() -> None:
    assert run(QuantilesCombiner(1), [[np.array([1.0, 2.0])]])["boundaries"].shape == (0,)
    empty = run(QuantilesCombiner(4), [[np.array([np.nan])]])["boundaries"]
    assert empty.tolist() == [0, 0, 0]
    assert run(QuantilesCombiner(4, max_exact_values=0), [])["boundaries"].tolist() == [0, 0, 0]
    assert run(QuantilesCombiner(3), [[np.array([7, 7, 7])]])["boundaries"].tolist() == [7, 7]
    out = run(QuantilesCombiner(2), [[np.array([-np.inf, np.nan, np.inf, 1.0])]])
    assert out["boundaries"].tolist() == [1.0]
    assert QuantilesCombiner(10).epsilon == 0.01 and QuantilesCombiner(4).epsilon == 0.01
    assert QuantilesCombiner(200).epsilon == 1 / 200


def test_quantiles_elementwise() -> None:
    x = np.array([[1.0, 10.0], [2.0, np.nan], [3.0, 30.0], [4.0, 40.0]])
    for max_exact in (100, 0):
        combiner = QuantilesCombiner(2, reduce_instance_dims=False, max_exact_values=max_exact)
        out = run(combiner, [[x[:2]], [x[2:]]])["boundaries"]
        assert out.shape == (2, 1) and out.tolist() == [[3.0], [30.0]]


def test_kll_exclusive_criterion_matches_the_exact_rule() -> None:
    datasketches = pytest.importorskip("datasketches")
    sketch = datasketches.kll_doubles_sketch(200)
    sketch.update(np.array([1.0, 2.0, 3.0, 4.0]))
    ranks = [i / 10 for i in range(1, 10)]
    assert sketch.get_quantiles(ranks, False) == [1, 1, 2, 2, 3, 3, 3, 4, 4]
    assert sketch.get_quantiles(ranks, True) != [1, 1, 2, 2, 3, 3, 3, 4, 4]
    assert cmod.kll_k_for_epsilon(0.01) == QuantilesCombiner(10).k
    k = QuantilesCombiner(10).k
    assert datasketches.kll_doubles_sketch.get_normalized_rank_error(k, False) <= 0.005
    assert datasketches.kll_doubles_sketch.get_normalized_rank_error(k - 1, False) > 0.005


def _reference_boundaries(data: np.ndarray, num_buckets: int) -> np.ndarray:
    v = np.sort(data[~np.isnan(data)])
    n = v.size
    if n == 0:
        return np.zeros(num_buckets - 1, np.float32)
    return np.asarray(
        [v[min(i * n // num_buckets, n - 1)] for i in range(1, num_buckets)], np.float32
    )


@PROPERTY
@given(
    data=st.one_of(float_arrays(), INT_ARRAYS),
    num_buckets=st.integers(1, 12),
    sketch=st.booleans(),
    seed=SEEDS,
)
def test_quantiles_property(data: np.ndarray, num_buckets: int, sketch: bool, seed: int) -> None:
    rnd = random.Random(seed)
    # The sketch path (max_exact_values small) holds every value while n < k, so both paths
    # must reproduce the exact rule: below and above the threshold.
    combiner = QuantilesCombiner(
        num_buckets, max_exact_values=rnd.randint(0, 40) if sketch else 10**7
    )
    batches = [[data[s]] for s in split(len(data), rnd)]
    flat, tree = outcomes(combiner, batches, rnd)
    assert_same(flat, tree)
    assert_same(flat, {"boundaries": _reference_boundaries(data.astype(np.float64), num_buckets)})


def test_quantiles_exact_merge_converts_when_over_the_limit() -> None:
    combiner = QuantilesCombiner(4, max_exact_values=1000)
    a = combiner.add_input(combiner.create(), [np.arange(600.0)])
    b = combiner.add_input(combiner.create(), [np.arange(600.0, 1000.0)])
    both = combiner.merge([a, b])
    assert both.exact is not None and both.sketches is None
    c = combiner.add_input(combiner.create(), [np.arange(1000.0, 1200.0)])
    over = combiner.merge([a, b, c])
    assert over.exact is None and over.sketches is not None
    assert a.exact is not None and len(a.exact) == 1  # inputs are not modified
    restored = pickle.loads(pickle.dumps(over))
    assert_same(combiner.extract(restored), combiner.extract(over))
    # Past k values the sketch is approximate: within epsilon in rank (0.01 * 1200 = 12).
    got = combiner.extract(over)["boundaries"]
    assert np.abs(got - np.array([300, 600, 900])).max() <= 12


def test_quantiles_sketch_within_rank_error() -> None:
    rng = np.random.default_rng(11)
    data = np.concatenate([rng.normal(size=150_000), rng.integers(0, 50, 50_000).astype(float)])
    rng.shuffle(data)
    num_buckets = 10
    combiner = QuantilesCombiner(num_buckets, max_exact_values=5_000)
    batches = [[b] for b in np.array_split(data, 40)]
    flat, tree = outcomes(combiner, batches, random.Random(5))
    exact = _reference_boundaries(data, num_buckets)
    v = np.sort(data)
    eps = combiner.epsilon
    for out in (flat, tree):
        got = out["boundaries"].astype(np.float64)
        assert got.shape == exact.shape
        for i, b in enumerate(got, start=1):
            # b is a data value whose rank range [below, at_or_below] is within eps of i/B.
            below = np.searchsorted(v, b, "left") / v.size
            at_or_below = np.searchsorted(v, b, "right") / v.size
            target = i / num_buckets
            assert below - eps <= target <= at_or_below + eps, (i, b, below, at_or_below)


# ---------------------------------------------------------------------------------------
# CovarianceCombiner and PcaCombiner
# ---------------------------------------------------------------------------------------


def test_covariance_example_and_empty() -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    out = run(CovarianceCombiner(), [[x[:1]], [x[1:]]])["covariance"]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.full((2, 2), 8 / 3), rtol=1e-6)
    out64 = run(CovarianceCombiner(output_dtype=np.float64), [[x]])["covariance"]
    np.testing.assert_allclose(out64, np.cov(x.T, bias=True), rtol=1e-12)
    empty = run(CovarianceCombiner(), [[np.zeros((0, 3))]])["covariance"]
    assert empty.shape == (3, 3) and not empty.any()
    assert run(CovarianceCombiner(), [])["covariance"].shape == (0, 0)
    with pytest.raises(BadInputError, match="rank-2"):
        run(CovarianceCombiner(), [[np.ones(3)]])


def test_pca_example_and_empty() -> None:
    x = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [0.0, 0.0]])
    out = run(PcaCombiner(output_dim=1, output_dtype=np.float64), [[x]])["pca"]
    assert out.shape == (2, 1)
    np.testing.assert_allclose(np.abs(out[:, 0]), [1 / math.sqrt(2)] * 2, rtol=1e-12)
    full = run(PcaCombiner(), [[x]])["pca"]
    assert full.shape == (2, 2) and full.dtype == np.float32
    empty = run(PcaCombiner(output_dim=2), [[np.zeros((0, 3))]])["pca"]
    np.testing.assert_array_equal(empty, np.eye(3, 2))
    assert run(PcaCombiner(), [[np.zeros((0, 3))]])["pca"].shape == (3, 3)


@PROPERTY
@given(
    data=st.integers(1, 4).flatmap(lambda d: float_arrays(specials=False, max_size=60, width=d)),
    seed=SEEDS,
)
def test_covariance_and_pca_property(data: np.ndarray, seed: int) -> None:
    rnd = random.Random(seed)
    batches = [[data[s]] for s in split(len(data), rnd)]
    s2 = scale(data) ** 2
    flat, tree = outcomes(CovarianceCombiner(output_dtype=np.float64), batches, rnd)
    expected = (
        np.cov(data.T, bias=True).reshape(data.shape[1], -1)
        if len(data)
        else 0 * flat["covariance"]
    )
    for out in (flat, tree):
        np.testing.assert_allclose(out["covariance"], expected, rtol=1e-12, atol=1e-12 * s2)
    pca, _ = outcomes(PcaCombiner(output_dtype=np.float64), batches, rnd)
    vectors = pca["pca"]
    d = data.shape[1]
    assert vectors.shape == (d, d)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(d), atol=1e-9)
    if len(data):
        # Columns are eigenvectors of the covariance, largest eigenvalue first.
        rayleigh = np.einsum("ij,ik,kj->j", vectors, expected, vectors)
        np.testing.assert_allclose(
            rayleigh, np.linalg.eigvalsh(expected)[::-1], rtol=1e-9, atol=1e-9 * s2
        )


# ---------------------------------------------------------------------------------------
# DocumentFrequencyCombiner
# ---------------------------------------------------------------------------------------


def _ragged(docs: Sequence[Sequence[int]]) -> list[np.ndarray]:
    values = np.asarray([t for doc in docs for t in doc], dtype=np.int64)
    splits = np.concatenate([[0], np.cumsum([len(doc) for doc in docs])]).astype(np.int64)
    return [values, splits]


def test_document_frequency_example() -> None:
    docs = [[0, 1, 1, 4], [7, 2, 2], [], [4, -1, 4]]
    out = run(DocumentFrequencyCombiner(5), [_ragged(docs[:2]), _ragged(docs[2:])])
    # Duplicates inside a document count once; ids outside [0, 5) (7, -1) are ignored.
    assert out["document_frequency"].tolist() == [1, 1, 1, 0, 2]
    assert out["document_frequency"].dtype == np.int64
    assert out["num_documents"] == 4 and out["num_documents"].dtype == np.int64
    with pytest.raises(BadInputError, match="row_splits"):
        run(DocumentFrequencyCombiner(5), [[np.array([1, 2]), np.array([0, 1])]])


@PROPERTY
@given(
    docs=st.lists(st.lists(st.integers(-2, 8), max_size=6), max_size=60),
    vocab_size=st.integers(1, 6),
    seed=SEEDS,
)
def test_document_frequency_property(docs: list[list[int]], vocab_size: int, seed: int) -> None:
    rnd = random.Random(seed)
    combiner = DocumentFrequencyCombiner(vocab_size)
    batches = [_ragged(docs[s]) for s in split(len(docs), rnd)]
    flat, tree = outcomes(combiner, batches, rnd)
    assert_same(flat, tree)
    expected = np.zeros(vocab_size, np.int64)
    for doc in docs:
        for t in set(doc):
            if 0 <= t < vocab_size:
                expected[t] += 1
    assert_same(
        flat,
        {"document_frequency": expected, "num_documents": np.asarray(len(docs), np.int64)},
    )


# ---------------------------------------------------------------------------------------
# Pickling and parameters
# ---------------------------------------------------------------------------------------

ALL = [
    (MeanVarCombiner(reduce_instance_dims=False), [[np.array([[1.0, 2.0], [3.0, np.nan]])]]),
    (MinMaxCombiner(), [[np.array([1, 5, 2], np.int16)]]),
    (SumCombiner(), [[np.array([0.1, 0.2, 0.3])]]),
    (SizeCombiner(), [[np.ones(5)]]),
    (VocabularyCombiner(top_k=3, store_frequency=True), [[np.array(["a", "b", "a"])]]),
    (VocabularyCombiner(weighted=True), [[np.array(["a", "b", "a"]), np.array([1.0, 2.0, 3.0])]]),
    (QuantilesCombiner(3), [[np.arange(10.0)]]),
    (QuantilesCombiner(3, max_exact_values=2), [[np.arange(10.0)]]),
    (CovarianceCombiner(), [[np.array([[1.0, 2.0], [0.0, 5.0]])]]),
    (PcaCombiner(output_dim=1), [[np.array([[1.0, 2.0], [0.0, 5.0]])]]),
    (DocumentFrequencyCombiner(3), [_ragged([[0, 1], [1]])]),
]


@pytest.mark.parametrize(("combiner", "batches"), ALL, ids=lambda v: type(v).__name__)
def test_pickle_round_trip(combiner: Combiner, batches: list[list[Any]]) -> None:
    copy = pickle.loads(pickle.dumps(combiner))
    assert type(copy) is type(combiner) and repr(copy) == repr(combiner)
    acc = combiner.create()
    for batch in batches:
        acc = combiner.add_input(acc, batch)
    expected = combiner.extract(acc)
    restored = pickle.loads(pickle.dumps(acc))
    assert_same(copy.extract(restored), expected)
    assert_same(
        copy.extract(copy.merge([pickle.loads(pickle.dumps(copy.create())), restored])), expected
    )


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: MeanVarCombiner(reduce_instance_dims="yes"), r"reduce_instance_dims.*'yes'"),
        (
            lambda: MeanVarCombiner(output_dtype=np.int32),
            r"output_dtype must be float32 or float64, got",
        ),
        (lambda: MeanVarCombiner(output_dtype="nonsense"), r"got 'nonsense'"),
        (lambda: CovarianceCombiner(output_dtype=None), r"output_dtype.*got None"),
        (lambda: VocabularyCombiner(top_k=0), r"top_k must be a positive integer or None, got 0"),
        (lambda: VocabularyCombiner(top_k=2.5), r"top_k.*got 2.5"),
        (
            lambda: VocabularyCombiner(frequency_threshold=-1),
            r"frequency_threshold must be a number >= 0 or None, got -1",
        ),
        (lambda: QuantilesCombiner(0), r"num_buckets must be an integer >= 1, got 0; pass"),
        (lambda: QuantilesCombiner(2.0), r"num_buckets.*got 2.0"),  # type: ignore[arg-type]
        (lambda: QuantilesCombiner(True), r"num_buckets.*got True"),
        (lambda: QuantilesCombiner(4, epsilon=0), r"epsilon must be a number in \(0, 1\)"),
        (lambda: QuantilesCombiner(4, max_exact_values=-1), r"max_exact_values.*got -1"),
        (lambda: PcaCombiner(output_dim=0), r"output_dim must be an integer >= 1 or None, got 0"),
        (lambda: DocumentFrequencyCombiner(0), r"vocab_size must be an integer >= 1, got 0"),
    ],
)
def test_config_errors(make: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make()


def test_bad_inputs() -> None:
    with pytest.raises(BadInputError, match="list of 1 array"):
        run(SumCombiner(), [np.array([1.0])])  # type: ignore[list-item]
    with pytest.raises(BadInputError, match="integer or floating"):
        run(MeanVarCombiner(), [[np.array(["a"])]])
    with pytest.raises(BadInputError, match="mix"):
        run(SumCombiner(), [[np.array([1])], [np.array([1.0])]])
    with pytest.raises(BadInputError, match="shape changed"):
        run(MinMaxCombiner(reduce_instance_dims=False), [[np.ones((2, 3))], [np.ones((2, 4))]])
    with pytest.raises(BadInputError, match="batch axis"):
        run(SizeCombiner(reduce_instance_dims=False), [[np.float64(1.0)]])
