import { randomUUID } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { CheckpointError } from './checkpoint.ts';

/**
 * One run per checkpoint: `<checkpoint>.lock` is created exclusively (O_EXCL) for the run's
 * lifetime, holding the run's pid, host and start time. A second run on the same checkpoint
 * is refused — two runs would each deliver every event. A lock left by a run that died (its pid
 * no longer exists on this host) is taken over, with a note: it is first renamed aside (only one
 * run can move a given file), and the run goes on only if what it moved is the dead run's lock it
 * read; a fresh lock another run put there meanwhile is put back, and this run refuses. Each lock
 * holds a random token, and a run removes the lock only while it still holds its own token.
 */

export interface Lock {
  readonly path: string;
  /** A stale lock of a dead run was replaced: say so. */
  readonly tookOver: string | undefined;
  release(): void;
}

interface LockInfo {
  pid?: unknown;
  host?: unknown;
  startedAt?: unknown;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

function create(path: string, token: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  writeSync(fd, `${JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), token })}\n`);
  closeSync(fd);
  return true;
}

/**
 * Takes the lock of a checkpoint.
 *
 * @throws CheckpointError when another run holds it (or held it on another host).
 */
export function acquireLock(checkpointPath: string): Lock {
  const path = `${checkpointPath}.lock`;
  const token = randomUUID();
  let tookOver: string | undefined;
  if (!create(path, token)) {
    let info: LockInfo = {};
    let staleText = '';
    try {
      staleText = readFileSync(path, 'utf8');
      info = JSON.parse(staleText) as LockInfo;
    } catch {
      // unreadable (or gone): treated as held, below
    }
    const sameHost = info.host === hostname();
    const pid = typeof info.pid === 'number' ? info.pid : undefined;
    const holder = `pid ${String(info.pid ?? '?')} on ${String(info.host ?? '?')}, started ${String(info.startedAt ?? '?')}`;
    if (!sameHost || pid === undefined || alive(pid)) {
      throw new CheckpointError(
        `Another replay is using checkpoint ${checkpointPath} (${holder}): two runs would send every event twice. ` +
          `Wait for it to finish, or stop it; if no such run exists any more, delete ${path}`,
      );
    }
    if (!takeOver(path, staleText, token)) throw new CheckpointError(`Another replay took checkpoint ${checkpointPath} just now; try again later`);
    tookOver = `took over the lock of a run that no longer exists (${holder})`;
  }
  return {
    path,
    tookOver,
    release: () => {
      // Only our own lock: a run that outlived a takeover must not free the new holder's.
      if (readText(path)?.includes(`"token":"${token}"`)) rmSync(path, { force: true });
    },
  };
}

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * Replaces the dead run's lock, whose content was `staleText`, by a lock of our own (`token`).
 * False when another run got there first: the lock is then left (or put back) as that run made it.
 */
export function takeOver(path: string, staleText: string, token: string): boolean {
  const aside = `${path}.${token}.stale`;
  try {
    renameSync(path, aside);
  } catch {
    return false; // gone: another run moved it first
  }
  if (readText(aside) !== staleText) {
    // Not the lock we judged dead: another run's fresh lock. Put it back (unless a third run
    // created one meanwhile, which then stands) and give way.
    try {
      linkSync(aside, path);
    } catch {
      // a lock exists again: it stands
    }
    rmSync(aside, { force: true });
    return false;
  }
  rmSync(aside, { force: true });
  return create(path, token);
}
