"""Which paths belong to today's API, so the one catch-all answers each generation its own way."""

# RAGFlow's current resources (plural nouns); the seed API's paths are `/api/v1/dataset...`.
_ROOTS = ("datasets", "documents", "chunks", "chats", "agents", "retrieval", "files", "searches", "memories")


def is_current_path(path: str) -> bool:
    parts = path.strip("/").split("/")
    return len(parts) >= 3 and parts[0] == "api" and parts[1] == "v1" and parts[2] in _ROOTS
