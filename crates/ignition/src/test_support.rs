//! Helpers shared by the unit tests of the files stage and of the modules it uses: a
//! temporary root, a fetcher for `data:,TEXT`, and a runner for a part of the stage.

use std::path::{Path, PathBuf};

use ferro_spec::Config;

use crate::apply::{Changes, Context, Options};
use crate::error::Error;
use crate::fetch::{Fetch, FetchError};
use crate::root::Root;

/// `data:,TEXT` yields TEXT; any other source fails to fetch.
pub(crate) struct TestFetch;

impl Fetch for TestFetch {
    fn fetch(&self, resource: &ferro_spec::Resource) -> Result<Option<Vec<u8>>, FetchError> {
        match resource.source.as_deref() {
            None => Ok(None),
            Some(s) => match s.strip_prefix("data:,") {
                Some(d) => Ok(Some(d.as_bytes().to_vec())),
                None => Err(FetchError::Failed {
                    url: s.to_string(),
                    reason: "test fetch failure".into(),
                }),
            },
        }
    }
}

pub(crate) use crate::root::as_root;

/// A temp dir with the root at `root/`.
pub(crate) struct TestRoot {
    pub(crate) _tmp: tempfile::TempDir,
    pub(crate) dir: PathBuf,
    pub(crate) root: Root,
}

impl TestRoot {
    pub(crate) fn new() -> TestRoot {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("root");
        std::fs::create_dir(&dir).expect("mkdir root");
        let root = Root::open(&dir).expect("open root");
        TestRoot {
            _tmp: tmp,
            dir,
            root,
        }
    }

    /// The host path of `rel` (relative to the root).
    pub(crate) fn host(&self, rel: &str) -> PathBuf {
        self.dir.join(rel.trim_start_matches('/'))
    }

    pub(crate) fn write(&self, rel: &str, text: &str) {
        let p = self.host(rel);
        std::fs::create_dir_all(p.parent().unwrap_or(Path::new("/"))).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    pub(crate) fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.host(rel)).expect("read")
    }

    /// Runs `part` of the files stage (the accounts, the units, or all of it) on a
    /// config given as JSON, with the options Ignition uses for that config. The tests of
    /// a part run only that part, so they need nothing from the modules above it.
    pub(crate) fn run(
        &self,
        json: serde_json::Value,
        dry_run: bool,
        part: impl FnOnce(&mut Context<'_>, &Config) -> Result<(), Error>,
    ) -> Result<Changes, Error> {
        let config: Config = serde_json::from_value(json).expect("config");
        let options = Options::for_config(&config, dry_run);
        let mut context = Context::new(&self.root, &TestFetch, &options);
        part(&mut context, &config)?;
        Ok(Changes {
            dry_run,
            changes: context.changes,
        })
    }
}
