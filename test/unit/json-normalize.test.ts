import { expect } from 'chai';
import { normalizeToJson } from '../../server/transports/socketio/json-normalize.js';

describe('msgpack payloads normalised to JSON', () => {
  it('returns the very same value when it is JSON already', () => {
    const payload = { room: 'r:1', event: 'e', data: { list: [1, 'two', null, { deep: true }] } };
    expect(normalizeToJson(payload)).to.equal(payload);
  });

  it('does what the JSON parser would: undefined keys dropped, undefined in arrays -> null, Date -> ISO, NaN -> null', () => {
    const when = new Date('2026-11-29T01:00:00.000Z');
    const payload = { room: 'r:1', since: undefined, data: { at: when, gone: undefined, list: [undefined, Number.NaN, Infinity, 1], nested: { ok: 1 } } };
    const normalised = normalizeToJson(payload);
    expect(normalised).to.deep.equal({ room: 'r:1', data: { at: '2026-11-29T01:00:00.000Z', list: [null, null, null, 1], nested: { ok: 1 } } });
    expect(normalised).to.deep.equal(JSON.parse(JSON.stringify(payload)));
    expect(payload.data.gone).to.equal(undefined, 'the input is not modified');
    expect(Object.keys(payload)).to.include('since');
  });

  it('leaves binary as binary (refused by the schemas, as with the JSON parser) and stops at a depth bound', () => {
    const bytes = Buffer.from([1, 2, 3]);
    expect((normalizeToJson({ data: bytes }) as { data: unknown }).data).to.equal(bytes);
    let deep: unknown = { v: undefined };
    for (let i = 0; i < 200; i += 1) deep = [deep];
    expect(() => normalizeToJson(deep)).to.not.throw();
  });
});
