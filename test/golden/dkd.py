"""DKD golden values (test/losses-golden.test.js). Run: python3 test/golden/dkd.py

Straight from the paper's definitions, without the implementation's mask trick: p = softmax(z / T),
b = [p_g, 1 - p_g], p^_j = p_j / (1 - p_g) over the classes j != g; KL summed over classes, batch mean,
times T^2. Also KD (Hinton) and both with logit standardization (z - mean) / (std + 1e-7), std unbiased.
"""
import math
from common import det, mean, softmax

S = det([3, 5], 0.7, 0.1, 3.0)  # student logits
T_ = det([3, 5], 0.4, 1.3, 3.0)  # teacher logits
LABELS = [2, 0, 4]


def kl(q, p):
    return sum(qi * math.log(qi / pi) for qi, pi in zip(q, p) if qi > 0)


def standardize(z):
    m = mean(z)
    sd = math.sqrt(sum((v - m) ** 2 for v in z) / (len(z) - 1))
    return [(v - m) / (sd + 1e-7) for v in z]


def dkd(s, t, labels, temp):
    tckd = nckd = 0.0
    for zs, zt, g in zip(s, t, labels):
        ps, pt = softmax([v / temp for v in zs]), softmax([v / temp for v in zt])
        tckd += kl([pt[g], 1 - pt[g]], [ps[g], 1 - ps[g]])
        hs = [p / (1 - ps[g]) for j, p in enumerate(ps) if j != g]
        ht = [p / (1 - pt[g]) for j, p in enumerate(pt) if j != g]
        nckd += kl(ht, hs)
    n = len(s)
    return tckd / n * temp ** 2, nckd / n * temp ** 2


def kd(s, t, temp):
    return mean([kl(softmax([v / temp for v in zt]), softmax([v / temp for v in zs])) for zs, zt in zip(s, t)]) * temp ** 2


if __name__ == '__main__':
    for i, (zs, zt) in enumerate(zip(S, T_)):
        print(f'sample {i}: label {LABELS[i]}, student argmax {zs.index(max(zs))}, teacher argmax {zt.index(max(zt))}')
    tckd, nckd = dkd(S, T_, LABELS, 2.0)
    print('dkd T=2 (unweighted): tckd', repr(tckd), 'nckd', repr(nckd))
    print('dkd T=2 alpha=1.5 beta=8: tckd', repr(1.5 * tckd), 'nckd', repr(8 * nckd))
    ss, ts = [standardize(z) for z in S], [standardize(z) for z in T_]
    tckd, nckd = dkd(ss, ts, LABELS, 2.0)
    print('dkd standardized T=2 (unweighted): tckd', repr(tckd), 'nckd', repr(nckd))
    print('kd T=3:', repr(kd(S, T_, 3.0)))
    print('kd standardized T=3:', repr(kd(ss, ts, 3.0)))
