/**
 * Building what the benchmark runs:
 * - the production handler bundle, either from `npm run package` (serverless-esbuild itself, the
 *   artifact that would be deployed) or by replaying serverless.yml's `custom.esbuild` through
 *   esbuild the way serverless-esbuild 1.x does (fast, no `.esbuild/` work folder: for --smoke);
 * - the benchmark's own TypeScript helpers (bench/entries.ts: the loopback fakes and the pure
 *   parse/plan functions), bundled with the same options so they run the production code;
 * - bench/floor.mjs, the cold-start floor, bundled with the same options as the handler.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import yaml from 'js-yaml';

export const ROOT = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');

/**
 * The bundles leave `@aws-sdk/*` external (serverless.yml `exclude`): they import
 * "@aws-sdk/client-ssm" as a bare specifier and find it in the Lambda runtime. A work folder
 * under /tmp has no node_modules above it, so this links `<folder>/node_modules` to this
 * checkout's: it stands in for the runtime's copy of the SDK for every bundle built or
 * extracted below that folder.
 */
export function linkRuntimeSdk(folder) {
  symlinkSync(join(ROOT, 'node_modules'), join(folder, 'node_modules'), 'dir');
}

/**
 * A `--bundle` path outside this checkout cannot resolve the runtime's SDK either: then the
 * files beside it (the bundle, its chunks and source maps; not subfolders) are copied into
 * `work` (see linkRuntimeSdk) and the copy is measured.
 */
export function resolvableBundle(bundle, work) {
  try {
    createRequire(bundle).resolve('@aws-sdk/client-ssm');
    return bundle;
  } catch {
    const copy = join(work, 'given');
    mkdirSync(copy, { recursive: true });
    for (const entry of readdirSync(dirname(bundle), { withFileTypes: true })) {
      if (entry.isFile() && /\.(m?js|cjs|map)$/.test(entry.name)) cpSync(join(dirname(bundle), entry.name), join(copy, entry.name));
    }
    return join(copy, basename(bundle));
  }
}

/** serverless-esbuild options that are not esbuild options (stripped by the plugin before building). */
const PLUGIN_ONLY = [
  'concurrency', 'zipConcurrency', 'exclude', 'nativeZip', 'packager', 'packagePath', 'watch', 'keepOutputDirectory',
  'packagerOptions', 'installExtraArgs', 'outputFileExtension', 'outputBuildFolder', 'outputWorkFolder', 'nodeExternals',
  'skipBuild', 'skipRebuild', 'skipBuildExcludeFns', 'stripEntryResolveExtensions', 'disposeContext', 'config',
];

/** `custom.esbuild` of serverless.yml, as serverless-esbuild turns it into esbuild options. */
export function productionEsbuildOptions(root = ROOT) {
  const service = yaml.load(readFileSync(join(root, 'serverless.yml'), 'utf8'));
  const custom = { bundle: true, target: 'node18', platform: 'node', external: [], exclude: ['aws-sdk'], outputFileExtension: '.js', ...(service.custom?.esbuild ?? {}) };
  const options = Object.fromEntries(Object.entries(custom).filter(([key]) => !PLUGIN_ONLY.includes(key)));
  const exclude = [custom.exclude ?? []].flat();
  options.external = [...[custom.external ?? []].flat(), ...(exclude.includes('*') ? [] : exclude)];
  if (custom.outputFileExtension !== '.js') options.outExtension = { '.js': custom.outputFileExtension };
  return { options, extension: custom.outputFileExtension, handler: handlerEntry(service) };
}

/** `functions.relay.handler` (`handler.handler`) → the entry file `handler.ts`. */
function handlerEntry(service) {
  const [fn] = Object.values(service.functions ?? {});
  const file = String(fn?.handler ?? 'handler.handler').replace(/\.[^.]+$/, '');
  return { entry: `${file}.ts`, exportName: String(fn?.handler ?? 'handler.handler').split('.').pop() };
}

/** Replays serverless-esbuild's build of the handler into `outdir`; returns the bundle path and metafile. */
export async function buildHandler(outdir, overrides = {}) {
  const { options, extension, handler } = productionEsbuildOptions();
  const result = await esbuild.build({
    ...options,
    ...overrides,
    entryPoints: [join(ROOT, handler.entry)],
    outdir,
    absWorkingDir: ROOT,
    metafile: true,
    logLevel: 'error',
  });
  const bundle = join(outdir, handler.entry.replace(/\.ts$/, extension));
  return { bundle, ...codeSizes(bundle, outdir), metafile: result.metafile, options: { ...options, ...overrides } };
}

/**
 * Sizes of the code: `bytes` is what a cold start loads — the entry file and every chunk it
 * imports statically (with esbuild's `splitting`, lazily imported code such as the AWS SDK lives
 * in chunks of its own); `totalBytes` is all JavaScript in the folder (the whole deployment).
 */
export function codeSizes(bundle, folder) {
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:^|[;\s}])import\s*(?:[\w*{}\s,$]+from\s*)?["'](\.{1,2}\/[^"']+)["']/g)) {
      visit(resolve(dirname(file), match[1]));
    }
  };
  visit(bundle);
  const startup = [...seen].reduce((sum, file) => sum + statSync(file).size, 0);
  const all = listFiles(folder).filter((file) => /\.(m?js|cjs)$/.test(file));
  return { bytes: startup, startupFiles: seen.size, totalBytes: all.reduce((sum, file) => sum + statSync(file).size, 0), totalFiles: all.length };
}

const listFiles = (folder) =>
  readdirSync(folder, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(join(folder, entry.name)) : [join(folder, entry.name)],
  );

/**
 * `npm run package -- --stage prod --package <dir>` (offline, as CI does), then the handler
 * bundle and its source map extracted from the deployment zip into `outdir`.
 */
export async function packageHandler(outdir, { timeoutMs = 120_000, root = ROOT } = {}) {
  const packageDir = join(outdir, 'package');
  await promisify(execFile)(process.execPath, [join(root, 'scripts', 'sls.mjs'), 'package', '--stage', 'prod', '--package', packageDir], {
    cwd: root,
    timeout: timeoutMs,
    maxBuffer: 16 * 1024 * 1024,
  });
  const zipFile = join(packageDir, 'gainsight-px-relay.zip');
  const entries = readZip(readFileSync(zipFile));
  const { extension, handler } = productionEsbuildOptions(root);
  const name = handler.entry.replace(/\.ts$/, extension);
  if (!entries.has(name)) throw new Error(`${name} not found in ${zipFile} (has: ${[...entries.keys()].join(', ')})`);
  const codeDir = join(outdir, 'code');
  for (const [file, data] of entries) {
    const target = resolve(codeDir, file);
    if (!target.startsWith(`${codeDir}/`)) throw new Error(`unexpected path in the zip: ${file}`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, data);
  }
  const bundle = join(codeDir, name);
  const template = JSON.parse(readFileSync(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8'));
  return { bundle, ...codeSizes(bundle, codeDir), zipBytes: statSync(zipFile).size, files: [...entries.keys()], template };
}

/** The files of a zip archive (stored or deflated entries), read from its central directory. */
export function readZip(buffer) {
  const files = new Map();
  let end = buffer.length - 22;
  while (end >= 0 && buffer.readUInt32LE(end) !== 0x06054b50) end -= 1;
  if (end < 0) throw new Error('not a zip archive');
  const count = buffer.readUInt16LE(end + 10);
  let offset = buffer.readUInt32LE(end + 16);
  for (let index = 0; index < count; index += 1) {
    if (buffer.readUInt32LE(offset) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = buffer.readUInt16LE(offset + 10);
    const compressedSize = buffer.readUInt32LE(offset + 20);
    const nameLength = buffer.readUInt16LE(offset + 28);
    const extraLength = buffer.readUInt16LE(offset + 30);
    const commentLength = buffer.readUInt16LE(offset + 32);
    const localOffset = buffer.readUInt32LE(offset + 42);
    const name = buffer.toString('utf8', offset + 46, offset + 46 + nameLength);
    const dataStart = localOffset + 30 + buffer.readUInt16LE(localOffset + 26) + buffer.readUInt16LE(localOffset + 28);
    const data = buffer.subarray(dataStart, dataStart + compressedSize);
    files.set(name, method === 0 ? Buffer.from(data) : inflateRawSync(data));
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return files;
}

/**
 * Bundles bench/entries.ts (fakes + pure parse/plan) with the production esbuild options; `entry`
 * names another file of bench/ (bench/drain.mjs bundles drain-entries.ts).
 */
export async function buildEntries(outdir, entry = 'entries.ts') {
  mkdirSync(outdir, { recursive: true });
  const { options } = productionEsbuildOptions();
  const outfile = join(outdir, `bench-${entry.replace(/\.ts$/, '')}.mjs`);
  await esbuild.build({
    ...options,
    outExtension: undefined,
    entryPoints: [join(ROOT, 'bench', entry)],
    outfile,
    absWorkingDir: ROOT,
    sourcemap: false,
    logLevel: 'error',
  });
  return outfile;
}

/**
 * Bundles bench/floor.mjs, the cold-start floor, exactly as the handler is bundled (minified ESM,
 * `@aws-sdk/*` external, source map): the floor pays the same bundle-format costs the relay does.
 */
export async function buildFloor(outdir) {
  const { options, extension } = productionEsbuildOptions();
  await esbuild.build({ ...options, entryPoints: [join(ROOT, 'bench', 'floor.mjs')], outdir, absWorkingDir: ROOT, logLevel: 'error' });
  const file = join(outdir, `floor${extension}`);
  return { file, bytes: statSync(file).size };
}

/** Bytes in the bundle per package (node_modules/<name>) or per source folder, largest first. */
export function bytesByPackage(metafile) {
  const output = Object.values(metafile.outputs).find((out) => out.entryPoint);
  const sizes = new Map();
  for (const [file, input] of Object.entries(output?.inputs ?? {})) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    const key = match ? match[1] : file.split('/').slice(0, 2).join('/');
    sizes.set(key, (sizes.get(key) ?? 0) + input.bytesInOutput);
  }
  return [...sizes.entries()].sort((a, b) => b[1] - a[1]);
}
