"""Pipeline definitions: wiring, parameters, and errors found before anything runs."""

from __future__ import annotations

import pytest

from tensorbridge.errors import PipelineDefinitionError
from tensorbridge.pipeline import (
    Examples,
    ExampleStatistics,
    Input,
    Model,
    Output,
    Schema,
    component,
    pipeline,
)
from tensorbridge.pipeline.loader import parse_parameters


@component
def Gen(examples: Output[Examples], rows: int = 10, name: str = "x") -> None:
    """Make examples."""


@component
def Stats(examples: Input[Examples], statistics: Output[ExampleStatistics]) -> None:
    """Statistics of examples."""


@component
def Infer(statistics: Input[ExampleStatistics], schema: Output[Schema]) -> None:
    """A schema from statistics."""


@component
def Train(
    examples: Input[Examples], model: Output[Model], schema: Input[Schema] | None = None,
    epochs: int = 1,
) -> None:  # fmt: skip
    """Train."""


def test_dag_follows_data_dependencies_in_definition_order() -> None:
    @pipeline(name="p")
    def p(rows: int = 10, epochs: int = 2) -> None:
        gen = Gen(rows=rows)
        stats = Stats(examples=gen.outputs["examples"])
        Train(examples=gen.outputs["examples"], epochs=epochs)
        Infer(statistics=stats.outputs["statistics"])

    graph = p.build({"epochs": 5})
    assert [t.name for t in graph.tasks] == ["Gen", "Stats", "Train", "Infer"]
    assert graph.task("Train").arguments == {"epochs": 5}
    assert graph.task("Gen").arguments == {"rows": 10, "name": "x"}
    assert graph.parameters == {"rows": 10, "epochs": 5}
    assert graph.downstream_of("Stats") == ["Infer"]
    assert graph.downstream_of("Gen") == ["Stats", "Train", "Infer"]


def test_explicit_ordering_and_duplicate_components_get_names() -> None:
    @pipeline
    def p() -> None:
        first = Gen()
        second = Gen()
        second.after(first)

    graph = p.build()
    assert [t.name for t in graph.tasks] == ["Gen", "Gen_2"]
    assert graph.task("Gen_2").upstream == [graph.task("Gen")]


def test_type_mismatch_names_both_components() -> None:
    @pipeline
    def p() -> None:
        gen = Gen()
        stats = Stats(examples=gen.outputs["examples"])
        Train(examples=stats.outputs["statistics"])

    with pytest.raises(PipelineDefinitionError) as err:
        p.build()
    assert str(err.value) == (
        "Type mismatch: Train.examples expects Examples, but Stats.outputs['statistics'] "
        "is ExampleStatistics."
    )


def test_unknown_input_and_output_are_named() -> None:
    @pipeline
    def unknown_input() -> None:
        Stats(examples=Gen().outputs["examples"], sample=3)

    with pytest.raises(PipelineDefinitionError, match=r"Stats has no input or parameter 'sample'"):
        unknown_input.build()

    @pipeline
    def unknown_output() -> None:
        Stats(examples=Gen().outputs["rows"])

    with pytest.raises(PipelineDefinitionError, match=r"Gen has no output 'rows'.*\['examples'\]"):
        unknown_output.build()


def test_missing_required_input_and_literal_for_artifact() -> None:
    @pipeline
    def missing() -> None:
        Stats()

    with pytest.raises(
        PipelineDefinitionError, match=r"Stats \(Stats\) is missing required \['examples'\]"
    ):
        missing.build()

    @pipeline
    def literal() -> None:
        Stats(examples="data/train")

    with pytest.raises(PipelineDefinitionError, match="expects an artifact"):
        literal.build()


def test_cycle_is_reported_with_the_components() -> None:
    @pipeline
    def cyclic() -> None:
        a = Gen(task_name="a")
        b = Gen(task_name="b")
        c = Gen(task_name="c")
        a.after(c)
        b.after(a)
        c.after(b)

    with pytest.raises(PipelineDefinitionError, match=r"has a cycle: a -> c -> b -> a\."):
        cyclic.build()


def test_component_definition_errors() -> None:
    with pytest.raises(PipelineDefinitionError, match="declares no Output"):

        @component
        def NoOutput(examples: Input[Examples]) -> None: ...

    with pytest.raises(PipelineDefinitionError, match="not a JSON value"):

        @component
        def BadDefault(model: Output[Model], fn: object = object()) -> None: ...

    with pytest.raises(PipelineDefinitionError, match="outside a pipeline definition"):
        Gen()


def test_pipeline_parameters_need_defaults_and_are_checked() -> None:
    with pytest.raises(PipelineDefinitionError, match="'rows' needs a default"):

        @pipeline
        def no_default(rows: int) -> None: ...

    @pipeline
    def p(rows: int = 10, rate: float = 0.5, name: str = "a", full: bool = False,
          splits: dict = {"train": 2}) -> None:  # noqa: B006  # fmt: skip
        Gen(rows=rows)

    assert parse_parameters(p, ["rows=3", "rate=0.25", "name=b", "full=true",
                                'splits={"train": 1}']) == {
        "rows": 3, "rate": 0.25, "name": "b", "full": True, "splits": {"train": 1}
    }  # fmt: skip
    with pytest.raises(Exception, match="no parameter 'epochs'"):
        parse_parameters(p, ["epochs=3"])
    with pytest.raises(Exception, match="expected an integer"):
        parse_parameters(p, ["rows=many"])
    with pytest.raises(PipelineDefinitionError, match="no parameter 'epochs'"):
        p.build({"epochs": 1})


def test_parameters_follow_their_annotations() -> None:
    @pipeline
    def annotated(rate: float = 1, tag: str | None = None, limit: int | None = None) -> None:
        Gen(rows=1)

    assert parse_parameters(annotated, ["rate=0.5", "tag=7", "limit=3"]) == {
        "rate": 0.5, "tag": "7", "limit": 3
    }  # fmt: skip
    with pytest.raises(Exception, match="expected a number"):
        parse_parameters(annotated, ["rate=fast"])
