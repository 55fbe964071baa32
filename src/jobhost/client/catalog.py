"""The catalog as the client returns it: frozen values parsed from ``jobs/catalog``,
``jobs/start`` and ``jobs/stop`` answers, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from jobhost import wire
from jobhost.client.values import _optional_str, _str


@dataclass(frozen=True, slots=True)
class TemplateVariable:
    name: str
    description: str
    default: str | None
    required: bool
    pattern: str | None
    choices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Template:
    """A catalog template the caller may start (``can_start``) or stop the jobs of."""

    id: str
    name: str
    description: str
    mode: str
    schedule: str | None
    timezone: str
    variables: tuple[TemplateVariable, ...]
    can_start: bool
    can_stop: bool
    start_roles: tuple[str, ...]
    stop_roles: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        """The template as a JSON-ready dict with snake_case keys."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "mode": self.mode,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "variables": [
                {
                    "name": v.name,
                    "description": v.description,
                    "default": v.default,
                    "required": v.required,
                    "pattern": v.pattern,
                    "choices": list(v.choices),
                }
                for v in self.variables
            ],
            "can_start": self.can_start,
            "can_stop": self.can_stop,
            "start_roles": list(self.start_roles),
            "stop_roles": list(self.stop_roles),
        }


@dataclass(frozen=True, slots=True)
class CatalogError:
    """A catalog file the server could not use (shown to privileged callers only)."""

    file: str
    error: str


@dataclass(frozen=True, slots=True)
class Catalog:
    templates: tuple[Template, ...]
    user_roles: tuple[str, ...]
    errors: tuple[CatalogError, ...]


def catalog_from_body(body: Mapping[str, Any]) -> Catalog:
    answer = cast(wire.CatalogResponse, body)
    return Catalog(
        templates=tuple(_template(item) for item in answer["jobs"]),
        user_roles=tuple(_strings(answer["userRoles"])),
        errors=tuple(CatalogError(_str(e["file"]), _str(e["error"])) for e in answer["errors"]),
    )


def started_job_id(body: Mapping[str, Any]) -> str:
    return _str(cast(wire.StartResponse, body)["executionId"])


def stopped_job_ids(body: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(_strings(cast(wire.TemplateStopResponse, body)["stopped"]))


def _template(item: wire.CatalogItem) -> Template:
    return Template(
        id=_str(item["jobId"]),
        name=_str(item["displayName"]),
        description=_str(item["description"]),
        mode=_str(item["executionMode"]),
        schedule=_optional_str(item["schedule"]),
        timezone=_str(item["timezone"]),
        variables=tuple(_variable(v) for v in item["templateVariables"]),
        can_start=_bool(item["permissions"]["canStart"]),
        can_stop=_bool(item["permissions"]["canStop"]),
        start_roles=tuple(_strings(item["roles"]["start"])),
        stop_roles=tuple(_strings(item["roles"]["stop"])),
    )


def _variable(item: wire.TemplateVariable) -> TemplateVariable:
    return TemplateVariable(
        name=_str(item["name"]),
        description=_str(item["description"]),
        default=_optional_str(item["default"]),
        required=_bool(item["required"]),
        pattern=_optional_str(item["pattern"]),
        choices=tuple(_strings(item["choices"] or [])),
    )


def _strings(value: object) -> list[str]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return [_str(item) for item in value]


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {type(value).__name__}")
    return value
