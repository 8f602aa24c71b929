#!/usr/bin/env node
// Run an ONNX model with onnxruntime-node (CPU) on .npy inputs and write the
// outputs as .npy; the reference side of qconvert's tests and benchmarks.
//
//   node tools/ort_run.mjs MODEL --input NAME=FILE.npy [...] --output-dir DIR
//        [--threads N] [--repeat N] [--warmup N]
//        [--optimized-model PATH] [--no-optimize]
//   node tools/ort_run.mjs MODEL --inputs-list LIST.txt --output-dir DIR [same options]
//
// Writes DIR/output_<i>.npy in graph output order and prints one JSON line:
//   {"outputs":[names],"median_ms":x,"runs":n}
// Batch mode (--inputs-list): one session runs many samples, so a test does not
// pay a process start and a session build per image. LIST.txt holds one sample
// per line, its inputs separated by tabs: NAME=FILE.npy[<TAB>NAME=FILE.npy...];
// blank lines and lines starting with '#' are skipped, relative paths are taken
// from LIST.txt's directory. Sample k (0-based, in line order) is written to
// DIR/<k>/output_<i>.npy; the JSON line adds "samples":n, and median_ms is the
// median over every timed run of every sample (--warmup runs the first sample).
// onnxruntime-node is resolved from <repo>/.deps/node (tools/fetch_deps.sh).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NODE_DIR = process.env.QC_ORT_NODE_DIR || path.join(ROOT, '.deps', 'node');

function fail(msg, code = 1) {
  process.stderr.write(`ort_run: ${msg}\n`);
  process.exit(code);
}

const USAGE = 'usage: node tools/ort_run.mjs MODEL (--input NAME=FILE.npy [...] | --inputs-list LIST.txt)\n' +
  '       --output-dir DIR [--threads N] [--repeat N] [--warmup N] [--optimized-model PATH] [--no-optimize]';

// ---- .npy (format v1/v2/v3, little-endian, C order) ------------------------
// descr -> [ORT type, TypedArray]; '|' / '<' prefixes both accepted for 1-byte types.
const DTYPES = {
  f4: ['float32', Float32Array], f8: ['float64', Float64Array],
  i8: ['int64', BigInt64Array], i4: ['int32', Int32Array],
  i2: ['int16', Int16Array], i1: ['int8', Int8Array],
  u8: ['uint64', BigUint64Array], u4: ['uint32', Uint32Array],
  u2: ['uint16', Uint16Array], u1: ['uint8', Uint8Array], b1: ['bool', Uint8Array],
};
const DESCR = Object.fromEntries(Object.entries(DTYPES).map(([k, [t]]) =>
  [t, (k.endsWith('1') ? '|' : '<') + k]));

function readNpy(file) {
  let buf;
  try { buf = fs.readFileSync(file); } catch (e) { fail(`${file}: ${e.message}`); }
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY')
    fail(`${file}: not a .npy file`);
  const major = buf[6];
  if (major < 1 || major > 3) fail(`${file}: unsupported .npy version ${major}`);
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  if (buf.length < hstart + hlen) fail(`${file}: truncated header`);
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeStr === undefined)
    fail(`${file}: malformed header ${JSON.stringify(header)}`);
  if (fortran === 'True') fail(`${file}: Fortran-order arrays are not supported`);
  const m = /^([<|=])([a-z]\d+)$/.exec(descr);
  if (!m || !DTYPES[m[2]] || (m[1] === '|' && !m[2].endsWith('1')))
    fail(`${file}: unsupported dtype '${descr}' (need little-endian numeric/bool)`);
  const [type, Arr] = DTYPES[m[2]];
  const dims = shapeStr.split(',').map(s => s.trim()).filter(Boolean).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const off = hstart + hlen;
  const nbytes = count * Arr.BYTES_PER_ELEMENT;
  if (buf.length - off < nbytes) fail(`${file}: truncated data (${buf.length - off} < ${nbytes} bytes)`);
  // Copy into a fresh, aligned ArrayBuffer (the header length may misalign).
  const ab = new ArrayBuffer(nbytes);
  new Uint8Array(ab).set(buf.subarray(off, off + nbytes));
  return { type, dims, data: new Arr(ab) };
}

function writeNpy(file, tensor) {
  const descr = DESCR[tensor.type];
  if (!descr) fail(`output type ${tensor.type} cannot be written as .npy`);
  const dims = tensor.dims.map(Number);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad so the data starts on a 64-byte boundary, header ends with '\n'.
  const version = header.length + 11 > 65535 ? 2 : 1;
  const pre = version === 1 ? 10 : 12;
  header += ' '.repeat(63 - ((pre + header.length) % 64)) + '\n';
  const head = Buffer.alloc(pre);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = version; head[7] = 0;
  if (version === 1) head.writeUInt16LE(header.length, 8); else head.writeUInt32LE(header.length, 8);
  const d = tensor.data;
  const body = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

// ---- arguments -------------------------------------------------------------
// NAME=FILE.npy -> [NAME, FILE]; `where` names the argument or list line in errors.
function splitInput(v, where) {
  const eq = v.indexOf('=');
  if (eq <= 0) fail(`${where}: expected NAME=FILE.npy, got '${v}'`, 2);
  return [v.slice(0, eq), v.slice(eq + 1)];
}

function parseArgs(argv) {
  const a = { inputs: {}, threads: 1, repeat: 1, warmup: 0, optimize: true };
  const int = (flag, v, min) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) fail(`${flag} needs an integer >= ${min}`, 2);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const val = () => { if (i + 1 >= argv.length) fail(`${f} needs a value`, 2); return argv[++i]; };
    if (f === '--input') {
      const [name, file] = splitInput(val(), '--input');
      a.inputs[name] = file;
    } else if (f === '--inputs-list') a.inputsList = val();
    else if (f === '--output-dir') a.outDir = val();
    else if (f === '--threads') a.threads = int(f, val(), 0);
    else if (f === '--repeat') a.repeat = int(f, val(), 1);
    else if (f === '--warmup') a.warmup = int(f, val(), 0);
    else if (f === '--optimized-model') a.optimizedModel = val();
    else if (f === '--no-optimize') a.optimize = false;
    else if (f === '-h' || f === '--help') { console.log(USAGE); process.exit(0); }
    else if (f.startsWith('-')) fail(`unknown option ${f}\n${USAGE}`, 2);
    else if (a.model === undefined) a.model = f;
    else fail(`unexpected argument '${f}'\n${USAGE}`, 2);
  }
  if (!a.model || !a.outDir) fail(USAGE, 2);
  if (a.inputsList !== undefined && Object.keys(a.inputs).length)
    fail('--input and --inputs-list cannot be combined', 2);
  return a;
}

// The samples of an --inputs-list file: [{NAME: FILE.npy, ...}, ...].
function readInputsList(file) {
  let text;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) { fail(`${file}: ${e.message}`, 2); }
  const base = path.dirname(path.resolve(file));
  const samples = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim() || line.startsWith('#')) return;
    const sample = {};
    for (const item of line.split('\t')) {
      const [name, npy] = splitInput(item, `${file}:${i + 1}`);
      if (name in sample) fail(`${file}:${i + 1}: input '${name}' given twice`, 2);
      sample[name] = path.resolve(base, npy);
    }
    samples.push(sample);
  });
  if (!samples.length) fail(`${file}: no samples`, 2);
  return samples;
}

// onnxruntime 1.30 writes an empty "mat-debug-<pid>.log" into TMPDIR in every
// process; give it a private directory and remove that when the process ends.
function privateTmpdir() {
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'qc-ort-'));
  process.env.TMPDIR = dir;
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const samples = args.inputsList !== undefined ? readInputsList(args.inputsList) : [args.inputs];
  privateTmpdir();
  let ort;
  try {
    ort = createRequire(path.join(NODE_DIR, 'package.json'))('onnxruntime-node');
  } catch (e) {
    fail(`cannot load onnxruntime-node from ${NODE_DIR} (run tools/fetch_deps.sh): ${e.message}`);
  }

  const opts = {
    executionProviders: ['cpu'],
    intraOpNumThreads: args.threads,  // 0 = ORT default
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: args.optimize ? 'all' : 'disabled',
    logSeverityLevel: 3,              // errors only: keep stderr for real problems
  };
  if (args.optimizedModel) {
    fs.mkdirSync(path.dirname(path.resolve(args.optimizedModel)), { recursive: true });
    opts.optimizedModelFilePath = args.optimizedModel;
  }
  let sess;
  try {
    sess = await ort.InferenceSession.create(args.model, opts);
  } catch (e) {
    fail(`${args.model}: ${e.message}`);
  }

  const listed = args.inputsList !== undefined;
  const where = k => (listed ? `${args.inputsList}: sample ${k}: ` : '');
  // Every sample names exactly the model's inputs; checked before the first run writes anything.
  samples.forEach((inputs, k) => {
    for (const name of Object.keys(inputs))
      if (!sess.inputNames.includes(name))
        fail(`${where(k)}model has no input '${name}' (inputs: ${sess.inputNames.join(', ')})`);
    for (const name of sess.inputNames)
      if (inputs[name] === undefined)
        fail(`${where(k)}missing --input ${name}=FILE.npy (model inputs: ${sess.inputNames.join(', ')})`);
  });
  const feedsFor = inputs => {
    const feeds = {};
    for (const name of sess.inputNames) {
      const t = readNpy(inputs[name]);
      feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    }
    return feeds;
  };
  const run = async (feeds) => {
    try { return await sess.run(feeds); } catch (e) { fail(`run failed: ${e.message}`); }
  };
  const times = [];
  const timedRuns = async (feeds) => {
    let out;
    for (let i = 0; i < args.repeat; i++) {
      const t0 = process.hrtime.bigint();
      out = await run(feeds);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return out;
  };
  const writeOutputs = (dir, out) => {
    fs.mkdirSync(dir, { recursive: true });
    sess.outputNames.forEach((name, i) => writeNpy(path.join(dir, `output_${i}.npy`), out[name]));
  };

  for (let k = 0; k < samples.length; k++) {
    const feeds = feedsFor(samples[k]);
    if (k === 0)
      for (let i = 0; i < args.warmup; i++) await run(feeds);
    const out = await timedRuns(feeds);
    writeOutputs(listed ? path.join(args.outDir, String(k)) : args.outDir, out);
  }
  times.sort((x, y) => x - y);
  const mid = times.length >> 1;
  const median = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  const info = { outputs: sess.outputNames, median_ms: +median.toFixed(4), runs: args.repeat };
  if (listed) info.samples = samples.length;
  console.log(JSON.stringify(info));
}

main().catch(e => fail(e.stack || String(e)));
