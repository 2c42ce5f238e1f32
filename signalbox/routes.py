"""The catalog's ``[[route]]`` entries: routing across models (issue #18, docs/architecture.md §6).

A route is a name apps call as the model (``support``, or ``support@cost`` for an objective), a
``default`` model, an ordered ``escalate`` list and the triggers that move a request along it
(``[route.triggers]``, keys from ``signalbox.routing.triggers``). Each step is routed to its
model's best provider as any request is. Parsed by ``signalbox.catalog``; ``route_problems`` is
the cross-check that lists every problem with its key path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from signalbox.routing.objectives import OBJECTIVES, Objective
from signalbox.routing.triggers import BY_CATALOG_KEY, TRIGGERS

# on unless a route's [route.triggers] switches them off: they never cost a wasted answer
DEFAULT_TRIGGERS: Mapping[str, Any] = {
    "context_window": True,
    "tools_unsupported": True,
    "failure": True,
}


class Route(BaseModel):
    """One ``[[route]]``: its name, the default model, the escalation models in order, whether a
    stream is held for validation, an optional objective and the trigger switches."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.:/-]+$")]
    default: Annotated[str, Field(min_length=1)]
    escalate: list[str] = Field(default_factory=list)
    buffer_for_validation: StrictBool = False
    objective: str | None = None
    triggers: dict[str, Any] = Field(default_factory=dict)

    @field_validator("objective")
    @classmethod
    def _known_objective(cls, value: str | None) -> str | None:
        if value is not None and value not in OBJECTIVES:
            raise ValueError(f"unknown objective '{value}'; one of {', '.join(OBJECTIVES)}")
        return value

    @property
    def path(self) -> list[str]:
        """The models in order: the default, then each escalation."""
        return [self.default, *self.escalate]

    def objective_for(self, asked: Objective | None) -> Objective | None:
        """The objective of every step: the app's ``@objective`` wins over the route's own."""
        return asked or (Objective(self.objective) if self.objective else None)

    def on(self, trigger: str) -> bool:
        """Whether the trigger of that id is switched on (a threshold given counts as on)."""
        key = TRIGGERS[trigger].catalog_key
        value = self.triggers.get(key, DEFAULT_TRIGGERS.get(key))
        return value is not None and value is not False

    @property
    def prompt_tokens_above(self) -> int | None:
        """The prompt-size threshold, if set."""
        return self.triggers.get("prompt_tokens_above")

    @property
    def first_token_deadline_ms(self) -> float | None:
        """The first-token deadline of each step's attempts, if set."""
        value = self.triggers.get("first_token_deadline_ms")
        return None if value is None else float(value)


def _trigger_problems(where: str, triggers: Mapping[str, Any]) -> list[str]:
    problems = []
    for key, value in triggers.items():
        spec = BY_CATALOG_KEY.get(key)
        if spec is None:
            problems.append(
                f"{where}.{key}: unknown trigger; use one of {', '.join(BY_CATALOG_KEY)}"
            )
        elif spec.catalog_type is bool and not isinstance(value, bool):
            problems.append(f"{where}.{key}: must be true or false")
        elif spec.catalog_type is not bool and (
            isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
        ):
            problems.append(f"{where}.{key}: must be a positive number")
        elif spec.catalog_type is int and not isinstance(value, int):
            problems.append(f"{where}.{key}: must be a whole number of tokens")
    return problems


def route_problems(routes: Sequence[Route], models: Sequence[str]) -> list[str]:
    """Every problem of the routes given the catalog's model names: duplicate names, names that
    clash with a model, unknown models, a model twice in one path (a cycle), nested routes,
    unknown trigger keys and wrong types, escalation triggers with nowhere to escalate."""
    problems: list[str] = []
    known = set(models)
    names = {r.name for r in routes}
    seen: set[str] = set()
    for i, route in enumerate(routes):
        where = f"route[{i}]"
        if route.name in seen:
            problems.append(f"{where}.name: duplicate route name '{route.name}'")
        seen.add(route.name)
        if route.name in known:
            problems.append(
                f"{where}.name: '{route.name}' is also a model; a route needs its own name"
            )
        in_path: set[str] = set()
        for key, model in [("default", route.default)] + [
            (f"escalate[{j}]", m) for j, m in enumerate(route.escalate)
        ]:
            if model in names:
                problems.append(f"{where}.{key}: '{model}' is a route; a path lists models only")
            elif model not in known:
                problems.append(f"{where}.{key}: unknown model '{model}'")
            if model in in_path:
                problems.append(
                    f"{where}.{key}: '{model}' is already in the path (a cycle); list each model"
                    " once"
                )
            in_path.add(model)
        problems += _trigger_problems(f"{where}.triggers", route.triggers)
        if not route.escalate:
            for key in ("prompt_tokens_above", "hint"):
                if route.triggers.get(key) not in (None, False):
                    problems.append(
                        f"{where}.triggers.{key}: needs an escalate list to move the request to"
                    )
    return problems
