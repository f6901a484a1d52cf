/**
 * Many calls may wait on one signal at once: middy hands every invocation the same shared signal,
 * and a batch has up to GAINSIGHT_MAX_IN_FLIGHT calls and retry waits on it. One listener per
 * signal runs them all, so no per-call listener is added and removed (and Node never warns of a
 * listener leak past ten).
 */

const waiting = new WeakMap<AbortSignal, Set<() => void>>();

/** Runs `stop` when `signal` aborts; returns the function that forgets it. */
export function onAbort(signal: AbortSignal, stop: () => void): () => void {
  let stops = waiting.get(signal);
  if (stops === undefined) {
    const created = new Set<() => void>();
    stops = created;
    waiting.set(signal, created);
    signal.addEventListener(
      'abort',
      () => {
        for (const run of created) run();
        created.clear();
      },
      { once: true },
    );
  }
  stops.add(stop);
  const own = stops;
  return () => {
    own.delete(stop);
  };
}
