"""The ``roscoe`` reward-model kind on tiny local models (a BERT sentence encoder, a BERT NLI classifier and a
Llama LM, each built from a config with the byte tokenizer): one finite score per response for every metric,
the formulas on hand-made vectors, hand-checkable texts, direct computations, one encoder per pool, and
config errors that name the key."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, BertModel

from harness.cli import main
from harness.common.content_cache import ContentCache
from harness.config.errors import ConfigError
from harness.config.schema import RewardModelConfig
from harness.loop.run_config import build_run_config, check_files
from harness.models.tiny import byte_tokenizer, save_tiny_llama
from harness.rewards import roscoe
from harness.rewards.base import BuildContext
from harness.rewards.pool import build_reward_models
from harness.rewards.registry import RM_KINDS
from harness.rewards.roscoe import RoscoeRM, alignment, chain_similarity, common_sense_error, external_hallucination, steps_of
from harness.tasks.base import Example, plain_solution
from harness.tasks.registry import get_task

METRICS = ["informativeness", "faithfulness", "reasoning_alignment", "hallucination", "commonsense_error",
           "semantic_coverage", "coherence", "perplexity"]
QUESTION = "Tom has 3 apples. He buys 4 more. How many apples does he have?"
SOLUTION = "Tom starts with 3 apples.\nHe buys 4 more, so 3 + 4 = 7.\nFinal answer: 7"
EXAMPLE = Example("1", QUESTION, "7", solution=SOLUTION)
RESPONSES = ["Tom starts with 3 apples. He buys 4 more, so 3 + 4 = 7.\nFinal answer: 7",
             "Apples are red. Final answer: 12",
             "Final answer: 7",
             "He has 3 apples and 4 more! So he has 7? Final answer: 7"]
CONTRADICTION_BIAS = math.log(2.0)  # with zero weights: p(contradiction) = 2 / (2 + 1 + 1)


def _bert_config(**kwargs) -> BertConfig:
    return BertConfig(vocab_size=len(byte_tokenizer()), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=64, max_position_embeddings=512, pad_token_id=0, **kwargs)


@pytest.fixture(scope="module")
def roscoe_models(tmp_path_factory) -> dict[str, str]:
    """A tiny encoder with a pooler (SimCSE's shape), two NLI classifiers (random, and constant with the
    contradiction label first) and a tiny LM, saved with the byte tokenizer like any hub model."""
    root = tmp_path_factory.mktemp("roscoe_models")
    tokenizer = byte_tokenizer()
    folders = {}
    torch.manual_seed(0)
    labels = {"id2label": {0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"},
              "label2id": {"CONTRADICTION": 0, "NEUTRAL": 1, "ENTAILMENT": 2}}
    constant = BertForSequenceClassification(_bert_config(num_labels=3, **labels))
    with torch.no_grad():
        constant.classifier.weight.zero_()
        constant.classifier.bias.copy_(torch.tensor([CONTRADICTION_BIAS, 0.0, 0.0]))
    # weights drawn wide, so that the random encoder's pooled embeddings of different texts differ (at BERT's
    # 0.02 their cosines are all 1.0 to three decimals)
    for name, model in (("encoder", BertModel(_bert_config(initializer_range=1.0))),
                        ("nli", BertForSequenceClassification(_bert_config(num_labels=3, **labels))),
                        ("nli_constant", constant)):
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
        folders[name] = str(root / name)
    folders["lm"] = str(save_tiny_llama(root / "lm", seed=3))
    return folders


def _settings(models: dict[str, str], metric: str, **extra) -> dict:
    return {"metric": metric, "embedding_model": models["encoder"], "nli_model": models["nli"], "lm_model": models["lm"],
            "dtype": "float32", "device": "cpu", **extra}


def _rm(models: dict[str, str], metric: str, context: BuildContext | None = None, **extra) -> RoscoeRM:
    config = RM_KINDS.parse("roscoe", _settings(models, metric, **extra), prefix="rm")
    return RM_KINDS.build("roscoe", config, (context or BuildContext(lambda text, example: 0.0, 0)).for_rm(metric))


def test_every_metric_gives_one_finite_score_in_0_1_per_response(roscoe_models):
    context = BuildContext(lambda text, example: 0.0, 0)
    for metric in METRICS:
        rm = _rm(roscoe_models, metric, context)
        scores = rm.score([QUESTION] * 5, RESPONSES + [""], [EXAMPLE] * 5)
        assert len(scores) == 5 and all(math.isfinite(s) and 0.0 <= s <= 1.0 for s in scores), (metric, scores)
        assert scores[-1] == 0.0, metric  # no steps: ROSCOE's worst score
        assert rm.needs_references == (metric not in ("coherence", "perplexity")), metric


def test_the_formulas_on_hand_made_unit_vectors():
    e1, e2, e3 = np.eye(3)
    assert alignment(np.stack([e1, e2]), np.stack([e1])) == pytest.approx([1.0, 0.5])  # S(orthogonal) = 1/2
    assert alignment(np.stack([-e1]), np.stack([e1, e2])) == pytest.approx([0.5])      # best of S = 0 and 1/2
    assert alignment(np.stack([e1]), np.zeros((0, 3))) == pytest.approx([0.0])          # nothing to align to
    # every step grounded in the reference or the source: no hallucination
    assert external_hallucination(np.stack([e1, e2]), s=np.stack([e1]), r=np.stack([e2])) == pytest.approx(1.0)
    # a step orthogonal to both: 1 - (1 - 1/2)(1 - 1/2); the response's steps are aligned, not the reference's
    assert external_hallucination(np.stack([e1, e3]), s=np.stack([e1]), r=np.stack([e1])) == pytest.approx(0.75)
    assert external_hallucination(np.stack([e3]), s=np.stack([e1]), r=np.stack([e2])) == pytest.approx(0.75)
    # a reference step that neither the response nor the source covers, opposite to both: 1 - 1 * 1
    assert common_sense_error(np.stack([e1]), s=np.stack([e1]), r=np.stack([e2, -e1])) == pytest.approx(0.0)
    assert chain_similarity(e1, e2) == pytest.approx(0.75) and chain_similarity(e1, -e1) == pytest.approx(0.5)


def test_a_response_equal_to_the_reference_or_repeating_the_question_scores_the_maximum(roscoe_models):
    context = BuildContext(lambda text, example: 0.0, 0)
    as_reference = plain_solution(EXAMPLE)
    for metric in ("reasoning_alignment", "semantic_coverage", "hallucination", "commonsense_error"):
        same, other = _rm(roscoe_models, metric, context).score([QUESTION] * 2, [as_reference, RESPONSES[1]], [EXAMPLE] * 2)
        assert same == pytest.approx(1.0, abs=1e-6) and other < same - 1e-4, metric
    for metric in ("faithfulness", "informativeness"):
        same, other = _rm(roscoe_models, metric, context).score([QUESTION] * 2, [QUESTION, RESPONSES[1]], [EXAMPLE] * 2)
        assert same == pytest.approx(1.0, abs=1e-6) and other < same - 1e-4, metric
    # no worked solution: the reference is the task's default "Final answer: <gold>"
    bare = Example("2", QUESTION, "7")
    assert plain_solution(bare) == "Final answer: 7"
    assert _rm(roscoe_models, "reasoning_alignment", context).score([QUESTION], ["Final answer: 7"], [bare]) == pytest.approx([1.0])


def test_steps_source_and_reference_texts(roscoe_models):
    assert steps_of("He has 3.5 apples. Then 2 more!\n\nFinal answer: 5") == ["He has 3.5 apples.", "Then 2 more!", "Final answer: 5"]
    # the reference is the task's demonstration, handed over by the pool: GSM8K's solution in the prompt's format
    gsm8k_task = get_task("gsm8k")
    gsm8k = Example("3", "q", "72", solution="She sold 48/2 = <<48/2=24>>24 clips.\nAltogether 72.\n#### 72")
    config = RewardModelConfig(name="align", kind="roscoe", settings=_settings(roscoe_models, "reasoning_alignment"))
    rm = build_reward_models([config], gsm8k_task.gold_reward, seed=0, demonstration=gsm8k_task.demonstration)["align"]
    assert steps_of(rm.reference(gsm8k)) == ["She sold 48/2 = 24 clips.", "Altogether 72.", "Final answer: 72"]
    formatted = "She sold 48/2 = 24 clips.\nAltogether 72.\nFinal answer: 72"
    same, raw = rm.score(["q"] * 2, [formatted, gsm8k.solution], [gsm8k] * 2)
    assert same == pytest.approx(1.0, abs=1e-6) and raw < same
    mmlu = get_task("mmlu")
    assert build_reward_models([config], mmlu.gold_reward, seed=0, demonstration=mmlu.demonstration)["align"].reference(
        Example("4", "q", "B", choices=["red", "blue"])) == "Final answer: (B) blue"
    assert steps_of(roscoe.source_text(Example("4", "Which colour?", "B", choices=["red", "blue"]))) == [
        "Which colour?", "(A) red", "(B) blue"]


def test_embeddings_do_not_depend_on_the_batch(roscoe_models):
    rm = _rm(roscoe_models, "faithfulness", batch_tokens=64)  # several batches, padded rows
    texts = [steps for r in RESPONSES for steps in steps_of(r)]
    batched = rm.embed(texts)
    model, tokenizer = rm.encoder
    for text in texts:
        ids = torch.tensor([tokenizer(text, truncation=True, max_length=128)["input_ids"]])
        alone = model(input_ids=ids).pooler_output[0].detach().numpy()
        assert batched[text] == pytest.approx(alone / np.linalg.norm(alone), abs=1e-5)
    scores = rm.score([QUESTION] * 4, RESPONSES, [EXAMPLE] * 4)
    assert scores == pytest.approx([rm.score([QUESTION], [r], [EXAMPLE])[0] for r in RESPONSES], abs=1e-6)


def test_coherence_is_one_minus_the_largest_contradiction_between_any_two_steps(roscoe_models):
    constant = _rm(roscoe_models, "coherence", nli_model=roscoe_models["nli_constant"])
    # p(contradiction) = 0.5 whatever the pair; the label is found by name (the third output would give 0.75)
    assert constant.score(["q"] * 2, RESPONSES[:2]) == pytest.approx([0.5, 0.5])
    rm = _rm(roscoe_models, "coherence", batch_tokens=100)
    model, tokenizer = rm.nli
    scores = rm.score(["q"] * 4, RESPONSES)
    for response, score in zip(RESPONSES, scores):
        contradictions = []
        for premise, hypothesis in itertools.product(steps_of(response), repeat=2):
            encoded = tokenizer(premise, hypothesis, return_tensors="pt")
            contradictions.append(torch.softmax(model(**encoded).logits[0], -1)[0].item())
        assert score == pytest.approx(1.0 - max(contradictions), abs=1e-5)


def test_perplexity_is_one_over_the_chains_perplexity_and_higher_is_better(roscoe_models):
    rm = _rm(roscoe_models, "perplexity")
    model, tokenizer = rm.lm
    scores = rm.score(["q"] * 4, RESPONSES)
    for response, score in zip(RESPONSES, scores):
        ids = [tokenizer.bos_token_id] + tokenizer(" " + " ".join(steps_of(response)), add_special_tokens=False)["input_ids"]
        logits = model(input_ids=torch.tensor([ids])).logits[0, :-1]
        nll = torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:])).item()
        assert score == pytest.approx(1.0 / math.exp(nll), rel=1e-4)
    # an LM that finds every token equally likely: the perplexity is the vocabulary size
    with torch.no_grad():
        model.lm_head.weight.zero_()
    assert rm.score(["q"] * 2, RESPONSES[:2]) == pytest.approx([1.0 / model.config.vocab_size] * 2, rel=1e-5)


def test_a_pool_of_roscoe_metrics_loads_each_model_once(roscoe_models, monkeypatch):
    loads = []

    original = roscoe.load_encoder

    def counting(spec, dtype, device):
        loads.append(spec)
        return original(spec, dtype, device)

    monkeypatch.setattr(roscoe, "load_encoder", counting)
    configs = [RewardModelConfig(name=m, kind="roscoe", settings=_settings(roscoe_models, m)) for m in METRICS]
    pool = build_reward_models(configs, lambda text, example: 0.0, seed=0)
    assert loads == [roscoe_models["encoder"]]
    encoders = {id(pool[m].encoder[0]) for m in METRICS if m not in ("coherence", "perplexity")}
    assert len(encoders) == 1 and pool["coherence"].encoder is None and pool["perplexity"].encoder is None
    assert pool["perplexity"].nli is None and pool["coherence"].lm is None
    scores = {m: pool[m].score([QUESTION] * 4, RESPONSES, [EXAMPLE] * 4) for m in METRICS}
    assert all(len(s) == 4 for s in scores.values())


def test_shared_cache_keys_tell_examples_with_other_references_apart(roscoe_models, tmp_path):
    configs = [RewardModelConfig(name=m, kind="roscoe", settings=_settings(roscoe_models, m))
               for m in ("reasoning_alignment", "perplexity")]
    cached = build_reward_models(configs, lambda text, example: 0.0, seed=0, cache=ContentCache(tmp_path / "cache.sqlite"))
    plain = build_reward_models(configs, lambda text, example: 0.0, seed=0)
    other = Example("9", QUESTION, "8", solution="Tom has 3 apples.\nHe buys 5 more.\nFinal answer: 8")
    response = plain_solution(EXAMPLE)
    first, second = (cached["reasoning_alignment"].score([QUESTION], [response], [e])[0] for e in (EXAMPLE, other))
    expected = plain["reasoning_alignment"].score([QUESTION] * 2, [response] * 2, [EXAMPLE, other])
    assert [first, second] == pytest.approx(expected, abs=1e-6)  # batched apart: float noise only
    assert first > second  # the second lookup was not served the first example's score
    assert cached["perplexity"].base.example_key(EXAMPLE) is None  # scores of (prompt, response) alone keep their key


def test_the_cache_identity_names_the_metric_and_only_the_model_it_uses(roscoe_models):
    def identity(metric, **extra):
        return RoscoeRM.cache_identity(RM_KINDS.parse("roscoe", _settings(roscoe_models, metric, **extra), prefix="rm"))

    assert identity("faithfulness") != identity("reasoning_alignment")
    assert identity("faithfulness")["model"]["spec"] == roscoe_models["encoder"]
    assert identity("perplexity") == identity("perplexity", nli_model="other", embedding_model=None)
    assert identity("coherence") != identity("coherence", nli_model=roscoe_models["nli_constant"])
    assert identity("informativeness") != identity("informativeness", embedding_pooling="mean")


def test_config_errors_name_the_key(roscoe_models, tmp_path):
    def problem(**settings):
        return RoscoeRM.check("r", RM_KINDS.parse("roscoe", settings, prefix="rm"), ["r"])

    assert problem(metric="coherence", nli_model=None).startswith("nli_model: metric 'coherence' needs a model")
    assert problem(metric="perplexity", lm_model="").startswith("lm_model:")
    assert problem(metric="faithfulness", embedding_model=None).startswith("embedding_model:")
    assert problem(metric="faithfulness", nli_model=None, lm_model=None) is None  # only what the metric uses
    with pytest.raises(ConfigError, match=r"^rm\.batch_tokens: must be >= 1, got 0$"):
        problem(metric="faithfulness", batch_tokens=0)
    with pytest.raises(ConfigError, match=r"rm\.metric"):
        RM_KINDS.parse("roscoe", {"metric": "coherense"}, prefix="rm")
    with pytest.raises(ValueError, match="embedding_pooling: 'pooler'"):
        _rm({**roscoe_models, "encoder": roscoe_models["lm"]}, "faithfulness", embedding_pooling="pooler")
    with pytest.raises(ValueError, match="contradiction label"):
        _rm({**roscoe_models, "nli": roscoe_models["encoder"]}, "coherence")
    with pytest.raises(ValueError, match="needs the task's example"):
        _rm(roscoe_models, "hallucination").score(["q"], ["a."])
    run = {"policy": {"model": roscoe_models["lm"]}, "task": {"name": "gsm8k"}, "out": str(tmp_path / "run"),
           "reward_models": [{"name": "coh", "kind": "roscoe", "metric": "coherence", "nli_model": None}]}
    with pytest.raises(ConfigError, match=r"reward_models\[0\]\.nli_model: metric 'coherence'"):
        build_run_config(run, check_data=False)


def test_the_models_a_metric_uses_are_checked_before_the_run(roscoe_models, tmp_path):
    run = {"policy": {"model": roscoe_models["lm"]}, "task": {"name": "gsm8k"}, "out": str(tmp_path / "run"),
           "reward_models": [{"name": "faith", "kind": "roscoe", "metric": "faithfulness",
                              "embedding_model": str(tmp_path / "no-encoder"), "nli_model": None, "lm_model": None},
                             {"name": "ppl", "kind": "roscoe", "metric": "perplexity", "lm_model": roscoe_models["lm"],
                              "embedding_model": str(tmp_path / "unused")}]}
    with pytest.raises(ConfigError, match=r"reward_models\[0\]\.embedding_model: .*no-encoder.*no such file"):
        check_files(build_run_config(run, check_data=False), "run.yaml")
    run["reward_models"][0]["embedding_model"] = roscoe_models["encoder"]
    check_files(build_run_config(run, check_data=False), "run.yaml")  # the perplexity RM's unused encoder is not checked


def test_reference_metrics_are_refused_on_open_ended_tasks(roscoe_models, tmp_path):
    def run(metric):
        return {"policy": {"model": roscoe_models["lm"]}, "task": {"name": "wildchat"}, "out": str(tmp_path / metric),
                "method": {"name": "single_rm", "args": {"rm": "r"}},
                "reward_models": [{"name": "r", "kind": "roscoe", "metric": metric, **_settings(roscoe_models, metric)}]}

    with pytest.raises(ConfigError, match=r"'r' \(roscoe\) needs gold answers"):
        build_run_config(run("reasoning_alignment"), check_data=False)
    build_run_config(run("faithfulness"), check_data=False)  # compares the steps with the question only


def test_a_causal_lm_serves_as_a_mean_pooled_encoder(roscoe_models):
    rm = _rm({**roscoe_models, "encoder": roscoe_models["lm"]}, "semantic_coverage")
    assert getattr(rm.encoder[0], "pooler", None) is None
    same, other = rm.score([QUESTION] * 2, [plain_solution(EXAMPLE), RESPONSES[1]], [EXAMPLE] * 2)
    assert same == pytest.approx(1.0, abs=1e-6) and other < same


def test_the_registry_lists_the_kind(capsys):
    assert main(["ls"]) == 0
    assert "roscoe" in capsys.readouterr().out
