import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../src/events/index.ts';
import { HTTP_METHODS } from '../../src/gainsight/types.ts';
import { GAINSIGHT_CALL_METRICS, METRICS_NAMESPACE, METRIC_OUTCOMES, SERVICE_COUNTS, SERVICE_NAME } from '../../src/observability.ts';
import { type Capture, captureOutput, emittedMetrics, saveEnv } from '../support/capture.ts';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { call, httpApiEvent, loadHandler } from '../support/lambda.ts';
import { type Packaged, packageStack } from '../support/package.ts';

/**
 * The stage's CloudWatch dashboard, read from the template `npm run package -- --stage prod`
 * writes: it exists, it plots what issue 15 lists, and every metric it plots is one the relay
 * emits — relay metrics checked against the names and dimensions src/observability.ts defines,
 * AWS metrics against the resources of the same template.
 */


/** The relay's metrics as the code defines them: name → dimensions besides `service`, with their values. */
const DEFINED: Record<string, Record<string, readonly string[]>> = {
  ...Object.fromEntries([...SERVICE_COUNTS, ...GAINSIGHT_CALL_METRICS, 'GainsightLatency'].map((name) => [name, {}])),
  Events: { type: [...EVENT_TYPES, 'invalid'], outcome: METRIC_OUTCOMES },
  GainsightCalls: { method: HTTP_METHODS },
};

interface Plotted {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  stat: string;
  widget: string;
}
interface Widget {
  type: string;
  properties: { title?: string; stat?: string; metrics?: unknown[][]; alarms?: string[]; markdown?: string };
}

let resources: Record<string, { Type: string; Properties: Record<string, any> }>;
let outputs: Record<string, { Value: unknown }>;
let dashboard: { Properties: Record<string, any> };
let bodyText: string;
let widgets: Widget[];
let plotted: Plotted[];

/** Each metric line of each graph (expressions left out), with its statistic. */
function plottedMetrics(list: Widget[]): Plotted[] {
  return list.flatMap((widget) =>
    (widget.properties.metrics ?? [])
      .filter((line) => typeof line[0] === 'string')
      .map((line) => {
        const options = typeof line.at(-1) === 'object' ? (line.at(-1) as { stat?: string }) : {};
        const [namespace, name, ...rest] = line.filter((part) => typeof part === 'string') as string[];
        const dimensions: Record<string, string> = {};
        for (let i = 0; i + 1 < rest.length; i += 2) dimensions[rest[i] as string] = rest[i + 1] as string;
        return { namespace: namespace as string, name: name as string, dimensions, stat: options.stat ?? widget.properties.stat ?? '', widget: widget.properties.title ?? '' };
      }),
  );
}

let packaged: Packaged | undefined;
beforeAll(async () => {
  packaged = await packageStack('prod');
  resources = packaged.template.Resources;
  outputs = packaged.template.Outputs;
  const dashboards = Object.values(resources).filter((resource) => resource.Type === 'AWS::CloudWatch::Dashboard');
  expect(dashboards).toHaveLength(1);
  dashboard = dashboards[0] as { Properties: Record<string, any> };
  bodyText = dashboard.Properties.DashboardBody['Fn::Sub'];
  widgets = JSON.parse(bodyText).widgets;
  plotted = plottedMetrics(widgets);
}, 130_000);
afterAll(() => packaged?.remove());

describe('the dashboard in the packaged prod template', () => {
  it('is named after the service and the stage, and its body is JSON CloudFormation completes', () => {
    expect(dashboard.Properties.DashboardName).toBe('gainsight-px-relay-prod');
    expect(typeof bodyText).toBe('string');
    // Every ${...} CloudFormation fills in names a pseudo parameter or a resource of this template.
    const references = [...bodyText.matchAll(/\$\{([^}]+)\}/g)].map((match) => (match[1] as string).split('.')[0] as string);
    expect(references.length).toBeGreaterThan(0);
    for (const reference of new Set(references)) {
      if (reference.startsWith('AWS::')) expect(reference).toBe('AWS::Region');
      else expect(resources, `resource ${reference}`).toHaveProperty(reference);
    }
  });

  it('plots only relay metrics the code defines, with exactly their dimensions', () => {
    const relay = plotted.filter((metric) => metric.namespace === METRICS_NAMESPACE);
    expect(relay.length).toBeGreaterThan(20);
    for (const metric of relay) {
      const defined = DEFINED[metric.name];
      expect(defined, `${metric.name} (widget "${metric.widget}") is a metric the relay emits`).toBeDefined();
      const { service, ...rest } = metric.dimensions;
      expect(service, metric.name).toBe(SERVICE_NAME);
      expect(Object.keys(rest).sort(), `dimensions of ${metric.name}`).toEqual(Object.keys(defined as object).sort());
      for (const [name, value] of Object.entries(rest)) expect(defined?.[name], `${metric.name} ${name}`).toContain(value);
    }
  });

  it('plots AWS metrics of this stack\'s own function, API and queues', () => {
    const aws = plotted.filter((metric) => metric.namespace !== METRICS_NAMESPACE);
    expect(new Set(aws.map((metric) => metric.namespace))).toEqual(new Set(['AWS/Lambda', 'AWS/ApiGateway', 'AWS/SQS']));
    const owners: Record<string, [string, string, string]> = {
      'AWS/Lambda': ['FunctionName', 'AWS::Lambda::Function', '${RelayLambdaFunction}'],
      'AWS/ApiGateway': ['ApiId', 'AWS::ApiGatewayV2::Api', '${HttpApi}'],
      'AWS/SQS': ['QueueName', 'AWS::SQS::Queue', ''],
    };
    for (const metric of aws) {
      const [dimension, type, value] = owners[metric.namespace] ?? ['', '', ''];
      expect(Object.keys(metric.dimensions), `${metric.namespace} ${metric.name}`).toEqual([dimension]);
      const referenced = /^\$\{(\w+)(\.QueueName)?\}$/.exec(metric.dimensions[dimension] as string)?.[1] as string;
      expect(resources[referenced]?.Type, `${metric.name} in "${metric.widget}"`).toBe(type);
      if (value) expect(metric.dimensions[dimension]).toBe(value);
    }
  });

  it('shows what an operator needs: events by type and outcome, answers, calls, latency, queues, configuration, the function', () => {
    const has = (namespace: string, name: string, dimensions: Record<string, string> = {}, stat?: string) =>
      plotted.some(
        (metric) =>
          metric.namespace === namespace &&
          metric.name === name &&
          Object.entries(dimensions).every(([key, value]) => metric.dimensions[key] === value) &&
          (stat === undefined || metric.stat === stat),
      );
    const relay = (name: string, dimensions: Record<string, string> = {}, stat?: string) => has(METRICS_NAMESPACE, name, dimensions, stat);
    for (const outcome of ['delivered', 'skipped', 'queued', 'rejected', 'failed']) {
      for (const type of ['identify', 'group', 'track', 'page']) expect(relay('Events', { type, outcome }), `${type} ${outcome}`).toBe(true);
    }
    for (const name of ['Count', '4xx', '5xx']) expect(has('AWS/ApiGateway', name), name).toBe(true);
    for (const method of ['PUT', 'POST']) expect(relay('GainsightCalls', { method }), method).toBe(true);
    for (const name of GAINSIGHT_CALL_METRICS) expect(relay(name), name).toBe(true);
    expect(relay('GainsightLatency', {}, 'p50')).toBe(true);
    expect(relay('GainsightLatency', {}, 'p99')).toBe(true);
    for (const name of ['Retries', 'EventsParked', 'ConfigurationLoads', 'ConfigurationLoadFailures', 'ConfigurationStale']) expect(relay(name), name).toBe(true);
    expect(has('AWS/SQS', 'ApproximateNumberOfMessagesVisible', { QueueName: '${ParkingQueue.QueueName}' })).toBe(true);
    expect(has('AWS/SQS', 'ApproximateAgeOfOldestMessage', { QueueName: '${ParkingQueue.QueueName}' })).toBe(true);
    expect(has('AWS/SQS', 'ApproximateNumberOfMessagesVisible', { QueueName: '${FailedQueue.QueueName}' })).toBe(true);
    for (const name of ['Errors', 'Throttles']) expect(has('AWS/Lambda', name), name).toBe(true);
    expect(has('AWS/Lambda', 'Duration', {}, 'p99')).toBe(true);
  });

  it('shows the state of every alarm in the template', () => {
    const alarmWidgets = widgets.filter((widget) => widget.type === 'alarm');
    expect(alarmWidgets).toHaveLength(1);
    const alarms = Object.entries(resources)
      .filter(([, resource]) => resource.Type === 'AWS::CloudWatch::Alarm')
      .map(([name]) => `\${${name}.Arn}`);
    expect(alarms).toContain('${GainsightQuotaAlarm.Arn}');
    expect([...(alarmWidgets[0]?.properties.alarms ?? [])].sort()).toEqual(alarms.sort());
  });

  it('is named, with the queues the CLI works on, in the stack outputs a deploy prints', () => {
    expect(outputs.DashboardName?.Value).toEqual({ Ref: 'Dashboard' });
    expect(outputs.ParkingQueueUrl?.Value).toEqual({ Ref: 'ParkingQueue' });
    expect(outputs.FailedQueueUrl?.Value).toEqual({ Ref: 'FailedQueue' });
  });

  it('lays its widgets out on the 24-column grid without overlaps', () => {
    const cells = new Set<string>();
    for (const widget of widgets as (Widget & { x: number; y: number; width: number; height: number })[]) {
      expect(widget.x + widget.width).toBeLessThanOrEqual(24);
      for (let x = widget.x; x < widget.x + widget.width; x += 1) {
        for (let y = widget.y; y < widget.y + widget.height; y += 1) {
          expect(cells.has(`${x},${y}`), `${widget.properties.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});

describe('the definitions the dashboard is checked against are what the handler emits', () => {
  const restore = saveEnv(['POWERTOOLS_METRICS_DISABLED', 'POWERTOOLS_DEV']);
  let px: FakeGainsight;
  let capture: Capture;

  beforeAll(async () => {
    px = await startFakeGainsight();
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    process.env.POWERTOOLS_DEV = 'false';
    capture = captureOutput();
  });
  afterAll(async () => {
    capture.restore();
    restore();
    await px.close();
  });

  it('emits Events, GainsightCalls and the service-level counts with the defined dimensions only', async () => {
    const handler = await loadHandler({
      PX_API_KEY: px.apiKey,
      PX_PRODUCT_KEY: 'AP-DASHBOARD-1',
      WEBHOOK_SECRET: 'dashboard-secret',
      GAINSIGHT_PX_BASE_URL: px.baseUrl,
      DELIVERY_BUDGET_MS: '600',
      POWERTOOLS_METRICS_DISABLED: 'false',
    });
    px.users.set('known', { identifyId: 'known' });
    px.script({ method: 'POST', path: '/events/custom', status: 400, times: 1 });
    const post = (body: unknown, secret = 'dashboard-secret') => call(handler, httpApiEvent({ secret, body }));

    await post([
      { type: 'identify', userId: 'known', traits: {} },
      { type: 'identify', userId: 'new-user', traits: {} },
      { type: 'track', userId: 'known', event: 'Refused' },
      { type: 'alias', userId: 'known' },
    ]);
    await post({ type: 'identify', userId: 'known' }, 'wrong-secret');

    const emitted = emittedMetrics(capture.entries(), METRICS_NAMESPACE).filter((metric) => metric.name !== 'ColdStart');
    const seen = new Set(emitted.map((metric) => `${metric.name} ${JSON.stringify(metric.dimensions)}`));
    for (const expected of [
      ['Events', { service: SERVICE_NAME, type: 'identify', outcome: 'delivered' }],
      ['Events', { service: SERVICE_NAME, type: 'track', outcome: 'rejected' }],
      ['Events', { service: SERVICE_NAME, type: 'alias', outcome: 'skipped' }],
      ['GainsightCalls', { service: SERVICE_NAME, method: 'PUT' }],
      ['GainsightCalls', { service: SERVICE_NAME, method: 'POST' }],
      ['GainsightCalls2xx', { service: SERVICE_NAME }],
      ['GainsightCalls4xx', { service: SERVICE_NAME }],
      ['GainsightLatency', { service: SERVICE_NAME }],
      ['ConfigurationLoads', { service: SERVICE_NAME }],
      ['AuthFailures', { service: SERVICE_NAME }],
    ] as const) {
      expect(seen, `${expected[0]} ${JSON.stringify(expected[1])}`).toContain(`${expected[0]} ${JSON.stringify(expected[1])}`);
    }
    for (const metric of emitted) {
      const { service, ...rest } = metric.dimensions;
      expect(service).toBe(SERVICE_NAME);
      expect(Object.keys(rest).sort(), metric.name).toEqual(Object.keys(DEFINED[metric.name] ?? { undefined: [] }).sort());
      for (const [name, value] of Object.entries(rest)) expect(DEFINED[metric.name]?.[name], `${metric.name} ${name}`).toContain(value);
    }
  });
});
