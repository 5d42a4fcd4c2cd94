"""ragflow-sdk 0.27 itself, unchanged, against the local stack: every dataset method."""

import pytest
from ragflow_sdk import DataSet, RAGFlow

from kb_ingest.dal.api_keys import create_api_key


@pytest.fixture
def rag(live) -> RAGFlow:
    key, _ = create_api_key(label="ragflow-sdk")
    return RAGFlow(api_key=key, base_url=live.url)


def test_create_list_get_update_delete_with_ragflow_sdk(rag):
    config = DataSet.ParserConfig(rag, {"chunk_token_num": 256, "delimiter": "\n\n"})
    created = rag.create_dataset(name="sdk-kb", description="notes", chunk_method="naive", parser_config=config)
    assert isinstance(created, DataSet) and len(created.id) == 32
    assert created.chunk_method == "naive" and created.document_count == 0 and created.chunk_count == 0
    assert created.parser_config.chunk_token_num == 256 and created.parser_config.delimiter == "\n\n"

    second = rag.create_dataset(name="sdk-kb")  # a taken name gets a suffix
    assert second.name == "sdk-kb(1)"
    listed = rag.list_datasets(orderby="create_time", desc=False)
    assert [d.id for d in listed] == [created.id, second.id]
    assert [d.id for d in rag.list_datasets(page=2, page_size=1)] == [created.id]
    assert [d.id for d in rag.list_datasets(id=second.id)] == [second.id]
    assert rag.get_dataset(name="sdk-kb").id == created.id

    created.update({"name": "renamed", "chunk_method": "qa", "permission": "team"})
    assert (created.name, created.chunk_method, created.permission) == ("renamed", "qa", "team")
    assert rag.get_dataset(name="renamed").chunk_method == "qa"
    with pytest.raises(Exception, match="Dataset name 'sdk-kb\\(1\\)' already exists"):
        created.update({"name": "sdk-kb(1)"})
    with pytest.raises(Exception, match="Input should be 'me' or 'team'"):
        created.update({"permission": "everyone"})

    rag.delete_datasets(ids=[created.id])
    with pytest.raises(Exception, match="lacks permission for dataset 'renamed'"):
        rag.get_dataset(name="renamed")
    with pytest.raises(Exception, match="lacks permission for datasets"):
        rag.delete_datasets(ids=[created.id])
    rag.delete_datasets(delete_all=True)
    assert rag.list_datasets() == []


def test_ragflow_sdk_reports_a_bad_key(live):
    with pytest.raises(Exception, match="Unauthorized"):
        RAGFlow(api_key="ragflow-not-a-key", base_url=live.url).list_datasets()
