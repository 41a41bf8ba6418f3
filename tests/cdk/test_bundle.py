"""What a deploy ships can run on Lambda: the handlers' code and the dependency layer, bundled
as `cdk deploy` bundles them, import in an interpreter that sees nothing
else but what Lambda's Python runtime provides itself (boto3 and its dependencies).

A layer missing a transitive dependency would otherwise be found only by the first
invocation after a deploy. Here each handler of the template, with the environment the
template gives it, is imported in a fresh interpreter (`-I -S`: no site-packages, no
environment variables of Python's own) whose path is the code, the layer's `python/` and a
directory holding only the runtime's distributions, in the order Lambda puts them.

The layer is fetched for the runtime's Python (3.12) while these tests may run on another
(3.11): that import is a faithful check only because every package in the layer is pure
Python, so the `layer` fixture fails, saying which file, if any of it is an extension module
built for one Python or bytecode.

The first run downloads the layer's wheels; later runs reuse the staged directories, which
are named by a fingerprint of their inputs (cdk/assets.py).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from cdk.app import synth_template
from cdk.assets import LAYER_DISTRIBUTIONS, dependency_layer_stage, lambda_source_stage
from cdk.constructs.defaults import RUNTIME
from workflow.model import CHOREOGRAPHY

# Bundling fetches wheels from the package index the first time, whichever test comes first.
pytestmark = pytest.mark.timeout(600)

# What Lambda's Python runtime ships besides the standard library: boto3 and its dependencies.
RUNTIME_DISTRIBUTIONS = ("boto3", "botocore", "jmespath", "s3transfer", "urllib3",
                         "python-dateutil", "six")
# Lambda's quota on a function's deployment package and all its layers, unzipped.
UNZIPPED_LIMIT_BYTES = 262_144_000
REGION = "us-east-1"
ACCOUNT = "123456789012"

# Runs in the fresh interpreter: puts the given directories first on the path, as Lambda puts
# the code and the layers before its runtime, then imports the handler as Lambda would.
IMPORT_PROBE = """\
import importlib, sys
handler, *path = sys.argv[1:]
sys.path[:0] = path
module, _, attribute = handler.rpartition(".")
if not callable(getattr(importlib.import_module(module), attribute)):
    raise SystemExit(f"{handler} is not callable")
"""
# An extension module built for one Python; the stable ABI's (`.abi3.so`) load in any.
VERSIONED_EXTENSION = re.compile(r"(?<!\.abi3)\.(so|pyd)$")


def top_level_names(distribution: importlib.metadata.Distribution) -> set[str]:
    """What a distribution installed directly into its directory: packages, modules, its
    metadata. Scripts (`../../bin`) and shared bytecode caches are not its own."""
    return {file.parts[0] for file in distribution.files or ()
            if file.parts[0] not in {"..", "__pycache__"}}


def linked(directory: Path, sources: dict[str, Path]) -> Path:
    """`directory`, made to hold a symbolic link to each source under its name: a view of
    installed packages that copies nothing."""
    directory.mkdir(parents=True)
    for name, source in sources.items():
        (directory / name).symlink_to(source, target_is_directory=source.is_dir())
    return directory


def unzipped_size(directory: Path) -> int:
    """What Lambda counts against its quota: the bytes of every file the zip unpacks to."""
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


@dataclass(frozen=True)
class DeployedFunction:
    """A function as the template deploys it: its handler and its environment."""

    id: str
    handler: str
    memory_mb: int
    variables: dict[str, str]


def deployed_functions() -> dict[str, DeployedFunction]:
    """Every function of the default template (the model's and the notification receiver),
    each reference in its environment replaced by a made-up name of the same resource."""
    resources = synth_template(nag=False)["Resources"]
    found = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        variables = {name: value if isinstance(value, str) else f"choreo-{json.dumps(value)}"
                     for name, value in properties["Environment"]["Variables"].items()}
        function_id = logical_id.removesuffix("Function")
        found[function_id] = DeployedFunction(function_id, properties["Handler"],
                                              int(properties["MemorySize"]), variables)
    return found


FUNCTIONS = [*(function.id for function in CHOREOGRAPHY.functions),
             CHOREOGRAPHY.notification_receiver.function]


def lambda_environment(function: DeployedFunction, config: Path) -> dict[str, str]:
    """The environment the function's handler is imported in: what Lambda sets itself, and
    what the template sets. Nothing of this machine's: its AWS configuration is not Lambda's."""
    return {
        "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": f"choreo-{function.id}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(config),
        **function.variables,
    }


def import_handler(function: DeployedFunction, path: list[Path], tmp_path: Path,
                   ) -> subprocess.CompletedProcess[str]:
    """Import the function's handler in a fresh interpreter whose path is `path` and the
    standard library, writing no bytecode into what is imported."""
    return subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", IMPORT_PROBE, function.handler,
         *map(str, path)],
        env=lambda_environment(function, tmp_path / "no-aws-config"),
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def functions() -> dict[str, DeployedFunction]:
    found = deployed_functions()
    assert set(found) == set(FUNCTIONS)
    return found


@pytest.fixture(scope="module")
def code() -> Path:
    """The handlers' code as a deploy stages it."""
    return lambda_source_stage()


@pytest.fixture(scope="module")
def layer() -> Path:
    """The layer's directory as a deploy builds it, once it is known to be pure Python."""
    directory = dependency_layer_stage(bundle=True,
                                       python_version=RUNTIME.name.removeprefix("python"))
    assert (directory / "python").is_dir(), f"{directory} is not a bundled layer"
    compiled = [path.relative_to(directory).as_posix() for path in directory.rglob("*")
                if VERSIONED_EXTENSION.search(path.name) or path.suffix in {".pyc", ".pyo"}]
    assert not compiled, (
        f"the layer holds code compiled for one Python, so importing it under Python "
        f"{sys.version_info.major}.{sys.version_info.minor} proves nothing about "
        f"{RUNTIME.name}: {compiled[:10]}")
    return directory


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding Lambda's runtime distributions, linked from where they are installed
    here, and nothing else of this machine's site-packages."""
    sources = {}
    for name in RUNTIME_DISTRIBUTIONS:
        distribution = importlib.metadata.distribution(name)
        sources.update({entry: Path(str(distribution.locate_file(entry)))
                        for entry in top_level_names(distribution)})
    return linked(tmp_path_factory.mktemp("runtime") / "site-packages", sources)


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_every_handler_imports_from_the_code_and_the_layer_alone(
        function_id: str, functions: dict[str, DeployedFunction], code: Path, layer: Path,
        runtime: Path, tmp_path: Path) -> None:
    function = functions[function_id]
    result = import_handler(function, [code, layer / "python", runtime], tmp_path)
    assert result.returncode == 0, f"{function.handler}:\n{result.stderr[-3000:]}"
    # Importing left nothing behind in what is deployed.
    assert not [*code.rglob("__pycache__"), *layer.rglob("__pycache__")]


def test_the_code_and_the_layer_fit_lambdas_unzipped_size_limit(code: Path, layer: Path) -> None:
    size = unzipped_size(code) + unzipped_size(layer)
    assert 0 < size <= UNZIPPED_LIMIT_BYTES, (
        f"code and layer unzip to {size:,} bytes ({size / 2**20:.1f} MiB), "
        f"Lambda allows {UNZIPPED_LIMIT_BYTES:,}")


@pytest.mark.parametrize("missing", LAYER_DISTRIBUTIONS)
def test_a_layer_without_one_of_its_distributions_fails_the_import(
        missing: str, functions: dict[str, DeployedFunction], code: Path, layer: Path,
        runtime: Path, tmp_path: Path) -> None:
    # GIVEN the layer without one distribution it is built from (a view of it, by links)
    (removed,) = importlib.metadata.distributions(name=missing, path=[str(layer / "python")])
    names = top_level_names(removed)
    pruned = linked(tmp_path / "layer" / "python",
                    {path.name: path for path in (layer / "python").iterdir()
                     if path.name not in names})
    # WHEN a handler (each imports them all) is imported from it
    function = functions[CHOREOGRAPHY.functions[0].id]
    result = import_handler(function, [code, pruned, runtime], tmp_path)
    # THEN the import fails for want of that distribution's package
    assert result.returncode != 0, f"{function.handler} imported without {missing}"
    packages = {name.removesuffix(".py") for name in names
                if name.endswith(".py") or (layer / "python" / name / "__init__.py").is_file()}
    assert any(f"No module named '{package}" in result.stderr for package in packages), \
        result.stderr[-3000:]
