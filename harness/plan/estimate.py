"""The memory of one run, stage by stage, for given placement decisions: what is on the GPU and its peak bytes.

A run's GPU holds, throughout: the policy's weights, its two LoRA adapters (the trained one and the frozen
reference, float32 as peft keeps them beside a bf16 base), the trained adapter's gradients and AdamW's two moments
(float32), and the RMs that stay resident. On top of that, each stage adds its own peak:

- ``sample``: the KV cache of the rows decoded together. The prompt pass fills a cache for the chunk's prompts,
  repeats it for their n samples, then copies it into buffers sized for the whole decode, so for a moment the
  cache exists twice: rows x (2 prompt + new tokens) x the KV bytes per token; plus the last step's logits;
- ``score``: one RM's scoring batch (``batch_tokens`` tokens of a no-grad forward pass and a chunk of logits), with
  that RM moved in when RMs are offloaded (the largest one is the peak);
- ``train``: a micro-batch of pairs (2 x micro_batch_size sequences of prompt + new tokens): the activations
  autograd keeps (``harness.plan.activations``, measured for the policy's architecture) and the float32 logits of
  the response positions, or, checkpointed, the layers' inputs and one chunk of logits at a time;
- ``evaluate``: greedy (or majority-vote) decoding of the dev/test batches;
- ``profile``: the profile's sampling (its own batch and samples per prompt).

Lengths are the configured caps (``policy.max_prompt_tokens``, ``max_new_tokens``): a plan holds for the longest
prompts a run can see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from harness.config.schema import RunConfig
from harness.models.logprobs import LOGIT_ELEMENTS_PER_CHUNK
from harness.plan.activations import inference_bytes_per_token, trained_activations
from harness.plan.models import DTYPE_BYTES, ModelShape, lora_parameters, model_shape
from harness.rewards.registry import RM_KINDS
from harness.selection.registry import METHODS

GIB = 2 ** 30
ROLE_OF_SETTING = {"embedding_model": "encoder", "nli_model": "classifier"}


def gpu_dtype(dtype: str) -> str:
    """The dtype a model loads in on a GPU (``auto``: bfloat16, as ``harness.models.loading.pick_dtype`` picks)."""
    return "bfloat16" if dtype == "auto" else dtype


@dataclass(frozen=True)
class PlannedModel:
    """One model a run loads, once however many RMs name it."""

    name: str                # what the plan calls it: "policy", or the RM names that share it
    shape: ModelShape
    dtype: str

    @property
    def weight_bytes(self) -> int:
        return self.shape.weight_bytes(self.dtype)


@dataclass(frozen=True)
class Decisions:
    """What a plan decides (``MemoryConfig``'s settings, resolved)."""

    offload_reward_models: bool
    generation_rows: int          # rows decoded together
    gradient_checkpointing: bool


@dataclass
class Stage:
    name: str
    peak_bytes: int
    on_gpu: list[str] = field(default_factory=list)

    @property
    def peak_gib(self) -> float:
        return self.peak_bytes / GIB


@dataclass(frozen=True)
class RunShape:
    """Everything of a run config the memory depends on, its models' shapes included."""

    policy: PlannedModel
    reward_models: tuple[PlannedModel, ...]
    lora_parameters: int          # one adapter (0: every weight is trained)
    lora_probe: tuple | None      # (r, dropout, targets) of the adapter whose activations are measured; None: no LoRA
    trains: bool                  # False: the Base row and best-of-n never take an optimiser step
    samples: bool                 # False: SFT trains on demonstrations and samples nothing
    prompt_tokens: int
    new_tokens: int
    batch_size: int
    num_samples: int
    micro_batch_pairs: int
    reference_pass: bool
    eval_rows: int
    eval_samples: int             # rows per evaluated prompt (majority vote: its samples)
    eval_new_tokens: int
    profile_rows: int | None
    profile_samples: int
    scoring_tokens: int
    top_p: float

    @property
    def rows(self) -> int:
        return self.batch_size * self.num_samples

    @property
    def largest_generation(self) -> int:
        """The most rows one generate call decodes: a training step's, an evaluation batch's or the profile's."""
        return max(self.rows, self.eval_rows, self.profile_rows or 0)


def planned_models(config: RunConfig) -> tuple[PlannedModel, tuple[PlannedModel, ...]]:
    """The policy and the distinct models of the RM pool (one per (role, spec, dtype), as ``BuildContext`` shares them)."""
    policy = PlannedModel("policy", model_shape(config.policy.model, "causal"), gpu_dtype(config.policy.dtype))
    shared: dict[tuple[str, str, str], list[str]] = {}
    for rm in config.reward_models:
        kind = RM_KINDS.get(rm.kind)
        settings = RM_KINDS.parse(rm.kind, rm.settings, prefix=f"reward model {rm.name!r}", also_accepted=("name", "kind"))
        for key, spec in kind.model_specs(settings).items():
            role = "classifier" if rm.kind == "classifier" else ROLE_OF_SETTING.get(key, "causal")
            dtype = gpu_dtype(getattr(settings, "dtype", "auto"))
            shared.setdefault((role, spec, dtype), []).append(rm.name)
    models = tuple(PlannedModel("+".join(names), model_shape(spec, role), dtype) for (role, spec, dtype), names in shared.items())
    return policy, models


def run_shape(config: RunConfig) -> RunShape:
    policy, rms = planned_models(config)
    declared = METHODS.get(config.method.name).declared  # what it trains on is the class's, whatever its settings
    train, evaluation = config.train, config.eval
    trains = config.mode == "train" and declared.trains
    profile_rows, profile_samples = None, train.num_samples
    if config.profile is not None:
        profile_samples = config.profile.num_samples or train.num_samples
        profile_rows = (config.profile.batch_size or train.batch_size) * profile_samples
    scoring = [int(rm.settings.get("batch_tokens", 8192)) for rm in config.reward_models]
    lora = config.policy.lora
    probe = (lora.r, lora.dropout, lora.target_modules if isinstance(lora.target_modules, str) else tuple(lora.target_modules)) \
        if lora is not None else None
    eval_samples = evaluation.num_samples if evaluation.decoding == "majority" else 1
    return RunShape(
        policy=policy, reward_models=rms, lora_parameters=lora_parameters(config.policy.model, lora) if lora else 0,
        lora_probe=probe, trains=trains,
        samples=(trains and declared.trains_on != "demonstrations") or config.mode == "best_of_n",
        prompt_tokens=config.policy.max_prompt_tokens, new_tokens=train.max_new_tokens, batch_size=train.batch_size,
        num_samples=train.num_samples, micro_batch_pairs=train.micro_batch_size,
        reference_pass=train.loss in ("dpo", "dpo_nll", "kto"),
        eval_rows=evaluation.batch_size * eval_samples, eval_samples=eval_samples,
        eval_new_tokens=evaluation.max_new_tokens, profile_rows=profile_rows, profile_samples=profile_samples,
        scoring_tokens=max(scoring, default=8192), top_p=train.top_p)


def resident_bytes(run: RunShape, decisions: Decisions) -> tuple[int, list[str]]:
    """What stays on the GPU through every stage."""
    policy = run.policy
    held = policy.weight_bytes
    names = [f"policy {policy.shape.parameters / 1e9:.2f}B {policy.dtype}"]
    if run.lora_parameters:
        adapters = 2 * run.lora_parameters * 4
        names.append("LoRA x2 (fp32)")
        if run.trains:
            adapters += 3 * run.lora_parameters * 4   # gradients and AdamW's two moments
            names[-1] = "LoRA x2 + grads + AdamW (fp32)"
        held += adapters
    elif run.trains:  # every weight trained: gradients and AdamW moments in the weights' dtype, a frozen reference copy
        held += policy.weight_bytes * 3 + (policy.weight_bytes if run.reference_pass else 0)
        names.append("full fine-tuning: grads + AdamW + reference")
    if not decisions.offload_reward_models:
        for rm in run.reward_models:
            held += rm.weight_bytes
            names.append(f"RM {rm.name}")
    return held, names


def kv_rows_bytes(model: PlannedModel, rows: int, prompt: int, new: int) -> int:
    return rows * (2 * prompt + new) * model.shape.kv_bytes_per_token(model.dtype)


def sampling_bytes(run: RunShape, rows: int, total_rows: int, num_samples: int, new_tokens: int) -> int:
    """One chunk of ``rows`` sequences: its prompt pass, its KV cache (twice, for a moment) and a step's logits."""
    policy = run.policy
    rows = min(rows, total_rows)
    prompts = min(math.ceil(rows / num_samples) + 1, math.ceil(total_rows / num_samples))
    prompt_pass = prompts * run.prompt_tokens * inference_bytes_per_token(policy.shape.hidden, policy.shape.intermediate, policy.dtype)
    logits = rows * policy.shape.vocab * (DTYPE_BYTES[policy.dtype] + 4 + 4 + (12 if run.top_p < 1.0 else 0))
    return max(prompt_pass, logits) + kv_rows_bytes(policy, rows, run.prompt_tokens, new_tokens)


def scoring_bytes(model: PlannedModel, tokens: int) -> int:
    logits = LOGIT_ELEMENTS_PER_CHUNK * (DTYPE_BYTES[model.dtype] + 8) if model.shape.role == "causal" else 0
    return tokens * inference_bytes_per_token(model.shape.hidden, model.shape.intermediate, model.dtype) + logits


def training_bytes(run: RunShape, checkpointing: bool) -> int:
    """A micro-batch's backward pass: kept activations, response logits, and the reference's no-grad pass."""
    policy = run.policy
    activations = trained_activations(policy.shape.spec, policy.dtype, run.lora_probe)
    sequences = 2 * run.micro_batch_pairs if run.samples else run.micro_batch_pairs  # pairs, or SFT's demonstrations
    tokens = sequences * (run.prompt_tokens + run.new_tokens)
    kept = activations.saved_bytes(tokens, policy.shape.layers, checkpointing)
    response_tokens = sequences * run.new_tokens
    chunk = LOGIT_ELEMENTS_PER_CHUNK * (DTYPE_BYTES[policy.dtype] + 8)
    logits = chunk if checkpointing else response_tokens * policy.shape.vocab * 4 + chunk
    reference = tokens * inference_bytes_per_token(policy.shape.hidden, policy.shape.intermediate, policy.dtype) \
        if run.reference_pass else 0  # the reference's no-grad pass runs while the policy's activations are kept
    return kept + logits + reference


def stages(run: RunShape, decisions: Decisions) -> list[Stage]:
    held, names = resident_bytes(run, decisions)
    result = []
    if run.samples:
        result.append(Stage("sample", held + sampling_bytes(run, decisions.generation_rows, run.rows, run.num_samples,
                                                           run.new_tokens),
                            names + [f"KV cache of {min(decisions.generation_rows, run.rows)} of {run.rows} rows"]))
        for rm in run.reward_models:
            swapped = rm.weight_bytes if decisions.offload_reward_models else 0
            result.append(Stage(f"score {rm.name}", held + swapped + scoring_bytes(rm, run.scoring_tokens),
                                names + ([f"RM {rm.name} (moved in)"] if swapped else [])))
    if run.trains:
        extra = "checkpointed activations" if decisions.gradient_checkpointing else "activations"
        result.append(Stage("train", held + training_bytes(run, decisions.gradient_checkpointing),
                            names + [f"{extra} of {run.micro_batch_pairs} pairs"]))
    result.append(Stage("evaluate", held + sampling_bytes(run, min(decisions.generation_rows, run.eval_rows), run.eval_rows,
                                                          run.eval_samples, run.eval_new_tokens),
                        names + [f"KV cache of {run.eval_rows} rows"]))
    if run.profile_rows is not None:
        result.append(Stage("profile", held + sampling_bytes(run, min(decisions.generation_rows, run.profile_rows),
                                                             run.profile_rows, run.profile_samples, run.new_tokens),
                            names + [f"KV cache of {min(decisions.generation_rows, run.profile_rows)} rows"]))
    return result
