"""The web page: one HTML file and its ES modules and stylesheet, served as they are (no build).

Every response here carries a strict Content-Security-Policy: scripts and styles come only from
this server's own files, so text that reached the page from a job (a name, a line of output)
can never run as code even if some code path mistook it for markup.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from jobhost.errors import NotFound

PAGE = "/apps/WebHostTaskManagement/"
UI_DIR = Path(__file__).with_name("ui")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # Revalidate every time (cheap: ETag and Last-Modified), so an upgrade shows at once.
    "Cache-Control": "no-cache",
}
_ASSET = re.compile(r"[a-z][a-z0-9-]{0,63}\.(js|css)")
_MEDIA_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse(PAGE, status_code=307, headers=SECURITY_HEADERS)


@router.get(PAGE.rstrip("/"))
def page_without_slash() -> RedirectResponse:
    return RedirectResponse(PAGE, status_code=307, headers=SECURITY_HEADERS)


@router.get(PAGE)
def index() -> FileResponse:
    return FileResponse(
        UI_DIR / "index.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS
    )


@router.get(PAGE + "static/{name}")
def asset(name: str) -> FileResponse:
    """One of the page's own files; the name pattern keeps requests inside ``UI_DIR``."""
    match = _ASSET.fullmatch(name)
    path = UI_DIR / name
    if match is None or not path.is_file():
        raise NotFound(f"No such file: {name}")
    return FileResponse(path, media_type=_MEDIA_TYPES[match.group(1)], headers=SECURITY_HEADERS)
