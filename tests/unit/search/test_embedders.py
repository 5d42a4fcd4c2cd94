"""Embedders: the embedded default runs with no network at all, Titan is asked for normalised
vectors, and a dataset's `embedding_model` picks one or is refused with a clear reason."""

import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from kb_ingest.search.embedders import TITAN_V2, TitanEmbedder, UnknownEmbeddingModel, embedder_kind


def test_the_embedded_default_loads_and_embeds_with_the_network_cut_off():
    # Given a process in which any connection attempt fails and hub downloads are forbidden
    script = textwrap.dedent(
        """
        import socket
        def refuse(*args, **kwargs):
            raise OSError("network disabled by the test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        import numpy as np
        from kb_ingest.search.embedders import WordLlamaEmbedder
        embedder = WordLlamaEmbedder()
        docs = embedder.embed_documents(["Lambda functions scale to zero.", "The cat sat on the mat.", ""])
        query = embedder.embed_query("a cat sitting on a mat")
        print(docs.shape, docs.dtype, [round(float(n), 4) for n in np.linalg.norm(docs, axis=1)], int(np.argmax(docs @ query)))
        """
    )
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": "/nonexistent", "PYTHONPATH": "layers/common"}
    # When it loads the model and embeds
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    # Then the weights came from the wheel: vectors of 256, unit length (empty text: zero), and
    # the question about a cat is closest to the sentence about a cat
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(3, 256) float32 [1.0, 1.0, 0.0] 1"


class FakeBedrock:
    def __init__(self) -> None:
        self.bodies: list[dict] = []

    def invoke_model(self, **kwargs):
        assert kwargs["modelId"] == TITAN_V2
        body = json.loads(kwargs["body"])
        self.bodies.append(body)
        vector = np.zeros(1024, dtype=np.float32)
        vector[len(body["inputText"]) % 1024] = 3.0  # not normalised: the embedder must normalise
        payload = json.dumps({"embedding": vector.tolist(), "inputTextTokenCount": 3}).encode()
        return {"body": io.BytesIO(payload)}


def test_titan_asks_bedrock_for_normalised_1024_dimension_vectors_one_text_a_call():
    bedrock = FakeBedrock()
    embedder = TitanEmbedder(client=bedrock)
    texts = ["a", "bb", "ccc", "x" * 60_000]
    vectors = embedder.embed_documents(texts)
    assert vectors.shape == (4, 1024) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert len(bedrock.bodies) == 4
    assert all(body["normalize"] is True and body["dimensions"] == 1024 for body in bedrock.bodies)
    # Titan refuses more than 50,000 characters: longer chunks are cut, not failed
    assert max(len(body["inputText"]) for body in bedrock.bodies) == 50_000
    assert embedder.embed_query("bb").shape == (1024,)


@pytest.mark.parametrize(
    ("model", "default", "kind"),
    [
        ("BAAI/bge-small-en-v1.5@Builtin", "builtin", "builtin"),  # today's API's default for new datasets
        ("BAAI/bge-small-en-v1.5@Builtin", "bedrock", "bedrock"),  # EMBEDDER=bedrock serves the defaults
        ("BAAI/bge-large-zh-v1.5", "builtin", "builtin"),  # the seed API's default, without a factory
        ("amazon.titan-embed-text-v2:0@Bedrock", "builtin", "bedrock"),
        ("wordllama/l2_supercat@Builtin", "bedrock", "builtin"),
    ],
)
def test_dataset_models_map_onto_the_two_embedders(model, default, kind):
    assert embedder_kind(model, default) == kind


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("text-embedding-3-small@OpenAI", "this stack does not run it"),
        ("cohere.embed-english-v3@Bedrock", "this stack does not run it"),
        ("0123456789abcdef0123456789abcdef", "tenant's model record"),
    ],
)
def test_a_model_this_stack_cannot_run_is_refused_saying_what_it_can_run(model, reason):
    with pytest.raises(UnknownEmbeddingModel) as refused:
        embedder_kind(model, "builtin")
    assert reason in refused.value.message
    assert f"'{model}'" in refused.value.message and "amazon.titan-embed-text-v2:0@Bedrock" in refused.value.message


def test_an_unknown_embedder_setting_is_a_clear_error():
    with pytest.raises(UnknownEmbeddingModel, match="EMBEDDER"):
        embedder_kind("BAAI/bge-small-en-v1.5@Builtin", "openai")
