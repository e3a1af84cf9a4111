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
  iris_logreg             multinomial LogisticRegression on iris via skl2onnx (softmax post-transform)
  breast_cancer_gbt       GradientBoostingClassifier, 12 trees of depth 3, via skl2onnx
  diabetes_forest         RandomForestRegressor, 10 trees of depth 4, via skl2onnx (TreeEnsembleRegressor)
  digits_cnn              8x8 CNN: Conv 3x3 (4 ch) -> BatchNorm -> Relu -> MaxPool 2 -> Flatten
                          -> Gemm -> Softmax; fixed random filters, BatchNorm from data statistics,
                          head trained by scikit-learn
  digits_sigmoid_tanh     MLP 64 -> 24 (Tanh) -> 16 (Sigmoid) -> 10 -> LogSoftmax, trained in numpy
  wide_gemm_K             Gemm 2 -> 512 -> Relu (seeded random), then its first K outputs (K = 1, 70, 500): with
                          public outputs exactly K public instances on one circuit shape (the
                          instance-flat verifier's tests)
  softmax_200             Gemm 8 -> 200 -> Softmax, seeded random: a 200-class public softmax output
  lenet_ccd, lenet_ccddd  LeNet-style CNNs on the digits upsampled to 28x28 (conv 6@5x5, Relu, 2x2
                          average pool, conv 16@5x5, Relu, pool, then dense 10 or 120-84-10),
                          trained in numpy (scripts/lenet.py)
Expected outputs come from onnxruntime.

Usage: python3 scripts/gen_fixtures.py [GROUP...]   (pip install -r scripts/requirements.txt)
GROUP: all (default), instances (only wide_gemm_K and softmax_200), lenet (only the LeNets).
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
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


def sliced_gemm(name, w, b, k):
    """Gemm -> Relu, then the first k outputs: the same circuit for every k."""
    inits = [numpy_helper.from_array(w, "fc.weight"), numpy_helper.from_array(b, "fc.bias"),
             numpy_helper.from_array(np.array([0], dtype=np.int64), "starts"),
             numpy_helper.from_array(np.array([k], dtype=np.int64), "ends"),
             numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")]
    nodes = [helper.make_node("Gemm", ["input", "fc.weight", "fc.bias"], ["z"], name="Gemm_0", transB=1),
             helper.make_node("Relu", ["z"], ["all"], name="Relu_0"),
             helper.make_node("Slice", ["all", "starts", "ends", "axes"], ["logits"], name="Slice_0")]
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, w.shape[1]])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, k])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="zkinfer-fixtures")
    return model


def write_instance_fixtures():
    """Models whose public outputs are many instances: the verifier must not grow with them.
    wide_gemm_K computes the same Gemm 2 -> 512 -> Relu for every K and outputs its first K values, so
    that only the instance count differs between them."""
    rng = np.random.default_rng(SEED + 512)
    w = rng.normal(0, 0.5, (512, 2)).astype(np.float32)
    b = rng.normal(0, 0.1, 512).astype(np.float32)
    x = rng.normal(0, 1, (32, 2))
    for k in (1, 70, 500):
        write_model(f"wide_gemm_{k}", sliced_gemm(f"wide_gemm_{k}", w, b, k), x, np.zeros(len(x)), n_calib=16, classify=None)
    rng = np.random.default_rng(SEED + 200)
    w = rng.normal(0, 1.0, (200, 8)).astype(np.float32)
    b = rng.normal(0, 0.1, 200).astype(np.float32)
    inits = [numpy_helper.from_array(w, "fc.weight"), numpy_helper.from_array(b, "fc.bias")]
    nodes = [helper.make_node("Gemm", ["input", "fc.weight", "fc.bias"], ["logits"], name="Gemm_0", transB=1),
             helper.make_node("Softmax", ["logits"], ["probs"], name="Softmax_0", axis=1)]
    graph = helper.make_graph(nodes, "softmax_200", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 200])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="zkinfer-fixtures")
    x = rng.normal(0, 1, (32, 8))
    write_model("softmax_200", model, x, np.zeros(len(x)), n_calib=16, classify=None)


def write_lenet():
    """LeNet-style CNNs on 28x28 digits (scripts/lenet.py), trained in numpy."""
    import lenet
    for name, dense in (("lenet_ccd", (10,)), ("lenet_ccddd", (120, 84, 10))):
        layers, x_te, y_te, acc = lenet.train(dense, SEED)
        print(f"{name}: numpy test accuracy {acc:.4f}")
        write_cnn_like(name, lenet.onnx_model(name, layers), x_te, y_te)


def main():
    if sys.argv[1:] == ["instances"]:
        write_instance_fixtures()
        return
    if sys.argv[1:] == ["lenet"]:
        write_lenet()
        return
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
    write_op_fixtures()
    write_bad_models()
    write_instance_fixtures()
    write_lenet()


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
    x_tr, x_te, y_tr, y_te = split_scaled(load_iris())
    iris = LogisticRegression(max_iter=1000, random_state=SEED).fit(x_tr, y_tr)
    write_model("iris_logreg", sk_onnx(iris, x_tr), x_te, y_te)
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


OPS = os.path.join(ROOT, "..", "ops")
BAD = os.path.join(ROOT, "..", "bad")


def op_fixture(name, nodes, in_shape, out_names, inits=(), opset=13, extra_inputs=()):
    """One small model per op form; expected outputs from onnxruntime on a seeded input."""
    d = os.path.join(OPS, name)
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(SEED + sum(map(ord, name)))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)]
    inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, sh) for n, sh in extra_inputs]
    outputs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in out_names]
    graph = helper.make_graph(nodes, name, inputs, outputs,
                              [numpy_helper.from_array(v, k) for k, v in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="zkinfer-fixtures")
    model.ir_version = 8
    onnx.save(model, os.path.join(d, "model.onnx"))
    shapes = [in_shape] + [sh for _, sh in extra_inputs]
    samples = [[rng.standard_normal(sh).astype(np.float32) for sh in shapes] for _ in range(9)]
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = lambda xs: {i.name: x for i, x in zip(sess.get_inputs(), xs)}
    outs = sess.run(None, feed(samples[0]))
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump({"input_data": [[float(v) for v in x.reshape(-1)] for x in samples[0]]}, f)
        f.write("\n")
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"outputs": [[float(v) for v in np.asarray(o, dtype=np.float64).reshape(-1)] for o in outs]}, f)
        f.write("\n")
    with open(os.path.join(d, "calibration.jsonl"), "w") as f:
        for xs in samples:
            f.write(json.dumps({"input_data": [[float(v) for v in x.reshape(-1)] for x in xs]}) + "\n")


def f32(*shape, scale=1.0, seed=0):
    return (np.random.default_rng(SEED + seed).standard_normal(shape) * scale).astype(np.float32)


def i64(*v):
    return np.array(v, dtype=np.int64)


def write_op_fixtures():
    N = helper.make_node
    op_fixture("conv_stride_pad_dilation", [N("Conv", ["x", "w", "b"], ["y"], strides=[2, 1], pads=[1, 0, 2, 1], dilations=[1, 2])],
               [1, 2, 7, 6], ["y"], [("w", f32(3, 2, 3, 2, seed=1)), ("b", f32(3, seed=2))])
    op_fixture("conv_depthwise_same", [N("Conv", ["x", "w"], ["y"], group=3, auto_pad="SAME_UPPER", strides=[2, 2])],
               [1, 3, 5, 5], ["y"], [("w", f32(3, 1, 3, 3, seed=3))])
    op_fixture("conv_1d", [N("Conv", ["x", "w", "b"], ["y"], pads=[1, 1])], [1, 2, 9], ["y"], [("w", f32(4, 2, 3, seed=4)), ("b", f32(4, seed=5))])
    op_fixture("conv_transpose", [N("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 0, 0, 1], output_padding=[1, 0])],
               [1, 2, 3, 4], ["y"], [("w", f32(2, 3, 3, 3, seed=6)), ("b", f32(3, seed=7))])
    op_fixture("maxpool_pad_ceil", [N("MaxPool", ["x"], ["y"], kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1], ceil_mode=1)], [1, 2, 6, 5], ["y"])
    op_fixture("avgpool_exclude_pad", [N("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])], [1, 2, 5, 5], ["y"])
    op_fixture("avgpool_include_pad", [N("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], pads=[1, 1, 0, 0], count_include_pad=1)], [1, 1, 4, 4], ["y"])
    op_fixture("global_pools", [N("GlobalAveragePool", ["x"], ["a"]), N("GlobalMaxPool", ["x"], ["m"])], [1, 3, 4, 4], ["a", "m"])
    op_fixture("batchnorm", [N("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)], [1, 3, 2, 2], ["y"],
               [("s", f32(3, seed=8)), ("b", f32(3, seed=9)), ("m", f32(3, seed=10)), ("v", np.abs(f32(3, seed=11)) + 0.5)])
    op_fixture("gemm_trans_alpha_beta", [N("Gemm", ["x", "w", "c"], ["y"], transA=1, transB=0, alpha=0.5, beta=2.0)], [4, 2], ["y"],
               [("w", f32(4, 3, seed=12)), ("c", f32(1, 3, seed=13))])
    op_fixture("matmul_batched_const", [N("MatMul", ["x", "w"], ["y"])], [2, 3, 4], ["y"], [("w", f32(2, 4, 5, seed=14))])
    op_fixture("matmul_dynamic", [N("MatMul", ["x", "z"], ["y"])], [2, 3, 4], ["y"], extra_inputs=[("z", [1, 4, 2])])
    op_fixture("add_sub_mul_broadcast", [N("Add", ["x", "c"], ["a"]), N("Sub", ["c2", "a"], ["s"]), N("Mul", ["s", "x"], ["y"])],
               [2, 3], ["y"], [("c", f32(3, seed=15)), ("c2", f32(2, 1, seed=16))])
    op_fixture("div_const_and_dynamic", [N("Div", ["x", "c"], ["a"]), N("Mul", ["x", "x"], ["sq"]),
                                         N("Add", ["sq", "one"], ["den"]), N("Div", ["a", "den"], ["y"])],
               [2, 3], ["y"], [("c", np.array([2.0, -4.0, 0.5], np.float32)), ("one", np.array([1.0], np.float32))])
    op_fixture("relu_leaky_prelu", [N("Relu", ["x"], ["r"]), N("LeakyRelu", ["x"], ["l"], alpha=0.2), N("PRelu", ["x", "sl"], ["p"])],
               [1, 3, 2], ["r", "l", "p"], [("sl", f32(3, 1, seed=17))])
    op_fixture("clip_hardsigmoid", [N("Clip", ["x", "lo", "hi"], ["c"]), N("HardSigmoid", ["x"], ["h"], alpha=0.3)], [2, 4], ["c", "h"],
               [("lo", np.array(-0.5, np.float32)), ("hi", np.array(0.7, np.float32))])
    op_fixture("clip_opset9_relu6", [N("Clip", ["x"], ["c"], min=0.0, max=6.0)], [2, 4], ["c"], opset=9)
    op_fixture("sigmoid_tanh_exp", [N("Sigmoid", ["x"], ["s"]), N("Tanh", ["x"], ["t"]), N("Exp", ["x"], ["e"])], [2, 5], ["s", "t", "e"])
    op_fixture("softmax_axis", [N("Softmax", ["x"], ["y"], axis=1)], [2, 4, 3], ["y"])
    op_fixture("softmax_opset11", [N("Softmax", ["x"], ["y"], axis=1)], [2, 2, 3], ["y"], opset=11)
    op_fixture("log_softmax", [N("LogSoftmax", ["x"], ["y"])], [3, 4], ["y"])
    op_fixture("reshape_from_shape_chain", [
        N("Shape", ["x"], ["sh"]), N("Gather", ["sh", "i0"], ["d0"], axis=0), N("Unsqueeze", ["d0", "ax0"], ["d0u"]),
        N("Concat", ["d0u", "m1"], ["target"], axis=0), N("Reshape", ["x", "target"], ["y"])],
        [2, 3, 4], ["y"], [("i0", np.array(0, np.int64)), ("ax0", i64(0)), ("m1", i64(-1))])
    op_fixture("flatten_transpose", [N("Transpose", ["x"], ["t"], perm=[0, 2, 1, 3]), N("Flatten", ["t"], ["y"], axis=2)], [2, 3, 4, 2], ["y"])
    op_fixture("concat_slice_split", [N("Slice", ["x", "st", "en", "ax", "stp"], ["s"]), N("Concat", ["x", "s"], ["c"], axis=1),
                                      N("Split", ["c", "sp"], ["a", "b"], axis=1)], [2, 6], ["a", "b"],
               [("st", i64(5, 0)), ("en", i64(-100, 2)), ("ax", i64(1, 0)), ("stp", i64(-2, 1)), ("sp", i64(4, 5))])
    op_fixture("squeeze_unsqueeze", [N("Unsqueeze", ["x", "a0"], ["u"]), N("Squeeze", ["u", "a1"], ["y"])], [3, 1, 2], ["y"],
               [("a0", i64(0, 3)), ("a1", i64(0, 2))])
    op_fixture("pad_modes", [N("Pad", ["x", "p"], ["c"], mode="constant"), N("Pad", ["x", "p"], ["r"], mode="reflect"),
                             N("Pad", ["x", "p"], ["e"], mode="edge")], [1, 3, 4], ["c", "r", "e"], [("p", i64(0, 1, 2, 0, 2, 1))])
    op_fixture("reduce_mean_sum_max", [N("ReduceMean", ["x"], ["m"], axes=[1], keepdims=1), N("ReduceSum", ["x", "ax"], ["s"], keepdims=0),
                                       N("ReduceMax", ["x"], ["mx"], axes=[0, 2], keepdims=0)], [2, 3, 4], ["m", "s", "mx"],
               [("ax", i64(-1))])
    op_fixture("argmax_axis", [N("ArgMax", ["x"], ["i"], axis=1, keepdims=0), N("Cast", ["i"], ["y"], to=1)], [3, 5], ["y"])
    op_fixture("gather_expand_tile", [N("Gather", ["x", "idx"], ["g"], axis=1), N("Expand", ["g", "es"], ["e"]), N("Tile", ["e", "rep"], ["y"])],
               [2, 4], ["y"], [("idx", i64(3, -4, 1)), ("es", i64(2, 2, 3)), ("rep", i64(1, 2, 1))])
    op_fixture("misc_identity_dropout_constant_pow", [N("Identity", ["x"], ["i"]), N("Dropout", ["i"], ["d"]),
                                                      N("Constant", [], ["k"], value=numpy_helper.from_array(np.array([1.5], np.float32))),
                                                      N("Pow", ["d", "two"], ["sq"]), N("Neg", ["sq"], ["n"]), N("Sum", ["n", "k", "d"], ["y"])],
               [2, 3], ["y"], [("two", np.array(2.0, np.float32))])


def write_bad_models():
    """Malformed models for the error-message tests."""
    os.makedirs(BAD, exist_ok=True)
    N = helper.make_node
    def save(name, nodes, inputs, outputs, inits=(), opset=13):
        g = helper.make_graph(nodes, name, inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="zkinfer-fixtures")
        m.ir_version = 8
        onnx.save(m, os.path.join(BAD, name + ".onnx"))
    vi = helper.make_tensor_value_info
    F = TensorProto.FLOAT
    save("symbolic_dim", [N("Relu", ["x"], ["y"])], [vi("x", F, ["batch", "seq"])], [vi("y", F, None)])
    save("unknown_opset", [N("Relu", ["x"], ["y"])], [vi("x", F, [1, 4])], [vi("y", F, None)], opset=99)
    save("missing_initializer", [N("Gemm", ["x", "w"], ["y"], transB=1)], [vi("x", F, [1, 4])], [vi("y", F, None)])
    save("zero_sized", [N("Slice", ["x", "s", "e", "a"], ["y"])], [vi("x", F, [1, 4])], [vi("y", F, None)],
         [("s", i64(2)), ("e", i64(2)), ("a", i64(1))])


if __name__ == "__main__":
    main()
