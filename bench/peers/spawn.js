// spawn: N async functions started, then gathered with Promise.all; each returns its index.
// Usage: node spawn.js [N=1000000]. Prints "spawn n=N seconds=S rate=TASKS_PER_SECOND".
'use strict';
const peer = require('./peer');

async function work(i) {
    return i;
}

async function main(n) {
    const start = peer.now();
    const tasks = [];
    for (let i = 0; i < n; ++i) tasks.push(work(i));
    const results = await Promise.all(tasks);
    const seconds = peer.now() - start;
    let sum = 0;
    for (const value of results) sum += value;
    if (sum !== (n * (n - 1)) / 2) throw new Error('spawn.js: wrong sum');
    console.log(`spawn n=${n} seconds=${seconds.toFixed(6)} rate=${(n / seconds).toFixed(0)}`);
}

main(peer.count(1000000));
