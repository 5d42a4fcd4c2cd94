"""The local SQS consumer runs batches side by side (up to its concurrency), and concurrent
invocations each log under their own request id."""

import json
import threading
import time

from infra.local.poller import BackgroundWorkers, max_concurrency
from infra.local.runtime import FunctionRuntime
from infra.local.stack import LocalStack

from .conftest import write_project

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 10
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
  Slow:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/slow
      Handler: app.handler
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 1
            ScalingConfig:
              MaximumConcurrency: 3
  Talker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/talker
      Handler: app.handler
"""

SLOW = """\
import time

def handler(event, context):
    time.sleep(0.5)
"""

TALKER = """\
import io
import logging
import time

from aws_lambda_powertools import Logger

STREAM = io.StringIO()
logger = Logger(service="talker", logger_handler=logging.StreamHandler(STREAM))


@logger.inject_lambda_context
def handler(event, context):
    for n in range(5):
        logger.info("step", extra={"n": n, "me": event["me"]})
        time.sleep(0.02)
    return context.aws_request_id
"""


def test_batches_run_side_by_side_up_to_the_templates_maximum_concurrency(tmp_path, unique_stack_name):
    path = write_project(tmp_path, TEMPLATE, {"slow": SLOW, "talker": TALKER})
    with LocalStack(path, stack_name=unique_stack_name, set_environ=False) as stack:
        source = stack.template.functions["Slow"].sqs_sources[0]
        assert max_concurrency(source) == 3
        assert max_concurrency(source, 7) == 7  # a local setting wins
        runtime = FunctionRuntime(stack.template, function_names=stack.function_names)
        sqs = stack.client("sqs")
        for n in range(6):
            sqs.send_message(QueueUrl=stack.queue_urls["Jobs"], MessageBody=str(n))
        started = time.monotonic()
        with BackgroundWorkers(stack, runtime, schedules=False) as workers:
            assert workers.wait_idle(timeout=30)
            elapsed = time.monotonic() - started
            poller = workers.pollers[0]
        assert poller.deleted == 6
        assert poller.peak_concurrency == 3  # never more than MaximumConcurrency
        assert elapsed < 6 * 0.5  # one at a time would take 3 s


def test_concurrent_invocations_log_under_their_own_request_ids(tmp_path, unique_stack_name):
    path = write_project(tmp_path, TEMPLATE, {"slow": SLOW, "talker": TALKER})
    with LocalStack(path, stack_name=unique_stack_name, set_environ=False) as stack:
        runtime = FunctionRuntime(stack.template, function_names=stack.function_names)
        results: dict[str, str] = {}

        def call(me: str) -> None:
            results[me] = runtime.invoke("Talker", {"me": me}).result

        threads = [threading.Thread(target=call, args=(f"caller-{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        lines = [json.loads(line) for line in runtime.module("Talker").STREAM.getvalue().splitlines()]
    assert len(lines) == 20
    for line in lines:
        assert line["function_request_id"] == results[line["me"]], line
