"""Write docs/openapi.json: the OpenAPI description of every route in template.yaml.

    python -m infra.openapi            # regenerate
    python -m infra.openapi --check    # exit 1 when docs/openapi.json is out of date (make test)

Each function's FastAPI router is mounted on one app just to describe it; what each route does
comes from its module's docstring, so the description cannot drift from the code.
"""

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = REPO_ROOT / "docs" / "openapi.json"

_STRINGS = {"type": "array", "items": {"type": "string"}}
_NUMBER, _INTEGER = {"type": "number"}, {"type": "integer"}
_DATASET_SEARCH = {
    "question": {"type": "string"}, "doc_ids": _STRINGS, "page": _INTEGER, "size": _INTEGER, "top_k": _INTEGER,
    "similarity_threshold": _NUMBER, "vector_similarity_weight": _NUMBER, "meta_data_filter": {"type": "object"},
}  # fmt: skip

# Request bodies the handlers read by hand (to answer RAGFlow's own messages), described here.
_BODIES: dict[str, dict[str, Any]] = {
    "POST /api/v1/retrieval": {
        "question": {"type": "string"},
        "dataset_ids": _STRINGS,
        "document_ids": _STRINGS,
        "page": _INTEGER,
        "page_size": _INTEGER,
        "top_k": _INTEGER,
        "similarity_threshold": _NUMBER,
        "vector_similarity_weight": _NUMBER,
        "highlight": {"type": "boolean"},
        "metadata_condition": {"type": "object"},
    },
    "POST /api/v1/dify/retrieval": {
        "knowledge_id": {"type": "string"},
        "query": {"type": "string"},
        "retrieval_setting": {"type": "object"},
        "metadata_condition": {"type": "object"},
    },
    "POST /api/v1/datasets/search": {"dataset_ids": _STRINGS, **_DATASET_SEARCH},
    "POST /api/v1/datasets/{dataset_id}/search": _DATASET_SEARCH,
    "POST /api/v1/dataset": {"name": {"type": "string"}},
    "PUT /api/v1/dataset/{dataset_id}": {
        key: {"type": "string"}
        for key in ("name", "description", "language", "permission", "chunk_method", "embedding_model_id", "photo")
    }
    | {"layout_recognize": {"type": "boolean"}},
    "PUT /api/v1/dataset/{dataset_id}/documents/{document_id}": {
        "name": {"type": "string"},
        "enable": {"type": "string", "enum": ["0", "1"]},
        "template_type": {"type": "string"},
    },
    "POST /api/v1/dataset/{dataset_id}/documents/upload_url": {
        "name": {"type": "string"},
        "size": {"type": "integer", "description": "bytes; the upload is refused above it"},
    },
    "POST /api/v1/dataset/{dataset_id}/documents/status": {
        "doc_ids": {"type": "array", "items": {"type": "string"}, "nullable": True}
    },
    "DELETE /api/v1/dataset/{dataset_id}/documents/status": {
        "doc_ids": {"type": "array", "items": {"type": "string"}, "nullable": True}
    },
}


_DOWNLOAD = "GET /api/v1/dataset/{dataset_id}/documents/{document_id}"


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_OFFSET = _query("offset", {"type": "integer", "default": 0}, "items to skip; below 0 or past the end: code 100")
_COUNT = _query("count", {"type": "integer", "default": -1}, "page size; -1 (or any negative) means all")
# The query parameters the handlers read by hand (domain parsers give RAGFlow's own messages).
_QUERIES: dict[str, list[dict[str, Any]]] = {
    "GET /api/v1/dataset": [
        _OFFSET,
        _COUNT,
        _query("orderby", {"type": "string", "enum": ["create_time", "update_time", "name"]}, "sort key"),
        _query("desc", {"type": "boolean", "default": True}, "newest (or last) first; also 1/0, yes/no"),
    ],
    "GET /api/v1/dataset/{dataset_id}/documents": [
        _OFFSET,
        _COUNT,
        _query("order_by", {"type": "string", "enum": ["create_time", "update_time", "name"]}, "sort key"),
        _query("descend", {"type": "boolean", "default": True}, "newest (or last) first; also 1/0, yes/no"),
        _query("keywords", {"type": "string"}, "case-insensitive substring of the name; total counts the matches"),
    ],
    "GET /api/v1/dataset/{dataset_id}/documents/{document_id}/chunks": [
        _query("offset", {"type": "integer", "minimum": 0, "default": 0}, "chunks to skip"),
        _query("count", {"type": "integer", "minimum": 0, "default": 30}, "page size, at most 1,000 served"),
    ],
}
# Every answer but a download is this envelope, HTTP 200, errors included (code 500 is a bug).
_ENVELOPE = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "integer", "enum": [0, 100, 101, 102, 103, 109]},
        "message": {"type": "string"},
        "data": {},
    },
}
_ANSWER = {
    "description": 'RAGFlow\'s envelope `{"code", "message", "data"}`; code 0 is success',
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}},
}
_DOWNLOAD_ANSWERS = {
    "200": {
        "description": "the file's bytes (an attachment), or the envelope when it cannot be served",
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}},
        },
    },
    "302": {
        "description": "files over 4 MiB: a presigned S3 URL valid for 5 minutes",
        "headers": {"Location": {"schema": {"type": "string"}}},
    },
}


def _router_of(module: Any) -> Any:
    """The function's router: `router`, or the one router its module imports from the shared
    package (the search functions mount `current_router`, `dify_router`, ...)."""
    from fastapi import APIRouter

    if hasattr(module, "router"):
        return module.router
    routers = [value for value in vars(module).values() if isinstance(value, APIRouter)]
    return routers[0] if len(routers) == 1 else None


def build() -> dict[str, Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from fastapi import FastAPI

    from infra.local.template import Template

    app = FastAPI(
        title="kb-ingest",
        version="1",
        description="RAGFlow-compatible dataset/document API. Every answer is HTTP 200 with "
        '`{"code", "message", "data"}`; code 0 is success (see the contract for the others).',
    )
    docs: dict[str, str] = {}
    for function in sorted(Template().functions.values(), key=lambda f: f.logical_id):
        if not function.http_routes or function.module_path is None:
            continue
        spec = importlib.util.spec_from_file_location(f"openapi_{function.logical_id}", function.module_path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        router = _router_of(module)
        if router is None:
            continue
        for route in function.http_routes:
            docs[route.route_key] = (module.__doc__ or "").strip()
        if function.logical_id != "RouteNotFoundFunction":
            app.include_router(router)
    schema = app.openapi()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            key = f"{method.upper()} {path}"
            operation["description"] = docs.get(key, "")
            operation["security"] = [{"apiKey": []}]
            if key in _QUERIES:
                operation["parameters"] = [*operation.get("parameters", []), *_QUERIES[key]]
            # FastAPI declares a 422 that never comes: validation errors answer in the envelope.
            operation["responses"] = _DOWNLOAD_ANSWERS if key == _DOWNLOAD else {"200": _ANSWER}
            if key in _BODIES:
                operation["requestBody"] = {
                    "content": {"application/json": {"schema": {"type": "object", "properties": _BODIES[key]}}}
                }
            if key == "POST /api/v1/dataset/{dataset_id}/documents":
                operation["requestBody"] = {
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "file": {"type": "array", "items": {"type": "string", "format": "binary"}}
                                },
                            }
                        }
                    }
                }
    schema.setdefault("components", {}).pop("schemas", None)  # only FastAPI's 422 models were there
    schema["components"]["schemas"] = {"Envelope": _ENVELOPE}
    schema["components"]["securitySchemes"] = {
        "apiKey": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Bearer <key>` or the bare key",
        }
    }
    return schema


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.openapi")
    parser.add_argument("--check", action="store_true", help="fail when docs/openapi.json is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print("docs/openapi.json is out of date: run `python -m infra.openapi`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
