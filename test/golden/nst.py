"""NST golden value (test/losses-golden.test.js). Run: python3 test/golden/nst.py

Two stage pairs, N = 2. Stage 0: student 2x2x2x2, teacher 2x3x4x4 (average-pooled over 2x2 blocks to
2x2, which is what adaptive average pooling 4 -> 2 does). Stage 1: student 2x3x1x2, teacher 2x2x1x2.
Per image, each channel's spatial map flattened and L2-normalised; k(x, y) = (x.y)^2;
MMD^2 = mean k(s, s') + mean k(t, t') - 2 mean k(s, t) over channel pairs; batch mean; sum over stages.
"""
from common import det, dot, flatten, mean, norm

STAGES = [
    (det([2, 2, 2, 2], 0.6, 0.1), det([2, 3, 4, 4], 0.25, 0.9)),
    (det([2, 3, 1, 2], 1.1, 0.3), det([2, 2, 1, 2], 0.45, -0.2)),
]


def pool2(channel):
    """Average over 2x2 blocks of an H x W map (H, W even)."""
    return [[mean([channel[2 * i + a][2 * j + b] for a in (0, 1) for b in (0, 1)]) for j in range(len(channel[0]) // 2)]
            for i in range(len(channel) // 2)]


def mmd2(s, t):
    """s, t: one image's maps (C x H x W, same H and W)."""
    fs = [[x / norm(flatten(c)) for x in flatten(c)] for c in s]
    ft = [[x / norm(flatten(c)) for x in flatten(c)] for c in t]

    def k(a, b):
        return mean([dot(x, y) ** 2 for x in a for y in b])

    return k(fs, fs) + k(ft, ft) - 2 * k(fs, ft)


def nst(stages):
    total = 0.0
    for s, t in stages:
        if len(t[0][0]) != len(s[0][0]):
            t = [[pool2(c) for c in image] for image in t]
        total += mean([mmd2(si, ti) for si, ti in zip(s, t)])
    return total


if __name__ == '__main__':
    print('nst:', repr(nst(STAGES)))
