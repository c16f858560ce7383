"""StatisticsGen: the statistics of every split, and an HTML report."""

from __future__ import annotations

from tensorbridge.pipeline.artifacts import Examples, ExampleStatistics
from tensorbridge.pipeline.component import component
from tensorbridge.pipeline.components._common import (
    Input,
    Output,
    check_engine,
    read_split,
    split_names,
)

__all__ = ["REPORT_FILE", "StatisticsGen", "report_pair"]

REPORT_FILE = "report.html"


def report_pair(splits: list[str]) -> tuple[str, str | None]:
    """The split a report shows and its baseline: the first non-train split vs ``train``.

    With only one split (or no ``train``), that split alone, without a baseline.
    """
    others = [s for s in splits if s != "train"]
    if "train" in splits and others:
        return others[0], "train"
    return splits[0], None


@component
def StatisticsGen(  # noqa: N802 - components are named like TFX's, in CamelCase
    examples: Input[Examples],
    statistics: Output[ExampleStatistics],
    engine: str = "local",
) -> None:
    """Compute the statistics of every split (TFX's StatisticsGen, TFDV's statistics).

    Parameters
    ----------
    examples : Input[Examples]
        One Parquet directory per split (ExampleGen's or Transform's examples).
    statistics : Output[ExampleStatistics]
        Receives ``<split>.json`` per split (:meth:`tensorbridge.stats.Statistics.save`,
        read back with ``Statistics.load``) and ``report.html``: the first non-train
        split's statistics next to ``train``'s (or the only split's).
    engine : {"local", "spark"}
        Where the statistics pass runs; both give identical statistics.

    Notes
    -----
    Metadata: ``splits`` and ``num_examples`` (split -> number of examples).
    """
    from tensorbridge.stats.api import compute
    from tensorbridge.stats.report import write_html

    engine = check_engine(engine, "StatisticsGen")
    splits = split_names(examples, "StatisticsGen", "examples")
    computed = {}
    for split in splits:
        computed[split] = compute(read_split(examples, split, engine))
        computed[split].save(statistics.path / f"{split}.json")
    shown, baseline = report_pair(splits)
    title = f"Statistics: {shown}" + (f" vs {baseline}" if baseline else "")
    write_html(
        statistics.path / REPORT_FILE,
        statistics=computed[shown],
        baseline=computed[baseline] if baseline else None,
        title=title,
    )
    statistics.metadata.update(
        {"splits": splits, "num_examples": {s: computed[s].num_examples for s in splits}}
    )
