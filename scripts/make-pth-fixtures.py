#!/usr/bin/env python3
"""Writes the PyTorch checkpoint fixtures of test/io-torch-checkpoint.test.js with PyTorch itself.

Run with the pinned CPU torch in a virtual environment (never the system python):
    python3 -m venv /tmp/ptvenv
    /tmp/ptvenv/bin/pip install --no-index --find-links <wheel folder> torch==2.13.0 numpy safetensors
    /tmp/ptvenv/bin/python scripts/make-pth-fixtures.py            # -> test/fixtures/pth/ (committed, ~0.7 MB)
    /tmp/ptvenv/bin/python scripts/make-pth-fixtures.py --big DIR  # ResNet18/ResNet50 checkpoints (not committed)

Everything is seeded, so a rerun with the same torch writes the same tensors. What is written:
  resnet8.pth / resnet8-legacy.pth   a CIFAR ResNet8 (10 classes, the zoo's names: the reference CIFAR code)
                                     state dict, zip and legacy (_use_new_zipfile_serialization=False) formats
  checkpoint.pth                     {'model': DataParallel-style 'module.' state dict, 'optimizer': SGD state
                                     with momentum buffers, 'epoch': 7} (the shape of mdistiller's checkpoints)
  wrap-<key>.pth                     {'<key>': state dict, ...} for key in state_dict, net, student
  dtypes.pth / dtypes-legacy.pth     one tensor of every dtype, a 0-d tensor, an empty one and an nn.Parameter
  views.pth / views-legacy.pth       slices, transposes, offsets, steps and a stride-0 expand of shared storages
  views-p4.pth                       the same with pickle protocol 4
  views-deflate.pth                  views.pth re-packed by Python's zipfile with deflated records
  attrs.pth                          a tensor and a Parameter with Python attributes (_rebuild_from_type_v2)
  *.safetensors                      the same tensors written by the safetensors package (the reference)
  expected.json                      per file and tensor: dtype, shape, SHA-256 of the contiguous little-endian
                                     bytes, the values of small tensors; ResNet8 logits of a fixed input
  malicious/*.pth + malicious.json   pickles that run code when torch.load(weights_only=False) opens them, and
                                     hand-assembled opcode sequences; each with the opcode/callable the reader
                                     must name when it refuses it. Nothing here is executed: pickling an object
                                     whose __reduce__ names os.system only writes the name.
With --big DIR: resnet18.pth, resnet18.safetensors, resnet18-logits.json (torchvision layout, 1000 classes)
and resnet50.pth (~100 MB) for the load-time measurement.
"""
import argparse
import hashlib
import io
import json
import math
import os
import struct
import zipfile

import torch
import torch.nn as nn
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'pth')
CANARY = '/tmp/reviewkd-pth-canary'


# ---------------------------------------------------------------- models (reference layouts)

class CifarBlock(nn.Module):
    """BasicBlock of the reference CIFAR ResNets (RepDistiller/ReviewKD code): 1x1 conv + BN shortcut."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (self.downsample(x) if self.downsample is not None else x))


class CifarResNet8(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)
        self.layer1 = nn.Sequential(CifarBlock(16, 16, 1))
        self.layer2 = nn.Sequential(CifarBlock(16, 32, 2))
        self.layer3 = nn.Sequential(CifarBlock(32, 64, 2))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class TvBasic(nn.Module):
    expansion = 1

    def __init__(self, cin, width, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width)
        self.downsample = None
        if stride != 1 or cin != width:
            self.downsample = nn.Sequential(nn.Conv2d(cin, width, 1, stride, bias=False), nn.BatchNorm2d(width))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (self.downsample(x) if self.downsample is not None else x))


class TvBottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride):
        super().__init__()
        cout = width * 4
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + (self.downsample(x) if self.downsample is not None else x))


class TvResNet(nn.Module):
    """torchvision.models.resnet's parameter layout (conv1/bn1/layer1-4/fc), written from its documentation."""

    def __init__(self, block, layers, classes=1000):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        cin = 64
        for i, (width, n) in enumerate(zip([64, 128, 256, 512], layers)):
            blocks = []
            for j in range(n):
                blocks.append(block(cin, width, 2 if (j == 0 and i > 0) else 1))
                cin = width * block.expansion
            setattr(self, f'layer{i + 1}', nn.Sequential(*blocks))
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def randomise_bn(model):
    """Running statistics and affine parameters away from their defaults, so loading them matters."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(1 + 0.1 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))
                m.running_mean.copy_(0.1 * torch.randn_like(m.running_mean))
                m.running_var.copy_(0.5 + torch.rand_like(m.running_var))
                m.num_batches_tracked.fill_(5)
    return model


def det_input(shape):
    """sin(0.01*k + 0.3) at row-major flat index k (the test builds the same input)."""
    n = math.prod(shape)
    return torch.sin(0.01 * torch.arange(n, dtype=torch.float64) + 0.3).reshape(shape).float()


# ---------------------------------------------------------------- the expected values

def raw_bytes(t):
    """The contiguous little-endian bytes of a tensor (what the reader must reproduce)."""
    return t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def describe(t):
    entry = {
        'dtype': str(t.dtype).replace('torch.', ''),
        'shape': list(t.shape),
        'sha256': hashlib.sha256(raw_bytes(t)).hexdigest(),
    }
    if t.numel() <= 64:
        entry['values'] = [float(v) if t.is_floating_point() else int(v) for v in t.detach().reshape(-1).tolist()]
    return entry


def save_both(obj, name, legacy=True):
    torch.save(obj, os.path.join(ROOT, f'{name}.pth'))
    if legacy:
        torch.save(obj, os.path.join(ROOT, f'{name}-legacy.pth'), _use_new_zipfile_serialization=False)


# ---------------------------------------------------------------- the malicious corpus

class Reduce:
    """An object whose pickle calls `fn(*args)` when unpickled by a code-running unpickler."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


class Plain:
    """An instance of a class that is not on any allow-list (pickled as copyreg.__newobj__ / NEWOBJ)."""

    def __init__(self):
        self.payload = 'x'


def zip_with_pickle(path, pkl, storages=None):
    """A zip laid out like torch.save's (archive/data.pkl, data/<n>, byteorder, version) around `pkl`."""
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        z.writestr('archive/data.pkl', pkl)
        z.writestr('archive/byteorder', 'little')
        for key, data in (storages or {}).items():
            z.writestr(f'archive/data/{key}', data)
        z.writestr('archive/version', '3\n')


def legacy_with_object_pickle(path, pkl, magic_pickle=None):
    """The legacy layout: magic, protocol, sys info pickles, then `pkl` and an empty storage-key list."""
    import pickle
    with open(path, 'wb') as f:
        f.write(magic_pickle if magic_pickle is not None else pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2))
        f.write(pickle.dumps(1001, protocol=2))
        f.write(pickle.dumps({'protocol_version': 1001, 'little_endian': True, 'type_sizes': {'short': 2, 'int': 4, 'long': 4}}, protocol=2))
        f.write(pkl)
        f.write(pickle.dumps([], protocol=2))


def make_malicious():
    import pickle
    out = os.path.join(ROOT, 'malicious')
    os.makedirs(out, exist_ok=True)
    cmd = f'touch {CANARY}'
    weight = torch.ones(2, 2)
    cases = []

    def case(name, expect, what):
        cases.append({'file': f'malicious/{name}', 'expect': expect, 'what': what})

    # torch.save itself writes these: a __reduce__ returning a dangerous callable, next to real tensors.
    torch.save({'conv.weight': weight, 'x': Reduce(os.system, (cmd,))}, os.path.join(out, 'os-system.pth'))
    case('os-system.pth', 'posix.system', 'torch.save of an object whose __reduce__ is (os.system, (cmd,))')
    torch.save({'w': weight, 'x': Reduce(eval, (f"__import__('os').system('{cmd}')",))}, os.path.join(out, 'builtins-eval.pth'))
    case('builtins-eval.pth', '__builtin__.eval|builtins.eval', 'builtins.eval of a string')
    torch.save({'w': weight, 'x': Reduce(eval, ('1',))}, os.path.join(out, 'builtins-eval-p4.pth'), pickle_protocol=4)
    case('builtins-eval-p4.pth', 'builtins.eval', 'builtins.eval in a protocol-4 pickle (STACK_GLOBAL)')
    torch.save({'w': weight, 'x': Reduce(exec, (f"import os; os.system('{cmd}')",))}, os.path.join(out, 'builtins-exec.pth'))
    case('builtins-exec.pth', '__builtin__.exec|builtins.exec', 'builtins.exec of a string')
    torch.save({'w': weight, 'x': Reduce(getattr, ('touch', 'upper'))}, os.path.join(out, 'builtins-getattr.pth'))
    case('builtins-getattr.pth', '__builtin__.getattr|builtins.getattr', 'getattr, the first step of getattr(os, "system")(cmd)')
    torch.save(Reduce(os.system, (cmd,)), os.path.join(out, 'legacy-os-system.pth'), _use_new_zipfile_serialization=False)
    case('legacy-os-system.pth', 'posix.system', 'the legacy format with os.system as the object')
    # Nested objects of classes that are not allowed, deep inside containers (protocol 2: NEWOBJ).
    torch.save({'state_dict': {'w': weight}, 'extra': [{'a': (1, Plain())}]}, os.path.join(out, 'nested-object.pth'))
    case('nested-object.pth', f'{__name__}.Plain', 'an instance of a user class nested in a list of dicts')
    torch.save({'w': weight, 'x': Reduce(torch.storage._load_from_bytes, (b'\x80\x02N.',))}, os.path.join(out, 'torch-load-from-bytes.pth'))
    case('torch-load-from-bytes.pth', 'torch.storage._load_from_bytes', 'a torch function that itself calls torch.load')

    # Hand-assembled opcode sequences (pickletools documents each opcode).
    proto2 = b'\x80\x02'
    hand = {
        # INST: "(" mark, args, then "i module\nname\n" instantiates module.name(*args).
        'inst.pth': (b'(S\'' + cmd.encode() + b'\'\nios\nsystem\n.', 'INST', 'the protocol-0 INST opcode'),
        # OBJ: mark, class, args, "o".
        'obj.pth': (b'(cos\nsystem\nS\'' + cmd.encode() + b'\'\no.', 'posix.system|os.system|OBJ', 'the OBJ opcode after a GLOBAL'),
        # STACK_GLOBAL (protocol 4) with module and name from the stack.
        'stack-global.pth': (b'\x80\x04\x8c\x02os\x8c\x06system\x93\x8c' + bytes([len(cmd)]) + cmd.encode() + b'\x85R.', 'os.system', 'STACK_GLOBAL os.system'),
        # Extension registry codes name a callable indirectly.
        'ext1.pth': (proto2 + b'\x82\x01)R.', 'EXT1', 'an EXT1 extension code'),
        'ext2.pth': (proto2 + b'\x83\x01\x00)R.', 'EXT2', 'an EXT2 extension code'),
        'ext4.pth': (proto2 + b'\x84\x01\x00\x00\x00)R.', 'EXT4', 'an EXT4 extension code'),
        # NEWOBJ on an allowed name: OrderedDict is allowed only through REDUCE with no arguments.
        'newobj.pth': (proto2 + b'ccollections\nOrderedDict\n)\x81.', 'NEWOBJ', 'NEWOBJ of collections.OrderedDict'),
        'newobj-ex.pth': (b'\x80\x04ccollections\nOrderedDict\n)}\x92.', 'NEWOBJ_EX', 'NEWOBJ_EX of collections.OrderedDict'),
        # BUILD with a (state, slotstate) tuple: __setstate__-style attribute injection on an allowed object.
        'build-slotstate.pth': (proto2 + b'ccollections\nOrderedDict\n)RN}X\x09\x00\x00\x00__class__X\x02\x00\x00\x00oss\x86b.', 'BUILD', 'BUILD with a slot-state tuple on an OrderedDict'),
        # BUILD on a non-container (a string): would call setattr/__setstate__ on it.
        'build-on-str.pth': (proto2 + b'X\x01\x00\x00\x00a}b.', 'BUILD', 'BUILD on a str'),
        # REDUCE of an allowed rebuild function with a callable smuggled as the storage.
        'rebuild-with-global.pth': (proto2 + b'ctorch._utils\n_rebuild_tensor_v2\n(cos\nsystem\nK\x00)))\x89tR.', 'posix.system|os.system', 'os.system passed as a tensor storage'),
        # REDUCE on something that is not a callable at all (a dict) and on a storage type.
        'reduce-non-callable.pth': (proto2 + b'})R.', 'REDUCE', 'REDUCE of a dict'),
        'reduce-storage-type.pth': (proto2 + b'ctorch\nFloatStorage\n)R.', 'REDUCE', 'calling torch.FloatStorage directly'),
        # Out-of-band buffers (protocol 5) and persistent ids that are not storages.
        'next-buffer.pth': (b'\x80\x05\x97.', 'NEXT_BUFFER', 'a protocol-5 out-of-band buffer'),
        'persid-not-storage.pth': (proto2 + b'X\x06\x00\x00\x00module\x85Q.', 'BINPERSID', 'a persistent id that is not a storage'),
        'persid-text.pth': (b'Pos.system\n.', 'PERSID', 'a protocol-0 text persistent id'),
    }
    for name, (pkl, expect, what) in hand.items():
        zip_with_pickle(os.path.join(out, name), pkl)
        case(name, expect, what)
    # The legacy-format path: the payload in the magic-number pickle itself (read before anything else),
    # and in the object pickle after a valid header.
    legacy_with_object_pickle(os.path.join(out, 'legacy-magic-payload.pth'), b'', magic_pickle=pickle.dumps(Reduce(os.system, (cmd,)), protocol=2))
    case('legacy-magic-payload.pth', 'posix.system', 'legacy format: the payload in the magic-number pickle')
    legacy_with_object_pickle(os.path.join(out, 'legacy-eval.pth'), pickle.dumps({'w': Reduce(eval, ('1',))}, protocol=2))
    case('legacy-eval.pth', '__builtin__.eval|builtins.eval', 'legacy format: builtins.eval in the object pickle')
    with open(os.path.join(ROOT, 'malicious.json'), 'w') as f:
        json.dump({'canary': CANARY, 'cases': cases}, f, indent=1)


# ---------------------------------------------------------------- the fixtures

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--big', metavar='DIR', help='write the ResNet18/ResNet50 checkpoints here instead')
    args = parser.parse_args()
    if args.big:
        return make_big(args.big)
    os.makedirs(ROOT, exist_ok=True)
    torch.manual_seed(0)
    expected = {}

    # A CIFAR ResNet8 state dict in both formats, and its logits on a fixed input.
    net = randomise_bn(CifarResNet8(10)).eval()
    sd = net.state_dict()
    save_both(sd, 'resnet8')
    with torch.no_grad():
        logits = net(det_input([2, 3, 32, 32]))
    expected['resnet8'] = {'tensors': {k: describe(v) for k, v in sd.items()}, 'logits': logits.reshape(-1).tolist(), 'input': [2, 3, 32, 32]}

    # {'model', 'optimizer', 'epoch'} with DataParallel names and SGD momentum buffers.
    tiny = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    tiny = randomise_bn(tiny)
    opt = torch.optim.SGD(tiny.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    tiny.train()
    loss = tiny(torch.randn(2, 3, 3, 3)).square().sum()
    loss.backward()
    opt.step()
    model_sd = {f'module.{k}': v for k, v in tiny.state_dict().items()}
    torch.save({'model': model_sd, 'optimizer': opt.state_dict(), 'epoch': 7, 'best_acc': 71.25}, os.path.join(ROOT, 'checkpoint.pth'))
    save_file({k: v.contiguous() for k, v in model_sd.items()}, os.path.join(ROOT, 'checkpoint-model.safetensors'))
    expected['checkpoint'] = {'tensors': {k: describe(v) for k, v in model_sd.items()}}

    # The other container keys people use.
    small = {'fc.weight': torch.randn(2, 3), 'fc.bias': torch.randn(2)}
    for key in ['state_dict', 'net', 'student']:
        torch.save({key: small, 'epoch': 1, 'arch': 'fc'}, os.path.join(ROOT, f'wrap-{key}.pth'))
    expected['wrap'] = {'tensors': {k: describe(v) for k, v in small.items()}}

    # Every dtype, a 0-d tensor, an empty tensor and an nn.Parameter.
    base = torch.randn(3, 5)
    dtypes = {
        'f32': base.clone(),
        'f64': base.double() * 1e-3,
        'f16': base.half(),
        'bf16': base.bfloat16(),
        'i8': torch.tensor([-128, -1, 0, 1, 127], dtype=torch.int8),
        'i16': torch.tensor([-32768, -2, 0, 3, 32767], dtype=torch.int16),
        'i32': torch.tensor([-2 ** 31, -5, 0, 7, 2 ** 31 - 1], dtype=torch.int32),
        'i64': torch.tensor([-2 ** 63, -(2 ** 53) - 1, 0, 2 ** 53 + 1, 2 ** 63 - 1], dtype=torch.int64),
        'u8': torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
        'bool': torch.tensor([[True, False, True], [False, False, True]]),
        'scalar': torch.tensor(3.5),
        'empty': torch.zeros(0, 4),
        'param': nn.Parameter(torch.arange(6, dtype=torch.float32).reshape(2, 3)),
    }
    save_both(dtypes, 'dtypes')
    save_file({k: v.detach().contiguous() for k, v in dtypes.items() if v.dtype not in (torch.int8, torch.int16)}, os.path.join(ROOT, 'dtypes.safetensors'))
    expected['dtypes'] = {'tensors': {k: describe(v) for k, v in dtypes.items()}}

    # Views of shared storages: the file holds each storage once; each tensor is (offset, size, stride).
    grid = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    half_grid = torch.arange(12, dtype=torch.float32).reshape(3, 4).bfloat16()
    flat = grid.view(-1)
    views = {
        'grid': grid,
        'row': grid[2],
        'col': grid[:, 3],
        'transpose': grid.t(),
        'block': grid[1:3, 2:5],
        'offset': flat[5:11],
        'step': flat[1::5],
        'expand': grid[0, :3].unsqueeze(0).expand(4, 3),
        'bf16-t': half_grid.t()[1:],
        'permute': grid.reshape(2, 3, 4).permute(2, 0, 1),
    }
    save_both(views, 'views')
    # Protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE) instead of torch.save's default 2.
    torch.save(views, os.path.join(ROOT, 'views-p4.pth'), pickle_protocol=4)
    save_file({k: v.clone().contiguous() for k, v in views.items()}, os.path.join(ROOT, 'views.safetensors'))
    expected['views'] = {'tensors': {k: describe(v) for k, v in views.items()}}

    # Tensors with Python attributes: torch.save goes through _rebuild_from_type_v2 and
    # _rebuild_parameter_with_state (the attributes are data; the reader drops them).
    tagged = torch.arange(4, dtype=torch.float32)
    tagged.note = 'calibrated'
    param = nn.Parameter(torch.full((2, 2), 0.5))
    param.lr_scale = 0.1
    attrs = {'tagged': tagged, 'param': param}
    torch.save(attrs, os.path.join(ROOT, 'attrs.pth'))
    expected['attrs'] = {'tensors': {k: describe(v) for k, v in attrs.items()}}

    # The same views re-packed by Python's zipfile with deflate: another writer, compressed records.
    with zipfile.ZipFile(os.path.join(ROOT, 'views.pth')) as zin, \
            zipfile.ZipFile(os.path.join(ROOT, 'views-deflate.pth'), 'w', zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))

    expected['torch'] = torch.__version__
    with open(os.path.join(ROOT, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)
    make_malicious()
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(ROOT) for n in ns)
    print(f'wrote {ROOT} ({total / 1024:.0f} kB) with torch {torch.__version__}')


def make_big(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1)
    r18 = randomise_bn(TvResNet(TvBasic, [2, 2, 2, 2])).eval()
    sd = r18.state_dict()
    torch.save(sd, os.path.join(out, 'resnet18.pth'))
    save_file({k: v.contiguous() for k, v in sd.items()}, os.path.join(out, 'resnet18.safetensors'))
    with torch.no_grad():
        logits = r18(det_input([2, 3, 224, 224]))
    with open(os.path.join(out, 'resnet18-logits.json'), 'w') as f:
        json.dump({'input': [2, 3, 224, 224], 'logits': logits.reshape(-1).tolist()}, f)
    r50 = randomise_bn(TvResNet(TvBottleneck, [3, 4, 6, 3])).eval()
    torch.save(r50.state_dict(), os.path.join(out, 'resnet50.pth'))
    torch.save(r50.state_dict(), os.path.join(out, 'resnet50-legacy.pth'), _use_new_zipfile_serialization=False)
    for n in sorted(os.listdir(out)):
        print(f'{n}: {os.path.getsize(os.path.join(out, n)) / 2 ** 20:.1f} MiB')


if __name__ == '__main__':
    main()
