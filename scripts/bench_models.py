#!/usr/bin/env python3
"""Seeded models for scripts/bench that are not test fixtures. Run with the bench venv's python.

Usage: bench_models.py OUT_DIR NAME...

Names:
  wide_mlp            MLP 256 -> 256 -> 256 -> 10 (ReLU), trained by scikit-learn on the digits
                      images upsampled to 16x16 (256 features); the issue's wide MLP
  mlp_w{W}            scale study: MLP 256 -> W -> W -> 10, same data; trained for W <= 512,
                      He-initialised random weights above (training time is not the point there)
  small_cnn           the issue's small CNN on 8x8 digits: cnn_c8 (below)
  logreg_sigmoid      the breast_cancer_logreg fixture's weights as plain Gemm -> Sigmoid (the
                      probability of class 1), which EZKL can run (it has no ai.onnx.ml ops)
  inst_{K}            instance study: Gemm 8 -> 1024 -> Relu (seeded random weights, random inputs),
                      then its first K values: the same circuit for every K, and with public
                      outputs exactly K public instances
  cnn_c{C}            scale study: 8x8 digits CNN with C channels: Conv 3x3 -> Relu -> MaxPool 2
                      -> Gemm 10; random filters, head trained by scikit-learn

Each model directory gets model.onnx (opset 13, batch 1), calibration.jsonl (64 held-out samples)
and test.jsonl (the held-out split with labels), in zkinfer's (= EZKL's) input format.
"""
import json
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

SEED = 20261122


def digits(upsample):
    d = load_digits()
    x = d.data.reshape(-1, 8, 8)
    if upsample:
        x = x.repeat(2, axis=1).repeat(2, axis=2)
    x = x.reshape(len(x), -1).astype(np.float64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, d.target, test_size=0.25, random_state=SEED, stratify=d.target)
    sc = StandardScaler().fit(x_tr)
    return sc.transform(x_tr), sc.transform(x_te), y_tr, y_te


def write(out, name, graph_nodes, inits, n_in, n_out, x_te, y_te):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    graph = helper.make_graph(graph_nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, n_in])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, n_out])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="zkinfer-bench")
    model.ir_version = 8
    save(model, os.path.join(d, "model.onnx"))
    with open(os.path.join(d, "test.jsonl"), "w") as f:
        for row, label in zip(x_te, y_te):
            f.write(json.dumps({"input_data": [[float(np.float32(v)) for v in row]], "label": int(label)}) + "\n")
    with open(os.path.join(d, "calibration.jsonl"), "w") as f:
        for row in x_te[:64]:
            f.write(json.dumps({"input_data": [[float(np.float32(v)) for v in row]]}) + "\n")


def mlp(out, name, width, train):
    x_tr, x_te, y_tr, y_te = digits(upsample=True)
    sizes = [256, width, width, 10]
    if train:
        clf = MLPClassifier(hidden_layer_sizes=(width, width), max_iter=60, random_state=SEED).fit(x_tr, y_tr)
        ws = [c.T for c in clf.coefs_]
        bs = list(clf.intercepts_)
    else:
        rng = np.random.default_rng(SEED)
        ws = [rng.standard_normal((o, i)) * np.sqrt(2.0 / i) for i, o in zip(sizes, sizes[1:])]
        bs = [np.zeros(o) for o in sizes[1:]]
    nodes, inits, cur = [], [], "input"
    for k, (w, b) in enumerate(zip(ws, bs)):
        inits += [numpy_helper.from_array(w.astype(np.float32), f"fc{k}.weight"),
                  numpy_helper.from_array(b.astype(np.float32), f"fc{k}.bias")]
        nxt = "logits" if k == 2 else f"gemm{k}"
        nodes.append(helper.make_node("Gemm", [cur, f"fc{k}.weight", f"fc{k}.bias"], [nxt], name=f"Gemm_{k}", transB=1))
        cur = nxt
        if k < 2:
            nodes.append(helper.make_node("Relu", [cur], [f"relu{k}"], name=f"Relu_{k}"))
            cur = f"relu{k}"
    write(out, name, nodes, inits, 256, 10, x_te, y_te)


def cnn(out, name, channels):
    x_tr, x_te, y_tr, y_te = digits(upsample=False)
    rng = np.random.default_rng(SEED)
    w = (rng.standard_normal((channels, 1, 3, 3)) / 3.0).astype(np.float32)
    b = (rng.standard_normal(channels) * 0.1).astype(np.float32)

    def features(x):
        img = x.reshape(-1, 8, 8)
        n = len(img)
        conv = np.zeros((n, channels, 6, 6))
        for i in range(6):
            for j in range(6):
                conv[:, :, i, j] = img[:, i:i + 3, j:j + 3].reshape(n, 9) @ w.reshape(channels, 9).T
        h = np.maximum(conv + b[None, :, None, None], 0)
        return h.reshape(n, channels, 3, 2, 3, 2).max(axis=(3, 5)).reshape(n, -1)

    head = LogisticRegression(max_iter=3000, random_state=SEED).fit(features(x_tr), y_tr)
    inits = [numpy_helper.from_array(w, "conv.weight"), numpy_helper.from_array(b, "conv.bias"),
             numpy_helper.from_array(head.coef_.astype(np.float32), "fc.weight"),
             numpy_helper.from_array(head.intercept_.astype(np.float32), "fc.bias"),
             numpy_helper.from_array(np.array([1, 1, 8, 8], np.int64), "shape")]
    nodes = [
        helper.make_node("Reshape", ["input", "shape"], ["img"], name="Reshape_0"),
        helper.make_node("Conv", ["img", "conv.weight", "conv.bias"], ["conv"], name="Conv_0", kernel_shape=[3, 3],
                         strides=[1, 1], pads=[0, 0, 0, 0], dilations=[1, 1], group=1),
        helper.make_node("Relu", ["conv"], ["relu"], name="Relu_0"),
        helper.make_node("MaxPool", ["relu"], ["pool"], name="MaxPool_0", kernel_shape=[2, 2], strides=[2, 2],
                         pads=[0, 0, 0, 0]),
        helper.make_node("Flatten", ["pool"], ["flat"], name="Flatten_0"),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="Gemm_0", transB=1),
    ]
    write(out, name, nodes, inits, 64, 10, x_te, y_te)


def logreg_sigmoid(out, name):
    import onnx
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "models", "breast_cancer_logreg")
    node = next(n for n in onnx.load(os.path.join(root, "model.onnx")).graph.node if n.op_type == "LinearClassifier")
    attrs = {a.name: a for a in node.attribute}
    coef = np.array(attrs["coefficients"].floats, dtype=np.float32).reshape(2, -1)
    icpt = np.array(attrs["intercepts"].floats, dtype=np.float32)
    n_in = coef.shape[1]
    inits = [numpy_helper.from_array(coef[1:2], "fc.weight"), numpy_helper.from_array(icpt[1:2], "fc.bias")]
    nodes = [helper.make_node("Gemm", ["input", "fc.weight", "fc.bias"], ["z"], name="Gemm_0", transB=1),
             helper.make_node("Sigmoid", ["z"], ["logits"], name="Sigmoid_0")]
    rows = [json.loads(l) for l in open(os.path.join(root, "test.jsonl"))]
    x_te = np.array([r["input_data"][0] for r in rows])
    y_te = np.array([r["label"] for r in rows])
    write(out, name, nodes, inits, n_in, 1, x_te, y_te)


def instances(out, name, k):
    rng = np.random.default_rng(SEED + 1024)
    w = rng.normal(0, 0.5, (1024, 8)).astype(np.float32)
    b = rng.normal(0, 0.1, 1024).astype(np.float32)
    inits = [numpy_helper.from_array(w, "fc.weight"), numpy_helper.from_array(b, "fc.bias"),
             numpy_helper.from_array(np.array([0], dtype=np.int64), "starts"),
             numpy_helper.from_array(np.array([k], dtype=np.int64), "ends"),
             numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")]
    nodes = [helper.make_node("Gemm", ["input", "fc.weight", "fc.bias"], ["z"], name="Gemm_0", transB=1),
             helper.make_node("Relu", ["z"], ["all"], name="Relu_0"),
             helper.make_node("Slice", ["all", "starts", "ends", "axes"], ["logits"], name="Slice_0")]
    x = rng.normal(0, 1, (96, 8))
    write(out, name, nodes, inits, 8, k, x, np.zeros(len(x), dtype=int))


def main():
    out = sys.argv[1]
    for name in sys.argv[2:]:
        if os.path.exists(os.path.join(out, name, "model.onnx")):
            continue
        if name == "wide_mlp":
            mlp(out, name, 256, train=True)
        elif name.startswith("mlp_w"):
            width = int(name[5:])
            mlp(out, name, width, train=width <= 512)
        elif name == "small_cnn":
            cnn(out, name, 8)
        elif name == "logreg_sigmoid":
            logreg_sigmoid(out, name)
        elif name.startswith("inst_"):
            instances(out, name, int(name[5:]))
        elif name.startswith("cnn_c"):
            cnn(out, name, int(name[5:]))
        else:
            raise SystemExit(f"bench_models: unknown model {name}")
        print(f"bench_models: wrote {name}", file=sys.stderr)


if __name__ == "__main__":
    main()
