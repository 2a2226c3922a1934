"""What a package build left, in words: a Foundry Local package and its smoke test, a GGUF's files.

Text only (the Deploy pane's ``#d-smoke`` shows it); the pane's poll thread reads the files:
``package.json`` and ``smoke.json`` of a ``deploy.foundry`` run, and the folder a ``deploy.gguf``
run's ``gguf`` artifact names with its ``gguf.json``. A check of the GGUF in llama.cpp is shown
when ``gguf.json`` records one (``check``: ``verdict`` and ``detail``); else it says none was.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from ..format import human_bytes

VERDICT_STYLES = {"identical": "bold green", "passed": "bold green", "ok": "bold green",
                  "differs": "bold red", "failed": "bold red"}


def smoke_text(smoke: dict[str, Any] | None, package: dict[str, Any] | None) -> Text:
    out = Text()
    if package:
        out.append(f"package {package.get('model_id')}", style="bold")
        out.append(f"  {package.get('folder')}" + ("  (registered in Foundry Local)" if package.get("installed") else ""))
        out.append("\n")
    if smoke is None:
        return out
    verdict = smoke.get("verdict", "?")
    out.append("smoke test: ", style="bold")
    out.append(verdict, style=VERDICT_STYLES.get(verdict, "yellow"))
    if smoke.get("reason"):
        out.append(f"  {smoke['reason']}")
    for p in smoke.get("prompts", []):
        if p.get("identical"):
            out.append(f"\n  ✓ {p['prompt']!r}: {p['foundry_text']!r}")
        else:
            d = p.get("first_difference") or {}
            out.append(f"\n  ✗ {p['prompt']!r}: token {d.get('index')} Foundry {d.get('foundry')!r} vs "
                       f"workbench {d.get('workbench')!r}\n    Foundry: {p['foundry_text']!r}\n    "
                       f"workbench: {p['workbench_text']!r}", style="red")
    return out


def gguf_text(gguf: dict[str, Any] | None) -> Text:
    """``gguf``: ``folder``, ``files`` ([name, bytes]) and ``manifest`` (``gguf.json``, or None yet)."""
    out = Text()
    if not gguf:
        return out
    manifest = gguf.get("manifest") or {}
    out.append(f"GGUF {manifest.get('type', '?')}", style="bold")
    out.append(f"  {gguf.get('folder')}")
    if manifest:
        out.append(f"  ({manifest.get('writer')} writer, template: {manifest.get('template')}, "
                   f"{manifest.get('seconds')} s)", style="dim")
    for name, size in gguf.get("files", []):
        out.append(f"\n  {name}  {human_bytes(size)}")
    check = manifest.get("check") if isinstance(manifest.get("check"), dict) else None
    out.append("\nllama.cpp check: ", style="bold")
    if check is None:
        out.append("none recorded by this job", style="dim")
    else:
        verdict = str(check.get("verdict", "?"))
        out.append(verdict, style=VERDICT_STYLES.get(verdict, "yellow"))
        if check.get("detail"):
            out.append(f"  {check['detail']}")
    return out
