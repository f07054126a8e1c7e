#!/usr/bin/python3
"""Writes graphite-web 1.1.8's /functions answer (every function's group,
params with type, required, multiple, default, options) as JSON.

Debian's graphite-web on Python 3.11 answers /functions with a 500 because
inspect.getargspec/formatargspec are gone; this shims them with
getfullargspec (same fields) and calls graphite-web's own functionInfo.

usage: /usr/bin/python3 scripts/graphite-functions.py > whisperserver/render/testdata/functions.json
"""
import inspect, json, os, sys, tempfile

def _getargspec(f):
    s = inspect.getfullargspec(f)
    return inspect.ArgSpec(s.args, s.varargs, s.varkw, s.defaults) if hasattr(inspect, 'ArgSpec') else (s.args, s.varargs, s.varkw, s.defaults)

def _formatargspec(args, varargs=None, varkw=None, defaults=None, *rest, **kw):
    parts = []
    n = len(args) - len(defaults or ())
    for i, a in enumerate(args):
        parts.append(a if i < n else '%s=%r' % (a, defaults[i - n]))
    if varargs:
        parts.append('*' + varargs)
    if varkw:
        parts.append('**' + varkw)
    return '(' + ', '.join(parts) + ')'

if not hasattr(inspect, 'getargspec'):
    inspect.getargspec = _getargspec
if not hasattr(inspect, 'formatargspec'):
    inspect.formatargspec = _formatargspec

d = tempfile.mkdtemp()
with open(os.path.join(d, 'golden_settings.py'), 'w') as f:
    f.write('SECRET_KEY = "x"\nLOG_DIR = %r\nSTORAGE_DIR = %r\nCARBONLINK_HOSTS = []\n' % (d, d))
sys.path.insert(0, d)
os.environ['DJANGO_SETTINGS_MODULE'] = 'graphite.settings'
os.environ['GRAPHITE_SETTINGS_MODULE'] = 'golden_settings'
import django
django.setup()
from graphite.functions import SeriesFunctions
from graphite.functions.views import functionInfo
from graphite.functions.params import Param

def enc(o):
    if isinstance(o, Param):
        return o.toJSON()
    return str(o)

out = {}
for name, f in sorted(SeriesFunctions().items()):
    info = functionInfo(name, f)
    out[name] = {'group': info.get('group'), 'params': info.get('params'), 'function': info.get('function')}
# graphite-web's jsonInfinityEncoder writes infinity as 1e9999.
sys.stdout.write(json.dumps(out, default=enc, indent=1, sort_keys=True).replace('Infinity', '1e9999') + '\n')
