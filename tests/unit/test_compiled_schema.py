"""The compiled config has one schema: the consent endpoint's models and the viewers' reader agree on it."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from typing import Any, get_args

import pytest
from consent_api import site_policy
from consent_core.config import ConfigError, config_from_dict
from pydantic import BaseModel, ValidationError

from edge_consent import schema
from edge_consent.schema import CompiledConfig, Site
from tests.helpers.dev import DEV_CONFIG_PATH

COMPILED: dict[str, Any] = json.loads(DEV_CONFIG_PATH.read_text(encoding="utf-8"))
# Optional in the schema, since a package `sam build` makes has none; the deploy adds them, and a
# function never loads a config without them.
REQUIRED_TO_LOAD = {("edge", "keys")}


def model_fields(model: type[BaseModel], data: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every field path of `model` present in `data`, nested models included (the `edge` section's)."""
    for name, field in model.model_fields.items():
        if name not in data:
            continue
        yield (*path, name)
        annotation = field.annotation
        nested = next((a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)), None)
        if nested is not None and issubclass(nested, BaseModel) and isinstance(data[name], dict) and nested is not Site:
            yield from model_fields(nested, data[name], (*path, name))


def required(model: type[BaseModel], path: tuple[str, ...]) -> bool:
    for name in path[:-1]:
        annotation = model.model_fields[name].annotation
        model = next(a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type))
    return model.model_fields[path[-1]].is_required()


def without(path: tuple[str, ...]) -> dict[str, Any]:
    data = copy.deepcopy(COMPILED)
    node = data
    for name in path[:-1]:
        node = node[name]
    del node[path[-1]]
    return data


def loads(data: dict[str, Any]) -> bool:
    try:
        config_from_dict(data)
    except ConfigError:
        return False
    return True


def valid(data: dict[str, Any]) -> bool:
    try:
        CompiledConfig.model_validate(data)
    except ValidationError:
        return False
    return True


def test_the_development_config_is_what_the_schema_says() -> None:
    assert valid(COMPILED) and loads(COMPILED)
    assert Site.model_validate(COMPILED["site"]).section() == COMPILED["site"]


FIELDS = sorted(model_fields(CompiledConfig, COMPILED))


@pytest.mark.parametrize("path", FIELDS, ids=[".".join(p) for p in FIELDS])
def test_the_reader_and_the_schema_agree_on_each_field(path: tuple[str, ...]) -> None:
    """Removing a field the schema requires makes the viewers' reader refuse the config, and no other."""
    data = without(path)
    assert valid(data) == (not required(CompiledConfig, path))
    assert loads(data) == (not required(CompiledConfig, path) and path not in REQUIRED_TO_LOAD)


def test_every_edge_field_the_reader_knows_is_in_the_schema() -> None:
    """A field written in the edge section but unknown to the schema is refused by it."""
    extra = copy.deepcopy(COMPILED)
    extra["edge"]["surprise"] = 1
    assert not valid(extra)
    assert {p[1] for p in FIELDS if p[0] == "edge" and len(p) == 2} == set(COMPILED["edge"])


# --- The site section as the consent endpoint reads it (consent_api.site_policy) -------------

SITE_READINGS = [
    (schema.Site, site_policy.Site),
    (schema.SiteInfo, site_policy.SiteInfo),
    (schema.ConsentCookie, site_policy.ConsentCookie),
    (schema.Category, site_policy.Category),
    (schema.Cookie, site_policy.Cookie),
]


def test_the_endpoint_reads_the_site_section_as_the_schema_writes_it() -> None:
    written = Site.model_validate(COMPILED["site"]).section()
    read = site_policy.read_site(written)
    assert json.loads(json.dumps(dataclasses.asdict(read))) == written
    assert get_args(schema.Language) == site_policy.LANGUAGES


@pytest.mark.parametrize(("model", "reading"), SITE_READINGS, ids=[m.__name__ for m, _ in SITE_READINGS])
def test_each_site_model_and_its_reading_have_the_same_fields(model: type[BaseModel], reading: type) -> None:
    assert [field.name for field in dataclasses.fields(reading)] == list(model.model_fields)


@pytest.mark.parametrize(
    "change",
    [
        lambda site: site["site"].pop("contact"),
        lambda site: site["cookies"][0].update(colour="blue"),
        lambda site: site.pop("consent_mode"),
        lambda site: site["categories"][0].pop("purpose"),
    ],
    ids=["a field missing", "a field unknown", "a section missing", "a nested field missing"],
)
def test_a_site_section_the_compiler_did_not_write_is_refused(change: Any) -> None:
    """A config written by hand or by another version raises, and the handler answers 500: nothing half-read."""
    section = copy.deepcopy(COMPILED["site"])
    change(section)
    with pytest.raises((TypeError, KeyError)):
        site_policy.read_site(section)
