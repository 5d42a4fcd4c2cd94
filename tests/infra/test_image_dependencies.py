"""Every container-image function's dependencies install from wheels on the platform it deploys
to, proven without Docker: the requirements files its Dockerfile installs (read from the
Dockerfile's COPY lines) are resolved with uv for the function's architecture, CPython 3.13 and
Amazon Linux 2023's glibc, building nothing from source (the Lambda base image has no compiler),
and the Dockerfile's base image is the Lambda image of that runtime and architecture.

uv reads each wheel's metadata from the index without downloading the wheels; a run takes a few
seconds per image once uv's cache is warm (make test installs uv into .tools)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.local.template import Template
from infra.lock import PLATFORMS, units

TEMPLATE = Template()
IMAGES = [unit for unit in units(TEMPLATE) if (unit.folder / "Dockerfile").is_file()]
BASE_IMAGE = re.compile(r"^FROM\s+public\.ecr\.aws/lambda/python:(?P<python>[\d.]+)-(?P<arch>\w+)", re.MULTILINE)
COPIED_REQUIREMENTS = re.compile(r"^COPY\s+(?P<path>\S*requirements\.txt)\s", re.MULTILINE)


def _uv() -> str:
    for candidate in (Path(".tools/bin/uv"), Path(shutil.which("uv") or "")):
        if candidate.is_file():
            return str(candidate)
    pytest.fail("uv not found: `make test` installs it into .tools")


def _architecture(platform: str) -> str:
    return next(arch for arch, value in PLATFORMS.items() if value == platform)


def test_every_image_function_is_checked():
    images = {
        lid for lid, res in TEMPLATE.resources.items()
        if (res.get("Properties") or {}).get("PackageType") == "Image"
    }  # fmt: skip
    folders = {(TEMPLATE.root / res["Metadata"]["Dockerfile"]).parent.resolve() for lid, res in
               TEMPLATE.resources.items() if lid in images}  # fmt: skip
    assert folders == {unit.folder for unit in IMAGES}


@pytest.mark.parametrize("unit", IMAGES, ids=lambda unit: unit.folder.name)
def test_the_base_image_is_the_functions_runtime_and_architecture(unit):
    dockerfile = (unit.folder / "Dockerfile").read_text()
    match = BASE_IMAGE.search(dockerfile)
    assert match, f"{unit.folder}/Dockerfile does not start from a Lambda Python base image"
    arch = {"arm64": "arm64", "x86_64": "x86_64"}[_architecture(unit.platform)]
    assert (match["python"], match["arch"]) == (unit.python_version, arch)
    for lid, res in TEMPLATE.resources.items():
        metadata = res.get("Metadata") or {}
        if (TEMPLATE.root / str(metadata.get("Dockerfile", "-"))).parent.resolve() == unit.folder:
            assert res["Properties"]["Architectures"] == [arch], f"{lid} runs on another architecture than its image"


@pytest.mark.parametrize("unit", IMAGES, ids=lambda unit: unit.folder.name)
def test_the_dockerfiles_dependencies_install_from_wheels_on_its_platform(unit, tmp_path):
    dockerfile = (unit.folder / "Dockerfile").read_text()
    requirements = [TEMPLATE.root / match["path"] for match in COPIED_REQUIREMENTS.finditer(dockerfile)]
    assert unit.lock in requirements, f"{unit.folder}/Dockerfile does not install {unit.lock.name}"
    command = [
        _uv(), "pip", "install", "--dry-run", "--only-binary", ":all:", "--python-platform", unit.platform,
        "--python-version", unit.python_version, "--target", str(tmp_path),
    ]  # fmt: skip
    for path in requirements:
        command += ["-r", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=TEMPLATE.root)
    assert done.returncode == 0, f"{unit.folder.name} does not install on {unit.platform}:\n{done.stderr[-2000:]}"
