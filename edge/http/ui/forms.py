"""What the management pages' forms share: reading a field, and refusing a form."""

from __future__ import annotations

from collections.abc import Mapping


class FormErrors(Exception):
    """The form cannot be saved: field name → what is wrong ("" for the form as a whole)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k or 'form'}: {v}" for k, v in errors.items()))
        self.errors = errors


def field_text(form: Mapping[str, object], key: str) -> str:
    """A submitted field's text, trimmed ("" when it was not sent)."""
    return str(form.get(key, "")).strip()
