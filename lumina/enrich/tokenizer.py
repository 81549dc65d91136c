"""The tokens stage: each draft's text split once (`tokens.tokenize`) for every later stage."""

from __future__ import annotations

from .stage import Draft, Stage
from .tokens import tokenize

__all__ = ["RegexTokenizer"]


class RegexTokenizer(Stage):
    """Tokenizes each draft's normalized text once, for every later stage to share."""

    name = "tokens"
    version = "tokens.regex.v1"
    requires = ("text",)
    assigns = ("tokens",)

    def __call__(self, drafts: list[Draft]) -> list[Draft]:
        for draft in drafts:
            draft.tokens = tokenize(draft.text)
        return drafts
