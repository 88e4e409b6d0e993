#!/usr/bin/env python3
"""Runs every query of a Grafana dashboard against a Prometheus server and
checks that each returns data: the shipped dashboard's panels can never name
a metric or label knockgate does not export. Grafana's variables are given
the values a viewer of every gateway would see ($instance: all of them,
$__rate_interval: 30s). Prints one line per query; exits 1 on any failure.

Usage: dashboard_check.py DASHBOARD.json http://127.0.0.1:9090"""
import json
import sys
import urllib.parse
import urllib.request

VARIABLES = {'$instance': '.*', '$__rate_interval': '30s'}


def query(base, expr):
    url = base + '/api/v1/query?' + urllib.parse.urlencode({'query': expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        reply = json.load(r)
    if reply.get('status') != 'success':
        return None, reply.get('error', 'no status')
    return reply['data']['result'], None


def panels_of(dashboard):
    for p in dashboard['panels']:
        yield p
        yield from p.get('panels', [])


def main():
    dashboard = json.load(open(sys.argv[1]))
    base = sys.argv[2]
    bad = 0
    ids = [p['id'] for p in panels_of(dashboard)]
    if len(ids) != len(set(ids)):
        print('FAIL - panel ids repeat')
        bad += 1
    checked = 0
    for p in panels_of(dashboard):
        if p['type'] == 'row':
            continue
        if not p.get('targets') or p.get('datasource', {}).get('uid') != '${datasource}':
            print(f'FAIL - panel "{p["title"]}" has no query or no ${{datasource}}')
            bad += 1
        for t in p.get('targets', []):
            expr = t['expr']
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            result, error = query(base, expr)
            checked += 1
            if error or not result:
                print(f'FAIL - "{p["title"]}": {expr}: {error or "no data"}')
                bad += 1
            else:
                print(f'ok   - "{p["title"]}": {len(result)} series: {expr}')
    for v in dashboard['templating']['list']:
        if v['type'] == 'query':  # label_values(METRIC, LABEL)
            metric, label = v['definition'][len('label_values('):-1].split(', ')
            url = f'{base}/api/v1/label/{label}/values?' + urllib.parse.urlencode({'match[]': metric})
            with urllib.request.urlopen(url, timeout=10) as r:
                values = json.load(r)['data']
            ok = bool(values)
            print(f'{"ok  " if ok else "FAIL"} - variable ${v["name"]}: {values}')
            bad += 0 if ok else 1
    print(f'# {checked} queries run, {bad} failed')
    return 1 if bad or checked == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
