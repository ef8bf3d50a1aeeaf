"""The base of every experiment config: a frozen dataclass validated before any compute.

:class:`Config` (with :meth:`Config.from_dict`: papermill parameters, JSON or YAML text),
:class:`ConfigError` (an invalid value; the message names the field) and :func:`is_positive`,
the most common rule of a field. A run's identity is its config (:mod:`snnlib.store.runs`).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar, Mapping

import yaml

__all__ = ["Config", "ConfigError", "is_positive", "plain"]

def is_positive(v) -> bool:
    """A finite positive number (not a bool): the most common rule of config fields."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < float("inf")


class ConfigError(ValueError):
    """An invalid config value; the message names the field."""


@dataclasses.dataclass(frozen=True)
class Config:
    """Base of the experiment configs: frozen, validated before any compute.

    Subclasses declare their fields (each documented in the class docstring; a ``seed`` or
    ``seeds`` field where results depend on randomness) and extend :meth:`validate`, calling
    :meth:`_check` for each rule. Unknown keys are refused by :meth:`from_dict` so a typo in a
    papermill parameter never silently falls back to a default. ``EXECUTION``: fields that say
    how a run is executed, not what it computes (a training config's ``device``); a run's identity
    ignores them.
    """

    EXECUTION: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid field (subclasses extend this)."""

    def _check(self, field: str, ok: bool, expected: str) -> None:
        if not ok:
            value = getattr(self, field)
            raise ConfigError(
                f"{type(self).__name__}.{field} = {value!r} is invalid: expected {expected}."
            )

    # the rules several configs share
    def _check_non_negative_int(self, *fields: str) -> None:
        for f in fields:
            v = getattr(self, f)
            self._check(f, isinstance(v, int) and v >= 0, "a non-negative integer")

    def _check_seeds(self, field: str = "seeds") -> None:
        v = getattr(self, field)
        self._check(field, isinstance(v, tuple) and len(v) > 0 and all(isinstance(x, int) and x >= 0 for x in v),
                    "a tuple of non-negative integers")

    def to_dict(self) -> dict[str, Any]:
        return {k: plain(v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | str) -> "Config":
        """The config of ``values``: a mapping, or its JSON/YAML text (``papermill -p config
        '{"epochs": 3}'`` passes a string)."""
        if isinstance(values, str):
            values = _parse_mapping(cls.__name__, values)
        if not isinstance(values, Mapping):
            raise ConfigError(f"{cls.__name__}: config = {values!r} is not a mapping. " + _CONFIG_FORM)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(
                f"{cls.__name__} has no field(s) {', '.join(unknown)}; known fields: "
                f"{', '.join(sorted(names))}."
            )
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name in values:
                v = values[f.name]
                # YAML and papermill give lists where the dataclass holds tuples.
                kwargs[f.name] = tuple(v) if isinstance(v, list) else v
        return cls(**kwargs)


_CONFIG_FORM = ("Give the fields as a mapping, e.g. with papermill `-y 'config: {epochs: 3, seeds: [0]}'` "
                "(or `-p config '{\"epochs\": 3}'`, parsed as JSON/YAML).")


def _parse_mapping(name: str, text: str) -> Any:
    try:
        return json.loads(text)  # first: PyYAML would read JSON's 1e-3 as a string
    except json.JSONDecodeError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{name}: config = {text!r} is not valid JSON/YAML ({e}). " + _CONFIG_FORM) from e


def plain(v: Any) -> Any:
    """``v`` as YAML and JSON write it: tuples (at any depth) as lists."""
    if isinstance(v, tuple):
        return [plain(x) for x in v]
    return v
