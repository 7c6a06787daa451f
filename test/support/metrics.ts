/** Scrapes a gateway's /metrics and reads it the way Prometheus would, with a Prometheus text parser. */
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';

export interface Scrape {
  text: string;
  families: Map<string, MetricFamily>;
  /** The family, or an error naming it. */
  family(name: string): MetricFamily;
  /** Sum of the samples of `name` whose labels include `labels` (0 when none). */
  value(name: string, labels?: Record<string, string>): number;
  /**
   * One series of a histogram with labels: its bucket bounds and count. parse-prometheus-text-format
   * 1.1.1 merges the series of a labelled histogram into one and drops their labels, so these are read
   * from the exposition lines (`name_bucket{...}`, `name_count{...}`) of a family the parser found.
   */
  histogram(name: string, labels: Record<string, string>): { buckets: string[]; count: number };
}

export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(`${url}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  const text = await response.text();
  const families = new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family]));
  const family = (name: string): MetricFamily => {
    const found = families.get(name);
    if (found === undefined) throw new Error(`metric ${name} is not exported`);
    return found;
  };
  const value = (name: string, labels: Record<string, string> = {}): number =>
    family(name)
      .metrics.filter((sample) => Object.entries(labels).every(([key, wanted]) => sample.labels?.[key] === wanted))
      .reduce((sum, sample) => sum + Number(sample.value ?? sample.count ?? 0), 0);
  const histogram = (name: string, labels: Record<string, string>): { buckets: string[]; count: number } => {
    if (family(name).type !== 'HISTOGRAM') throw new Error(`${name} is not a histogram`);
    const wanted = Object.entries(labels).map(([key, label]) => `${key}="${label}"`);
    const lines = text.split('\n').filter((line) => wanted.every((pair) => line.includes(pair)));
    const buckets = lines.filter((line) => line.startsWith(`${name}_bucket{`)).map((line) => /le="([^"]+)"/.exec(line)?.[1] ?? '');
    const countLine = lines.find((line) => line.startsWith(`${name}_count{`));
    return { buckets, count: countLine === undefined ? 0 : Number(countLine.split(' ').pop()) };
  };
  return { text, families, family, value, histogram };
}
