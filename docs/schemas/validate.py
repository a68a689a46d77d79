#!/usr/bin/env python3
"""Validates JSON documents against the schemas here (JSON Schema draft 2020-12).

    validate.py --examples            every schema's own `examples`
    validate.py FILE.jsonl            one JSON document per line, each checked against the
                                      schema its `schema` field names
Prints one line per problem; exits 1 if any.
"""
import json, os, sys
from jsonschema import Draft202012Validator

here = os.path.dirname(os.path.abspath(__file__))
schemas = {}
for f in sorted(os.listdir(here)):
    if f.endswith(".schema.json"):
        s = json.load(open(os.path.join(here, f)))
        Draft202012Validator.check_schema(s)
        schemas[f[: -len(".schema.json")]] = s

problems, checked = [], 0
def check(doc, where):
    global checked
    name = doc.get("schema") if isinstance(doc, dict) else None
    if name not in schemas:
        problems.append(f"{where}: unknown schema {name!r}")
        return
    checked += 1
    for e in Draft202012Validator(schemas[name]).iter_errors(doc):
        problems.append(f"{where}: {name}: {e.message} at {list(e.absolute_path)}")

if sys.argv[1:] == ["--examples"]:
    for name, s in schemas.items():
        if not s.get("examples"):
            problems.append(f"{name}: no examples")
        for i, ex in enumerate(s.get("examples", [])):
            check(ex, f"{name} example {i}")
else:
    for path in sys.argv[1:]:
        for n, line in enumerate(open(path), 1):
            if line.strip():
                check(json.loads(line), f"{path}:{n}")
for p in problems:
    print(p)
print(f"checked {checked} document(s), {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
