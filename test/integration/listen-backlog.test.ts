/**
 * LISTEN_BACKLOG: while a node is busy (here: stopped with SIGSTOP, the extreme
 * of a node working through a burst), the kernel completes the TCP handshake of
 * up to the backlog's worth of new connections and queues them for the node;
 * past it, it drops their SYNs and each client waits out TCP retransmissions
 * (1, 3, 7, 15 s). A drained node's 15,000 clients arriving on the others
 * overflowed Node's default of 511 (docs/operations.md, Sizing).
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { startGatewayProcess, type GatewayProcess } from '../../tools/processes/gateway-process.js';
import { TEST_JWT_SECRET } from '../../tools/processes/tokens.js';

const ATTEMPTS = 1000;

/** Opens `count` TCP connections to the stopped node and counts those the kernel completed within `waitMs`. */
async function connectedWhileStopped(node: GatewayProcess, count: number, waitMs = 1500): Promise<number> {
  const sockets: Socket[] = [];
  let connected = 0;
  process.kill(node.pid, 'SIGSTOP');
  try {
    for (let i = 0; i < count; i += 1) {
      const socket = tcpConnect({ host: '127.0.0.1', port: node.port });
      socket.on('connect', () => (connected += 1));
      socket.on('error', () => undefined);
      sockets.push(socket);
    }
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    return connected;
  } finally {
    for (const socket of sockets) socket.destroy();
    process.kill(node.pid, 'SIGCONT');
  }
}

describe('listen backlog (LISTEN_BACKLOG)', function () {
  this.timeout(30_000);
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());

  it('queues a burst of connections for a busy node: by default up to 4,096 (the kernel caps it at net.core.somaxconn)', async () => {
    const node = await startGatewayProcess({ JWT_SECRET: TEST_JWT_SECRET });
    try {
      // Linux queues backlog + 1 connections; Node's default backlog (511) would stop at 512 of these 1,000.
      expect(await connectedWhileStopped(node, ATTEMPTS)).to.equal(Math.min(ATTEMPTS, Math.min(4096, somaxconn) + 1));
      // The node serves again once it runs.
      expect((await fetch(`${node.url}/healthz`)).status).to.equal(200);
    } finally {
      await node.kill();
    }
  });

  it('queues no more than LISTEN_BACKLOG: past it the kernel drops the SYNs', async () => {
    const node = await startGatewayProcess({ JWT_SECRET: TEST_JWT_SECRET, LISTEN_BACKLOG: '50' });
    try {
      expect(await connectedWhileStopped(node, 200)).to.equal(51);
    } finally {
      await node.kill();
    }
  });
});
