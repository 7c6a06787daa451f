/** bench/lib/loop-delay.ts reads single values out of a node's Prometheus text; a wrong read would put another metric's value in the report. */
import { expect } from 'chai';
import { metricValue } from '../../bench/lib/loop-delay.js';

describe('event-loop delay from /metrics (bench/lib/loop-delay.ts)', () => {
  const text = [
    '# HELP nodejs_eventloop_lag_max_seconds The maximum recorded event loop delay.',
    '# TYPE nodejs_eventloop_lag_max_seconds gauge',
    'nodejs_eventloop_lag_max_seconds 0.123',
    'nodejs_eventloop_lag_max_seconds_total 9',
    'nodejs_eventloop_lag_p99_seconds 0.0105',
  ].join('\n');

  it('reads the value of the exact metric name, not of one it prefixes', () => {
    expect(metricValue(text, 'nodejs_eventloop_lag_max_seconds')).to.equal(0.123);
    expect(metricValue(text, 'nodejs_eventloop_lag_p99_seconds')).to.equal(0.0105);
  });

  it('reads a metric on the first line', () => {
    expect(metricValue('nodejs_eventloop_lag_max_seconds 2\nx 1', 'nodejs_eventloop_lag_max_seconds')).to.equal(2);
  });

  it('gives NaN for a metric that is not there', () => {
    expect(Number.isNaN(metricValue(text, 'nodejs_eventloop_lag_min_seconds'))).to.equal(true);
  });
});
