"""RKD golden values (test/losses-golden.test.js). Run: python3 test/golden/rkd.py

Pooled features e (N x C, student and teacher of different widths). Distance: d_ij = |e_i - e_j|,
divided by the mean of the N(N-1) off-diagonal distances, Huber (smooth L1, delta 1) averaged over all
N^2 entries (the diagonal is 0 for both). Angle: a_jik = cos of the angle at e_j between e_i and e_k
(0 when i == j or k == j), Huber averaged over all N^3 entries. The inputs are chosen so that both
Huber branches occur (some differences exceed 1).
"""
import math
from common import det, dot, huber, mean, norm

ES = det([4, 3], 3.1, 0.2)   # student pooled features, N=4, C=3
ET = det([4, 5], 1.3, 0.7)   # teacher pooled features, N=4, C=5


def distances(e):
    n = len(e)
    d = [[norm([a - b for a, b in zip(e[i], e[j])]) if i != j else 0.0 for j in range(n)] for i in range(n)]
    mu = sum(map(sum, d)) / (n * (n - 1))
    return [[v / mu for v in row] for row in d]


def unit(v):
    m = norm(v)
    return [x / m for x in v] if m > 0 else [0.0] * len(v)


def angles(e):
    n = len(e)
    out = []
    for j in range(n):
        for i in range(n):
            for k in range(n):
                u = unit([a - b for a, b in zip(e[i], e[j])])
                w = unit([a - b for a, b in zip(e[k], e[j])])
                out.append(dot(u, w))
    return out


def rkd(es, et):
    ds, dt = distances(es), distances(et)
    distance = mean([huber(a, b) for rs, rt in zip(ds, dt) for a, b in zip(rs, rt)])
    angle = mean([huber(a, b) for a, b in zip(angles(es), angles(et))])
    return distance, angle


if __name__ == '__main__':
    distance, angle = rkd(ES, ET)
    print('rkd (unweighted): distance', repr(distance), 'angle', repr(angle))
    print('rkd weights 25 / 50: distance', repr(25 * distance), 'angle', repr(50 * angle))
