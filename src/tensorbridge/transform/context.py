"""The tracing context: how analyzers behave while a ``preprocessing_fn`` is traced.

tensorbridge traces the user's ``preprocessing_fn`` into a TF graph several times:

* In an *analysis* trace, an analyzer whose result is not known yet registers itself as
  *pending* and returns a placeholder tensor (zeros that keep a graph dependency on an op
  named ``tb_pending/...``). An analyzer is *ready* when its input does not depend on any
  placeholder; the analysis pass computes all ready analyzers in one pass over the data.
* When every analyzer is known, the *final* trace replaces each analyzer by a constant
  (vocabularies by asset-backed lookup tables) and becomes the transform_fn.

So the number of passes is the depth of the analyzer dependencies, and no more.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tensorbridge._optional import import_optional
from tensorbridge.errors import TransformError

PENDING_PREFIX = "tb_pending"
_state = threading.local()


@dataclass
class PendingAnalyzer:
    """An analyzer found in a trace whose result is not known yet."""

    key: str
    kind: str
    combiner: Any
    inputs: list[Any]  # dense tensors (sparse inputs reduced to their values)
    features: list[str]
    ready: bool = False


@dataclass
class TraceContext:
    """State shared by the analyzers during one trace of a ``preprocessing_fn``."""

    results: Mapping[str, dict[str, Any]]
    vocabulary_dir: Path
    module: Any  # the tf.Module that tracks tables and assets
    pending: dict[str, PendingAnalyzer] = field(default_factory=dict)
    input_tensors: dict[str, str] = field(default_factory=dict)  # tensor name -> feature
    output_tensors: list[Any] = field(default_factory=list)
    _names: dict[str, int] = field(default_factory=dict)
    _tables: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    _assets: dict[str, Any] = field(default_factory=dict)

    # -- naming ----------------------------------------------------------------------
    def analyzer_key(self, kind: str, name: str | None, features: list[str]) -> str:
        """A stable, readable key: the user's ``name``, or kind plus input features."""
        if name is not None:
            if name in self._names:
                raise TransformError(
                    f"Two analyzers are named {name!r}; analyzer names must be unique."
                )
            self._names[name] = 1
            return name
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", "_".join([kind, *features]) if features else kind)
        count = self._names.get(base, 0)
        self._names[base] = count + 1
        return base if count == 0 else f"{base}_{count}"

    # -- graph inspection ------------------------------------------------------------
    def features_of(self, *tensors: Any) -> list[str]:
        """The raw input features the tensors are computed from (sorted)."""
        found = set()
        for op_name, output_names in _walk(tensors):
            del op_name
            for tensor_name in output_names:
                feature = self.input_tensors.get(tensor_name)
                if feature is not None:
                    found.add(feature)
        return sorted(found)

    def depends_on_pending(self, *tensors: Any) -> bool:
        """Whether any tensor is computed from a pending analyzer's placeholder."""
        return any(name.rsplit("/", 1)[-1].startswith(PENDING_PREFIX) for name, _ in _walk(tensors))

    # -- vocabularies ----------------------------------------------------------------
    def vocabulary_path(self, filename: str) -> Path:
        """Where the vocabulary file named ``filename`` is written before export."""
        return self.vocabulary_dir / filename

    def lookup_table(
        self, filename: str, key_dtype: Any, default_value: int, num_oov_buckets: int
    ) -> Any:
        """A lookup table over a vocabulary file, created once and tracked by the module."""
        tf = import_optional("tensorflow")
        cache_key = (filename, key_dtype.name, default_value, num_oov_buckets)
        table = self._tables.get(cache_key)
        if table is not None:
            return table
        path = Path(filename) if Path(filename).is_absolute() else self.vocabulary_path(filename)
        if not path.exists():
            raise TransformError(
                f"Vocabulary file {str(path)!r} does not exist. Pass the result of "
                "tbt.vocabulary(...) or the path of an existing vocabulary file."
            )
        with tf.init_scope():
            asset = self._assets.get(str(path))
            if asset is None:
                asset = tf.saved_model.Asset(str(path))
                self._assets[str(path)] = asset
                self.module.tb_assets.append(asset)
            initializer = tf.lookup.TextFileInitializer(
                asset,
                key_dtype,
                tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64,
                tf.lookup.TextFileIndex.LINE_NUMBER,
            )
            if num_oov_buckets > 0:
                table = tf.lookup.StaticVocabularyTable(initializer, num_oov_buckets)
            else:
                table = tf.lookup.StaticHashTable(initializer, default_value)
            self.module.tb_tables.append(table)
        self._tables[cache_key] = table
        return table


def _walk(tensors: tuple[Any, ...]) -> Iterator[tuple[str, list[str]]]:
    """Yield (op name, output tensor names) for every op the tensors depend on."""
    tf = import_optional("tensorflow")
    stack = []
    for tensor in tensors:
        if isinstance(tensor, tf.SparseTensor):
            stack += [tensor.indices.op, tensor.values.op, tensor.dense_shape.op]
        elif isinstance(tensor, tf.RaggedTensor):
            stack += [tensor.flat_values.op, *[s.op for s in tensor.nested_row_splits]]
        elif hasattr(tensor, "op"):
            stack.append(tensor.op)
    seen: set[str] = set()
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        yield op.name, [t.name for t in op.outputs]
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)


def current() -> TraceContext:
    """The active trace context, or an error saying where analyzers may be used."""
    context = getattr(_state, "context", None)
    if context is None:
        raise TransformError(
            "tensorbridge analyzers and mappers only work inside a preprocessing_fn run by "
            "tensorbridge.transform.analyze_and_transform (or analyze)."
        )
    return context


@contextlib.contextmanager
def activate(context: TraceContext) -> Iterator[TraceContext]:
    """Make ``context`` the active one while a ``preprocessing_fn`` is traced."""
    previous = getattr(_state, "context", None)
    _state.context = context
    try:
        yield context
    finally:
        _state.context = previous
