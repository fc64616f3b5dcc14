#!/usr/bin/env python3
"""Prints the suite's last line, "N passed, N failed", from meson's logs.

Counts every test of every build directory given that ran in this
session (meson-logs/testlog.json).  With CI=true a skipped test counts as
failed: CI has every service, so a skip means something did not run."""
import json, os, sys

passed = failed = skipped = 0
for bdir in sys.argv[1:]:
    path = os.path.join(bdir, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        continue
    with open(path) as f:
        for line in f:
            r = json.loads(line).get("result")
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
if skipped:
    print(f"{skipped} skipped")
    if os.environ.get("CI") == "true":
        failed += skipped
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or passed == 0 else 0)
