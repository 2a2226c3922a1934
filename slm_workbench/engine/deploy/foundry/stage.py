"""Job stage ``deploy.foundry``: a Foundry Local package of one variant, smoke-tested, optionally installed.

Order: resolve SOURCE (a missing preset variant is built first) -> refuse a package of that
name already there (``force`` replaces it) -> write the package aside, check its templates,
rename it into place -> smoke test through Foundry Local -> register it (``install``).
Run-directory files: ``artifacts/packages/<name>/`` (unless ``output`` says elsewhere),
``artifacts/smoke.json`` (the verdict the Deploy pane shows) and ``artifacts/package.json``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ....config.deploy_foundry import FoundryRecipe
from ...errors import WorkbenchError
from ...events import BROKEN, BUILT, MEASURED
from ...runs.context import RunContext
from ...models.variants import variant_complete
from ...preflight.needs import LaunchNeeds
from ...runs.run import PACKAGES
from . import sdk
from .smoke import SMOKE_FILE, SmokeResult, describe_result, require_python, smoke_test
from .source import PackageSource, resolve_package_source

PACKAGE_JSON = "package.json"


def package_name(src: PackageSource) -> str:
    name = re.sub(r"[^a-z0-9._-]+", "-", f"{src.source.name}-{src.variant}".lower()).strip("-._")
    return name[:64] or "model"


def package_target(recipe: FoundryRecipe, ctx: RunContext, name: str) -> Path:
    root = Path(recipe.output).expanduser() if recipe.output else ctx.artifacts_dir / PACKAGES
    target = root / name
    if target.exists() and not recipe.force:
        raise WorkbenchError(f"a package named {name} is already at {target}",
                             hint="choose another --name, or replace it with --force")
    return target


def ensure_variant(src: PackageSource, ctx: RunContext) -> PackageSource:
    """Build the variant when it is a preset not built yet (merging a run's adapter first)."""
    if variant_complete(src.variant_dir):
        return src  # a half-written one is refused by name by export_variants
    from ...export.export import export_variants
    from ....config.presets import PRESETS, resolve_presets
    from ...export.merge import merge_adapter
    from ...export.stage import progress_reporter, report_built

    if src.variant not in PRESETS:
        raise WorkbenchError(f"variant {src.label} is not built and is not a preset that can be built",
                             hint=f"presets: {', '.join(PRESETS)}; or build it: slmw export {src.source.spec} --variants ...")
    source = src.source
    if source.hf_folder is None:
        ctx.progress("merging the adapter into its base", 0, None)
        source = merge_adapter(source, log=lambda m: print(f"[deploy.foundry] {m}", flush=True))
    built = export_variants(source, resolve_presets([src.variant]), work_dir=ctx.run_dir / "work",
                            on_progress=progress_reporter(ctx, [src.variant]), check_cancelled=ctx.check_cancelled,
                            on_built=lambda variant: report_built(ctx, variant, finished=False))
    assert built and built[0].folder == src.variant_dir
    return PackageSource(source, src.variant, src.chosen_by)


def check(recipe: FoundryRecipe) -> LaunchNeeds:
    """The launch check: ``install`` needs the SDK's interpreter, so a missing or broken one is one line
    naming ``$SLMW_FOUNDRY_PYTHON`` before a job starts (the smoke test alone is skipped without it)."""
    if recipe.install:
        require_python(recipe.foundry_python, "--install")
    return LaunchNeeds()


def run(recipe: FoundryRecipe, ctx: RunContext) -> None:
    from ...first_use import prepare_in_job
    from ...models.variants import split_variant
    from .package import write_package
    from .template import load_chat_tokenizer

    prepare_in_job(split_variant(recipe.source).base, ctx)
    src = resolve_package_source(recipe.source)
    print(f"[deploy.foundry] {recipe.source} -> {src.label} ({src.chosen_by})", flush=True)
    folder = src.template_folder()
    if folder is None:
        raise WorkbenchError(f"{recipe.source} has no tokenizer folder to read its chat template from")
    tokenizer = load_chat_tokenizer(folder, f"{recipe.source} ({folder})")
    name = recipe.name or package_name(src)
    model_id = f"{name}:{recipe.version}"
    target = package_target(recipe, ctx, name)
    python = require_python(recipe.foundry_python, "--install") if recipe.install else None
    if recipe.install and not recipe.force:
        _refuse_installed(python, model_id)
    ctx.check_cancelled()
    src = ensure_variant(src, ctx)
    ctx.progress("writing the package", 0, 1, item=name)
    lineage = write_package(src, tokenizer, target, name=name, model_id=model_id, run_id=ctx.run_dir.name)
    ctx.progress("writing the package", 1, 1, item=name)
    ctx.item_state(name, BUILT, detail=f"{len(lineage['template_check'])} template renderings match training")
    ctx.artifact("package", target, f"Foundry Local package {model_id} from {src.label}")
    summary = {"name": name, "model_id": model_id, "folder": str(target), "source": recipe.source,
               "variant": src.variant, "label": src.label, "chosen_by": src.chosen_by, "installed": False}
    _write(ctx, PACKAGE_JSON, summary)
    ctx.check_cancelled()
    smoke = _smoke(recipe, ctx, target, model_id, name)
    if recipe.install:
        assert python is not None
        ctx.progress("registering with Foundry Local", 0, None, item=name)
        reply = sdk.call(python, {"action": "install", "package": str(target), "model_id": model_id,
                                          "app_data_dir": os.environ.get(sdk.APP_DATA_ENV), "force": recipe.force})
        if not reply.get("ok"):
            if reply.get("exists"):
                raise WorkbenchError(f"{model_id} is already registered in Foundry Local", hint="replace it with --force")
            raise WorkbenchError(f"registering {model_id} with Foundry Local failed: {reply.get('error')}")
        summary["installed"] = True
        _write(ctx, PACKAGE_JSON, summary)
        print(f"[deploy.foundry] registered {reply.get('model_id')} -> {reply.get('path')}", flush=True)
    if smoke.verdict == "failed":
        raise WorkbenchError(f"Foundry Local could not answer from the package {target}: {smoke.reason}")


def _refuse_installed(python: str | None, model_id: str) -> None:
    assert python is not None
    reply = sdk.call(python, {"action": "check", "model_id": model_id,
                                      "app_data_dir": os.environ.get(sdk.APP_DATA_ENV)})
    if reply.get("exists"):
        raise WorkbenchError(f"{model_id} is already registered in Foundry Local", hint="replace it with --force")
    if not reply.get("ok"):
        raise WorkbenchError(f"cannot read Foundry Local's catalog: {reply.get('error')}")


def _write(ctx: RunContext, file: str, data: dict) -> None:
    (ctx.artifacts_dir / file).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _smoke(recipe: FoundryRecipe, ctx: RunContext, target: Path, model_id: str, name: str) -> SmokeResult:
    path = ctx.artifacts_dir / SMOKE_FILE
    python, why = sdk.find_python(recipe.foundry_python)
    if not recipe.smoke:
        result = SmokeResult("skipped", reason="smoke: false in the recipe")
    elif python is None:
        result = SmokeResult("skipped", reason=why)
    else:
        ctx.progress("smoke test through Foundry Local", 0, len(recipe.prompts), unit="prompts", item=name)
        result = smoke_test(target, prompts=recipe.prompts, max_new_tokens=recipe.max_new_tokens,
                            model_id=f"slmw-smoke-{model_id}", python=python)
        ctx.progress("smoke test through Foundry Local", len(recipe.prompts), len(recipe.prompts), unit="prompts",
                     item=name)
    result.write(path)
    line = describe_result(result)
    print(f"[deploy.foundry] {line}", flush=True)
    if result.verdict == "identical":
        ctx.item_state(name, MEASURED, finished=True, detail=line)
    elif result.verdict == "skipped":
        ctx.warn(line)
        ctx.item_state(name, BUILT, finished=True, detail=line)
    else:
        ctx.item_state(name, BROKEN, finished=True, detail=line)
        if result.verdict == "differs":
            ctx.warn(line)
    ctx.artifact("smoke.json", path, line)
    return result
