/**
 * Watches the process's resident memory against MEMORY_LIMIT_MB. Over the
 * ceiling the node reports not ready and refuses new connections; it accepts
 * again once back under 90% of it, so it does not flap at the line.
 */
export class MemoryWatch {
  private over = false;
  private readonly timer: NodeJS.Timeout | null;

  constructor(
    private readonly limitBytes: number,
    private readonly readRss: () => number = () => process.memoryUsage.rss(),
    intervalMs = 1000,
  ) {
    this.timer = limitBytes > 0 ? setInterval(() => this.sample(), intervalMs) : null;
    this.timer?.unref();
  }

  get overCeiling(): boolean {
    return this.over;
  }

  sample(): void {
    const rss = this.readRss();
    if (rss > this.limitBytes) this.over = true;
    else if (rss < this.limitBytes * 0.9) this.over = false;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }
}
