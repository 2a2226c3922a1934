"""``slmw chat``: one answer (``--prompt``), a REPL, side by side (``--compare``), the template
round-trip check (``--check-template``) and the saved history (``--history``, ``--export-history``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engine.chat.types import GenParams
from ..engine.errors import WorkbenchError
from .output import human_time, print_json, table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="chat with a model, variant, run or endpoint; compare models side by side",
                       description="MODEL: a built-in name, HF folder, MODEL:VARIANT (built on demand), run id, "
                                   "ONNX Runtime GenAI folder, or an http(s):// OpenAI-compatible base URL.")
    p.add_argument("model", nargs="?", help="what to chat with")
    p.add_argument("--adapter", metavar="RUN", help="a LoRA adapter on top of MODEL: run id or adapter folder")
    p.add_argument("--prompt", help="answer this one prompt and exit (else: an interactive session)")
    p.add_argument("--compare", nargs="+", metavar="MODEL", help="answer --prompt with each of these, side by side")
    p.add_argument("--json", action="store_true", help="print text, ttft_s and tok_s of each answer as JSON")
    defaults = GenParams()  # the flags' defaults are the dataclass's
    g = p.add_argument_group("generation")
    g.add_argument("--system", default="", help="system prompt (default: the template's own)")
    g.add_argument("--temperature", type=float, default=defaults.temperature, help="0 (default) decodes greedily")
    g.add_argument("--top-p", type=float, default=defaults.top_p)
    g.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens)
    g.add_argument("--repetition-penalty", type=float, default=defaults.repetition_penalty)
    g.add_argument("--seed", type=int)
    g.add_argument("--threads", type=int, help="CPU threads per model")
    g.add_argument("--concurrent", action=argparse.BooleanOptionalAction, default=None,
                   help="side by side at the same time (default: only on a GPU or a CPU with cores to spare)")
    e = p.add_argument_group("endpoints")
    e.add_argument("--endpoint-model", metavar="NAME", help="model name at an http(s) endpoint (default: its first)")
    e.add_argument("--api-key-env", metavar="NAME", default="OPENAI_API_KEY", help="environment variable holding the API key")
    t = p.add_argument_group("checks and history")
    t.add_argument("--check-template", action="store_true", help="compare training, exported and serving chat templates")
    t.add_argument("--variants", nargs="+", metavar="VARIANT", help="with --check-template: only these variants")
    t.add_argument("--history", action="store_true", help="list saved conversations")
    t.add_argument("--export-history", metavar="OUT.jsonl", help="write saved conversations as a chat dataset")
    p.set_defaults(func=cmd_chat)


def params_from(args: argparse.Namespace) -> GenParams:
    if args.max_new_tokens < 1:
        raise WorkbenchError("--max-new-tokens must be at least 1")
    if args.temperature < 0 or not 0 < args.top_p <= 1:
        raise WorkbenchError("--temperature must be >= 0 and --top-p in (0, 1]")
    return GenParams(temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens,
                     repetition_penalty=args.repetition_penalty, seed=args.seed, system_prompt=args.system)


def cmd_chat(args: argparse.Namespace) -> int:
    if args.history:
        return _list_history(args)
    if args.export_history:
        from ..engine.chat.history import ChatStore

        rows = ChatStore().export_dataset(Path(args.export_history))
        print_json({"rows": rows, "path": args.export_history}) if args.json else print(
            f"wrote {rows} conversations to {args.export_history} (load it with `slmw data` or the Data pane)")
        return 0
    if args.compare:
        if not args.prompt:
            raise WorkbenchError("--compare needs --prompt TEXT")
        from .chat_run import compare

        return compare(([args.model] if args.model else []) + args.compare, args, params_from(args))
    if not args.model:
        raise WorkbenchError("give a MODEL to chat with", hint="e.g. slmw chat smollm2-135m-instruct --prompt 'Hi'")
    if args.check_template:
        return _check_template(args)
    from .chat_run import one_answer, repl

    return one_answer(args, params_from(args)) if args.prompt is not None else repl(args, params_from(args))


def _list_history(args: argparse.Namespace) -> int:
    from ..engine.chat.history import ChatStore

    convs = ChatStore().list()
    if args.json:
        print_json([{"id": c.id, "title": c.title, "models": c.models, "turns": c.turns, "updated": c.updated} for c in convs])
    else:
        print(table(["ID", "UPDATED", "TURNS", "MODELS", "TITLE"],
                    [(c.id, human_time(c.updated), c.turns, ", ".join(c.models), c.title) for c in convs]))
    return 0


def _check_template(args: argparse.Namespace) -> int:
    from ..engine.chat.template_check import check_templates
    from .models_cmd import ensure_model

    ensure_model(args.model, quiet=args.json)
    report = check_templates(args.model, variants=args.variants)
    if args.json:
        print_json(report.as_dict())
        return 0 if report.ok else 1
    print(f"training template: {report.training_source}")
    for name, folder in report.variants.items():
        print(f"variant {name}: {folder}")
    print(f"{len(report.checked)} renderings compared")
    for f in report.findings:
        print(f"WARNING [{f.path}] {f.probe} / {f.mode}: {f.message}", file=sys.stderr)
    print("template round trip: OK" if report.ok else f"template round trip: {len(report.findings)} problem(s)")
    return 0 if report.ok else 1
