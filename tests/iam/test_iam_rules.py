"""infra.iam on its own: calls become the permissions IAM checks, and a removed statement shows."""

import pytest

from infra.iam import Permission, allows, function_policies, permissions
from infra.local.template import Physical, Resolver, Template

REGION, ACCOUNT = "us-east-1", "123456789012"


@pytest.fixture(scope="module")
def resolver():
    template = Template()
    physical = {}
    for lid in template.tables:
        physical[lid] = Physical(f"t-{lid}", {"Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t-{lid}"})
    for lid in template.buckets:
        physical[lid] = Physical("docs-bucket", {"Arn": "arn:aws:s3:::docs-bucket"})
    for lid in template.queues:
        physical[lid] = Physical(
            f"https://q/{ACCOUNT}/q-{lid}", {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q-{lid}", "QueueName": f"q-{lid}"}
        )
    for lid in template.event_buses:
        physical[lid] = Physical(f"bus-{lid}", {"Arn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/bus-{lid}"})
    return template, Resolver(template, physical, account_id=ACCOUNT, region=REGION)


def test_a_transaction_needs_each_item_action_on_each_table():
    needed = permissions(
        "dynamodb",
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "a"}},
                {"Update": {"TableName": "b"}},
                {"ConditionCheck": {"TableName": "a"}},
                {"Delete": {"TableName": "c"}},
            ]
        },
        REGION,
        ACCOUNT,
    )
    assert [str(p) for p in needed] == [
        f"dynamodb:PutItem on arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/a",
        f"dynamodb:UpdateItem on arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/b",
        f"dynamodb:ConditionCheckItem on arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/a",
        f"dynamodb:DeleteItem on arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/c",
    ]


def test_s3_and_sqs_calls_map_to_their_iam_actions():
    assert permissions("s3", "HeadObject", {"Bucket": "b", "Key": "k/x"}, REGION, ACCOUNT) == [
        Permission("s3:GetObject", "arn:aws:s3:::b/k/x")
    ]
    assert permissions("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "k/"}, REGION, ACCOUNT) == [
        Permission("s3:ListBucket", "arn:aws:s3:::b")
    ]
    assert permissions("sqs", "SendMessageBatch", {"QueueUrl": f"http://x/{ACCOUNT}/q"}, REGION, ACCOUNT) == [
        Permission("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q")
    ]
    assert permissions("events", "PutEvents", {"Entries": [{"EventBusName": "bus"}]}, REGION, ACCOUNT) == [
        Permission("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/bus")
    ]


def test_sam_policy_templates_expand_to_what_they_grant(resolver):
    template, resolve = resolver
    entries = function_policies(template, "ListDatasetsFunction", resolve)
    statements = [s for e in entries for s in e.statements]
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t-DatasetsTable"
    assert allows(statements, Permission("dynamodb:Query", f"{table}/index/by_name"))
    assert not allows(statements, Permission("dynamodb:PutItem", table)), "a read policy must not allow writes"
    assert not allows(statements, Permission("dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/other"))


def test_removing_a_policy_entry_denies_the_calls_it_allowed(resolver):
    template, resolve = resolver
    entries = function_policies(template, "CreateDatasetFunction", resolve)
    put_dataset = Permission("dynamodb:PutItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t-DatasetsTable")
    assert allows([s for e in entries for s in e.statements], put_dataset)
    without = [e for e in entries if not allows(e.statements, put_dataset)]
    assert len(without) == len(entries) - 1
    assert not allows([s for e in without for s in e.statements], put_dataset)
