"""Shared fixtures: the development config, a fixed clock and a token factory; Hypothesis's budgets."""

from __future__ import annotations

import os
from typing import Any

import pytest
from consent_core import token
from consent_core.config import NECESSARY, EdgeConfig, config_from_dict
from hypothesis import settings

from tests.helpers.dev import NOW, Issue, load_dev_config_dict

# How many examples each property draws, in one place: `quick` for the edit-and-run loop
# (`make unit`), `thorough` for `make test` and CI, and for a plain `pytest`. Set
# HYPOTHESIS_PROFILE to choose. Neither has a deadline: a shared machine's load would
# fail an example for its time alone (a budget that must hold is a test of its own).
settings.register_profile("quick", max_examples=20, deadline=None)
settings.register_profile("thorough", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "thorough"))


@pytest.fixture
def config_dict() -> dict[str, Any]:
    return load_dev_config_dict()


@pytest.fixture
def config(config_dict: dict[str, Any]) -> EdgeConfig:
    return config_from_dict(config_dict)


@pytest.fixture
def all_categories(config: EdgeConfig) -> frozenset[str]:
    return frozenset(config.categories) - {NECESSARY}


@pytest.fixture
def issue(config: EdgeConfig) -> Issue:
    """A valid consent-cookie value for `categories`, issued an hour before NOW unless told otherwise."""

    def _issue(categories: set[str] | frozenset[str] = frozenset(), **kwargs: Any) -> str:
        kwargs.setdefault("issued_at", NOW - 3600)
        kwargs.setdefault("policy_version", config.policy_version)
        kwargs.setdefault("key_id", config.signing_key_id)
        kwargs.setdefault("keys", config.keys)
        return token.issue(categories=frozenset(categories), **kwargs)

    return _issue
