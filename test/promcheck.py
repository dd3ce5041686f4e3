#!/usr/bin/env python3
"""test/promcheck.py - compares a Prometheus scrape with expected series.

    promcheck.py SCRAPE EXPECTED PREFIX...

SCRAPE: the text the exporter served (exposition format 0.0.4).
EXPECTED: tab-separated lines "metric  labels  value", labels as
k=v pairs joined by ';' (may be empty), value as PostgreSQL printed it
(an empty value is NULL: the exporter's NaN).  Labels of the scrape that
EXPECTED does not name (the exporter's own, such as server) are ignored.

For each PREFIX (a metric family, e.g. esi_route_requests_total) prints
one line: "PREFIX ok N" when the scrape has exactly the expected series of
that family with exactly the expected values (compared as float64), else
"PREFIX mismatch" followed by what differs.
"""
import math
import re
import sys

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def unescape(v):
    return v.replace('\\"', '"').replace('\\n', '\n').replace('\\\\', '\\')


def parse_scrape(path):
    series = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.rstrip('\n')
            if not line or line.startswith('#'):
                continue
            m = LINE.match(line)
            if not m:
                continue
            labels = {k: unescape(v) for k, v in LABEL.findall(m.group(3) or '')}
            series.append((m.group(1), labels, float(m.group(4))))
    return series


def same(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b


def main():
    scrape = parse_scrape(sys.argv[1])
    expected = []
    with open(sys.argv[2], encoding='utf-8') as f:
        for line in f:
            line = line.rstrip('\n')
            if not line:
                continue
            name, labels, value = (line.split('\t') + ['', ''])[:3]
            lab = dict(p.split('=', 1) for p in labels.split(';') if p)
            expected.append((name, lab, float('nan') if value == '' else float(value)))
    for prefix in sys.argv[3:]:
        want = [e for e in expected if e[0] == prefix]
        got = [s for s in scrape if s[0] == prefix]
        problems = []
        used = set()
        for name, lab, value in want:
            hits = [i for i, s in enumerate(got)
                    if all(s[1].get(k) == v for k, v in lab.items())]
            if len(hits) != 1:
                problems.append('%s %s: %d series in the scrape' % (name, lab, len(hits)))
                continue
            used.add(hits[0])
            if not same(got[hits[0]][2], value):
                problems.append('%s %s: scraped %r, view %r' % (name, lab, got[hits[0]][2], value))
        for i, s in enumerate(got):
            if i not in used:
                problems.append('%s %s = %r: not in the view' % s)
        if problems:
            print('%s mismatch' % prefix)
            for p in problems:
                print('  ' + p)
        else:
            print('%s ok %d' % (prefix, len(want)))


if __name__ == '__main__':
    main()
