"""The catalog commands: ``templates`` (what you may start) and ``start`` (start one, its
variables given as ``-v name=value``), against a running server."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from jobhost.cli.attach import EXIT_CODES_HELP
from jobhost.cli.jobs import Follow, Json, Raw, Url, Wait, connect, out
from jobhost.cli.submit import name_value_pairs, watch_new_job
from jobhost.cli.view import safe
from jobhost.client import Template


def templates(as_json: Json = False, url: Url = None) -> None:
    """List the catalog templates you may start, or stop the jobs of.

    In VARIABLES, name=value shows a default, name* one you must give, name? an optional one.
    """
    with connect(url) as client:
        catalog = client.catalog()
    if as_json:
        print(json.dumps([template.to_json() for template in catalog.templates], indent=2))
        return
    table = Table("id", "name", "mode", "variables", "start", "stop")
    for template in catalog.templates:
        table.add_row(
            safe(template.id),
            safe(template.name),
            template.mode,
            safe(_variables_cell(template)),
            "yes" if template.can_start else "no",
            "yes" if template.can_stop else "no",
        )
    out.print(table)
    for error in catalog.errors:
        out.print(safe(f"not loaded: {error.file}: {error.error}"))


def start(
    template: Annotated[str, typer.Argument(help="The template's id", show_default=False)],
    var: Annotated[
        list[str] | None,
        typer.Option(
            "--var",
            "-v",
            help="NAME=VALUE for one of the template's variables (repeatable)",
            show_default=False,
        ),
    ] = None,
    wait: Wait = False,
    follow: Follow = False,
    as_json: Json = False,
    raw: Raw = False,
    url: Url = None,
) -> None:
    """Start a catalog template as a new job of yours and print its id.

    With --json, print {"templateId", "jobId"} instead.
    With --follow the id goes to stderr and the output to stdout.
    Ctrl-C while following or waiting asks whether to stop the job.
    """
    variables = name_value_pairs(var or [], "--var")
    with connect(url) as client:
        job_id = client.start(template, variables)
        if as_json and not (wait or follow):
            print(json.dumps({"templateId": template, "jobId": job_id}))
            return
        watch_new_job(client, job_id, wait, follow, raw)


def _variables_cell(template: Template) -> str:
    cells = []
    for variable in template.variables:
        if variable.default is not None:
            cells.append(f"{variable.name}={variable.default}")
        else:
            cells.append(variable.name + ("*" if variable.required else "?"))
    return " ".join(cells) or "-"


def register(app: typer.Typer) -> None:
    """Adds the catalog commands to the ``jobhost`` command."""
    app.command()(templates)
    app.command(epilog=EXIT_CODES_HELP)(start)
