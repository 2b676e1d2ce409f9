'use strict';
// The reviewkd CLI rejects bad input with a message naming the flag or config field, and exit code 2.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { cli, tmp, imageFolder } = require('./cli-helpers');

describe('cli: usage and config validation', function () {
  this.timeout(120000);
  let dir;
  let data;
  before(async () => {
    dir = tmp('validate');
    data = await imageFolder(path.join(dir, 'data'), 4);
  });

  const expectUsage = (args, pattern) => {
    const r = cli(args);
    assert.strictEqual(r.code, 2, `exit code of reviewkd ${args.join(' ')}: ${r.code}\nstderr: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    return r;
  };
  const writeConfig = (name, text) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  it('--help works on every command and the bare command prints usage', () => {
    for (const c of ['train', 'distill', 'eval', 'export', 'info', 'models', 'recipes', 'bench', 'report']) {
      const r = cli([c, '--help']);
      assert.strictEqual(r.code, 0, `${c} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`Usage: reviewkd ${c}`));
    }
    const bare = cli([]);
    assert.strictEqual(bare.code, 2);
    assert.match(bare.stdout, /Commands:/);
    assert.strictEqual(cli(['--help']).code, 0);
  });

  it('unknown command and unknown flag', () => {
    expectUsage(['trian'], /unknown command 'trian' \(did you mean 'train'\?\)/);
    expectUsage(['train', '--model', 'resnet8', '--foo', '1'], /unknown option '--foo'/);
    expectUsage(['train', '--epoch', '3'], /unknown option '--epoch'.*did you mean '--epochs'/);
  });

  it('wrong type and out-of-range values on the command line', () => {
    expectUsage(['train', '--model', 'resnet8', '--data', data, '--epochs', 'ten'], /option --epochs must be an integer/);
    expectUsage(['train', '--model', 'resnet8', '--data', data, '--epochs', '2', '--batch', '1'], /option --batch is out of range: must be between 2 and/);
    expectUsage(['train', '--model', 'resnet8', '--data', data, '--epochs', '2', '--lr=-0.5'], /option --lr is out of range/);
    expectUsage(['distill', '--student', 'resnet8', '--data', data, '--epochs', '2', '--teacher-bn', 'train'], /option --teacher-bn must be one of eval, batch; got 'train'/);
    expectUsage(['train', '--model', 'resnet8', '--data', data, '--epochs', '2', '--device', 'gpu'], /option --device must be cpu, cuda or cuda:N/);
  });

  it('config files: unknown key, wrong type, out of range, bad syntax, missing file', () => {
    const unknown = writeConfig('unknown.json', JSON.stringify({ model: 'resnet8', epochz: 2 }));
    expectUsage(['train', '--config', unknown], /config .*unknown\.json: unknown key 'epochz' \(did you mean 'epochs'\?\)/);
    const type = writeConfig('type.yaml', 'model: resnet8\nepochs: ten\n');
    expectUsage(['train', '--config', type], /config .*type\.yaml: field 'epochs' must be an integer/);
    const range = writeConfig('range.yaml', 'model: resnet8\nepochs: 2\nmomentum: 1.5\n');
    expectUsage(['train', '--config', range], /field 'momentum' is out of range: must be between 0 and 1; got 1.5/);
    const bool = writeConfig('bool.json', JSON.stringify({ model: 'resnet8', noAugment: 'yes' }));
    expectUsage(['train', '--config', bool], /field 'noAugment' must be true or false/);
    const syntax = writeConfig('syntax.yaml', 'model: [resnet8\n');
    expectUsage(['train', '--config', syntax], /config .*syntax\.yaml: cannot parse it/);
    expectUsage(['train', '--config', path.join(dir, 'nope.yaml')], /option --config: file '.*nope\.yaml' does not exist/);
    const missingData = writeConfig('missing-data.json', JSON.stringify({ model: 'resnet8', epochs: 1, data: 'no-such-folder' }));
    expectUsage(['train', '--config', missingData], /field 'data': .*no-such-folder' does not exist/);
  });

  it('missing files, unknown model, unknown recipe, missing required options', () => {
    expectUsage(['train', '--model', 'resnet8', '--epochs', '1', '--data', path.join(dir, 'absent')], /option --data: .*absent' does not exist/);
    expectUsage(['train', '--model', 'resnet99', '--epochs', '1', '--data', data], /option --model: unknown model 'resnet99'/);
    expectUsage(['distill', '--student', 'resnet8', '--teacher-model', 'wrn-99', '--teacher', data, '--epochs', '1', '--data', data], /option --teacher-model: unknown model 'wrn-99'/);
    expectUsage(['train', '--recipe', 'cifar100/resnet57', '--data', data], /option --recipe: unknown recipe 'cifar100\/resnet57' \(did you mean 'cifar100\/resnet56'\?\)/);
    expectUsage(['train', '--recipe', 'cifar100/resnet56-resnet20', '--data', data], /'cifar100\/resnet56-resnet20' is a 'distill' recipe/);
    expectUsage(['train', '--epochs', '1', '--data', data], /option --model \(or --recipe\) is required/);
    expectUsage(['distill', '--student', 'resnet8', '--epochs', '1', '--data', data], /option --teacher .* is required/);
    expectUsage(['distill', '--student', 'resnet8', '--epochs', '1', '--data', data, '--teacher', path.join(dir, 'no-teacher')], /option --teacher: .*no-teacher' does not exist/);
    expectUsage(['train', '--model', 'resnet8', '--data', data], /option --epochs \(or --recipe\) is required/);
    expectUsage(['eval', path.join(dir, 'none')], /argument <weights>: .*none' does not exist/);
    expectUsage(['eval'], /needs 1 positional/);
    expectUsage(['report', path.join(dir, 'none')], /argument <run folder>: .*does not exist/);
    expectUsage(['recipes', 'nope/none'], /unknown recipe 'nope\/none'/);
  });

  it('flags win over the config file', () => {
    const cfg = writeConfig('ok.yaml', `model: resnet8\nepochs: 0\ndata: ${JSON.stringify(data)}\n`);
    // epochs 0 in the file is out of range: the flag replaces it, so the error is the file's only when no flag is given.
    expectUsage(['train', '--config', cfg], /field 'epochs' is out of range/);
    const r = cli(['train', '--config', cfg, '--epochs', '1', '--model', 'resnet77']);
    assert.strictEqual(r.code, 2);
    assert.match(r.stderr, /option --model: unknown model 'resnet77'/);
  });

  it('info, models and recipes print (and --json parses)', () => {
    const info = JSON.parse(cli(['info', '--json']).stdout);
    assert.match(info.libtorch.version, /^\d+\.\d+/);
    assert.deepStrictEqual(info.devices[0], 'cpu');
    assert.ok(typeof info.threads === 'number');
    const models = JSON.parse(cli(['models', '--json']).stdout);
    for (const name of ['resnet20', 'resnet56', 'wrn-40-2', 'shufflenetv2', 'mobilenetv2-0.5', 'cifar-resnet50']) assert.ok(models.some((m) => m.name === name), name);
    const text = cli(['models']).stdout;
    assert.match(text, /resnet8x4/);
    const recipe = cli(['recipes', 'cifar100/resnet56-resnet20']);
    assert.strictEqual(recipe.code, 0);
    assert.match(recipe.stdout, /lambda 0\.6 \(published\)/);
    assert.match(recipe.stdout, /teacher BatchNorm 'batch'/);
  });
});
