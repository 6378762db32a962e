// pingpong: two async functions pass a number back and forth through two queues (peer.js),
// N round trips. Usage: node pingpong.js [N=1000000].
// Prints "pingpong n=N seconds=S rate=ROUND_TRIPS_PER_SECOND".
'use strict';
const peer = require('./peer');

async function ping(q1, q2, n) {
    let sum = 0;
    for (let i = 0; i < n; ++i) {
        await q1.put(i);
        sum += await q2.get();
    }
    return sum;
}

async function pong(q1, q2, n) {
    for (let i = 0; i < n; ++i) await q2.put(await q1.get());
}

async function main(n) {
    const q1 = new peer.Queue();
    const q2 = new peer.Queue();
    const start = peer.now();
    const [sum] = await Promise.all([ping(q1, q2, n), pong(q1, q2, n)]);
    const seconds = peer.now() - start;
    if (sum !== (n * (n - 1)) / 2) throw new Error('pingpong.js: wrong sum');
    console.log(`pingpong n=${n} seconds=${seconds.toFixed(6)} rate=${(n / seconds).toFixed(0)}`);
}

main(peer.count(1000000));
