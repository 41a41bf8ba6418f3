"""The Lambda code and the dependency layer, staged as plain directories.

No Docker engine is assumed, so nothing is bundled in a container: the handlers' code is a
copy of the `workflow` and `functions` packages, and the layer is what `pip install --target`
puts in `python/` (Lambda's layout for Python layers). Each staging directory is named by a
fingerprint of its inputs, so a synth reuses it while its inputs are unchanged, and two
synths running at once never see a half-written directory (it is renamed into place).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STAGING_ROOT = PROJECT_ROOT / "cdk.out" / ".staging"

# The packages the handlers import from this project.
SOURCE_PACKAGES = ("workflow", "functions")
# The third-party distributions they import; boto3 comes with the Lambda runtime.
LAYER_DISTRIBUTIONS = ("aws-lambda-powertools", "cloudevents", "fastjsonschema")
# Amazon Linux on x86_64: the functions' platform (cdk.constructs.defaults.ARCHITECTURE).
LAYER_PLATFORM = "manylinux2014_x86_64"

_IGNORED_PARTS = {"__pycache__"}
_IGNORED_SUFFIXES = {".pyc", ".pyo"}

LAYER_PLACEHOLDER = """\
This dependency layer is empty on purpose.

The app was synthesized without the `choreo:bundle` context flag, so that synth is fast and
needs no network. Deploying needs the handlers' third-party packages in this layer:

    cdk synth -c choreo:bundle=true    (or cdk deploy -c choreo:bundle=true)

installs them here, into python/, with pip.
"""


def _canonical(name: str) -> str:
    """A distribution name as the packaging specs compare them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _source_files(root: Path) -> Iterator[Path]:
    for package in SOURCE_PACKAGES:
        for path in sorted((root / package).rglob("*")):
            relative = path.relative_to(root)
            if (path.is_file() and not _IGNORED_PARTS.intersection(relative.parts)
                    and path.suffix not in _IGNORED_SUFFIXES):
                yield relative


def _stage(name: str, fingerprint: str, build: Callable[[Path], None]) -> Path:
    target = STAGING_ROOT / f"{name}-{fingerprint}"
    if target.is_dir():
        return target
    STAGING_ROOT.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=STAGING_ROOT))
    try:
        build(scratch)
        os.rename(scratch, target)
    except OSError:
        # Another synth renamed the same content into place first; use it.
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def lambda_source_stage(root: Path = PROJECT_ROOT) -> Path:
    """A directory holding only the packages the handlers import, without bytecode caches."""
    files = list(_source_files(root))
    digest = hashlib.sha256()
    for relative in files:
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update((root / relative).read_bytes() + b"\0")

    def build(directory: Path) -> None:
        for relative in files:
            (directory / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / relative, directory / relative)

    return _stage("lambda-source", digest.hexdigest()[:16], build)


def layer_requirements(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> tuple[str, ...]:
    """The layer's requirements, with the version ranges the project pins in pyproject.toml."""
    dependencies: list[str] = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    by_name = {}
    for requirement in dependencies:
        match = re.match(r"[A-Za-z0-9._-]+", requirement)
        if match:
            by_name[_canonical(match.group(0))] = requirement
    missing = [name for name in LAYER_DISTRIBUTIONS if name not in by_name]
    if missing:
        raise ValueError(f"pyproject.toml does not declare {', '.join(missing)}")
    return tuple(by_name[name] for name in LAYER_DISTRIBUTIONS)


def installed_pins() -> tuple[str, ...]:
    """`name==version` of every distribution installed where the app is synthesized.

    The layer is installed under these constraints, so it ships the versions the tests ran
    against rather than whatever the index offers today: an unpinned transitive dependency
    can shadow the runtime's own packages (python-dateutil 3+, pulled in by cloudevents,
    would break the runtime's botocore)."""
    pins: dict[str, str] = {}
    for distribution in importlib.metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            pins[_canonical(name)] = f"{name}=={distribution.version}"
    return tuple(sorted(pins.values()))


def dependency_layer_stage(*, bundle: bool, python_version: str) -> Path:
    """The dependency layer's directory: the installed packages when `bundle` is true, else a
    README saying how to fill it."""
    requirements = layer_requirements()
    pins = installed_pins() if bundle else ()
    recipe = "\n".join([f"bundle={bundle}", python_version, LAYER_PLATFORM, *requirements, *pins])
    fingerprint = hashlib.sha256(recipe.encode()).hexdigest()[:16]

    def build(directory: Path) -> None:
        if not bundle:
            (directory / "README.md").write_text(LAYER_PLACEHOLDER)
            return
        constraints = directory.parent / f"{directory.name}-constraints.txt"
        constraints.write_text("\n".join(pins) + "\n")
        try:
            # Wheels for Lambda's platform and Python, whatever the machine that synthesizes;
            # no bytecode, which would be compiled for this machine's Python.
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "--no-compile", "--target", str(directory / "python"),
                 "--platform", LAYER_PLATFORM, "--implementation", "cp",
                 "--python-version", python_version, "--only-binary=:all:",
                 "--constraint", str(constraints), *requirements],
                check=True,
            )
        finally:
            constraints.unlink()

    return _stage("dependency-layer", fingerprint, build)
