/**
 * `npm run bench -- --profile <dir>`: where the relay's warm path spends its time. The overhead
 * phase's relay workers write V8 CPU profiles (node --cpu-prof) into <dir>; this sums their
 * samples by where the code comes from — a source file of the relay or a package (read from the
 * `// path` comments esbuild leaves in an unminified bundle), a Node.js internal module, the
 * garbage collector — and gives each its time per event.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Line number → source file, from the `// src/x.ts` / `// node_modules/pkg/…` comments of the bundle. */
function sourcesOf(bundle) {
  const marks = [];
  readFileSync(bundle, 'utf8')
    .split('\n')
    .forEach((line, index) => {
      const match = /^\/\/ (\S+\.(?:ts|js|mjs|cjs))$/.exec(line);
      if (match) marks.push([index, match[1].replace(/^node_modules\/((?:@[^/]+\/)?[^/]+)\/.*/, '$1')]);
    });
  return (line) => {
    let found = '(bundle)';
    for (let low = 0, high = marks.length - 1; low <= high; ) {
      const middle = (low + high) >> 1;
      if (marks[middle][0] <= line) {
        found = marks[middle][1];
        low = middle + 1;
      } else high = middle - 1;
    }
    return found;
  };
}

function placeOf(frame, bundleUrl, sourceAt) {
  if (frame.url === '') return frame.functionName; // (garbage collector), (program), (idle), native calls
  if (frame.url.endsWith(bundleUrl)) return sourceAt(frame.lineNumber);
  if (frame.url.startsWith('node:')) return `node: ${frame.url.slice(5).replace(/^internal\//, '')}`;
  return `bench harness (${frame.url.split('/').pop()})`;
}

/** The top `limit` places by self time, in µs per event, over every profile in `dir`. */
export function summarizeProfiles(dir, bundle, eventsPerProfile, limit = 15) {
  const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  const sourceAt = sourcesOf(bundle);
  const bundleUrl = bundle.split('/').pop();
  const totals = new Map();
  let total = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    const parents = new Map(profile.nodes.flatMap((node) => (node.children ?? []).map((child) => [child, node.id])));
    // Starting and stopping the profiler itself is no part of the relay's work.
    const profiling = (id) => {
      for (let at = id; at !== undefined; at = parents.get(at)) if (nodes.get(at).callFrame.url === 'node:inspector') return true;
      return false;
    };
    profile.samples.forEach((id, index) => {
      const delta = profile.timeDeltas[index] ?? 0;
      if (profiling(id)) return;
      const place = placeOf(nodes.get(id).callFrame, bundleUrl, sourceAt);
      if (place === '(idle)') return;
      totals.set(place, (totals.get(place) ?? 0) + delta);
      total += delta;
    });
  }
  const events = eventsPerProfile * files.length;
  return {
    profiles: files.length,
    busyMicrosecondsPerEvent: Math.round((total / events) * 10) / 10,
    top: [...totals]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([place, micros]) => ({ place, microsecondsPerEvent: Math.round((micros / events) * 10) / 10, share: Math.round((micros / total) * 1000) / 10 })),
  };
}
