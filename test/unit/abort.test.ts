import { describe, expect, it } from 'vitest';
import { onAbort } from '../../src/abort.ts';

describe('onAbort', () => {
  it('runs every waiting stop once when the signal aborts, through a single listener', () => {
    // Prepare: count the listeners the signal gets
    const controller = new AbortController();
    let listeners = 0;
    const add = controller.signal.addEventListener.bind(controller.signal);
    controller.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      listeners += 1;
      return add(...args);
    }) as typeof add;
    const ran: number[] = [];
    for (let index = 0; index < 20; index += 1) onAbort(controller.signal, () => ran.push(index));
    // Act
    controller.abort();
    controller.abort();
    // Assess
    expect(listeners).toBe(1);
    expect(ran).toEqual(Array.from({ length: 20 }, (_, index) => index));
  });

  it('does not run a stop that was forgotten', () => {
    // Prepare
    const controller = new AbortController();
    const ran: string[] = [];
    const forget = onAbort(controller.signal, () => ran.push('forgotten'));
    onAbort(controller.signal, () => ran.push('kept'));
    // Act
    forget();
    controller.abort();
    // Assess
    expect(ran).toEqual(['kept']);
  });
});
