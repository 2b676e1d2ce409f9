'use strict';
// Kill-and-resume: a child process distils a resnet8 student (ReviewKD, teacher trained here and saved
// as safetensors) with checkpoints every 2 steps; it is killed with SIGKILL at seeded random moments,
// 20 times, each time a new child resumes from the newest intact checkpoint; the final student must be
// bit-for-bit the student of an uninterrupted run. After every kill, every checkpoint that lists must
// load with its recorded hash, and at least one must remain once one was written (keepLast: 1).
const assert = require('assert');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const rk = require('..');
const { listCheckpoints, removeOrphans } = rk.train;
const { loadCheckpointTensors } = require('../dist/train/checkpoint');
const { squaresDataset } = require('./train-helpers');
const { prng } = require('./helpers');

const CHILD = path.join(__dirname, 'fuzz', 'kill-resume-child.js');
const KILLS = 20;

/** Runs the child; `killAt(lines, elapsedMs)` decides (per output line and on a timer) when to SIGKILL. */
function runChild(runDir, teacherFile, outFile, plan) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, runDir, teacherFile, outFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let steps = 0;
    let done = false;
    let killed = false;
    let stderr = '';
    let buffered = '';
    const kill = () => {
      if (!killed && !done) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    if (plan && plan.atMs !== undefined) setTimeout(kill, plan.atMs);
    child.stdout.on('data', (d) => {
      buffered += d;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('step ')) {
          steps++;
          if (plan && plan.afterSteps !== undefined && steps === plan.afterSteps) setTimeout(kill, plan.delayMs);
        } else if (line.startsWith('done')) done = line;
      }
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code, signal) => resolve({ code, signal, steps, done, killed: signal === 'SIGKILL', stderr }));
  });
}

function weightsOf(file) {
  const t = rk.io.loadSafetensors(file);
  const out = {};
  for (const [k, v] of Object.entries(t)) {
    out[k] = Buffer.from(v.toArray().buffer);
    v.dispose();
  }
  return out;
}

/** Every listed checkpoint must load with its hash; returns how many there are. */
function checkIntact(runDir, round) {
  const listed = listCheckpoints(runDir);
  const verified = listCheckpoints(runDir, { verifyHash: true });
  assert.deepStrictEqual(listed.map((c) => c.name), verified.map((c) => c.name), `round ${round}: a listed checkpoint fails its hash`);
  for (const c of verified) {
    const record = loadCheckpointTensors(runDir, c);
    assert.ok(record['rng.augment'] && Object.keys(record).some((k) => k.startsWith('student.')), `round ${round}: ${c.name} holds the state`);
    Object.values(record).forEach((t) => t.dispose());
  }
  return verified.length;
}

describe('reliability: SIGKILL at random moments, then resume (child processes)', function () {
  this.timeout(300000);
  let dir;
  let teacherFile;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-kill-'));
    const teacher = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    const tr = await rk.train.Trainer.create({ student: teacher, train: squaresDataset(48, 11), augment: false });
    await tr.fit({ epochs: 1, batchSize: 8, lr: 0.05, progress: 'none' });
    tr.dispose();
    teacherFile = path.join(dir, 'teacher.safetensors');
    teacher.save(teacherFile);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`${KILLS} kills and resumes end with the weights of an uninterrupted run, bit for bit`, async () => {
    const reference = await runChild(path.join(dir, 'ref'), teacherFile, path.join(dir, 'ref.safetensors'), null);
    assert.ok(reference.done, `the uninterrupted run finished: ${reference.stderr}`);

    const runDir = path.join(dir, 'killed');
    const rand = prng(424242);
    let kills = 0;
    let everWritten = false;
    let orphansSeen = 0;
    let resumes = 0;
    let final = null;
    for (let round = 0; round < 200 && !final; round++) {
      const plan = kills >= KILLS ? null : rand() < 0.15 ? { atMs: Math.floor(rand() * 500) } : { afterSteps: 1 + Math.floor(rand() * 2), delayMs: Math.floor(rand() * 40) };
      const r = await runChild(runDir, teacherFile, path.join(dir, 'killed.safetensors'), plan);
      if (r.done) {
        final = r;
        break;
      }
      assert.ok(r.killed, `round ${round}: the child died by itself (exit ${r.code}): ${r.stderr}`);
      kills++;
      if (r.steps > 0) resumes++;
      orphansSeen += fs.existsSync(runDir) ? fs.readdirSync(runDir).filter((f) => f.includes('.tmp-')).length : 0;
      const intact = fs.existsSync(runDir) ? checkIntact(runDir, round) : 0;
      if (intact > 0) everWritten = true;
      assert.ok(!everWritten || intact > 0, `round ${round}: no intact checkpoint left after one was written`);
    }
    console.log(`      kill-and-resume: ${kills} SIGKILLs (${resumes} after training steps), ${orphansSeen} orphan temp files left by kills, final run resumed from ${final && final.done.slice(13)}`);
    assert.ok(final, 'the run finished');
    assert.strictEqual(kills, KILLS, 'every planned kill happened before the run finished');
    assert.deepStrictEqual(fs.readdirSync(runDir).filter((f) => f.includes('.tmp-')), [], 'no temp file is left after a completed run');

    const a = weightsOf(path.join(dir, 'ref.safetensors'));
    const b = weightsOf(path.join(dir, 'killed.safetensors'));
    assert.deepStrictEqual(Object.keys(b).sort(), Object.keys(a).sort());
    const differ = Object.keys(a).filter((k) => !a[k].equals(b[k]));
    assert.deepStrictEqual(differ, [], 'student tensors that differ from the uninterrupted run');
  });

  it('has teeth: a run resumed without its RNG state ends with different weights', async () => {
    // The same comparison must fail when resume loses state: drop rng.augment from a mid-run checkpoint.
    const runDir = path.join(dir, 'teeth');
    const r = await runChild(runDir, teacherFile, path.join(dir, 'teeth.safetensors'), { afterSteps: 9, delayMs: 0 });
    assert.ok(r.killed);
    const [newest] = listCheckpoints(runDir, { verifyHash: true });
    const record = loadCheckpointTensors(runDir, newest);
    // A valid but different generator state: the one at the end of the reference run.
    const [refNewest] = listCheckpoints(path.join(dir, 'ref'), { verifyHash: true });
    const other = loadCheckpointTensors(path.join(dir, 'ref'), refNewest);
    record['rng.augment'].dispose();
    record['rng.augment'] = other['rng.augment'];
    const file = path.join(runDir, `${newest.name}.safetensors`);
    rk.io.saveSafetensors(file, record);
    Object.values(record).forEach((t) => t.dispose());
    const meta = JSON.parse(fs.readFileSync(path.join(runDir, `${newest.name}.json`), 'utf8'));
    meta.sha256 = require('crypto').createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    fs.writeFileSync(path.join(runDir, `${newest.name}.json`), JSON.stringify(meta));
    const done = await runChild(runDir, teacherFile, path.join(dir, 'teeth.safetensors'), null);
    assert.ok(done.done, done.stderr);
    const a = weightsOf(path.join(dir, 'ref.safetensors'));
    const b = weightsOf(path.join(dir, 'teeth.safetensors'));
    assert.ok(Object.keys(a).some((k) => !a[k].equals(b[k])), 'a resume with a different augmentation RNG must not match');
  });

  it('removes orphan temp files and sidecar-less checkpoint tensors at start, and keeps best and user weights', async () => {
    const runDir = path.join(dir, 'orphans');
    fs.mkdirSync(runDir);
    const planted = ['.epoch-0002.json.tmp-123-abcd', '.epoch-0002.safetensors.tmp-123-0001', 'epoch-0002.safetensors', 'step-00000004.safetensors'];
    for (const f of planted) fs.writeFileSync(path.join(runDir, f), 'partial');
    fs.copyFileSync(teacherFile, path.join(runDir, 'best.safetensors'));
    fs.copyFileSync(teacherFile, path.join(runDir, 'my-teacher.safetensors'));
    const r = await runChild(runDir, teacherFile, path.join(dir, 'orphans-out.safetensors'), { afterSteps: 1, delayMs: 0 });
    assert.ok(r.killed || r.done);
    const left = fs.readdirSync(runDir);
    for (const f of planted) assert.ok(!left.includes(f), `${f} was removed`);
    assert.ok(left.includes('my-teacher.safetensors'), 'a user file without a checkpoint name is kept');
    assert.ok(left.includes('best.safetensors'), 'best.safetensors is kept');
    assert.deepStrictEqual(removeOrphans(runDir).filter((f) => !f.includes('.tmp-')), [], 'nothing but temp files of the killed child is left to remove');
  });

  it('keepLast below 1 is refused, so pruning can never delete the newest checkpoint', async () => {
    const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    const tr = await rk.train.Trainer.create({ student, train: squaresDataset(16, 3), augment: false });
    const runDir = path.join(dir, 'keep');
    for (const keepLast of [0, -1, NaN, 1.5]) {
      await assert.rejects(tr.fit({ epochs: 1, batchSize: 8, runDir, keepLast, progress: 'none' }), /keepLast/);
    }
    await tr.fit({ epochs: 3, batchSize: 8, runDir, keepLast: 1, checkpointEvery: 1, progress: 'none' });
    assert.deepStrictEqual(listCheckpoints(runDir, { verifyHash: true }).map((c) => c.name), ['epoch-0003']);
    tr.dispose();
  });

  it('an interrupted write never leaves a checkpoint that loads: a sidecar without its tensors, a truncated tensors file', async () => {
    const runDir = path.join(dir, 'interrupted');
    const r = await runChild(runDir, teacherFile, path.join(dir, 'int.safetensors'), { afterSteps: 5, delayMs: 0 });
    assert.ok(r.killed);
    const [newest] = listCheckpoints(runDir, { verifyHash: true });
    assert.ok(newest);
    const tensorsFile = path.join(runDir, `${newest.name}.safetensors`);
    const bytes = fs.readFileSync(tensorsFile);
    fs.writeFileSync(tensorsFile, bytes.subarray(0, bytes.length >> 1));
    assert.throws(() => loadCheckpointTensors(runDir, newest), /corrupt/, 'a truncated tensors file is refused by its hash');
    assert.strictEqual(listCheckpoints(runDir, { verifyHash: true }).length, 0, 'and not listed as intact');
    fs.rmSync(tensorsFile);
    assert.strictEqual(listCheckpoints(runDir).length, 0, 'a sidecar without its tensors file is not a checkpoint');
  });
});
