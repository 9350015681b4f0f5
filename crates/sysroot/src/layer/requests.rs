//! What was asked and what was built: the layering requests a deployment's origin
//! records (rpm-ostree's `[packages] requested=`, `requested-local=`, `[overrides]
//! remove=`) and the metadata of a layered commit (`rpmostree.clientlayer`,
//! `rpmostree.packages`, `rpmostree.removed-base-packages`, …). Requests that the
//! commit does not carry out are inactive (rpm-ostree computes them the same way).

use std::collections::{BTreeMap, BTreeSet};

use ferro_ostree::Checksum;
use ferro_ostree::keyfile::KeyFile;
use ferro_ostree::object::{Commit, Variant};

/// The origin group and keys rpm-ostree uses.
const PACKAGES: &str = "packages";
const REQUESTED: &str = "requested";
const REQUESTED_LOCAL: &str = "requested-local";
const OVERRIDES: &str = "overrides";
const REMOVE: &str = "remove";

/// Commit metadata keys of a layered commit. The `rpmostree.*` names are rpm-ostree's,
/// so tools reading them understand ferrocore's layered commits; the `ferro.layer.*`
/// ones are what rpm-ostree keeps elsewhere (its rpmdb package list).
pub(crate) const META_CLIENTLAYER: &str = "rpmostree.clientlayer";
pub(crate) const META_PACKAGES: &str = "rpmostree.packages";
pub(crate) const META_REMOVED: &str = "rpmostree.removed-base-packages";
pub(crate) const META_LOCAL: &str = "ferro.layer.local-packages";
pub(crate) const META_INSTALLED: &str = "ferro.layer.installed";

/// The layering requests of a deployment, as its origin records them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requests {
    /// Archive packages asked for by name (`ferro install NAME`).
    pub packages: BTreeSet<String>,
    /// Local `.deb` files (`ferro install FILE.deb`): sha256 of the file →
    /// `NAME_VERSION_ARCH`, recorded as `SHA256:NAME_VERSION_ARCH`.
    pub local: BTreeMap<String, String>,
    /// Base packages removed (`ferro override remove NAME`).
    pub removals: BTreeSet<String>,
}

impl Requests {
    /// The requests recorded in `origin` (none for a plain deployment).
    pub fn from_origin(origin: &KeyFile) -> Self {
        let list = |group: &str, key: &str| -> Vec<String> {
            origin
                .get_list(group, key)
                .unwrap_or_default()
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect()
        };
        Requests {
            packages: list(PACKAGES, REQUESTED).into_iter().collect(),
            local: list(PACKAGES, REQUESTED_LOCAL)
                .into_iter()
                .map(|entry| match entry.split_once(':') {
                    Some((sha, name)) => (sha.to_owned(), name.to_owned()),
                    None => (entry.clone(), entry),
                })
                .collect(),
            removals: list(OVERRIDES, REMOVE).into_iter().collect(),
        }
    }

    /// The origin groups recording these requests (empty when there are none).
    pub fn to_origin(&self) -> KeyFile {
        let mut origin = KeyFile::default();
        if !self.packages.is_empty() {
            let values: Vec<String> = self.packages.iter().cloned().collect();
            origin.set_list(PACKAGES, REQUESTED, &values);
        }
        if !self.local.is_empty() {
            origin.set_list(PACKAGES, REQUESTED_LOCAL, &self.local_entries());
        }
        if !self.removals.is_empty() {
            let values: Vec<String> = self.removals.iter().cloned().collect();
            origin.set_list(OVERRIDES, REMOVE, &values);
        }
        origin
    }

    /// `SHA256:NAME_VERSION_ARCH` of each local package, as the origin records them.
    pub fn local_entries(&self) -> Vec<String> {
        self.local
            .iter()
            .map(|(sha, name)| format!("{sha}:{name}"))
            .collect()
    }

    /// Whether nothing is requested.
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty() && self.local.is_empty() && self.removals.is_empty()
    }
}

/// What a layered commit records about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerMeta {
    /// Whether the commit is a client-side layer on its parent.
    pub layered: bool,
    /// Requested archive packages actually layered (not their dependencies).
    pub packages: Vec<String>,
    /// Local packages layered (names).
    pub local: Vec<String>,
    /// Base packages removed.
    pub removed: Vec<String>,
    /// Everything the layer installed, dependencies included: `NAME VERSION`.
    pub installed: Vec<String>,
}

impl LayerMeta {
    /// Reads the layer metadata of `commit`.
    pub fn of(commit: &Commit) -> Self {
        let get = |key: &str| -> Option<&Variant> {
            commit
                .metadata
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
        };
        let strings = |key: &str| get(key).and_then(Variant::as_strings).unwrap_or_default();
        LayerMeta {
            layered: get(META_CLIENTLAYER).is_some(),
            packages: strings(META_PACKAGES),
            local: strings(META_LOCAL),
            removed: strings(META_REMOVED),
            installed: strings(META_INSTALLED),
        }
    }
}

/// What `status` shows about a deployment's layering (rpm-ostree's `status --json`
/// keys in brackets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerStatus {
    /// The base commit when the deployment is layered (`base-checksum`).
    pub base_checksum: Option<Checksum>,
    /// Requested archive packages (`requested-packages`).
    pub requested_packages: Vec<String>,
    /// Requested local packages, `SHA256:NAME_VERSION_ARCH`
    /// (`requested-local-packages`).
    pub requested_local_packages: Vec<String>,
    /// Requested base removals (`requested-base-removals`).
    pub requested_base_removals: Vec<String>,
    /// Archive packages layered (`packages`).
    pub packages: Vec<String>,
    /// Local packages layered (names).
    pub local_packages: Vec<String>,
    /// Base packages removed (`base-removals`).
    pub base_removals: Vec<String>,
}

impl LayerStatus {
    /// Requests that the commit does not carry out (the base already has the
    /// package): `requested-packages − packages`, as rpm-ostree computes them.
    pub fn inactive_requests(&self) -> Vec<String> {
        self.requested_packages
            .iter()
            .filter(|p| !self.packages.contains(p))
            .cloned()
            .collect()
    }

    /// Base removals requested but not carried out (the base lacks the package).
    pub fn inactive_removals(&self) -> Vec<String> {
        self.requested_base_removals
            .iter()
            .filter(|p| !self.base_removals.contains(p))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_through_the_origin_with_rpm_ostree_keys() {
        let mut requests = Requests::default();
        requests
            .packages
            .extend(["tmux".to_owned(), "htop".to_owned()]);
        requests
            .local
            .insert("ab12".to_owned(), "foo_1.0_all".to_owned());
        requests.removals.insert("nano".to_owned());
        let text = requests.to_origin().to_text();
        assert!(
            text.contains("[packages]\nrequested=htop;tmux;\n"),
            "{text}"
        );
        assert!(text.contains("requested-local=ab12:foo_1.0_all;"), "{text}");
        assert!(text.contains("[overrides]\nremove=nano;"), "{text}");
        let mut origin = KeyFile::parse("[origin]\nrefspec=os:main\n");
        let extra = requests.to_origin();
        for group in extra.group_names() {
            for (k, v) in extra.entries(group) {
                origin.set(group, &k, &v);
            }
        }
        assert_eq!(Requests::from_origin(&origin), requests);
        assert!(Requests::from_origin(&KeyFile::parse("[origin]\nrefspec=x\n")).is_empty());
    }
}
