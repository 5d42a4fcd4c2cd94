"""infra.local.template: typed views of a SAM template and the intrinsic-function resolver."""

import pytest

from infra.local.template import Physical, Resolver, Template, TemplateError, UnresolvableError

from .conftest import write_project

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Size:
    Type: Number
    Default: 42
  Mode:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
Conditions:
  IsProd: !Equals [!Ref Mode, prod]
Globals:
  Function:
    Timeout: 10
    MemorySize: 256
    Layers: [!Ref Shared]
    Environment:
      Variables:
        TABLE: !Ref Things
        SIZE: !Ref Size
        FLAG: true
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/shared
  Things:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{ AttributeName: id, AttributeType: S }]
      KeySchema: [{ AttributeName: id, KeyType: HASH }]
  ProdOnly:
    Type: AWS::SQS::Queue
    Condition: IsProd
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt JobsDlq.Arn
        maxReceiveCount: 4
  JobsDlq:
    Type: AWS::SQS::Queue
  Api:
    Type: AWS::Serverless::HttpApi
  Web:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/web
      Handler: app.handler
      Environment:
        Variables:
          OWN: !Sub "${AWS::StackName}-${Things}-${Jobs.QueueName}"
      Events:
        Get:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Path: /things/{id}
            Method: get
        Any:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Path: /{proxy+}
            Method: ANY
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker
      Handler: app.handler
      Timeout: 9
      Layers: [!Ref Shared]
      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 3
            FunctionResponseTypes: [ReportBatchItemFailures]
        Tick:
          Type: Schedule
          Properties: { Schedule: rate(5 minutes) }
        Bus:
          Type: EventBridgeRule
          Properties: { Pattern: { source: [x] } }
"""


@pytest.fixture
def template(tmp_path):
    return Template(write_project(tmp_path, TEMPLATE, {"web": "handler = 1\n", "worker": "handler = 1\n"}))


def test_globals_merge_into_functions(template):
    web, worker = template.functions["Web"], template.functions["Worker"]
    assert (web.timeout, web.memory_size) == (10, 256)
    assert (worker.timeout, worker.memory_size) == (9, 256)
    assert set(web.environment) == {"TABLE", "SIZE", "FLAG", "OWN"}
    assert worker.properties["Layers"] == [{"Ref": "Shared"}, {"Ref": "Shared"}]  # SAM concatenates lists
    assert web.module_path == template.root / "functions" / "web" / "app.py"
    assert (web.handler_module, web.handler_attribute) == ("app", "handler")


def test_events_are_typed(template):
    web, worker = template.functions["Web"], template.functions["Worker"]
    assert [r.route_key for r in web.http_routes] == ["GET /things/{id}", "ANY /{proxy+}"]
    assert {r.api_id for r in web.http_routes} == {"Api"}
    (sqs,) = worker.sqs_sources
    assert (sqs.queue_id, sqs.batch_size, sqs.report_batch_item_failures) == ("Jobs", 3, True)
    (tick,) = worker.schedules
    assert tick.expression == "rate(5 minutes)"
    assert worker.other_events == {"Bus": "EventBridgeRule"}


def test_conditions_and_parameters(tmp_path):
    path = write_project(tmp_path, TEMPLATE, {})
    assert "ProdOnly" not in Template(path).queues
    assert "ProdOnly" in Template(path, {"Mode": "prod"}).queues
    with pytest.raises(TemplateError):
        Template(path, {"Mode": "staging"})
    with pytest.raises(TemplateError):
        Template(path, {"Nope": "x"})


def test_queue_views(template):
    jobs = template.queues["Jobs"]
    assert (jobs.visibility_timeout, jobs.dead_letter_queue_id, jobs.max_receive_count) == (60, "JobsDlq", 4)
    assert template.queues["JobsDlq"].visibility_timeout == 30  # SQS default


def test_resolver(template):
    physical = {
        "Things": Physical("kb-Things", {"Arn": "arn:aws:dynamodb:us-east-1:1:table/kb-Things"}),
        "Jobs": Physical("http://q/kb-Jobs", {"Arn": "arn:aws:sqs:us-east-1:1:kb-Jobs", "QueueName": "kb-Jobs"}),
    }
    resolver = Resolver(template, physical, stack_name="kb", account_id="1", region="eu-west-1")
    assert resolver.resolve({"Ref": "Things"}) == "kb-Things"
    assert resolver.resolve({"Ref": "Jobs"}) == "http://q/kb-Jobs"
    assert resolver.resolve({"Ref": "Size"}) == 42
    assert resolver.resolve({"Fn::GetAtt": ["Jobs", "Arn"]}) == "arn:aws:sqs:us-east-1:1:kb-Jobs"
    assert resolver.resolve({"Fn::GetAtt": "Jobs.QueueName"}) == "kb-Jobs"
    sub = {"Fn::Sub": "${AWS::StackName}-${Things}-${Jobs.QueueName}-${AWS::Region}-${AWS::AccountId}-${!Literal}"}
    assert resolver.resolve(sub) == "kb-kb-Things-kb-Jobs-eu-west-1-1-${Literal}"
    assert resolver.resolve({"Fn::Sub": ["${A}/${AWS::Partition}", {"A": {"Ref": "Mode"}}]}) == "dev/aws"
    assert resolver.resolve({"Fn::Join": ["-", ["a", {"Ref": "Size"}]]}) == "a-42"
    assert resolver.resolve({"Fn::If": ["IsProd", "p", "d"]}) == "d"
    assert resolver.resolve({"k": {"Ref": "AWS::NoValue"}, "j": 1}) == {"j": 1}
    with pytest.raises(UnresolvableError, match="Ref Missing"):
        resolver.resolve({"Ref": "Missing"})
    with pytest.raises(UnresolvableError, match="not emulate"):
        resolver.resolve({"Ref": "Api"})  # a real resource with no local value given
    with pytest.raises(UnresolvableError, match="knows only"):
        resolver.resolve({"Fn::GetAtt": ["Things", "StreamArn"]})


def test_a_schedule_rate_kept_in_a_parameter_resolves_to_its_value():
    from infra.local.template import Template

    [schedule] = Template().functions["ReparseDocumentsFunction"].schedules
    assert schedule.expression == "rate(10 minutes)"
    overridden = Template(parameter_overrides={"ReparseSchedule": "rate(1 minute)"})
    assert overridden.functions["ReparseDocumentsFunction"].schedules[0].expression == "rate(1 minute)"
