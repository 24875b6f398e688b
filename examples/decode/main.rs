//! Decode a capture of a BC20's UART output into frames.
//!
//! ```text
//! cargo run --example decode -- --push 0 capture.bin
//! cat capture.bin | cargo run --example decode -- --show-length -
//! ```
//!
//! Prints one frame per line and a summary; exits 1 when some bytes could not be framed.
//! `--help` lists the options.

mod tool;

use std::io::{self, Read, Write};
use std::process::ExitCode;

use tool::{Args, USAGE, decode, parse_args};

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(Args::Run(opts)) => opts,
        Ok(Args::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("decode: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let input = if opts.input.as_os_str() == "-" {
        let mut v = Vec::new();
        io::stdin().lock().read_to_end(&mut v).map(|_| v)
    } else {
        std::fs::read(&opts.input)
    };
    let input = match input {
        Ok(v) => v,
        Err(e) => {
            eprintln!("decode: cannot read {}: {e}", opts.input.display());
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let summary = match decode(&input, &opts, &mut out).and_then(|s| out.flush().map(|_| s)) {
        Ok(s) => s,
        // A closed pipe (`| head`) is not worth a message.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::from(2),
        Err(e) => {
            eprintln!("decode: {e}");
            return ExitCode::from(2);
        }
    };
    if summary.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
