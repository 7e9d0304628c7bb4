// The npm `deepbox` package (1.0.0, TypeScript, autograd on tensors) as a peer of Deepbox for .NET.
//
// benchmarks/run.sh runs it between the .NET agreement check and BenchmarkDotNet, so its figures come from the same
// machine at the same time. It reads the fixtures the .NET suite exported (the very weights and inputs every other peer
// runs, and Deepbox's outputs), loads the weights with `loadStateDict`, checks that its outputs agree with Deepbox's to
// the fixture's tolerance, and only then times each workload. It writes one JSON file that the report step reads.
//
//   node bench.mjs --fixtures DIR --out FILE [--quick] [--filter GLOB]...
//
// Filters use BenchmarkDotNet's glob syntax on the name Deepbox.Benchmarks.Suites.<workload>.Npm_deepbox.

import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { nn, ndarray, optim } from "deepbox";

const { GradTensor, Tensor, noGrad } = ndarray;

function parseArgs(argv) {
  const o = { fixtures: null, out: null, quick: false, filters: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--fixtures") o.fixtures = argv[++i];
    else if (a === "--out") o.out = argv[++i];
    else if (a === "--quick") o.quick = true;
    else if (a === "--filter") o.filters.push(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.fixtures || !o.out) throw new Error("usage: node bench.mjs --fixtures DIR --out FILE [--quick] [--filter GLOB]...");
  return o;
}

function glob(pattern) {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`, "i");
}

function loadFixture(dir, name) {
  const meta = JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8"));
  const bin = readFileSync(join(dir, `${name}.bin`));
  const buffer = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const array = (entry) => ({ data: new Float32Array(buffer, entry.offset, entry.length), shape: entry.shape });
  const weights = Object.fromEntries(Object.entries(meta.weights).map(([k, v]) => [k, array(v)]));
  const gradients = meta.expectedGradients
    ? Object.fromEntries(Object.entries(meta.expectedGradients).map(([k, v]) => [k, array(v)]))
    : null;
  return {
    ...meta,
    weights,
    input: array(meta.input),
    expected: array(meta.expected),
    target: meta.target ? array(meta.target) : null,
    expectedGradients: gradients,
  };
}

function tensor(data, shape, requiresGrad = false) {
  const t = Tensor.fromTypedArray({ data: Float32Array.from(data), shape, dtype: "float32", device: "cpu" });
  return GradTensor.fromTensor(t, { requiresGrad });
}

function createModel(f) {
  const ctor = { LSTM: nn.LSTM, GRU: nn.GRU, RNN: nn.RNN }[f.cell];
  const model = new ctor(f.inputSize, f.hiddenSize, { numLayers: 1, bias: true, batchFirst: true });
  const parameters = {};
  for (const [name, w] of Object.entries(f.weights)) {
    parameters[name] = { data: Array.from(w.data), dtype: "float32", shape: w.shape };
  }
  model.loadStateDict({ parameters, buffers: {} });
  return model;
}

function values(t) {
  const g = t instanceof GradTensor ? t.tensor : t;
  const a = g.toArray();
  return Float32Array.from(Array.isArray(a) ? a.flat(Infinity) : [a]);
}

function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} and ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

function maxAbs(a) {
  let max = 0;
  for (const v of a) max = Math.max(max, Math.abs(v));
  return max;
}

// Times fn: warm-up calls, then samples of `batch` calls each until the budget is spent (and at least minSamples).
function measure(fn, { budgetMs, minSamples, warmup, batchTargetMs }) {
  for (let i = 0; i < warmup; i++) fn();
  let t0 = process.hrtime.bigint();
  fn();
  const once = Number(process.hrtime.bigint() - t0) / 1e6;
  const batch = Math.max(1, Math.floor(batchTargetMs / Math.max(once, 1e-4)));
  const samples = [];
  const start = process.hrtime.bigint();
  while (samples.length < minSamples || Number(process.hrtime.bigint() - start) / 1e6 < budgetMs) {
    t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) / batch);
    if (samples.length >= 1000) break;
  }
  samples.sort((a, b) => a - b);
  const mean = samples.reduce((s, v) => s + v, 0) / samples.length;
  const median = samples.length % 2 ? samples[(samples.length - 1) / 2] : (samples[samples.length / 2 - 1] + samples[samples.length / 2]) / 2;
  const sd = Math.sqrt(samples.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, samples.length - 1));
  return { meanNs: mean, medianNs: median, stdDevNs: sd, samples: samples.length, callsPerSample: batch };
}

function runForward(f, timing) {
  const model = createModel(f);
  model.eval();
  const x = tensor(f.input.data, f.input.shape);
  const call = () => noGrad(() => model.forward(x));
  const maxDiff = maxAbsDiff(values(call()), f.expected.data);
  if (!(maxDiff <= f.tolerance)) return { maxAbsDiff: maxDiff, error: `output differs from Deepbox's by ${maxDiff}` };
  return { maxAbsDiff: maxDiff, ...measure(call, timing) };
}

function runStreaming(f, timing) {
  const model = createModel(f);
  model.eval();
  const I = f.inputSize;
  const H = f.hiddenSize;
  const lstm = f.cell === "LSTM";
  const zeros = () => tensor(new Float32Array(H), [1, 1, H]);
  let h = zeros();
  let c = zeros();
  // One step of one sequence: [B=1, T=1, I] in, the state carried and detached from any graph each step.
  const step = (x) => {
    if (lstm) {
      const [y, [h2, c2]] = noGrad(() => model.forwardWithState(x, h, c));
      h = h2.detach();
      c = c2.detach();
      return y;
    }
    const [y, h2] = noGrad(() => model.forwardWithState(x, h));
    h = h2.detach();
    return y;
  };
  const outputs = new Float32Array(f.expected.data.length);
  const steps = f.input.shape[0];
  for (let t = 0; t < steps; t++) {
    const x = tensor(f.input.data.subarray(t * I, (t + 1) * I), [1, 1, I]);
    outputs.set(values(step(x)), t * H);
  }
  const maxDiff = maxAbsDiff(outputs, f.expected.data);
  if (!(maxDiff <= f.tolerance)) return { maxAbsDiff: maxDiff, error: `streamed outputs differ from Deepbox's by ${maxDiff}` };
  h = zeros();
  c = zeros();
  const x0 = tensor(f.input.data.subarray(0, I), [1, 1, I]);
  return { maxAbsDiff: maxDiff, ...measure(() => step(x0), timing) };
}

function runTraining(f, timing) {
  const model = createModel(f);
  model.train();
  const x = tensor(f.input.data, f.input.shape);
  const target = tensor(f.target.data, f.target.shape);
  const optimizer = new optim.Adam(model.parameters(), { lr: 1e-3 });
  // Check: forward, loss and gradients (relative to their largest magnitude) before any optimizer step.
  optimizer.zeroGrad();
  const y = model.forward(x);
  const loss = nn.mseLoss(y, target);
  let maxDiff = maxAbsDiff(values(y), f.expected.data);
  const lossDiff = Math.abs(values(loss)[0] - f.expectedLoss);
  if (!(maxDiff <= f.tolerance && lossDiff <= f.tolerance)) {
    return { maxAbsDiff: Math.max(maxDiff, lossDiff), error: `output or loss differs from Deepbox's (${maxDiff}, ${lossDiff})` };
  }
  loss.backward();
  let gradDiff = 0;
  for (const [name, p] of model.namedParameters()) {
    const expected = f.expectedGradients[name].data;
    gradDiff = Math.max(gradDiff, maxAbsDiff(values(p.grad), expected) / Math.max(maxAbs(expected), 1e-30));
  }
  if (!(gradDiff <= f.tolerance)) return { maxAbsDiff: maxDiff, error: `gradients differ from Deepbox's by ${gradDiff} (relative)` };
  maxDiff = Math.max(maxDiff, lossDiff);
  const step = () => {
    optimizer.zeroGrad();
    const out = model.forward(x);
    nn.mseLoss(out, target).backward();
    optimizer.step();
  };
  return { maxAbsDiff: maxDiff, relativeGradientDiff: gradDiff, ...measure(step, timing) };
}

function timingFor(f, quick) {
  const big = f.flopsPerCall > 1e9; // W2: seconds per call
  if (big) return { budgetMs: quick ? 0 : 20000, minSamples: quick ? 2 : 3, warmup: 1, batchTargetMs: 0 };
  return { budgetMs: quick ? 1500 : 5000, minSamples: 5, warmup: quick ? 3 : 10, batchTargetMs: 20 };
}

const args = parseArgs(process.argv.slice(2));
const here = dirname(fileURLToPath(import.meta.url));
const version = JSON.parse(readFileSync(join(here, "node_modules", "deepbox", "package.json"), "utf8")).version;
const names = JSON.parse(readFileSync(join(args.fixtures, "index.json"), "utf8"));
const filters = args.filters.map(glob);
const results = [];
for (const name of names) {
  const fullName = `Deepbox.Benchmarks.Suites.${name}.Npm_deepbox`;
  if (filters.length > 0 && !filters.some((r) => r.test(fullName))) continue;
  const f = loadFixture(args.fixtures, name);
  const timing = timingFor(f, args.quick);
  let r;
  try {
    r = f.kind === "streaming" ? runStreaming(f, timing) : f.kind === "training" ? runTraining(f, timing) : runForward(f, timing);
  } catch (e) {
    r = { error: String(e?.stack ?? e) };
  }
  const line = r.error ? `FAILED: ${r.error}` : `${(r.meanNs / 1e3).toFixed(1)} us per call (${r.samples} samples), largest difference ${r.maxAbsDiff.toExponential(2)}`;
  console.log(`  ${name.padEnd(10)} deepbox ${version}: ${line}`);
  results.push({ workload: name, peer: "Npm_deepbox", ...r });
}

mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(
  args.out,
  JSON.stringify({ deepbox: version, node: process.version, quick: args.quick, finishedUtc: new Date().toISOString(), results }, null, 2),
);
console.log(`npm deepbox: ${results.length} workloads, ${results.filter((r) => r.error).length} failed; results in ${args.out}`);
