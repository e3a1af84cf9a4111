//! Where the library's log lines go: stderr, one line per event, its message as the library
//! wrote it (the library only emits `tracing` events and never chooses an output).
//! `ZKINFER_LOG` sets the most detailed level shown: `error`, `warn`, `info` (default),
//! `debug` or `trace`.

use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// A subscriber that prints each event's message (and any other fields) to stderr.
struct Stderr {
    max: Level,
}

/// Collects an event's message and fields.
#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl Subscriber for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // zkinfer's own events only: dependencies (the RPC client's poller, for one) have
        // their own diagnostics, and their debug events can carry request bodies.
        metadata.target().starts_with("zkinfer") && *metadata.level() <= self.max
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line::default();
        event.record(&mut line);
        let _ = writeln!(std::io::stderr().lock(), "{}", line.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Sends the library's log events to stderr at the level `ZKINFER_LOG` asks for.
pub fn init() {
    let max = match std::env::var("ZKINFER_LOG").as_deref() {
        Ok("error") => Level::ERROR,
        Ok("warn") => Level::WARN,
        Ok("debug") => Level::DEBUG,
        Ok("trace") => Level::TRACE,
        _ => Level::INFO,
    };
    let _ = tracing::subscriber::set_global_default(Stderr { max });
}
