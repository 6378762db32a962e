// Keep-alive HTTP/1.1 "Hello, World!" server on Node's http module.
// Usage: node http_server.js [port=0]. Prints "listening on 127.0.0.1 PORT", then serves
// until killed.
'use strict';
const http = require('http');

const server = http.createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/') {
        response.writeHead(200, {'Content-Type': 'text/plain', 'Content-Length': 13});
        response.end('Hello, World!');
    } else {
        response.writeHead(404, {'Content-Type': 'text/plain', 'Content-Length': 10});
        response.end('Not found\n');
    }
});
server.keepAliveTimeout = 60000;
server.listen({host: '127.0.0.1', port: Number(process.argv[2] || 0), backlog: 4096}, () => {
    console.log(`listening on 127.0.0.1 ${server.address().port}`);
});
