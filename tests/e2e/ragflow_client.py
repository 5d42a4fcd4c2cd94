"""The HTTP calls RAGFlow's own Python SDK of the July 2024 API makes, request for request.

That SDK cannot be installed on its own (it imports RAGFlow's server package), so its request
shapes are restated here: the bare key as the Authorization header (no `Bearer `), JSON bodies,
`files=[("file", fh), ...]` uploads, `.../documents/` with a trailing slash for listing, and a
download that is JSON when it failed and raw bytes when it worked.
"""

import json
from pathlib import Path
from typing import Any

import requests


class RagflowSdkCalls:
    def __init__(self, user_key: str, base_url: str) -> None:
        self.dataset_url = f"{base_url}/api/v1/dataset"
        self.authorization_header = {"Authorization": user_key}

    def create_dataset(self, name: str) -> dict[str, Any]:
        return requests.post(self.dataset_url, json={"name": name}, headers=self.authorization_header).json()

    def list_dataset(self, offset=0, count=-1, orderby="create_time", desc=True) -> dict[str, Any]:
        params = {"offset": offset, "count": count, "orderby": orderby, "desc": desc}
        return requests.get(self.dataset_url, params=params, headers=self.authorization_header).json()

    def find_dataset_id_by_name(self, name: str) -> str | None:
        listing = requests.get(self.dataset_url, headers=self.authorization_header).json()
        return next((d["id"] for d in listing["data"] if d["name"] == name), None)

    def get_dataset(self, dataset_name: str) -> dict[str, Any]:
        url = f"{self.dataset_url}/{self.find_dataset_id_by_name(dataset_name)}"
        return requests.get(url, headers=self.authorization_header).json()

    def update_dataset(self, dataset_name: str, **params: Any) -> dict[str, Any]:
        url = f"{self.dataset_url}/{self.find_dataset_id_by_name(dataset_name)}"
        return requests.put(url, json=params, headers=self.authorization_header).json()

    def delete_dataset(self, dataset_name: str) -> dict[str, Any]:
        url = f"{self.dataset_url}/{self.find_dataset_id_by_name(dataset_name)}"
        return requests.delete(url, headers=self.authorization_header).json()

    def upload_local_file(self, dataset_id: str, file_paths: list[str]) -> dict[str, Any]:
        handles = [open(path, "rb") for path in file_paths]  # noqa: SIM115 - closed below
        try:
            files = [("file", handle) for handle in handles]
            response = requests.request(
                "POST", url=f"{self.dataset_url}/{dataset_id}/documents", files=files, headers=self.authorization_header
            )
        finally:
            for handle in handles:
                handle.close()
        return json.loads(response.text)

    def list_files(self, dataset_id, offset=0, count=-1, order_by="create_time", descend=True, keywords=""):
        params = {"offset": offset, "count": count, "order_by": order_by, "descend": descend, "keywords": keywords}
        url = f"{self.dataset_url}/{dataset_id}/documents/"
        return requests.get(url, params=params, headers=self.authorization_header).json()

    def update_file(self, dataset_id: str, document_id: str, **params: Any) -> dict[str, Any]:
        url = f"{self.dataset_url}/{dataset_id}/documents/{document_id}"
        return requests.put(url, json=params, headers=self.authorization_header).json()

    def download_file(self, dataset_id: str, document_id: str) -> dict[str, Any]:
        url = f"{self.dataset_url}/{dataset_id}/documents/{document_id}"
        content = requests.get(url, headers=self.authorization_header).content
        try:
            return json.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {"code": 0, "data": content}

    def delete_files(self, document_id: str, dataset_id: str) -> dict[str, Any]:
        url = f"{self.dataset_url}/{dataset_id}/documents/{document_id}"
        return requests.delete(url, headers=self.authorization_header).json()

    def start_parsing_document(self, dataset_id: str, document_id: str) -> dict[str, Any]:
        url = f"{self.dataset_url}/{dataset_id}/documents/{document_id}/status"
        return requests.post(url, headers=self.authorization_header).json()

    def start_parsing_documents(self, dataset_id: str, doc_ids: list[str] | None = None) -> dict[str, Any]:
        url = f"{self.dataset_url}/{dataset_id}/documents/status"
        return requests.post(url, headers=self.authorization_header, json={"doc_ids": doc_ids}).json()

    def stop_parsing_document(self, dataset_id: str, document_id: str) -> dict[str, Any]:
        url = f"{self.dataset_url}/{dataset_id}/documents/{document_id}/status"
        return requests.delete(url, headers=self.authorization_header).json()

    def stop_parsing_documents(self, dataset_id: str, doc_ids: list[str] | None = None) -> dict[str, Any]:
        url = f"{self.dataset_url}/{dataset_id}/documents/status"
        return requests.delete(url, headers=self.authorization_header, json={"doc_ids": doc_ids}).json()

    def show_parsing_status(self, dataset_id: str, document_id: str) -> dict[str, Any]:
        url = f"{self.dataset_url}/{dataset_id}/documents/{document_id}/status"
        return requests.get(url, headers=self.authorization_header).json()


def write_files(folder: Path, files: dict[str, bytes]) -> list[str]:
    paths = []
    for name, content in files.items():
        path = folder / name
        path.write_bytes(content)
        paths.append(str(path))
    return paths
