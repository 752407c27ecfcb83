"""AlpacaEval's 805 instructions as an open-ended evaluation set (e.g. ``ood_tasks`` of a WildChat sweep).

Records come from the hub (the file ``alpaca_eval.json`` of the dataset repo ``tatsu-lab/alpaca_eval``, read
directly: the repo's loading script no longer runs with datasets>=4) or a local JSONL with ``instruction``
(and optionally ``dataset``). Each example keeps its position in the set as
``index``, which alpaca_eval's length-controlled GLM (``length_controlled_v1``) uses to look up the
instruction's difficulty, so judged comparisons on these prompts get the full length-controlled win rate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from huggingface_hub import hf_hub_download

from harness.config.schema import TaskConfig
from harness.tasks.base import Example
from harness.tasks.wildchat import InstructionTask


class AlpacaEval(InstructionTask):
    name = "alpaca_eval"
    description = "AlpacaEval's 805 instructions (open-ended; judged pairwise, length-controlled GLM v1 applies)"
    hub_id = "tatsu-lab/alpaca_eval"

    def _hub_records(self) -> list[tuple[str, dict[str, Any]]]:
        path = hf_hub_download(self.hub_id, "alpaca_eval.json", repo_type="dataset")
        return [(f"{self.hub_id}/alpaca_eval.json item {i}", row) for i, row in enumerate(json.loads(Path(path).read_text()))]

    def load(self, config: TaskConfig) -> list[Example]:
        examples = super().load(config)
        for index, example in enumerate(examples):  # position in the set, as alpaca_eval indexes it
            example.meta["index"] = index
            example.id = example.id or f"alpaca_eval-{index}"
        return examples

    def from_record(self, record: dict[str, Any]) -> Example:
        instruction = record["instruction"]
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError("empty instruction")
        return Example(id=str(record.get("id", "")), question=instruction, gold="", category=record.get("dataset"))
