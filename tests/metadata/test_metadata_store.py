"""The metadata store's contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from tensorbridge.errors import ConfigError, TensorbridgeError
from tensorbridge.metadata import (
    SCHEMA_VERSION,
    Artifact,
    Context,
    Event,
    Execution,
    MetadataError,
    MetadataStore,
    NotFoundError,
)

NESTED = {
    "text": "naïve café ✓ 模型 🚀",
    "int": 42,
    "big": 2**53 + 1,
    "float": 0.1,
    "neg": -3.5e-12,
    "bool": True,
    "none": None,
    "list": [1, "two", 3.0, False, None, [4, [5]]],
    "dict": {"a": {"b": {"c": ["deep", {"ünï": "ç"}]}}, "empty": {}},
    "empty_list": [],
}


# -- artifacts ------------------------------------------------------------------------------


def test_put_and_get_artifact(store: MetadataStore) -> None:
    before = dt.datetime.now(dt.UTC)
    artifact = store.put_artifact(
        "Examples",
        "/data/examples/1",
        name="example_gen.examples",
        properties={"split_names": ["train", "eval"]},
        fingerprint="sha256:ab12",
    )
    after = dt.datetime.now(dt.UTC)
    assert isinstance(artifact.id, int)
    assert artifact.type == "Examples"
    assert artifact.uri == "/data/examples/1"
    assert artifact.name == "example_gen.examples"
    assert artifact.state == "LIVE"
    assert artifact.fingerprint == "sha256:ab12"
    assert artifact.properties == {"split_names": ["train", "eval"]}
    assert artifact.created_at.tzinfo is not None
    assert before <= artifact.created_at <= after
    assert store.get_artifact(artifact.id) == artifact


def test_artifact_defaults(store: MetadataStore) -> None:
    artifact = store.put_artifact("Model", "gs://bucket/model")
    assert (artifact.name, artifact.fingerprint, artifact.state) == (None, None, "LIVE")
    assert artifact.properties == {}
    assert store.get_artifact(artifact.id) == artifact


@pytest.mark.parametrize("properties", [NESTED, {"ключ": "значение", "": ""}, {}])
def test_property_round_trip(store: MetadataStore, properties: dict[str, object]) -> None:
    artifact = store.put_artifact("Data", "/d", properties=properties)
    assert store.get_artifact(artifact.id).properties == properties
    execution = store.put_execution("Component", properties=properties)
    assert store.get_execution(execution.id).properties == properties
    context = store.put_context("run", "r-ü", properties=properties)
    assert store.get_context("run", "r-ü") == context
    assert context.properties == properties


def test_tuples_come_back_as_lists(store: MetadataStore) -> None:
    artifact = store.put_artifact("Data", "/d", properties={"shape": (2, 3)})
    assert artifact.properties == {"shape": [2, 3]}
    assert store.get_artifact(artifact.id).properties == {"shape": [2, 3]}


@pytest.mark.parametrize(
    ("properties", "match"),
    [
        ({"when": dt.datetime(2024, 1, 1)}, r"properties\['when'\] is a datetime"),
        ({"a": [1, {2: "x"}]}, r"properties\['a'\]\[1\] has the key 2 of type int"),
        ({"s": {1, 2}}, r"properties\['s'\] is a set"),
        ({"p": Path("/x")}, r"PosixPath"),
    ],
)
def test_non_json_properties_are_refused(
    store: MetadataStore, properties: dict[str, object], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        store.put_artifact("Data", "/d", properties=properties)
    assert store.artifacts() == []


def test_update_artifact(store: MetadataStore) -> None:
    artifact = store.put_artifact(
        "Model", "/m", properties={"a": 1, "nested": {"x": 1}}, state="PENDING"
    )
    updated = store.update_artifact(
        artifact.id, state="LIVE", properties={"b": 2, "nested": {"y": 2}}, fingerprint="f1"
    )
    assert updated.state == "LIVE"
    assert updated.fingerprint == "f1"
    assert updated.properties == {"a": 1, "b": 2, "nested": {"y": 2}}  # top-level merge
    assert updated.created_at == artifact.created_at
    assert store.get_artifact(artifact.id) == updated
    unchanged = store.update_artifact(artifact.id)
    assert (unchanged.state, unchanged.fingerprint) == ("LIVE", "f1")
    deleted = store.update_artifact(artifact.id, state="DELETED")
    assert deleted.properties == updated.properties


def test_bad_states_and_kinds(store: MetadataStore) -> None:
    with pytest.raises(ConfigError, match="artifact state must be one of PENDING, LIVE"):
        store.put_artifact("Model", "/m", state="live")
    with pytest.raises(ConfigError, match="execution state must be one of RUNNING"):
        store.put_execution("T", state="DONE")
    execution = store.put_execution("T")
    with pytest.raises(ConfigError, match="final execution state must be one of COMPLETE"):
        store.finish_execution(execution.id, "RUNNING")
    artifact = store.put_artifact("Model", "/m")
    with pytest.raises(ConfigError, match="event kind must be one of INPUT, OUTPUT"):
        store.put_event(execution.id, artifact.id, "input", "x")
    with pytest.raises(ConfigError, match="artifact type must be a non-empty str"):
        store.put_artifact("", "/m")
    with pytest.raises(ConfigError, match="artifact_id must be an int id"):
        store.get_artifact("1")  # type: ignore[arg-type]


def test_unknown_ids(store: MetadataStore) -> None:
    with pytest.raises(NotFoundError, match="no artifact with id 999"):
        store.get_artifact(999)
    with pytest.raises(NotFoundError, match="no execution with id 999"):
        store.get_execution(999)
    with pytest.raises(NotFoundError, match="no artifact with id 999"):
        store.update_artifact(999, state="DELETED")
    execution = store.put_execution("T")
    with pytest.raises(NotFoundError, match="no artifact with id 999"):
        store.put_event(execution.id, 999, "INPUT", "x")
    context = store.put_context("run", "r")
    with pytest.raises(NotFoundError, match="no execution with id 999"):
        store.associate(context.id, 999)
    with pytest.raises(NotFoundError, match="no context with id 999"):
        store.get_context_by_id(999)
    assert isinstance(NotFoundError("x"), LookupError)
    assert isinstance(NotFoundError("x"), TensorbridgeError)
    assert store.get_context("run", "missing") is None
    assert store.inputs_of(999) == {}
    assert store.producer_of(999) is None


def test_artifacts_query(store: MetadataStore) -> None:
    run = store.put_context("run", "r1")
    other = store.put_context("run", "r2")
    a1 = store.put_artifact("Examples", "/e1")
    a2 = store.put_artifact("Model", "/m1", fingerprint="f")
    a3 = store.put_artifact("Model", "/m2", state="PENDING")
    a4 = store.put_artifact("Model", "/m3", name="trainer.model")
    for artifact in (a1, a2, a3):
        store.attribute(run.id, artifact.id)
    store.attribute(run.id, a1.id)  # idempotent
    store.attribute(other.id, a4.id)
    assert [a.id for a in store.artifacts()] == [a4.id, a3.id, a2.id, a1.id]
    assert [a.id for a in store.artifacts(type="Model")] == [a4.id, a3.id, a2.id]
    assert [a.id for a in store.artifacts(context_id=run.id)] == [a3.id, a2.id, a1.id]
    assert [a.id for a in store.artifacts(type="Model", context_id=run.id)] == [a3.id, a2.id]
    assert [a.id for a in store.artifacts(state="PENDING")] == [a3.id]
    assert [a.id for a in store.artifacts(type="Model", limit=2)] == [a4.id, a3.id]
    assert store.artifacts(limit=0) == []
    assert store.artifacts(uri="/m1") == [a2]
    assert store.artifacts(name="trainer.model") == [a4]
    assert store.artifacts(fingerprint="f") == [a2]
    assert store.artifacts(type="Nope") == []
    assert store.contexts_of_artifact(a1.id) == [run]
    assert store.contexts_of_artifact(a4.id) == [other]


# -- executions -----------------------------------------------------------------------------


def test_execution_lifecycle(store: MetadataStore) -> None:
    execution = store.put_execution(
        "Trainer",
        properties={"component": "trainer", "parameters": {"epochs": 3}},
        cache_key="k1",
    )
    assert execution.state == "RUNNING"
    assert execution.finished_at is None
    assert execution.cache_key == "k1"
    assert execution.error is None
    assert store.get_execution(execution.id) == execution
    finished = store.finish_execution(execution.id, "COMPLETE", properties={"seconds": 1.5})
    assert finished.state == "COMPLETE"
    assert finished.finished_at is not None
    assert finished.started_at == execution.started_at <= finished.finished_at
    assert finished.properties == {
        "component": "trainer",
        "parameters": {"epochs": 3},
        "seconds": 1.5,
    }
    assert store.get_execution(execution.id) == finished
    with pytest.raises(MetadataError, match="already finished as COMPLETE"):
        store.finish_execution(execution.id, "FAILED", error="late")
    assert store.get_execution(execution.id) == finished


def test_failed_execution_keeps_error(store: MetadataStore) -> None:
    execution = store.put_execution("Trainer")
    failed = store.finish_execution(execution.id, "FAILED", error="ValueError: bad ✗")
    assert (failed.state, failed.error) == ("FAILED", "ValueError: bad ✗")
    assert store.get_execution(execution.id).error == "ValueError: bad ✗"


def test_cached_execution_is_finished_at_once(store: MetadataStore) -> None:
    execution = store.put_execution("Trainer", state="CACHED", properties={"cached_from": 1})
    assert execution.state == "CACHED"
    assert execution.finished_at == execution.started_at
    assert store.get_execution(execution.id) == execution


def test_executions_query(store: MetadataStore) -> None:
    run = store.put_context("run", "r1")
    e1 = store.put_execution("ExampleGen", cache_key="a")
    e2 = store.put_execution("Trainer", cache_key="b")
    e3 = store.put_execution("Trainer", state="CACHED", cache_key="b")
    store.associate(run.id, e1.id)
    store.associate(run.id, e3.id)
    store.associate(run.id, e3.id)  # idempotent
    assert [e.id for e in store.executions()] == [e1.id, e2.id, e3.id]
    assert [e.id for e in store.executions(context_id=run.id)] == [e1.id, e3.id]
    assert [e.id for e in store.executions(type="Trainer")] == [e2.id, e3.id]
    assert [e.id for e in store.executions(state="RUNNING")] == [e1.id, e2.id]
    assert [e.id for e in store.executions(cache_key="b", state="CACHED")] == [e3.id]
    assert [e.id for e in store.executions(limit=1)] == [e1.id]
    assert store.contexts_of_execution(e1.id) == [run]
    assert store.contexts_of_execution(e2.id) == []


# -- contexts -------------------------------------------------------------------------------


def test_put_context_is_get_or_create(store: MetadataStore) -> None:
    pipeline = store.put_context("pipeline", "taxi", properties={"root": "/pipelines"})
    again = store.put_context("pipeline", "taxi")
    assert again == pipeline
    same_name_other_type = store.put_context("run", "taxi")
    assert same_name_other_type.id != pipeline.id
    merged = store.put_context("pipeline", "taxi", properties={"owner": "ml-team"})
    assert merged.id == pipeline.id
    assert merged.created_at == pipeline.created_at
    assert merged.properties == {"root": "/pipelines", "owner": "ml-team"}
    assert store.get_context("pipeline", "taxi") == merged
    updated = store.update_context(pipeline.id, {"root": "/new"})
    assert updated.properties == {"root": "/new", "owner": "ml-team"}
    assert store.contexts(type="pipeline") == [updated]
    assert store.contexts() == [updated, same_name_other_type]


def test_parent_contexts(store: MetadataStore) -> None:
    pipeline = store.put_context("pipeline", "taxi")
    run1 = store.put_context("run", "run-1")
    run2 = store.put_context("run", "run-2")
    store.put_context("run", "orphan")
    store.set_parent_context(run1.id, pipeline.id)
    store.set_parent_context(run2.id, pipeline.id)
    store.set_parent_context(run2.id, pipeline.id)  # idempotent
    assert store.contexts(parent_id=pipeline.id) == [run1, run2]
    assert store.contexts(type="run", parent_id=pipeline.id) == [run1, run2]
    assert store.parent_contexts(run1.id) == [pipeline]
    assert store.parent_contexts(pipeline.id) == []
    with pytest.raises(ConfigError, match="cannot be a parent"):
        store.set_parent_context(pipeline.id, run1.id)
    with pytest.raises(ConfigError, match="cannot be a parent"):
        store.set_parent_context(run1.id, run1.id)
    with pytest.raises(NotFoundError, match="no context with id 999"):
        store.set_parent_context(run1.id, 999)


# -- events ---------------------------------------------------------------------------------


def test_events_inputs_and_outputs(store: MetadataStore) -> None:
    examples = store.put_artifact("Examples", "/e")
    schema = store.put_artifact("Schema", "/s")
    extra = store.put_artifact("Examples", "/e2")
    model = store.put_artifact("Model", "/m")
    trainer = store.put_execution("Trainer")
    event = store.put_event(trainer.id, examples.id, "INPUT", "examples")
    assert event == Event(trainer.id, examples.id, "INPUT", "examples")
    store.put_event(trainer.id, extra.id, "INPUT", "examples")
    store.put_event(trainer.id, schema.id, "INPUT", "schema")
    store.put_event(trainer.id, model.id, "OUTPUT", "model")
    store.put_event(trainer.id, model.id, "OUTPUT", "model")  # idempotent
    assert store.inputs_of(trainer.id) == {"examples": [examples, extra], "schema": [schema]}
    assert store.outputs_of(trainer.id) == {"model": [model]}
    assert store.events(execution_id=trainer.id) == [
        Event(trainer.id, examples.id, "INPUT", "examples"),
        Event(trainer.id, extra.id, "INPUT", "examples"),
        Event(trainer.id, schema.id, "INPUT", "schema"),
        Event(trainer.id, model.id, "OUTPUT", "model"),
    ]
    assert store.events(artifact_id=model.id) == [Event(trainer.id, model.id, "OUTPUT", "model")]
    assert store.events(execution_id=trainer.id, artifact_id=schema.id) == [
        Event(trainer.id, schema.id, "INPUT", "schema")
    ]
    assert store.producer_of(model.id) == trainer
    assert store.producer_of(examples.id) is None
    assert store.consumers_of(examples.id) == [trainer]
    assert store.consumers_of(model.id) == []


def test_producer_is_the_first_writer_not_a_cache_hit(store: MetadataStore) -> None:
    model = store.put_artifact("Model", "/m")
    original = store.put_execution("Trainer", state="COMPLETE")
    store.put_event(original.id, model.id, "OUTPUT", "model")
    cached = store.put_execution("Trainer", state="CACHED")
    store.put_event(cached.id, model.id, "OUTPUT", "model")
    pusher1 = store.put_execution("Pusher")
    pusher2 = store.put_execution("Pusher")
    store.put_event(pusher2.id, model.id, "INPUT", "model")
    store.put_event(pusher1.id, model.id, "INPUT", "model")
    assert store.producer_of(model.id) == original
    assert store.consumers_of(model.id) == [pusher1, pusher2]


def test_record_execution_is_one_transaction(store: MetadataStore) -> None:
    run = store.put_context("run", "r1")
    pipeline = store.put_context("pipeline", "p")
    examples = store.put_artifact("Examples", "/e")
    model = store.put_artifact("Model", "/m")
    execution = store.record_execution(
        "Trainer",
        inputs={"examples": examples},
        outputs={"model": [model]},
        contexts=[run, pipeline.id],
        properties={"component": "trainer"},
        cache_key="k",
    )
    assert execution.state == "COMPLETE"
    assert store.get_execution(execution.id) == execution
    assert store.inputs_of(execution.id) == {"examples": [examples]}
    assert store.outputs_of(execution.id) == {"model": [model]}
    assert store.contexts_of_execution(execution.id) == [run, pipeline]
    assert store.contexts_of_artifact(model.id) == [run, pipeline]
    assert store.contexts_of_artifact(examples.id) == []
    ghost = Artifact(999, "Model", "/ghost", "LIVE", {}, None, model.created_at)
    with pytest.raises(NotFoundError, match="no artifact with id 999"):
        store.record_execution("Trainer", inputs={"examples": examples}, outputs={"m": ghost})
    assert [e.id for e in store.executions()] == [execution.id]  # nothing half-recorded
    failed = store.record_execution("Trainer", state="FAILED", error="boom")
    assert store.get_execution(failed.id).error == failed.error == "boom"


def test_transaction_rolls_back_every_write(store: MetadataStore) -> None:
    with pytest.raises(RuntimeError, match="crash"), store.transaction():
        artifact = store.put_artifact("Model", "/m")
        execution = store.put_execution("Trainer")
        store.put_event(execution.id, artifact.id, "OUTPUT", "model")
        assert store.get_artifact(artifact.id) == artifact  # visible inside
        raise RuntimeError("crash")
    assert store.artifacts() == []
    assert store.executions() == []
    assert store.events() == []
    with pytest.raises(RuntimeError, match="later"), store.transaction():
        with store.transaction():  # a nested block joins the outer one...
            store.put_artifact("Model", "/inner")
        raise RuntimeError("later")  # ...so the outer failure undoes it too
    assert store.artifacts() == []
    with store.transaction():
        kept = store.put_artifact("Model", "/kept")
    assert store.artifacts() == [kept]


# -- find_cached ----------------------------------------------------------------------------


def _cached_run(store: MetadataStore, key: str, state: str, output_state: str = "LIVE") -> int:
    model = store.put_artifact("Model", f"/m/{key}/{state}", state=output_state)
    execution = store.put_execution("Trainer", cache_key=key)
    store.put_event(execution.id, model.id, "OUTPUT", "model")
    if state != "RUNNING":
        store.finish_execution(execution.id, state)
    return execution.id


def test_find_cached(store: MetadataStore) -> None:
    assert store.find_cached("k") is None
    first = _cached_run(store, "k", "COMPLETE")
    found = store.find_cached("k")
    assert found is not None and found.id == first
    newest = _cached_run(store, "k", "COMPLETE")
    assert store.find_cached("k") == store.get_execution(newest)  # newest wins
    _cached_run(store, "k", "FAILED")  # ignored
    _cached_run(store, "k", "RUNNING")  # ignored
    _cached_run(store, "k", "CANCELED")  # ignored
    _cached_run(store, "k", "COMPLETE", output_state="PENDING")  # output not LIVE: ignored
    cached = store.put_execution("Trainer", cache_key="k", state="CACHED")  # ignored
    assert cached.id > newest
    found = store.find_cached("k")
    assert found is not None and found.id == newest
    (model,) = store.outputs_of(newest)["model"]
    store.update_artifact(model.id, state="DELETED")
    found = store.find_cached("k")
    assert found is not None and found.id == first  # falls back to the older one
    assert store.find_cached("other") is None


def test_find_cached_needs_every_output_live(store: MetadataStore) -> None:
    execution = store.put_execution("Transform", cache_key="t")
    graph = store.put_artifact("TransformGraph", "/g")
    examples = store.put_artifact("Examples", "/x")
    store.put_event(execution.id, graph.id, "OUTPUT", "transform_graph")
    store.put_event(execution.id, examples.id, "OUTPUT", "transformed_examples")
    store.finish_execution(execution.id, "COMPLETE")
    assert store.find_cached("t") == store.get_execution(execution.id)
    store.update_artifact(examples.id, state="DELETED")
    assert store.find_cached("t") is None
    no_outputs = store.put_execution("Check", cache_key="c")
    store.finish_execution(no_outputs.id, "COMPLETE")
    assert store.find_cached("c") == store.get_execution(no_outputs.id)


# -- opening, URLs, schema version ----------------------------------------------------------


def test_reopen_keeps_everything(store_url: str) -> None:
    with MetadataStore(store_url) as store:
        artifact = store.put_artifact("Model", "/m", properties=NESTED)
        context = store.put_context("run", "r")
        store.attribute(context.id, artifact.id)
        assert store.schema_version == SCHEMA_VERSION
    assert store.closed
    with pytest.raises(MetadataError, match="is closed"):
        store.artifacts()
    with MetadataStore(store_url) as reopened:
        assert reopened.get_artifact(artifact.id) == artifact
        assert reopened.artifacts(context_id=context.id) == [artifact]


def test_newer_schema_version_is_refused(store_url: str) -> None:
    import sqlalchemy as sa

    with MetadataStore(store_url) as store:
        store.put_artifact("Model", "/m")
        url = store._url  # the resolved URL (a psycopg driver, an absolute path)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE schema_version SET version = :v"), {"v": SCHEMA_VERSION + 1}
        )
    engine.dispose()
    with pytest.raises(MetadataError, match=rf"schema version {SCHEMA_VERSION + 1}, newer"):
        MetadataStore(store_url)


def test_foreign_tables_are_refused(store_url: str) -> None:
    import sqlalchemy as sa

    from tensorbridge.metadata.connect import resolve_url

    engine = sa.create_engine(resolve_url(store_url))
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE artifacts (x INTEGER)"))
    engine.dispose()
    with pytest.raises(MetadataError, match=r"already has tables named \['artifacts'\]"):
        MetadataStore(store_url)


def test_sqlite_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "store.sqlite"  # parent folders are created
    with MetadataStore(path) as store:
        assert store.backend == "sqlite"
        assert store.url == f"sqlite:///{path}"
        with store._engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 30000
    with sqlite3.connect(path) as raw:
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
        assert {"schema_version", "artifacts", "executions", "contexts", "events"} <= tables
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_sqlite_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.sqlite"
    with MetadataStore(f"sqlite:///{path}") as store:
        store.put_artifact("Model", "/m")
    with MetadataStore(str(path)) as store:
        assert len(store.artifacts()) == 1
    monkeypatch.chdir(tmp_path)
    with MetadataStore("a.sqlite") as store:  # relative paths resolve against the cwd
        assert store.url == f"sqlite:///{path}"
        assert len(store.artifacts()) == 1
    monkeypatch.setenv("TENSORBRIDGE_METADATA", str(tmp_path / "env.sqlite"))
    with MetadataStore() as store:
        assert store.url == f"sqlite:///{tmp_path / 'env.sqlite'}"
    with MetadataStore(":memory:") as store:
        assert store.put_artifact("Model", "/m").id == 1


def test_bad_urls(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        MetadataStore(tmp_path)
    with pytest.raises(ConfigError, match="Cannot parse the metadata store URL"):
        MetadataStore("postgresql+psycopg://user@host:notaport/db")
    with pytest.raises(ConfigError, match="no database dialect 'nosuchdb'"):
        MetadataStore("nosuchdb://host/db")
    with pytest.raises(ConfigError, match="is empty"):
        MetadataStore("")


def test_unreachable_postgres_names_the_url_without_password() -> None:
    with socket_port() as port:  # nothing listens there
        url = f"postgresql://someone:s3cret@127.0.0.1:{port}/db?connect_timeout=5"
        with pytest.raises(MetadataError, match="check the server is running") as caught:
            MetadataStore(url)
    assert "s3cret" not in str(caught.value)
    assert "postgresql+psycopg://someone:***@127.0.0.1" in str(caught.value)


class socket_port:  # noqa: N801 - used like a function
    """A local TCP port that is bound (so nothing else takes it) but not listening."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *_: object) -> None:
        self.sock.close()


def test_records_are_hashable_and_serializable(store: MetadataStore) -> None:
    artifact = store.put_artifact("Model", "/m", properties={"a": [1]})
    execution = store.put_execution("T")
    context = store.put_context("run", "r")
    assert {artifact, store.get_artifact(artifact.id)} == {artifact}
    assert len({execution, context}) == 2
    assert artifact.to_dict()["created_at"] == artifact.created_at.isoformat()
    assert execution.to_dict()["finished_at"] is None
    assert isinstance(context, Context) and isinstance(execution, Execution)
    assert context.to_dict()["name"] == "r"
