"""The HTTP API and web page (the only package that imports the web framework)."""

from __future__ import annotations
