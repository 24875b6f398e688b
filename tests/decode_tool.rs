//! The `decode` example: its logic (included from the example's own source) and the built
//! binary (exit status, stdin).

#[path = "../examples/decode/tool.rs"]
#[allow(dead_code)]
mod tool;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use tool::{Args, Options, decode, parse_args};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

const BUFFER_SUMMARY: &str = "frames: 103, unknown lines: 0, malformed: 0, overlong: 0, \
     skipped bytes: 0, unframed tail: 0, payload bytes: 30";
const PUSH_SUMMARY: &str = "frames: 37, unknown lines: 0, malformed: 0, overlong: 0, \
     skipped bytes: 0, unframed tail: 0, payload bytes: 17";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}{name}")).unwrap()
}

fn options(args: &[&str]) -> Options {
    match parse_args(args.iter().map(|s| s.to_string())) {
        Ok(Args::Run(o)) => o,
        other => panic!("{other:?}"),
    }
}

/// Decode in-process; returns the printed lines and whether the input was clean.
fn run_tool(args: &[&str], input: &[u8]) -> (Vec<String>, bool) {
    let opts = options(args);
    let mut out = Vec::new();
    let summary = decode(input, &opts, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    (text.lines().map(str::to_owned).collect(), summary.clean())
}

/// The example binary, built by `cargo test` next to this test's own binary
/// (`target/<profile>/deps/decode_tool-…` → `target/<profile>/examples/decode`). When only this
/// test was built (`cargo test --test decode_tool`), build the example first.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = profile_dir
        .join("examples")
        .join(format!("decode{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", "decode", "--manifest-path"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .env("CARGO_TARGET_DIR", profile_dir.parent().unwrap())
            .status()
            .unwrap();
        assert!(status.success(), "could not build the decode example");
    }
    bin
}

fn run_binary(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        pipe.write_all(bytes).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn last_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn manual_chapter_4_decodes_cleanly() {
    let (lines, clean) = run_tool(&["--show-length", "x"], &fixture("manual-ch4-buffer.bin"));
    assert!(clean);
    assert_eq!(lines.last().unwrap(), BUFFER_SUMMARY);
    assert!(lines.contains(&"QiRd { data: 10 bytes \"1234567890\", remaining: 2 }".into()));
    assert!(lines.contains(&"RecvNotify { id: ConnectId(0), len: Some(12) }".into()));

    let (lines, clean) = run_tool(&["--push", "0", "x"], &fixture("manual-ch4-push.bin"));
    assert!(clean);
    assert_eq!(lines.last().unwrap(), PUSH_SUMMARY);
    assert!(lines.contains(&"RecvData { id: 0, data: 12 bytes \"012345678901\" }".into()));
}

#[test]
fn binary_exit_status_and_summary() {
    let path = format!("{FIXTURES}manual-ch4-buffer.bin");
    let out = run_binary(&["--show-length", &path], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(last_line(&out), BUFFER_SUMMARY);

    let path = format!("{FIXTURES}manual-ch4-push.bin");
    let out = run_binary(&["--quiet", "--push", "0", &path], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        PUSH_SUMMARY
    );

    // Without `--push`, the echoed `AT+QIOPEN=...,1` and `AT+QICFG="viewmode",1` set the
    // context as the capture goes.
    let out = run_binary(&["--quiet", &path], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        PUSH_SUMMARY
    );

    // The wrong context, kept fixed: the view mode 0 push (`12345`) is taken for a buffer mode
    // notification and its data for an unknown line (not an error); the view mode 1 push has
    // data on the header's line in a view mode 0 context: not guessed at, malformed.
    let out = run_binary(&["--quiet", "--no-follow", &path], None);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        last_line(&out).contains("unknown lines: 1, malformed: 1"),
        "{out:?}"
    );
}

#[test]
fn binary_reads_stdin() {
    let out = run_binary(
        &["--push", "0,2", "-"],
        Some(b"\r\n+QIURC: \"recv\",2,3\r\na\x00b\r\n\r\nOK\r\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("RecvData { id: 2, data: 3 bytes \"a\\x00b\" }"),
        "{text}"
    );
    assert!(
        text.ends_with("unframed tail: 0, payload bytes: 3\n"),
        "{text}"
    );
}

#[test]
fn garbage_and_overlong_lines_exit_1() {
    let mut bytes = b"\r\nOK\r\n\x00\x01\xff\r\nOK\r\n".to_vec();
    let out = run_binary(&["-"], Some(&bytes));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(last_line(&out).contains("skipped bytes: 3"), "{out:?}");

    bytes = b"\r\nOK\r\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'A', 200));
    bytes.extend(b"\r\nOK\r\n");
    let out = run_binary(&["--max-line", "100", "-"], Some(&bytes));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let last = last_line(&out);
    assert!(last.contains("overlong: 1"), "{last}");
    // Blank, OK, Overlong, OK: the rest of the long line and its line end are skipped.
    assert!(last.starts_with("frames: 4,"), "{last}");
    assert!(last.contains("skipped bytes: 101"), "{last}");
    // The same input with a long enough line limit is clean (an unknown line is no error).
    let out = run_binary(&["--quiet", "-"], Some(&bytes));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn payload_cut_short_is_an_unframed_tail() {
    let input = b"\r\n+QIRD: 10\r\n12345";
    let (lines, clean) = run_tool(&["-"], input);
    assert!(!clean);
    assert_eq!(lines[1], "(unframed tail: \"+QIRD: 10\\r\\n12345\")");
    assert!(lines[2].contains("unframed tail: 16"), "{lines:?}");
    let out = run_binary(&["-"], Some(input));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn payloads_are_readable_and_abbreviated() {
    let mut input = b"\r\n+QIRD: 100\r\n".to_vec();
    input.extend((0..100u8).map(|i| if i < 60 { b'x' } else { i }));
    input.extend(b"\r\n\r\nOK\r\n");
    let (lines, clean) = run_tool(&["--offsets", "-"], &input);
    assert!(clean);
    let qird = &lines[1];
    assert!(
        qird.starts_with("       2  QiRd { data: 100 bytes \"xxxx"),
        "{qird}"
    );
    assert!(qird.ends_with("x<=>?\"...(+36 bytes) }"), "{qird}");

    let (lines, clean) = run_tool(
        &["--hex", "--push", "1", "-"],
        b"\r\n+QIURC: \"recv\",1,2,\"0a41\"\r\n",
    );
    assert!(clean);
    assert_eq!(lines[1], "RecvData { id: 1, data: 2 bytes (hex) \"\\nA\" }");
}

#[test]
fn bad_arguments_are_refused() {
    for args in [
        &["--push", "5", "f"][..],
        &["--view-mode", "2", "f"],
        &["--max-line", "x", "f"],
        &["--bogus", "f"],
        &["a", "b"],
        &[],
    ] {
        assert!(
            parse_args(args.iter().map(|s| s.to_string())).is_err(),
            "{args:?}"
        );
    }
    assert!(matches!(parse_args(["--help"]), Ok(Args::Help)));
    let out = run_binary(&["--bogus"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = run_binary(&["--help"], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("usage: decode"));
}

#[test]
fn module_option_checks_the_capture_identity() {
    let ati = b"\r\nQuectel_Ltd\r\nQuectel_BC660K-GL\r\nRevision: BC660KGLAAR01A05\r\n\r\nOK\r\n";
    let (lines, clean) = run_tool(&["--module", "bc660k", "x"], ati);
    assert!(clean);
    assert!(
        lines.contains(&"module: BC660K (the capture's identity matches)".into()),
        "{lines:?}"
    );
    let (lines, _) = run_tool(&["--module", "BC66", "x"], ati);
    assert!(
        lines.contains(&"module: BC66 (warning: the capture identifies BC660K)".into()),
        "{lines:?}"
    );
    let (lines, _) = run_tool(&["--module", "bc20", "x"], b"\r\nOK\r\n");
    assert!(
        lines.contains(&"module: BC20 (the capture does not identify the module)".into()),
        "{lines:?}"
    );
    assert!(parse_args(["--module", "bc21", "x"]).is_err());
}

/// The sibling forms of issue 13 decode as typed frames: nothing unknown, nothing malformed.
#[test]
fn sibling_forms_decode_cleanly() {
    let capture =
        b"\r\n+QISTATE: 0,\"TCP\",\"10.7.0.1\",8705,65344,2,1,0,0,\"uart1\"\r\n\r\nOK\r\n\
        \r\n+QIRD: 1396,1396,0\r\n\r\nOK\r\n\
        \r\n+QIRD: 5,\"10.7.0.1\",5000\r\nhello\r\n\r\nOK\r\n\
        \r\n+QISEND: 147,147,0\r\n\r\nOK\r\n\
        \r\n> ";
    let (lines, clean) = run_tool(&["x"], capture);
    assert!(clean, "{lines:?}");
    assert!(
        lines
            .last()
            .unwrap()
            .contains("unknown lines: 0, malformed: 0")
    );
    for want in [
        "QiRdQuery { total: 1396, read: 1396, unread: 0 }",
        "QiRdFrom { data: 5 bytes \"hello\", from: 10.7.0.1:5000 }",
        "QiSendQuery { total: 147, acked: 147, unacked: 0 }",
        "Prompt",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want} in {lines:?}");
    }
    assert!(
        lines.iter().any(|l| l.starts_with("QiStateExt(")),
        "{lines:?}"
    );
}
