#!/usr/bin/python3
"""Records graphite-web 1.1.8's render answers as golden files.

Writes a small, fixed whisper folder with whisper.py (deterministic values,
nulls, a counter reset, negative values, a tree), then asks graphite-web's
own /render view (in process, Django's test client: the same code path as
gunicorn) for every target of targets.txt and writes what it answered.

usage: /usr/bin/python3 scripts/graphite-golden.py
  reads   whisperserver/graphiteapi/testdata/golden/targets.txt
  writes  whisperserver/graphiteapi/testdata/golden/whisper/**.wsp
          whisperserver/graphiteapi/testdata/golden/render.json (each target's JSON
          answer over both ranges, and over the first its pickle's series info)
"""
import json, math, os, pickle, random, shutil, sys, tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'whisperserver', 'graphiteapi', 'testdata', 'golden')
NOW = 1699999800            # a 10-minute edge, the "now" of every request
STEP = 300
RETENTION = '300s:8d'        # a week of history for holtWinters* and timeStack
RANGES = [('-6h', 'now'), ('-3h', '-1h')]

import whisper

def write_fixture(wdir):
    rnd = random.Random(17)
    n = 8 * 24 * 3600 // STEP
    first = NOW - (n - 1) * STEP
    series = {}
    walk = 50.0
    counter = 0.0
    for i in range(n):
        t = first + i * STEP
        day = 2 * math.pi * (t % 86400) / 86400
        series.setdefault('g.a', {})[t] = None if i % 17 == 5 else round(10 + 5 * math.sin(day) + rnd.random(), 3)
        walk += rnd.uniform(-2, 2)
        series.setdefault('g.b', {})[t] = None if (i % 97) in range(40, 46) else round(walk, 3)
        series.setdefault('g.c', {})[t] = round(rnd.uniform(0, 3), 2) if i % 5 == 0 else None
        counter = 0.0 if i % 211 == 0 else counter + rnd.randint(0, 40)
        series.setdefault('g.counter', {})[t] = None if i % 53 == 7 else counter
        series.setdefault('g.neg', {})[t] = round(rnd.uniform(-20, 5), 2)
        series.setdefault('g.tree.x.leaf', {})[t] = float(i % 24)
        series.setdefault('g.tree.y.leaf', {})[t] = None if i % 3 == 0 else float((i * 7) % 11)
        series.setdefault('g.tree.z.leaf', {})[t] = round(100 * rnd.random(), 1) if i % 40 < 30 else None
    # A statsd-like count per interval, aggregated by sum in its file: what
    # maxDataPoints does to it shows graphite-web's consolidation (average,
    # whatever the file says).
    methods = {'counters.hits': 'sum'}
    for i in range(n):
        series.setdefault('counters.hits', {})[first + i * STEP] = None if i % 29 == 3 else float((i * 13) % 40)
    for name, pts in series.items():
        path = os.path.join(wdir, *name.split('.')) + '.wsp'
        os.makedirs(os.path.dirname(path), exist_ok=True)
        whisper.create(path, [whisper.parseRetentionDef(RETENTION)],
                       xFilesFactor=0.5, aggregationMethod=methods.get(name, 'average'))
        whisper.update_many(path, [(t, v) for t, v in sorted(pts.items()) if v is not None], now=NOW)

def main():
    wdir = os.path.join(ROOT, 'whisper')
    shutil.rmtree(wdir, ignore_errors=True)
    os.makedirs(wdir)
    write_fixture(wdir)
    d = tempfile.mkdtemp()
    with open(os.path.join(d, 'golden_settings.py'), 'w') as f:
        f.write('SECRET_KEY = "x"\nALLOWED_HOSTS = ["*"]\nTIME_ZONE = "UTC"\n'
                'LOG_DIR = %r\nSTORAGE_DIR = %r\nINDEX_FILE = %r\nWHISPER_DIR = %r\nSTANDARD_DIRS = [WHISPER_DIR]\n'
                'CARBONLINK_HOSTS = []\nCLUSTER_SERVERS = []\nDEFAULT_CACHE_DURATION = 0\nUSE_WORKER_POOL = False\n'
                'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": %r}}\n'
                % (d, d, os.path.join(d, 'index'), wdir, os.path.join(d, 'graphite.db')))
    sys.path.insert(0, d)
    os.environ['DJANGO_SETTINGS_MODULE'] = 'graphite.settings'
    os.environ['GRAPHITE_SETTINGS_MODULE'] = 'golden_settings'
    import django
    django.setup()
    from django.core.management import call_command
    call_command('migrate', interactive=False, verbosity=0)
    from django.test import Client
    c = Client(raise_request_exception=False)
    cases = []
    with open(os.path.join(ROOT, 'targets.txt')) as f:
        lines = [l.rstrip('\n') for l in f if l.strip() and not l.startswith('#')]
    for line in lines:
        target, _, extra = line.partition('\t')
        params = dict(kv.split('=', 1) for kv in extra.split('&')) if extra else {}
        for frm, until in RANGES:
            q = {'target': target, 'format': 'json', 'from': frm, 'until': until, 'now': str(NOW)}
            q.update(params)
            r = c.get('/render', q)
            body = r.content.decode()
            case = {'query': q, 'status': r.status_code}
            if r.status_code == 200:
                case['answer'] = json.loads(body)
            else:
                case['error'] = body
                print('%s: %d %s' % (target, r.status_code, body[:200]), file=sys.stderr)
            if r.status_code == 200 and (frm, until) == RANGES[0]:
                # graphite-web's pickle: every series' getInfo() but the
                # values (pathExpression, step, consolidationFunc, …).
                pq = dict(q, format='pickle')
                pq.pop('maxDataPoints', None)
                pr = c.get('/render', pq)
                if pr.status_code == 200:
                    case['info'] = [{k: v for k, v in i.items() if k != 'values'}
                                    for i in pickle.loads(pr.content)]
            cases.append(case)
    with open(os.path.join(ROOT, 'render.json'), 'w') as f:
        json.dump({'now': NOW, 'cases': cases}, f, indent=0, sort_keys=True, allow_nan=False)
        f.write('\n')

main()
