import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { CheckpointError } from './checkpoint.ts';

/**
 * One run per checkpoint: `<checkpoint>.lock` is created exclusively (O_EXCL) for the run's
 * lifetime, holding the run's pid, host and start time. A second run on the same checkpoint
 * is refused — two runs would each deliver every event. A lock left by a run that died (its pid
 * no longer exists on this host) is taken over, with a note.
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

function create(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  writeSync(fd, `${JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() })}\n`);
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
  let tookOver: string | undefined;
  if (!create(path)) {
    let info: LockInfo = {};
    try {
      info = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    } catch {
      // unreadable: treated as held, below
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
    rmSync(path, { force: true });
    if (!create(path)) throw new CheckpointError(`Another replay took checkpoint ${checkpointPath} just now; try again later`);
    tookOver = `took over the lock of a run that no longer exists (${holder})`;
  }
  return {
    path,
    tookOver,
    release: () => rmSync(path, { force: true }),
  };
}
