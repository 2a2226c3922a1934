"""A small renderer of Go's ``text/template`` for the constructs ``go_template`` emits, with Ollama's data.

No Go toolchain nor a Go-template package is available to the tests, so this renders exactly what the
Modelfile's ``TEMPLATE`` uses, with Go's semantics, and refuses anything else (``Unsupported``) rather
than guessing: text; ``{{ .Field }}``, ``{{ "literal" }}``; ``{{ $x := PIPE }}``;
``{{ range $i, $e := PIPE }}``; ``{{ if PIPE }}`` / ``{{ else if PIPE }}`` / ``{{ else }}`` / ``{{ end }}``;
the functions ``eq`` (several operands, as Go), ``ne``, ``and``, ``or``, ``not``, ``len``, ``slice``;
parenthesized pipelines; ``$`` (the top-level data) and ``$.Field``. Trim markers (``{{-``) are refused.

Ollama renders a chat request with ``.Messages`` (each ``.Role`` and ``.Content``) and ``.System``; a
Modelfile ``SYSTEM`` becomes a leading system message when the request has none (``ollama_data``).
"""

from __future__ import annotations

import json
import re
from typing import Any

ACTION = re.compile(r"\{\{(.*?)\}\}", re.S)
TOKEN = re.compile(r'\s*(\(|\)|"(?:[^"\\]|\\.)*"|-?\d+|\$\.[A-Za-z_]\w*|\$\w*|\.[A-Za-z_]\w*|\.|[A-Za-z_]\w*)')


class Unsupported(ValueError):
    """A construct this renderer does not implement: the test must not pass by ignoring it."""


def _truth(value: Any) -> bool:
    return not (value is None or value is False or value == 0 or (hasattr(value, "__len__") and len(value) == 0))


def _eq(a: Any, *others: Any) -> bool:
    return any(a == b for b in others)


FUNCS = {
    "eq": _eq,
    "ne": lambda a, b: a != b,
    "not": lambda a: not _truth(a),
    "len": len,
    "slice": lambda x, i=None, j=None: x[i:j],  # Go: slice x 1 is x[1:]
}


def _tokens(text: str) -> list[str]:
    out, pos, text = [], 0, text.rstrip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if m is None:
            raise Unsupported(f"cannot read {text[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


class _Expr:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.pos = tokens, 0

    def parse(self) -> Any:
        node = self.command()
        if self.pos != len(self.tokens):
            raise Unsupported(f"pipelines ('|') or trailing tokens: {self.tokens}")
        return node

    def command(self) -> Any:
        first = self.operand()
        if isinstance(first, tuple) and first[0] == "func":
            args = []
            while self.pos < len(self.tokens) and self.tokens[self.pos] != ")":
                args.append(self.operand())
            return ("call", first[1], args)
        return first

    def operand(self) -> Any:
        tok = self.tokens[self.pos]
        self.pos += 1
        if tok == "(":
            node = self.command()
            if self.tokens[self.pos] != ")":
                raise Unsupported("unbalanced parenthesis")
            self.pos += 1
            return node
        if tok.startswith('"'):
            return ("lit", json.loads(tok))
        if re.fullmatch(r"-?\d+", tok):
            return ("lit", int(tok))
        if tok.startswith("$."):
            return ("root_field", tok[2:])
        if tok.startswith("$"):
            return ("var", tok)
        if tok == ".":
            return ("dot",)
        if tok.startswith("."):
            return ("field", tok[1:])
        if tok in ("and", "or") or tok in FUNCS:
            return ("func", tok)
        raise Unsupported(f"function or value {tok!r}")


def _eval(node: Any, dot: Any, env: dict[str, Any]) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "dot":
        return dot
    if kind == "field":
        return dot[node[1]]
    if kind == "root_field":
        return env["$"][node[1]]
    if kind == "var":
        if node[1] not in env:
            raise Unsupported(f"undefined variable {node[1]}")
        return env[node[1]]
    name, args = node[1], node[2]
    if name in ("and", "or"):  # Go evaluates operands left to right and stops early
        value = None
        for arg in args:
            value = _eval(arg, dot, env)
            if _truth(value) != (name == "and"):
                return value
        return value
    return FUNCS[name](*(_eval(a, dot, env) for a in args))


def _parse(text: str) -> list[Any]:
    """Nodes: ("text", s) ("out", expr) ("set", var, expr) ("if", [(cond, body)...], else) ("range", k, v, expr, body)."""
    pieces: list[tuple[str, str]] = []
    pos = 0
    for m in ACTION.finditer(text):
        pieces.append(("text", text[pos:m.start()]))
        inner = m.group(1)
        if inner.startswith("-") or inner.endswith("-"):
            raise Unsupported("trim markers")
        pieces.append(("action", inner.strip()))
        pos = m.end()
    pieces.append(("text", text[pos:]))
    if "{{" in "".join(p for kind, p in pieces if kind == "text"):
        raise Unsupported("an unclosed action")
    nodes, end = _block(pieces, 0, top=True)
    return nodes


def _block(pieces: list[tuple[str, str]], i: int, top: bool = False) -> tuple[list[Any], int]:
    nodes: list[Any] = []
    while i < len(pieces):
        kind, body = pieces[i]
        if kind == "text":
            if body:
                nodes.append(("text", body))
            i += 1
            continue
        if body == "end" or body == "else" or body.startswith("else if "):
            if top:
                raise Unsupported(f"{{{{ {body} }}}} outside a block")
            return nodes, i
        if body.startswith("if "):
            branches, other = [], []
            cond = _Expr(_tokens(body[3:])).parse()
            while True:
                inner, i = _block(pieces, i + 1)
                branches.append((cond, inner))
                word = pieces[i][1]
                if word.startswith("else if "):
                    cond = _Expr(_tokens(word[8:])).parse()
                    continue
                if word == "else":
                    other, i = _block(pieces, i + 1)
                    if pieces[i][1] != "end":
                        raise Unsupported("else after else")
                break
            nodes.append(("if", branches, other))
            i += 1
            continue
        m = re.fullmatch(r"range\s+(\$\w*)\s*,\s*(\$\w*)\s*:=\s*(.+)", body, re.S)
        if m:
            inner, i = _block(pieces, i + 1)
            if pieces[i][1] != "end":
                raise Unsupported("range ... else")
            nodes.append(("range", m.group(1), m.group(2), _Expr(_tokens(m.group(3))).parse(), inner))
            i += 1
            continue
        if body.startswith(("range", "with", "define", "template", "block", "break", "continue")):
            raise Unsupported(f"{{{{ {body} }}}}")
        m = re.fullmatch(r"(\$\w+)\s*:=\s*(.+)", body, re.S)
        if m:
            nodes.append(("set", m.group(1), _Expr(_tokens(m.group(2))).parse()))
        else:
            nodes.append(("out", _Expr(_tokens(body)).parse()))
        i += 1
    if not top:
        raise Unsupported("a block without {{ end }}")
    return nodes, i


def _run(nodes: list[Any], dot: Any, env: dict[str, Any], out: list[str]) -> None:
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(node[1])
        elif kind == "out":
            value = _eval(node[1], dot, env)
            out.append(str(value).lower() if isinstance(value, bool) else str(value))
        elif kind == "set":
            env[node[1]] = _eval(node[2], dot, env)
        elif kind == "if":
            for cond, body in node[1]:
                if _truth(_eval(cond, dot, env)):
                    _run(body, dot, dict(env), out)
                    break
            else:
                _run(node[2], dot, dict(env), out)
        elif kind == "range":
            for index, item in enumerate(_eval(node[3], dot, env)):
                _run(node[4], item, {**env, node[1]: index, node[2]: item}, out)


def render(template: str, data: dict[str, Any]) -> str:
    out: list[str] = []
    _run(_parse(template), data, {"$": data}, out)
    return "".join(out)


def ollama_data(messages: list[dict[str, str]], system: str | None) -> dict[str, Any]:
    """What Ollama hands a chat TEMPLATE: the Modelfile's SYSTEM first when the request has no system message."""
    if system is not None and not any(m["role"] == "system" for m in messages):
        messages = [{"role": "system", "content": system}, *messages]
    return {"Messages": [{"Role": m["role"], "Content": m["content"]} for m in messages],
            "System": system or "", "Prompt": ""}


def modelfile_parts(text: str) -> tuple[str | None, str | None]:
    """(TEMPLATE, SYSTEM) as written in a Modelfile (triple-quoted)."""
    found = {k: v for k, v in re.findall(r'^(TEMPLATE|SYSTEM) """(.*?)"""$', text, re.S | re.M)}
    return found.get("TEMPLATE"), found.get("SYSTEM")
