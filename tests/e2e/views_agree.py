#!/usr/bin/env python3
"""The three views of a gateway's counters agree: Prometheus /metrics, DPDK
telemetry (/knockgate/stats, /rules, /lists as dpdk-telemetry.py prints them)
and the final counters of its log. Compares drops by reason, each rule's
packets and bytes, each list's entries, inserts and evictions, and events
lost; prints every difference and exits 1 if there is one.

Usage: views_agree.py METRICS TELEMETRY_OUTPUT GATE_LOG"""
import json
import re
import sys


def prometheus(path):
    out = {}
    for line in open(path):
        m = re.match(r'^(\w+)(\{[^}]*\})? (\S+)$', line.strip())
        if m:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ''))
            out.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    view = {}
    for labels, v in out.get('knockgate_drops_total', []):
        view[('drop', labels['reason'])] = v
    for metric, key in (('knockgate_rule_packets_total', 'packets'),
                        ('knockgate_rule_bytes_total', 'bytes')):
        for labels, v in out.get(metric, []):
            view[('rule', int(labels['rule']), key)] = v
    for metric, key in (('knockgate_list_entries', 'entries'),
                        ('knockgate_list_inserts_total', 'added'),
                        ('knockgate_list_evictions_total', 'evicted')):
        for labels, v in out.get(metric, []):
            view[('list', labels['list'], key)] = v
    for labels, v in out.get('knockgate_events_lost_total', []):
        view[('events_lost', labels['class'])] = v
    return view


def telemetry(path):
    text = open(path).read()
    replies = {}
    decoder = json.JSONDecoder()
    i = 0
    while (i := text.find('{', i)) >= 0:
        try:
            obj, end = decoder.raw_decode(text, i)
        except ValueError:
            i += 1
            continue
        replies.update(obj)
        i = end
    view = {}
    stats = replies['/knockgate/stats']
    for reason, v in stats['drops'].items():
        view[('drop', reason)] = v
    view[('events_lost', 'chatter')] = stats['events_lost']
    view[('events_lost', 'state')] = stats['state_events_lost']
    for key, r in replies['/knockgate/rules'].items():
        if key.startswith('rule/'):
            view[('rule', r['index'], 'packets')] = r['packets']
            view[('rule', r['index'], 'bytes')] = r['bytes']
    for key, l in replies['/knockgate/lists'].items():
        view[('list', l['name'], 'entries')] = l['entries']
        view[('list', l['name'], 'added')] = l['inserts']
        view[('list', l['name'], 'evicted')] = l['evictions']
    return view


def report(path):
    lines = open(path).read().split('final counters:\n', 1)[1].splitlines()
    view = {}
    for line in lines:
        if line.startswith('drops:'):
            for reason, v in re.findall(r' (\w+)=(\d+)', line):
                view[('drop', reason)] = int(v)
        elif m := re.match(r'^rule (\d+): packets=(\d+) bytes=(\d+)', line):
            view[('rule', int(m.group(1)), 'packets')] = int(m.group(2))
            view[('rule', int(m.group(1)), 'bytes')] = int(m.group(3))
        elif m := re.match(r'^list (\S+): entries=(\d+) added=(\d+) evicted=(\d+)$', line):
            for key, v in zip(('entries', 'added', 'evicted'), m.groups()[1:]):
                view[('list', m.group(1), key)] = int(v)
        elif line.startswith('worker '):
            lost = re.search(r'events-lost=(\d+), state-events-lost=(\d+)', line)
            for cls, v in zip(('chatter', 'state'), lost.groups()):
                key = ('events_lost', cls)
                view[key] = view.get(key, 0) + int(v)
    return view


def main():
    views = {'metrics': prometheus(sys.argv[1]), 'telemetry': telemetry(sys.argv[2]),
             'report': report(sys.argv[3])}
    # The report names only the drop reasons it saw: absent is zero there.
    keys = set().union(*views.values())
    bad = 0
    for key in sorted(keys, key=str):
        values = {name: v.get(key, 0 if key[0] == 'drop' else None) for name, v in views.items()}
        if len({None if x is None else float(x) for x in values.values()}) != 1:
            print(f'# differs: {key}: {values}')
            bad += 1
    rules = sum(1 for k in keys if k[0] == 'rule')
    print(f'# {len(keys)} counters compared ({rules // 2} rules), {bad} differ')
    if rules == 0 or not any(views['report'].get(k, 0) for k in keys if k[0] == 'rule'):
        print('# no rule counted a packet: nothing was compared')
        bad += 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
