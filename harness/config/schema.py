"""The YAML schema as dataclasses: one run (method, task, seed, models, training and evaluation settings) and
a sweep (the axes it expands into runs, setup hooks, judged comparisons).

A numeric field declares its allowed range once, in its metadata (``"range": at_least(1)``, ``harness.config.ranges``);
a dataclass whose fields have other rules (a non-empty value, two fields together) states them in ``problems()``:
what is wrong, field by field, as ``(key, problem)`` (key '' for the whole); ``harness.config.parse.config_problems``
checks both over a nested config, naming each key's full path. ``harness.config.parse`` reads the dataclasses from
YAML with overrides, ``harness.loop.run_config`` checks a run config (these rules first, then its parts against
each other and the registries) before any compute,
``harness.sweep.expand`` expands a sweep, and ``harness.commands.schema`` turns them into JSON Schemas for editors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Literal

from harness.config.ranges import RANGE, above, at_least, between, positive

Problems = Iterator[tuple[str, str]]  # (a field's key, what is wrong with it); key '' for the whole dataclass

# The built-in gold-answer reward model: always in a run's pool, needs no entry in ``reward_models``.
CORRECTNESS = "correctness"


@dataclass
class LoraConfig:
    r: int = field(default=16, metadata={"help": "LoRA rank (paper: 16).", RANGE: at_least(1)})
    alpha: int = field(default=32, metadata={"help": "LoRA alpha (paper: 32); the update is scaled by alpha / r.",
                                             RANGE: at_least(1)})
    dropout: float = field(default=0.05, metadata={RANGE: between(0, 1, high_open=True)})
    target_modules: str | list[str] = field(default="all-linear", metadata={"help": "peft target_modules."})


@dataclass
class PolicyConfig:
    model: str = field(default="", metadata={"help": "Hub name, local directory, or path to a .gguf file."})
    lora: LoraConfig | None = field(default_factory=LoraConfig, metadata={"help": "null trains all weights."})
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = field(default="auto", metadata={"help": "'auto' picks cuda when present, else cpu."})
    embedding: Literal["last", "first", "mean"] = field(
        default="last", metadata={"help": "Sentence embedding of a prompt for the bandit context."})
    max_prompt_tokens: int = field(default=1024, metadata={RANGE: at_least(1)})
    truncation: Literal["left", "middle"] = field(
        default="left", metadata={"help": "Over-long prompts: drop the start ('left'), or the middle as LongBench does."})
    chat_template: bool = field(default=False, metadata={"help": "Wrap prompts in the tokenizer's chat template."})

    def problems(self) -> Problems:
        if not self.model:
            yield "model", "give a hub name, a local folder or a .gguf file"


@dataclass
class RewardModelConfig:
    """One reward model of the pool: its name, its kind, and the kind's settings written beside them
    (``{name: rm_a, kind: loglik, model: ...}``), checked against the kind's ``Config`` at load time."""

    name: str
    kind: str = field(metadata={"help": "A reward-model kind (python -m harness ls): loglik, implicit, classifier, ..."})
    settings: dict[str, Any] = field(default_factory=dict, metadata={"rest": True, "help": "The kind's settings."})


@dataclass
class TaskConfig:
    name: str = ""
    path: str = field(default="", metadata={"help": "Local JSONL/Parquet file or folder; empty loads from the hub."})
    max_examples: int | None = field(default=None, metadata={
        "help": "Subsample the pooled examples first (tasks batched by category: each category).", RANGE: at_least(1)})
    split_fractions: list[float] = field(default_factory=lambda: [0.7, 0.1, 0.2], metadata={RANGE: between(0, 1)})
    split_sizes: list[int] | None = field(default=None, metadata={
        "help": "Exact train/dev/test sizes (tasks batched by category: per category).", RANGE: at_least(0)})
    split_seed: int | None = field(default=None, metadata={"help": "Defaults to the run seed.", RANGE: at_least(0)})
    options: dict[str, Any] = field(default_factory=dict, metadata={"help": "Task-specific options (the task's Config)."})
    batch_by_category: bool | None = field(
        default=None, metadata={"help": "Every batch holds one category (null: the task's default)."})


@dataclass
class TrainConfig:
    iterations: int = field(default=10, metadata={RANGE: at_least(1)})
    batch_size: int = field(default=16, metadata={"help": "Prompts per step (one RM choice per step).", RANGE: at_least(1)})
    max_steps_per_iteration: int | None = field(default=None, metadata={
        "help": "At most this many steps per iteration (null: every batch).", RANGE: at_least(1)})
    num_samples: int = field(default=30, metadata={"help": "n responses sampled per prompt.", RANGE: at_least(1)})
    temperature: float = field(default=0.8, metadata={
        "help": "Sampling temperature.", RANGE: positive("sampling divides the logits by it")})
    top_p: float = field(default=1.0, metadata={
        "help": "Nucleus sampling: the smallest set of tokens reaching this probability (0: the most likely one).",
        RANGE: between(0, 1)})
    max_new_tokens: int = field(default=256, metadata={RANGE: at_least(1)})
    pairs_per_prompt: int = field(default=10, metadata={"help": "P preference pairs per prompt.", RANGE: at_least(1)})
    loss: Literal["dpo", "nll", "dpo_nll", "kto"] = "dpo_nll"
    beta: float = field(default=0.1, metadata={"help": "The strength of the KL penalty (dpo, dpo_nll, kto).", RANGE: positive()})
    nll_weight: float = field(default=1.0, metadata={"help": "dpo_nll: the NLL term's weight.", RANGE: at_least(0)})
    learning_rate: float = field(default=5e-6, metadata={RANGE: positive()})
    weight_decay: float = field(default=0.0, metadata={RANGE: at_least(0)})
    micro_batch_size: int = field(default=8, metadata={"help": "Pairs per forward/backward (gradient accumulation).",
                                                       RANGE: at_least(1)})
    updates_per_step: int = field(default=1, metadata={"help": "Optimizer steps on each batch's pairs.", RANGE: at_least(1)})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Clip the gradient norm to this (0: no clipping).",
                                                        RANGE: at_least(0, "0: no clipping")})
    start: Literal["base", "sft"] = field(default="base", metadata={
        "help": "The policy training starts from: base (policy.model) or sft (the sft method's result for the same "
                "task, seed and settings, trained once and cached, merged into the weights; it is also the reference)."})

    def problems(self) -> Problems:
        if self.num_samples == 1:
            yield "num_samples", f"preference pairs need at least 2 samples per prompt, got {self.num_samples}"


@dataclass
class LmEvalConfig:
    tasks: list[str] = field(default_factory=list, metadata={
        "help": "lm-eval task names besides the run's own test split (harness_<task>, always evaluated)."})
    limit: int | None = field(default=None, metadata={"help": "At most this many examples per task (default: "
                                                                "eval.max_test_examples for the run's own split).",
                                                        RANGE: at_least(1)})
    batch_size: int = field(default=1, metadata={"help": "lm-eval's generation batch size.", RANGE: at_least(1)})


@dataclass
class EvalConfig:
    decoding: Literal["greedy", "majority"] = "greedy"
    num_samples: int = field(default=8, metadata={"help": "majority: samples voted over.", RANGE: at_least(1)})
    temperature: float = field(default=0.8, metadata={
        "help": "majority: the samples' temperature.", RANGE: positive("sampling divides the logits by it")})
    max_new_tokens: int = field(default=256, metadata={RANGE: at_least(1)})
    batch_size: int = field(default=16, metadata={"help": "Prompts decoded together.", RANGE: at_least(1)})
    dev_every_iteration: bool = True
    max_dev_examples: int | None = field(default=200, metadata={"help": "null: the whole dev split.", RANGE: at_least(1)})
    max_test_examples: int | None = field(default=None, metadata={"help": "null: the whole test split.", RANGE: at_least(1)})
    lm_eval: LmEvalConfig | None = field(default=None, metadata={
        "help": "Also evaluate the final policy with lm-evaluation-harness after the run (the lmeval extra): the "
                "run's test split with the same prompts, greedy decoding and answer check, plus lm-eval's own tasks."})


@dataclass
class BestOfNConfig:
    reward: Literal["nll", "gold"] = field(default="nll", metadata={
        "help": "MAB reward on the train split: nll = negative length-normalised NLL of the picked responses "
                "(paper sec. 3.3); gold = the task's gold score of the picked responses."})


@dataclass
class ProfileConfig:
    """On-policy RM competence (``harness.profile``): the SFT policy's own samples on the training prompts,
    marked right or wrong by the gold answer, scored by every RM."""

    max_prompts: int | None = field(default=None, metadata={
        "help": "Training prompts per category (null: the whole train split).", RANGE: at_least(1)})
    num_samples: int | None = field(default=None, metadata={
        "help": "Samples per prompt (null: train.num_samples).", RANGE: at_least(2, "a right and a wrong one to compare")})
    batch_size: int | None = field(default=None, metadata={
        "help": "Prompts sampled together (null: train.batch_size). Larger is faster; the draws depend on it.",
        RANGE: at_least(1)})
    seed: int = field(default=0, metadata={"help": "The profile's own split and sampling seed: one profile for every run.",
                                           RANGE: at_least(0)})
    resamples: int = field(default=1000, metadata={
        "help": "Bootstrap resamples (over prompts) of the confidence intervals.", RANGE: at_least(0, "0: no intervals")})
    correct_threshold: float = field(default=0.5, metadata={
        "help": "Graded tasks (F1 / ROUGE-L): a response counts as correct from this score on.", RANGE: between(0, 1)})


@dataclass
class MemoryConfig:
    """How a run uses accelerator memory (``python -m harness plan`` prints the plan). A null setting is decided
    by the memory plan when the run starts on a GPU; on a CPU it stays off, so CPU runs are unchanged."""

    gpu_memory_gib: float | None = field(default=None, metadata={
        "help": "The GPU memory a run may use, in GiB (null: the device's total memory less a reserve).",
        RANGE: above(2, "the GiB of one GPU, above the 2 GiB a plan reserves")})
    generation_rows: int | None = field(default=None, metadata={
        "help": "Sequences decoded together when sampling (null: as planned; all of a step's rows on a CPU). A number "
                "draws each row's tokens from its own counter-based stream, so every chunk size gives the same tokens.",
        RANGE: at_least(1)})
    gradient_checkpointing: bool | None = field(default=None, metadata={
        "help": "Recompute activations in the backward pass, and the output head's logits chunk by chunk (null: as planned)."})
    offload_reward_models: bool | None = field(default=None, metadata={
        "help": "Keep model RMs in (pinned) CPU memory and move each to the GPU only while it scores (null: as planned)."})


@dataclass
class MethodConfig:
    name: str = "laser"
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WorldSettings:
    """Which synthetic world a run's ``world:NAME`` models and ``synth_*`` tasks come from (``harness.world``): the
    default world changed in a few knobs. Every knob null is the default world itself (the quickstart's)."""

    policy_correct_share: float | None = field(default=None, metadata={
        "help": "Share of correct demonstrations in the starting policy's training mix, every family (how often it is "
                "right; null: the default world's 0.4).", RANGE: between(0, 1)})
    generalist_correct_share: float | None = field(default=None, metadata={
        "help": "Share of correct demonstrations in the generalist RM's mix, every family (its accuracy; null: the "
                "default world's 0.55 / 0.65 / 0.55).", RANGE: between(0, 1)})
    expert_sharpness: float | None = field(default=None, metadata={
        "help": "An expert RM's share of correct demonstrations on its own family; on the other families it learns "
                "1 - sharpness (null: the default world's 1: its own family right, the others' bugs).", RANGE: between(0, 1)})
    seed: int | None = field(default=None, metadata={
        "help": "The world's seed: its problems and its models' training draws (null: 0).", RANGE: at_least(0)})

    def is_default(self) -> bool:
        return self == WorldSettings()


@dataclass
class RunConfig:
    mode: Literal["train", "best_of_n"] = field(default="train", metadata={
        "help": "train: iterative preference training; best_of_n: inference only, the bandit learns which RM "
                "reranks n samples best on the train split, then is frozen for the test split (paper sec. 3.3)."})
    method: MethodConfig = field(default_factory=MethodConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    ood_tasks: list[TaskConfig] = field(default_factory=list)
    seed: int = field(default=0, metadata={RANGE: at_least(0)})
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    reward_models: list[RewardModelConfig] = field(default_factory=list)
    best_rm: str = field(default="", metadata={"help": "The leaderboard's best RM ('Best RM' baseline)."})
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    best_of_n: BestOfNConfig = field(default_factory=BestOfNConfig)
    profile: ProfileConfig | None = field(default=None, metadata={
        "help": "Measure (once, cached) each RM's competence on the policy's own samples; runs then record the "
                "most competent RM per step, selection accuracy and regret, and oracle_rm can use it."})
    world: WorldSettings = field(default_factory=WorldSettings, metadata={
        "help": "The synthetic world of world:NAME models and synth_* tasks (null knobs: the default world); a sweep "
                "varies it like any setting (grid: {world.policy_correct_share: [...]})."})
    memory: MemoryConfig = field(default_factory=MemoryConfig, metadata={
        "help": "Accelerator memory: generation chunks, gradient checkpointing, RM offloading (null: as planned)."})
    log: list[str] = field(default_factory=list, metadata={
        "help": "Experiment trackers to stream each step and the run's metrics to: tensorboard, wandb (offline "
                "unless WANDB_MODE is set), mlflow (a local file store unless MLFLOW_TRACKING_URI is set); "
                "off by default (the trackers extra installs them)."})
    out: str = "results/run"
    cache_dir: str = field(default="", metadata={"help": "Content-addressed cache shared between runs ('' = off)."})


# ----- sweeps -------------------------------------------------------------------------------------------
LengthControl = Literal["auto", "glm", "minimal", "none"]


@dataclass
class JudgeConfig:
    """A sweep's judge: its kind, an optional annotator name, and the kind's settings written beside them
    (``{kind: lm, model: ...}``), checked against the kind's ``Config`` when the sweep loads."""

    kind: str = field(default="lm", metadata={"help": "A judge kind (python -m harness ls): lm, reward_model, alpaca_eval."})
    name: str = field(default="", metadata={"help": "Annotator name written into the annotations (default: derived)."})
    settings: dict[str, Any] = field(default_factory=dict, metadata={"rest": True, "help": "The kind's settings."})


@dataclass
class CompareConfig:
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    pairs: list[list[str]] = field(default_factory=list, metadata={
        "help": "[model label, baseline label] pairs of the sweep's methods, e.g. [[laser, rm-best], [laser, sequential_rm]]."})
    length_control: LengthControl = field(default="auto", metadata={
        "help": "auto: alpaca_eval's GLM v1 on AlpacaEval prompts when df_gamed.csv is available, else its "
                "length-only GLM; glm | minimal | none force one."})
    df_gamed: str = field(default="", metadata={"help": "Local copy of alpaca_eval's df_gamed.csv (else the hub cache)."})
    max_examples: int | None = field(default=None, metadata={
        "help": "Judge at most this many test outputs per pair (null: all).", RANGE: at_least(1)})


DEFAULT_REPORT_TARGETS = ("laser",)


@dataclass
class ReportSettings:
    target: str | list[str] | None = field(default=None, metadata={
        "help": "The method label(s) or name(s) whose rows the one-sided Wilcoxon and McNemar tests put against "
                "every other row (H1: the target is better); default: laser."})

    def targets(self) -> list[str]:
        if self.target is None:
            return list(DEFAULT_REPORT_TARGETS)
        return [self.target] if isinstance(self.target, str) else list(self.target)


@dataclass
class SweepMethod:
    name: str
    label: str = field(default="", metadata={"help": "Folder/table name; default: the method name."})
    args: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict, metadata={"help": "Run-config keys for this method only."})


@dataclass
class SweepPolicy:
    name: str
    model: str
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class SweepConfig:
    name: str
    extends: str | None = field(default=None, metadata={
        "help": "A sweep YAML (path relative to this file) this one starts from: mappings merge key by key, "
                "lists and other values are replaced."})
    base: dict[str, Any] = field(default_factory=dict)
    tasks: list[TaskConfig] = field(default_factory=list)
    methods: list[SweepMethod] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0], metadata={RANGE: at_least(0)})
    policies: list[SweepPolicy] = field(default_factory=list)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    setup: dict[str, Any] = field(default_factory=dict, metadata={"help": "Hook run once before the sweep."})
    shared_cache: bool = field(default=True, metadata={"help": "Share identical work between runs (<out>/<name>/.cache)."})
    compare: CompareConfig | None = field(default=None, metadata={
        "help": "Open-ended tasks: judge pairs of methods' test outputs after the runs (AlpacaEval win rates)."})
    report: ReportSettings = field(default_factory=ReportSettings, metadata={
        "help": "What the report tests: the target method(s) of its significance tests."})
