import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { ResolvedInputs } from './sources.ts';
import { UsageError } from './options.ts';

/**
 * Checks that keep the command line from hurting its user: the files replay writes never land on
 * an input (an export overwritten by its own checkpoint) or on each other, and the webhook secret
 * is never a command-line value (visible to every user in the process list).
 */

/**
 * The canonical path of a file that may not exist yet: its real path; for a symbolic link to a
 * file not there yet, where the link points; else its folder's real path + its name.
 */
function canonical(path: string, depth = 0): string {
  const absolute = resolve(path);
  if (existsSync(absolute)) return realpathSync(absolute);
  const link = lstatSync(absolute, { throwIfNoEntry: false });
  if (link?.isSymbolicLink() && depth < 16) return canonical(resolve(dirname(absolute), readlinkSync(absolute)), depth + 1);
  const folder = dirname(absolute);
  return join(existsSync(folder) ? realpathSync(folder) : folder, basename(absolute));
}

/** Device and inode of an existing file: one file under two names (a hard link) is one identity. */
const identity = (path: string): string | undefined => {
  const stat = statSync(path, { throwIfNoEntry: false });
  return stat === undefined ? undefined : `${stat.dev}:${stat.ino}`;
};

const inside = (folder: string, path: string): boolean => {
  const rel = relative(folder, path);
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith('/');
};

/**
 * Refuses a checkpoint or rejected file (or the checkpoint's journal and lock) that is an input
 * file, lies inside an input directory, or is the other output.
 *
 * @throws UsageError naming the clash.
 */
export function checkOutputPaths(inputs: ResolvedInputs, outputs: { checkpoint?: string; rejected?: string }): void {
  const files = new Map<string, string>();
  for (const object of inputs.objects) {
    if (!object.path) continue;
    files.set(canonical(object.path), object.path);
    const id = identity(object.path);
    if (id !== undefined) files.set(id, object.path);
  }
  const folders = inputs.localRoots.filter((root) => root.directory).map((root) => canonical(root.path));
  const written: [string, string][] = [];
  if (outputs.checkpoint !== undefined) {
    written.push(['--checkpoint', outputs.checkpoint]);
    written.push(['--checkpoint (its journal)', `${outputs.checkpoint}.journal`]);
    written.push(['--checkpoint (its lock)', `${outputs.checkpoint}.lock`]);
  }
  if (outputs.rejected !== undefined) written.push(['--rejected', outputs.rejected]);
  for (const [option, path] of written) {
    const target = canonical(path);
    const input = files.get(target) ?? files.get(identity(path) ?? '');
    if (input !== undefined) {
      throw new UsageError(`${option} ${path} is an input file: replay would overwrite the events it reads. Choose another path`);
    }
    const folder = folders.find((dir) => inside(dir, target));
    if (folder !== undefined) {
      throw new UsageError(`${option} ${path} lies inside the input directory ${folder}: write it elsewhere`);
    }
  }
  if (outputs.checkpoint !== undefined && outputs.rejected !== undefined) {
    const rejected = canonical(outputs.rejected);
    const rejectedId = identity(outputs.rejected);
    const own = [outputs.checkpoint, `${outputs.checkpoint}.journal`, `${outputs.checkpoint}.lock`];
    if (own.some((path) => canonical(path) === rejected || (rejectedId !== undefined && identity(path) === rejectedId))) {
      throw new UsageError(`--rejected ${outputs.rejected} is the checkpoint's own file: give them different paths`);
    }
  }
}

/** Why `--secret <value>` is refused, and what to use instead. */
export const SECRET_ON_COMMAND_LINE =
  '--secret is no longer accepted: a secret on the command line is visible to every user of this machine ' +
  '(ps, /proc) and stays in the shell history. Set WEBHOOK_SECRET in the environment, or pass --secret-file <path>';

/**
 * The webhook secret from a file: its first line, trimmed. A file others can read is used, with a
 * warning.
 *
 * @throws UsageError when the file cannot be read or holds no secret.
 */
export function readSecretFile(path: string): { secret: string; warning?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--secret-file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const secret = text.split(/\r?\n/)[0]?.trim() ?? '';
  if (secret === '') throw new UsageError(`--secret-file ${path} is empty`);
  const mode = statSync(path).mode & 0o077;
  return mode === 0
    ? { secret }
    : { secret, warning: `--secret-file ${path} can be read by other users (mode ${(statSync(path).mode & 0o777).toString(8)}): chmod 600 it` };
}
