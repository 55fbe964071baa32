"""The job catalog: templates read from TOML files, their variables checked and filled in
safely. Framework-free and store-free: the service decides who may use what."""

from __future__ import annotations

from jobhost.catalog.folder import Catalog, CatalogSnapshot, DeclaredSchedule, LoadError
from jobhost.catalog.placeholders import COMMAND_TOO_LONG, PlaceholderError, render_command
from jobhost.catalog.template import (
    Template,
    TemplateError,
    Variable,
    is_valid_template_id,
    parse_template,
)
from jobhost.catalog.values import resolve_values

__all__ = [
    "COMMAND_TOO_LONG",
    "Catalog",
    "CatalogSnapshot",
    "DeclaredSchedule",
    "LoadError",
    "PlaceholderError",
    "Template",
    "TemplateError",
    "Variable",
    "is_valid_template_id",
    "parse_template",
    "render_command",
    "resolve_values",
]
