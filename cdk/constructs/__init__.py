"""Constructs: one per subdomain, plus the shared buses, routes, notifications and
observability. Each takes keyword-only arguments and exposes its resources as attributes;
`cdk.stack.ChoreoStack` wires the permissions between them."""
