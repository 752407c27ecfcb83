"""Offloaded reward models (``harness.models.placement``, ``OffloadedRM``): the same scores as resident ones, at most
one model group on the compute device with exactly the moves expected, one copy and one group for a shared model,
no move on a cache hit, the shared cache's keys unchanged, and the default pool (no placement) untouched.

On a CPU the slot swaps between "cpu" and "cpu": the moves are no-ops on memory, but every call of the slot runs.
The ``gpu`` test swaps to a real CUDA device."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import LlamaForSequenceClassification

from harness.common.content_cache import ContentCache
from harness.config.parse import from_dict
from harness.config.schema import RewardModelConfig
from harness.loop.training_loop import score_table
from harness.models.placement import ModelPlacement, pack_parameters, placement_for
from harness.models.tiny import byte_tokenizer, tiny_llama_config
from harness.rewards.cached import CachedRM
from harness.rewards.correctness import CorrectnessRM
from harness.rewards.loglik import LogLikelihoodRM
from harness.rewards.noisy import NoisyRM
from harness.rewards.offloaded import OffloadedRM
from harness.rewards.pool import build_reward_models
from harness.rewards.registry import CORRECTNESS
from harness.selection.method import RewardChoice
from harness.tasks.base import Example
from harness.tasks.registry import get_task

PROMPTS = ["Question: what is 2+3?\nSolution:", "Question: is the sky green?\nSolution:"] * 2
RESPONSES = [" 2+3 = 5. Final answer: 5", " No, it is blue. Final answer: no", "", " a much longer response " * 4]
EXAMPLES = [Example(str(i), prompt.split("\n")[0], "5", solution="2+3 = 5.\nFinal answer: 5") for i, prompt in enumerate(PROMPTS)]


@pytest.fixture(scope="module")
def classifier_model(tmp_path_factory) -> str:
    """A tiny sequence-classification RM with the byte tokenizer."""
    folder = tmp_path_factory.mktemp("placement_clf") / "clf"
    torch.manual_seed(0)
    config = tiny_llama_config(259)
    config.num_labels = 1
    LlamaForSequenceClassification(config).save_pretrained(folder)
    byte_tokenizer().save_pretrained(folder)
    return str(folder)


def _cpu_slot(keep_last: bool = True) -> ModelPlacement:
    return ModelPlacement(compute=torch.device("cpu"), home=torch.device("cpu"), keep_last=keep_last)


def _pool(*configs, placement=None, cache=None):
    return build_reward_models([from_dict(RewardModelConfig, c) for c in configs], get_task("gsm8k").gold_reward, seed=0,
                               cache=cache, placement=placement)


def _label(path: str) -> str:
    """The slot's label of a causal LM loaded for the default settings."""
    return f"causal:{path}:auto:auto"


def _kinds(tiny_models, classifier_model) -> dict[str, dict]:
    return {
        "loglik": {"name": "r", "kind": "loglik", "model": tiny_models["rm_a"], "batch_tokens": 64},
        "implicit": {"name": "r", "kind": "implicit", "model": tiny_models["rm_a"], "reference": tiny_models["rm_b"], "beta": 0.5},
        "classifier": {"name": "r", "kind": "classifier", "model": classifier_model},
        "roscoe_perplexity": {"name": "r", "kind": "roscoe", "metric": "perplexity", "lm_model": tiny_models["rm_a"]},
        "roscoe_faithfulness": {"name": "r", "kind": "roscoe", "metric": "faithfulness", "embedding_model": tiny_models["rm_b"]},
    }


def _score(rm) -> list[float]:
    return rm.score(PROMPTS, RESPONSES, EXAMPLES if rm.needs_references else None)


@pytest.mark.parametrize("kind", ["loglik", "implicit", "classifier", "roscoe_perplexity", "roscoe_faithfulness"])
def test_an_offloaded_rm_scores_exactly_as_a_resident_one(tiny_models, classifier_model, kind):
    config = _kinds(tiny_models, classifier_model)[kind]
    other = {"name": "other", "kind": "loglik", "model": tiny_models["policy"]}
    resident = _pool(config)["r"]
    slot = _cpu_slot()
    offloaded = _pool(config, other, placement=slot)
    assert isinstance(offloaded["r"], OffloadedRM) and offloaded["r"].record() == resident.record()
    expected = _score(resident)
    assert _score(offloaded["r"]) == expected
    moved_in = len(slot.moves)
    assert moved_in == len(offloaded["r"].group) >= 1
    offloaded["other"].score(PROMPTS[:1], RESPONSES[:1])  # sends r's models home and back in again
    assert _score(offloaded["r"]) == expected
    group = len(offloaded["r"].group)
    assert [direction for direction, _ in slot.moves[moved_in:]] == ["out"] * group + ["in", "out"] + ["in"] * group


def test_the_slot_holds_one_group_and_moves_only_on_a_change(tiny_models):
    slot = _cpu_slot()
    pool = _pool({"name": "a", "kind": "loglik", "model": tiny_models["rm_a"]},
                 {"name": "b", "kind": "loglik", "model": tiny_models["rm_b"]}, placement=slot)
    a, b = _label(tiny_models["rm_a"]), _label(tiny_models["rm_b"])
    assert slot.moves == [] and slot.resident == []  # loaded home: nothing moves before an RM scores
    expected = [[("in", a)], [("in", a)], [("in", a), ("out", a), ("in", b)], [("in", a), ("out", a), ("in", b), ("out", b), ("in", a)]]
    for name, moves in zip("aaba", expected):
        pool[name].score(PROMPTS, RESPONSES)
        assert slot.moves == moves
        assert slot.resident == [a if name == "a" else b]
    assert slot.summary()["moves_in"] == 3 and slot.summary()["moves_out"] == 2


def test_as_runs_use_it_an_rm_goes_home_after_it_scored(tiny_models):
    """keep_last off (how the memory plan budgets): no RM is on the GPU while the policy samples and trains."""
    slot = _cpu_slot(keep_last=False)
    pool = _pool({"name": "a", "kind": "loglik", "model": tiny_models["rm_a"]},
                 {"name": "b", "kind": "loglik", "model": tiny_models["rm_b"]}, placement=slot)
    for name in ("a", "a", "b"):
        pool[name].score(PROMPTS, RESPONSES)
        assert slot.resident == []
    a, b = _label(tiny_models["rm_a"]), _label(tiny_models["rm_b"])
    assert slot.moves == [("in", a), ("out", a), ("in", a), ("out", a), ("in", b), ("out", b)]


def test_an_ensemble_step_scores_with_one_rm_group_on_the_device_at_a_time(tiny_models, monkeypatch):
    slot = _cpu_slot()
    pool = _pool({"name": "a", "kind": "loglik", "model": tiny_models["rm_a"]},
                 {"name": "b", "kind": "loglik", "model": tiny_models["rm_b"]},
                 {"name": "ab", "kind": "implicit", "model": tiny_models["rm_a"], "reference": tiny_models["rm_b"]},
                 placement=slot)
    seen = []
    for name in ("a", "b", "ab"):
        base = pool[name].base
        original = base.score
        monkeypatch.setattr(base, "score", lambda *args, name=name, original=original: (seen.append((name, slot.resident)),
                                                                                         original(*args))[1])
    table = score_table(RewardChoice(("a", "b", "ab"), "mean"), pool, PROMPTS, RESPONSES, EXAMPLES)
    assert list(table) == ["a", "b", "ab"]
    a, b = _label(tiny_models["rm_a"]), _label(tiny_models["rm_b"])
    assert seen == [("a", [a]), ("b", [b]), ("ab", [b, a])]  # ab keeps b where it is and brings a back
    assert slot.moves == [("in", a), ("out", a), ("in", b), ("in", a)]


def test_rms_that_share_a_model_share_one_copy_and_one_group(tiny_models):
    slot = _cpu_slot()
    pool = _pool({"name": "a", "kind": "loglik", "model": tiny_models["rm_a"]},
                 {"name": "self", "kind": "implicit", "model": tiny_models["rm_a"], "reference": tiny_models["rm_a"]},
                 {"name": "again", "kind": "loglik", "model": tiny_models["rm_a"], "batch_tokens": 64}, placement=slot)
    assert pool["self"].base.model is pool["a"].base.model is pool["self"].base.reference is pool["again"].base.model
    assert pool["a"].group == pool["self"].group == pool["again"].group and len(pool["a"].group) == 1
    for name in ("a", "self", "again", "a"):
        pool[name].score(PROMPTS, RESPONSES)
    assert slot.moves == [("in", _label(tiny_models["rm_a"]))]


def test_a_cache_hit_moves_nothing(tiny_models, tmp_path):
    slot = _cpu_slot()
    pool = _pool({"name": "a", "kind": "loglik", "model": tiny_models["rm_a"]},
                 {"name": "b", "kind": "loglik", "model": tiny_models["rm_b"]},
                 {"name": "noisy_a", "kind": "noisy", "base": "a", "sigma": 0.0},
                 placement=slot, cache=ContentCache(tmp_path / "c.sqlite"))
    assert isinstance(pool["a"], CachedRM) and isinstance(pool["a"].base, OffloadedRM)
    first = pool["a"].score(PROMPTS, RESPONSES)
    pool["b"].score(PROMPTS, RESPONSES)
    moves = list(slot.moves)
    assert pool["a"].score(PROMPTS, RESPONSES) == first and pool["noisy_a"].score(PROMPTS, RESPONSES) == first
    assert slot.moves == moves and slot.resident == [_label(tiny_models["rm_b"])]
    pool["noisy_a"].score(["a prompt not seen yet"], [" so scored"])  # a miss through noisy: a's wrapper moves it
    assert slot.moves[len(moves):] == [("out", _label(tiny_models["rm_b"])), ("in", _label(tiny_models["rm_a"]))]


def test_without_a_placement_the_pool_is_built_as_before(tiny_models, tmp_path):
    configs = ({"name": "a", "kind": "loglik", "model": tiny_models["rm_a"]},
               {"name": "noisy_a", "kind": "noisy", "base": "a", "sigma": 1.0})
    plain = _pool(*configs)
    assert type(plain["a"]) is LogLikelihoodRM and type(plain["noisy_a"]) is NoisyRM and plain["noisy_a"].base is plain["a"]
    assert type(plain[CORRECTNESS]) is CorrectnessRM
    cached = _pool(*configs, cache=ContentCache(tmp_path / "c.sqlite"))
    assert type(cached["a"]) is CachedRM and type(cached["a"].base) is LogLikelihoodRM
    assert placement_for(False, "auto") is None and placement_for(None, "cuda") is None
    assert placement_for(True, "cpu") is None  # a CPU run never offloads
    slot = _cpu_slot()
    offloaded = _pool(*configs, placement=slot)  # only the RM that owns a model is wrapped
    assert type(offloaded["noisy_a"]) is NoisyRM and offloaded["noisy_a"].base is offloaded["a"]
    assert type(offloaded[CORRECTNESS]) is CorrectnessRM


def test_a_model_configured_for_another_device_stays_resident(tiny_models):
    slot = ModelPlacement(compute=torch.device("meta"))  # offloads only models meant for "meta"
    pool = _pool({"name": "a", "kind": "loglik", "model": tiny_models["rm_a"], "device": "cpu"}, placement=slot)
    assert type(pool["a"]) is LogLikelihoodRM
    pool["a"].score(PROMPTS, RESPONSES)
    assert slot.moves == []


def test_offloading_keeps_the_shared_cache_keys(tiny_models, tmp_path):
    cache = ContentCache(tmp_path / "c.sqlite")
    configs = ({"name": "a", "kind": "loglik", "model": tiny_models["rm_a"]},
               {"name": "r", "kind": "roscoe", "metric": "faithfulness", "embedding_model": tiny_models["rm_b"]})
    resident, slot = _pool(*configs, cache=cache), _cpu_slot()
    offloaded = _pool(*configs, cache=cache, placement=slot)
    for name in ("a", "r"):
        assert offloaded[name].identity == resident[name].identity
    computed = {name: _score(offloaded[name]) for name in ("a", "r")}  # offloaded first: all misses
    hits = cache.hits
    assert {name: _score(resident[name]) for name in ("a", "r")} == computed
    assert cache.hits - hits == 2 * len(set(zip(PROMPTS, RESPONSES)))  # reused by the resident pool
    moves = len(slot.moves)
    new = ["an unseen response"]
    resident_first = resident["a"].score(PROMPTS[:1], new)
    assert offloaded["a"].score(PROMPTS[:1], new) == resident_first and len(slot.moves) == moves  # and the other way


def test_moving_home_points_the_parameters_back_at_their_home_copies():
    slot = _cpu_slot()
    first, second = torch.nn.Linear(4, 3).requires_grad_(False), torch.nn.Linear(2, 2).requires_grad_(False)
    values = {id(p): (p.detach().clone(), p.data_ptr()) for model in (first, second) for p in model.parameters()}
    slot.adopt(first, "first"), slot.adopt(second, "second")
    slot.acquire([first])
    for parameter in first.parameters():  # stands in for the compute device's copy, which moving home drops
        parameter.data = torch.full_like(parameter.data, float("nan"))
    slot.acquire([second])
    slot.release()
    for model in (first, second):
        for parameter in model.parameters():
            value, pointer = values[id(parameter)]
            assert parameter.data_ptr() == pointer and torch.equal(parameter, value)
    assert slot.moves == [("in", "first"), ("out", "first"), ("in", "second"), ("out", "second")] and slot.resident == []


def test_parameters_packed_into_one_buffer_keep_their_values(tiny_models):
    module = torch.nn.Module()
    module.odd = torch.nn.Parameter(torch.arange(3, dtype=torch.bfloat16), requires_grad=False)  # 6 bytes: next is aligned
    module.wide = torch.nn.Parameter(torch.randn(5, 7), requires_grad=False)
    module.small = torch.nn.Parameter(torch.randn(2, 3, dtype=torch.float16), requires_grad=False)
    before = [p.detach().clone() for p in module.parameters()]
    buffer = pack_parameters(list(module.parameters()), pin_memory=False)
    for parameter, value in zip(module.parameters(), before):
        assert parameter.dtype == value.dtype and torch.equal(parameter, value)
        assert parameter.untyped_storage().data_ptr() == buffer.untyped_storage().data_ptr()
        assert (parameter.data_ptr() - buffer.data_ptr()) % 64 == 0
    pool = _pool({"name": "a", "kind": "loglik", "model": tiny_models["rm_a"]})
    expected = pool["a"].score(PROMPTS, RESPONSES)
    pack_parameters(list(pool["a"].model.parameters()), pin_memory=False)
    assert pool["a"].score(PROMPTS, RESPONSES) == expected


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_offloaded_rms_swap_between_pinned_host_memory_and_the_gpu(tiny_models, classifier_model):
    slot = placement_for(True, "cuda")
    assert slot is not None and slot.compute.type == "cuda" and slot.pins
    configs = [{**config, "device": "cuda", "dtype": "float32"} for config in
               ({"name": "a", "kind": "loglik", "model": tiny_models["rm_a"]},
                {"name": "ab", "kind": "implicit", "model": tiny_models["rm_a"], "reference": tiny_models["rm_b"]},
                {"name": "c", "kind": "classifier", "model": classifier_model})]
    resident = _pool(*configs)
    offloaded = _pool(*configs, placement=slot)
    models = [offloaded["ab"].base.model, offloaded["ab"].base.reference, offloaded["c"].base.model]
    homes = {id(p): p.data_ptr() for model in models for p in model.parameters()}
    for model in models:
        assert all(p.device.type == "cpu" and p.is_pinned() for p in model.parameters())
    for name in ("a", "ab", "c", "a", "ab"):
        assert _score(offloaded[name]) == _score(resident[name]), name
        group = offloaded[name].group
        for model in models:
            on_gpu = any(model is member for member in group)
            assert all(p.device.type == ("cuda" if on_gpu else "cpu") for p in model.parameters())
            assert all(p.device.type == ("cuda" if on_gpu else "cpu") for p in model.buffers())
    slot.release()
    for model in models:  # home again on the very pinned buffers they started from: no copy back
        assert all(p.device.type == "cpu" and p.is_pinned() and p.data_ptr() == homes[id(p)] for p in model.parameters())
    assert slot.resident == [] and slot.summary()["moves_in"] == slot.summary()["moves_out"]
    np.testing.assert_array_equal(_score(offloaded["c"]), _score(resident["c"]))
