// TCP echo server on Node's net module: every chunk read is written back.
// Usage: node echo_server.js [port=0]. Prints "listening on 127.0.0.1 PORT", then serves
// until killed.
'use strict';
const net = require('net');

const server = net.createServer({noDelay: true}, (socket) => {
    socket.on('data', (data) => socket.write(data));
    socket.on('error', () => socket.destroy());
});
server.listen({host: '127.0.0.1', port: Number(process.argv[2] || 0), backlog: 4096}, () => {
    console.log(`listening on 127.0.0.1 ${server.address().port}`);
});
