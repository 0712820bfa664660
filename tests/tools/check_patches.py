#!/usr/bin/env python3
"""Applies every patch run_cases recorded with an independent RFC 6902 implementation
(Debian's python3-jsonpatch) and requires exactly the object the case expects."""
import json
import sys

import jsonpatch

passed = failed = 0
with open(sys.argv[1]) as f:
    for line in f:
        rec = json.loads(line)
        try:
            got = jsonpatch.apply_patch(rec["object"], rec["patch"])
        except Exception as e:  # a patch python-jsonpatch refuses is a failure, not a crash
            got = "refused: %s" % e
        if got == rec["expected"]:
            passed += 1
            print("ok %s" % rec["id"])
        else:
            failed += 1
            print("FAIL %s: python-jsonpatch gives %s" % (rec["id"], json.dumps(got)[:400]))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
