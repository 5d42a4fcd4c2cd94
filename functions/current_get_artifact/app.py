"""Today's API: GET /api/v1/documents/artifact/{filename}: a file an agent's sandbox wrote (no
agents run here: RAGFlow's answers for a malformed name and for one that does not exist)."""

from fastapi import APIRouter

from kb_ingest.domain.document_media import artifact
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.deps import TenantId

router = APIRouter()


@router.get("/api/v1/documents/artifact/{filename}")
def get_artifact(filename: str, tenant_id: TenantId) -> None:
    artifact(filename)


app = create_current_app(router)
handler = lambda_handler(app)
