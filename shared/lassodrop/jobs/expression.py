"""DynamoDB update expressions with every attribute name aliased (status, key, size are reserved words)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lassodrop.jobs.row import ATTRIBUTES, storable


class UpdateExpression:
    """Builds SET/REMOVE clauses; names outside the item's model are refused, so items cannot grow ad hoc.

    `attributes` is that model's names: the job row's unless another kind of item (the webhook pointer, the
    breaker) says.
    """

    def __init__(self, attributes: frozenset[str] = ATTRIBUTES) -> None:
        self._attributes = attributes
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._sets: list[str] = []
        self._removes: list[str] = []

    def _alias(self, name: str) -> str:
        if name not in self._attributes:
            raise ValueError(f"{name!r} is not an attribute of this item")
        alias = f"#a{len(self.names)}"
        self.names[alias] = name
        return alias

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = storable(value)
        return placeholder

    def set_all(self, attributes: Mapping[str, Any]) -> None:
        for name, value in attributes.items():
            self._sets.append(f"{self._alias(name)} = {self.value(value)}")

    def set_if_absent(self, attributes: Mapping[str, Any]) -> None:
        for name, value in attributes.items():
            alias = self._alias(name)
            self._sets.append(f"{alias} = if_not_exists({alias}, {self.value(value)})")

    def increment(self, counters: Mapping[str, int]) -> None:
        for name, step in counters.items():
            alias = self._alias(name)
            self._sets.append(f"{alias} = if_not_exists({alias}, {self.value(0)}) + {self.value(step)}")

    def remove(self, names: Iterable[str]) -> None:
        self._removes.extend(self._alias(name) for name in names)

    def text(self) -> str:
        clauses = [f"SET {', '.join(self._sets)}"]
        if self._removes:
            clauses.append(f"REMOVE {', '.join(self._removes)}")
        return " ".join(clauses)
