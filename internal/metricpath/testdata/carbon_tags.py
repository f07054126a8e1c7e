"""Carbon 1.1.7's answer for each tagged name read as JSON lines on stdin.

For every input prints one JSON object: the input, carbon's normalised
path (TaggedSeries.parse(x).path) or its error, and the whisper file carbon
writes for that path with TAG_HASH_FILENAMES = False (relative, '/' form).
Run with Debian's /usr/bin/python3 (graphite-carbon).
"""
import json
import sys

from carbon.util import TaggedSeries

for line in sys.stdin:
    name = json.loads(line)
    out = {"in": name}
    try:
        path = TaggedSeries.parse(name).path
        out["path"] = path
        out["file"] = TaggedSeries.encode(path, "/", hash_only=False) + ".wsp"
    except Exception as e:  # carbon logs every parse error the same way
        out["error"] = str(e)
    print(json.dumps(out, ensure_ascii=False, sort_keys=True))
