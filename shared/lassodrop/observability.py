"""The one place the Powertools Logger, Metrics and Tracer are created; everything imports them from here."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
tracer = Tracer()
