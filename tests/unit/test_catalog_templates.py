"""Reading templates from TOML and checking the values their variables are given."""

from __future__ import annotations

import tomllib

import pytest

from jobhost.catalog import PlaceholderError, Template, TemplateError, parse_template
from jobhost.catalog import resolve_values as resolve
from jobhost.catalog.template import DEFAULT_ROLES, is_valid_template_id
from jobhost.errors import InvalidInput
from jobhost.models import Mode

DISK = """
name = "Disk usage"
description = "Size of a folder"
command = "du -sh {{path}}"
startRoles = ["authenticated"]
stopRoles = ["task_manager"]
timeoutSeconds = 600
priority = -5
maxRetries = 2
retryDelaySeconds = 3
schedule = "0 3 * * *"
timezone = "Europe/Berlin"

[[variables]]
name = "path"
description = "Folder to measure"
default = "/var/log"
pattern = "^/[A-Za-z0-9/._-]*$"

[[variables]]
name = "depth"
choices = ["1", "2"]
required = false
"""


VAR = 'name = "n"\ncommand = "t"\n[[variables]]\n'


def load(text: str, template_id: str = "disk") -> Template:
    return parse_template(template_id, tomllib.loads(text))


def test_every_field_of_a_template_is_read() -> None:
    template = load(DISK, "ops/disk")
    assert template.template_id == "ops/disk"
    assert (template.name, template.description) == ("Disk usage", "Size of a folder")
    assert template.mode is Mode.BACKGROUND_JOB
    assert template.start_roles == ("authenticated",)
    assert template.stop_roles == ("task_manager",)
    assert (template.timeout_seconds, template.priority, template.max_retries) == (600, -5, 2)
    assert template.retry_delay_seconds == 3
    assert (template.schedule, template.timezone) == ("0 3 * * *", "Europe/Berlin")
    path, depth = template.variables
    assert (path.name, path.default, path.required) == ("path", "/var/log", False)
    assert path.pattern == "^/[A-Za-z0-9/._-]*$"
    assert (depth.choices, depth.required, depth.default) == (("1", "2"), False, None)


def test_defaults_are_privileged_roles_background_job_and_utc() -> None:
    template = load('name = "n"\ncommand = "true"')
    assert template.start_roles == template.stop_roles == DEFAULT_ROLES
    assert (template.mode, template.timezone, template.schedule) == (
        Mode.BACKGROUND_JOB,
        "UTC",
        None,
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('command = "true"', "missing required key: name"),
        ('name = "n"', "missing required key: command"),
        ('name = "n"\ncommand = "true"\ncolour = 1', "unknown key: colour"),
        ('name = "n"\ncommand = "true"\nexecutionMode = "Shell"', "executionMode"),
        ('name = "n"\ncommand = "true"\nstartRoles = "admin"', "startRoles"),
        ('name = "n"\ncommand = "true"\nstopRoles = ["Bad Role"]', "not a role name"),
        ('name = "n"\ncommand = "true"\npriority = 101', "priority"),
        ('name = "n"\ncommand = "true"\nmaxRetries = true', "maxRetries"),
        ('name = "n"\ncommand = "true"\ntimeoutSeconds = 0', "timeoutSeconds"),
        ('name = "n"\ncommand = "true"\nschedule = "61 * * * *"', "schedule"),
        ('name = "n"\ncommand = "true"\nschedule = "0 0 3 * * *"', "schedule"),
        ('name = "n"\ncommand = "true"\ntimezone = "Mars/Olympus"', "timezone"),
        ('name = "n"\ncommand = "true"\ntimezone = ""', "timezone: '' is not an IANA"),
        # Each of these the firing loop's parse_cron refuses: the catalog must too.
        ('name = "n"\ncommand = "true"\nschedule = "@daily"', "schedule: Invalid cron"),
        ('name = "n"\ncommand = "true"\nschedule = "0 0 30 2 *"', "schedule: Invalid cron"),
        ('name = "n"\ncommand = "true"\nschedule = "H 3 * * *"', "schedule: Invalid cron"),
        (
            VAR.replace("command", 'schedule = "0 3 * * *"\ncommand') + 'name = "a"',
            "schedule: variable a is required and has no default",
        ),
        ('name = "n"\ncommand = "echo {{x}}"', "{{x}} is not a declared variable"),
        (
            'name = "n"\nexecutionMode = "MainLoop"\ncommand = "pass"\ntimeoutSeconds = 5',
            "MainLoop",
        ),
        ('name = "n"\ncommand = "t"\n[[variables]]\nname = "1x"', "name of letters"),
        (VAR + 'name = "a"\n[[variables]]\nname = "a"', "twice"),
        ('name = "n"\ncommand = "t"\n[[variables]]\nname = "a"\ndefault = 1', "default"),
        ('name = "n"\ncommand = "t"\n[[variables]]\nname = "a"\npattern = "("', "pattern"),
        ('name = "n"\ncommand = "t"\n[[variables]]\nname = "a"\nchoices = []', "choices"),
        ('name = "n"\ncommand = "t"\n[[variables]]\nname = "a"\ncolour = 1', "unknown key"),
        (
            'name = "n"\ncommand = "t"\n[[variables]]\nname = "a"\ndefault = "x"\nchoices = ["y"]',
            "its default is refused: must be one of: y",
        ),
    ],
)
def test_a_broken_template_names_its_problem(text: str, problem: str) -> None:
    with pytest.raises((TemplateError, PlaceholderError)) as caught:
        load(text)
    assert problem in str(caught.value)


@pytest.mark.parametrize("template_id", ["a", "ops/disk-usage", "A.b_c/d9"])
def test_template_ids_are_relative_paths_of_plain_names(template_id: str) -> None:
    assert is_valid_template_id(template_id)


@pytest.mark.parametrize("template_id", ["", "../x", "a//b", ".hidden", "a b", "a/", "x" * 201])
def test_other_ids_are_refused(template_id: str) -> None:
    assert not is_valid_template_id(template_id)
    with pytest.raises(TemplateError, match="invalid template id"):
        parse_template(template_id, {"name": "n", "command": "true"})


def test_values_default_and_optional_ones_are_empty() -> None:
    assert resolve(load(DISK), {}) == {"path": "/var/log", "depth": ""}
    assert resolve(load(DISK), {"path": "/tmp", "depth": "2"}) == {"path": "/tmp", "depth": "2"}
    assert resolve(load(DISK), {"path": ""})["path"] == "/var/log"
    assert resolve(load(DISK), {"path": None})["path"] == "/var/log"  # null: as not given


def test_each_refused_value_is_named_in_one_message() -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve(load(DISK), {"path": "/tmp; rm", "depth": "3", "colour": "red"})
    assert caught.value.message == (
        "Unknown variable: colour; "
        "Invalid value for path: must match ^/[A-Za-z0-9/._-]*$; "
        "Invalid value for depth: must be one of: 1, 2"
    )


def test_a_required_variable_without_a_value_is_missing() -> None:
    template = load('name = "n"\ncommand = "echo {{a}}"\n[[variables]]\nname = "a"')
    for given in ({}, {"a": ""}, {"a": None}):
        with pytest.raises(InvalidInput, match=r"^Missing required variable: a$"):
            resolve(template, given)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (5, "must be a string"),
        (["x"], "must be a string"),
        ("a\0b", "NUL"),
        ("\udfff", "lone surrogate"),
        ("x" * 10_001, "longer than"),
    ],
)
def test_values_that_are_no_text_are_refused(value: object, problem: str) -> None:
    template = load('name = "n"\ncommand = "echo {{a}}"\n[[variables]]\nname = "a"')
    with pytest.raises(InvalidInput, match=f"^Invalid value for a: .*{problem}"):
        resolve(template, {"a": value})


def test_a_pattern_must_match_the_whole_value() -> None:
    template = load(
        'name = "n"\ncommand = "echo {{n}}"\n[[variables]]\nname = "n"\npattern = "[0-9]+"'
    )
    assert resolve(template, {"n": "42"}) == {"n": "42"}
    with pytest.raises(InvalidInput, match="must match"):
        resolve(template, {"n": "42\n; touch x"})
