"""Dify's external knowledge API: POST /api/v1/dify/retrieval (knowledge_id, query,
retrieval_setting, metadata_condition) answers `{"records": [{content, score, title, metadata}]}`,
so a Dify workspace can attach a dataset directly. Runs in the search image."""

from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.current.retrieval import DIFY, dify_router

app = create_app(dify_router, DIFY)
handler = lambda_handler(app)
