//! Every number on the command line is range-checked before any work: a
//! clear error naming the flag and exit code 2, never a panic or a run
//! without bounds.

use std::process::Command;

#[test]
fn out_of_range_numbers_are_refused_by_flag() {
    for (args, flag) in [
        (&["run", "--duration", "1e20"][..], "--duration"),
        (&["run", "--duration=-1"], "--duration"),
        (
            &[
                "scoreboard-sim",
                "--port",
                "/dev/null",
                "--duration",
                "1e19",
            ],
            "--duration",
        ),
        (&["synth", "--out", "unused", "--clips", "0"], "--clips"),
        (
            &["synth", "--out", "unused", "--frames", "100000"],
            "--frames",
        ),
        (&["synth", "--out", "unused", "--fps", "0"], "--fps"),
        (&["synth", "--out", "unused", "--size", "0x120"], "--size"),
        (
            &["synth", "--out", "unused", "--size", "160x99999"],
            "--size",
        ),
        (&["eval-stream", "--seconds", "nan"], "--seconds"),
        (&["eval-stream", "--seconds", "1e300"], "--seconds"),
        (
            &["eval-stream", "--tolerance-ms", "99999999999"],
            "--tolerance-ms",
        ),
        (
            &["tune-decision", "--max-onset-ms", "inf"],
            "--max-onset-ms",
        ),
        (&["tune-decision", "--top", "0"], "--top"),
        (&["bench", "--iters", "1"], "--iters"),
        (&["infer", "--threads", "0"], "--threads"),
        (&["run", "--publish", "udp://venue:0"], "--publish"),
        (&["run", "--publish", "tcp://venue:99999"], "--publish"),
        (&["run", "--publish", "mqtt://broker/a/+/b"], "--publish"),
        (&["run", "--publish", "ftp://venue:21"], "--publish"),
        (&["run", "--preprocess", "fpga"], "--preprocess"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_artrt"))
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(flag) && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}
