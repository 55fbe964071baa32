"""Paging through a job's output as ``GET jobs/output`` does: read from an offset, decode,
go on from ``nextOffset``. Whatever the chunks it was stored in and the page size, the
pages put together are the output exactly, a character cut at any edge included."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobhost.store import SqlStore
from jobhost.web.records import decode_stream
from tests.store.test_job_store import C, submit, write_output

# Text with many multi-byte characters (2, 3 and 4 bytes in UTF-8), never U+FFFD itself.
_CHARS = st.characters(codec="utf-8", exclude_characters="\ufffd")
_TEXT = st.text(st.one_of(st.sampled_from("aé€😀\n"), _CHARS), max_size=3 * C)


def _cuts(total: int) -> st.SearchStrategy[list[int]]:
    """Chunk sizes that add up to ``total``."""
    return st.lists(st.integers(0, total), max_size=8).map(
        lambda points: [b - a for a, b in pairwise([0, *sorted(points), total])]
    )


def _pages(store: SqlStore, job_id: str, total: int, page: int) -> list[str]:
    """The texts a reader gets, following nextOffset from 0 (the job has finished)."""
    texts, offset = [], 0
    while offset < total:
        data = store.jobs.read_output(job_id, offset, page)
        text, used = decode_stream(data, at_end=offset + len(data) >= total)
        assert used > 0, (offset, data)  # a page of 4 bytes or more always moves on
        texts.append(text)
        offset += used
    assert offset == total
    return texts


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), text=_TEXT, page=st.integers(4, 2 * C + 3))
def test_pages_reassemble_the_text_exactly(
    store: SqlStore, data: st.DataObject, text: str, page: int
) -> None:
    raw = text.encode()
    job = submit(store, "out")
    write_output(store, job.job_id, raw, [size for size in data.draw(_cuts(len(raw))) if size])
    pages = _pages(store, job.job_id, len(raw), page)
    assert "".join(pages) == text
    assert all("\ufffd" not in piece for piece in pages)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(raw=st.binary(max_size=2 * C), page=st.integers(4, C + 3))
def test_pages_of_any_bytes_decode_as_the_whole_does(
    store: SqlStore, raw: bytes, page: int
) -> None:
    job = submit(store, "bytes")
    write_output(store, job.job_id, raw, [len(raw)] if raw else [])
    pages = _pages(store, job.job_id, len(raw), page)
    assert "".join(pages) == raw.decode("utf-8", "replace")
