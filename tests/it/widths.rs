//! Activation widths from calibration: every activation is range-checked to the signed width
//! its calibrated magnitude (times the headroom) needs, aligned to the range table's limbs, and
//! `prove` refuses a value outside it by node name.

use zkinfer::quant::QuantConfig;

use crate::common::quantized;

fn width_follows_calibration(name: &str) {
    let (model, calib) = quantized(name, |_| {});
    let cfg = QuantConfig::default();
    let b = model.act_bits;
    assert!((8..=cfg.act_bits).contains(&b), "{name}: {b} bits");
    assert!(model.limb_bits > 0, "{name}: no limb width");
    // Aligned up to two limbs (wider magnitudes keep their width).
    if b < cfg.act_bits && b - 1 <= 2 * model.limb_bits {
        assert_eq!(
            (b - 1) % model.limb_bits,
            0,
            "{name}: {b} bits, limb {}",
            model.limb_bits
        );
    }
    // Room for every value at its headroom, and no more than one limb of slack beyond it.
    let top = 2f64.powi(b as i32 - 1);
    let mut widest = 0f64;
    for v in &model.values {
        let need = v.calibrated_max * cfg.headroom * 2f64.powi(v.exp);
        assert!(need < top, "{name}: '{}' needs {need}, width {b}", v.name);
        widest = widest.max(need);
    }
    if b < cfg.act_bits && widest > 0.0 {
        assert!(
            widest >= top / 2f64.powi(model.limb_bits as i32 + 1),
            "{name}: {b} bits for a widest value of {widest}"
        );
    }
    for s in &calib {
        model.eval(s).unwrap();
    }
}

mod each_fixture {
    crate::common::fixture_tests!(super::width_follows_calibration);
}

#[test]
fn lenet_is_narrower_than_32_bits() {
    let (model, _) = quantized("lenet_ccd", |_| {});
    assert!(model.act_bits <= 26, "{} bits", model.act_bits);
}

/// An input that takes an inner activation (not the input itself) past the width: the
/// integer evaluator, which `prove` runs first, refuses it and names the node.
#[test]
fn an_inner_activation_outside_its_width_is_refused_by_name() {
    let (model, calib) = quantized("lenet_ccd", |_| {});
    let input = &model.values[model.inputs[0]];
    let lim = 2f64.powi(model.act_bits as i32 - 1) / 2f64.powi(input.exp);
    // Every pixel at 90% of the input's own limit: the input passes, the first convolution
    // sums 25 of them and leaves the range.
    let big = vec![calib[0][0].iter().map(|_| 0.9 * lim).collect::<Vec<f64>>()];
    let err = model.eval(&big).unwrap_err().to_string();
    assert!(
        !err.contains("'input'"),
        "the input itself was refused: {err}"
    );
    assert!(
        err.contains("Conv") || err.contains("Relu"),
        "no node named: {err}"
    );
}
