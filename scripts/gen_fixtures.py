#!/usr/bin/env python3
"""Regenerates zkinfer's fixture models, seeded and reproducible.

Writes tests/fixtures/models/<name>/:
  model.onnx        a plain Gemm/Relu graph built from the trained weights (opset 13)
  input.json        one held-out sample, EZKL format {"input_data": [[...]]}
  expected.json     the float outputs for input.json (float64 forward pass of the same weights)
  calibration.jsonl held-out samples, one EZKL-format object per line
  test.jsonl        the whole held-out split with labels {"input_data": [[...]], "label": k}

Models (scikit-learn bundled datasets, seeded splits, standardised features):
  breast_cancer_mlp       MLP 30 -> 16 -> 8 -> 2, ReLU (MLPClassifier weights as Gemm/Relu)
  digits_mlp              MLP 64 -> 32 -> 10, ReLU
  breast_cancer_logreg    LogisticRegression via skl2onnx (ai.onnx.ml LinearClassifier)
  breast_cancer_tree      depth-4 DecisionTreeClassifier via skl2onnx (TreeEnsembleClassifier)
  breast_cancer_gbt       GradientBoostingClassifier, 12 trees of depth 3, via skl2onnx
  diabetes_forest         RandomForestRegressor, 10 trees of depth 4, via skl2onnx (TreeEnsembleRegressor)
  digits_cnn              8x8 CNN: Conv 3x3 (4 ch) -> BatchNorm -> Relu -> MaxPool 2 -> Flatten
                          -> Gemm -> Softmax; fixed random filters, BatchNorm from data statistics,
                          head trained by scikit-learn
  digits_sigmoid_tanh     MLP 64 -> 24 (Tanh) -> 16 (Sigmoid) -> 10 -> LogSoftmax, trained in numpy
Expected outputs come from onnxruntime.

Usage: python3 scripts/gen_fixtures.py   (pip install -r scripts/requirements.txt)
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
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
    write_sklearn_models()
    write_cnn()
    write_sigmoid_tanh()


def ort_run(model, x):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: x.astype(np.float32)})


def write_model(name, model, x_test, y_test, n_calib=64, classify=True):
    """Writes a fixture; expected outputs and accuracy come from onnxruntime."""
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    model.ir_version = min(model.ir_version, 8)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(d, "model.onnx"))
    x_test = x_test.astype(np.float32)
    sample = x_test[:1]
    outs = ort_run(model, sample)
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"input_data": [[float(v) for v in sample.reshape(-1)]]}, f)
        f.write("\n")
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"outputs": [[float(v) for v in np.asarray(o).reshape(-1)] for o in outs]}, f)
        f.write("\n")
    with open(os.path.join(d, "calibration.jsonl"), "w") as f:
        for row in x_test[:n_calib]:
            f.write(json.dumps({"input_data": [[float(v) for v in row.reshape(-1)]]}) + "\n")
    with open(os.path.join(d, "test.jsonl"), "w") as f:
        for row, label in zip(x_test, y_test):
            lab = int(label) if classify else float(label)
            f.write(json.dumps({"input_data": [[float(v) for v in row.reshape(-1)]], "label": lab}) + "\n")
    if classify is None:
        return
    preds = np.concatenate([np.asarray(ort_run(model, x_test[i:i + 1])[0]).reshape(-1) for i in range(len(x_test))])
    if classify:
        print(f"{name}: float accuracy on {len(y_test)} held-out samples = {np.mean(preds == y_test):.4f}")
    else:
        print(f"{name}: float MAE on {len(y_test)} held-out samples = {np.mean(np.abs(preds - y_test)):.4f}")


def sk_onnx(est, x):
    return to_onnx(est, x[:1].astype(np.float32), options={id(est): {"zipmap": False}} if hasattr(est, "predict_proba") else None,
                   target_opset={"": 17, "ai.onnx.ml": 3})


def split_scaled(ds):
    x_tr, x_te, y_tr, y_te = train_test_split(ds.data, ds.target, test_size=0.25, random_state=SEED,
                                              stratify=ds.target if ds.target.dtype.kind in "iu" else None)
    sc = StandardScaler().fit(x_tr)
    return sc.transform(x_tr).astype(np.float32), sc.transform(x_te).astype(np.float32), y_tr, y_te


def write_sklearn_models():
    x_tr, x_te, y_tr, y_te = split_scaled(load_breast_cancer())
    lr = LogisticRegression(max_iter=1000, random_state=SEED).fit(x_tr, y_tr)
    write_model("breast_cancer_logreg", sk_onnx(lr, x_tr), x_te, y_te)
    tree = DecisionTreeClassifier(max_depth=4, random_state=SEED).fit(x_tr, y_tr)
    write_model("breast_cancer_tree", sk_onnx(tree, x_tr), x_te, y_te)
    gbt = GradientBoostingClassifier(n_estimators=12, max_depth=3, random_state=SEED).fit(x_tr, y_tr)
    write_model("breast_cancer_gbt", sk_onnx(gbt, x_tr), x_te, y_te)
    x_tr, x_te, y_tr, y_te = split_scaled(load_diabetes())
    rf = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=SEED).fit(x_tr, y_tr)
    write_model("diabetes_forest", sk_onnx(rf, x_tr), x_te, y_te, classify=False)


def conv2d(x, w):
    """x [N, 1, 8, 8], w [C, 1, 3, 3] -> [N, C, 6, 6] (valid, stride 1)."""
    n, c = x.shape[0], w.shape[0]
    out = np.zeros((n, c, 6, 6))
    for i in range(6):
        for j in range(6):
            patch = x[:, 0, i:i + 3, j:j + 3].reshape(n, 9)
            out[:, :, i, j] = patch @ w.reshape(c, 9).T
    return out


def write_cnn():
    x_tr, x_te, y_tr, y_te = split_scaled(load_digits())
    rng = np.random.default_rng(SEED)
    w = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32) * 0.1
    img = lambda x: x.reshape(-1, 1, 8, 8).astype(np.float64)
    pre = conv2d(img(x_tr), w) + b[None, :, None, None]
    mean, var = pre.mean(axis=(0, 2, 3)), pre.var(axis=(0, 2, 3))
    gamma = np.ones(4, np.float32)
    beta = np.full(4, 0.1, np.float32)

    def features(x):
        h = (conv2d(img(x), w) + b[None, :, None, None] - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
        h = np.maximum(h * gamma[None, :, None, None] + beta[None, :, None, None], 0)
        h = h.reshape(-1, 4, 3, 2, 3, 2).max(axis=(3, 5))
        return h.reshape(len(x), -1)

    head = LogisticRegression(max_iter=2000, random_state=SEED).fit(features(x_tr), y_tr)
    inits = [
        numpy_helper.from_array(w, "conv.weight"), numpy_helper.from_array(b, "conv.bias"),
        numpy_helper.from_array(gamma, "bn.scale"), numpy_helper.from_array(beta, "bn.bias"),
        numpy_helper.from_array(mean.astype(np.float32), "bn.mean"), numpy_helper.from_array(var.astype(np.float32), "bn.var"),
        numpy_helper.from_array(head.coef_.astype(np.float32), "fc.weight"), numpy_helper.from_array(head.intercept_.astype(np.float32), "fc.bias"),
        numpy_helper.from_array(np.array([1, 1, 8, 8], np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("Reshape", ["input", "shape"], ["img"], name="Reshape_0"),
        helper.make_node("Conv", ["img", "conv.weight", "conv.bias"], ["conv"], name="Conv_0", kernel_shape=[3, 3]),
        helper.make_node("BatchNormalization", ["conv", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["bn"], name="BatchNorm_0", epsilon=1e-5),
        helper.make_node("Relu", ["bn"], ["relu"], name="Relu_0"),
        helper.make_node("MaxPool", ["relu"], ["pool"], name="MaxPool_0", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["pool"], ["flat"], name="Flatten_0"),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="Gemm_0", transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="Softmax_0", axis=1),
    ]
    graph = helper.make_graph(nodes, "digits_cnn", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 64])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="zkinfer-fixtures")
    write_cnn_like("digits_cnn", model, x_te, y_te)


def write_cnn_like(name, model, x_te, y_te):
    """Classifier fixtures whose ONNX output is class scores: accuracy is the argmax."""
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    write_model(name, model, x_te, y_te, classify=None)
    preds = np.array([np.argmax(ort_run(model, x_te[i:i + 1])[0]) for i in range(len(x_te))])
    print(f"{name}: float accuracy on {len(y_te)} held-out samples = {np.mean(preds == y_te):.4f}")
    # test.jsonl labels are class indices
    with open(os.path.join(d, "test.jsonl"), "w") as f:
        for row, label in zip(x_te, y_te):
            f.write(json.dumps({"input_data": [[float(v) for v in row.reshape(-1)]], "label": int(label)}) + "\n")


def write_sigmoid_tanh():
    x_tr, x_te, y_tr, y_te = split_scaled(load_digits())
    rng = np.random.default_rng(SEED)
    sizes = [64, 24, 16, 10]
    ws = [rng.standard_normal((o, i)) * np.sqrt(1.0 / i) for i, o in zip(sizes, sizes[1:])]
    bs = [np.zeros(o) for o in sizes[1:]]
    y1h = np.eye(10)[y_tr]
    x = x_tr.astype(np.float64)
    for _ in range(1500):  # full-batch gradient descent with momentum-free Adam-lite
        h1 = np.tanh(x @ ws[0].T + bs[0])
        h2 = 1 / (1 + np.exp(-(h1 @ ws[1].T + bs[1])))
        z = h2 @ ws[2].T + bs[2]
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g3 = (p - y1h) / len(x)
        g2 = (g3 @ ws[2]) * h2 * (1 - h2)
        g1 = (g2 @ ws[1]) * (1 - h1 ** 2)
        for k, (g, a) in enumerate([(g1, x), (g2, h1), (g3, h2)]):
            ws[k] -= 0.5 * g.T @ a
            bs[k] -= 0.5 * g.sum(axis=0)
    inits, nodes, cur = [], [], "input"
    acts = ["Tanh", "Sigmoid", None]
    for k in range(3):
        inits += [numpy_helper.from_array(ws[k].astype(np.float32), f"fc{k}.weight"),
                  numpy_helper.from_array(bs[k].astype(np.float32), f"fc{k}.bias")]
        nodes.append(helper.make_node("Gemm", [cur, f"fc{k}.weight", f"fc{k}.bias"], [f"gemm{k}"], name=f"Gemm_{k}", transB=1))
        cur = f"gemm{k}"
        if acts[k]:
            nodes.append(helper.make_node(acts[k], [cur], [f"act{k}"], name=f"{acts[k]}_{k}"))
            cur = f"act{k}"
    nodes.append(helper.make_node("LogSoftmax", [cur], ["log_probabilities"], name="LogSoftmax_0", axis=1))
    graph = helper.make_graph(nodes, "digits_sigmoid_tanh", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info("log_probabilities", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="zkinfer-fixtures")
    write_cnn_like("digits_sigmoid_tanh", model, x_te, y_te)


def write_unsupported():
    """A model with ops zkinfer does not prove (for the error-message tests)."""
    d = os.path.join(ROOT, "unsupported_ops")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(SEED)
    w = numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32), "w")
    nodes = [
        helper.make_node("Gemm", ["input", "w"], ["h"], name="Gemm_0", transB=1),
        helper.make_node("Sin", ["h"], ["s"], name="Sin_0"),
        helper.make_node("Erf", ["s"], ["output"], name="Erf_0"),
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
