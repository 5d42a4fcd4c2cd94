"""Lock every deployment unit's dependencies for the platform template.yaml deploys it to.

    python -m infra.lock            # (make lock) rewrite each requirements.txt from its requirements.in
    python -m infra.lock --check    # fail when a requirements.txt is missing or older than its .in

Every function and layer of the template whose code folder has a `requirements.in` (the loose,
hand-written list) gets a `requirements.txt` (every package pinned, transitive ones included),
resolved by uv for the unit's architecture and runtime (arm64 -> aarch64 Linux, python3.13 ->
CPython 3.13, glibc of Amazon Linux 2023). `sam build` installs the pinned file; pyproject.toml
reads the same files, so the tests run on the versions Lambda runs. A function is resolved with
its layers' locks as constraints, so a package both carry has one version.
Nothing here lists functions: a unit added to the template is locked on the next `make lock`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from infra.local.template import Template, referenced_id

# Amazon Linux 2023 (every python3.12+ runtime) ships glibc 2.34.
GLIBC = "2_34"
PLATFORMS = {"arm64": f"aarch64-manylinux_{GLIBC}", "x86_64": f"x86_64-manylinux_{GLIBC}"}


@dataclass(frozen=True)
class Unit:
    logical_id: str
    folder: Path
    platform: str
    python_version: str
    constraints: tuple[Path, ...] = ()

    @property
    def source(self) -> Path:
        return self.folder / "requirements.in"

    @property
    def lock(self) -> Path:
        return self.folder / "requirements.txt"


def _python_version(runtime: str, where: str) -> str:
    if not runtime.startswith("python"):
        raise SystemExit(f"{where}: runtime {runtime!r} is not a Python runtime")
    return runtime.removeprefix("python")


def units(template: Template) -> list[Unit]:
    """Every function and layer with a requirements.in, layers first."""
    found: list[Unit] = []
    layer_locks: dict[str, Path] = {}
    for lid, layer in template.layers.items():
        if not isinstance(layer.content_uri, str):
            continue
        folder = (template.root / layer.content_uri).resolve()
        metadata = template.resources[lid].get("Metadata") or {}
        arch = metadata.get("BuildArchitecture") or (layer.properties.get("CompatibleArchitectures") or ["x86_64"])[0]
        runtime = metadata.get("BuildMethod") or (layer.properties.get("CompatibleRuntimes") or [""])[0]
        unit = Unit(lid, folder, PLATFORMS[arch], _python_version(str(runtime), lid))
        if unit.source.exists():
            found.append(unit)
            layer_locks[lid] = unit.lock
    for lid, fn in template.functions.items():
        if fn.code_uri is None or fn.properties.get("PackageType") == "Image":  # images: _image_units
            continue
        arch = (fn.properties.get("Architectures") or ["x86_64"])[0]
        runtime = str(fn.properties.get("Runtime", ""))
        constraints = tuple(
            layer_locks[ref] for ref in map(referenced_id, fn.properties.get("Layers") or []) if ref in layer_locks
        )
        unit = Unit(lid, fn.code_uri, PLATFORMS[arch], _python_version(runtime, lid), constraints)
        if unit.source.exists():
            found.append(unit)
    found.extend(_image_units(template, layer_locks))
    return found


def _image_units(template: Template, layer_locks: dict[str, Path]) -> list[Unit]:
    """Container-image functions (plain AWS::Lambda::Function with PackageType Image): their
    folder is their Dockerfile's, their Python the Globals' runtime (the image's base matches it),
    and every layer lock is a constraint, since the Dockerfile installs the shared package too.
    Locking them is also how CI proves their dependencies resolve for linux/arm64 without Docker."""
    units: list[Unit] = []
    runtime = str((template.globals.get("Function") or {}).get("Runtime", ""))
    for lid, resource in template.resources.items():
        properties = resource.get("Properties") or {}
        dockerfile = (resource.get("Metadata") or {}).get("Dockerfile")
        if properties.get("PackageType") != "Image" or not dockerfile:
            continue
        arch = (properties.get("Architectures") or ["x86_64"])[0]
        folder = (template.root / str(dockerfile)).resolve().parent
        unit = Unit(lid, folder, PLATFORMS[arch], _python_version(runtime, lid), tuple(layer_locks.values()))
        if unit.source.exists() and all(other.folder != folder for other in units):  # one image, many functions
            units.append(unit)
    return units


def _uv() -> str:
    for candidate in (Path(sys.executable).parent / "uv", Path(".tools/bin/uv")):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("uv")
    if found is None:
        raise SystemExit("uv not found: `make lock` installs it into .tools")
    return found


def compile_lock(unit: Unit, root: Path) -> None:
    command = [
        _uv(),
        "pip",
        "compile",
        "--quiet",
        "--python-platform",
        unit.platform,
        "--python-version",
        unit.python_version,
        "--output-file",
        str(unit.lock.relative_to(root)),
        "--custom-compile-command",
        "make lock",
        str(unit.source.relative_to(root)),
    ]
    for constraint in unit.constraints:
        command += ["--constraint", str(constraint.relative_to(root))]
    subprocess.run(command, check=True, cwd=root)


def stale(unit: Unit) -> str | None:
    if not unit.lock.exists():
        return f"{unit.logical_id}: {unit.lock} is missing"
    pinned = unit.lock.read_text()
    for line in unit.source.read_text().splitlines():
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        for separator in "[<>=!~; ":
            name = name.split(separator, 1)[0]
        if f"\n{name.lower()}==" not in "\n" + pinned.lower().replace("_", "-"):
            return f"{unit.logical_id}: {name} of {unit.source} is not pinned in {unit.lock}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="only check that every lock covers its .in file")
    args = parser.parse_args(argv)
    template = Template()
    problems = []
    for unit in units(template):
        if args.check:
            problem = stale(unit)
            if problem:
                problems.append(problem)
            continue
        print(
            f"locking {unit.logical_id}: {unit.source.relative_to(template.root)} for {unit.platform}, "
            f"Python {unit.python_version}"
        )
        compile_lock(unit, template.root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("run `make lock`", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
