"""What a task is: examples with gold answers, a prompt, answer extraction, equality and seeded splits.

A task module subclasses ``Task`` and fills in the hub location, how a raw record (local file or hub
row) becomes an ``Example``, and how answers are extracted and compared. Loading, validation with
file/line errors, subsampling and the seeded train/dev/test split live here, once.

Three kinds of task share this interface (``Task.kind``):
- ``accuracy``: a gold answer is extracted and compared (reasoning);
- ``scored``: a response gets a graded score against gold references (LongBench F1 / ROUGE-L);
- ``open_ended``: no gold at all (WildChat); policies are compared pairwise by a judge.
A task's loader options (filters, classifiers, subsampling) are a dataclass ``Config`` parsed strictly
from the run config's ``task.options``; ``TASKS.build(name, options, TaskContext())`` (``harness.tasks.registry``)
builds a task from them through ``Task.from_config``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Sequence

import numpy as np
import pandas as pd
import pyarrow

from harness.common import hub
from harness.config.errors import ConfigError
from harness.config.parse import read_utf8
from harness.config.registry import NoArgs
from harness.config.schema import RunConfig, TaskConfig

REASONING_PROMPT = (
    "Your task is to answer the question below. Give step by step reasoning before you answer, and when "
    "you're ready to answer, please use the format \"Final answer:...\"\nQuestion: {input}\nSolution:"
)
LETTERS = "ABCDEFGHIJ"


@dataclass
class Example:
    id: str
    question: str
    gold: str
    choices: list[str] = field(default_factory=list)
    solution: str = ""                       # a worked gold solution when the dataset has one
    category: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Splits:
    train: list[Example]
    dev: list[Example]
    test: list[Example]


@dataclass
class TaskContext:
    """What a task is built from besides its options: nothing yet (a task reads its data when asked to ``load``)."""


def plain_solution(example: Example) -> str:
    """An example's written solution, or ``Final answer: <gold>`` without one (``Task.gold_solution``'s default)."""
    return example.solution or f"Final answer: {example.gold}"

class Task:
    """Base class of a task; subclasses set the class attributes and the record/answer methods."""

    name: str = ""
    description: str = ""
    hub_id: str = ""
    hub_config: str | None = None
    hub_splits: Sequence[str] = ("train", "test")
    local_suffixes = (".jsonl", ".json", ".parquet")
    kind: ClassVar[Literal["accuracy", "scored", "open_ended"]] = "accuracy"
    Config: ClassVar[type] = NoArgs
    batch_by_category: ClassVar[bool] = False   # default of TaskConfig.batch_by_category

    @classmethod
    def from_config(cls, config: Any, context: TaskContext) -> Task:
        return cls(config)

    def __init__(self, options: Any = None):
        self.options = options if options is not None else self.Config()  # the parsed ``task.options``

    @classmethod
    def check(cls, run: RunConfig) -> str | None:
        """What of ``run`` (whose task this is) a task of this kind cannot do, as ``"key: problem"`` (None: nothing):
        a majority vote, lm-eval's scoring of the test split and best-of-n scoring need answers to check; measuring
        RM competence (``profile:``) needs gold answers."""
        name = run.task.name
        if run.eval.decoding == "majority" and cls.kind != "accuracy":
            return f"eval.decoding: a majority vote needs extracted answers to count; {name!r} is {cls.kind} (use greedy)"
        if run.mode == "best_of_n" and cls.kind == "open_ended":
            return f"mode: best_of_n needs a task with gold references to score the chosen response; {name!r} is open-ended"
        if run.eval.lm_eval is not None and cls.kind != "accuracy":
            return (f"eval.lm_eval: the run's own test split is scored by its answer check; {name!r} is {cls.kind} "
                    "(name lm-eval tasks in a separate `python -m harness lm-eval` call)")
        if run.profile is not None and cls.kind == "open_ended":
            return f"profile: task {name!r} has no gold answers, so RM competence cannot be measured on it"
        return None

    # ----- what subclasses implement ---------------------------------------------------------------
    def from_record(self, record: dict[str, Any]) -> Example:
        raise NotImplementedError

    def extract_answer(self, text: str, example: Example) -> str | None:
        raise NotImplementedError

    def answers_match(self, prediction: str | None, gold: str) -> bool:
        return prediction is not None and prediction.strip().lower() == gold.strip().lower()

    def matches(self, prediction: str | None, example: Example) -> bool:
        """Whether an extracted answer is the example's gold answer (a task of several kinds may dispatch)."""
        return self.answers_match(prediction, example.gold)

    def answer_key(self, prediction: str) -> str:
        """A canonical form of an extracted answer, so that equal answers vote together."""
        return prediction.strip().lower()

    def gold_solution(self, example: Example) -> str:
        """A complete solution text ending with the gold answer (used to test extraction)."""
        return plain_solution(example)

    def demonstration(self, example: Example) -> str | None:
        """The human-written response the SFT baseline trains on (None: the example has none). Tasks with gold
        answers: the worked solution ending with the answer in the prompt's "Final answer:" format (a
        multiple-choice question's gold option when there is no solution); open-ended tasks: the dataset's
        reference reply, when it has one."""
        if self.kind == "open_ended":
            return example.solution or None
        return self.gold_solution(example)

    # ----- shared behaviour --------------------------------------------------------------------------
    def question_text(self, example: Example) -> str:
        if not example.choices:
            return example.question
        options = "\n".join(f"({LETTERS[i]}) {choice}" for i, choice in enumerate(example.choices))
        return f"{example.question}\n{options}"

    def prompt(self, example: Example) -> str:
        return REASONING_PROMPT.format(input=self.question_text(example))

    def is_correct(self, text: str, example: Example) -> bool:
        return self.matches(self.extract_answer(text, example), example)

    def score(self, text: str, example: Example) -> float:
        """Graded score of a response in [0, 1] (``scored`` tasks; accuracy tasks: 1 if correct)."""
        return float(self.is_correct(text, example))

    def metric_name(self, category: str | None) -> str:
        return "accuracy"

    def gold_reward(self, text: str, example: Example) -> float:
        """The reward that uses the gold answer (the ``correctness`` RM)."""
        if self.kind == "open_ended":
            raise ValueError(f"task {self.name!r} has no gold answers, so the correctness reward does not apply")
        return self.score(text, example)

    def load(self, config: TaskConfig) -> list[Example]:
        records = load_local_records(config.path, self.local_suffixes) if config.path else self._records_from_hub()
        examples = []
        for where, record in records:
            try:
                examples.append(self.from_record(record))
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
                raise ConfigError(f"{where}: not a {self.name} record ({type(error).__name__}: {error}); "
                                  f"keys present: {sorted(record)}") from None
        if not examples:
            raise ConfigError(f"task {self.name!r}: no examples in {config.path or self.hub_id}")
        return examples

    def _records_from_hub(self) -> list[tuple[str, dict[str, Any]]]:
        """``_hub_records()``; offline (hub unreachable, dataset not cached) one line with the ``task.path`` hint."""
        name = getattr(self.options, "hub_id", None) or self.hub_id
        with hub.offline_unless_reachable() as online:
            try:
                return self._hub_records()
            except Exception as error:
                if online and not isinstance(error, (OSError, ConnectionError, ValueError)):
                    raise
                reason = (f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}" if online else
                          "the hub is unreachable and the dataset is not in the local Hugging Face cache")
                raise ConfigError(f"cannot load hub dataset {name!r} ({reason}); "
                                  "set task.path to a local JSONL/JSON/Parquet copy") from None

    def _hub_records(self) -> list[tuple[str, dict[str, Any]]]:
        from datasets import load_dataset

        rows = []
        for split in self.hub_splits:
            dataset = load_dataset(self.hub_id, self.hub_config, split=split)
            rows.extend((f"{self.hub_id}[{split}] row {i}", dict(r)) for i, r in enumerate(dataset))
        return rows

    def groups_by_category(self, config: TaskConfig) -> bool:
        return self.batch_by_category if config.batch_by_category is None else config.batch_by_category

    def splits(self, config: TaskConfig, seed: int, examples: list[Example] | None = None) -> Splits:
        split_seed = seed if config.split_seed is None else config.split_seed
        examples = self.load(config) if examples is None else examples
        if not self.groups_by_category(config):
            return split_examples(examples, config, split_seed, self.name)
        return split_by_category(examples, config, split_seed, self.name)


def local_files(path: str | Path, suffixes: Sequence[str]) -> list[Path]:
    path = Path(os.path.expandvars(str(path))).expanduser()  # "$HARNESS_DATA/gsm8k" works in configs
    if path.is_file():
        if path.suffix not in suffixes:
            raise ConfigError(f"{path}: expected a {'/'.join(suffixes)} file, found {path.suffix or 'no suffix'}")
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in suffixes)
        if not files:
            raise ConfigError(f"{path}: folder holds no {'/'.join(suffixes)} files")
        return files
    raise ConfigError(f"{path}: data file or folder not found")


def _parquet_records(file: Path) -> list[dict[str, Any]]:
    try:
        return pd.read_parquet(file).to_dict(orient="records")
    except (pyarrow.ArrowException, OSError, ValueError) as error:
        raise ConfigError(f"{file}: expected a Parquet file, could not read it ({str(error).splitlines()[0]})") from None


def load_local_records(path: str | Path, suffixes: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """(location, record) pairs from JSONL/JSON/Parquet files; bad lines fail with file and line."""
    records: list[tuple[str, dict[str, Any]]] = []
    for file in local_files(path, suffixes):
        if file.suffix == ".parquet":
            records.extend((f"{file} row {i}", row) for i, row in enumerate(_parquet_records(file)))
        elif file.suffix == ".json":
            try:
                data = json.loads(read_utf8(file))
            except json.JSONDecodeError as error:
                raise ConfigError(f"{file}:{error.lineno}: invalid JSON ({error.msg}, column {error.colno})") from None
            if not isinstance(data, list):
                raise ConfigError(f"{file}: expected a JSON array of records, got {type(data).__name__}")
            records.extend((f"{file} item {i}", row) for i, row in enumerate(data))
        else:
            for number, line in enumerate(read_utf8(file).split("\n"), start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ConfigError(f"{file}:{number}: invalid JSON ({error.msg})") from None
                if not isinstance(row, dict):
                    raise ConfigError(f"{file}:{number}: expected a JSON object, got {type(row).__name__}")
                records.append((f"{file}:{number}", row))
    return records


def split_sizes(available: int, config: TaskConfig, name: str) -> list[int]:
    """[train, dev, test] sizes for ``available`` examples: exact sizes, or fractions of the pool."""
    pool = min(available, config.max_examples) if config.max_examples is not None else available
    if config.split_sizes is not None:
        sizes = list(config.split_sizes)
        if len(sizes) != 3 or min(sizes) < 0:
            raise ConfigError(f"task.split_sizes: expected three sizes [train, dev, test], got {sizes}")
        if sum(sizes) > pool:
            raise ConfigError(f"task.split_sizes {sizes} need {sum(sizes)} examples; {name} has {pool}")
        return sizes
    fractions = list(config.split_fractions)
    if len(fractions) != 3 or min(fractions) < 0 or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ConfigError(f"task.split_fractions: expected three non-negative numbers summing to 1, got {fractions}")
    n_train = int(round(fractions[0] * pool))
    n_dev = int(round(fractions[1] * pool))
    return [n_train, n_dev, pool - n_train - n_dev]


def split_examples(examples: list[Example], config: TaskConfig, seed: int, name: str) -> Splits:
    """Seeded shuffle, optional subsample, then train/dev/test by exact sizes or fractions."""
    sizes = split_sizes(len(examples), config, name)
    order = np.random.default_rng(seed).permutation(len(examples))
    pool = [examples[i] for i in order]
    train = pool[: sizes[0]]
    dev = pool[sizes[0]: sizes[0] + sizes[1]]
    test = pool[sizes[0] + sizes[1]: sizes[0] + sizes[1] + sizes[2]]
    return Splits(train, dev, test)


def split_by_category(examples: list[Example], config: TaskConfig, seed: int, name: str) -> Splits:
    """The seeded split applied to each category on its own (paper Table 3: 70/10/20 per category), so
    every split holds every category in the same proportions; ``max_examples`` caps each category."""
    categories = sorted({e.category or "" for e in examples})
    parts = [split_examples([e for e in examples if (e.category or "") == c], config, seed, f"{name}[{c}]")
             for c in categories]
    return Splits(*([e for part in parts for e in getattr(part, split)] for split in ("train", "dev", "test")))


def subsample_per_category(examples: Sequence[Example], categories: Sequence[str], per_category: int | None,
                           seed: int) -> list[Example]:
    """At most ``per_category`` examples of each category (a seeded choice, original order kept)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for category in categories:
        members = [e for e in examples if e.category == category]
        if per_category is not None and len(members) > per_category:
            members = [members[i] for i in sorted(rng.choice(len(members), per_category, replace=False))]
        chosen += members
    return chosen
