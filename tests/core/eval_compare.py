#!/usr/bin/env python3
"""Compares two `atman eval` runs item for item (eval_mpi_test.sh).

  eval_compare.py same A B   A and B are output prefixes: A.json, A.csv, A.md and the results
                             files A.jsonl + A.rank<N>.jsonl. Every field must be equal (floats
                             exactly) except the wall-clock ones: "seconds" in the JSON and the
                             results lines, the seconds column of the CSV and of the Markdown table.
  eval_compare.py count A    prints "<result lines> <distinct (item, method)>" of A's results files.
"""
import glob
import json
import re
import sys


def results_files(prefix):
    files = [f for f in glob.glob(prefix + ".rank*.jsonl") if re.search(r"\.rank\d+\.jsonl$", f)]
    return ([prefix + ".jsonl"] if glob.glob(prefix + ".jsonl") else []) + sorted(files)


def results(prefix):
    lines = []
    for name in results_files(prefix):
        with open(name, encoding="utf-8") as f:
            for number, line in enumerate(f):
                record = json.loads(line)
                if number == 0:
                    assert "atman_eval_results" in record, name + " has no header"
                    continue
                lines.append(record)
    return lines


def drop_seconds(value):
    if isinstance(value, dict):
        return {k: drop_seconds(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [drop_seconds(v) for v in value]
    return value


def table_without(path, column, separator):
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split(separator) for line in f]
    return [row[:column] + row[column + 1:] if len(row) > column else row for row in rows]


def same(a, b):
    failures = []
    ra = {(r["item"], r["method"]): drop_seconds(r) for r in results(a)}
    rb = {(r["item"], r["method"]): drop_seconds(r) for r in results(b)}
    if not ra:
        failures.append(a + ": no per-item results")
    if ra != rb:
        for key in sorted(set(ra) | set(rb)):
            if ra.get(key) != rb.get(key):
                failures.append("item %s method %s: %s vs %s" % (key[0], key[1], ra.get(key), rb.get(key)))
    with open(a + ".json", encoding="utf-8") as f:
        ja = drop_seconds(json.load(f))
    with open(b + ".json", encoding="utf-8") as f:
        jb = drop_seconds(json.load(f))
    if ja != jb:
        failures.append("JSON reports differ:\n%s\n%s" % (ja, jb))
    seconds_csv = 10  # method,kappa,n,mAP,mAR,mAP_iq,mAR_iq,pointing,deletion_auc,insertion_auc,seconds
    if table_without(a + ".csv", seconds_csv, ",") != table_without(b + ".csv", seconds_csv, ","):
        failures.append("CSV reports differ")
    seconds_md = 9  # "| method | ... | seconds |" split on "|": the seconds cell is the 10th
    if table_without(a + ".md", seconds_md, "|") != table_without(b + ".md", seconds_md, "|"):
        failures.append("Markdown reports differ")
    for failure in failures:
        print("DIFFERENT " + failure)
    if failures:
        return 1
    print("identical item for item (seconds excluded): %d per-item results, %d JSON methods"
          % (len(ra), len(ja["methods"])))
    return 0


def main():
    if sys.argv[1] == "same":
        return same(sys.argv[2], sys.argv[3])
    if sys.argv[1] == "count":
        lines = results(sys.argv[2])
        print(len(lines), len({(r["item"], r["method"]) for r in lines}))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
