'use strict';
/**
 * The stage's CloudWatch dashboard, for serverless.yml:
 *
 *   DashboardBody: ${file(./scripts/dashboard.cjs):body}
 *
 * osls calls the exported function with `{ resolveVariable }` and reads `body`: an `Fn::Sub`
 * whose text is the dashboard JSON. CloudFormation fills in `${AWS::Region}`, the function's
 * name (`${RelayLambdaFunction}`), the HTTP API id, the queue names and the alarm ARNs
 * (`${<Alarm>.Arn}`) when the stack is created, so packaging needs no AWS account.
 *
 * The metrics are the relay's own (namespace GainsightPxRelay, src/observability.ts) and AWS's
 * (Lambda, API Gateway, SQS). test/integration/template.test.ts checks every one plotted here
 * against the names and dimensions the code defines, and the alarm widget against the template.
 */

const NAMESPACE = 'GainsightPxRelay';
const SERVICE = 'gainsight-px-relay';
const EVENT_TYPES = ['identify', 'group', 'track', 'page', 'screen', 'alias', 'invalid'];
const OUTCOMES = [
  ['delivered', 'Events delivered'],
  ['skipped', 'Events skipped (nothing to send)'],
  ['queued', 'Events parked or queued'],
  ['rejected', 'Events rejected (4xx)'],
  ['failed', 'Events failed (sender retries)'],
];
const CALL_CLASSES = ['2xx', '3xx', '4xx', '5xx', 'Errors'];
const METHODS = ['GET', 'PUT', 'POST'];
const ALARMS = [
  'FunctionErrorsAlarm',
  'FunctionThrottlesAlarm',
  'Http5xxRateAlarm',
  'GainsightQuotaAlarm',
  'ParkedEventAgeAlarm',
  'FailedEventsAlarm',
];

/** A relay metric under the service dimension (and `extra` dimension name/value pairs). */
const relay = (name, extra = [], options) => [NAMESPACE, name, 'service', SERVICE, ...extra, ...(options ? [options] : [])];
const lambda = (name, options) => ['AWS/Lambda', name, 'FunctionName', '${RelayLambdaFunction}', options];
const api = (name, options) => ['AWS/ApiGateway', name, 'ApiId', '${HttpApi}', options];
const queue = (name, resource, options) => ['AWS/SQS', name, 'QueueName', `\${${resource}.QueueName}`, options];

function graph(title, metrics, { stat = 'Sum', period = 300, width = 8, yLabel } = {}) {
  return {
    type: 'metric',
    width,
    height: 6,
    properties: {
      title,
      region: '${AWS::Region}',
      view: 'timeSeries',
      stacked: false,
      stat,
      period,
      metrics,
      ...(yLabel ? { yAxis: { left: { label: yLabel, showUnits: false } } } : {}),
    },
  };
}

function widgets(stage, dailyCallQuota) {
  const calls = CALL_CLASSES.map((cls, i) => relay(`GainsightCalls${cls}`, [], { id: `c${i}`, visible: false }));
  const callSum = CALL_CLASSES.map((_, i) => `FILL(c${i}, 0)`).join(' + ');
  return [
    {
      type: 'text',
      width: 24,
      height: 2,
      properties: {
        markdown: `## gainsight-px-relay, stage ${stage}\nEvents in, answers out, Gainsight PX calls, parked and failed events, configuration loads, the function, and every alarm. docs/operations.md says what each alarm means and what to do.`,
      },
    },
    ...OUTCOMES.map(([outcome, title]) =>
      graph(title, EVENT_TYPES.map((type) => relay('Events', ['type', type, 'outcome', outcome], { label: type }))),
    ),
    graph('Answers by status class (HTTP API)', [
      api('Count', { id: 'all', visible: false }),
      api('4xx', { id: 'e4', label: '4xx' }),
      api('5xx', { id: 'e5', label: '5xx' }),
      [{ expression: 'all - e4 - e5', label: '2xx', id: 'ok' }],
    ]),
    graph('Gainsight PX calls by method', METHODS.map((method) => relay('GainsightCalls', ['method', method], { label: method }))),
    graph('Gainsight PX calls by status class', CALL_CLASSES.map((cls) => relay(`GainsightCalls${cls}`, [], { label: cls }))),
    graph(
      'Gainsight PX latency',
      [relay('GainsightLatency', [], { stat: 'p50', label: 'p50' }), relay('GainsightLatency', [], { stat: 'p99', label: 'p99' })],
      { stat: 'p50', yLabel: 'ms' },
    ),
    graph(
      `Gainsight PX calls over 24 h (% of dailyCallQuota ${dailyCallQuota})`,
      [...calls, [{ expression: `100 * (${callSum}) / ${dailyCallQuota}`, label: '% of quota', id: 'quota' }]],
      { period: 86400, yLabel: '%' },
    ),
    graph('Retries and redrive', [
      relay('Retries', [], { label: 'retries' }),
      relay('EventsRedriven', [], { label: 'redriven' }),
      relay('RedriveRequeued', [], { label: 'requeued' }),
      relay('RedriveRejected', [], { label: 'rejected in redrive' }),
    ]),
    graph('Parked events', [
      queue('ApproximateNumberOfMessagesVisible', 'ParkingQueue', { stat: 'Maximum', label: 'waiting' }),
      queue('ApproximateNumberOfMessagesNotVisible', 'ParkingQueue', { stat: 'Maximum', label: 'in flight or backing off' }),
      relay('EventsParked', [], { label: 'parked' }),
    ]),
    graph('Oldest parked event', [queue('ApproximateAgeOfOldestMessage', 'ParkingQueue', { label: 'age' })], { stat: 'Maximum', yLabel: 's' }),
    graph('Failed queue depth', [queue('ApproximateNumberOfMessagesVisible', 'FailedQueue', { label: 'failed events' })], { stat: 'Maximum' }),
    graph('Configuration (SSM)', [
      relay('ConfigurationLoads', [], { label: 'loads' }),
      relay('ConfigurationLoadFailures', [], { label: 'failed loads' }),
      relay('ConfigurationStale', [], { label: 'served stale' }),
    ]),
    graph('Requests refused', [
      relay('AuthFailures', [], { label: 'unauthenticated (401)' }),
      relay('RejectedRequests', [], { label: 'rejected (4xx)' }),
      relay('ErrorResponses', [], { label: 'errors (5xx)' }),
    ]),
    graph('Function errors and throttles', [lambda('Errors', { label: 'errors' }), lambda('Throttles', { label: 'throttles' })]),
    graph(
      'Function duration',
      [lambda('Duration', { stat: 'p50', label: 'p50' }), lambda('Duration', { stat: 'p99', label: 'p99' }), lambda('Duration', { stat: 'Maximum', label: 'max' })],
      { stat: 'p50', yLabel: 'ms' },
    ),
    graph('Concurrent executions', [lambda('ConcurrentExecutions', { label: 'concurrent' })], { stat: 'Maximum' }),
    {
      type: 'alarm',
      width: 24,
      height: 3,
      properties: { title: 'Alarms', alarms: ALARMS.map((name) => `\${${name}.Arn}`) },
    },
  ];
}

/** Widgets laid out left to right, top to bottom on the dashboard's 24-column grid. */
function laidOut(list) {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  return list.map((widget) => {
    if (x + widget.width > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const placed = { ...widget, x, y };
    x += widget.width;
    rowHeight = Math.max(rowHeight, widget.height);
    return placed;
  });
}

/** The dashboard JSON for `stage`, with `${...}` left for CloudFormation's Fn::Sub. */
function dashboardBody(stage, dailyCallQuota) {
  return JSON.stringify({ widgets: laidOut(widgets(stage, dailyCallQuota)) });
}

module.exports = async ({ resolveVariable }) => ({
  body: { 'Fn::Sub': dashboardBody(await resolveVariable('sls:stage'), Number(await resolveVariable('param:dailyCallQuota'))) },
});
module.exports.dashboardBody = dashboardBody;
