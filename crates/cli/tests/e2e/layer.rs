//! Package layering in the booted image: `ferro install --apply-live tree` works at
//! once, `ferro install tmux --reboot` boots a deployment with both, `apt-get install`
//! points at `ferro install`, and `ferro rollback --reboot` boots the base without them.
//! The packages come from the Debian archive the image's apt sources name, through
//! QEMU's user network.

use super::*;

/// Prints the guest's view of the layering: `tmux -V`, `tree --version`, the booted
/// deployment's `LayeredPackages`, and whether dpkg knows tmux.
const CHECK: &str = "echo \"tmux: $(tmux -V 2>&1 || true)\"
     echo \"tree: $(tree --version 2>&1 | head -n 1 || true)\"
     echo \"layered: $(sudo ferro status --json | tr -d '\\n')\"
     echo \"dpkg: $(dpkg-query -W -f '${Status}' tmux 2>&1 || true)\"";

/// The booted deployment's `packages` in `ferro status --json`.
fn booted_packages(output: &str) -> Vec<String> {
    let status: serde_json::Value = serde_json::from_str(field(output, "layered")).unwrap();
    let booted = status["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["booted"] == true)
        .unwrap_or_else(|| panic!("no booted deployment: {status}"))
        .clone();
    serde_json::from_value(booted["packages"].clone()).unwrap()
}

#[test]
fn install_apply_live_reboot_and_rollback() {
    let Some(image) = image() else {
        return;
    };
    let _vm = VM.lock().unwrap_or_else(|e| e.into_inner());
    let work = work_dir().join("layer");
    fs::create_dir_all(&work).unwrap();
    let key = ssh_key(&work, "id_core");
    let config = ignition_config(&work, &key, "");
    let name = "e2e-layer";
    let console = work.join("console.log");
    let ssh_port = free_port();
    let ssh_port_arg = ssh_port.to_string();
    let _running = boot_to_ssh(
        &work,
        image,
        &config,
        name,
        &console,
        "layering: boot to SSH",
        &["--ssh-port", &ssh_port_arg],
    );

    let before = guest(
        &work,
        name,
        &key,
        "echo \"packages: $(dpkg-query -W | wc -l)\"
         echo \"apt: $(sudo apt-get install -y tmux 2>&1 | tail -n 1)\"",
    );
    let count: usize = field(&before, "packages").trim().parse().unwrap();
    assert!(count > 100, "dpkg -l lists the base: {count}");
    assert!(field(&before, "apt").contains("ferro install"), "{before}");

    let live = step("layering: install --apply-live tree", || {
        guest(
            &work,
            name,
            &key,
            "sudo ferro install --apply-live tree 2>&1
             echo \"tree now: $(tree --version | head -n 1)\"
             echo \"live: $(sudo ferro status | grep LiveCommit)\"",
        )
    });
    assert!(field(&live, "tree now").starts_with("tree v"), "{live}");
    assert!(field(&live, "live").contains("LiveCommit: "), "{live}");

    reboot(
        &work,
        name,
        &key,
        &console,
        ssh_port,
        "sudo ferro install --reboot tmux",
    );
    let layered = guest(&work, name, &key, CHECK);
    assert!(field(&layered, "tmux").starts_with("tmux "), "{layered}");
    assert!(field(&layered, "tree").starts_with("tree v"), "{layered}");
    assert_eq!(field(&layered, "dpkg"), "install ok installed");
    assert_eq!(booted_packages(&layered), ["tmux", "tree"]);

    reboot(
        &work,
        name,
        &key,
        &console,
        ssh_port,
        "sudo ferro rollback --reboot",
    );
    let rolled_back = guest(&work, name, &key, CHECK);
    assert!(
        !field(&rolled_back, "tmux").starts_with("tmux "),
        "{rolled_back}"
    );
    assert!(
        !field(&rolled_back, "tree").starts_with("tree v"),
        "{rolled_back}"
    );
    assert!(booted_packages(&rolled_back).is_empty(), "{rolled_back}");
}
