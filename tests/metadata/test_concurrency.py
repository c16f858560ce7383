"""Several OS processes (and threads) writing to one store at once lose nothing.

Each worker process opens the same (initially empty) store at the same moment, so table
creation races too, then records its own run: executions with input and output events,
artifacts, contexts, links, and merges a key into the one shared pipeline context.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import traceback
from typing import Any

import pytest

from tensorbridge.metadata import MetadataStore

PROCESSES = 4
EXECUTIONS = 50


def _record_run(store: MetadataStore, worker: str) -> dict[str, Any]:
    """Record one run of ``EXECUTIONS`` chained steps; return the ids it made."""
    pipeline = store.put_context("pipeline", "shared", properties={"created_by": worker})
    run = store.put_context("run", f"run-{worker}", properties={"worker": worker})
    store.set_parent_context(run.id, pipeline.id)
    made: dict[str, Any] = {"run": run.id, "pipeline": pipeline.id, "executions": [],
                            "artifacts": [], "chain": []}  # fmt: skip
    data = store.put_artifact("Data", f"/{worker}/raw", fingerprint=f"{worker}-raw")
    made["artifacts"].append(data.id)
    for step in range(EXECUTIONS):
        properties = {"component": "Step", "worker": worker, "step": step}
        out = store.put_artifact("Data", f"/{worker}/{step}", fingerprint=f"{worker}-{step}")
        if step % 5 == 4:  # some in one transaction, the rest write by write
            execution = store.record_execution(
                "Step",
                inputs={"data": data},
                outputs={"out": out},
                contexts=[run, pipeline],
                properties=properties,
                cache_key=f"{worker}-{step}",
            )
        else:
            execution = store.put_execution("Step", properties=properties, cache_key=f"{worker}")
            store.associate(run.id, execution.id)
            store.associate(pipeline.id, execution.id)
            store.put_event(execution.id, data.id, "INPUT", "data")
            store.put_event(execution.id, out.id, "OUTPUT", "out")
            store.attribute(run.id, out.id)
            store.attribute(pipeline.id, out.id)
            store.finish_execution(execution.id, "COMPLETE", properties={"done": True})
        store.put_context("pipeline", "shared", properties={f"last-{worker}": step})
        made["executions"].append(execution.id)
        made["artifacts"].append(out.id)
        made["chain"].append((execution.id, data.id, out.id))
        data = out
    return made


def _process_main(url: str, worker: str, barrier: Any, results: Any) -> None:
    try:
        barrier.wait(timeout=120)  # open the new store at the same moment
        with MetadataStore(url) as store:
            results.put((worker, _record_run(store, worker)))
    except BaseException:
        results.put((worker, traceback.format_exc()))


def _check(url: str, made: dict[str, dict[str, Any]]) -> None:
    workers = len(made)
    with MetadataStore(url) as store:
        executions = store.executions()
        artifacts = store.artifacts()
        assert len(executions) == workers * EXECUTIONS
        assert len({e.id for e in executions}) == len(executions)
        assert len(artifacts) == workers * (EXECUTIONS + 1)
        assert len({a.id for a in artifacts}) == len(artifacts)
        reported_executions = [i for m in made.values() for i in m["executions"]]
        reported_artifacts = [i for m in made.values() for i in m["artifacts"]]
        assert sorted(reported_executions) == sorted(e.id for e in executions)
        assert sorted(reported_artifacts) == sorted(a.id for a in artifacts)
        assert {e.state for e in executions} == {"COMPLETE"}
        assert len(store.events()) == 2 * workers * EXECUTIONS

        (pipeline,) = store.contexts(type="pipeline")
        assert {m["pipeline"] for m in made.values()} == {pipeline.id}
        assert {k: v for k, v in pipeline.properties.items() if k.startswith("last-")} == {
            f"last-{worker}": EXECUTIONS - 1 for worker in made
        }  # every process's merge survived the others'
        runs = store.contexts(type="run", parent_id=pipeline.id)
        assert sorted(r.name for r in runs) == sorted(f"run-{w}" for w in made)
        assert len(store.executions(context_id=pipeline.id)) == workers * EXECUTIONS
        assert len(store.artifacts(context_id=pipeline.id)) == workers * EXECUTIONS

        for worker, ids in made.items():
            run = store.get_context("run", f"run-{worker}")
            assert run is not None and run.id == ids["run"]
            assert [e.id for e in store.executions(context_id=run.id)] == ids["executions"]
            for execution_id, input_id, output_id in ids["chain"]:
                assert [a.id for a in store.inputs_of(execution_id)["data"]] == [input_id]
                assert [a.id for a in store.outputs_of(execution_id)["out"]] == [output_id]
                producer = store.producer_of(output_id)
                assert producer is not None and producer.id == execution_id
                assert producer.properties["worker"] == worker


@pytest.mark.slow
def test_processes_write_concurrently(store_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(target=_process_main, args=(store_url, f"p{i}", barrier, results))
        for i in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    made: dict[str, Any] = {}
    try:
        for _ in processes:
            worker, result = results.get(timeout=300)
            made[worker] = result
    except queue.Empty:
        pytest.fail(f"Only {sorted(made)} of {PROCESSES} workers reported within 300 s")
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    failures = {w: r for w, r in made.items() if isinstance(r, str)}
    assert not failures, "\n".join(f"{w}:\n{r}" for w, r in failures.items())
    assert [p.exitcode for p in processes] == [0] * PROCESSES
    _check(store_url, made)


def test_threads_share_one_store(store: MetadataStore, store_url: str) -> None:
    made: dict[str, Any] = {}
    errors: list[str] = []

    def work(worker: str) -> None:
        try:
            made[worker] = _record_run(store, worker)
        except BaseException:
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, "\n".join(errors)
    _check(store_url, made)
