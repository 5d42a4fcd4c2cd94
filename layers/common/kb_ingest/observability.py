"""Powertools logger, tracer and metrics shared by every function (one instance per container).

Service and namespace are fixed here rather than read from the environment at import, so a
module imported before the environment is set (tests, the local stack) still gets them.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "kb-ingest"
METRICS_NAMESPACE = "KbIngest"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
