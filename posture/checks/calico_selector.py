"""Calico's label selector language, parsed and matched three-valued.

The grammar is Calico's (docs.tigera.io, reference/resources/networkpolicy "Selectors"):

    all()  global()  has(k)  k == 'v'  k != 'v'  k in {'a', 'b'}  k not in {'a'}
    k contains 's'  k starts with 's'  k ends with 's'  !e  e && e  e || e  ( e )

Match operators bind tightest, then parentheses, `!`, `&&`, and `||` loosest. Strings take single
or double quotes. `k != 'v'` and `k not in {...}` hold for a resource without the label `k`. An
empty selector is `all()`, as Calico defaults `spec.selector`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from posture.checks.netpol_model import UNKNOWN, Resolve, Tri, tri_all, tri_any, tri_not

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>&&|\|\||==|!=|[!(){},])
      | '(?P<single>[^']*)'
      | "(?P<double>[^"]*)"
      | (?P<word>[A-Za-z0-9_./\-]+)
    )""",
    re.VERBOSE,
)
_MATCHES = {
    "contains": str.__contains__,
    "starts with": str.startswith,
    "ends with": str.endswith,
}


_WANTED = {"word": "a label name", "string": "a quoted string", "op": "an operator"}


class SelectorError(ValueError):
    """The text is not a Calico selector."""


class Selector:
    """A parsed selector; `holds(resolve)` matches it against labels three-valued."""

    def holds(self, resolve: Resolve) -> Tri:
        raise NotImplementedError


@dataclass(frozen=True)
class All(Selector):
    def holds(self, resolve: Resolve) -> Tri:
        return True


@dataclass(frozen=True)
class Global(Selector):
    """Non-namespaced resources (global network sets, host endpoints): never a pod."""

    def holds(self, resolve: Resolve) -> Tri:
        return False


@dataclass(frozen=True)
class Has(Selector):
    key: str

    def holds(self, resolve: Resolve) -> Tri:
        value = resolve(self.key)
        return None if value is UNKNOWN else value is not None


@dataclass(frozen=True)
class Compare(Selector):
    key: str
    operator: str  # == != in "not in" contains "starts with" "ends with"
    values: tuple[str, ...]

    def holds(self, resolve: Resolve) -> Tri:
        value = resolve(self.key)
        if value is UNKNOWN:
            return None
        if self.operator in ("!=", "not in"):
            return value is None or value not in self.values
        if value is None:
            return False
        if self.operator in ("==", "in"):
            return value in self.values
        return bool(_MATCHES[self.operator](value, self.values[0]))


@dataclass(frozen=True)
class Not(Selector):
    inner: Selector

    def holds(self, resolve: Resolve) -> Tri:
        return tri_not(self.inner.holds(resolve))


@dataclass(frozen=True)
class And(Selector):
    parts: tuple[Selector, ...]

    def holds(self, resolve: Resolve) -> Tri:
        return tri_all(part.holds(resolve) for part in self.parts)


@dataclass(frozen=True)
class Or(Selector):
    parts: tuple[Selector, ...]

    def holds(self, resolve: Resolve) -> Tri:
        return tri_any(part.holds(resolve) for part in self.parts)


def parse(text: str | None) -> Selector:
    """The selector `text` means; raises SelectorError with where it went wrong."""
    if text is None or not text.strip():
        return All()
    return _Parser(text).parse()


@dataclass(frozen=True)
class _Token:
    kind: str  # op | string | word
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None:
            start = len(text) - len(text[position:].lstrip())
            raise SelectorError(f"unexpected character {text[start]!r} at {start + 1}")
        kind = next(name for name in ("op", "single", "double", "word") if match[name] is not None)
        if kind in ("single", "double"):  # the token starts at its opening quote
            tokens.append(_Token("string", match[kind], match.start(kind) - 1))
        else:
            tokens.append(_Token(kind, match[kind], match.start(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.position = 0

    def parse(self) -> Selector:
        selector = self._or()
        if self.position < len(self.tokens):
            token = self.tokens[self.position]
            raise SelectorError(f"unexpected {token.text!r} at {token.at + 1}")
        return selector

    # Grammar, loosest first.

    def _or(self) -> Selector:
        parts = [self._and()]
        while self._accept("op", "||"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def _and(self) -> Selector:
        parts = [self._unary()]
        while self._accept("op", "&&"):
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _unary(self) -> Selector:
        if self._accept("op", "!"):
            return Not(self._unary())
        if self._accept("op", "("):
            inner = self._or()
            self._expect("op", ")")
            return inner
        return self._match()

    def _match(self) -> Selector:
        word = self._expect("word").text
        if word in ("all", "global", "has") and self._accept("op", "("):
            if word == "has":
                key = self._expect("word").text
                self._expect("op", ")")
                return Has(key)
            self._expect("op", ")")
            return All() if word == "all" else Global()
        if self._accept("op", "=="):
            return Compare(word, "==", (self._expect("string").text,))
        if self._accept("op", "!="):
            return Compare(word, "!=", (self._expect("string").text,))
        if self._accept("word", "in"):
            return Compare(word, "in", self._set())
        if self._accept("word", "not"):
            self._expect("word", "in")
            return Compare(word, "not in", self._set())
        if self._accept("word", "contains"):
            return Compare(word, "contains", (self._expect("string").text,))
        for start in ("starts", "ends"):
            if self._accept("word", start):
                self._expect("word", "with")
                return Compare(word, f"{start} with", (self._expect("string").text,))
        raise self._error(f"an operator after label {word!r}")

    def _set(self) -> tuple[str, ...]:
        self._expect("op", "{")
        values: list[str] = []
        if self._accept("op", "}"):
            return ()
        values.append(self._expect("string").text)
        while self._accept("op", ","):
            values.append(self._expect("string").text)
        self._expect("op", "}")
        return tuple(values)

    # Tokens.

    def _accept(self, kind: str, text: str | None = None) -> _Token | None:
        if self.position < len(self.tokens):
            token = self.tokens[self.position]
            if token.kind == kind and (text is None or token.text == text):
                self.position += 1
                return token
        return None

    def _expect(self, kind: str, text: str | None = None) -> _Token:
        token = self._accept(kind, text)
        if token is None:
            raise self._error(repr(text) if text else _WANTED[kind])
        return token

    def _error(self, wanted: str) -> SelectorError:
        if self.position < len(self.tokens):
            token = self.tokens[self.position]
            return SelectorError(f"expected {wanted} at {token.at + 1}, found {token.text!r}")
        return SelectorError(f"expected {wanted} at the end of {self.text!r}")
