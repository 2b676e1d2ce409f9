// Launching test jobs of several ranks on 127.0.0.1 (child node processes, a free port each time).
'use strict';
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');

/** A TCP port that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The torchrun variables of rank `rank` of `world` on this machine. */
function rankEnv(rank, world, port, extra = {}) {
  const env = { ...process.env, RANK: String(rank), WORLD_SIZE: String(world), LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(world), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), ...extra };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** Runs `script args` (or `script argsFor(rank)`) as ranks 0..world-1; resolves to [{code, signal, stdout, stderr, json}] in rank order. */
async function runRanks(world, script, args, { extraEnv = () => ({}), argsFor = () => args, port } = {}) {
  port = port ?? (await freePort());
  const runs = [];
  for (let r = 0; r < world; r++) {
    runs.push(
      new Promise((resolve) => {
        const child = spawn(process.execPath, [script, ...argsFor(r)], { env: rankEnv(r, world, port, extraEnv(r)), stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code, signal) => {
          const last = stdout.trim().split('\n').pop();
          let json = null;
          try {
            json = JSON.parse(last);
          } catch {
            // not JSON: the assertion shows stdout/stderr
          }
          resolve({ code, signal, stdout, stderr, json });
        });
      }),
    );
  }
  return Promise.all(runs);
}

const RANK_SCRIPT = path.join(__dirname, 'distributed', 'rank.js');

module.exports = { freePort, rankEnv, runRanks, RANK_SCRIPT };
