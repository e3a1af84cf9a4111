"""LeNet-style CNNs on 28x28 images, trained in numpy (no downloads, no deep-learning framework).

The data are scikit-learn's 8x8 digits, each pixel repeated 3x3 (24x24) and padded by 2 on every
side to MNIST's 28x28, scaled to [0, 1]. The networks are LeNet-5's convolutional trunk:

  Conv 6@5x5 -> Relu -> AveragePool 2x2 -> Conv 16@5x5 -> Relu -> AveragePool 2x2 -> Flatten (256)

followed by dense layers: `dense=(10,)` is conv-conv-dense (247,040 multiply-accumulates),
`dense=(120, 84, 10)` conv-conv-dense-dense-dense (286,120), with Relu between dense layers.
Trained by Adam on mini-batches of the training split, seeded: the same weights every run.
"""
import numpy as np
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def digits28(seed):
    d = load_digits()
    img = d.data.reshape(-1, 8, 8) / 16.0
    img = img.repeat(3, axis=1).repeat(3, axis=2)
    img = np.pad(img, ((0, 0), (2, 2), (2, 2)))
    x = img.reshape(len(img), 1, 28, 28).astype(np.float32)
    return train_test_split(x, d.target, test_size=0.25, random_state=seed, stratify=d.target)


def im2col(x, k):
    """[N, C, H, W] -> [N, Ho*Wo, C*k*k] (valid, stride 1)."""
    n, c, h, w = x.shape
    ho, wo = h - k + 1, w - k + 1
    s = x.strides
    cols = np.lib.stride_tricks.as_strided(x, (n, ho, wo, c, k, k), (s[0], s[2], s[3], s[1], s[2], s[3]))
    return cols.reshape(n, ho * wo, c * k * k), ho, wo


def col2im(g, shape, k):
    """Adjoint of im2col: [N, Ho*Wo, C*k*k] -> [N, C, H, W]."""
    n, c, h, w = shape
    ho, wo = h - k + 1, w - k + 1
    g = g.reshape(n, ho, wo, c, k, k)
    out = np.zeros(shape)
    for i in range(k):
        for j in range(k):
            out[:, :, i:i + ho, j:j + wo] += g[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return out


class Conv:
    def __init__(self, rng, cin, cout, k):
        self.k = k
        self.w = rng.standard_normal((cout, cin * k * k)) * np.sqrt(2.0 / (cin * k * k))
        self.b = np.zeros(cout)

    def forward(self, x):
        self.shape = x.shape
        self.cols, ho, wo = im2col(np.ascontiguousarray(x), self.k)
        y = self.cols @ self.w.T + self.b
        return y.transpose(0, 2, 1).reshape(x.shape[0], -1, ho, wo)

    def backward(self, g):
        n, c = g.shape[:2]
        g = g.reshape(n, c, -1).transpose(0, 2, 1)
        self.gw = np.einsum("npc,npk->ck", g, self.cols)
        self.gb = g.sum(axis=(0, 1))
        return col2im(g @ self.w, self.shape, self.k)

    def params(self):
        return [(self.w, "gw"), (self.b, "gb")]


class Dense:
    def __init__(self, rng, i, o):
        self.w = rng.standard_normal((o, i)) * np.sqrt(2.0 / i)
        self.b = np.zeros(o)

    def forward(self, x):
        self.x = x
        return x @ self.w.T + self.b

    def backward(self, g):
        self.gw = g.T @ self.x
        self.gb = g.sum(axis=0)
        return g @ self.w

    def params(self):
        return [(self.w, "gw"), (self.b, "gb")]


class Relu:
    def forward(self, x):
        self.m = x > 0
        return x * self.m

    def backward(self, g):
        return g * self.m

    def params(self):
        return []


class Pool:
    def forward(self, x):
        n, c, h, w = x.shape
        return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))

    def backward(self, g):
        return g.repeat(2, axis=2).repeat(2, axis=3) / 4.0

    def params(self):
        return []


class Flatten:
    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, g):
        return g.reshape(self.shape)

    def params(self):
        return []


def train(dense, seed, epochs=12, batch=32, lr=2e-3):
    """Returns (layers, x_test, y_test, test accuracy)."""
    x_tr, x_te, y_tr, y_te = digits28(seed)
    rng = np.random.default_rng(seed)
    layers = [Conv(rng, 1, 6, 5), Relu(), Pool(), Conv(rng, 6, 16, 5), Relu(), Pool(), Flatten()]
    width = 256
    for i, o in enumerate(dense):
        layers.append(Dense(rng, width, o))
        if i + 1 < len(dense):
            layers.append(Relu())
        width = o
    params = [(layer, p, g) for layer in layers for p, g in layer.params()]
    m = [np.zeros_like(p) for _, p, _ in params]
    v = [np.zeros_like(p) for _, p, _ in params]
    t = 0
    for _ in range(epochs):
        order = rng.permutation(len(x_tr))
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            h = x_tr[idx].astype(np.float64)
            for layer in layers:
                h = layer.forward(h)
            p = np.exp(h - h.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            g = (p - np.eye(10)[y_tr[idx]]) / len(idx)
            for layer in reversed(layers):
                g = layer.backward(g)
            t += 1
            for i, (layer, p_, gname) in enumerate(params):
                grad = getattr(layer, gname)
                m[i] = 0.9 * m[i] + 0.1 * grad
                v[i] = 0.999 * v[i] + 0.001 * grad * grad
                p_ -= lr * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
    h = x_te.astype(np.float64)
    for layer in layers:
        h = layer.forward(h)
    acc = float(np.mean(h.argmax(axis=1) == y_te))
    return layers, x_te.reshape(len(x_te), -1), y_te, acc


def onnx_model(name, layers, opset=13):
    """The trained network as an ONNX graph: input [1, 784], output logits [1, 10]. Every
    attribute is explicit (strides, pads, dilations), as PyTorch's exporter writes them."""
    inits = [numpy_helper.from_array(np.array([1, 1, 28, 28], np.int64), "shape")]
    nodes = [helper.make_node("Reshape", ["input", "shape"], ["t0"], name="Reshape_0")]
    cur, n = "t0", 0
    out_width = 10
    convs = denses = 0
    for layer in layers:
        n += 1
        nxt = f"t{n}"
        if isinstance(layer, Conv):
            cout = layer.w.shape[0]
            w = layer.w.reshape(cout, -1, layer.k, layer.k).astype(np.float32)
            inits += [numpy_helper.from_array(w, f"conv{convs}.weight"),
                      numpy_helper.from_array(layer.b.astype(np.float32), f"conv{convs}.bias")]
            nodes.append(helper.make_node("Conv", [cur, f"conv{convs}.weight", f"conv{convs}.bias"], [nxt],
                                          name=f"Conv_{convs}", kernel_shape=[layer.k, layer.k], strides=[1, 1],
                                          pads=[0, 0, 0, 0], dilations=[1, 1], group=1))
            convs += 1
        elif isinstance(layer, Dense):
            inits += [numpy_helper.from_array(layer.w.astype(np.float32), f"fc{denses}.weight"),
                      numpy_helper.from_array(layer.b.astype(np.float32), f"fc{denses}.bias")]
            nodes.append(helper.make_node("Gemm", [cur, f"fc{denses}.weight", f"fc{denses}.bias"], [nxt],
                                          name=f"Gemm_{denses}", transB=1))
            out_width = layer.w.shape[0]
            denses += 1
        elif isinstance(layer, Relu):
            nodes.append(helper.make_node("Relu", [cur], [nxt], name=f"Relu_{n}"))
        elif isinstance(layer, Pool):
            nodes.append(helper.make_node("AveragePool", [cur], [nxt], name=f"AveragePool_{n}",
                                          kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0]))
        elif isinstance(layer, Flatten):
            nodes.append(helper.make_node("Flatten", [cur], [nxt], name=f"Flatten_{n}"))
        cur = nxt
    nodes[-1].output[0] = "logits"
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 784])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, out_width])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="zkinfer-fixtures")
    model.ir_version = 8
    return model
