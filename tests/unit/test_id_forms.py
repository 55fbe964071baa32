"""The id validators accept exactly their forms and never raise, whatever the text: any
Unicode, lone surrogates (a JSON escape decodes to one) and NUL included."""

from __future__ import annotations

import re
import uuid

from hypothesis import example, given
from hypothesis import strategies as st

from jobhost.catalog.template import MAX_ID_CHARS, is_valid_template_id
from jobhost.policy import is_valid_job_id, is_valid_role, is_valid_user_id

# Any text at all: every code point, surrogates and controls among them.
_ANY = st.text(st.characters(codec=None, categories=None), max_size=80)
_HEX = "[0-9A-Fa-f]"
_UUID = re.compile(f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}", re.ASCII)
_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}", re.ASCII)
_ROLE = re.compile(r"[a-z][a-z0-9_]{0,31}", re.ASCII)
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", re.ASCII)


def _near(form: str) -> st.SearchStrategy[str]:
    """Strings from ``form``'s regex with a few characters of anything around them."""
    return st.builds(
        lambda head, core, tail: head + core + tail,
        st.one_of(st.just(""), _ANY.map(lambda text: text[:2])),
        st.from_regex(form, fullmatch=True),
        st.one_of(st.just(""), _ANY.map(lambda text: text[:2])),
    )


@given(
    st.one_of(
        _ANY,
        _near(_UUID.pattern),
        st.uuids().map(str),
        st.uuids().map(lambda value: str(value).upper()),
    )
)
@example("\ud800" * 36)
@example("0" * 8 + "-0000-0000-0000-" + "0" * 11 + "\x00")
@example(str(uuid.UUID(int=0)).replace("0", "\u0660"))  # Arabic-Indic digits: int() takes them
def test_a_job_id_is_exactly_a_uuid_in_its_36_character_form(text: str) -> None:
    assert is_valid_job_id(text) == bool(_UUID.fullmatch(text))


@given(st.one_of(_ANY, _near(_USER.pattern)))
@example("bob\n")
@example("b\ud800")
def test_a_user_id_is_exactly_its_path_safe_form(text: str) -> None:
    assert is_valid_user_id(text) == bool(_USER.fullmatch(text))


@given(st.one_of(_ANY, _near(_ROLE.pattern)))
@example("admin\n")
def test_a_role_is_exactly_a_lowercase_identifier(text: str) -> None:
    assert is_valid_role(text) == bool(_ROLE.fullmatch(text))


@given(st.one_of(_ANY, st.lists(_near(_SEGMENT.pattern), min_size=1, max_size=4).map("/".join)))
@example("a/../b")
@example("reports/\x00")
def test_a_template_id_is_exactly_safe_segments_joined_by_slashes(text: str) -> None:
    expected = 0 < len(text) <= MAX_ID_CHARS and all(
        _SEGMENT.fullmatch(part) for part in text.split("/")
    )
    assert is_valid_template_id(text) == expected
