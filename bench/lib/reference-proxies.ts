/**
 * Reference proxies for the benchmarks: what the two extra hops of *any* proxy written in Node
 * cost on this machine, measured in the same run as the direct path and Gatehouse. They do no
 * authentication, policy, inspection, masking or recording, so the gap between them and the
 * direct path is the floor a Node proxy cannot go below; the gap between them and Gatehouse is
 * Gatehouse's own work. Run as a child process (own event loop, like the gateway):
 *
 *   node bench/lib/reference-proxies.ts tcp  <upstream port>   # byte pipe (PostgreSQL)
 *   node bench/lib/reference-proxies.ts http <upstream port>   # HTTP/1.1 reverse proxy, undici pool
 *
 * Each prints its listening port on the first line of stdout.
 */
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { Pool } from 'undici';

const [mode, portArg] = process.argv.slice(2);
const upstreamPort = Number(portArg);
if ((mode !== 'tcp' && mode !== 'http') || !Number.isInteger(upstreamPort)) {
  process.stderr.write('usage: reference-proxies.ts tcp|http <upstream port>\n');
  process.exit(2);
}

let server: Server;
if (mode === 'tcp') {
  server = createTcpServer({ noDelay: true }, (client) => {
    const up = connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
    client.pipe(up);
    up.pipe(client);
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });
} else {
  const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 64, pipelining: 1 });
  const http = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      pool.request({
        method: req.method as 'POST', path: req.url ?? '/', body: Buffer.concat(chunks),
        headers: { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' },
      }).then(async (up) => {
        const body = Buffer.from(await up.body.arrayBuffer());
        res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/octet-stream') });
        res.end(body);
      }, () => { res.writeHead(502); res.end(); });
    });
  });
  http.keepAliveTimeout = 60_000;
  server = http;
}
server.listen(0, '127.0.0.1', () => { process.stdout.write(`${(server.address() as AddressInfo).port}\n`); });
process.on('SIGTERM', () => process.exit(0));
