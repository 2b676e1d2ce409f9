'use strict';
// Freed CPU memory kept for the next step (native/common/cpu_memory.cc, reusing_cpu_allocator.cc): the way
// memory is reused must never change a result, so the same seeded distillation runs in child processes
// under each REVIEWKD_CPU_MEMORY_REUSE value and must leave bit-identical weights. Reused blocks are not
// zeroed (fresh pages from the kernel are), so this also catches code that reads memory it never wrote.
const assert = require('assert');
const path = require('path');
const { spawnSync } = require('child_process');
const { native } = require('../dist/native');

const ROOT = path.resolve(__dirname, '..');

// A reviewkd distillation with 0.8-3 MB maps (above the reusing allocator's 256 KiB floor), then a
// hash of the student's weights and of the review head's.
const SCRIPT = `
const crypto = require('crypto');
const rk = require(${JSON.stringify(ROOT)});
const { squaresDataset } = require(${JSON.stringify(path.join(__dirname, 'train-helpers'))});
(async () => {
  rk.setNumThreads(1);
  rk.manualSeed(7);
  const teacher = rk.models.create('resnet14', { numClasses: 10, inChannels: 1 });
  const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
  const trainer = await rk.train.Trainer.create({ student, teacher, method: 'reviewkd', train: squaresDataset(96, 1), seed: 7 });
  await trainer.fit({ epochs: 2, batchSize: 48, lr: 0.05, lossWarmupEpochs: 0, progress: 'none' });
  const hash = crypto.createHash('sha256');
  for (const model of [student, trainer.head]) {
    for (const [name, t] of Object.entries(model.stateDict())) hash.update(name).update(Buffer.from(t.toArray().buffer));
  }
  process.stdout.write(hash.digest('hex'));
})().catch((e) => { process.stderr.write(e.message); process.exit(1); });
`;

function runWith(value) {
  const env = { ...process.env };
  if (value === undefined) delete env.REVIEWKD_CPU_MEMORY_REUSE;
  else env.REVIEWKD_CPU_MEMORY_REUSE = value;
  return spawnSync(process.execPath, ['-e', SCRIPT], { env, encoding: 'utf8', timeout: 240000 });
}

describe('CPU memory reuse between steps', function () {
  this.timeout(600000);

  it('leaves bit-identical weights whether memory is cached, kept by malloc or returned to the OS', () => {
    const hashes = {};
    for (const value of [undefined, 'cache', 'malloc', '0']) {
      const r = runWith(value);
      assert.strictEqual(r.status, 0, `REVIEWKD_CPU_MEMORY_REUSE=${value}: ${r.stderr}`);
      assert.match(r.stdout, /^[0-9a-f]{64}$/);
      hashes[String(value)] = r.stdout;
    }
    assert.strictEqual(new Set(Object.values(hashes)).size, 1, JSON.stringify(hashes));
  });

  it('rejects a value it does not understand, naming the setting', () => {
    const r = runWith('sometimes');
    assert.notStrictEqual(r.status, 0);
    assert.match(r.stderr, /REVIEWKD_CPU_MEMORY_REUSE=sometimes is not understood/);
  });

  it('the native switch checks its argument', () => {
    assert.throws(() => native().keepFreedCpuMemory('always'), (e) => e instanceof RangeError && /'malloc' or 'cache'/.test(e.message));
  });
});
