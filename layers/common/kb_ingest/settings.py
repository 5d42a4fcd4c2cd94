"""Configuration, read once from the environment that template.yaml gives every function."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Names of the stack's resources and the service's limits.

    Field names match the environment variables set in template.yaml's Globals (case-insensitive),
    so the local stack and the cloud configure the code the same way.
    """

    model_config = SettingsConfigDict(extra="ignore")

    api_keys_table: str = "kb-api-keys"
    datasets_table: str = "kb-datasets"
    documents_table: str = "kb-documents"
    chunks_table: str = "kb-chunks"
    name_claims_table: str = "kb-name-claims"
    purge_jobs_table: str = "kb-purge-jobs"
    documents_bucket: str = "kb-documents"
    parse_queue_url: str = ""
    cleanup_queue_url: str = ""
    index_queue_url: str = ""  # the chunk change feed's FIFO queue to the index function
    event_bus_name: str = ""
    aws_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    # Set locally (moto); boto3 reads it itself, LanceDB (retrieval's index) is told it.
    aws_endpoint_url: str = Field(default="", validation_alias="AWS_ENDPOINT_URL")

    # Largest JSON body a dataset route reads; anything bigger is refused before parsing.
    max_json_body_bytes: int = 1024 * 1024
    # Largest file accepted through the multipart upload route.
    max_upload_bytes: int = 4 * 1024**2
    # Seconds a verified API key is trusted before it is looked up again (0 = every request;
    # a revoked key stops working within this many seconds).
    api_key_cache_seconds: float = 0.0
    # Presigned uploads: the largest file they accept and how long their URL lives. The
    # pending document is removed when nothing has arrived this long after the URL expired.
    max_presigned_upload_bytes: int = 5 * 1024**3
    presigned_upload_seconds: int = 600
    upload_expiry_grace_seconds: int = 300
    # Downloads bigger than this answer with a redirect to a presigned URL (a Lambda response
    # carries 6 MB, and binary bodies travel base64-encoded).
    max_inline_download_bytes: int = 4 * 1024**2
    presigned_download_seconds: int = 300
    # How many times the parse queue delivers a message before its dead-letter queue takes it
    # (the queue's maxReceiveCount); the last attempt marks the document FAIL.
    parse_max_attempts: int = 3
    # The image-packaged OCR function the parse function hands scanned pages to ("" = none;
    # where rapidocr is installed, as on the local stack, pages are read in-process instead).
    ocr_function_name: str = ""
    # Scheduled reparse: how much one run may look at and re-queue.
    reparse_max_documents: int = 2000
    reparse_max_requeues: int = 200
    # Retrieval: the embedder behind RAGFlow's built-in model names (`builtin`: WordLlama inside
    # the search image; `bedrock`: Titan Text Embeddings V2).
    embedder: str = "builtin"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
