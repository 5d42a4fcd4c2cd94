"""The local stack's TransactWriteItems (moto, without table copies) on the chunks table: still all or nothing."""

import pytest

from kb_ingest.settings import get_settings


def _key(document_id, chunk_key):
    return {"document_id": {"S": document_id}, "chunk_key": {"S": chunk_key}}


def _put(table, document_id, chunk_key, condition=True):
    put = {"TableName": table, "Item": _key(document_id, chunk_key)}
    if condition:
        put["ConditionExpression"] = "attribute_not_exists(chunk_key)"
    return {"Put": put}


def test_a_failed_condition_still_writes_nothing(local_stack, tenant_id):
    ddb, table = local_stack.client("dynamodb"), get_settings().chunks_table
    ddb.transact_write_items(TransactItems=[_put(table, tenant_id, "taken")])
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as cancelled:
        ddb.transact_write_items(TransactItems=[_put(table, tenant_id, "new"), _put(table, tenant_id, "taken")])
    reasons = [reason["Code"] for reason in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed"]
    assert "Item" not in ddb.get_item(TableName=table, Key=_key(tenant_id, "new"))


def test_transactions_whose_conditions_hold_write_every_item(local_stack, tenant_id):
    ddb, table = local_stack.client("dynamodb"), get_settings().chunks_table
    ddb.transact_write_items(TransactItems=[_put(table, tenant_id, "a"), _put(table, tenant_id, "b", condition=False)])
    assert all("Item" in ddb.get_item(TableName=table, Key=_key(tenant_id, key)) for key in ("a", "b"))
