"""Plain-Python helpers for the golden-value scripts (float64, the math module only, no numpy/torch)."""
import math


def det(shape, a, b, scale=1.0):
    """scale * sin(a*k + b) at row-major flat index k, as nested lists (test/helpers.js det())."""
    flat = [scale * math.sin(a * k + b) for k in range(math.prod(shape))]

    def build(dims, offset):
        if len(dims) == 1:
            return flat[offset:offset + dims[0]]
        step = math.prod(dims[1:])
        return [build(dims[1:], offset + i * step) for i in range(dims[0])]

    return build(list(shape), 0)


def softmax(z):
    m = max(z)
    e = [math.exp(v - m) for v in z]
    s = sum(e)
    return [v / s for v in e]


def flatten(x):
    return [v for item in x for v in (flatten(item) if isinstance(item, list) else [item])]


def dot(u, v):
    return sum(a * b for a, b in zip(u, v))


def norm(u):
    return math.sqrt(dot(u, u))


def huber(x, y):
    """Smooth L1 with beta 1."""
    d = abs(x - y)
    return 0.5 * d * d if d < 1 else d - 0.5


def mean(xs):
    return sum(xs) / len(xs)


def pool_to(x, size):
    """Adaptive average pooling of x[n][c] (h x w) to size x size, h a multiple of size."""
    h = len(x[0][0])
    if h == size:
        return x
    k = h // size
    return [[[[sum(m[i * k + a][j * k + b] for a in range(k) for b in range(k)) / (k * k) for j in range(size)] for i in range(size)] for m in c] for c in x]


def conv1x1(w, x):
    """x[n][c][h][w] -> y[n][o][h][w] with y = sum_c w[o][c] x[c]."""
    h, wd = len(x[0][0]), len(x[0][0][0])
    return [[[[sum(w[o][c] * xn[c][i][j] for c in range(len(xn))) for j in range(wd)] for i in range(h)] for o in range(len(w))] for xn in x]
