"""Images and agent artifacts of RAGFlow's document routes (`/documents/images/{id}`,
`/documents/artifact/{name}`), as this service has them: none.

RAGFlow serves thumbnails and chunk images it renders while parsing (`{dataset_id}-{object}`)
and files its agents' code sandbox writes. This service renders no images (documents'
`thumbnail` is null, chunks' `image_id` empty) and runs no agents, so every id is one that
does not exist: each route answers what RAGFlow answers for such an id, after the checks
RAGFlow makes first (a malformed artifact name is refused as such, not as missing).
"""

import posixpath

from kb_ingest.domain.errors import DataError

# RAGFlow's artifact types (its ARTIFACT_CONTENT_TYPES): any other extension is refused.
ARTIFACT_EXTENSIONS = (".png", ".jpg", ".jpeg", ".svg", ".pdf", ".csv", ".json", ".html")


def document_image(image_id: str) -> bytes:
    """The image's bytes: there are none here, whatever the id (`Image not found.`)."""
    dataset_id, _, object_name = image_id.partition("-")
    if not dataset_id or not object_name:
        raise DataError("Image not found.")  # not RAGFlow's `{dataset_id}-{object}` form
    raise DataError("Image not found.")  # well formed, but this service stores no images


def artifact(filename: str) -> bytes:
    """An agent artifact's bytes: a name that is not a bare file name is refused, one of
    another type too, and every other one does not exist (no agents run here)."""
    if posixpath.basename(filename) != filename or "/" in filename or "\\" in filename:
        raise DataError("Invalid filename.")
    if posixpath.splitext(filename)[1].lower() not in ARTIFACT_EXTENSIONS:
        raise DataError("invalid file type")
    raise DataError("Artifact not found.")
