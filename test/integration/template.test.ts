import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GAINSIGHT_CALL_METRICS, METRICS_NAMESPACE, SERVICE_NAME } from '../../src/observability.ts';
import { type Packaged, packageStack, root } from '../support/package.ts';

/**
 * Packages the prod stage exactly as `npm run package -- --stage prod` does (offline: no AWS
 * account, no network) and reads the CloudFormation template serverless.yml produces.
 */

const STAGE = 'prod';
/** Passed with --param, as an operator would, to check the alarms are wired to it. */
const ALARM_TOPIC = 'arn:aws:sns:us-east-1:123456789012:relay-alarms';
const SSM_PARAMETER_ARN = `arn:aws:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/gainsight-px-relay/${STAGE}/*`;
/**
 * Fleet limits with prod's parameters (gainsightRequestsPerSecond 150, gainsightMaxInFlight 4,
 * gainsightCallMs 100), as docs/scaling.md works them out:
 * reservedConcurrency = max(2, floor(150 × 100 / (1000 × 4))) = floor(3.75) = 3, and the consumer's
 * maximumConcurrency = max(2, 3 − 1) = 2; the fleet makes at most 3 × 4 × 1000 / 100 = 120 calls/s.
 */
const RESERVED_CONCURRENCY = 3;
const CONSUMER_MAXIMUM_CONCURRENCY = 2;
/** The Deny every queue policy holds: sqs:SendMessage by anyone but the relay's own role. */
const sendOnlyFromTheRelay = (queue: string) => ({
  Sid: 'SendOnlyFromTheRelay',
  Effect: 'Deny',
  Principal: '*',
  Action: 'sqs:SendMessage',
  Resource: { 'Fn::GetAtt': [queue, 'Arn'] },
  Condition: { StringNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': ['IamRoleLambdaExecution', 'Arn'] } } },
});
/** issue 14's bundle target: the handler the zip deploys, the AWS SDK left to the runtime. */
const BUNDLE_TARGET_BYTES = 200 * 1024;
/** Secret-looking values in the packaging shell must never reach the template. */
const SENTINELS = { PX_API_KEY: 'sentinel-px-api-key', WEBHOOK_SECRET: 'sentinel-webhook-secret' };

interface Resource {
  Type: string;
  Properties: Record<string, any>;
}
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

let outDir: string;
let templateText: string;
let resources: Record<string, Resource>;

const ofType = (type: string): [string, Resource][] =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);

const only = (type: string): Resource => {
  const found = ofType(type);
  expect(found, `exactly one ${type}`).toHaveLength(1);
  return found[0]![1];
};

const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

let packaged: Packaged | undefined;
beforeAll(async () => {
  packaged = await packageStack(STAGE, [`--param=alarmTopicArn=${ALARM_TOPIC}`], SENTINELS);
  outDir = packaged.dir;
  templateText = packaged.text;
  resources = packaged.template.Resources as Record<string, Resource>;
}, 130_000);

afterAll(() => packaged?.remove());

describe(`serverless.yml packaged for --stage ${STAGE}`, () => {
  it('routes POST /events and GET /health of one HTTP API to the relay function', () => {
    const routes = ofType('AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties['RouteKey']);
    expect(routes.sort()).toEqual([
      'GET /health',
      'POST /events',
      'POST /v1/alias',
      'POST /v1/batch',
      'POST /v1/group',
      'POST /v1/identify',
      'POST /v1/page',
      'POST /v1/screen',
      'POST /v1/track',
    ]);

    const integration = only('AWS::ApiGatewayV2::Integration').Properties;
    expect(integration['IntegrationType']).toBe('AWS_PROXY');
    expect(integration['PayloadFormatVersion']).toBe('2.0');
    expect(integration['IntegrationUri']).toEqual({ 'Fn::GetAtt': ['RelayLambdaFunction', 'Arn'] });
    expect(only('AWS::ApiGatewayV2::Api').Properties['ProtocolType']).toBe('HTTP');
  });

  it('schedules the housekeeping run with an EventBridge rule', () => {
    const rule = only('AWS::Events::Rule').Properties;
    expect(rule['ScheduleExpression']).toBe('rate(5 minutes)');
    expect(rule['State']).toBe('ENABLED');
    expect(rule['Targets']).toEqual([
      expect.objectContaining({ Arn: { 'Fn::GetAtt': ['RelayLambdaFunction', 'Arn'] } }),
    ]);
  });

  it('runs handler.handler on nodejs22.x arm64 with a timeout under API Gateway’s 29 s', () => {
    const fn = only('AWS::Lambda::Function').Properties;
    expect(fn['Handler']).toBe('handler.handler');
    expect(fn['Runtime']).toBe('nodejs22.x');
    expect(fn['Architectures']).toEqual(['arm64']);
    expect(fn['Timeout']).toBeLessThan(29);
    // the function must outlive its own delivery budget, or a slow delivery is cut off mid-write
    expect(fn['Timeout'] * 1000).toBeGreaterThan(Number(fn['Environment'].Variables.DELIVERY_BUDGET_MS));
  });

  it('points the function at this stage’s SSM prefix and holds no secret values', () => {
    const variables = only('AWS::Lambda::Function').Properties['Environment'].Variables as Record<string, string>;
    expect(variables).toEqual({
      SSM_PREFIX: '/gainsight-px-relay/prod',
      SSM_CACHE_TTL_SECONDS: '300',
      DELIVERY_BUDGET_MS: '8000',
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'gainsight-px-relay',
      LOG_LEVEL: 'INFO',
      DEAD_LETTER_QUEUE_URL: { Ref: 'ParkingQueue' },
      FAILED_QUEUE_URL: { Ref: 'FailedQueue' },
      DELIVERY_MODE: 'direct',
      GAINSIGHT_MAX_IN_FLIGHT: '4',
    });
    for (const name of ['PX_API_KEY', 'PX_PRODUCT_KEY', 'WEBHOOK_SECRET', 'PX_SETTINGS', 'DRY_RUN', 'GAINSIGHT_PX_BASE_URL']) {
      expect(variables).not.toHaveProperty(name);
    }
    for (const value of Object.values(SENTINELS)) expect(templateText).not.toContain(value);
  });

  it('grants exactly the logs and SQS-trigger statements osls adds, ssm:GetParameters on the prefix and kms:Decrypt via SSM', () => {
    expect(ofType('AWS::IAM::Policy')).toEqual([]);
    expect(ofType('AWS::IAM::ManagedPolicy')).toEqual([]);
    const role = only('AWS::IAM::Role').Properties;
    expect(role['ManagedPolicyArns']).toBeUndefined();
    expect(role['Policies']).toHaveLength(1);

    const statements = role['Policies'][0].PolicyDocument.Statement as Statement[];
    const logGroup = 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/gainsight-px-relay-prod*';
    expect(statements).toEqual([
      // added by osls for the function's own log group
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:CreateLogGroup', 'logs:TagResource'],
        Resource: [{ 'Fn::Sub': `${logGroup}:*` }],
      },
      { Effect: 'Allow', Action: ['logs:PutLogEvents'], Resource: [{ 'Fn::Sub': `${logGroup}:*:*` }] },
      // ours
      { Effect: 'Allow', Action: ['ssm:GetParameters'], Resource: [{ 'Fn::Sub': SSM_PARAMETER_ARN }] },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt'],
        Resource: [{ 'Fn::Sub': 'arn:aws:kms:${AWS::Region}:${AWS::AccountId}:key/*' }],
        Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'ssm.${AWS::Region}.amazonaws.com' } } },
      },
      {
        Effect: 'Allow',
        Action: ['sqs:SendMessage'],
        Resource: [{ 'Fn::GetAtt': ['ParkingQueue', 'Arn'] }, { 'Fn::GetAtt': ['FailedQueue', 'Arn'] }],
      },
      {
        Effect: 'Allow',
        Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'],
        Resource: [{ 'Fn::GetAtt': ['ParkingQueue', 'Arn'] }],
      },
      // added by osls for the sqs event (the event source mapping needs GetQueueAttributes)
      {
        Effect: 'Allow',
        Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
        Resource: [{ 'Fn::GetAtt': ['ParkingQueue', 'Arn'] }],
      },
    ]);
    for (const statement of statements) {
      expect(asList(statement.Action).every((action) => typeof action === 'string' && !action.includes('*'))).toBe(true);
      expect(asList(statement.Resource)).not.toContain('*');
      expect(statement.Effect).toBe('Allow');
    }
  });

  it('declares an encrypted 14-day FIFO parking queue that SQS redrives into an encrypted FIFO failed queue', () => {
    const parking = resources['ParkingQueue'];
    const failed = resources['FailedQueue'];
    expect(parking?.Type).toBe('AWS::SQS::Queue');
    expect(failed?.Type).toBe('AWS::SQS::Queue');
    expect(parking?.Properties).toEqual({
      QueueName: 'gainsight-px-relay-prod-parking.fifo',
      FifoQueue: true,
      // the relay sets the deduplication id itself
      ContentBasedDeduplication: false,
      // high-throughput FIFO
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      MessageRetentionPeriod: 1209600,
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 120,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['FailedQueue', 'Arn'] }, maxReceiveCount: 100 },
    });
    expect(failed?.Properties).toEqual({
      QueueName: 'gainsight-px-relay-prod-failed.fifo',
      FifoQueue: true,
      // the relay's copies carry only a group id
      ContentBasedDeduplication: true,
      MessageRetentionPeriod: 1209600,
      SqsManagedSseEnabled: true,
    });
    // a replaced queue (name or type changed) is kept with its messages, not deleted
    expect(parking).toHaveProperty('UpdateReplacePolicy', 'Retain');
    expect(failed).toHaveProperty('UpdateReplacePolicy', 'Retain');
    // Lambda requires a triggering queue's visibility timeout to be at least the function's timeout
    const timeout = only('AWS::Lambda::Function').Properties['Timeout'] as number;
    expect(parking?.Properties['VisibilityTimeout']).toBeGreaterThan(timeout);
  });

  it('lets the parking queue trigger the relay: batches of 10, partial batch responses, the fleet’s maximumConcurrency', () => {
    const mapping = only('AWS::Lambda::EventSourceMapping').Properties;
    expect(mapping).toEqual({
      BatchSize: 10,
      EventSourceArn: { 'Fn::GetAtt': ['ParkingQueue', 'Arn'] },
      FunctionName: { 'Fn::GetAtt': ['RelayLambdaFunction', 'Arn'] },
      Enabled: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: CONSUMER_MAXIMUM_CONCURRENCY },
    });
    // the consumer never takes every slot the function has while there are more than 2
    const reserved = only('AWS::Lambda::Function').Properties['ReservedConcurrentExecutions'] as number;
    expect(mapping['ScalingConfig'].MaximumConcurrency).toBeGreaterThanOrEqual(2);
    expect(mapping['ScalingConfig'].MaximumConcurrency).toBeLessThan(reserved);
  });

  it('lets only the relay’s own role send to either queue', () => {
    const policies = Object.fromEntries(ofType('AWS::SQS::QueuePolicy'));
    expect(Object.keys(policies).sort()).toEqual(['FailedQueuePolicy', 'ParkingQueuePolicy']);
    for (const [name, queue] of [['ParkingQueuePolicy', 'ParkingQueue'], ['FailedQueuePolicy', 'FailedQueue']] as const) {
      expect(policies[name]?.Properties).toEqual({
        Queues: [{ Ref: queue }],
        PolicyDocument: { Version: '2012-10-17', Statement: [sendOnlyFromTheRelay(queue)] },
      });
    }
    // the role the condition names is the function's execution role
    expect(only('AWS::Lambda::Function').Properties['Role']).toEqual({ 'Fn::GetAtt': ['IamRoleLambdaExecution', 'Arn'] });
  });

  it('throttles the HTTP API stage with the prod parameters', () => {
    const stage = only('AWS::ApiGatewayV2::Stage').Properties;
    expect(stage['DefaultRouteSettings']).toEqual({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
  });

  it('serves over HTTPS only: the API is an HTTP API (execute-api, TLS) and its URL is https', () => {
    const api = only('AWS::ApiGatewayV2::Api').Properties;
    expect(api['ProtocolType']).toBe('HTTP');
    const outputs = (JSON.parse(templateText) as { Outputs: Record<string, { Value: unknown }> }).Outputs;
    const url = outputs['HttpApiUrl']?.Value as { 'Fn::Join': [string, unknown[]] };
    expect(url['Fn::Join'][1][0]).toBe('https://');
    expect(ofType('AWS::ApiGatewayV2::DomainName')).toEqual([]);
  });

  it('takes the prod parameters: memory, timeout, reserved concurrency, log retention', () => {
    const fn = only('AWS::Lambda::Function').Properties;
    expect(fn['MemorySize']).toBe(512);
    expect(fn['Timeout']).toBe(15);
    expect(fn['ReservedConcurrentExecutions']).toBe(RESERVED_CONCURRENCY);
    expect(only('AWS::Logs::LogGroup').Properties).toEqual({
      LogGroupName: '/aws/lambda/gainsight-px-relay-prod-relay',
      RetentionInDays: 90,
    });
  });

  it('keeps the fleet under prod’s Gainsight rate: reserved concurrency × in-flight calls at the fastest call', () => {
    const fn = only('AWS::Lambda::Function').Properties;
    const maxInFlight = Number(fn['Environment'].Variables.GAINSIGHT_MAX_IN_FLIGHT);
    const fastestCallMs = 100; // gainsightCallMs
    const allowedPerSecond = 150; // gainsightRequestsPerSecond
    const mostPerSecond = (fn['ReservedConcurrentExecutions'] * maxInFlight * 1000) / fastestCallMs;
    expect(mostPerSecond).toBe(120); // 3 × 4 × 1000 / 100
    expect(mostPerSecond).toBeLessThanOrEqual(allowedPerSecond);
  });

  it('alarms at 80 % of dailyCallQuota over 24 hours, summing every Gainsight call the code counts', () => {
    const alarm = resources['GainsightQuotaAlarm'];
    const properties = alarm?.Properties as { Metrics: { Id: string; Expression?: string; MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: unknown }; Period: number; Stat: string } }[] } & Record<string, unknown>;
    expect(properties).toMatchObject({ Threshold: 80, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 1 });
    const stats = properties.Metrics.filter((metric) => metric.MetricStat !== undefined);
    // The names come from the code that emits them, not from a list copied here.
    expect(stats.map((metric) => metric.MetricStat?.Metric.MetricName).sort()).toEqual([...GAINSIGHT_CALL_METRICS].sort());
    for (const { MetricStat } of stats) {
      expect(MetricStat).toMatchObject({
        Metric: { Namespace: METRICS_NAMESPACE, Dimensions: [{ Name: 'service', Value: SERVICE_NAME }] },
        Period: 86_400,
        Stat: 'Sum',
      });
    }
    const [expression] = properties.Metrics.filter((metric) => metric.Expression !== undefined);
    expect(expression?.Expression).toBe(`100 * (${stats.map((metric) => `FILL(${metric.Id}, 0)`).join(' + ')}) / 1000000`);
  });

  it('declares every alarm, each notifying the SNS topic given as a parameter', () => {
    const alarms = Object.fromEntries(ofType('AWS::CloudWatch::Alarm'));
    expect(Object.keys(alarms).sort()).toEqual([
      'FailedEventsAlarm',
      'FunctionErrorsAlarm',
      'FunctionThrottlesAlarm',
      'GainsightQuotaAlarm',
      'Http5xxRateAlarm',
      'ParkedEventAgeAlarm',
    ]);
    const conditions = (JSON.parse(templateText) as { Conditions: Record<string, unknown> }).Conditions;
    expect(conditions['HasAlarmTopicArn']).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['', ALARM_TOPIC] }] });
    expect(conditions['HasAlarmEmail']).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] });
    expect(conditions['HasAlarmTopic']).toEqual({ 'Fn::Or': [{ Condition: 'HasAlarmEmail' }, { Condition: 'HasAlarmTopicArn' }] });
    for (const alarm of Object.values(alarms)) {
      const topic = { 'Fn::If': ['HasAlarmTopicArn', ALARM_TOPIC, { Ref: 'AlarmTopic' }] };
      const actions = { 'Fn::If': ['HasAlarmTopic', [topic], { Ref: 'AWS::NoValue' }] };
      expect(alarm.Properties['AlarmActions']).toEqual(actions);
      expect(alarm.Properties['OKActions']).toEqual(actions);
    }
    expect(alarms['ParkedEventAgeAlarm']?.Properties).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['ParkingQueue', 'QueueName'] } }],
      Threshold: 3600,
    });
    expect(alarms['FailedEventsAlarm']?.Properties).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['FailedQueue', 'QueueName'] } }],
      Threshold: 0,
    });
    const rate = alarms['Http5xxRateAlarm']?.Properties;
    expect(rate?.['Threshold']).toBe(5);
    expect(JSON.stringify(rate?.['Metrics'])).toContain('"MetricName":"5xx"');
    expect(JSON.stringify(rate?.['Metrics'])).toContain('{"Ref":"HttpApi"}');
    for (const [name, metric] of [['FunctionErrorsAlarm', 'Errors'], ['FunctionThrottlesAlarm', 'Throttles']] as const) {
      expect(alarms[name]?.Properties).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: metric,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'RelayLambdaFunction' } }],
      });
    }
  });

  it('produces the deployment zip with the bundled ESM handler', () => {
    const key = only('AWS::Lambda::Function').Properties['Code'].S3Key as string;
    const zip = join(outDir, basename(key));
    expect(existsSync(zip)).toBe(true);
    expect(statSync(zip).size).toBeGreaterThan(0);
    // zip entry names are stored uncompressed in the archive's headers
    expect(readFileSync(zip).toString('latin1')).toContain('handler.mjs');
  });

  it('keeps handler.mjs within 200 KB by leaving the AWS SDK to the nodejs22.x runtime', async () => {
    const key = only('AWS::Lambda::Function').Properties['Code'].S3Key as string;
    // the benchmark's zip reader (bench/lib/build.mjs), loaded by URL: it is plain JavaScript
    const { readZip } = (await import(pathToFileURL(join(root, 'bench', 'lib', 'build.mjs')).href)) as {
      readZip: (zip: Buffer) => Map<string, Buffer>;
    };
    const files = readZip(readFileSync(join(outDir, basename(key))));
    const handler = files.get('handler.mjs');
    expect(handler, 'handler.mjs in the zip').toBeDefined();
    expect(handler!.length).toBeLessThanOrEqual(BUNDLE_TARGET_BYTES);
    // The SDK is imported by name and found in the runtime: neither inlined (a bundled SDK
    // carries its @smithy/* packages' names) nor shipped beside the handler.
    const code = handler!.toString('utf8');
    expect(code).toMatch(/\bfrom\s*["']@aws-sdk\/client-ssm["']/);
    expect(code).not.toContain('@smithy/');
    expect([...files.keys()].filter((name) => name.startsWith('node_modules/'))).toEqual([]);
  });
});

/**
 * Alarms reach someone (issue 15): with only `alarmEmail`, the stack creates a topic and
 * subscribes the address, and every alarm notifies that topic; packaging says nothing about
 * alarms reaching nobody.
 */
describe(`serverless.yml packaged for --stage ${STAGE} with only an alarm email`, () => {
  const EMAIL = 'relay-ops@example.test';
  let emailPackaged: Packaged | undefined;
  let emailResources: Record<string, Resource>;
  let emailConditions: Record<string, unknown>;
  let packagingOutput: string;

  beforeAll(async () => {
    emailPackaged = await packageStack(STAGE, [`--param=alarmEmail=${EMAIL}`], SENTINELS);
    packagingOutput = emailPackaged.output;
    emailResources = emailPackaged.template.Resources as Record<string, Resource>;
    emailConditions = emailPackaged.template.Conditions;
  }, 130_000);
  afterAll(() => emailPackaged?.remove());

  it('creates the alarm topic, subscribes the address by email, and points every alarm at the topic', () => {
    expect(emailConditions['HasAlarmEmail']).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['', EMAIL] }] });
    expect(emailConditions['CreatesAlarmTopic']).toEqual({ 'Fn::And': [{ Condition: 'HasAlarmEmail' }, { 'Fn::Not': [{ Condition: 'HasAlarmTopicArn' }] }] });
    expect(emailResources['AlarmTopic']).toEqual({
      Type: 'AWS::SNS::Topic',
      Condition: 'CreatesAlarmTopic',
      Properties: { TopicName: `gainsight-px-relay-${STAGE}-alarms` },
    });
    const topic = { 'Fn::If': ['HasAlarmTopicArn', '', { Ref: 'AlarmTopic' }] };
    expect(emailResources['AlarmEmailSubscription']).toEqual({
      Type: 'AWS::SNS::Subscription',
      Condition: 'HasAlarmEmail',
      Properties: { Protocol: 'email', Endpoint: EMAIL, TopicArn: topic },
    });
    const alarms = Object.values(emailResources).filter((resource) => resource.Type === 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThanOrEqual(5);
    for (const alarm of alarms) {
      expect(alarm.Properties['AlarmActions']).toEqual({ 'Fn::If': ['HasAlarmTopic', [topic], { Ref: 'AWS::NoValue' }] });
      expect(alarm.Properties['OKActions']).toEqual(alarm.Properties['AlarmActions']);
    }
  });

  it('does not warn that the alarms notify nobody', () => {
    expect(packagingOutput).toContain('Service packaged');
    expect(packagingOutput).not.toContain('notify NOBODY');
  });
});

