"""The JSON Schemas of the YAMLs (``python -m harness schema``): the shipped files are current, every shipped
YAML validates against them, and they refuse what the loader refuses (an unknown key, a number outside its range,
a wrong kind setting)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.commands.schema import SCHEMA_DIR, run_schema, sweep_schema

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


class Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 floats (``5e-6`` is a number), as editors' YAML servers read them."""


Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?$|^[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."))


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name, build", [("run", run_schema), ("sweep", sweep_schema)])
def test_shipped_schemas_are_current(name, build):
    shipped = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
    shipped.pop("$schema")
    assert shipped == json.loads(json.dumps(build())), "run `python -m harness schema` and commit experiments/schema/"


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("*.yaml")) + sorted(EXPERIMENTS.glob("runs/*.yaml")),
                         ids=lambda p: p.name)
def test_every_shipped_yaml_validates(path):
    data = yaml.load(path.read_text(), Loader=Yaml12Loader)
    errors = list(_validator("run" if path.parent.name == "runs" else "sweep").iter_errors(data))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors][:5]


def test_the_schema_refuses_what_the_loader_refuses():
    data = yaml.load((EXPERIMENTS / "quickstart.yaml").read_text(), Loader=Yaml12Loader)
    validator = _validator("sweep")
    data["base"]["train"]["iterashuns"] = 2
    assert any("iterashuns" in e.message for e in validator.iter_errors(data))
    del data["base"]["train"]["iterashuns"]
    data["base"]["eval"] = {"batch_size": 0}  # outside its declared range
    assert any("minimum of 1" in e.message for e in validator.iter_errors(data))
    del data["base"]["eval"]
    data["base"]["reward_models"][0]["sigma"] = 0.3  # a noisy-RM setting on a loglik RM
    assert list(validator.iter_errors(data))
    data["base"]["reward_models"][0].pop("sigma")
    laser = next(m for m in data["methods"] if m["name"] == "laser")
    laser["args"] = {"bandit": "linucb", "alpha": 0.5}
    assert not list(validator.iter_errors(data))
    data["methods"][0]["name"] = "lasr"
    assert list(validator.iter_errors(data))
