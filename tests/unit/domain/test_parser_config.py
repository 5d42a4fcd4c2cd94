"""Parser settings per chunk method: RAGFlow's defaults, and what a client sends laid over them."""

from kb_ingest.domain.parser_config import parser_config_for


def test_naive_defaults_are_ragflows():
    config = parser_config_for("naive", None)
    assert config["chunk_token_num"] == 512 and config["delimiter"] == "\n"
    assert config["raptor"]["use_raptor"] is True and config["graphrag"]["use_graphrag"] is True
    assert config["table_context_size"] == 0 and config["image_context_size"] == 0
    assert config["children_delimiter"] == ""  # parent_child is off


def test_methods_without_defaults_keep_only_the_common_ones():
    assert parser_config_for("table", None) == {"table_context_size": 0, "image_context_size": 0}
    assert parser_config_for("qa", {})["raptor"] == {"use_raptor": False}


def test_sent_settings_merge_into_nested_defaults_without_changing_them():
    config = parser_config_for("naive", {"chunk_token_num": 64, "raptor": {"max_token": 1024}})
    assert config["chunk_token_num"] == 64
    assert config["raptor"]["max_token"] == 1024 and config["raptor"]["use_raptor"] is True
    assert parser_config_for("naive", None)["raptor"]["max_token"] == 512


def test_parent_child_decides_the_children_delimiter():
    config = parser_config_for("naive", {"parent_child": {"use_parent_child": True, "children_delimiter": "##"}})
    assert config["children_delimiter"] == "##"
