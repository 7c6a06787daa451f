/**
 * Which token the next handshake carries, and renewing it before it expires.
 * A function token is asked again on every (re)connect; a string token is
 * replaced by whatever `refreshToken` returned last.
 */
import { isTokenExpired, refreshDelayMs, tokenTimes } from './jwt.js';
import { RoomcastError } from './errors.js';
import type { TokenProvider } from './options.js';
import type { Scheduler, TimerHandle } from './scheduler.js';

export interface TokenKeeperOptions {
  token: TokenProvider;
  refreshToken: (() => Promise<string>) | undefined;
  scheduler: Scheduler;
}

/** Below this much remaining lifetime a failed refresh is not retried (the reconnect path takes over). */
const MIN_RETRY_WINDOW_MS = 2_000;

export class TokenKeeper {
  private readonly options: TokenKeeperOptions;
  private current: string | undefined;
  private timer: TimerHandle | undefined;
  /** Bumped by cancel(), so a renewal already under way when the connection dropped stops quietly. */
  private generation = 0;

  constructor(options: TokenKeeperOptions) {
    this.options = options;
    if (typeof options.token === 'string') this.current = options.token;
  }

  get token(): string | undefined {
    return this.current;
  }

  get canRefresh(): boolean {
    return this.options.refreshToken !== undefined;
  }

  /** The token for the next handshake; an expired one is renewed first rather than sent to be refused. */
  async forHandshake(): Promise<string> {
    const provider = this.options.token;
    let token = typeof provider === 'function' ? await provider() : (this.current ?? provider);
    if (this.options.refreshToken !== undefined && isTokenExpired(token, this.options.scheduler.now())) {
      token = await this.options.refreshToken();
    }
    this.current = token;
    return token;
  }

  /** Asks the application for a new token now (after TOKEN_EXPIRED). */
  async refresh(): Promise<string> {
    if (this.options.refreshToken === undefined) throw RoomcastError.local('TOKEN_EXPIRED', 'the token expired and no refreshToken option is set');
    this.current = await this.options.refreshToken();
    return this.current;
  }

  /**
   * Arms the renewal of the current token shortly before it expires: `send`
   * hands the new token to the gateway (auth:refresh); only once it is accepted
   * does it replace the current one.
   */
  schedule(send: (token: string) => Promise<void>, onError: (error: RoomcastError) => void): void {
    this.cancel();
    if (this.options.refreshToken === undefined || this.current === undefined) return;
    const delay = refreshDelayMs(this.current, this.options.scheduler.now());
    if (delay === null) return;
    this.arm(delay, send, onError);
  }

  cancel(): void {
    this.generation += 1;
    if (this.timer === undefined) return;
    this.options.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(delay: number, send: (token: string) => Promise<void>, onError: (error: RoomcastError) => void): void {
    this.timer = this.options.scheduler.setTimeout(() => {
      this.timer = undefined;
      void this.renew(send, onError);
    }, delay);
  }

  private async renew(send: (token: string) => Promise<void>, onError: (error: RoomcastError) => void): Promise<void> {
    const refreshToken = this.options.refreshToken;
    if (refreshToken === undefined) return;
    const previous = this.current;
    const generation = this.generation;
    try {
      const next = await refreshToken();
      if (generation !== this.generation) return;
      await send(next);
      this.current = next;
      if (generation === this.generation) this.schedule(send, onError);
    } catch (error) {
      if (generation !== this.generation) return;
      onError(RoomcastError.from(error, { event: 'auth:refresh' }));
      // Retry halfway to expiry, again after each failure while some time is left; past that, the
      // gateway's TOKEN_EXPIRED and the reconnect path take over.
      const expiresAt = previous === undefined ? undefined : tokenTimes(previous)?.expiresAt;
      const remaining = expiresAt === undefined ? 0 : expiresAt - this.options.scheduler.now();
      if (remaining > MIN_RETRY_WINDOW_MS && this.timer === undefined) this.arm(remaining / 2, send, onError);
    }
  }
}
