"""Today's API: GET /api/v1/documents/images/{image_id}: a thumbnail or chunk image (this
service renders none: RAGFlow's answer for an image that does not exist)."""

from fastapi import APIRouter

from kb_ingest.domain.document_media import document_image
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.deps import TenantId

router = APIRouter()


@router.get("/api/v1/documents/images/{image_id}")
def get_document_image(image_id: str, tenant_id: TenantId) -> None:
    document_image(image_id)


app = create_current_app(router)
handler = lambda_handler(app)
