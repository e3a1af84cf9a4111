#!/usr/bin/env python3
"""Regenerates zkinfer's fixture models, seeded and reproducible.

Writes tests/fixtures/models/<name>/:
  model.onnx        a plain Gemm/Relu graph built from the trained weights (opset 13)
  input.json        one held-out sample, EZKL format {"input_data": [[...]]}
  expected.json     the float outputs for input.json (float64 forward pass of the same weights)
  calibration.jsonl held-out samples, one EZKL-format object per line
  test.jsonl        the whole held-out split with labels {"input_data": [[...]], "label": k}

Models: breast_cancer_mlp (30 -> 16 -> 8 -> 2, ReLU) and digits_mlp (64 -> 32 -> 10, ReLU), both
scikit-learn MLPClassifiers on its bundled datasets; inputs are standardised features.

Usage: python3 scripts/gen_fixtures.py   (pip install -r scripts/requirements.txt)
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "models")
SEED = 20261122


def gemm_relu_graph(name, layers, n_in):
    """layers: list of (W [out, in], b [out]); ReLU between layers, none after the last."""
    nodes, inits = [], []
    cur = "input"
    for i, (w, b) in enumerate(layers):
        wn, bn, out = f"layer{i}.weight", f"layer{i}.bias", f"gemm{i}"
        inits.append(numpy_helper.from_array(w.astype(np.float32), wn))
        inits.append(numpy_helper.from_array(b.astype(np.float32), bn))
        nodes.append(helper.make_node("Gemm", [cur, wn, bn], [out], name=f"Gemm_{i}", transB=1))
        cur = out
        if i + 1 < len(layers):
            nodes.append(helper.make_node("Relu", [cur], [f"relu{i}"], name=f"Relu_{i}"))
            cur = f"relu{i}"
    n_out = layers[-1][0].shape[0]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, n_in])],
        [helper.make_tensor_value_info(cur, TensorProto.FLOAT, [1, n_out])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="zkinfer-fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def forward(layers, x):
    x = np.asarray(x, dtype=np.float64)
    for i, (w, b) in enumerate(layers):
        x = x @ w.astype(np.float32).astype(np.float64).T + b.astype(np.float32).astype(np.float64)
        if i + 1 < len(layers):
            x = np.maximum(x, 0.0)
    return x


def write(name, layers, x_test, y_test, n_calib=64):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    n_in = layers[0][0].shape[1]
    onnx.save(gemm_relu_graph(name, layers, n_in), os.path.join(d, "model.onnx"))
    x_test = x_test.astype(np.float32)
    sample = x_test[0]
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"input_data": [[float(v) for v in sample]]}, f)
        f.write("\n")
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"outputs": [[float(v) for v in forward(layers, sample[None, :])[0]]]}, f)
        f.write("\n")
    with open(os.path.join(d, "calibration.jsonl"), "w") as f:
        for row in x_test[:n_calib]:
            f.write(json.dumps({"input_data": [[float(v) for v in row]]}) + "\n")
    with open(os.path.join(d, "test.jsonl"), "w") as f:
        for row, label in zip(x_test, y_test):
            f.write(json.dumps({"input_data": [[float(v) for v in row]], "label": int(label)}) + "\n")
    acc = float(np.mean(np.argmax(forward(layers, x_test), axis=1) == y_test))
    print(f"{name}: float accuracy on {len(y_test)} held-out samples = {acc:.4f}")


def trained(hidden, x, y):
    clf = MLPClassifier(hidden_layer_sizes=hidden, max_iter=600, random_state=SEED)
    clf.fit(x, y)
    return [(w.T.copy(), b.copy()) for w, b in zip(clf.coefs_, clf.intercepts_)]


def main():
    ds = load_breast_cancer()
    x_tr, x_te, y_tr, y_te = train_test_split(ds.data, ds.target, test_size=0.25, random_state=SEED, stratify=ds.target)
    sc = StandardScaler().fit(x_tr)
    layers = trained((16, 8), sc.transform(x_tr), y_tr)
    # A binary MLPClassifier has one logistic output z; two logits (-z/2, z/2) give the same softmax.
    w, b = layers[-1]
    layers[-1] = (np.concatenate([-w / 2, w / 2]), np.concatenate([-b / 2, b / 2]))
    write("breast_cancer_mlp", layers, sc.transform(x_te), y_te)

    ds = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(ds.data, ds.target, test_size=0.25, random_state=SEED, stratify=ds.target)
    sc = StandardScaler().fit(x_tr)
    write("digits_mlp", trained((32,), sc.transform(x_tr), y_tr), sc.transform(x_te), y_te)

    write_unsupported()


def write_unsupported():
    """A model with ops zkinfer does not prove yet (for the error-message tests)."""
    d = os.path.join(ROOT, "unsupported_ops")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(SEED)
    w = numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32), "w")
    nodes = [
        helper.make_node("Gemm", ["input", "w"], ["h"], name="Gemm_0", transB=1),
        helper.make_node("Sigmoid", ["h"], ["s"], name="Sigmoid_0"),
        helper.make_node("Softmax", ["s"], ["output"], name="Softmax_0"),
    ]
    graph = helper.make_graph(
        nodes, "unsupported_ops",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="zkinfer-fixtures")
    model.ir_version = 8
    onnx.save(model, os.path.join(d, "model.onnx"))


if __name__ == "__main__":
    main()
