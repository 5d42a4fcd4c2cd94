"""Retrieval's engine: embedders and the per-dataset LanceDB index.

Only the search functions (container images: lancedb + pyarrow exceed a zip function) import
this package; nothing else in the layer imports it, so the other functions never load numpy,
pyarrow or lancedb. It sits beside `dal` (it talks to S3 and Bedrock); `domain.retrieval` ranks
what it finds without knowing where it came from.
"""
