"""What the domain raises; the web layer turns each into the right response."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def N_(text: str) -> str:
    """Marks a message for translation; it is translated where it is shown."""
    return text


@dataclass(frozen=True)
class Message:
    """A translatable message with its parameters (`%(name)s` placeholders)."""

    text: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self, gettext: Callable[[str], str]) -> str:
        translated = gettext(self.text)
        return translated % self.params if self.params else translated


class DomainError(Exception):
    def __init__(self, message: str | Message = "") -> None:
        self.message = message if isinstance(message, Message) else Message(message)
        super().__init__(self.message.text)


class ValidationError(DomainError):
    """Bad input: a message per field."""

    def __init__(self, fields: dict[str, Message]) -> None:
        self.fields = fields
        super().__init__(N_("Please correct the highlighted fields."))


class NotFound(DomainError):
    def __init__(self, message: str | Message | None = None) -> None:
        super().__init__(message or N_("Not found."))


class Forbidden(DomainError):
    def __init__(self, message: str | Message | None = None) -> None:
        super().__init__(message or N_("You are not allowed to do that."))


class Conflict(DomainError):
    """A rule forbids the change in the current state (e.g. no votes left)."""


class Errors:
    """Collects field errors while validating, then raises them together."""

    def __init__(self) -> None:
        self.fields: dict[str, Message] = {}

    def add(self, name: str, text: str, **params: Any) -> None:
        self.fields.setdefault(name, Message(text, params))

    def check_length(self, name: str, value: str, low: int, high: int) -> None:
        """The text's length, and that it can be stored: PostgreSQL holds no NUL in text (SQLite
        does), so the rule is the same on both and says which field is wrong."""
        if "\x00" in value:
            self.add(name, N_("Remove the NUL (zero) character from this field."))
        elif len(value) < low:
            if not value:
                self.add(name, N_("This field is required."))
            else:
                self.add(name, N_("At least %(n)d characters."), n=low)
        elif len(value) > high:
            self.add(name, N_("At most %(n)d characters."), n=high)

    def raise_if_any(self) -> None:
        if self.fields:
            raise ValidationError(self.fields)
