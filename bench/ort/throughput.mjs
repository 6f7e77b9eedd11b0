// Throughput of ONNX Runtime (CPU, FP32) on a batch-1 model, for
// comparison with pimc's quantized executor (bench/resnet20.sh runs both).
//
// usage: node throughput.mjs MODEL.onnx [RUNS]
//
// Three ways to use the machine's cores, each after 20 warm-up runs, with
// ORT's full graph optimization:
//   threads=1   one session, one intra-op thread, RUNS sequential runs;
//   threads=2   one session, two intra-op threads, RUNS sequential runs;
//   sessions=2  two one-thread sessions running concurrently (RUNS each),
//               like pimc's RunBatch over two cores.
// Prints "ort MODE images/s X ms/image Y cpu-ms/image Z" (ms/image: wall
// time per image; cpu-ms/image: the process's user+system CPU time per
// image, all threads, which is less sensitive to other load).
// Inputs are fixed pseudo-random values (FP32 time does not depend on them).

import * as ort from 'onnxruntime-node';

const [model, runsArg] = process.argv.slice(2);
if (!model) {
  console.error('usage: node throughput.mjs MODEL.onnx [RUNS]');
  process.exit(2);
}
const runs = Number(runsArg ?? 1000);

function feedsFor(session) {
  const feeds = {};
  let seed = 1;
  for (const meta of session.inputMetadata) {
    const shape = meta.shape.map((d) => (typeof d === 'number' ? d : 1));
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      data[i] = seed / 2147483648 - 0.5;
    }
    feeds[meta.name] = new ort.Tensor('float32', data, shape);
  }
  return feeds;
}

async function open(threads) {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
}

async function loop(session, feeds, n) {
  for (let i = 0; i < n; i++) await session.run(feeds);
}

async function measure(mode, sessions) {
  const feeds = sessions.map(feedsFor);
  await Promise.all(sessions.map((s, i) => loop(s, feeds[i], 20)));
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  await Promise.all(sessions.map((s, i) => loop(s, feeds[i], runs)));
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const images = runs * sessions.length;
  const cpuMs = (c.user + c.system) / 1000 / images;
  console.log(`ort ${mode} images/s ${(images / sec).toFixed(1)} ms/image ${((sec * 1000) / images).toFixed(3)} cpu-ms/image ${cpuMs.toFixed(3)}`);
  for (const s of sessions) await s.release();
}

await measure('threads=1', [await open(1)]);
await measure('threads=2', [await open(2)]);
await measure('sessions=2', [await open(1), await open(1)]);
