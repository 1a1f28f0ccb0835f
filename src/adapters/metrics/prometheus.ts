import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { InfraError } from '../../app/infra-error';
import type { Clock, Metrics } from '../../app/ports';

/** What `/metrics` reads from the database (and the Slack link) at each scrape. */
export type ScrapeSources = {
  /** Active grants per resource id; every resource of the policy is listed, with 0 when it has none. */
  grantsActive(): Promise<ReadonlyMap<string, number>>;
  /** Grants whose close is failing (see `closesFailing` in app/health). */
  closesFailing(): Promise<number>;
  /** Slack messages waiting in the outbox. */
  outboxDepth(): Promise<number>;
  /** Socket Mode: 1 while the link to Slack is up, 0 while it is down; undefined in HTTP mode. */
  socketUp(): number | undefined;
};

/** Errors of one kind within the recent window, for `/healthz`. */
export type RecentErrors = { readonly count: number; readonly last: Date; readonly error: string };

/**
 * Counters and timings for `/metrics` (Prometheus text format, metric names prefixed `hallpass_`) and
 * the recent Slack and AWS errors `/healthz` reports. One registry per process — never prom-client's
 * global default — so tests can run several bots in one process. With `enabled: false`
 * (`HALLPASS_METRICS=off`) nothing is registered and only the recent errors are kept.
 */
export type Observability = {
  /** The app's `Metrics` port. */
  readonly metrics: Metrics;
  /** One AWS call through a port (`network.revoke`, `roles.start`…): how long it took, and its error if it failed. */
  awsCall(operation: string, seconds: number, error?: unknown): void;
  /** One Slack Web API call that failed (`chat.postMessage`, `invalid_blocks`). */
  slackApiError(method: string, error: string): void;
  /** AWS and Slack errors within `windowMs` (for `/healthz`), undefined when there were none. */
  recentAwsErrors(): RecentErrors | undefined;
  recentSlackErrors(): RecentErrors | undefined;
  /** The port with every method timed and its failures counted as `<name>.<method>`. */
  instrument<T extends object>(port: T, name: string): T;
  /** The scrape: Prometheus text and its content type; undefined when metrics are off. */
  render(): Promise<{ contentType: string; body: string } | undefined>;
};

/** Buckets of `hallpass_expiry_lateness_seconds`: from 10 ms to 5 minutes. */
export const LATENESS_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];
/** Buckets of `hallpass_aws_call_duration_seconds`. */
const AWS_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createObservability(opts: {
  readonly enabled: boolean;
  readonly clock: Clock;
  /** How far back `recent…Errors` look. */
  readonly windowMs: number;
  readonly sources: ScrapeSources;
}): Observability {
  const { clock } = opts;
  const recent = (): { at: number[]; last?: { at: Date; error: string } } => ({ at: [] });
  const aws = recent();
  const slack = recent();
  const note = (r: ReturnType<typeof recent>, error: string): void => {
    const now = clock.now();
    r.at.push(now.getTime());
    r.last = { at: now, error };
    prune(r);
  };
  const prune = (r: ReturnType<typeof recent>): void => {
    const from = clock.now().getTime() - opts.windowMs;
    while ((r.at[0] ?? Number.POSITIVE_INFINITY) < from) r.at.shift();
  };
  const read = (r: ReturnType<typeof recent>): RecentErrors | undefined => {
    prune(r);
    return r.at.length === 0 || r.last === undefined
      ? undefined
      : { count: r.at.length, last: r.last.at, error: r.last.error };
  };

  const m = opts.enabled ? registerMetrics(opts.sources) : undefined;
  const awsCall = (operation: string, seconds: number, error?: unknown): void => {
    m?.awsDuration.observe({ operation }, seconds);
    if (error === undefined) return;
    const code = errorCode(error);
    m?.awsErrors.inc({ operation, code });
    note(aws, `${operation}: ${code}`);
  };
  return {
    metrics: {
      requestOutcome: (outcome) => m?.requests.inc({ outcome }),
      grantClosed: (latenessMs) => m?.lateness.observe(Math.max(0, latenessMs) / 1000),
      reconcileFinding: (kind) => m?.findings.inc({ kind }),
    },
    awsCall,
    slackApiError(method, error) {
      m?.slackErrors.inc({ method, error });
      note(slack, `${method}: ${error}`);
    },
    recentAwsErrors: () => read(aws),
    recentSlackErrors: () => read(slack),
    instrument: (port, name) => instrument(port, name, awsCall),
    async render() {
      if (m === undefined) return undefined;
      return { contentType: m.registry.contentType, body: await m.registry.metrics() };
    },
  };
}

function registerMetrics(sources: ScrapeSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hallpass_' });
  const registers = [registry];
  // A gauge read at scrape time; a source that fails (the database down) leaves the last value.
  const gauge = (name: string, help: string, labelNames: string[], set: (g: Gauge) => Promise<void>): Gauge =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        await set(this).catch(() => undefined);
      },
    });
  gauge(
    'hallpass_grants_active',
    'Active grants, per resource (read from the database at scrape).',
    ['resource'],
    async (g) => {
      const counts = await sources.grantsActive();
      g.reset();
      for (const [resource, n] of counts) g.set({ resource }, n);
    },
  );
  gauge(
    'hallpass_closes_failing',
    'Grants whose close has failed and is being retried, or is overdue.',
    [],
    async (g) => {
      g.set(await sources.closesFailing());
    },
  );
  gauge('hallpass_outbox_depth', 'Slack messages waiting in the outbox.', [], async (g) => {
    g.set(await sources.outboxDepth());
  });
  gauge(
    'hallpass_socket_mode_link_up',
    'Socket Mode: 1 while a link to Slack is up (absent in HTTP mode).',
    [],
    async (g) => {
      const up = sources.socketUp();
      g.reset();
      if (up !== undefined) g.set(up);
    },
  );
  return {
    registry,
    requests: new Counter({
      name: 'hallpass_requests_total',
      help: 'Steps of requests, by outcome (submitted, approved, denied, timed_out, cancelled, failed, opened, extended).',
      labelNames: ['outcome'],
      registers,
    }),
    lateness: new Histogram({
      name: 'hallpass_expiry_lateness_seconds',
      help: 'How long after its planned end each expired grant was closed.',
      buckets: LATENESS_BUCKETS,
      registers,
    }),
    awsDuration: new Histogram({
      name: 'hallpass_aws_call_duration_seconds',
      help: 'AWS calls through the ports (each may hold several SDK attempts), by operation.',
      labelNames: ['operation'],
      buckets: AWS_BUCKETS,
      registers,
    }),
    awsErrors: new Counter({
      name: 'hallpass_aws_call_errors_total',
      help: 'AWS calls that failed, by operation and error code.',
      labelNames: ['operation', 'code'],
      registers,
    }),
    slackErrors: new Counter({
      name: 'hallpass_slack_api_errors_total',
      help: 'Slack Web API calls that failed, by method and error.',
      labelNames: ['method', 'error'],
      registers,
    }),
    findings: new Counter({
      name: 'hallpass_reconcile_findings_total',
      help: 'Reconciliation findings, by kind (orphan, vanished, modified).',
      labelNames: ['kind'],
      registers,
    }),
  };
}

/** A short, bounded label for a failure: the provider's code, else the error's name. */
function errorCode(error: unknown): string {
  if (error instanceof InfraError) return (error.providerCode ?? error.kind).slice(0, 64);
  if (error instanceof Error) return error.name.slice(0, 64);
  return 'unknown';
}

/**
 * `port` with every method wrapped: timed (real time: it measures I/O) and its failures counted, as
 * `<name>.<method>`. What a method returns or throws is passed on unchanged.
 */
function instrument<T extends object>(
  port: T,
  name: string,
  observe: (operation: string, seconds: number, error?: unknown) => void,
): T {
  return new Proxy(port, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      const operation = `${name}.${key}`;
      return (...args: unknown[]) => {
        const started = performance.now();
        const seconds = () => (performance.now() - started) / 1000;
        const result: unknown = Reflect.apply(value, target, args);
        if (!(result instanceof Promise)) return result;
        return result.then(
          (v: unknown) => {
            observe(operation, seconds());
            return v;
          },
          (error: unknown) => {
            observe(operation, seconds(), error);
            throw error;
          },
        );
      };
    },
  });
}
