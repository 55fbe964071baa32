"""Credentials: password hashing, API keys, and turning a request's credentials into a User."""

from __future__ import annotations
