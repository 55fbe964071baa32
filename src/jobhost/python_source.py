"""How a Python job's source is compiled: one rule for the submit-time check and the runner."""

from __future__ import annotations
import __future__

from types import CodeType


def compile_python(source: str, filename: str) -> CodeType:
    """How a Python job's source is compiled, at submit and at start alike. Annotations are
    not evaluated (PEP 563), as jobs have always had them from the runner's own future import."""
    flags = __future__.annotations.compiler_flag
    code: CodeType = compile(source, filename, "exec", flags=flags, dont_inherit=True)
    return code
