"""The models being served: watching the repository, loading, warming up, unloading.

A background thread polls the repository every ``poll_seconds`` (TF Serving's
``file_system_poll_wait_seconds``, default 1 s). For each model it reads ``serving.json``
and ``routing.json`` (:mod:`tensorbridge.serve.routing`), picks the versions to serve
among the **complete** ones (a version directory without the completion marker, such as
one still being copied, is never looked at), loads the new ones, warms each up with the
sample rows of its manifest, and only then routes traffic to it. Versions no longer
wanted are unloaded after the new ones are available (TF Serving's availability-
preserving policy) and after their in-flight requests finish, so a version swap under load
fails no request. A version that fails to load or warm up is refused, logged and not
retried until its directory changes; the versions already loaded keep serving.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tensorbridge.errors import ConfigError
from tensorbridge.serve.errors import ModelLoadError, NotFoundError
from tensorbridge.serve.repository import COMPLETE_MARKER, ModelRepository, check_model_name
from tensorbridge.serve.routing import (
    Routing,
    ServingConfig,
    check_label,
    read_routing,
    read_serving_config,
    write_routing,
)

__all__ = ["LoadedVersion", "ModelRegistry", "ModelState"]

log = logging.getLogger("tensorbridge.serve")

#: Chunks a version's statistics may lag behind before chunks are left out of them.
MAX_PENDING_STATS = 8
#: Rows gathered before the serving statistics are updated (or after a second).
STATS_CHUNK_ROWS = 512
#: One thread keeps every version's serving statistics.
_STATS_POOL = ThreadPoolExecutor(1, thread_name_prefix="tb-stats")


class _ChunkBuffer:
    """Served inputs gathered for the statistics, copied into preallocated arrays.

    Copying a request's columns in costs a few microseconds on the request's thread;
    concatenating 512 one-row requests later cost the statistics thread 0.7 ms of GIL
    time per chunk, during which a lone client's requests waited.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.arrays: dict[str, np.ndarray] | None = None
        self.rows = 0

    def fits(self, inputs: Mapping[str, Any], rows: int) -> bool:
        """Whether ``inputs`` can be added to what is here (room, names, dtypes, shapes)."""
        if self.arrays is None:
            return True
        if self.rows + rows > self.size or inputs.keys() != self.arrays.keys():
            return False
        return all(
            (a := np.asarray(inputs[name])).dtype == buffer.dtype
            and a.shape[1:] == buffer.shape[1:]
            for name, buffer in self.arrays.items()
        )

    def add(self, inputs: Mapping[str, Any], rows: int) -> None:
        """Copy ``inputs`` in (``fits`` must be true)."""
        if self.arrays is None:
            self.arrays = {}
            for name, values in inputs.items():
                array = np.asarray(values)
                self.arrays[name] = np.empty((self.size, *array.shape[1:]), dtype=array.dtype)
        for name, values in inputs.items():
            self.arrays[name][self.rows : self.rows + rows] = values
        self.rows += rows

    def take(self) -> tuple[dict[str, np.ndarray] | None, int]:
        """What is here (views of the filled rows) and its row count; empties the buffer."""
        arrays, rows = self.arrays, self.rows
        self.arrays, self.rows = None, 0
        if arrays is None or rows == 0:
            return None, 0
        return {name: array[:rows] for name, array in arrays.items()}, rows


@dataclass
class LoadedVersion:
    """One version being served: the model, its batcher and its live feature statistics."""

    model: Any  # ServedModel
    config: ServingConfig
    stats: Any  # ServingFeatureStats
    loaded_at: float
    warmup_seconds: float
    metrics: Any = None
    in_flight: int = 0
    retired: bool = False
    stats_skipped_rows: int = 0
    stats_unsampled_rows: int = 0
    _stats_budget: float = 0.0
    _stats_budget_at: float = field(default_factory=time.monotonic)
    _pending_stats: int = 0
    _stats_buffer: _ChunkBuffer = field(default_factory=lambda: _ChunkBuffer(STATS_CHUNK_ROWS))
    _stats_flushed: float = field(default_factory=time.monotonic)
    _batcher: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def predict(self, inputs: Any) -> dict[str, Any]:
        """Run one batch; queue its inputs for the serving statistics.

        Statistics are computed off the event loop and off the request's critical path,
        in chunks of at least :data:`STATS_CHUNK_ROWS` rows (or once a second): per
        request, the fixed cost of a few numpy calls per feature would cost a lone client
        more than the model call. Above ``statistics_rows_per_second`` they take a sample
        of the requests (see :meth:`_sampled`): their CPU time competes with the model's
        (TensorFlow uses every core), and at a few hundred 64-row requests a second with
        one client every row would cost a fifth of the request time. When the statistics
        thread falls behind by more than :data:`MAX_PENDING_STATS` chunks, a chunk is left
        out and counted in ``stats_skipped_rows``: monitoring never slows serving down.
        """
        outputs: dict[str, Any] = self.model.predict(inputs)
        rows = len(next(iter(inputs.values())))
        now = time.monotonic()
        chunks: list[dict[str, Any] | None] = []
        with self._lock:
            if not self._sampled(rows, now):
                self.stats_unsampled_rows += rows
                return outputs
            if rows >= STATS_CHUNK_ROWS:  # a chunk of its own
                chunks.append(self._admit(dict(inputs), rows))
            else:
                if not self._stats_buffer.fits(inputs, rows):
                    chunks.append(self._admit(*self._stats_buffer.take()))
                self._stats_buffer.add(inputs, rows)
                if self._stats_buffer.rows >= STATS_CHUNK_ROWS or now - self._stats_flushed >= 1:
                    chunks.append(self._admit(*self._stats_buffer.take()))
                    self._stats_flushed = now
        for chunk in chunks:
            if chunk is not None:
                _STATS_POOL.submit(self._observe, chunk)
        return outputs

    def _sampled(self, rows: int, now: float) -> bool:
        """Whether this request goes into the statistics (lock held).

        A budget of ``statistics_rows_per_second`` refills with time (up to one second's
        worth); a request is taken while the budget is positive and spends its rows (it may
        go below zero, so a request larger than the budget is taken too). The sample is of
        whole requests, chosen by time, not by content: unbiased, and the statistics cost
        at most about that many rows a second however busy the model is.
        """
        rate = self.config.statistics_rows_per_second
        if rate <= 0:
            return True
        self._stats_budget = min(rate, self._stats_budget + (now - self._stats_budget_at) * rate)
        self._stats_budget_at = now
        if self._stats_budget <= 0:
            return False
        self._stats_budget -= rows
        return True

    def _admit(self, chunk: dict[str, Any] | None, rows: int) -> dict[str, Any] | None:
        """``chunk``, if the statistics thread can take it, else None (lock held)."""
        if chunk is None:
            return None
        if self._pending_stats >= MAX_PENDING_STATS:
            self.stats_skipped_rows += rows
            return None
        self._pending_stats += 1
        return chunk

    def flush_statistics(self) -> None:
        """Hand what is buffered to the statistics thread now."""
        with self._lock:
            chunk = self._admit(*self._stats_buffer.take())
            self._stats_flushed = time.monotonic()
        if chunk is not None:
            _STATS_POOL.submit(self._observe, chunk)

    def _observe(self, inputs: dict[str, Any]) -> None:
        try:
            unseen = self.stats.update(inputs)
            if self.metrics is not None:
                for feature, count in unseen.items():
                    self.metrics.observe_unseen(
                        model=self.name, version=self.version, feature=feature, count=count
                    )
        except Exception:  # statistics must never break serving
            log.exception("serving statistics of %s version %d failed", self.name, self.version)
        finally:
            with self._lock:
                self._pending_stats -= 1

    def wait_for_statistics(self, timeout: float = 10.0) -> None:
        """Block until the batches served so far are in the statistics (for reports)."""
        self.flush_statistics()
        deadline = time.monotonic() + timeout
        while self._pending_stats > 0 and time.monotonic() < deadline:
            time.sleep(0.005)

    @property
    def name(self) -> str:
        """The model's name."""
        return str(self.model.name)

    @property
    def version(self) -> int:
        """The version number."""
        return int(self.model.version)

    def batcher(self, executor: Any) -> Any:
        """The MicroBatcher of this version, created on first use inside the event loop."""
        if self._batcher is None:
            from tensorbridge.serve.batching import MicroBatcher

            self._batcher = MicroBatcher(
                self.predict,
                max_batch_size=self.config.max_batch_size,
                max_wait_ms=self.config.max_wait_ms,
                max_queue_rows=self.config.max_queue_rows,
                executor=executor,
                name=f"{self.name}/{self.version}",
            )
        return self._batcher


@dataclass
class ModelState:
    """What the registry knows about one model: loaded versions, routing, refusals."""

    name: str
    config: ServingConfig
    routing: Routing
    versions: dict[int, LoadedVersion] = field(default_factory=dict)
    #: version -> (directory stamp, error) for versions that failed to load
    refused: dict[int, tuple[float, str]] = field(default_factory=dict)
    loading: set[int] = field(default_factory=set)

    def loaded(self) -> list[int]:
        """Versions that can take requests, ascending."""
        return sorted(v for v, lv in self.versions.items() if not lv.retired)


def _settle_garbage(*, unfreeze: bool = False) -> None:
    """Move what a loaded model allocated out of the garbage collector's way.

    A TensorFlow model leaves hundreds of thousands of long-lived Python objects; full
    collections walking them stalled every in-flight request for ~250 ms every few
    seconds under load. Freezing them after a load (``gc.freeze``) ends that; before
    unloading, they are unfrozen so that the old version's objects can be collected.
    """
    if unfreeze:
        gc.unfreeze()
    gc.collect()
    gc.freeze()


def _stamp(path: Path) -> float:
    """When a version directory last changed (its marker's or its own mtime)."""
    marker = path / COMPLETE_MARKER
    try:
        return max(path.stat().st_mtime, marker.stat().st_mtime)
    except OSError:
        return 0.0


class ModelRegistry:
    """Every model of a repository that is being served.

    Parameters
    ----------
    repository : path or ModelRepository
        TF Serving's layout: ``<root>/<model>/<version>/``.
    defaults : ServingConfig
        Settings for models without ``serving.json``.
    poll_seconds : float
        How often to look for new versions and changed routing (0: only at start).
    metrics : ServingMetrics, optional
        Where loaded-version counts and errors go.
    executor_threads : int
        Threads running model calls (shared by every version's batcher).
    """

    def __init__(
        self,
        repository: Path | str | ModelRepository,
        *,
        defaults: ServingConfig | None = None,
        poll_seconds: float = 1.0,
        metrics: Any = None,
        executor_threads: int = 2,
        warmup_rounds: int = 2,
    ) -> None:
        self.repository = (
            repository if isinstance(repository, ModelRepository) else ModelRepository(repository)
        )
        if not self.repository.root.is_dir():
            raise ConfigError(
                f"Model repository {str(self.repository.root)!r} does not exist; push a model "
                "into it first (tensorbridge push MODEL_DIR REPOSITORY --name NAME)."
            )
        self.defaults = defaults or ServingConfig()
        self.poll_seconds = poll_seconds
        self.metrics = metrics
        self.warmup_rounds = warmup_rounds
        self.executor = ThreadPoolExecutor(executor_threads, thread_name_prefix="tb-infer")
        self._models: dict[str, ModelState] = {}
        self._config_errors: dict[str, str] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.last_refresh = 0.0

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Load what the repository holds now, then watch it in a background thread."""
        self._loop = loop
        self.refresh()
        if self.poll_seconds > 0:
            self._thread = threading.Thread(target=self._watch, name="tb-watch", daemon=True)
            self._thread.start()

    async def stop(self) -> None:
        """Stop watching, finish queued requests, and release the models."""
        self._stop.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 10)
        with self._lock:
            versions = [lv for state in self._models.values() for lv in state.versions.values()]
        for loaded in versions:
            if loaded._batcher is not None:
                await loaded._batcher.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        gc.unfreeze()  # the models may now be collected

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception:  # never let the watcher die: log and keep serving
                log.exception("refreshing the model repository failed")

    # -- loading ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Bring the served versions in line with the repository (one polling round)."""
        names = self.repository.models()
        with self._lock:
            gone = [name for name in self._models if name not in names]
        for name in names:
            self._refresh_model(name)
        for name in gone:  # the model's directory disappeared: stop serving it
            with self._lock:
                state = self._models.pop(name)
            for loaded in state.versions.values():
                self._retire(loaded)
        self.last_refresh = time.time()

    def _refresh_model(self, name: str) -> None:
        folder = self.repository.model_dir(name)
        with self._lock:
            state = self._models.get(name)
        try:
            config = read_serving_config(folder, self.defaults)
            routing = read_routing(folder)
            self._config_errors.pop(name, None)
        except ConfigError as err:
            if self._config_errors.get(name) != str(err):  # say it once per change
                self._config_errors[name] = str(err)
                kept = "its previous settings" if state is not None else "the defaults"
                log.error("model %s: %s Serving it with %s.", name, str(err).rstrip("."), kept)
            config, routing = (
                (state.config, state.routing) if state is not None else (self.defaults, Routing())
            )
        if state is None:
            state = ModelState(name, config, routing)
            with self._lock:
                self._models[name] = state
        state.config, state.routing = config, routing
        available = self.repository.versions(name)
        state.refused = {v: r for v, r in state.refused.items() if v in available}
        for _ in range(3):  # a refused version makes the policy reach for an older one
            usable = [v for v in available if v in state.versions or v not in state.refused]
            wanted = set(config.policy.select(usable))
            wanted |= {v for v in routing.labels.values() if v in usable}  # labels pin versions
            missing = sorted(wanted - set(state.loaded()))
            if not missing:
                break
            for version in missing:
                self._load(state, version)
        wanted &= set(state.loaded())
        if not wanted:
            return  # nothing it wants could be loaded: keep whatever serves now
        for version, loaded in list(state.versions.items()):
            if version not in wanted and not loaded.retired:
                self._retire(loaded)
        if self.metrics is not None:
            self.metrics.set_loaded_versions(name, len(state.loaded()))

    def _load(self, state: ModelState, version: int) -> None:
        path = self.repository.version_dir(state.name, version)
        stamp = _stamp(path)
        refused = state.refused.get(version)
        if refused is not None and refused[0] == stamp:
            return  # refused before and unchanged since
        from tensorbridge.serve.feature_stats import ServingFeatureStats
        from tensorbridge.serve.model import ServedModel

        started = time.perf_counter()
        try:
            model = ServedModel.load(state.name, version, path)
            warmup = model.warm_up(self.warmup_rounds)
        except Exception as err:
            reason = str(err) if isinstance(err, ModelLoadError) else f"{type(err).__name__}: {err}"
            state.refused[version] = (stamp, reason)
            log.error("refused %s version %d: %s", state.name, version, reason)
            if self.metrics is not None:
                self.metrics.observe_error(model=state.name, version=version, kind="load")
            return
        baseline = (model.manifest or {}).get("serving_baseline")
        loaded = LoadedVersion(
            model,
            state.config,
            ServingFeatureStats(model.inputs, baseline),
            time.time(),
            warmup,
            metrics=self.metrics,
        )
        with self._lock:
            state.versions[version] = loaded
            state.refused.pop(version, None)
        _settle_garbage()
        log.info(
            "loaded %s version %d in %.2f s (warm-up %.2f s)",
            state.name,
            version,
            time.perf_counter() - started,
            warmup,
        )

    def _retire(self, loaded: LoadedVersion) -> None:
        """Stop routing to a version; unload it once its in-flight requests are done."""
        loaded.retired = True
        log.info("unloading %s version %d", loaded.name, loaded.version)
        threading.Thread(target=self._unload_when_idle, args=(loaded,), daemon=True).start()

    def _unload_when_idle(self, loaded: LoadedVersion) -> None:
        deadline = time.monotonic() + 60
        while loaded.in_flight > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            state = self._models.get(loaded.name)
            if state is not None and state.versions.get(loaded.version) is loaded:
                del state.versions[loaded.version]
        _settle_garbage(unfreeze=True)
        if self.metrics is not None:
            self.metrics.forget_version(loaded.name, loaded.version)
        batcher = loaded._batcher
        if batcher is not None and self._loop is not None and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(batcher.close(), self._loop)

    # -- lookups ------------------------------------------------------------------------

    def models(self) -> list[str]:
        """Names of the models with at least one loaded version."""
        with self._lock:
            return sorted(n for n, s in self._models.items() if s.loaded())

    def state(self, name: str) -> ModelState:
        """A model's state, or NotFoundError."""
        check = _checked_name(name)
        with self._lock:
            state = self._models.get(check)
        if state is None:
            raise NotFoundError(
                f"Servable not found for request: model {name!r} is not in the repository "
                f"(models: {self.models()})."
            )
        return state

    def resolve(
        self, name: str, version: int | None = None, label: str | None = None
    ) -> LoadedVersion:
        """The version that answers a request (a version, a label, or the routing's pick)."""
        state = self.state(name)
        with self._lock:
            loaded = state.loaded()
            if version is not None:
                chosen: int | None = version
                if version not in loaded:
                    raise NotFoundError(
                        f"Servable not found for request: {name} version {version} is not "
                        f"loaded (loaded: {loaded})."
                    )
            elif label is not None:
                chosen = state.routing.labels.get(check_label(label))
                if chosen is None or chosen not in loaded:
                    raise NotFoundError(
                        f"Servable not found for request: {name} has no label {label!r} on a "
                        f"loaded version (labels: {dict(state.routing.labels)})."
                    )
            else:
                chosen = state.routing.pick(loaded)
                if chosen is None:
                    raise NotFoundError(
                        f"Servable not found for request: no version of {name} is loaded"
                        + (f" (refused: {self._refusals(state)})" if state.refused else "")
                        + "."
                    )
            assert chosen is not None
            return state.versions[chosen]

    @staticmethod
    def _refusals(state: ModelState) -> dict[int, str]:
        return {v: reason for v, (_, reason) in state.refused.items()}

    @contextmanager
    def using(self, loaded: LoadedVersion) -> Iterator[LoadedVersion]:
        """Count a request in flight on ``loaded`` (it is not unloaded meanwhile)."""
        with loaded._lock:
            loaded.in_flight += 1
        try:
            yield loaded
        finally:
            with loaded._lock:
                loaded.in_flight -= 1

    def status(self, name: str, version: int | None = None) -> list[dict[str, Any]]:
        """TF Serving's ``model_version_status`` entries (every version, or one)."""
        state = self.state(name)
        entries: list[dict[str, Any]] = []
        with self._lock:
            known = set(state.versions) | set(state.refused)
            for v in sorted(known, reverse=True):
                if version is not None and v != version:
                    continue
                if v in state.versions:
                    loaded = state.versions[v]
                    status = {"error_code": "OK", "error_message": ""}
                    entries.append(
                        {
                            "version": str(v),
                            "state": "END" if loaded.retired else "AVAILABLE",
                            "status": status,
                        }
                    )
                else:
                    entries.append(
                        {
                            "version": str(v),
                            "state": "END",
                            "status": {
                                "error_code": "UNKNOWN",
                                "error_message": state.refused[v][1],
                            },
                        }
                    )
        if version is not None and not entries:
            raise NotFoundError(
                f"Servable not found for request: {name} version {version} is not loaded."
            )
        return entries

    # -- labels -------------------------------------------------------------------------

    def set_label(self, name: str, label: str, version: int | None) -> Routing:
        """Point ``label`` at a loaded ``version`` (None removes it); persisted at once."""
        state = self.state(name)
        with self._lock:
            if version is not None and version not in state.loaded():
                raise NotFoundError(
                    f"Cannot label {name} version {version}: it is not loaded (loaded: "
                    f"{state.loaded()}). Labels may only point at loaded versions, as in TF "
                    "Serving."
                )
            routing = state.routing.with_label(label, version)
            write_routing(self.repository.model_dir(name), routing)
            state.routing = routing
        return routing

    def set_canary(self, name: str, label: str, weight: float) -> Routing:
        """Send ``weight`` of unaddressed requests to ``label``'s version (0 = rollback)."""
        state = self.state(name)
        with self._lock:
            routing = state.routing.with_canary(label, weight)
            write_routing(self.repository.model_dir(name), routing)
            state.routing = routing
        return routing


def _checked_name(name: str) -> str:
    try:
        return check_model_name(name)
    except ConfigError as err:
        raise NotFoundError(str(err)) from None
