"""The dashboard: a Django project and app in one package.

It places orders through the order API, draws each order's path through the choreography live
from the observability queue, and rebuilds its read model from CloudWatch Logs.
"""
