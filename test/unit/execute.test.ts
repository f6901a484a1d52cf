import { describe, expect, it } from 'vitest';
import type { Step } from '../../src/delivery/plan.ts';
import { type Progress, type Send, executeSteps } from '../../src/delivery/execute.ts';
import { KeyRefusedError, RateLimitedError, UnavailableError, UpstreamRejectedError } from '../../src/errors.ts';
import type { GainsightResponse } from '../../src/gainsight/client.ts';
import type { GainsightRequest } from '../../src/gainsight/types.ts';

const userUpdate: GainsightRequest = { method: 'PUT', path: '/users/user-1', body: { email: 'a@example.com' } };
const userCreate: GainsightRequest = { method: 'POST', path: '/users', body: { identifyId: 'user-1' } };
const accountUpdate: GainsightRequest = { method: 'PUT', path: '/accounts/group-1', body: { name: 'ECorp' } };
const accountCreate: GainsightRequest = { method: 'POST', path: '/accounts', body: { id: 'group-1', name: 'ECorp' } };
const customEvent: GainsightRequest = { method: 'POST', path: '/events/custom', body: { eventName: 'E' } };

const upsertUser: Step = { kind: 'upsert', update: userUpdate, create: userCreate };
const upsertAccount: Step = { kind: 'upsert', update: accountUpdate, create: accountCreate };
const createEvent: Step = { kind: 'create', create: customEvent };

const answer = (status: number, body: unknown = undefined): GainsightResponse => ({ status, body, headers: {} });

/**
 * A fake `send` that answers with the scripted statuses in order and records every call as
 * `METHOD path`. A call beyond the script fails the test.
 */
const scriptedSend = (...script: (number | GainsightResponse)[]) => {
  const calls: string[] = [];
  const send: Send = async (request) => {
    calls.push(`${request.method} ${request.path}`);
    const next = script.shift();
    if (next === undefined) throw new Error(`unexpected call: ${request.method} ${request.path}`);
    return typeof next === 'number' ? answer(next) : next;
  };
  return { send, calls, remaining: () => script.length };
};

/** Runs the steps and returns the error they must throw. */
const errorOf = async (steps: readonly Step[], send: Send, progress?: Progress): Promise<unknown> => {
  try {
    await executeSteps(steps, send, progress);
  } catch (error) {
    return error;
  }
  throw new Error('expected executeSteps to throw');
};

describe('executeSteps: upsert', () => {
  it('updates with one PUT when the object exists', async () => {
    // Prepare
    const { send, calls } = scriptedSend(200);
    // Act
    const progress = await executeSteps([upsertUser], send);
    // Assess
    expect(progress).toEqual({ calls: 1, completedSteps: 1 });
    expect(calls).toEqual(['PUT /users/user-1']);
  });

  it('creates the user with a POST when the PUT answers 404', async () => {
    // Prepare
    const { send, calls } = scriptedSend(404, 201);
    // Act
    const progress = await executeSteps([upsertUser], send);
    // Assess
    expect(progress).toEqual({ calls: 2, completedSteps: 1 });
    expect(calls).toEqual(['PUT /users/user-1', 'POST /users']);
  });

  it('sends the update again when the POST answers 400 (possible duplicate)', async () => {
    // Prepare
    const { send, calls } = scriptedSend(404, 400, 200);
    // Act
    const progress = await executeSteps([upsertUser], send);
    // Assess
    expect(progress).toEqual({ calls: 3, completedSteps: 1 });
    expect(calls).toEqual(['PUT /users/user-1', 'POST /users', 'PUT /users/user-1']);
  });

  it("reports the POST's rejection when the repeated PUT answers 404 too", async () => {
    // Prepare
    const rejection = answer(400, { externalapierror: { status: 'BAD_REQUEST', message: 'possible duplicate' } });
    const { send, calls } = scriptedSend(404, rejection, 404);
    // Act
    const error = await errorOf([upsertUser], send);
    // Assess
    expect(calls).toEqual(['PUT /users/user-1', 'POST /users', 'PUT /users/user-1']);
    expect(error).toBeInstanceOf(UpstreamRejectedError);
    expect((error as UpstreamRejectedError).message).toContain('POST /users');
    expect((error as UpstreamRejectedError).details).toEqual({ gainsightStatus: 400, gainsightMessage: 'possible duplicate' });
  });

  it('reports a retryable failure of the repeated PUT as such', async () => {
    // Prepare
    const { send, calls } = scriptedSend(404, 400, 503);
    // Act
    const error = await errorOf([upsertUser], send);
    // Assess
    expect(calls).toEqual(['PUT /users/user-1', 'POST /users', 'PUT /users/user-1']);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).retryable).toBe(true);
    expect((error as UnavailableError).details).toEqual({ gainsightStatus: 503 });
  });

  it('reports throttling of the repeated PUT as throttling', async () => {
    // Prepare
    const { send } = scriptedSend(404, 400, 429);
    // Act
    const error = await errorOf([upsertUser], send);
    // Assess
    expect(error).toBeInstanceOf(RateLimitedError);
  });

  it('does not POST when the PUT answers 500', async () => {
    // Prepare
    const { send, calls } = scriptedSend(500);
    // Act
    const error = await errorOf([upsertUser], send);
    // Assess
    expect(calls).toEqual(['PUT /users/user-1']);
    expect(error).toBeInstanceOf(UnavailableError);
  });

  it.each([
    [400, UpstreamRejectedError],
    [401, KeyRefusedError],
    [403, KeyRefusedError],
    [429, RateLimitedError],
    [302, UnavailableError],
  ])('does not POST when the PUT answers %s', async (status, type) => {
    // Prepare
    const { send, calls } = scriptedSend(status);
    // Act
    const error = await errorOf([upsertUser], send);
    // Assess
    expect(calls).toEqual(['PUT /users/user-1']);
    expect(error).toBeInstanceOf(type);
  });

  it.each([
    [409, UpstreamRejectedError],
    [422, UpstreamRejectedError],
    [500, UnavailableError],
  ])('does not PUT again when the POST answers %s', async (status, type) => {
    // Prepare
    const { send, calls } = scriptedSend(404, status);
    // Act
    const error = await errorOf([upsertUser], send);
    // Assess
    expect(calls).toEqual(['PUT /users/user-1', 'POST /users']);
    expect(error).toBeInstanceOf(type);
  });

  it('reports a redirect of the PUT as gainsight_redirect, without following it', async () => {
    // Prepare
    const { send, calls } = scriptedSend(301);
    // Act
    const error = await errorOf([upsertUser], send);
    // Assess
    expect(calls).toEqual(['PUT /users/user-1']);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).code).toBe('gainsight_redirect');
    expect((error as UnavailableError).retryable).toBe(true);
  });

  it("reports a refused key on the repeated PUT as such, not the POST's 400", async () => {
    // Prepare
    const { send, calls } = scriptedSend(404, 400, 401);
    // Act
    const error = await errorOf([upsertUser], send);
    // Assess
    expect(calls).toEqual(['PUT /users/user-1', 'POST /users', 'PUT /users/user-1']);
    expect(error).toBeInstanceOf(KeyRefusedError);
  });
});

describe('executeSteps: several steps', () => {
  it('runs every step in order and counts all calls', async () => {
    // Prepare
    const { send, calls } = scriptedSend(404, 201, 200, 200);
    // Act
    const progress = await executeSteps([upsertAccount, upsertUser, createEvent], send);
    // Assess
    expect(progress).toEqual({ calls: 4, completedSteps: 3 });
    expect(calls).toEqual(['PUT /accounts/group-1', 'POST /accounts', 'PUT /users/user-1', 'POST /events/custom']);
  });

  it('sends a create step once, without a PUT', async () => {
    // Prepare
    const { send, calls } = scriptedSend(201);
    // Act
    const progress = await executeSteps([createEvent], send);
    // Assess
    expect(progress).toEqual({ calls: 1, completedSteps: 1 });
    expect(calls).toEqual(['POST /events/custom']);
  });

  it('stops at a failing create step', async () => {
    // Prepare
    const { send, calls, remaining } = scriptedSend(400, 200);
    // Act
    const error = await errorOf([createEvent, upsertUser], send);
    // Assess
    expect(calls).toEqual(['POST /events/custom']);
    expect(remaining()).toBe(1);
    expect(error).toBeInstanceOf(UpstreamRejectedError);
  });

  it('does not retry a create step answered 400 with a PUT', async () => {
    // Prepare
    const { send, calls } = scriptedSend(400);
    // Act
    const error = await errorOf([createEvent], send);
    // Assess
    expect(calls).toEqual(['POST /events/custom']);
    expect((error as UpstreamRejectedError).message).toContain('POST /events/custom');
  });

  it('stops at a failing upsert, before the steps after it', async () => {
    // Prepare
    const { send, calls } = scriptedSend(200, 503, 201);
    // Act
    const error = await errorOf([upsertAccount, upsertUser, createEvent], send);
    // Assess
    expect(calls).toEqual(['PUT /accounts/group-1', 'PUT /users/user-1']);
    expect(error).toBeInstanceOf(UnavailableError);
  });

  it('makes no call for an empty plan', async () => {
    // Prepare
    const { send, calls } = scriptedSend();
    // Act
    const progress = await executeSteps([], send);
    // Assess
    expect(progress).toEqual({ calls: 0, completedSteps: 0 });
    expect(calls).toEqual([]);
  });

  it('records the steps done before a failure in the progress it was given', async () => {
    // Prepare
    const { send } = scriptedSend(200, 404, 500);
    const progress: Progress = { calls: 0, completedSteps: 0 };
    // Act
    const error = await errorOf([upsertAccount, upsertUser, createEvent], (request) => send(request), progress);
    // Assess
    expect(error).toBeInstanceOf(UnavailableError);
    expect(progress).toEqual({ calls: 3, completedSteps: 1 });
  });

  it('continues counting from the progress it was given', async () => {
    // Prepare
    const { send } = scriptedSend(201);
    // Act
    const progress = await executeSteps([createEvent], send, { calls: 3, completedSteps: 1 });
    // Assess
    expect(progress).toEqual({ calls: 4, completedSteps: 2 });
  });
});
