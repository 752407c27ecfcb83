"""Win rates from pairwise annotations, computed by alpaca_eval's own code.

- Raw: ``alpaca_eval.metrics.get_winrate`` (draws count half).
- Length-controlled, two variants, and every result says which one produced it (``lc_variant``):
  ``length_controlled_v1`` — alpaca_eval's ``get_length_controlled_winrate`` called as is. It needs
  ``df_gamed.csv`` from the hub (the instruction difficulty of AlpacaEval's 805 prompts, plus annotations of
  "gamed" models for its regularisation), so it only applies to annotations on AlpacaEval's prompts
  (``index`` = position in the 805-prompt set) with that file in the hub cache or at a local path.
  ``length_controlled_minimal`` — alpaca_eval's length-only formula
  (``np.tanh(std_delta_len) + not_gamed_baseline - 1``), featurised and fitted with alpaca_eval's own
  ``make_dmatrix_for_model`` and ``fit_LogisticRegressionCV``, which needs no download; it is what
  applies to WildChat prompts, which have no instruction-difficulty feature.

Annotations use alpaca_eval's format: ``instruction, output_1, generator_1, output_2, generator_2,
annotator, preference, index``, with ``generator_1`` the baseline and ``generator_2`` the model whose win
rate is reported (preference 2 = output_2 wins).
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from huggingface_hub import try_to_load_from_cache

from harness.config.schema import LengthControl

MINIMAL, GLM_V1 = "length_controlled_minimal", "length_controlled_v1"


@contextlib.contextmanager
def _quiet():
    """alpaca_eval 0.6.6 imports pkg_resources and calls scikit-learn APIs that warn about future releases;
    those warnings say nothing about our numbers."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        yield


def raw_winrate(annotations: Sequence[dict[str, Any]]) -> dict[str, float]:
    with _quiet():
        from alpaca_eval.metrics import get_winrate

        return {k: float(v) for k, v in get_winrate(list(annotations)).items()}


def winrates_by_category(annotations: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The raw win rate (%) within each prompt category the annotations carry."""
    categories = sorted({str(a["category"]) for a in annotations if a.get("category")})
    return {c: raw_winrate([a for a in annotations if str(a.get("category")) == c])["win_rate"] for c in categories}


def lengths_differ(annotations: Sequence[dict[str, Any]]) -> bool:
    deltas = [len(a["output_1"]) - len(a["output_2"]) for a in annotations]
    return len(set(deltas)) > 1


def minimal_lc_winrate(annotations: Sequence[dict[str, Any]]) -> float:
    """alpaca_eval's length-only GLM: the predicted win rate (%) if both outputs had the same length."""
    with _quiet():
        return _minimal_lc_winrate(annotations)


def _minimal_lc_winrate(annotations: Sequence[dict[str, Any]]) -> float:
    from alpaca_eval.metrics.glm_winrate import GLM_INFO, fit_LogisticRegressionCV, make_dmatrix_for_model

    df = pd.DataFrame(list(annotations))
    if df["generator_1"].nunique() == 1 and df["generator_1"].iloc[0] == df["generator_2"].iloc[0]:
        return 50.0  # a model against itself, as alpaca_eval defines it
    info = GLM_INFO[MINIMAL]
    delta = df["output_1"].str.len() - df["output_2"].str.len()
    spread = delta.std()
    features = pd.DataFrame({
        "preference": df["preference"].astype(float).replace({0.0: 1.5}) - 1,
        "std_delta_len": delta / spread if spread and not math.isnan(spread) else delta * 0.0,
        "not_gamed_baseline": True,
    })
    features = features[features["preference"].notna()]
    test = features[["not_gamed_baseline"]].copy()
    test["std_delta_len"] = 0
    train, test_matrix = make_dmatrix_for_model(features, test, formula=info["formula"])
    splits = min(info["kwargs"]["n_splits"], len(features))
    if splits < 2:
        raise ValueError(f"the length-controlled GLM needs at least 2 annotated pairs, got {len(features)}")
    model = fit_LogisticRegressionCV(train, "preference", is_ytrue_proba=True, n_splits=splits)
    return float(model.predict_proba(test_matrix)[:, 1].mean() * 100)


@contextlib.contextmanager
def _df_gamed_from(path: str):
    """Serve alpaca_eval's hub download of ``df_gamed.csv`` from a local copy."""
    import alpaca_eval.metrics.glm_winrate as glm

    original = glm.hf_hub_download
    glm.hf_hub_download = lambda *args, **kwargs: str(Path(os.path.expandvars(path)).expanduser())
    try:
        yield
    finally:
        glm.hf_hub_download = original


def df_gamed_available(local_path: str = "") -> bool:
    if local_path:
        return Path(os.path.expandvars(local_path)).expanduser().is_file()
    try:
        from alpaca_eval import constants

        found = try_to_load_from_cache("tatsu-lab/alpaca_eval", "df_gamed.csv", repo_type="dataset",
                                       cache_dir=constants.DEFAULT_CACHE_DIR)
        return isinstance(found, str)
    except Exception:  # noqa: BLE001 - any failure means "not available offline"
        return False


def glm_v1_winrate(annotations: Sequence[dict[str, Any]], df_gamed: str = "") -> float:
    """alpaca_eval's ``get_length_controlled_winrate`` as is (AlpacaEval prompts only)."""
    from alpaca_eval.metrics.glm_winrate import get_length_controlled_winrate

    context = _df_gamed_from(df_gamed) if df_gamed else contextlib.nullcontext()
    with context, _quiet():
        metrics = get_length_controlled_winrate(pd.DataFrame(list(annotations)), glm_name=GLM_V1, save_weights_dir=None,
                                                is_add_glm_preference_inplace=False)
    return float(metrics["length_controlled_winrate"])


def winrates(annotations: Sequence[dict[str, Any]], length_control: LengthControl = "auto", on_alpaca_eval: bool = False,
             df_gamed: str = "") -> dict[str, Any]:
    """Raw metrics plus ``length_controlled_winrate`` and the ``lc_variant`` that produced it."""
    result: dict[str, Any] = raw_winrate(annotations)
    result["loss_rate"] = 100.0 - result["win_rate"]
    if length_control == "none":
        result["lc_variant"] = None
        return result
    use_glm = length_control == "glm" or (length_control == "auto" and on_alpaca_eval and df_gamed_available(df_gamed))
    if use_glm and not on_alpaca_eval:
        raise ValueError("length_control 'glm' needs annotations on AlpacaEval's prompts (instruction difficulty)")
    if use_glm and not lengths_differ(annotations):
        # alpaca_eval standardises the length differences by their spread, undefined when all are equal
        result["lc_note"] = "all length differences equal: length_controlled_v1 undefined, length-only GLM used"
        use_glm = False
    if use_glm:
        result["length_controlled_winrate"], result["lc_variant"] = glm_v1_winrate(annotations, df_gamed), GLM_V1
    else:
        result["length_controlled_winrate"], result["lc_variant"] = minimal_lc_winrate(annotations), MINIMAL
    result["lc_loss_rate"] = 100.0 - result["length_controlled_winrate"]
    result["mean_length_1"] = float(np.mean([len(a["output_1"]) for a in annotations]))
    result["mean_length_2"] = float(np.mean([len(a["output_2"]) for a in annotations]))
    return result
