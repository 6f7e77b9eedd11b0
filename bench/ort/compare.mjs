// Times ONNX Runtime (CPU, one intra-op thread) on a model, for comparison
// with pimc's interpreter (bench/run.sh runs both).
//
// usage: node compare.mjs MODEL.onnx [RUNS]
//
// Prints one line per optimization level: the median and the minimum wall
// time of RUNS session.run calls on one input (the conformance models' ramp,
// arange(n)/n), after warm-up runs.
//
// Level "all" is ORT's default full optimization. Level "disabled" runs
// the graph as written, but the conformance models generate their weights
// inside the graph (Tile→Slice→Mul→Add→Reshape), which an unoptimized
// session would recompute on every run; so the "disabled" session runs a
// copy of the model in which ORT has only folded those constants (it is
// saved with level "basic", which also folds BatchNormalization into Conv,
// as pimc's fold-batchnorm pass does).

import * as ort from 'onnxruntime-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [model, runsArg] = process.argv.slice(2);
if (!model) {
  console.error('usage: node compare.mjs MODEL.onnx [RUNS]');
  process.exit(2);
}
const runs = Number(runsArg ?? 20);

const base = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', logSeverityLevel: 3 };

function rampFeeds(session) {
  const feeds = {};
  for (const name of session.inputNames) {
    const meta = session.inputMetadata.find((m) => m.name === name);
    const shape = meta.shape.map((d) => (typeof d === 'number' ? d : 1));
    const n = shape.reduce((a, b) => a * b, 1);
    if (meta.type !== 'float32') {
      // An unused input left over from the original graph (an old-style
      // initializer listed as input): any value of its type will do.
      feeds[name] = new ort.Tensor(meta.type, meta.type === 'int64' ? new BigInt64Array(n) : new Float32Array(n), shape);
      continue;
    }
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = i / n;
    feeds[name] = new ort.Tensor('float32', data, shape);
  }
  return feeds;
}

async function time(path, level) {
  const session = await ort.InferenceSession.create(path, { ...base, graphOptimizationLevel: level });
  const feeds = rampFeeds(session);
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  await session.release();
  return { median: ms[Math.floor(ms.length / 2)], min: ms[0] };
}

const show = (level, t) => console.log(`ort ${level} median ${t.median.toFixed(2)} min ${t.min.toFixed(2)} ms`);

const dir = mkdtempSync(join(tmpdir(), 'pimc-ort-'));
try {
  const folded = join(dir, 'folded.onnx');
  const s = await ort.InferenceSession.create(model, { ...base, graphOptimizationLevel: 'basic', optimizedModelFilePath: folded });
  await s.release();
  show('all', await time(model, 'all'));
  show('disabled', await time(folded, 'disabled'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
