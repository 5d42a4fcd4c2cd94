"""Every built function's unpacked size, its layers included, against Lambda's limits.

    python -m infra.package_sizes          # after `sam build` (make build runs both)

Reads `.aws-sam/build/template.yaml`, the template `sam build` writes with each function's and
layer's built folder, so a function added to template.yaml is checked without listing it here.
Lambda refuses a zip function whose code and layers unpack to more than 250 MB (262,144,000
bytes), and a deployment package over 50 MB zipped when uploaded directly (SAM uploads through
S3, where the unpacked limit is the one that binds). Container-image functions (PackageType
Image) have a 10 GB image limit that `sam build` itself reports, and are skipped.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from infra.local.template import load_template_dict, referenced_id

UNPACKED_LIMIT = 262_144_000  # bytes: function code plus every layer, unzipped
MAX_LAYERS = 5
WARN_RATIO = 0.8  # say so when a function is within 20% of the limit


def folder_size(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def check(build_dir: Path) -> tuple[list[str], list[str]]:
    """(report lines, problems)."""
    template: dict[str, Any] = load_template_dict(build_dir / "template.yaml")
    resources = template.get("Resources") or {}
    global_layers = ((template.get("Globals") or {}).get("Function") or {}).get("Layers") or []
    layer_sizes: dict[str, int] = {}
    for lid, res in resources.items():
        if res.get("Type") in {"AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"}:
            uri = (res.get("Properties") or {}).get("ContentUri") or (res.get("Properties") or {}).get("Content")
            if isinstance(uri, str):
                layer_sizes[lid] = folder_size(build_dir / uri)
    lines, problems = [], []
    for lid, res in sorted(resources.items()):
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = res.get("Properties") or {}
        if props.get("PackageType") == "Image":
            lines.append(f"{lid:36} container image (10 GB limit, checked by sam build)")
            continue
        code = props.get("CodeUri")
        if not isinstance(code, str):
            continue
        own = folder_size(build_dir / code)
        layers = [referenced_id(layer) for layer in (props.get("Layers") or global_layers)]
        if len(layers) > MAX_LAYERS:
            problems.append(f"{lid}: {len(layers)} layers, Lambda allows {MAX_LAYERS}")
        total = own + sum(layer_sizes.get(layer or "", 0) for layer in layers)
        share = total / UNPACKED_LIMIT
        lines.append(f"{lid:36} {own / 1e6:8.1f} MB code + layers = {total / 1e6:8.1f} MB ({share:5.1%} of 262.1 MB)")
        if total > UNPACKED_LIMIT:
            problems.append(f"{lid}: unpacks to {total:,} bytes with its layers, over Lambda's {UNPACKED_LIMIT:,}")
        elif share > WARN_RATIO:
            lines.append(f"  warning: {lid} is within {1 - share:.0%} of the limit")
    for lid, size in sorted(layer_sizes.items()):
        lines.append(f"{lid:36} {size / 1e6:8.1f} MB (layer)")
    return lines, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--build-dir", default=".aws-sam/build", type=Path)
    args = parser.parse_args(argv)
    if not (args.build_dir / "template.yaml").exists():
        print(f"{args.build_dir}/template.yaml not found: run `sam build` first (make build)", file=sys.stderr)
        return 2
    lines, problems = check(args.build_dir)
    print("\n".join(lines))
    for problem in problems:
        print(f"TOO BIG: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
