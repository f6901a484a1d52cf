/**
 * One cold start: a fresh Node process imports the production bundle and answers one event
 * (a track, POST /events) against the loopback fakes, as the first invocation of a new Lambda
 * container does: SSM GetParameters, then the Gainsight call. Exits as soon as it has answered.
 * Its own timings go to fd 3 (stdout carries the relay's logs). Started by bench/run.mjs.
 */
import { writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { httpApiEvent, lambdaContext, track } from './lib/events.mjs';

const started = performance.now();
const [bundle, exportName = 'handler'] = process.argv.slice(2);
const handler = (await import(pathToFileURL(bundle).href))[exportName];
const imported = performance.now();
const answer = await handler(httpApiEvent(track(1), process.env.BENCH_WEBHOOK_SECRET), lambdaContext());
const answered = performance.now();
writeSync(3, JSON.stringify({ status: answer?.statusCode, bootMs: started, importMs: imported - started, answerMs: answered - imported }));
process.exit(answer?.statusCode === 200 ? 0 : 1);
