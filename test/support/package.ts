import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * Packages the stack as `npm run package -- --stage <stage>` does (offline: no AWS account, no
 * network), into a temporary folder, and reads the CloudFormation template serverless.yml makes.
 */

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Template {
  Resources: Record<string, { Type: string; Condition?: string; Properties: Record<string, any> }>;
  Conditions: Record<string, unknown>;
  Outputs: Record<string, { Value: unknown; Description?: string }>;
}

export interface Packaged {
  /** The folder holding the template and the zip. */
  dir: string;
  /** The template's text, as written. */
  text: string;
  template: Template;
  /** What the packaging printed (stdout and stderr). */
  output: string;
  remove(): void;
}

export async function packageStack(stage: string, extraArgs: readonly string[] = [], env: Record<string, string> = {}): Promise<Packaged> {
  const dir = mkdtempSync(join(tmpdir(), 'gainsight-px-relay-package-'));
  const { stdout, stderr } = await promisify(execFile)('npm', ['run', 'package', '--', '--stage', stage, '--package', dir, ...extraArgs], {
    cwd: root,
    env: { ...process.env, ...env },
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`npm run package failed: ${error.message}\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
  });
  const text = readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8');
  return { dir, text, template: JSON.parse(text) as Template, output: `${stdout}${stderr}`, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
