"""The local stack: template.yaml played by moto (DynamoDB, S3, SQS, EventBridge) plus an in-process
API Gateway (HTTP API, payload 2.0), SQS event-source pollers and a schedule runner.

Modules:
    template  -- template.yaml read into typed views, and the intrinsic-function resolver
    stack     -- LocalStack: the moto server and every resource the template declares
    runtime   -- loading handlers and invoking them like Lambda (context, timeouts, payload limits)
    gateway   -- the HTTP API emulation (routing, events, responses)
    poller    -- SQS event-source mappings and Schedule events
    serve     -- `python -m infra.local.serve` and the `run_local_stack()` test fixture API
"""
