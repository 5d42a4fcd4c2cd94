"""The template `make build` hands to `sam build` on a machine without a container engine.

    python -m infra.build_template OUT.yaml

`sam build` builds an image function (PackageType: Image, a Dockerfile in its Metadata) with
Docker or Finch, and refuses to build anything at all when neither runs, as on CI here. This
writes template.yaml with the image functions' Metadata removed, so SAM builds every zip
function and layer and passes over the images; every reference to them stays as it is, so the
built template still validates. The images are proven another way: `make lock` resolves each
one's requirements for its platform (infra/lock.py), and `infra.lock --check` runs in
`make build`. A real deploy (`make deploy`, on a machine with Docker) builds from template.yaml
itself, images included.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from infra.local.template import DEFAULT_TEMPLATE, load_template_dict


def zip_only(path: Path = DEFAULT_TEMPLATE) -> tuple[dict, list[str]]:
    """The template as plain dicts without image functions' build Metadata, and their ids."""
    document = json.loads(json.dumps(load_template_dict(path)))  # plain types, intrinsics in long form
    resources = {}
    images = []
    for logical_id, resource in (document.get("Resources") or {}).items():
        properties = resource.get("Properties") or {}
        if properties.get("PackageType") == "Image" and "Dockerfile" in (resource.get("Metadata") or {}):
            resource = {key: value for key, value in resource.items() if key != "Metadata"}
            images.append(logical_id)
        resources[logical_id] = resource
    document["Resources"] = resources
    return document, images


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("out", type=Path, help="where to write the template (beside template.yaml)")
    args = parser.parse_args(argv)
    document, images = zip_only()
    args.out.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    print(f"{args.out}: image functions left to a container build: {', '.join(images) or 'none'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
