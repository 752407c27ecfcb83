"""WildChat instruction following (paper sec. 4.1): real first-turn user prompts, no gold answers.

Records are ``{"prompt": ..., "response"?: ...}`` (local JSONL, e.g. first user turns) or hub rows of
``allenai/WildChat-1M`` (``conversation`` list, ``language``, ``toxic``, ``redacted``); the first reply to the
prompt (``response``, or the conversation's next assistant turn) is the SFT baseline's demonstration. Loading filters
the raw pool by configurable rules (length, language, toxicity flags, a blocklist, duplicates) and keeps
a report of what each rule dropped; a prompt classifier assigns the five categories; each category is
subsampled to ``per_category`` prompts (paper: 5,000); the split is 70/10/20 within each category, and
batches hold one category, so LASeR's context and the utilisation figure (paper Fig. 6) are per category.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.config.errors import ConfigError
from harness.config.ranges import RANGE, at_least, between
from harness.config.schema import TaskConfig
from harness.tasks.base import Example, Task, subsample_per_category
from harness.tasks.prompt_classifier import CATEGORIES, ClassifierConfig, classify_prompts

# Paper appendix A.1, "Instruction-Following".
INSTRUCTION_PROMPT = (
    "You are an assistant capable of assisting users in various tasks, including creative writing, analysis of "
    "texts and data, coding, providing factual information, and solving math problems. For creative writing, help "
    "users brainstorm ideas and develop their narratives. For analysis, guide users in breaking down concepts and "
    "exploring different perspectives. In coding, assist with programming questions and debugging. When providing "
    "factual information, ensure accuracy and cite reliable sources. For math reasoning, offer step-by-step "
    "solutions and encourage logical thinking. Maintain a clear, engaging, and supportive tone throughout your "
    "responses to foster learning and creativity.\nQuestion: {input}\nAnswer:"
)

DEFAULT_BLOCKLIST = [r"\bnsfw\b", r"\bporn", r"\bsex(ual|y)?\b", r"\bnude\b", r"\bnaked\b", r"\berotic", r"\bfetish",
                     r"\brape\b", r"\bhentai\b", r"\bkill (him|her|them|myself)\b", r"\bsuicide\b"]


@dataclass
class WildChatConfig:
    min_chars: int = field(default=10, metadata={"help": "Drop shorter prompts.", RANGE: at_least(0)})
    max_chars: int = field(default=4000, metadata={"help": "Drop longer prompts (the raw pool reaches 345k chars).",
                                                   RANGE: at_least(1)})
    min_ascii_share: float = field(default=0.95, metadata={"help": "English proxy when a record has no 'language'.",
                                                           RANGE: between(0, 1)})
    languages: list[str] = field(default_factory=lambda: ["English"], metadata={"help": "Kept values of 'language'."})
    drop_flagged: bool = field(default=True, metadata={"help": "Drop records flagged 'toxic' or 'redacted' (hub rows)."})
    blocklist: list[str] = field(default_factory=lambda: list(DEFAULT_BLOCKLIST), metadata={
        "help": "Regular expressions (case-insensitive); a prompt matching any is dropped as unsafe."})
    deduplicate: bool = True
    categories: list[str] = field(default_factory=lambda: list(CATEGORIES))
    per_category: int | None = field(default=None, metadata={"help": "Subsample each category (paper: 5000).",
                                                             RANGE: at_least(1)})
    sample_seed: int = field(default=0, metadata={"help": "Seed of the per-category subsample (same for every run).",
                                                  RANGE: at_least(0)})
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    hub_max_records: int = field(default=50000, metadata={"help": "Hub rows streamed before filtering.", RANGE: at_least(1)})


class InstructionTask(Task):
    """An instruction-following prompt set: no gold answers; the paper's instruction prompt; outputs are
    judged pairwise (``harness compare``)."""

    kind = "open_ended"

    def prompt(self, example: Example) -> str:
        return INSTRUCTION_PROMPT.format(input=example.question)

    def extract_answer(self, text: str, example: Example) -> str | None:
        return text.strip()

    def is_correct(self, text: str, example: Example) -> bool:
        raise ValueError(f"{self.name} has no gold answers; compare policies with `harness compare`")


class WildChat(InstructionTask):
    name = "wildchat"
    description = "WildChat first-turn user prompts in five categories; judged pairwise (AlpacaEval win rates)"
    hub_id = "allenai/WildChat-1M"
    Config = WildChatConfig
    batch_by_category = True

    def __init__(self, options: WildChatConfig | None = None):
        super().__init__(options)
        self.load_report: dict[str, Any] = {}
        try:
            self.blocklist = [re.compile(p, re.IGNORECASE) for p in self.options.blocklist]
        except re.error as error:
            raise ConfigError(f"task.options.blocklist: invalid regular expression ({error})") from None

    def from_record(self, record: dict[str, Any]) -> Example:
        reply = record.get("response") or ""
        if "prompt" in record:
            text = record["prompt"]
        else:
            turns = record["conversation"]
            first = next(i for i, turn in enumerate(turns) if turn["role"] == "user")
            text = turns[first]["content"]
            reply = next((turn["content"] for turn in turns[first + 1:] if turn["role"] == "assistant"), "")
        if not isinstance(reply, str):
            raise TypeError(f"response is {type(reply).__name__}, expected a string")
        if not isinstance(text, str):
            raise TypeError(f"prompt is {type(text).__name__}, expected a string")
        identifier = record.get("id") or record.get("conversation_hash") or hashlib.sha1(text.encode()).hexdigest()[:16]
        meta = {k: record[k] for k in ("language", "toxic", "redacted") if k in record}
        return Example(id=str(identifier), question=text.strip(), gold="", solution=reply.strip(), meta=meta)

    def _hub_records(self) -> list[tuple[str, dict[str, Any]]]:
        from datasets import load_dataset

        stream = load_dataset(self.hub_id, split="train", streaming=True)
        rows = []
        for i, row in enumerate(stream):
            if i >= self.options.hub_max_records:
                break
            rows.append((f"{self.hub_id}[train] row {i}", dict(row)))
        return rows

    def drop_reason(self, example: Example) -> str | None:
        text, options, meta = example.question, self.options, example.meta
        if len(text) < options.min_chars:
            return "too_short"
        if len(text) > options.max_chars:
            return "too_long"
        if "language" in meta:
            if meta["language"] not in options.languages:
                return "language"
        elif sum(c.isascii() for c in text) / len(text) < options.min_ascii_share:
            return "language"
        if options.drop_flagged and (meta.get("toxic") or meta.get("redacted")):
            return "flagged"
        if any(pattern.search(text) for pattern in self.blocklist):
            return "blocklist"
        return None

    def load(self, config: TaskConfig) -> list[Example]:
        raw = super().load(config)
        kept, dropped, seen = [], Counter(), set()
        for example in raw:
            reason = self.drop_reason(example)
            if reason is None and self.options.deduplicate:
                key = " ".join(example.question.lower().split())
                reason = "duplicate" if key in seen else None
                seen.add(key)
            if reason:
                dropped[reason] += 1
            else:
                kept.append(example)
        if not kept:
            raise ConfigError(f"task wildchat: every one of {len(raw)} prompts was dropped by the filters {dict(dropped)}")
        labels = classify_prompts([e.question for e in kept], self.options.classifier, self.options.categories)
        for example, label in zip(kept, labels):
            example.category = label
        chosen = subsample_per_category(kept, self.options.categories, self.options.per_category, self.options.sample_seed)
        self.load_report = {"raw": len(raw), "dropped": dict(sorted(dropped.items())), "kept": len(kept),
                            "classified": dict(Counter(labels)), "used": dict(Counter(e.category for e in chosen))}
        return chosen

