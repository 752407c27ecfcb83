"""The report names the machine and software stack its runs were measured on, and flags a mixed store."""

from __future__ import annotations

import pandas as pd

from harness.report.provenance import NOT_RECORDED, describe_environment, provenance_lines

ENVIRONMENT = {"python": "3.11.7", "versions": {"torch": "2.13.0+cpu", "transformers": "5.24.0", "peft": "0.21.2", "numpy": "2"},
               "machine": {"cpu": "AMD EPYC", "cpu_capability": "AVX512", "torch_threads": 1, "system": "Linux"}}


def test_one_line_per_stack():
    assert describe_environment(ENVIRONMENT) == ("AMD EPYC, torch CPU kernels AVX512, 1 thread(s); "
                                                 "Python 3.11.7, torch 2.13.0+cpu, transformers 5.24.0, peft 0.21.2")
    older = {key: value for key, value in ENVIRONMENT.items() if key != "machine"}  # stores written before machines were recorded
    assert describe_environment(older).startswith(f"{NOT_RECORDED}; Python 3.11.7")
    assert describe_environment(None) == NOT_RECORDED
    gpu = {**ENVIRONMENT, "machine": {**ENVIRONMENT["machine"], "gpu": "NVIDIA H200"}}
    assert describe_environment(gpu).startswith("NVIDIA H200, torch CPU kernels AVX512")


def test_a_store_from_one_stack_names_it_and_a_mixed_one_is_flagged():
    here = describe_environment(ENVIRONMENT)
    other = describe_environment({**ENVIRONMENT, "machine": {**ENVIRONMENT["machine"], "cpu_capability": "AVX2"}})
    same = pd.DataFrame({"finished": [True, True, False], "environment": [here, here, other]})
    assert provenance_lines(same) == [f"Measured on: {here} (all 2 finished runs).", ""]
    mixed = pd.DataFrame({"finished": [True, True, True], "environment": [here, other, here]})
    lines = provenance_lines(mixed)
    assert lines[0].startswith("Measured on 2 different machines") and "not bit-comparable" in lines[0]
    assert lines[2:4] == [f"- {here}: 2 run(s)", f"- {other}: 1 run(s)"]
    assert provenance_lines(pd.DataFrame({"finished": [False], "environment": [here]})) == []
