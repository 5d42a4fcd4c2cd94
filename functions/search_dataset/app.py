"""Today's API: POST /api/v1/datasets/{dataset_id}/search: RAGFlow's retrieval test within one
of the caller's datasets, answered with the retriever's field names. Runs in the search image
(LanceDB, the embedders)."""

from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.dataset_search import dataset_search_router

app = create_current_app(dataset_search_router)
handler = lambda_handler(app)
