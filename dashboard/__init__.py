"""The dashboard: a Django project and app in one package.

It places orders through the order API, draws each order's path through the choreography live
from the observability queue, and rebuilds its read model from CloudWatch Logs. Its parts, one
folder each, by what they serve:

- `readmodel/`  what has been observed: the poller of the observability queue, the replay of
                CloudWatch Logs, the one way in (`services`) and the reads (`selectors`)
- `live/`       the live page: the model's graph, the websocket and its broadcast
- `traces/`     the orders list and each order's trace, two orders compared
- `insight/`    search over history, and a trace exported as OpenTelemetry
- `orders/`     placing orders through the order API, and the stock behind them
- `failures/`   dead-letter queues, their redrive, invalid events, the chaos knobs
- `loadtest/`   the load generator and its report (`manage.py load`)
- `web/`        serving it: access, sign-in, Content-Security-Policy, the production server

The rest is the Django project: settings, URLs, the ASGI app, the models (one schema for all
parts) and the AWS the dashboard talks to (`aws`).
"""
