"""A student's answers as plain data: exported from their kernel, checked in the grader's
(chapter: Instructor guide).

The reference notebook names, for each check cell, the variables that hold the student's
answers (cell metadata ``{"course": {"answers": ["frames"]}}``). Before that check cell the
grader inserts an *export cell* that prints those variables as JSON behind a random token: only
numbers, strings, booleans, ``None``, lists and tuples of them, NumPy arrays and PyTorch tensors
(as nested lists with their dtype) survive; any other object is recorded by its type name and
counts as no answer. Nothing is unpickled, so the data cannot run code in the grader, and
whatever the submission's kernel does, all it can change is which values it reports, which is
the same as answering.
"""

from __future__ import annotations

import json
import math

MAX_ANSWER_CHARS = (
    20_000_000  # about 2.5 M numbers: far more than any exercise asks for
)

# The export cell runs in the student's kernel. It is self-contained (it redefines its helper
# each time), so a submission that rebinds names cannot change what the next export does.
_EXPORT = """\
def __course_plain(value):
    import math
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {{"float": repr(value)}}
    module = type(value).__module__.split(".")[0]
    if module == "torch" and hasattr(value, "tolist"):
        return {{"tensor": value.detach().cpu().tolist(), "dtype": str(value.dtype)[6:]}}
    if module == "numpy" and hasattr(value, "tolist"):
        if getattr(value, "ndim", 0) == 0:
            return __course_plain(value.item())
        return {{"ndarray": value.tolist(), "dtype": str(value.dtype)}}
    if isinstance(value, (list, tuple)):
        return [__course_plain(v) for v in value]
    return {{"unsupported": type(value).__name__}}


print({token!r} + __import__("json").dumps({{
    n: __course_plain(globals()[n]) if n in globals() else {{"missing": True}}
    for n in {names!r}
}}))
del __course_plain
"""


def export_source(names: list[str], token: str) -> str:
    """The code of an export cell for ``names``, printing one line that starts with ``token``."""
    return _EXPORT.format(names=list(names), token=token)


def read_export(text: str, token: str) -> dict | None:
    """The answers in an export cell's printed ``text``, or None if there is no valid line.
    Raises ``ValueError`` for an answer too large to check."""
    lines = [line for line in text.splitlines() if line.startswith(token)]
    if not lines:
        return None
    payload = lines[-1][len(token) :]
    if len(payload) > MAX_ANSWER_CHARS:
        raise ValueError(
            f"the answers take {len(payload):,} characters of JSON; too large"
        )
    try:
        answers = json.loads(payload)
    except json.JSONDecodeError:
        return None
    return answers if isinstance(answers, dict) else None


def decode(value):
    """An exported value as a Python object for the checks: tensors and arrays come back with
    their dtype; anything that is not a valid answer raises ``ValueError``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict) and set(value) == {"float"}:
        number = float(value["float"])
        if math.isfinite(number):
            raise ValueError("a tagged float must be nan or infinite")
        return number
    if isinstance(value, dict) and set(value) == {"tensor", "dtype"}:
        import torch

        dtype = getattr(torch, str(value["dtype"]), None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown tensor dtype {value['dtype']!r}")
        return torch.tensor(_numbers(value["tensor"]), dtype=dtype)
    if isinstance(value, dict) and set(value) == {"ndarray", "dtype"}:
        import numpy as np

        return np.array(_numbers(value["ndarray"]), dtype=np.dtype(str(value["dtype"])))
    if isinstance(value, dict) and set(value) == {"missing"}:
        raise ValueError("not defined when the check ran")
    if isinstance(value, dict) and set(value) == {"unsupported"}:
        raise ValueError(
            f"a {value['unsupported']} is not an answer the grader can read"
        )
    raise ValueError("not a plain answer")


def _numbers(data):
    """Nested lists of numbers (or booleans) only: what a tensor or array may hold."""
    if isinstance(data, list):
        return [_numbers(d) for d in data]
    if isinstance(data, (bool, int, float)):
        return data
    raise ValueError("a tensor or array holds numbers only")


def injection_source(answers_json: str, names: list[str]) -> str:
    """Code for the grader's kernel: keep its own values of ``names`` aside, then bind the
    student's decoded answers (a name that fails to decode is left unbound, so the check sees
    no answer)."""
    return (
        "import json as __course_json\n"
        "from utils.course.answers import decode as __course_decode\n"
        f"__course_saved = {{n: globals()[n] for n in {list(names)!r} if n in globals()}}\n"
        f"for __course_name in {list(names)!r}:\n"
        "    globals().pop(__course_name, None)\n"
        f"for __course_name, __course_value in __course_json.loads({answers_json!r}).items():\n"
        f"    if __course_name in {list(names)!r}:\n"
        "        try:\n"
        "            globals()[__course_name] = __course_decode(__course_value)\n"
        "        except ValueError as __course_error:\n"
        "            print(f'answer {__course_name}: {__course_error}')\n"
    )


def restore_source(names: list[str]) -> str:
    """Code that puts the grader's own values of ``names`` back after a student's check."""
    return (
        f"for __course_name in {list(names)!r}:\n"
        "    globals().pop(__course_name, None)\n"
        "globals().update(__course_saved)\n"
    )
