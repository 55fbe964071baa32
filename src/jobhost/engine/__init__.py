"""The engine: the dispatcher (the seed's main loop), its runners, and the output recorder."""

from __future__ import annotations
