//! Running the client-library scripts under `tests/scripts/` (redis-py) and `tests/node/`
//! (ioredis) against a server: each prints its results as one JSON line, which the test
//! compares between usher and redis-server. A missing interpreter or package fails the test
//! with the command that installs it (scripts/test installs them), never skips it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `program args... <port>` and returns its stdout; panics with its stderr on failure.
fn run(cmd: Command, what: &str, port: u16) -> String {
    run_args(cmd, what, &[port.to_string()])
}

/// Runs `program args... extra...` and returns its stdout; panics with its stderr on failure.
fn run_args(mut cmd: Command, what: &str, extra: &[String]) -> String {
    let out = cmd
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} {extra:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("script output is UTF-8")
}

/// `python3 tests/scripts/<script>`, checking first that redis-py is installed.
fn python_script(script: &str) -> Command {
    let probe = Command::new("python3")
        .args(["-c", "import redis"])
        .status();
    assert!(
        matches!(probe, Ok(s) if s.success()),
        "python3 with redis-py is required: `python3 -m pip install redis` (scripts/test installs it)"
    );
    let mut cmd = Command::new("python3");
    cmd.arg(tests_dir().join("scripts").join(script));
    cmd
}

/// `python3 tests/scripts/<script> <port>`, with redis-py installed.
pub fn redis_py(script: &str, port: u16) -> String {
    run(python_script(script), &format!("python3 {script}"), port)
}

/// `python3 tests/scripts/<script> <args>...`, for scripts that take more than a port.
pub fn redis_py_args(script: &str, args: &[String]) -> String {
    run_args(python_script(script), &format!("python3 {script}"), args)
}

/// `node tests/node/<script> <port>`, installing the package's dependencies (ioredis,
/// playwright-core) with npm first when they are missing.
pub fn node(script: &str, port: u16) -> String {
    node_args(script, &[port.to_string()])
}

/// `node tests/node/<script> <args>...`, for scripts that take more than a port.
pub fn node_args(script: &str, args: &[String]) -> String {
    let dir = tests_dir().join("node");
    for tool in ["node", "npm"] {
        let found = Command::new(tool).arg("--version").output();
        assert!(
            matches!(found, Ok(o) if o.status.success()),
            "`{tool}` is required for the Node tests: `apt-get install nodejs npm` \
             (scripts/test and .ci/run install it)"
        );
    }
    install_node_modules(&dir);
    let mut cmd = Command::new("node");
    cmd.arg(dir.join(script)).current_dir(&dir);
    run_args(cmd, &format!("node {script}"), args)
}

/// Runs `npm install` in `dir` unless every dependency its package.json names is installed.
pub fn install_node_modules(dir: &Path) {
    // Two tests may start at once: npm itself is safe to run twice, and the second finds the
    // folder complete or rewrites it identically.
    let manifest = std::fs::read_to_string(dir.join("package.json")).expect("package.json");
    let manifest: serde_json::Value =
        serde_json::from_str(&manifest).expect("package.json is JSON");
    let installed = manifest["dependencies"].as_object().is_none_or(|deps| {
        deps.keys()
            .all(|d| dir.join("node_modules").join(d).exists())
    });
    if installed {
        return;
    }
    let out = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
        .expect("npm runs");
    assert!(
        out.status.success(),
        "npm install in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
