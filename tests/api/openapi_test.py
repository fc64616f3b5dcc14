#!/usr/bin/env python3
"""docs/openapi.yaml describes every API route of the router's table.

Reads `facturo serve --print-routes` (the one route table in
src/http/router.c) and fails if an API route (/v1/…, /healthz, /metrics)
is missing from the OpenAPI document, or if the document lists an
operation the server does not serve.  The HTML pages of the portal
(web/, documented in their own docs) may be listed but need not be.
Also checks every $ref resolves.
"""
import os
import subprocess
import sys

try:
    import yaml
except ImportError:
    print("SKIP: python3-yaml missing")
    sys.exit(77)

BIN = os.environ["FACTURO_BIN"]
SRC = os.environ["FACTURO_SRC"]
doc = yaml.safe_load(open(os.path.join(SRC, "docs", "openapi.yaml")))
out = subprocess.run([BIN, "serve", "--print-routes"], capture_output=True,
                     text=True, check=True).stdout
routes = set()
for line in out.splitlines():
    method, pattern = line.split()[:2]
    if pattern.startswith("/v1/") or pattern in ("/healthz", "/metrics"):
        routes.add((method.lower(), pattern))
documented = set()
for path, item in doc["paths"].items():
    for m in item:
        if m in ("get", "post", "put", "patch", "delete"):
            documented.add((m, path))
fails = 0
for r in sorted(routes - documented):
    print("FAIL: route %s %s is not in docs/openapi.yaml" % r)
    fails += 1
served = set()
for line in out.splitlines():
    method, pattern = line.split()[:2]
    served.add((method.lower(), pattern))
for r in sorted(documented - served):
    print("FAIL: docs/openapi.yaml lists %s %s, which the server does not serve" % r)
    fails += 1


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


for ref in refs(doc):
    cur = doc
    for part in ref.lstrip("#/").split("/"):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        print("FAIL: unresolved $ref %s" % ref)
        fails += 1
print("%d routes, %d documented operations, %d problems"
      % (len(routes), len(documented), fails))
sys.exit(1 if fails else 0)
