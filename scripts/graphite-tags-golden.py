#!/usr/bin/python3
"""Records Graphite 1.1's tag answers (carbon-cache 1.1.7 + graphite-web 1.1.8) as golden files.

Starts graphite-web (gunicorn, its default LocalDatabaseTagDB on a fresh
sqlite file) and carbon-cache with ENABLE_TAGS = True, TAG_HASH_FILENAMES =
False and GRAPHITE_URL pointing at graphite-web, all on 127.0.0.1; sends the
tagged plaintext lines of LINES to carbon; waits until carbon wrote every
file and registered every series with graphite-web; then asks graphite-web
every request of REQUESTS and writes its answers, with carbon's folder.

usage: /usr/bin/python3 scripts/graphite-tags-golden.py [OUT_DIR]
  writes  OUT_DIR/whisper/**            (carbon's folder, _tagged/ layout)
          OUT_DIR/tags.json             (now, lines, cases)
  OUT_DIR defaults to whisperserver/graphiteapi/testdata/tags; the live
  test in whisperserver/graphiteapi runs it into a temporary folder.
"""
import json, os, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.error, urllib.parse, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, '..', 'whisperserver', 'graphiteapi', 'testdata', 'tags')
STEP = 60
POINTS = 20

# Series as a client sends them (tag order as sent; the second app.req line
# is the first one reordered: carbon normalises both to one series).
SERIES = [
    'app.req;env=prod;dc=eu', 'app.req;env=dev;dc=eu', 'app.req;dc=us;env=prod', 'app.req;region=eu-west;env=staging',
    'app.lat;env=prod', 'app.lat;env=dev;host=web1', 'app.lat;host=web2;env=prod',
    'disk.free;dc=eu;host=web1', 'disk.free;host=db.1;dc=us', 'cpu.load;dc=us;env=prod;host=db.1',
    'plain.metric',
]
REORDERED = 'app.req;dc=eu;env=prod'

Q = lambda *kv: [list(p) for p in kv]
REQUESTS = [
    ('/tags', Q()), ('/tags', Q(('filter', 'e'))), ('/tags', Q(('filter', '^h'))), ('/tags', Q(('limit', '2'))),
    ('/tags/env', Q()), ('/tags/dc', Q(('filter', 'u'))), ('/tags/host', Q(('limit', '1'))), ('/tags/name', Q()),
    ('/tags/nope', Q()),
    ('/tags/autoComplete/tags', Q()), ('/tags/autoComplete/tags', Q(('tagPrefix', 'd'))),
    ('/tags/autoComplete/tags', Q(('expr', 'env=prod'))),
    ('/tags/autoComplete/tags', Q(('expr', 'env=prod'), ('expr', 'dc=eu'))),
    ('/tags/autoComplete/tags', Q(('expr', 'name=app.lat'), ('tagPrefix', 'h'))),
    ('/tags/autoComplete/tags', Q(('limit', '2'))),
    ('/tags/autoComplete/tags', Q(('expr', 'name=~app'), ('from', '-1h'), ('until', 'now'))),
    ('/tags/autoComplete/values', Q(('tag', 'env'))),
    ('/tags/autoComplete/values', Q(('tag', 'env'), ('valuePrefix', 'p'))),
    ('/tags/autoComplete/values', Q(('tag', 'host'), ('expr', 'dc=us'))),
    ('/tags/autoComplete/values', Q(('tag', 'dc'), ('expr', 'name=app.req'), ('expr', 'env!=dev'))),
    ('/tags/autoComplete/values', Q(('tag', 'name'), ('expr', 'env=~prod|dev'), ('limit', '2'))),
    ('/tags/autoComplete/values', Q(('tag', 'name'), ('valuePrefix', 'app'), ('from', '-6h'))),
    ('/tags/autoComplete/values', Q(('expr', 'env=prod'))),
    ('/tags/findSeries', Q(('expr', 'env=prod'))),
    ('/tags/findSeries', Q(('expr', 'name=app.req'), ('expr', 'dc!=eu'))),
    ('/tags/findSeries', Q(('expr', 'name=~app'), ('expr', 'env!=~prod'))),
    ('/tags/findSeries', Q(('expr', 'dc=~u'))),
    ('/tags/findSeries', Q(('expr', 'name=~.*free'))),
    ('/tags/findSeries', Q(('expr', 'name=~app'), ('expr', 'host='))),
    ('/tags/findSeries', Q(('expr', 'env=staging'), ('expr', 'region=eu-west'))),
    ('/tags/findSeries', Q(('expr', 'host=db.1'))),
    ('/tags/findSeries', Q(('expr', 'host='))),
    ('/tags/findSeries', Q()),
]
TARGETS = [
    "seriesByTag('name=app.req')",
    "seriesByTag('env=prod','dc=eu')",
    "seriesByTag('name=app.req','dc!=eu')",
    "seriesByTag('name=~app','env=~pro')",
    "seriesByTag('name=~app\\..*','env!=~prod')",
    'seriesByTag("host=db.1")',
    "seriesByTag('name=~disk','host=')",
    "aliasByTags(seriesByTag('name=app.lat'),'host','env')",
    "aliasByTags(seriesByTag('name=app.req'),1,'dc')",
    "seriesByTag('name=app.req')|aliasByTags('env')",
    "groupByTags(seriesByTag('name=app.req'),'sum','env')",
    "groupByTags(seriesByTag('env=prod'),'average','dc')",
    "groupByTags(seriesByTag('name=~app'),'sumSeries','name')",
    "groupByTags(seriesByTag('name=~app'),'max','name','env')",
    "sumSeries(seriesByTag('dc=eu'))",
    "averageSeries(seriesByTag('name=app.req'))",
    "maxSeries(seriesByTag('host=~web'))",
    "aliasByNode(seriesByTag('name=disk.free'),0,'host')",
    "app.req;dc=eu;env=prod",
]


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(port, path, query, timeout=10):
    url = 'http://127.0.0.1:%d%s?%s' % (port, path, urllib.parse.urlencode([tuple(p) for p in query]))
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait(cond, what, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if cond():
                return
        except Exception:
            pass
        time.sleep(0.3)
    raise SystemExit('timed out waiting for ' + what)


def main():
    d = tempfile.mkdtemp(prefix='tags-golden-')
    wdir = os.path.join(d, 'whisper')
    os.makedirs(wdir)
    procs = []
    try:
        web_port, line_port = free_port(), free_port()
        with open(os.path.join(d, 'tags_settings.py'), 'w') as f:
            f.write('SECRET_KEY = "x"\nALLOWED_HOSTS = ["*"]\nTIME_ZONE = "UTC"\n'
                    'GRAPHITE_ROOT = "/usr/share/graphite-web"\nSTATIC_ROOT = %r\n'
                    'LOG_DIR = %r\nSTORAGE_DIR = %r\nINDEX_FILE = %r\nWHISPER_DIR = %r\nSTANDARD_DIRS = [WHISPER_DIR]\n'
                    'CARBONLINK_HOSTS = []\nCLUSTER_SERVERS = []\nDEFAULT_CACHE_DURATION = 0\nUSE_WORKER_POOL = False\n'
                    'TAGDB_CACHE_DURATION = 0\n'
                    'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": %r}}\n'
                    % (d, d, d, os.path.join(d, 'index'), wdir, os.path.join(d, 'graphite.db')))
        env = dict(os.environ, PYTHONPATH=d, DJANGO_SETTINGS_MODULE='graphite.settings', GRAPHITE_SETTINGS_MODULE='tags_settings')
        subprocess.run(['/usr/bin/python3', '/usr/bin/django-admin', 'migrate', '--noinput'], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        procs.append(subprocess.Popen(['/usr/bin/python3', '/usr/bin/gunicorn', '--bind', '127.0.0.1:%d' % web_port,
                                       '--workers', '1', 'graphite.wsgi:application'], env=env, cwd=d,
                                      stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, 'gunicorn.log'), 'w')))
        wait(lambda: get(web_port, '/version', [])[0] == 200, 'graphite-web')
        conf = os.path.join(d, 'conf')
        os.makedirs(conf)
        with open(os.path.join(conf, 'storage-schemas.conf'), 'w') as f:
            f.write('[all]\npattern = .*\nretentions = %ds:1d\n' % STEP)
        with open(os.path.join(conf, 'storage-aggregation.conf'), 'w') as f:
            f.write('[default]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n')
        with open(os.path.join(conf, 'carbon.conf'), 'w') as f:
            f.write('[cache]\nSTORAGE_DIR = %s\nLOCAL_DATA_DIR = %s\nCONF_DIR = %s\nLOG_DIR = %s\nPID_DIR = %s\n'
                    'LINE_RECEIVER_INTERFACE = 127.0.0.1\nLINE_RECEIVER_PORT = %d\nENABLE_UDP_LISTENER = False\n'
                    'PICKLE_RECEIVER_INTERFACE = 127.0.0.1\nPICKLE_RECEIVER_PORT = 0\nCACHE_QUERY_INTERFACE = 127.0.0.1\n'
                    'CACHE_QUERY_PORT = 0\nMAX_CREATES_PER_MINUTE = inf\nMAX_UPDATES_PER_SECOND = inf\nMAX_CACHE_SIZE = inf\n'
                    'ENABLE_TAGS = True\nTAG_HASH_FILENAMES = False\nGRAPHITE_URL = http://127.0.0.1:%d\n'
                    'TAG_UPDATE_INTERVAL = 1\nTAG_BATCH_SIZE = 100\n'
                    % (d, wdir, conf, d, d, line_port, web_port))
        procs.append(subprocess.Popen(['/usr/bin/carbon-cache', '--config=' + os.path.join(conf, 'carbon.conf'),
                                       '--pidfile=' + os.path.join(d, 'carbon.pid'), '--logdir=' + d, '--nodaemon', 'start'],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        now = int(time.time()) // STEP * STEP
        lines = []
        for i, name in enumerate(SERIES):
            for j in range(POINTS, 0, -1):
                if (i + j) % 7 == 3:
                    continue  # gaps
                lines.append('%s %g %d' % (name, (i + 1) * 10 + j * (i % 3 + 1) + (j % 4) * 0.25, now - j * STEP))
        lines.append('%s 1000 %d' % (REORDERED, now - 2 * STEP))  # same series as app.req;env=prod;dc=eu
        def send():
            with socket.create_connection(('127.0.0.1', line_port), timeout=5) as s:
                s.sendall(('\n'.join(lines) + '\n').encode())
            return True
        wait(send, 'carbon-cache line receiver')
        tagged = sorted(set(
            n.split(';')[0] + ''.join(';' + t for t in sorted(n.split(';')[1:], key=lambda t: t.split('=')[0]))
            for n in SERIES))
        wait(lambda: json.loads(get(web_port, '/tags/findSeries', [('expr', 'name!=')])[1]) == tagged,
             'graphite-web tag database (%d series)' % len(tagged))
        def written():
            n = 0
            for root, _, files in os.walk(wdir):
                n += sum(f.endswith('.wsp') for f in files)
            return n == len(SERIES)
        wait(written, 'carbon whisper files')
        time.sleep(3)  # carbon flushes the cache after creating files
        cases = []
        for path, query in REQUESTS:
            status, body = get(web_port, path, query)
            cases.append({'path': path, 'query': query, 'status': status, 'answer': json.loads(body)})
        for t in TARGETS:
            query = [['target', t], ['format', 'json'], ['from', '-30min'], ['until', 'now'], ['now', str(now)]]
            status, body = get(web_port, '/render', query)
            case = {'path': '/render', 'query': query, 'status': status}
            if status == 200:
                case['answer'] = json.loads(body)
            else:
                case['error'] = body[-1500:]
            cases.append(case)
        for c in cases:
            if c['status'] != 200:
                print('%s %s: %d' % (c['path'], c['query'], c['status']), file=sys.stderr)
        procs[-1].send_signal(signal.SIGTERM)
        procs[-1].wait(timeout=30)
        # carbon's own metrics (carbon/agents/…) are written around its tag
        # registration, so graphite-web's tag database never lists them: leave
        # them out of the recorded folder.
        out_w = os.path.join(OUT, 'whisper')
        shutil.rmtree(out_w, ignore_errors=True)
        shutil.copytree(wdir, out_w, ignore=lambda src, names: ['carbon'] if src == wdir else [])
        with open(os.path.join(OUT, 'tags.json'), 'w') as f:
            json.dump({'now': now, 'lines': lines, 'cases': cases}, f, indent=0, sort_keys=True, allow_nan=False)
            f.write('\n')
        print('%d cases, %d series' % (len(cases), len(SERIES)))
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
        if os.environ.get('KEEP'):
            print('kept', d, file=sys.stderr)
        else:
            shutil.rmtree(d, ignore_errors=True)


main()
