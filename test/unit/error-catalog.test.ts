/** The error catalog is closed and documented: docs/protocol.md lists exactly the codes of shared/errors.ts, with the same retryability and HTTP status. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ERROR_CATALOG, ERROR_CODES, errorPayload, isErrorPayload } from '../../shared/index.js';
import { HTTP_STATUS } from '../../server/ops/http-errors.js';

const PROTOCOL_DOC = fileURLToPath(new URL('../../../docs/protocol.md', import.meta.url));

describe('error catalog', () => {
  const rows = readFileSync(PROTOCOL_DOC, 'utf8')
    .split('\n')
    .map((line) => /^\| `([A-Z_]+)` \| (\d{3}) \| (yes|no)/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null);

  it('docs/protocol.md lists exactly the codes of the catalog', () => {
    expect(rows.map((row) => row[1])).to.deep.equal(ERROR_CODES);
  });

  it('documents the same HTTP status and retryability as the code', () => {
    for (const [, code, status, retryable] of rows) {
      const entry = ERROR_CATALOG[code as keyof typeof ERROR_CATALOG];
      expect(HTTP_STATUS[code as keyof typeof HTTP_STATUS], code).to.equal(Number(status));
      expect(entry.retryable, code).to.equal(retryable === 'yes');
    }
  });

  it('builds wire errors with the catalog defaults', () => {
    expect(errorPayload('RATE_LIMITED')).to.deep.equal({ code: 'RATE_LIMITED', message: ERROR_CATALOG.RATE_LIMITED.message, retryable: true });
    expect(isErrorPayload(errorPayload('ROOM_FULL', 'custom'))).to.equal(true);
    expect(isErrorPayload({ code: 'NOPE', message: '', retryable: false })).to.equal(false);
  });
});
