"""SP golden value (test/losses-golden.test.js). Run: python3 test/golden/sp.py

Stage maps flattened to f (N x CHW); G = f f^T, each row divided by its L2 norm;
loss = |G_s - G_t|_F^2 / N^2. Student 3x2x2x2, teacher 3x3x1x2 (only N must match).
"""
from common import det, dot, flatten, norm

FS = det([3, 2, 2, 2], 0.3, 0.5)
FT = det([3, 3, 1, 2], 0.8, -0.4)


def similarity(maps):
    f = [flatten(m) for m in maps]
    g = [[dot(a, b) for b in f] for a in f]
    return [[x / norm(row) for x in row] for row in g]


def sp(fs, ft):
    gs, gt = similarity(fs), similarity(ft)
    n = len(gs)
    return sum((a - b) ** 2 for rs, rt in zip(gs, gt) for a, b in zip(rs, rt)) / (n * n)


if __name__ == '__main__':
    print('sp:', repr(sp(FS, FT)))
