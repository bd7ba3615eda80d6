//! Images in a folder that the organisation's web server publishes.

use std::path::PathBuf;

use super::store::{MediaError, MediaStore, url};
use crate::file::write_durable;

pub struct Local {
    dir: PathBuf,
    public_base_url: String,
}

impl Local {
    pub fn new(dir: PathBuf, public_base_url: &str) -> Local {
        Local {
            dir,
            public_base_url: public_base_url.to_owned(),
        }
    }
}

impl MediaStore for Local {
    fn store(&mut self, name: &str, png: &[u8]) -> Result<String, MediaError> {
        let path = self.dir.join(name);
        // Content-addressed: a file already there is this very image.
        if !path.is_file() {
            write_durable(&path, png).map_err(|source| MediaError::Write {
                path: path.display().to_string(),
                source,
            })?;
        }
        Ok(url(&self.public_base_url, name))
    }
}
