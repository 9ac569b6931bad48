//! The fault table: each fault test adds one row (the fault, PASS or FAIL, its figures) to
//! `fault-table.tsv` in Cargo's test scratch directory as it ends, whether it passed or not;
//! `e2e/faults.sh` runs the fault tests and prints the table.

use std::io::Write;
use std::path::PathBuf;

pub fn table() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fault-table.tsv")
}

/// A row being measured; written when dropped, FAIL if the test is panicking.
pub struct Row {
    fault: String,
    figures: Vec<String>,
}

impl Row {
    pub fn new(fault: impl Into<String>) -> Row {
        Row { fault: fault.into(), figures: vec![] }
    }

    pub fn figure(&mut self, figure: impl Into<String>) {
        self.figures.push(figure.into());
    }
}

impl Drop for Row {
    fn drop(&mut self) {
        let verdict = if std::thread::panicking() { "FAIL" } else { "PASS" };
        let line = format!("{}\t{verdict}\t{}\n", self.fault, self.figures.join("; "));
        print!("fault table: {line}");
        let file = std::fs::OpenOptions::new().create(true).append(true).open(table());
        // One short write with O_APPEND: rows from parallel test binaries do not interleave.
        if let Ok(mut f) = file {
            let _ = f.write_all(line.as_bytes());
        }
    }
}
