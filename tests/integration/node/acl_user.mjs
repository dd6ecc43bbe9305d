// SPDX-License-Identifier: Apache-2.0
// acl_user.mjs — node-redis and ioredis logging in to coproxy as a named user.
//   node acl_user.mjs node-redis|ioredis PORT USER PASSWORD
// Prints one JSON line: a GET and a SET of app:n, and a SET of other:n
// (tests/integration/test_acl.py checks them).  Every step is bounded in time.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [kind, portText, username, password] = process.argv.slice(2);
const port = Number(portText);
const out = {};
const sleep = ms => new Promise(r => setTimeout(r, ms));
const within = (ms, p) => Promise.race([p, sleep(ms).then(() => { throw new Error(`no answer within ${ms} ms`); })]);
const attempt = async p => { try { return await p; } catch (e) { return `error: ${e.message}`; } };

async function nodeRedis() {
    const { createClient } = require('redis');
    const c = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false }, username, password });
    c.on('error', () => {});
    await c.connect();
    out.whoami = await c.sendCommand(['ACL', 'WHOAMI']);
    out.set = await attempt(c.set('app:n', 'v'));
    out.get = await attempt(c.get('app:n'));
    out.other = await attempt(c.set('other:n', 'v'));
    await c.quit();
}

async function ioRedis() {
    const Redis = require('ioredis');
    const c = new Redis({ host: '127.0.0.1', port, username, password, lazyConnect: true, maxRetriesPerRequest: 0,
                          retryStrategy: () => null });
    c.on('error', () => {});
    await c.connect();
    out.whoami = await c.call('ACL', 'WHOAMI');
    out.set = await attempt(c.set('app:n', 'v'));
    out.get = await attempt(c.get('app:n'));
    out.other = await attempt(c.set('other:n', 'v'));
    await c.quit();
}

try {
    await within(30000, kind === 'ioredis' ? ioRedis() : nodeRedis());
} catch (e) {
    out.error = String(e && e.message || e);
}
console.log(JSON.stringify(out));
process.exit(0);
