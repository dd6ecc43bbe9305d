// SPDX-License-Identifier: Apache-2.0
// clients.mjs — a real client from npm, with its own defaults, through coproxy.
//   node clients.mjs node-redis|node-redis-resp2|node-redis-resp3|ioredis PORT
// Prints one JSON line: each step's result (tests/integration/test_node_clients.py
// checks them).  Every step is bounded in time.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [kind, portText] = process.argv.slice(2);
const port = Number(portText);
const out = {};
const sleep = ms => new Promise(r => setTimeout(r, ms));
const within = (ms, p) => Promise.race([p, sleep(ms).then(() => { throw new Error(`no answer within ${ms} ms`); })]);

async function nodeRedis(resp) {
    const { createClient } = require('redis');
    const opts = { socket: { host: '127.0.0.1', port } };
    if (resp) opts.RESP = resp;
    const make = async () => { const c = createClient(opts); c.on('error', () => {}); await c.connect(); return c; };
    const c = await make(), other = await make(), sub = await make();
    const hello = await c.sendCommand(['HELLO']);   // the protocol the client chose, as coproxy saw it
    out.proto = Array.isArray(hello) ? hello[hello.indexOf('proto') + 1] : (hello.proto ?? hello.get?.('proto'));
    out.set = await c.set('nk', 'v');
    out.get = await c.get('nk');
    out.mset = await c.mSet({ 'na': '1', 'nb': '2', 'nc': '3', 'nd': '4' });
    out.mget = await c.mGet(['na', 'nb', 'nc', 'nd', 'nmissing']);
    const pl = [];
    for (let i = 0; i < 1000; i++) pl.push(c.set(`np${i}`, String(i)));
    await Promise.all(pl);
    const back = [];
    for (let i = 0; i < 1000; i++) back.push(c.get(`np${i}`));
    out.pipeline = (await Promise.all(back)).every((v, i) => v === String(i)) ? 1000 : 'wrong';
    const m = c.multi();
    m.set('ntx', '1'); m.incr('ntx'); m.get('ntx');
    out.multi = await m.exec();
    out.hgetall = (await c.hSet('nh', { f: 'v', g: 'w' }), await c.hGetAll('nh'));
    out.eval = await c.eval('return {KEYS[1], ARGV[1]}', { keys: ['nk'], arguments: ['x'] });
    const popped = c.blPop('nq', 10);
    await sleep(200);
    await other.rPush('nq', 'job');
    out.blpop = await within(10000, popped);
    const got = [];
    await sub.subscribe('nch', msg => got.push(['message', msg]));
    await sub.pSubscribe('npat*', (msg, ch) => got.push(['pmessage', ch, msg]));
    await sub.sSubscribe('nshard', msg => got.push(['smessage', msg]));
    await other.publish('nch', 'hi');
    await other.publish('npattern', 'there');
    await other.sPublish('nshard', 'sharded');
    for (let i = 0; i < 100 && got.length < 3; i++) await sleep(50);
    out.pubsub = got;
    await sub.unsubscribe('nch');
    await sub.pUnsubscribe('npat*');
    await sub.sUnsubscribe('nshard');
    if (resp !== 2) {   // client-side caching: CLIENT TRACKING, invalidations as RESP3 pushes
        const cached = createClient({ ...opts, RESP: 3, clientSideCache: { ttl: 0, maxEntries: 0 } });
        cached.on('error', () => {});
        await cached.connect();
        const keys = ['nc0', 'nc1', 'nc2', 'nc3', 'nc4', 'nc5'];   // over both servers (or cluster masters)
        for (const k of keys) await other.set(k, 'old');
        for (const k of keys) await cached.get(k);
        const first = await Promise.all(keys.map(k => cached.get(k)));   // from the cache
        const hits = cached.clientSideCache.stats().hitCount;
        for (const k of keys) await other.set(k, 'new');
        let now = [];
        for (let i = 0; i < 200; i++) {   // the invalidations arrive: the next reads see the new values
            now = await Promise.all(keys.map(k => cached.get(k)));
            if (now.every(v => v === 'new')) break;
            await sleep(50);
        }
        out.cache = { first, hits, now };
        await cached.quit();
    }
    for (const x of [c, other, sub]) await x.quit();
}

async function ioredis() {
    const Redis = require('ioredis');
    const make = () => new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1 });
    const c = make(), other = make(), sub = make();
    out.set = await c.set('ik', 'v');
    out.get = await c.get('ik');
    out.mset = await c.mset({ 'ia': '1', 'ib': '2', 'ic': '3', 'id': '4' });
    out.mget = await c.mget('ia', 'ib', 'ic', 'id', 'imissing');
    const p = c.pipeline();
    for (let i = 0; i < 1000; i++) p.set(`ip${i}`, String(i));
    for (let i = 0; i < 1000; i++) p.get(`ip${i}`);
    const res = await p.exec();
    out.pipeline = res.slice(1000).every(([err, v], i) => err === null && v === String(i)) ? 1000 : 'wrong';
    out.multi = (await c.multi().set('itx', '1').incr('itx').get('itx').exec()).map(([, v]) => v);
    out.hgetall = (await c.hset('ih', { f: 'v', g: 'w' }), await c.hgetall('ih'));
    out.eval = await c.eval('return {KEYS[1], ARGV[1]}', 1, 'ik', 'x');
    const popped = c.blpop('iq', 10);
    await sleep(200);
    await other.rpush('iq', 'job');
    out.blpop = await within(10000, popped);
    const got = [];
    sub.on('message', (ch, msg) => got.push(['message', msg]));
    sub.on('pmessage', (pat, ch, msg) => got.push(['pmessage', ch, msg]));
    sub.on('smessage', (ch, msg) => got.push(['smessage', msg]));
    await sub.subscribe('ich');
    await sub.psubscribe('ipat*');
    await sub.ssubscribe('ishard');
    await other.publish('ich', 'hi');
    await other.publish('ipattern', 'there');
    await other.spublish('ishard', 'sharded');
    for (let i = 0; i < 100 && got.length < 3; i++) await sleep(50);
    out.pubsub = got;
    for (const x of [c, other, sub]) await x.quit();
}

try {
    if (kind === 'ioredis') await within(60000, ioredis());
    else await within(60000, nodeRedis(kind === 'node-redis-resp2' ? 2 : kind === 'node-redis-resp3' ? 3 : undefined));
} catch (e) {
    out.error = String(e && e.message ? e.message : e);
}
console.log(JSON.stringify(out));
process.exit(0);
