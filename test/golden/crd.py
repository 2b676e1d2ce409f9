"""CRD golden values (test/losses-stateful.test.js). Run: python3 test/golden/crd.py

n = 6 samples, labels [0, 0, 0, 0, 0, 1]: for a class-0 sample every negative from another class is
sample 5, so the drawn negatives are known (K = 2, both row 5). Embeddings v = normalise(W f + b);
per direction p_ij = exp(v_i . m_j / T) / Z over the rows j = [i, 5, 5] of the other network's
memory, Z = mean(all p before division) * n on the first call; NCE with c = K / n:
L = -(1/N) sum_i [log(p_i0 / (p_i0 + c + 1e-7)) + sum_j log(c / (p_ij + c + 1e-7))]; crd = L_s + L_t.
Then the memory update m_i <- normalise(0.5 m_i + 0.5 v_i) and the same loss again with Z kept.
A second case: n = 2, no labels, K clamped to 1 (the negative of sample i is the other sample), Z
given (2 and 3).
"""
import math
from common import det, dot, norm

T = 0.5
DIM = 3


def normalise(v):
    m = norm(v)
    return [x / m for x in v]


def weights(cs, ct, n):
    return {
        'embed_s.weight': det([DIM, cs], 0.7, 0.3, 0.5),
        'embed_s.bias': det([DIM], 0.9, 0.1, 0.1),
        'embed_t.weight': det([DIM, ct], 0.45, -0.2, 0.5),
        'embed_t.bias': det([DIM], 0.6, 0.4, 0.1),
        'memory_s': det([n, DIM], 0.33, 0.5, 0.6),
        'memory_t': det([n, DIM], 0.21, 1.1, 0.6),
    }


def embed(w, b, f):
    return normalise([dot(row, f) + bi for row, bi in zip(w, b)])


def direction(v, memory, rows, z, n, k):
    p = [[math.exp(dot(v[i], memory[j]) / T) for j in rows[i]] for i in range(len(v))]
    if z < 0:
        z = sum(sum(r) for r in p) / (len(p) * len(p[0])) * n
    p = [[x / z for x in r] for r in p]
    c = k / n
    total = 0.0
    for r in p:
        total += math.log(r[0] / (r[0] + c + 1e-7))
        total += sum(math.log(c / (x + c + 1e-7)) for x in r[1:])
    return -total / len(p), z


def crd(w, fs, ft, rows, zs, zt, n, k):
    vs = [embed(w['embed_s.weight'], w['embed_s.bias'], f) for f in fs]
    vt = [embed(w['embed_t.weight'], w['embed_t.bias'], f) for f in ft]
    ls, zs = direction(vs, w['memory_t'], rows, zs, n, k)
    lt, zt = direction(vt, w['memory_s'], rows, zt, n, k)
    return ls + lt, zs, zt, vs, vt


def update(memory, idx, v, momentum=0.5):
    memory = [list(r) for r in memory]
    for i, vi in zip(idx, v):
        memory[i] = normalise([momentum * a + (1 - momentum) * b for a, b in zip(memory[i], vi)])
    return memory


def case_exact():
    n, k, idx = 6, 2, [0, 2, 3]
    w = weights(4, 5, n)
    fs = [[row[0][0] for row in f] for f in det([3, 4, 1, 1], 0.37, 0.1)]
    ft = [[row[0][0] for row in f] for f in det([3, 5, 1, 1], 0.23, -0.4)]
    rows = [[i, 5, 5] for i in idx]
    first, zs, zt, vs, vt = crd(w, fs, ft, rows, -1, -1, n, k)
    w2 = dict(w, memory_s=update(w['memory_s'], idx, vs), memory_t=update(w['memory_t'], idx, vt))
    second, zs2, zt2, _, _ = crd(w2, fs, ft, rows, zs, zt, n, k)
    assert (zs2, zt2) == (zs, zt)
    return first, second, zs, zt, w2


def case_relax():
    n, k, idx = 2, 1, [1, 0]
    w = weights(4, 5, n)
    fs = [[row[0][0] for row in f] for f in det([2, 4, 1, 1], 0.51, 0.3)]
    ft = [[row[0][0] for row in f] for f in det([2, 5, 1, 1], 0.13, 0.8)]
    rows = [[1, 0], [0, 1]]
    value, _, _, _, _ = crd(w, fs, ft, rows, 2.0, 3.0, n, k)
    return value


if __name__ == '__main__':
    first, second, zs, zt, w2 = case_exact()
    print('exact: first', repr(first), 'Z', repr(zs), repr(zt))
    print('exact: after the memory update', repr(second))
    print('memory_s rows 0, 2, 3 after the update', [[repr(x) for x in w2['memory_s'][i]] for i in (0, 2, 3)])
    print('memory_t row 2 after the update', [repr(x) for x in w2['memory_t'][2]])
    print('relax (n 2, Z given):', repr(case_relax()))
