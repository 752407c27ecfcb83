"""LongBench's English metrics: token F1 after LongBench's answer normalisation, and ROUGE-L (rouge-score).

The normalisation is LongBench's (SQuAD-style): lower case, drop punctuation, drop the articles a/an/the,
collapse white space. A prediction is scored against each gold answer and the best score counts.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import lru_cache
from typing import Sequence

from rouge_score import rouge_scorer

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, gold: str) -> float:
    predicted, reference = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(predicted) & Counter(reference)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(reference)
    return 2 * precision * recall / (precision + recall)


@lru_cache(maxsize=1)
def _rouge_scorer():
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(prediction: str, gold: str) -> float:
    """ROUGE-L F-measure (rouge-score's tokenizer: lower case, alphanumeric tokens)."""
    return float(_rouge_scorer().score(gold, prediction)["rougeL"].fmeasure)


METRICS = {"f1": token_f1, "rouge_l": rouge_l}


def best_over_answers(metric: str, prediction: str, answers: Sequence[str]) -> float:
    function = METRICS[metric]
    return max((function(prediction, answer) for answer in answers), default=0.0)
