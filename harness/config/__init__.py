"""The bottom stage: config schema (dataclasses), YAML loading and overrides, errors, and the registries.

Nothing here imports another stage of the harness; every other stage imports from here.
"""
