"""DIST golden values (test/losses-golden.test.js). Run: python3 test/golden/dist.py

p = softmax(z / T); rho(u, v) = <u - mean u, v - mean v> / (|u - mean u| |v - mean v| + 1e-8);
inter = T^2 (1 - mean_i rho(p_s[i, :], p_t[i, :])), intra = T^2 (1 - mean_c rho(p_s[:, c], p_t[:, c])).
Same logits as dkd.py.
"""
import math
from common import det, dot, mean, norm, softmax

S = det([3, 5], 0.7, 0.1, 3.0)
T_ = det([3, 5], 0.4, 1.3, 3.0)


def pearson(u, v):
    du = [x - mean(u) for x in u]
    dv = [x - mean(v) for x in v]
    return dot(du, dv) / (norm(du) * norm(dv) + 1e-8)


def dist(s, t, temp):
    ps = [softmax([v / temp for v in z]) for z in s]
    pt = [softmax([v / temp for v in z]) for z in t]
    inter = 1 - mean([pearson(a, b) for a, b in zip(ps, pt)])
    columns = range(len(ps[0]))
    intra = 1 - mean([pearson([r[c] for r in ps], [r[c] for r in pt]) for c in columns])
    return inter * temp ** 2, intra * temp ** 2


if __name__ == '__main__':
    inter, intra = dist(S, T_, 3.0)
    print('dist T=3 (unweighted): inter', repr(inter), 'intra', repr(intra))
    print('dist T=3 beta=1.5 gamma=0.5: inter', repr(1.5 * inter), 'intra', repr(0.5 * intra))
    inter, intra = dist(S, T_, 4.0)
    print('dist defaults (T=4, beta=gamma=1): inter', repr(inter), 'intra', repr(intra), 'sum', repr(inter + intra))
