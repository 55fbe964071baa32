"""jobhost: a self-hosted job runner."""

from __future__ import annotations

__version__ = "0.1.0"
