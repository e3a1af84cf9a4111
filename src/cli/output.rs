//! Output helpers: JSON or human text on stdout, progress on stderr.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use zkinfer::pipeline::Progress;

/// Prints a JSON value on stdout.
pub fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Progress on stderr: a spinner on a terminal, plain lines otherwise.
pub struct Bar;

impl Progress for Bar {
    fn start(&self, step: &str) {
        if std::io::stderr().is_terminal() {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.set_message(step.to_string());
            b.enable_steady_tick(Duration::from_millis(100));
            SPIN.with(|s| *s.borrow_mut() = Some(b));
        } else {
            eprintln!("zkinfer: {step} ...");
        }
    }

    fn finish(&self, step: &str, secs: f64) {
        SPIN.with(|s| {
            if let Some(b) = s.borrow_mut().take() {
                b.finish_and_clear();
            }
        });
        eprintln!("zkinfer: {step}: done in {secs:.2} s");
    }
}

thread_local! {
    static SPIN: std::cell::RefCell<Option<ProgressBar>> = const { std::cell::RefCell::new(None) };
}

/// Formats floats compactly for humans.
pub fn floats(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:.6}")).collect();
    format!("[{}]", items.join(", "))
}

/// One line per public instance of a proof file: its name, then its value (the float, with
/// the integer when they differ in form) or its field element. An unused batch slot (its used
/// bit, the `slot` or `predicate` instance, is 0) gets one line instead of its zeros.
pub fn instance_lines(instances: &[zkinfer::artifacts::ProofInstance]) -> Vec<String> {
    let unused: std::collections::BTreeSet<usize> = instances
        .iter()
        .filter(|i| matches!(i.info.kind.as_str(), "slot" | "predicate"))
        .filter(|i| i.integer.as_deref() == Some("0"))
        .filter_map(|i| i.info.sample)
        .collect();
    let mut said = std::collections::BTreeSet::new();
    let mut out = vec![];
    for i in instances {
        if let Some(s) = i.info.sample.filter(|s| unused.contains(s)) {
            if said.insert(s) {
                out.push(format!(
                    "{:<18} sample {s}: unused (its instances are 0: it claims nothing)",
                    "slot"
                ));
            }
            continue;
        }
        let value = match (&i.value, &i.integer) {
            (Some(v), Some(q)) if i.info.exp != 0 => {
                format!("{v} (fixed point {q} / 2^{})", i.info.exp)
            }
            (Some(v), _) => format!("{v}"),
            _ => i.field.to_string(),
        };
        let what = match i.info.kind.as_str() {
            "predicate" if i.integer.as_deref() == Some("1") => " (holds)",
            "predicate" => " (does not hold)",
            _ => "",
        };
        out.push(format!(
            "{:<18} {} = {value}{what}",
            i.info.kind, i.info.name
        ));
    }
    out
}
