// Sends the same DogStatsD-tagged metrics with the npm client hot-shots to
// every UDP port given: node hotshots.cjs MODULE_ROOT PORT [PORT…]
'use strict';
const path = require('path');
const StatsD = require(path.join(process.argv[2], 'node_modules', 'hot-shots'));

const ports = process.argv.slice(3).map(Number);
const clients = ports.map((port) => new StatsD({
  host: '127.0.0.1', port, maxBufferSize: 0, cacheDns: false,
  errorHandler: (err) => { console.error('hot-shots:', err); process.exitCode = 1; },
}));

for (const c of clients) {
  c.increment('hs.req', 1, { dc: 'eu', env: 'prod' });
  c.increment('hs.req', 2, ['dc:eu', 'env:prod']);
  // One series, tags in two orders: Etsy keeps two keys, carbon makes them
  // one series and keeps only the last point of the flush; hekad sums them.
  c.increment('hs.mix', 1, { env: 'prod', dc: 'eu' });
  c.increment('hs.mix', 2, { dc: 'eu', env: 'prod' });
  c.increment('hs.req', 4, { env: 'dev', dc: 'eu' });
  c.increment('hs.req', 8); // untagged: its own series
  c.timing('hs.lat', 12, { env: 'prod', ver: '1.2' });
  c.timing('hs.lat', 30, { env: 'prod', ver: '1.2' });
  c.timing('hs.lat', 18, { env: 'prod', ver: '1.2' });
  c.gauge('hs.temp', 21.5, { room: 'a/b', route: '/users/:id' });
  c.set('hs.users', 'alice', { env: 'prod' });
  c.set('hs.users', 'bob', { env: 'prod' });
  c.increment('hs.flag', 3, ['canary', 'env:prod']); // a bare tag
}
let open = clients.length;
for (const c of clients) {
  c.close((err) => {
    if (err) { console.error('close:', err); process.exitCode = 1; }
    if (--open === 0) console.log('sent');
  });
}
