"""jobhost's benchmarks: each figure measured against a baseline in the same run."""

from __future__ import annotations
