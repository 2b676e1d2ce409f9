#!/usr/bin/env python3
"""PyTorch eager timing of the ReviewKD CIFAR distillation step, for comparison with `npm run bench`.

A timing model written from the ReviewKD paper and docs/models.md (not the reference code): the CIFAR ResNet teacher
(eval BN, no grad, pre-activation stage features) and student (post-ReLU stage features), the ABF review
head (mid channels = min(512, C of the pooled student feature)), HCL with levels 4, 2, 1, cross-entropy,
SGD with Nesterov momentum and weight decay. Synthetic data, no augmentation, no data loading.
Needs a python3 with torch (e.g. the pinned CPU wheel in a venv):
    python3 scripts/bench-pytorch.py [--batch 64,128] [--threads 2] [--pairs resnet56-resnet20,wrn-40-2-wrn-16-2]
                                     [--modes fp32,fast] [--thread main|second|both] [--steps 6] [--repeats 3] [--json]
(`npm run bench -- --pytorch python3` runs it in the same run as ours and prints both side by side.)
Prints img/s of the distillation step, the student step alone and the teacher forward alone, in fp32 and
with channels-last + bf16 autocast, run on the main thread and on a second thread (as the addon runs it).

With --data DIR it times instead the input pipeline a PyTorch user writes for ImageNet training (what
`reviewkd bench --data DIR` compares with): PIL decode, torchvision's RandomResizedCrop(224) rule (written
out below, so torchvision need not be installed) and horizontal flip, uint8 CHW tensors, batches from a
torch.utils.data.DataLoader with --workers worker processes (needs Pillow):
    python3 scripts/bench-pytorch.py --data DIR [--workers 2] [--batch 64] [--images N] [--json]
"""
import argparse
import json
import math
import os
import random
import threading
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        s = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + (x if self.down is None else self.down(x))
        return F.relu(s), s


class CifarResNet(nn.Module):
    def __init__(self, depth, filters, classes=100):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1, self.bn1 = nn.Conv2d(3, filters[0], 3, 1, 1, bias=False), nn.BatchNorm2d(filters[0])
        stages, cin = [], filters[0]
        for i, cout in enumerate(filters[1:]):
            blocks = []
            for b in range(n):
                blocks.append(Block(cin, cout, 2 if i > 0 and b == 0 else 1))
                cin = cout
            stages.append(nn.ModuleList(blocks))
        self.stages, self.fc = nn.ModuleList(stages), nn.Linear(cin, classes)

    def forward(self, x, preact=False):
        x, feats = F.relu(self.bn1(self.conv1(x))), []
        for stage in self.stages:
            for block in stage:
                x, s = block(x)
            feats.append(s if preact else x)
        pooled = F.adaptive_avg_pool2d(x, 1)
        return self.fc(pooled.flatten(1)), feats + [pooled]


class PreActBlock(nn.Module):
    """WRN's pre-activation block: BN-ReLU-conv, BN-ReLU-conv, plus a 1x1 conv shortcut when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.short = None if cin == cout else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        a = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(a))))
        return out + (x if self.short is None else self.short(a))


class WideResNet(nn.Module):
    """WRN-depth-width; stage features are the raw group outputs, or (preact) the next BatchNorm applied to them."""

    def __init__(self, depth, width, classes=100):
        super().__init__()
        n, widths = (depth - 4) // 6, [16, 16 * width, 32 * width, 64 * width]
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        groups, cin = [], 16
        for i, cout in enumerate(widths[1:]):
            groups.append(nn.Sequential(*[PreActBlock(cin if b == 0 else cout, cout, 2 if i > 0 and b == 0 else 1) for b in range(n)]))
            cin = cout
        self.groups, self.bn, self.fc = nn.ModuleList(groups), nn.BatchNorm2d(cin), nn.Linear(cin, classes)

    def forward(self, x, preact=False):
        x, feats = self.conv1(x), []
        for i, group in enumerate(self.groups):
            x = group(x)
            nxt = self.groups[i + 1][0].bn1 if i + 1 < len(self.groups) else self.bn
            feats.append(nxt(x) if preact else x)
        x = F.relu(self.bn(x))
        pooled = F.adaptive_avg_pool2d(x, 1)
        return self.fc(pooled.flatten(1)), feats + [pooled]


class ABF(nn.Module):
    def __init__(self, cin, mid, cout, fuse):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid))
        self.conv2 = nn.Sequential(nn.Conv2d(mid, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout))
        self.att = nn.Sequential(nn.Conv2d(2 * mid, 2, 1), nn.Sigmoid()) if fuse else None

    def forward(self, x, y=None, size=None):
        x = self.conv1(x)
        if self.att is not None:
            y = F.interpolate(y, x.shape[2:], mode='nearest')
            z = self.att(torch.cat([x, y], 1))
            x = x * z[:, :1] + y * z[:, 1:]
        if size is not None and x.shape[-1] != size:
            x = F.interpolate(x, (size, size), mode='nearest')
        return self.conv2(x), x


def hcl(students, teachers):
    total = 0
    for fs, ft in zip(students, teachers):
        loss, weight, norm = F.mse_loss(fs, ft), 1.0, 1.0
        for level in (4, 2, 1):
            if level >= fs.shape[2]:
                continue
            weight /= 2
            loss = loss + weight * F.mse_loss(F.adaptive_avg_pool2d(fs, level), F.adaptive_avg_pool2d(ft, level))
            norm += weight
        total = total + loss / norm
    return total


PAIRS = {
    'resnet56-resnet20': ((56, [16, 16, 32, 64]), (20, [16, 16, 32, 64])),
    'resnet32x4-resnet8x4': ((32, [32, 64, 128, 256]), (8, [32, 64, 128, 256])),
    'wrn-40-2-wrn-16-2': (('wrn', 40, 2), ('wrn', 16, 2)),
}


def build(spec):
    """(model, stage channels [stem, s1, s2, s3]) for a PAIRS entry."""
    if spec[0] == 'wrn':
        _, depth, width = spec
        return WideResNet(depth, width), [16, 16 * width, 32 * width, 64 * width]
    depth, filters = spec
    return CifarResNet(depth, filters), filters


def make_step(pair, batch, fast):
    (teacher, tf), (student, sf) = (build(spec) for spec in PAIRS[pair])
    teacher = teacher.eval()
    chans, sizes = sf[1:] + [sf[-1]], [32, 16, 8, 1]
    mid = min(512, chans[-1])
    abfs = nn.ModuleList([ABF(c, mid, tc, i < 3) for i, (c, tc) in enumerate(zip(chans, tf[1:] + [tf[-1]]))])
    params = list(student.parameters()) + list(abfs.parameters())
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 100, (batch,))
    if fast:
        for m in (teacher, student, abfs):
            m.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def head(feats):
        outs, (out, residual) = [], abfs[3](feats[3])
        outs.append(out)
        for i in (2, 1, 0):
            out, residual = abfs[i](feats[i], residual, sizes[i])
            outs.insert(0, out)
        return outs

    def distill():
        with torch.autocast('cpu', torch.bfloat16, enabled=fast):
            with torch.no_grad():
                _, tfeats = teacher(x, preact=True)
            logits, sfeats = student(x)
            preds = head(sfeats)
        loss = F.cross_entropy(logits.float(), y) + hcl([p.float() for p in preds], [t.float() for t in tfeats])
        opt.zero_grad()
        loss.backward()
        opt.step()

    def student_only():
        with torch.autocast('cpu', torch.bfloat16, enabled=fast):
            logits, _ = student(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def teacher_forward():
        with torch.autocast('cpu', torch.bfloat16, enabled=fast), torch.no_grad():
            teacher(x)

    return {'distill': distill, 'student': student_only, 'teacher fwd': teacher_forward}


def rate(fn, batch, steps=6, repeats=3, on_thread=False):
    def run():
        fn(), fn()  # warm-up
        rates = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            rates.append(steps * batch / (time.perf_counter() - t0))
        result.append(sorted(rates)[len(rates) // 2])
    result = []
    if on_thread:
        t = threading.Thread(target=run)
        t.start()
        t.join()
    else:
        run()
    return result[0]


# ---- the input pipeline (--data) ----

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')


def list_images(root):
    """(path, class index) for root/<class>/<file>, classes sorted: torchvision's ImageFolder order."""
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith('.'))
    items = []
    for c, name in enumerate(classes):
        for f in sorted(os.listdir(os.path.join(root, name))):
            if f.lower().endswith(IMAGE_EXTENSIONS):
                items.append((os.path.join(root, name, f), c))
    return items


def random_resized_crop_params(width, height, rng, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision.transforms.RandomResizedCrop.get_params: 10 tries, then the centre fallback."""
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return rng.randint(0, height - h), rng.randint(0, width - w), h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


class TrainFolder(torch.utils.data.Dataset):
    """ImageFolder + RandomResizedCrop(224) + RandomHorizontalFlip + PILToTensor, as a user writes it."""

    def __init__(self, root, size=224):
        self.items, self.size = list_images(root), size

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        from PIL import Image
        import numpy as np
        path, label = self.items[index]
        with open(path, 'rb') as f:
            img = Image.open(f).convert('RGB')  # torchvision's pil_loader
        rng = random  # DataLoader seeds Python's random in each worker
        i, j, h, w = random_resized_crop_params(img.width, img.height, rng)
        img = img.crop((j, i, j + w, i + h)).resize((self.size, self.size), Image.BILINEAR)
        if rng.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        return torch.from_numpy(np.asarray(img, dtype=np.uint8)).permute(2, 0, 1), label


def bench_pipeline(args):
    ds = TrainFolder(args.data)
    count = min(len(ds), args.images) if args.images else len(ds)
    sub = torch.utils.data.Subset(ds, list(range(count)))
    loader = torch.utils.data.DataLoader(sub, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                                         persistent_workers=False, generator=torch.Generator().manual_seed(0))
    import resource

    def cpu_seconds():  # this process and its finished children (the DataLoader's workers, once joined)
        a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime

    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    first, seen = None, 0
    for images, labels in loader:
        assert images.dtype == torch.uint8 and images.shape[1:] == (3, 224, 224)
        if first is None:
            first = time.perf_counter()  # worker start-up and the first batch are not steady state
        else:
            seen += images.shape[0]
    steady = seen / max(time.perf_counter() - first, 1e-9)
    total = time.perf_counter() - t0
    del loader  # joins the workers, so their CPU time is counted
    cpu_ms = 1000 * (cpu_seconds() - cpu0) / count
    report = {'pipeline': 'pytorch', 'workers': args.workers, 'batch': args.batch, 'images': count,
              'imagesPerSecond': steady, 'cpuMsPerImage': cpu_ms, 'seconds': total, 'torch': torch.__version__}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"PyTorch pipeline (PIL, RandomResizedCrop 224 + flip, uint8, DataLoader {args.workers} workers, batch {args.batch}): "
              f"{steady:.0f} img/s over {count} images ({total:.1f} s), {cpu_ms:.2f} CPU ms per image (workers included)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--batch', default='64', help='batch size(s), comma-separated (the --data pipeline takes one)')
    ap.add_argument('--modes', default='fp32,fast', help="fp32 and/or fast (the careful user: channels-last + bf16 autocast, teacher eval + no_grad)")
    ap.add_argument('--steps', type=int, default=6)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--pairs', default=','.join(PAIRS))
    ap.add_argument('--thread', choices=['main', 'second', 'both'], default='both')
    ap.add_argument('--data', help='time the input pipeline on this image folder (<class>/<image>) instead')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--images', type=int, default=0, help='at most this many images (default all)')
    ap.add_argument('--json', action='store_true')
    args = ap.parse_args()
    if args.data:
        torch.set_num_threads(1)
        args.batch = int(str(args.batch).split(',')[0])
        return bench_pipeline(args)
    torch.set_num_threads(args.threads)
    batches = [int(b) for b in str(args.batch).split(',')]
    places = {'main': [False], 'second': [True], 'both': [False, True]}[args.thread]
    modes = args.modes.split(',')
    results = []
    if not args.json:
        print(f'torch {torch.__version__}, {torch.get_num_threads()} threads')
        print('mode  pair                      batch  thread  distill img/s  student img/s  teacher fwd img/s')
    for mode in modes:
        for pair in args.pairs.split(','):
            if pair not in PAIRS:  # e.g. the ImageNet pair: no timing model here
                continue
            for batch in batches:
                fns = make_step(pair, batch, mode == 'fast')
                for on_thread in places:
                    r = [rate(fns[k], batch, steps=args.steps, repeats=args.repeats, on_thread=on_thread) for k in ('distill', 'student', 'teacher fwd')]
                    thread = 'second' if on_thread else 'main'
                    results.append({'mode': mode, 'pair': pair, 'batch': batch, 'thread': thread, 'distillImagesPerSecond': r[0],
                                    'studentImagesPerSecond': r[1], 'teacherForwardImagesPerSecond': r[2]})
                    if not args.json:
                        print(f"{mode:5} {pair:25} {batch:5}  {thread:6}  {r[0]:13.0f}  {r[1]:13.0f}  {r[2]:17.0f}", flush=True)
    if args.json:
        print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'results': results}))

if __name__ == '__main__':
    main()
