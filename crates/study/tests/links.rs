//! The invariant "the xtask links no burn, no polars", checked on the resolved dependency graph: `cargo tree`
//! lists every package the xtask (and doppel-study, which it imports) compiles in, and none may be burn's or
//! polars'. A dependency added anywhere in their closure that pulls either in fails here, with its path.

use std::process::Command;

fn normal_dependencies(package: &str) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = doppel_stdx::fs::manifest_dir(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(cargo)
        .args(["tree", "--offline", "--locked", "-e", "normal", "-p", package])
        .current_dir(root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `cargo tree -p {package}`: {e}"));
    assert!(out.status.success(), "`cargo tree -p {package}` failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn xtask_and_study_link_no_burn_and_no_polars() {
    for package in ["xtask", "doppel-study"] {
        let tree = normal_dependencies(package);
        assert!(tree.lines().any(|l| l.contains("doppel-protocol")), "{package}'s tree is not what was asked:\n{tree}");
        let banned: Vec<&str> = tree
            .lines()
            .filter(|l| {
                let name = l.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
                name.starts_with("burn") || name.starts_with("polars")
            })
            .collect();
        assert!(banned.is_empty(), "{package} links burn or polars:\n{}", banned.join("\n"));
    }
}
