//! `tapegrad check --report`: the page is written, self-contained (nothing loaded from
//! elsewhere), and a real headless browser loads it with no console errors and draws it: its
//! screenshot carries far more than a blank page's. The browser test skips, saying so, where
//! no Chromium can be found (`.ci/run` installs Debian's).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tapegrad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tapegrad"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cases_dir(name: &str) -> String {
    format!("{}/../cases/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Writes the page of `case` (the canonical example when `None`) into `dir`.
fn page(dir: &Path, case: Option<&str>) -> (PathBuf, String) {
    let path = dir.join("report.html");
    let path_text = path.to_string_lossy().to_string();
    let mut args = vec!["check", "--report", &path_text];
    let case_path;
    if let Some(name) = case {
        case_path = cases_dir(name);
        args.extend(["--case", &case_path]);
    }
    let out = tapegrad(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&path).unwrap();
    (path, html)
}

#[test]
fn the_report_page_holds_everything_and_loads_nothing() {
    let dir = scratch("report_lstm");
    let (_, html) = page(&dir, Some("lstm_mse_all.case.json"));
    for part in [
        "<!doctype html>",
        "The check, step by step",
        "Gradients through time",
        "The unrolled graph",
        "PASS: ",
        "‖dh_t‖",
        "‖dc_t‖",
    ] {
        assert!(html.contains(part), "no {part:?}");
    }
    // Two charts at least (heat map, gradient norms), and the graph or why not.
    assert!(html.matches("<svg").count() >= 2);
    assert!(html.contains("<p>No graph: ") || html.matches("<svg").count() >= 3);
    // Self-contained: nothing fetched.
    for outside in [
        "<script",
        "<link",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(outside), "the page refers to {outside:?}");
    }
    // --report belongs to the check of a case, not to --against or another command.
    let out = tapegrad(&["graph", "--report", "x.html"]);
    assert_eq!(out.status.code(), Some(2));
}

/// A Chromium on this machine, if any.
fn browser() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome", "chrome"]
        .iter()
        .filter_map(|name| {
            std::env::var_os("PATH")?
                .to_str()?
                .split(':')
                .map(|dir| Path::new(dir).join(name))
                .find(|p| p.is_file())
        })
        .next()
}

/// The screenshot of `url` at 1200 × 2000 pixels, and what the browser logged.
fn screenshot(browser: &Path, url: &str, png: &Path) -> (Vec<u8>, String) {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,2000",
            &format!("--screenshot={}", png.display()),
            url,
        ])
        .output()
        .expect("the browser runs");
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    (std::fs::read(png).unwrap_or_default(), log)
}

#[test]
fn a_headless_browser_draws_the_page_without_errors() {
    let Some(browser) = browser() else {
        eprintln!(
            "a_headless_browser_draws_the_page_without_errors: SKIPPED, no Chromium found \
             (apt install chromium)"
        );
        return;
    };
    let dir = scratch("report_browser");
    let (path, _) = page(&dir, None);
    let (png, log) = screenshot(
        &browser,
        &format!("file://{}", path.display()),
        &dir.join("page.png"),
    );
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "no screenshot: {log}"
    );
    // The PNG header's size: the window's.
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1200, 2000));
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Failed to load") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "the browser logged: {console:?}");
    // A blank page of the same size compresses to almost nothing; the charts do not.
    let blank = dir.join("blank.html");
    std::fs::write(&blank, "<!doctype html><html><body></body></html>").unwrap();
    let (empty, _) = screenshot(
        &browser,
        &format!("file://{}", blank.display()),
        &dir.join("blank.png"),
    );
    assert!(
        png.len() > 5 * empty.len().max(1),
        "the screenshot ({} bytes) is hardly more than a blank page's ({} bytes)",
        png.len(),
        empty.len()
    );
}
