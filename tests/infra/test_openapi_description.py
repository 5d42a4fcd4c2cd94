"""docs/openapi.json describes what the routes really take and answer, so a fuzzer reaches the
query parameters and checks every answer against the envelope."""

import json
from pathlib import Path

OPENAPI = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())


def query_parameters(method: str, path: str) -> dict[str, dict]:
    operation = OPENAPI["paths"][path][method]
    return {p["name"]: p["schema"] for p in operation.get("parameters", []) if p["in"] == "query"}


def test_list_routes_declare_the_query_parameters_they_read():
    assert set(query_parameters("get", "/api/v1/dataset")) == {"offset", "count", "orderby", "desc"}
    assert query_parameters("get", "/api/v1/dataset")["orderby"]["enum"] == ["create_time", "update_time", "name"]
    documents = query_parameters("get", "/api/v1/dataset/{dataset_id}/documents")
    assert set(documents) == {"offset", "count", "order_by", "descend", "keywords"}
    chunks = query_parameters("get", "/api/v1/dataset/{dataset_id}/documents/{document_id}/chunks")
    assert set(chunks) == {"offset", "count"}


def test_every_answer_is_the_envelope_and_no_422_is_promised():
    for path, item in OPENAPI["paths"].items():
        for method, operation in item.items():
            assert "422" not in operation["responses"], (method, path)
            content = operation["responses"]["200"]["content"]
            assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Envelope"}, (method, path)
    envelope = OPENAPI["components"]["schemas"]["Envelope"]
    assert envelope["required"] == ["code", "message"] and 500 not in envelope["properties"]["code"]["enum"]


def test_a_download_answers_bytes_or_a_redirect():
    download = OPENAPI["paths"]["/api/v1/dataset/{dataset_id}/documents/{document_id}"]["get"]["responses"]
    assert "application/octet-stream" in download["200"]["content"] and "302" in download
