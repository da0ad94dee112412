#!/usr/bin/python3
"""Scrapes a Prometheus text exposition (format 0.0.4) and checks it strictly:
it must parse with prometheus_client's parser (Debian's python3-prometheus-client),
every sample must follow the HELP and TYPE of its family, the families must not
be interleaved, no series may repeat, the text must end with a newline, and
each histogram's buckets must be cumulative with a +Inf bucket equal to its
_count. Prints the samples as JSON lines: {"name", "labels", "value"}.

usage: prometheus_check.py URL
"""
import json
import re
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

with urllib.request.urlopen(sys.argv[1], timeout=10) as response:
    content_type = response.headers.get("Content-Type", "")
    text = response.read().decode("utf-8")


def fail(message):
    sys.exit(f"exposition: {message}")


if not content_type.startswith("text/plain") or "version=0.0.4" not in content_type:
    fail(f"Content-Type {content_type!r}")
if not text.endswith("\n"):
    fail("does not end with a newline")

name_re = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
declared, finished, seen, current = {}, set(), set(), None
for number, line in enumerate(text.splitlines(), 1):
    if line.startswith("#"):
        parts = line.split(" ", 3)
        if len(parts) < 3 or parts[1] not in ("HELP", "TYPE") or not name_re.fullmatch(parts[2]):
            fail(f"line {number}: bad comment {line!r}")
        if parts[1] == "TYPE":
            if parts[2] in declared:
                fail(f"line {number}: TYPE of {parts[2]} again")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                fail(f"line {number}: bad type {line!r}")
            declared[parts[2]] = parts[3]
        if current and current != parts[2]:
            finished.add(current)
        current = parts[2]
        continue
    if not line:
        fail(f"line {number}: empty")
    name = name_re.match(line).group(0) if name_re.match(line) else fail(f"line {number}: no name")
    family = next((f for f in (name, re.sub(r"_(bucket|sum|count|total)$", "", name)) if f in declared), None)
    if family is None:
        fail(f"line {number}: {name} has no TYPE before it")
    if family in finished or family != current:
        fail(f"line {number}: {name} is not with the rest of {current}")
    series = line.rsplit(" ", 1)[0]
    if series in seen:
        fail(f"line {number}: {series} twice")
    seen.add(series)

samples = []
for family in text_string_to_metric_families(text):
    if declared.get(family.name, family.type) != family.type and not (
            family.type == "counter" and declared.get(family.name + "_total") == "counter"):
        fail(f"{family.name}: parsed as {family.type}")
    for sample in family.samples:
        samples.append({"name": sample.name, "labels": sample.labels, "value": sample.value})
    if family.type == "histogram":
        by_series = {}
        for sample in family.samples:
            key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            by_series.setdefault(key, {"buckets": [], "count": None, "sum": None})
            entry = by_series[key]
            if sample.name.endswith("_bucket"):
                entry["buckets"].append((float(sample.labels["le"]), sample.value))
            elif sample.name.endswith("_count"):
                entry["count"] = sample.value
            elif sample.name.endswith("_sum"):
                entry["sum"] = sample.value
        for key, entry in by_series.items():
            bounds = [b for b, _ in entry["buckets"]]
            counts = [c for _, c in entry["buckets"]]
            if bounds != sorted(bounds) or not bounds or bounds[-1] != float("inf"):
                fail(f"{family.name}{dict(key)}: buckets out of order or no +Inf")
            if counts != sorted(counts):
                fail(f"{family.name}{dict(key)}: buckets not cumulative")
            if entry["count"] != counts[-1] or entry["sum"] is None:
                fail(f"{family.name}{dict(key)}: _count {entry['count']} against +Inf {counts[-1]}, or no _sum")

for sample in samples:
    print(json.dumps(sample))
