/**
 * The HTTP routes check a publication's `data` only for presence (httpPublishParsedBodySchema,
 * batchPublicationParsedSchema), because their bodies come out of JSON.parse. This holds them to the
 * contract's schemas (z.json() data): on any body JSON.parse can make, both decide the same; the route
 * keeps the body as sent (zod's record copy drops a `__proto__` key inside data, which a backend may
 * legitimately send); a body without `data` is refused with a message that says so.
 */
import { expect } from 'chai';
import {
  batchPublicationParsedSchema,
  batchPublicationSchema,
  httpPublishBodySchema,
  httpPublishParsedBodySchema,
} from '../../shared/index.js';

/** Bodies as a backend sends them (JSON texts), good and bad. */
const publishBodies: string[] = [
  '{"room":"chat:1","event":"say","data":{"text":"hi"}}',
  '{"room":"chat:1","event":"say","data":null}',
  '{"room":"chat:1","event":"say","data":0}',
  '{"room":"chat:1","event":"say","data":-1.5e300}',
  '{"room":"chat:1","event":"say","data":false}',
  '{"room":"chat:1","event":"say","data":""}',
  '{"room":"chat:1","event":"say","data":[1,"two",{"three":[3]},null,true]}',
  '{"room":"chat:1","event":"say","data":{"__proto__":{"polluted":true},"constructor":"x"}}',
  '{"room":"chat:1","event":"say","data":"\\u00e9\\ud83d\\ude00"}',
  '{"rooms":["a:1","b:2"],"event":"say","data":{"n":1},"idempotencyKey":"k-1"}',
  '{"namespace":"/admin","room":"chat:1","event":"say","data":{}}',
  '{"room":"chat:1","event":"say"}',
  '{"room":"chat:1","rooms":["a:1"],"event":"say","data":1}',
  '{"event":"say","data":1}',
  '{"room":"bad room","event":"say","data":1}',
  '{"room":"chat:1","event":"say","data":1,"extra":true}',
  '{"room":"chat:1","event":"","data":1}',
  '{"room":"chat:1","event":"say","data":1,"idempotencyKey":""}',
  '[]',
  '"text"',
  'null',
];

const batchItems: string[] = [
  '{"room":"chat:1","event":"say","data":{"text":"hi"}}',
  '{"namespace":"/","room":"chat:1","event":"say","data":[[],{}],"idempotencyKey":"k"}',
  '{"room":"chat:1","event":"say","data":null}',
  '{"room":"chat:1","event":"say"}',
  '{"room":"chat:1","data":1}',
  '{"room":"chat:1","event":"say","data":1,"rooms":["a:1"]}',
  '42',
];

describe('publish bodies as the HTTP routes check them (JSON.parse made them)', () => {
  const agree = (contract: typeof httpPublishBodySchema | typeof batchPublicationSchema, parsedSchema: typeof httpPublishParsedBodySchema | typeof batchPublicationParsedSchema, texts: string[]) => {
    let accepted = 0;
    for (const text of texts) {
      const byContract = contract.safeParse(JSON.parse(text));
      const byRoute = parsedSchema.safeParse(JSON.parse(text));
      expect(byRoute.success, text).to.equal(byContract.success);
      if (byRoute.success) {
        // What is published is what the backend sent, byte for byte once written as JSON again.
        expect(JSON.stringify(byRoute.data), text).to.equal(JSON.stringify(JSON.parse(text)));
        accepted += 1;
      }
    }
    // Both outcomes are exercised.
    expect(accepted).to.be.greaterThan(0).and.lessThan(texts.length);
  };

  it('POST /api/v1/publish: the route decides as the contract on every body, and keeps the body as sent', () => {
    agree(httpPublishBodySchema, httpPublishParsedBodySchema, publishBodies);
  });

  it('keeps a __proto__ key inside data as an own key, as sent', () => {
    const text = '{"room":"chat:1","event":"say","data":{"__proto__":{"x":1},"y":2}}';
    const byRoute = httpPublishParsedBodySchema.parse(JSON.parse(text));
    expect(JSON.stringify(byRoute.data)).to.equal('{"__proto__":{"x":1},"y":2}');
    expect(Object.getPrototypeOf(byRoute.data)).to.equal(Object.prototype);
  });

  it('POST /api/v1/batch: each publication is decided as the contract decides it', () => {
    agree(batchPublicationSchema, batchPublicationParsedSchema, batchItems);
  });

  it('refuses a body without data, saying data is required', () => {
    for (const schema of [httpPublishParsedBodySchema, batchPublicationParsedSchema]) {
      const result = schema.safeParse({ room: 'chat:1', event: 'say' });
      expect(result.success).to.equal(false);
      expect(result.error?.issues.map((issue) => [issue.path.join('.'), issue.message])).to.deep.equal([['data', 'data is required (any JSON value)']]);
    }
  });
});
