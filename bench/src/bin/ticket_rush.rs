//! `ticket_rush`: the ticket-sale waiting-room mix against usher (native commands) or any
//! Redis-compatible server (the seed scripts through `EVALSHA`). See `--help`, and
//! `bench/scripts/ticket_rush.sh` for the side-by-side runs recorded in `docs/benchmarks.md`.

#[path = "../rush/mod.rs"]
mod rush;

use rush::cli::{self, Options};
use rush::workload::{Mode, PollStyle};
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match cli::parse(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{}", cli::USAGE);
            return;
        }
        Err(e) => {
            eprintln!("ticket_rush: {e}");
            std::process::exit(2);
        }
    };
    match run(&options) {
        Ok(0) => {}
        Ok(errors) => {
            eprintln!("ticket_rush: {errors} errors");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("ticket_rush: {e}");
            std::process::exit(1);
        }
    }
}

/// The run's settings as CSV columns.
fn config_columns(o: &Options) -> Vec<(&'static str, String)> {
    let mix = rush::workload::Op::ALL
        .iter()
        .map(|op| format!("{}={}", op.name(), o.weights[op.index()]))
        .collect::<Vec<_>>()
        .join(";");
    let unix_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    vec![
        ("unix_s", unix_s.to_string()),
        ("label", o.label.clone()),
        (
            "mode",
            match o.mode {
                Mode::Native => "native",
                Mode::Script => "script",
            }
            .into(),
        ),
        (
            "poll",
            match o.poll {
                PollStyle::Default => "default",
                PollStyle::Zrank => "zrank",
            }
            .into(),
        ),
        ("conns", o.conns.to_string()),
        ("pipeline", o.pipeline.to_string()),
        ("waiting", o.waiting.to_string()),
        ("seats", o.seats.to_string()),
        ("duration_s", o.duration_s.to_string()),
        ("mix", mix),
        ("client_threads", o.client_threads.to_string()),
    ]
}

/// Prepares, pre-fills, measures and reports; returns the number of errors.
fn run(o: &Options) -> Result<u64, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let workload = rt.block_on(async {
        let (mut conn, mut workload) = rush::run::prepare(o).await?;
        rush::run::prefill(&mut conn, &workload, o).await?;
        rush::run::split(&mut conn, &workload, o).await?;
        rush::run::hold_confirm_seats(&mut conn, &mut workload, o).await?;
        Ok::<_, String>(workload)
    })?;
    let summary = rush::run::measure(o, &workload, config_columns(o))?;
    print!("{}", summary.table());
    for e in &summary.stats.error_samples {
        eprintln!("  error: {e}");
    }
    println!("csv: {}", summary.csv_line());
    if let Some(path) = &o.csv {
        let fresh = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if fresh {
            writeln!(f, "{}", summary.csv_header()).map_err(|e| e.to_string())?;
        }
        writeln!(f, "{}", summary.csv_line()).map_err(|e| e.to_string())?;
    }
    Ok(summary.stats.total_errors())
}
