"""The parsing domain: document bytes to text blocks to RAGFlow-style chunks (no AWS, no HTTP).

Importing this package imports no format library and no tokenizer: they are loaded by the
functions that use them, so a Lambda that never parses pays nothing for them at cold start.

    result = chunk_document(data, "report.pdf", "naive", {"chunk_token_num": 256})
    for chunk in result.chunks:   # parsed lazily; ParseError subclasses carry the user message
        ...
"""

from .chunking import (
    DEFAULT_CHUNK_TOKEN_NUM,
    DEFAULT_DELIMITER,
    PARSERS,
    Chunk,
    ChunkingResult,
    QAPair,
    chunk_document,
    naive_chunks,
    one_chunk,
    parse_delimiters,
    qa_chunks,
    qa_pairs_from_rows,
    qa_pairs_from_text,
    table_chunks,
)
from .errors import (
    CorruptDocument,
    NoTextLayer,
    ParseError,
    PasswordProtected,
    ResourceLimitExceeded,
    UnsupportedFormat,
)
from .extract import detect_format, extract, extract_rows
from .model import BlockKind, ExtractLimits, SheetRow, Table, TableCell, TextBlock
from .tokens import count_tokens, get_encoder, split_by_tokens

__all__ = [
    "DEFAULT_CHUNK_TOKEN_NUM",
    "DEFAULT_DELIMITER",
    "PARSERS",
    "BlockKind",
    "Chunk",
    "ChunkingResult",
    "CorruptDocument",
    "ExtractLimits",
    "NoTextLayer",
    "ParseError",
    "PasswordProtected",
    "QAPair",
    "ResourceLimitExceeded",
    "SheetRow",
    "Table",
    "TableCell",
    "TextBlock",
    "UnsupportedFormat",
    "chunk_document",
    "count_tokens",
    "detect_format",
    "extract",
    "extract_rows",
    "get_encoder",
    "naive_chunks",
    "one_chunk",
    "parse_delimiters",
    "qa_chunks",
    "qa_pairs_from_rows",
    "qa_pairs_from_text",
    "split_by_tokens",
    "table_chunks",
]
