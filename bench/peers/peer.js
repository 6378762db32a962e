// What the Node.js peer programs share: the count N from the command line, a monotonic
// clock, /proc/self/status (the same source every peer reads) and a minimal async FIFO
// queue (Node has none built in) with Python's Queue semantics for the unbounded case.
'use strict';
const fs = require('fs');

exports.count = (fallback) => {
    const numbers = process.argv.slice(2).filter((a) => /^\d+$/.test(a));
    return numbers.length ? Number(numbers[0]) : fallback;
};

exports.now = () => Number(process.hrtime.bigint()) / 1e9;

exports.statusBytes = (field) => {
    for (const line of fs.readFileSync('/proc/self/status', 'utf8').split('\n')) {
        if (line.startsWith(field + ':')) return Number(line.split(/\s+/)[1]) * 1024;
    }
    return -1;
};

// put() never waits (unbounded); get() waits for an item. Items and waiting getters sit in
// arrays used as FIFOs through a read index, so neither shift() nor allocation per item.
class Queue {
    constructor() {
        this.items = [];
        this.head = 0;
        this.getters = [];
        this.gettersHead = 0;
    }

    async put(item) {
        if (this.gettersHead < this.getters.length) {
            const resolve = this.getters[this.gettersHead++];
            if (this.gettersHead === this.getters.length) this.getters.length = this.gettersHead = 0;
            resolve(item);
        } else {
            this.items.push(item);
        }
    }

    get() {
        if (this.head < this.items.length) {
            const item = this.items[this.head++];
            if (this.head === this.items.length) this.items.length = this.head = 0;
            return Promise.resolve(item);
        }
        return new Promise((resolve) => this.getters.push(resolve));
    }
}
exports.Queue = Queue;
