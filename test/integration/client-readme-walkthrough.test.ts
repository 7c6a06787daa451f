/**
 * client/README.md's walkthrough works as written: its code blocks fenced
 * ```js walkthrough, in order, make one Node ESM file; the only change is the
 * gateway's URL (http://localhost:3000 becomes the test gateway's). The file runs
 * with node in a fresh app where @roomcast/client is installed from `npm pack` of
 * the workspace, against a real gateway in development mode (POST /dev/token, no
 * JWT setting), as `npm start` runs it. Its output must be the README's "It
 * prints" block, the process must exit by itself, and another member of the room
 * must get the message. A change to the README's code that breaks it fails here.
 */
import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDevGateway, type TestGateway } from '../support/gateway.js';
import { packAndInstall, ROOT, run, type InstalledPackage } from '../support/package-install.js';
import { assertOk, collectMessages, connect, request, waitFor, type TestSocket } from '../support/sockets.js';

/** The URL the walkthrough is written for: `npm start`'s. */
const README_URL = 'http://localhost:3000';

interface Walkthrough {
  code: string;
  /** The lines of the ```text block that follows the code (what the README says it prints). */
  prints: string[];
}

/** The blocks fenced ```js walkthrough, in order, and the first ```text block after the last of them. */
function extractWalkthrough(readme: string): Walkthrough {
  const blocks = [...readme.matchAll(/^```js walkthrough\n([\s\S]*?)^```$/gm)];
  if (blocks.length === 0) throw new Error('client/README.md has no ```js walkthrough blocks');
  const last = blocks[blocks.length - 1] as RegExpMatchArray;
  const after = readme.slice((last.index ?? 0) + last[0].length);
  const prints = /^```text\n([\s\S]*?)^```$/m.exec(after)?.[1];
  if (prints === undefined) throw new Error('client/README.md shows no ```text output after its walkthrough');
  return { code: blocks.map((block) => block[1]).join('\n'), prints: prints.trimEnd().split('\n') };
}

describe('client/README.md walkthrough, run against the packed @roomcast/client', function () {
  this.timeout(300_000);
  let gateway: TestGateway;
  let installed: InstalledPackage;
  let walkthrough: Walkthrough;
  const sockets: TestSocket[] = [];

  before(async () => {
    walkthrough = extractWalkthrough(await readFile(join(ROOT, 'client', 'README.md'), 'utf8'));
    // The JSON parser whatever ROOMCAST_TEST_PARSER says: the walkthrough's client uses the default.
    gateway = await startDevGateway({ PARSER: 'json' });
    installed = await packAndInstall('client', { name: 'walkthrough-app', type: 'module' });
    expect(
      installed.files.filter((path) => path.endsWith('.js')).length,
      `the packed @roomcast/client carries no JavaScript (${installed.files.join(', ')}): the package cannot be installed and imported yet`,
    ).to.be.greaterThan(0);
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await gateway?.close();
    await installed?.close();
  });

  it('is written for the gateway `npm start` runs, and imports the package by its name', () => {
    expect(walkthrough.code).to.include(`'${README_URL}'`);
    expect(walkthrough.code).to.match(/from '@roomcast\/client'/);
  });

  it('runs as one Node ESM file: a token from /dev/token, connect, join chat:lobby, publish, receive, leave, close', async () => {
    // Another member of the room, with its own development token: the message must reach it too.
    const bobToken = await fetch(`${gateway.url}/dev/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'bob', rooms: ['chat:*'] }),
    });
    expect(bobToken.status).to.equal(200);
    const bob = await connect(gateway.url, ((await bobToken.json()) as { token: string }).token, { parser: 'json' });
    sockets.push(bob);
    assertOk(await request(bob, 'room:join', { room: 'chat:lobby' }));
    const atBob = collectMessages(bob);

    await writeFile(join(installed.app, 'walkthrough.mjs'), walkthrough.code.replaceAll(README_URL, gateway.url));
    const result = await run(process.execPath, ['walkthrough.mjs'], installed.app);
    const output = `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
    // It exits by itself (close() leaves nothing open), without an error.
    expect(result.code, output).to.equal(0);
    expect(result.stderr, output).to.equal('');
    // What the README says it prints (the order of `received` and `published` may differ, as it says).
    const lines = result.stdout.trimEnd().split('\n');
    expect([...lines].sort(), output).to.deep.equal([...walkthrough.prints].sort());
    expect(lines).to.include('joined chat:lobby (last offset 0)');
    expect(lines).to.include('received #1 chat from alice: {"text":"hello from Node"}');
    expect(lines).to.include('published #1');
    expect(lines.at(-1)).to.equal('closed');

    await waitFor(() => atBob.length === 1, 5000, 'the walkthrough\'s message at another member');
    expect(atBob[0]).to.deep.include({ room: 'chat:lobby', event: 'chat', data: { text: 'hello from Node' }, offset: 1, from: 'alice' });
  });
});
