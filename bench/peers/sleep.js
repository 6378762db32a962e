// sleep: N async functions each await a one-second timer at the same time. Wall time runs
// from the first start to the end of Promise.all; bytes per task are (peak resident memory
// once all sleep - resident memory before) / N, from /proc/self/status as in every peer.
// Usage: node sleep.js [N=1000000]. Prints "sleep n=N wall_s=S bytes_per_task=B".
'use strict';
const peer = require('./peer');

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

async function nap() {
    await sleep(1000);
}

async function main(n) {
    const before = peer.statusBytes('VmRSS');
    const start = peer.now();
    const tasks = [];
    for (let i = 0; i < n; ++i) tasks.push(nap());
    // An async function runs to its first await when called: every task sleeps already.
    const peak = peer.statusBytes('VmHWM');
    await Promise.all(tasks);
    const wall = peer.now() - start;
    console.log(
        `sleep n=${n} wall_s=${wall.toFixed(3)} bytes_per_task=${((peak - before) / n).toFixed(0)}`);
}

main(peer.count(1000000));
