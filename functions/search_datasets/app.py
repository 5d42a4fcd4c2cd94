"""Today's API: POST /api/v1/datasets/search: RAGFlow's retrieval test over several of the
caller's datasets (its web app's and REST clients' search), answered with the retriever's field
names. Runs in the search image (LanceDB, the embedders)."""

from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.dataset_search import datasets_search_router

app = create_current_app(datasets_search_router)
handler = lambda_handler(app)
