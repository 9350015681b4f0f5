//! The environment that points Ignition's sources into a test's work directory, shared
//! by every engine test so that they lay out their directories alike: the kernel command
//! line `cmdline`, the user config `config.ign` and the system config directories
//! `sys/usr`, `sys/etc` and `sys/run`.

use std::collections::HashMap;
use std::path::Path;

/// The `IGNITION_*` variables naming the sources inside `dir`, for
/// `Sources::from_lookup`; a test adds or replaces entries for what it changes.
pub fn ignition_env(dir: &Path) -> HashMap<String, String> {
    [
        ("IGNITION_KERNEL_CMDLINE_PATH", "cmdline"),
        ("IGNITION_CONFIG_FILE", "config.ign"),
        ("IGNITION_SYSTEM_CONFIG_DIR", "sys/usr"),
        ("IGNITION_SYSTEM_LOCAL_CONFIG_DIR", "sys/etc"),
        ("IGNITION_SYSTEM_RUNTIME_CONFIG_DIR", "sys/run"),
    ]
    .into_iter()
    .map(|(name, sub)| (name.to_owned(), dir.join(sub).display().to_string()))
    .collect()
}
