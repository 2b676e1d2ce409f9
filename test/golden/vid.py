"""VID golden values (test/losses-stateful.test.js). Run: python3 test/golden/vid.py

Per stage level (the pooled feature is not used): where the maps differ in size the larger is
adaptive-average-pooled to the smaller (here by exact 2x2 block means); mu = W4 relu(W2 relu(W0 s))
(1x1 convolutions without bias); sigma^2 = softplus(log_scale) + 1e-5 per teacher channel;
loss = mean over N x C x H x W of 0.5 * ((mu - t)^2 / sigma^2 + log sigma^2); summed over levels.
"""
import math
from common import conv1x1, det, pool_to

EPS = 1e-5
N, CS, CT = 2, 3, 2


def level_weights(l):
    """The weights the test loads (det recipes; 1x1 kernels as [out][in])."""
    w0 = [[row[0][0] * 0.5 for row in out] for out in det([CT, CS, 1, 1], 0.7 + 0.1 * l, 0.3)]
    w2 = [[row[0][0] * 0.5 for row in out] for out in det([CT, CT, 1, 1], 0.9 + 0.1 * l, 0.1)]
    w4 = [[row[0][0] * 0.5 for row in out] for out in det([CT, CT, 1, 1], 0.6 + 0.1 * l, -0.3)]
    log_scale = det([CT], 1.3, 0.2 + l)
    return w0, w2, w4, log_scale


def features():
    """(student, teacher) per stage level: level 0 teacher 4x4 vs student 2x2, level 1 the reverse."""
    return [
        (det([N, CS, 2, 2], 0.37, 0.1), det([N, CT, 4, 4], 0.23, -0.4)),
        (det([N, CS, 4, 4], 0.31, 0.5), det([N, CT, 2, 2], 0.17, 1.0)),
    ]


def relu(x):
    return [[[[max(v, 0.0) for v in row] for row in m] for m in c] for c in x]


def softplus(x):
    return math.log1p(math.exp(x))


def level_loss(s, t, w0, w2, w4, log_scale):
    size = min(len(s[0][0]), len(t[0][0]))
    s, t = pool_to(s, size), pool_to(t, size)
    mu = conv1x1(w4, relu(conv1x1(w2, relu(conv1x1(w0, s)))))
    var = [softplus(v) + EPS for v in log_scale]
    total, count = 0.0, 0
    for n in range(N):
        for c in range(CT):
            for i in range(size):
                for j in range(size):
                    total += 0.5 * ((mu[n][c][i][j] - t[n][c][i][j]) ** 2 / var[c] + math.log(var[c]))
                    count += 1
    return total / count


def vid():
    return sum(level_loss(s, t, *level_weights(l)) for l, (s, t) in enumerate(features()))


if __name__ == '__main__':
    per_level = [level_loss(s, t, *level_weights(l)) for l, (s, t) in enumerate(features())]
    print('vid levels', [repr(v) for v in per_level])
    print('vid', repr(vid()))
    # initial log_scale for variance 5: softplus^-1(5 - 1e-5)
    print('log_scale init (variance 5)', repr(math.log(math.expm1(5.0 - EPS))))
