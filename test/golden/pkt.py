"""PKT golden value (test/losses-golden.test.js). Run: python3 test/golden/pkt.py

Pooled features e (N x C); u = e / (|e| + 1e-7); K_ij = (<u_i, u_j> + 1) / 2; P_ij = K_ij / sum_j K_ij;
loss = mean over the N^2 entries of P_t * log((P_t + 1e-7) / (P_s + 1e-7)). Same features as rkd.py.
"""
import math
from common import det, dot, mean, norm

ES = det([4, 3], 3.1, 0.2)
ET = det([4, 5], 1.3, 0.7)
EPS = 1e-7


def conditional(e):
    u = [[x / (norm(v) + EPS) for x in v] for v in e]
    k = [[(dot(a, b) + 1) / 2 for b in u] for a in u]
    return [[x / sum(row) for x in row] for row in k]


def pkt(es, et):
    ps, pt = conditional(es), conditional(et)
    return mean([t * math.log((t + EPS) / (s + EPS)) for rs, rt in zip(ps, pt) for s, t in zip(rs, rt)])


if __name__ == '__main__':
    print('pkt:', repr(pkt(ES, ET)))
