"""Today's API: POST /api/v1/retrieval: the chunks of the caller's datasets that answer a
question, ranked as RAGFlow ranks them (keyword and vector similarity, weighted), paged, with
doc_aggs and total. Runs in the search image (LanceDB, the embedders)."""

from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.retrieval import current_router

app = create_current_app(current_router)
handler = lambda_handler(app)
