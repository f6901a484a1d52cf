import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * `npm run package` / `npm run deploy` warn loudly when a stage's alarms would notify nobody
 * (scripts/sls.mjs): neither alarmEmail nor alarmTopicArn, from serverless.yml or --param.
 */

type AlarmsReachNobody = (args: string[], service: unknown) => boolean;

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let alarmsReachNobody: AlarmsReachNobody;
let shipped: unknown;

beforeAll(async () => {
  // plain JavaScript, loaded by URL: it has no type declarations
  const sls = (await import(pathToFileURL(join(root, 'scripts', 'sls.mjs')).href)) as {
    alarmsReachNobody: AlarmsReachNobody;
    loadService: () => Promise<unknown>;
  };
  alarmsReachNobody = sls.alarmsReachNobody;
  shipped = await sls.loadService();
});

const service = (params: Record<string, Record<string, string>>) => ({ provider: { stage: "${opt:stage, 'dev'}" }, params });

describe('alarmsReachNobody', () => {
  it('is true for the shipped serverless.yml packaged or deployed for prod or dev without a parameter', () => {
    expect(alarmsReachNobody(['package', '--stage', 'prod'], shipped)).toBe(true);
    expect(alarmsReachNobody(['deploy', '--stage=prod'], shipped)).toBe(true);
    expect(alarmsReachNobody(['package'], shipped)).toBe(true);
  });

  it.each([
    [['package', '--stage', 'prod', '--param=alarmEmail=ops@example.test']],
    [['deploy', '--stage', 'prod', '--param', 'alarmTopicArn=arn:aws:sns:us-east-1:123456789012:ops']],
  ])('is false when %j names someone', (args) => {
    expect(alarmsReachNobody(args, shipped)).toBe(false);
  });

  it('reads the stage\'s own parameters over the defaults', () => {
    const configured = service({ default: { alarmEmail: '', alarmTopicArn: '' }, prod: { alarmEmail: 'ops@example.test' } });
    expect(alarmsReachNobody(['deploy', '--stage', 'prod'], configured)).toBe(false);
    expect(alarmsReachNobody(['deploy', '--stage', 'dev'], configured)).toBe(true);
  });

  it('says nothing for the local stage or for commands that build no stack', () => {
    expect(alarmsReachNobody(['package', '--stage', 'local'], shipped)).toBe(false);
    expect(alarmsReachNobody(['offline', '--stage', 'prod'], shipped)).toBe(false);
    expect(alarmsReachNobody(['print', '--stage', 'prod'], shipped)).toBe(false);
  });
});
