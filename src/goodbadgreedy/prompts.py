"""Chat prompts: the :class:`Prompt` every benchmark builds and every backend (and the judge) sends.

It lives below :mod:`goodbadgreedy.benchmarks`, :mod:`goodbadgreedy.generation` and
:mod:`goodbadgreedy.judge`, which all use it, so that none of them imports another for it
(``tests/test_imports.py`` checks the layers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from goodbadgreedy.errors import DataError

#: Roles a chat message may have.
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Prompt:
    """A chat prompt for one item.

    Attributes:
        messages: chat messages in order, each a ``{"role": ..., "content": ...}`` dict with role in
            :data:`ROLES`. The last message is the user turn the model answers.
        assistant_prefix: text the assistant turn starts with; the model continues it (the
            response does not repeat it).
        stop: stop sequences; the generator cuts the response at the first one.

    Raises:
        goodbadgreedy.errors.DataError: a message is not a role/content dict of strings, or a
            role is unknown (the message names the message index).
    """

    messages: tuple[dict[str, str], ...]
    assistant_prefix: str = ""
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Accept lists for convenience but store tuples (the dataclass is frozen).
        object.__setattr__(self, "messages", tuple(self.messages))
        object.__setattr__(self, "stop", tuple(self.stop))
        if not self.messages:
            raise DataError("Prompt has no messages")
        for i, msg in enumerate(self.messages):
            if not isinstance(msg, dict) or set(msg) != {"role", "content"}:
                raise DataError(
                    f"Prompt message {i} must be a dict with keys role, content: {msg!r}"
                )
            if msg["role"] not in ROLES:
                raise DataError(
                    f"Prompt message {i} has role {msg['role']!r}; expected one of {ROLES}"
                )
            if not isinstance(msg["content"], str):
                raise DataError(f"Prompt message {i} content is not a string")
        if not isinstance(self.assistant_prefix, str):
            raise DataError("Prompt.assistant_prefix must be a string")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise DataError(f"Prompt.stop must hold non-empty strings: {self.stop!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict (``messages`` as a list, ``stop`` as a list)."""
        return {
            "messages": [dict(m) for m in self.messages],
            "assistant_prefix": self.assistant_prefix,
            "stop": list(self.stop),
        }


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut ``text`` at the earliest occurrence of any stop sequence (the stop itself is dropped).

    Idempotent, so it is safe to apply to a response the generator already cut.
    """
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if 0 <= i < cut:
            cut = i
    return text[:cut]


__all__ = ["ROLES", "Prompt", "truncate_at_stop"]
