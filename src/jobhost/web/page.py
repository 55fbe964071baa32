"""The web page: one HTML file and its ES modules and stylesheet, served as they are (no build).

Like every response, these carry the strict Content-Security-Policy of
``security_headers.py``: the page's scripts and styles are this server's own files only.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from jobhost.errors import NotFound

PAGE = "/apps/WebHostTaskManagement/"
UI_DIR = Path(__file__).with_name("ui")

# Revalidate every time (cheap: ETag and Last-Modified), so an upgrade shows at once.
PAGE_HEADERS = {"Cache-Control": "no-cache"}
_ASSET = re.compile(r"[a-z][a-z0-9-]{0,63}\.(js|css)")
_MEDIA_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse(PAGE, status_code=307, headers=PAGE_HEADERS)


@router.get(PAGE.rstrip("/"))
def page_without_slash() -> RedirectResponse:
    return RedirectResponse(PAGE, status_code=307, headers=PAGE_HEADERS)


@router.get(PAGE)
def index() -> FileResponse:
    return FileResponse(
        UI_DIR / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS
    )


@router.get(PAGE + "static/{name}")
def asset(name: str) -> FileResponse:
    """One of the page's own files; the name pattern keeps requests inside ``UI_DIR``."""
    match = _ASSET.fullmatch(name)
    path = UI_DIR / name
    if match is None or not path.is_file():
        raise NotFound(f"No such file: {name}")
    return FileResponse(path, media_type=_MEDIA_TYPES[match.group(1)], headers=PAGE_HEADERS)
