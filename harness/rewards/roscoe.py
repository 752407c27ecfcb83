"""``roscoe``: one model-based ROSCOE metric (Golovneva et al. 2022) of a step-by-step response, the reward
of the paper's Table 5 and Figure 8, which replace the RMs by eight ROSCOE scores for LASeR to choose from.

The definitions follow ROSCOE's code (facebookresearch/ParlAI, ``projects/roscoe/score.py`` and ``utils.py``).
A text's steps are its sentences, split further at line breaks (ROSCOE's GSM8K splitting, with a regex
for nltk's sentence splitter); the response is
the hypothesis h, the task's question the source s, its worked gold solution the reference r. Step and chain
embeddings are unit vectors of the sentence encoder, ``S(a, b) = (1 + cos(a, b)) / 2`` maps cosine similarity
to [0, 1], and ``align(x -> y)`` is, for each step of x, its best S to any step of y. The paper's names, and
the ROSCOE score each one is:

| metric | ROSCOE score (code name) | value |
|---|---|---|
| informativeness | Info-Chain (``informativeness_chain``) | (1 + S(chain h, chain s)) / 2 |
| faithfulness | Faithfulness-Step (``faithfulness``) | mean align(h -> s) |
| reasoning_alignment | Reasoning Alignment (``reasoning_alignment``) | mean align(h -> r) |
| hallucination | Hallucination (``external_hallucination``) | 1 - max_i (1 - align(h -> r))_i (1 - align(h -> s))_i |
| commonsense_error | Common Sense Error (``common_sense_error``) | 1 - max_j (1 - align(r -> h))_j (1 - align(r -> s))_j |
| semantic_coverage | Semantic Coverage-Chain (``semantic_coverage_chain``) | (1 + S(chain h, chain r)) / 2 |
| coherence | Self-Consistency (``coherence_step_vs_step``) | 1 - max_{i,j} p_contradiction(h_i, h_j) |
| perplexity | Perplexity-Chain (``perplexity_chain``) | 1 / perplexity of the steps joined by spaces |

Coherence is ROSCOE-LI's Self-Consistency: of ROSCOE's NLI scores it is the one about the chain alone (the
other, Source-Consistency, is about the source) and the only "coherence" score of the code that the ROSCOE
paper keeps (``coherence_step`` and ``coherence_max`` are code-only variants); ROSCOE-LC's remaining
language-coherence score, Grammar, needs a CoLA classifier that the paper's list does not name. Every value
is in [0, 1] with 1 best, as ROSCOE orients them (hallucination and common-sense error are ROSCOE's
"1 - error"; perplexity is its 1/ppl); the chain embeddings of Info-Chain and Semantic Coverage-Chain are
ROSCOE's, which scales S once more (values in [0.5, 1]; the ordering is S's). A response with no steps
scores 0.0, ROSCOE's worst, where ROSCOE writes "N/A".

Default models are ROSCOE's: the SimCSE sentence encoder fine-tuned by its authors
(``facebook/roscoe-512-roberta-base``, its pooler output on at most 128 tokens as SimCSE's ``encode``), the
NLI model of ``score.py`` (``MoritzLaurer/DeBERTa-v3-large-mnli-fever-anli-ling-wanli``) and GPT-2 large
for perplexity (a leading space, as ROSCOE's ``add_prefix_space=True``, and the BOS token before the text).
A metric loads only the model it uses, once per run however many metrics name it. Any encoder loads (a
causal LM's decoder, mean pooled: the small variant's world models); the NLI model must name a
contradiction label. Unlike ROSCOE, a chain longer than the LM's context is cut to it, not strided.

The source and the reference come from the task's ``Example`` objects, so every metric but coherence and
perplexity asks for them (``needs_references``): the source is the question with its options, the reference
the task's written solution of the example (``Task.demonstration``, handed to RMs through ``BuildContext``):
GSM8K's worked solution in the prompt's format, StrategyQA's facts, a multiple-choice question's gold option
with its text, else ``Final answer: <gold>``, so a reference-based metric on a task without worked
solutions rewards steps close to the bare answer.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Sequence

import numpy as np
import torch

from harness.config.ranges import RANGE, at_least
from harness.models.loading import load_encoder, load_sequence_classifier, model_device, model_identity
from harness.models.logprobs import token_budget_batches
from harness.models.tokens import pad_tokens
from harness.rewards.base import RewardModel
from harness.rewards.scoring import sequence_logps
from harness.tasks.base import plain_solution

Metric = Literal["informativeness", "faithfulness", "reasoning_alignment", "hallucination", "commonsense_error",
                 "semantic_coverage", "coherence", "perplexity"]
EMBEDDING_METRICS = {"informativeness", "faithfulness", "reasoning_alignment", "hallucination", "commonsense_error",
                     "semantic_coverage"}
USES_SOURCE = {"informativeness", "faithfulness", "hallucination", "commonsense_error"}
USES_REFERENCE = {"reasoning_alignment", "hallucination", "commonsense_error", "semantic_coverage"}
ROSCOE_ENCODER = "facebook/roscoe-512-roberta-base"
ROSCOE_NLI = "MoritzLaurer/DeBERTa-v3-large-mnli-fever-anli-ling-wanli"
ROSCOE_LM = "gpt2-large"
ROSCOE_MODELS = {"embedding_model": ROSCOE_ENCODER, "nli_model": ROSCOE_NLI, "lm_model": ROSCOE_LM}
LETTERS = "ABCDEFGHIJ"  # the option letters of the tasks' prompts
# a sentence ends at . ! or ? (and a closing quote or bracket) before white space; ROSCOE's nltk sent_tokenize
# also knows abbreviations ("Mr."), but needs a separate model download and takes 3.5 s to import
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"'\u201d\u2019)\]])\s+")


@dataclass(kw_only=True)
class RoscoeConfig:
    metric: Metric = field(metadata={"help": "The ROSCOE score (harness.rewards.roscoe lists what each one is)."})
    embedding_model: str | None = field(default=ROSCOE_ENCODER, metadata={
        "help": "Sentence encoder of the alignment and chain metrics (null: none; only those metrics need it)."})
    embedding_pooling: Literal["auto", "pooler", "cls", "mean"] = field(default="auto", metadata={
        "help": "auto: the encoder's pooler output when it has a pooler (SimCSE), else the mean of the last hidden states."})
    embedding_max_tokens: int = field(default=128, metadata={"help": "Longer steps and chains are cut (SimCSE's encode: 128).",
                                                             RANGE: at_least(1)})
    nli_model: str | None = field(default=ROSCOE_NLI, metadata={
        "help": "NLI sequence classifier with a contradiction label (coherence only; null: none)."})
    nli_max_tokens: int = field(default=512, metadata={"help": "Longest premise + hypothesis pair, in tokens.",
                                                       RANGE: at_least(1)})
    lm_model: str | None = field(default=ROSCOE_LM, metadata={"help": "Causal LM of the perplexity (null: none)."})
    lm_prefix_space: bool = field(default=True, metadata={
        "help": "Start the scored text with a space (GPT-2 tokenises as ROSCOE's add_prefix_space=True)."})
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    batch_tokens: int = field(default=8192, metadata={"help": "Token budget of one forward pass.", RANGE: at_least(1)})


def steps_of(text: str) -> list[str]:
    """A text's reasoning steps: its sentences, split at line breaks, without empty ones."""
    return [sentence.strip() for line in text.split("\n") for sentence in SENTENCE_END.split(line) if sentence.strip()]


def source_text(example: Any) -> str:
    """The question as the policy saw it: with its options, one per line, as the tasks' prompts list them."""
    options = [f"({LETTERS[i]}) {choice}" for i, choice in enumerate(example.choices)]
    return "\n".join([example.question, *options])


def chain_text(steps: Sequence[str]) -> str:
    """The text ROSCOE embeds for a whole chain."""
    return ". ".join(steps)


# ----- the scores, from unit-norm embeddings (rows: steps) ------------------------------------------------
def scaled_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """S = (1 + cos) / 2 of every row of ``a`` with every row of ``b``."""
    return (1.0 + np.clip(np.atleast_2d(a) @ np.atleast_2d(b).T, -1.0, 1.0)) / 2.0


def alignment(hypothesis: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """align(hypothesis -> reference): each hypothesis step's best S to a reference step (0 with no reference)."""
    if len(reference) == 0:
        return np.zeros(len(hypothesis))
    return scaled_cosine(hypothesis, reference).max(axis=1)


def chain_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Info-Chain / Semantic Coverage-Chain: ROSCOE's (1 + S) / 2 of two chain embeddings."""
    return float((1.0 + scaled_cosine(a, b)[0, 0]) / 2.0)


def external_hallucination(h: np.ndarray, s: np.ndarray, r: np.ndarray) -> float:
    return float(1.0 - np.max((1.0 - alignment(h, r)) * (1.0 - alignment(h, s))))


def common_sense_error(h: np.ndarray, s: np.ndarray, r: np.ndarray) -> float:
    return float(1.0 - np.max((1.0 - alignment(r, h)) * (1.0 - alignment(r, s))))


@dataclass
class Chains:
    """One response's steps, and its source's and reference's (empty when the metric does not use them)."""

    hypothesis: list[str]
    source: list[str]
    reference: list[str]


CHAIN_METRICS = {"informativeness": "source", "semantic_coverage": "reference"}  # whole-chain embeddings


def texts_to_embed(metric: str, chains: Chains) -> list[str]:
    """What ``embedding_score`` looks up: two whole chains, or the steps of all three."""
    if metric in CHAIN_METRICS:
        return [chain_text(chains.hypothesis), chain_text(getattr(chains, CHAIN_METRICS[metric]))]
    return [*chains.hypothesis, *chains.source, *chains.reference]


def embedding_score(metric: str, chains: Chains, vector: Callable[[str], np.ndarray]) -> float:
    """One embedding-based metric of one response (``vector``: a text's unit embedding)."""
    if metric in CHAIN_METRICS:
        return chain_similarity(*(vector(text) for text in texts_to_embed(metric, chains)))

    def rows(texts: list[str]) -> np.ndarray:
        return np.stack([vector(t) for t in texts]) if texts else np.zeros((0, 1))

    h, s, r = rows(chains.hypothesis), rows(chains.source), rows(chains.reference)
    if metric == "faithfulness":
        return float(alignment(h, s).mean())
    if metric == "reasoning_alignment":
        return float(alignment(h, r).mean())
    if metric == "hallucination":
        return external_hallucination(h, s, r)
    if metric == "commonsense_error":
        return common_sense_error(h, s, r)
    raise ValueError(f"metric {metric!r} is not embedding-based")


def contradiction_index(model: torch.nn.Module, spec: str) -> int:
    """The output of an NLI classifier that is the contradiction probability (by its label, not by position)."""
    labels = {int(i): str(label).lower() for i, label in (model.config.id2label or {}).items()}
    found = [i for i, label in labels.items() if label.startswith("contradict")]
    if len(found) != 1:
        raise ValueError(f"nli_model {spec!r}: expected one contradiction label among its labels {sorted(labels.values())}")
    return found[0]


class RoscoeRM(RewardModel):
    Config = RoscoeConfig
    description = "a model-based ROSCOE score of the reasoning steps (paper Table 5): alignment, NLI or perplexity"
    cacheable = True

    @classmethod
    def from_config(cls, config, context):
        encoder = nli = lm = None
        if config.metric in EMBEDDING_METRICS:
            encoder = (context.shared_model("encoder", config.embedding_model, config.dtype, config.device, load_encoder),
                       context.tokenizer(config.embedding_model))
        if config.metric == "coherence":
            nli = (context.shared_model("sequence_classifier", config.nli_model, config.dtype, config.device,
                                        load_sequence_classifier),
                   context.tokenizer(config.nli_model))
        if config.metric == "perplexity":
            lm = (context.causal_lm(config.lm_model, config), context.tokenizer(config.lm_model))
        return cls(context.name, config, encoder, nli, lm, reference=context.demonstration)

    @classmethod
    def check(cls, name, config, pool):
        key = cls.model_setting(config)
        if not getattr(config, key):
            return f"{key}: metric {config.metric!r} needs a model here (ROSCOE's: {ROSCOE_MODELS[key]})"
        return None

    @staticmethod
    def model_setting(config: RoscoeConfig) -> str:
        """The setting naming the one model the metric uses."""
        if config.metric in EMBEDDING_METRICS:
            return "embedding_model"
        return "nli_model" if config.metric == "coherence" else "lm_model"

    @classmethod
    def uses_gold_answers(cls, config):
        return config.metric in USES_REFERENCE  # the source metrics compare with the question only

    @classmethod
    def model_specs(cls, config):
        spec = getattr(config, cls.model_setting(config))
        return {cls.model_setting(config): spec} if spec else {}

    @classmethod
    def cache_identity(cls, config):
        """The metric, the one model it uses (what else other metrics would use does not change its scores)
        and that model's settings."""
        key = cls.model_setting(config)
        identity: dict[str, Any] = {"metric": config.metric,
                                    "model": model_identity(getattr(config, key), config.dtype, config.device)}
        if key == "embedding_model":
            identity.update(pooling=config.embedding_pooling, max_tokens=config.embedding_max_tokens)
        elif key == "nli_model":
            identity.update(max_tokens=config.nli_max_tokens)
        else:
            identity.update(prefix_space=config.lm_prefix_space)
        return identity

    def __init__(self, name: str, config: RoscoeConfig, encoder: tuple[torch.nn.Module, Any] | None = None,
                 nli: tuple[torch.nn.Module, Any] | None = None, lm: tuple[torch.nn.Module, Any] | None = None,
                 reference: Callable[[Any], str | None] = plain_solution):
        self.name, self.config, self.metric = name, config, config.metric
        self.reference = reference  # an example's written solution (the task's demonstration), for reference metrics
        self.needs_references = config.metric in USES_SOURCE | USES_REFERENCE
        self.encoder, self.nli, self.lm = encoder, nli, lm
        if encoder is not None and config.embedding_pooling == "pooler" and getattr(encoder[0], "pooler", None) is None:
            raise ValueError(f"embedding_pooling: 'pooler', but {config.embedding_model!r} has no pooler (use auto, cls or mean)")
        self.contradiction = contradiction_index(nli[0], config.nli_model) if nli is not None else -1

    def compared_texts(self, example: Any) -> tuple[str, str]:
        """(source, reference) of an example that the metric compares a response with ("" where it does not)."""
        source = source_text(example) if self.metric in USES_SOURCE else ""
        reference = (self.reference(example) or "") if self.metric in USES_REFERENCE else ""
        return source, reference

    def example_key(self, example):
        """The texts the metric compares with (shared-cache keys must tell examples apart)."""
        return "\x00".join(self.compared_texts(example)) if self.needs_references else None

    @torch.no_grad()
    def score(self, prompts, responses, references=None):
        if self.needs_references and (references is None or len(references) != len(responses)):
            raise ValueError(f"reward model {self.name!r} (ROSCOE {self.metric}) needs the task's example of every response")
        hypotheses = [steps_of(r) for r in responses]
        if self.metric == "perplexity":
            scores = self._perplexity_scores(hypotheses)
        elif self.metric == "coherence":
            scores = self._coherence_scores(hypotheses)
        else:
            scores = self._embedding_scores(hypotheses, references)
        return [score if steps else 0.0 for score, steps in zip(scores, hypotheses)]

    # ----- embedding metrics --------------------------------------------------------------------------------
    def _embedding_scores(self, hypotheses: list[list[str]], references: Sequence[Any]) -> list[float]:
        chains = []
        for steps, example in zip(hypotheses, references):
            source, reference = self.compared_texts(example)
            chains.append(Chains(steps, steps_of(source), steps_of(reference)))
        vectors = self.embed(sorted({t for c in chains if c.hypothesis for t in texts_to_embed(self.metric, c)}))
        return [embedding_score(self.metric, c, vectors.__getitem__) if c.hypothesis else 0.0 for c in chains]

    def embed(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Unit-norm embeddings of ``texts``, batched by the token budget."""
        model, tokenizer = self.encoder
        encoded = [tokenizer(t, truncation=True, max_length=self.config.embedding_max_tokens)["input_ids"] for t in texts]
        device = model_device(model)
        vectors: dict[str, np.ndarray] = {}
        for indices in token_budget_batches([len(e) for e in encoded], self.config.batch_tokens):
            ids, mask = pad_tokens([encoded[i] for i in indices], tokenizer.pad_token_id, side="right")
            output = model(input_ids=ids.to(device), attention_mask=mask.to(device))
            pooled = self._pool(output, mask.to(device)).float()
            pooled = pooled / pooled.norm(dim=1, keepdim=True).clamp_min(1e-12)
            for row, i in enumerate(indices):
                vectors[texts[i]] = pooled[row].cpu().numpy().astype(np.float64)
        return vectors

    def _pool(self, output: Any, mask: torch.Tensor) -> torch.Tensor:
        pooling = self.config.embedding_pooling
        pooler = getattr(output, "pooler_output", None)
        if pooling == "pooler" or (pooling == "auto" and pooler is not None):
            return pooler
        hidden = output.last_hidden_state
        if pooling == "cls":
            return hidden[:, 0]
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)

    # ----- NLI: self-consistency --------------------------------------------------------------------------
    def _coherence_scores(self, hypotheses: list[list[str]]) -> list[float]:
        pairs = sorted({pair for steps in hypotheses for pair in itertools.product(steps, steps)})
        contradiction = self.contradictions(pairs)
        return [1.0 - max(contradiction[p] for p in itertools.product(steps, steps)) if steps else 0.0 for steps in hypotheses]

    def contradictions(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], float]:
        """p(contradiction) of each (premise, hypothesis) pair, batched by the token budget."""
        model, tokenizer = self.nli
        encoded = [tokenizer(premise, hypothesis, truncation=True, max_length=self.config.nli_max_tokens)
                   for premise, hypothesis in pairs]
        device = model_device(model)
        found: dict[tuple[str, str], float] = {}
        for indices in token_budget_batches([len(e["input_ids"]) for e in encoded], self.config.batch_tokens):
            batch = tokenizer.pad([encoded[i] for i in indices], return_tensors="pt")
            logits = model(**{k: v.to(device) for k, v in batch.items()}).logits.float()
            probabilities = torch.softmax(logits, dim=-1)[:, self.contradiction].cpu().tolist()
            found.update((pairs[i], p) for i, p in zip(indices, probabilities))
        return found

    # ----- language model: perplexity of the chain ------------------------------------------------------
    def _perplexity_scores(self, hypotheses: list[list[str]]) -> list[float]:
        model, tokenizer = self.lm
        bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        if bos is None:
            raise ValueError(f"lm_model {self.config.lm_model!r}: its tokenizer has no BOS or EOS token to start the text")
        limit = getattr(model.config, "max_position_embeddings", None) or 2 ** 31
        prefix = " " if self.config.lm_prefix_space else ""
        texts = [prefix + " ".join(steps) for steps in hypotheses]
        ids = [tokenizer(t, add_special_tokens=False)["input_ids"][:limit - 1] for t in texts]
        sums, counts = sequence_logps(model, tokenizer.pad_token_id, [[bos]] * len(ids), ids, self.config.batch_tokens,
                                      share_prompts=False)
        return [math.exp(s / c) if c else 0.0 for s, c in zip(sums, counts)]
