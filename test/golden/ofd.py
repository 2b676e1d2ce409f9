"""OFD golden values (test/losses-stateful.test.js). Run: python3 test/golden/ofd.py

Margin (eq. 3) per teacher channel from its BatchNorm (gamma, beta): x ~ N(beta, gamma^2),
m = E[x | x < 0] = beta - |gamma| phi(beta/|gamma|) / Phi(-beta/|gamma|), or -3|gamma| when
Phi(-beta/|gamma|) <= 0.001; a zero gamma gives min(beta, 0).
Loss: per level, connector (1x1 conv, BatchNorm) on the student map (pooled first if larger), target
max(t, m) (t pooled first if larger), sum of (s - target)^2 where s > target or target > 0, divided
by N; level l of L weighted 1 / 2^(L-1-l); summed.
"""
import math
from common import conv1x1, det, pool_to

BN_EPS = 1e-5


def margin(gamma, beta):
    s = abs(gamma)
    if s == 0:
        return min(beta, 0.0)
    z = beta / s
    neg_mass = 0.5 * math.erfc(z / math.sqrt(2))
    if neg_mass <= 0.001:
        return -3 * s
    return beta - s * math.exp(-z * z / 2) / math.sqrt(2 * math.pi) / neg_mass


# --- margins from a resnet8 teacher: the last BatchNorm of each stage (16, 32, 64 channels) ---
TEACHER_CHANNELS = [16, 32, 64]


def teacher_bn(l):
    c = TEACHER_CHANNELS[l]
    gamma = [2 * v for v in det([c], 0.7, 0.1 + l)]
    beta = [3 * v for v in det([c], 0.45, 0.9 + l)]
    if l == 0:  # the zero-gamma cases the test sets by hand
        gamma[0], beta[0] = 0.0, -0.5
        gamma[1], beta[1] = 0.0, 0.7
    return gamma, beta


def margins():
    return [[margin(g, b) for g, b in zip(*teacher_bn(l))] for l in range(3)]


# --- the loss on a small pair (float64): N 2, student channels 2/3/2, teacher 16/32/64 ---
N = 2
STUDENT = [(2, 4), (3, 2), (2, 1)]  # (channels, size) per level
TEACHER_SIZE = 2


def connector(l):
    cs, ct = STUDENT[l][0], TEACHER_CHANNELS[l]
    w = [[row[0][0] * 0.5 for row in out] for out in det([ct, cs, 1, 1], 0.3 + 0.1 * l, 0.2)]
    bn_w = [1 + 0.2 * v for v in det([ct], 0.8, l)]
    bn_b = [0.3 * v for v in det([ct], 0.6, 0.5 + l)]
    rm = [0.1 * v for v in det([ct], 0.4, 0.7 + l)]
    rv = [1 + 0.5 * abs(v) for v in det([ct], 0.35, 0.3 + l)]
    return w, bn_w, bn_b, rm, rv


def loaded_margins(l):
    return [-abs(v) for v in det([TEACHER_CHANNELS[l]], 0.55, 0.4 + l)]


def feature_pair(l):
    cs, size = STUDENT[l]
    s = det([N, cs, size, size], 0.37 + 0.1 * l, 0.1, 2.0)
    t = det([N, TEACHER_CHANNELS[l], TEACHER_SIZE, TEACHER_SIZE], 0.23 + 0.1 * l, -0.4, 1.5)
    return s, t


def batch_norm(y, bn_w, bn_b, rm, rv, train):
    out = []
    n, c, h = len(y), len(y[0]), len(y[0][0])
    means, variances = rm, rv
    if train:  # batch statistics, biased variance
        means, variances = [], []
        for ch in range(c):
            vals = [y[k][ch][i][j] for k in range(n) for i in range(h) for j in range(h)]
            mu = sum(vals) / len(vals)
            means.append(mu)
            variances.append(sum((v - mu) ** 2 for v in vals) / len(vals))
    for k in range(n):
        out.append([[[(y[k][ch][i][j] - means[ch]) / math.sqrt(variances[ch] + BN_EPS) * bn_w[ch] + bn_b[ch] for j in range(h)] for i in range(h)] for ch in range(c)])
    return out


def partial_l2(s, t, m):
    total = 0.0
    for k in range(len(s)):
        for ch in range(len(s[0])):
            for i in range(len(s[0][0])):
                for j in range(len(s[0][0])):
                    target = max(t[k][ch][i][j], m[ch])
                    v = s[k][ch][i][j]
                    if v > target or target > 0:
                        total += (v - target) ** 2
    return total / len(s)


def ofd(train):
    total = 0.0
    for l in range(3):
        s, t = feature_pair(l)
        size = min(len(s[0][0]), len(t[0][0]))
        s, t = pool_to(s, size), pool_to(t, size)
        w, bn_w, bn_b, rm, rv = connector(l)
        out = batch_norm(conv1x1(w, s), bn_w, bn_b, rm, rv, train)
        total += partial_l2(out, t, loaded_margins(l)) / 2 ** (3 - 1 - l)
    return total


if __name__ == '__main__':
    for l, m in enumerate(margins()):
        g, b = teacher_bn(l)
        tail = [i for i, (gi, bi) in enumerate(zip(g, b)) if gi != 0 and 0.5 * math.erfc(bi / abs(gi) / math.sqrt(2)) <= 0.001]
        print('level', l, 'margin sum', repr(sum(m)), 'first 3', [repr(v) for v in m[:3]],
              'channels on the -3|gamma| branch', tail, [repr(m[i]) for i in tail])
    print('ofd eval', repr(ofd(False)))
    print('ofd train', repr(ofd(True)))
    # handmade partial L2 (identity connector, margin -0.5, level 0 of 3 -> weight 1/4)
    s = [[[[-2.0, 0.5], [3.0, 1.0]], [[-1.0, -0.1], [-1.0, -0.4]]]]
    t = [[[[-1.0, -1.0], [2.0, 2.0]], [[-0.2, -0.2], [0.0, -3.0]]]]
    print('handmade', repr(partial_l2(s, t, [-0.5, -0.5]) / 4))
