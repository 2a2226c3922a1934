"""Runs inside the Foundry Local SDK's own interpreter: register, load and ask a package.

Started by ``sdk.py`` as ``PYTHON -I sdk_child.py`` with one JSON request on
stdin; prints one JSON object on its last stdout line. It imports only the standard library
and ``foundry_local_sdk`` (2.2.1): that SDK pins ``onnxruntime-genai-core``, which must never
share a process with the workbench's ``onnxruntime_genai``, so this file never imports the
workbench either.

Request: ``{"action": "smoke" | "install" | "check" | "list", "package", "model_id" ("name:version"),
"app_data_dir" (null: the SDK's default), "prompts", "max_new_tokens", "force"}``.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time


def _manager(app_data_dir: str | None):  # noqa: ANN202
    from foundry_local_sdk import Configuration, FoundryLocalManager

    dirs = {}
    if app_data_dir:
        dirs = {"app_data_dir": app_data_dir, "model_cache_dir": f"{app_data_dir}/cache", "logs_dir": f"{app_data_dir}/logs"}
    FoundryLocalManager.initialize(Configuration(app_name="slm-workbench", disable_nonessential_telemetry=True, **dirs))
    return FoundryLocalManager.instance


def _register(catalog, package: str, model_id: str, force: bool):  # noqa: ANN001, ANN202
    from foundry_local_sdk import ModelInfoBuilder

    if catalog.get_model_variant(model_id) is not None:
        if not force:
            return None
        catalog.unregister_model(model_id)
    metadata = ModelInfoBuilder()
    metadata.set_string_property("task", "chat-completion")
    return catalog.register_model(package, model_id, metadata)


def smoke(request: dict) -> dict:
    from foundry_local_sdk import (CatalogType, ChatSession, MessageItem, Request, RequestOptions, SearchOptions,
                                   __version__)

    scratch = None if request.get("app_data_dir") else tempfile.mkdtemp(prefix="slmw-foundry-smoke-")
    manager = _manager(request.get("app_data_dir") or scratch)
    catalog = manager.get_catalog(CatalogType.LOCAL)
    model = _register(catalog, request["package"], request["model_id"], True)
    start = time.perf_counter()
    model.load()
    load_s = time.perf_counter() - start
    answers = []
    options = RequestOptions(search=SearchOptions(max_output_tokens=int(request["max_new_tokens"]), do_sample=False,
                                                  temperature=0.0, top_k=1))
    for prompt in request["prompts"]:
        start = time.perf_counter()
        with ChatSession(model) as session, Request() as chat:
            chat.add_item(MessageItem.user(prompt)).set_options(options)
            with session.process_request(chat) as response:
                text = "".join(part.text for item in response for part in getattr(item, "_parts", [item])
                               if isinstance(getattr(part, "text", None), str))
                usage = response.get_usage()
                answers.append({"prompt": prompt, "text": text, "seconds": time.perf_counter() - start,
                                "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                                "finish_reason": response.finish_reason.name.lower()})
    model.unload()
    model_id = model.id
    if scratch is not None:  # a throwaway catalog: the smoke test registers nothing the user keeps
        manager.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return {"ok": True, "sdk": __version__, "model_id": model_id, "load_s": load_s, "answers": answers}


def install(request: dict) -> dict:
    from foundry_local_sdk import CatalogType, __version__

    manager = _manager(request.get("app_data_dir"))
    catalog = manager.get_catalog(CatalogType.LOCAL)
    model = _register(catalog, request["package"], request["model_id"], bool(request.get("force")))
    if model is None:
        return {"ok": False, "exists": True, "error": f"{request['model_id']} is already registered in Foundry Local"}
    return {"ok": True, "sdk": __version__, "model_id": model.id, "path": model.get_path(),
            "registered": [m.id for m in catalog.list_models()]}


def check(request: dict) -> dict:
    from foundry_local_sdk import CatalogType

    catalog = _manager(request.get("app_data_dir")).get_catalog(CatalogType.LOCAL)
    return {"ok": True, "exists": catalog.get_model_variant(request["model_id"]) is not None}


def list_models(request: dict) -> dict:
    from foundry_local_sdk import CatalogType

    catalog = _manager(request.get("app_data_dir")).get_catalog(CatalogType.LOCAL)
    return {"ok": True, "models": sorted(m.id for m in catalog.list_models())}


def main() -> int:
    request = json.loads(sys.stdin.read())
    try:
        result = {"smoke": smoke, "install": install, "check": check, "list": list_models}[request["action"]](request)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
