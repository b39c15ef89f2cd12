//! TensorRT engine caches keyed by everything an engine depends on.
//!
//! An engine is only valid for the model file, the TensorRT version, the GPU
//! and the builder options it was built with. Each combination gets its own
//! folder under the profile's `cache_dir`, named by a digest of all of them
//! and described by a `key.toml` beside the engines, so an engine built for
//! anything else is never found, and is rebuilt instead of loaded.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::ort_backend::TensorRtOptions;

/// What an engine was built for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineKey {
    /// SHA-256 of the model file.
    pub model_sha256: String,
    /// TensorRT version (`10.3.0`).
    pub tensorrt: String,
    /// The GPU as the driver describes it (name, memory, compute capability).
    pub gpu: String,
    /// The builder options that change an engine.
    pub options: String,
}

impl EngineKey {
    /// The key for `model_sha256` built with `o` on this machine's TensorRT and
    /// GPU `o.device_id`; an error says which of them is missing.
    pub fn for_machine(model_sha256: &str, o: &TensorRtOptions) -> Result<Self, String> {
        let tensorrt = crate::nvidia::tensorrt()
            .map_err(|e| format!("TensorRT: {e}"))?
            .version;
        let gpus = crate::nvidia::gpus()?;
        let gpu = usize::try_from(o.device_id)
            .ok()
            .and_then(|i| gpus.get(i))
            .ok_or_else(|| format!("no GPU {} (the driver sees {})", o.device_id, gpus.len()))?
            .clone();
        Ok(Self::new(model_sha256, &tensorrt, &gpu, o))
    }

    /// The key from its parts.
    pub fn new(model_sha256: &str, tensorrt: &str, gpu: &str, o: &TensorRtOptions) -> Self {
        let options = format!(
            "int8={} fp16={} dla_core={} workspace_bytes={} builder_optimization_level={}",
            o.int8,
            o.fp16,
            o.dla_core.map_or("none".to_string(), |c| c.to_string()),
            o.workspace_bytes,
            o.builder_optimization_level
        );
        Self {
            model_sha256: model_sha256.to_string(),
            tensorrt: tensorrt.to_string(),
            gpu: gpu.to_string(),
            options,
        }
    }

    /// The key's text: `key.toml` in its folder.
    pub fn describe(&self) -> String {
        format!(
            "model_sha256 = {:?}\ntensorrt = {:?}\ngpu = {:?}\noptions = {:?}\n",
            self.model_sha256, self.tensorrt, self.gpu, self.options
        )
    }

    /// The key's folder under `cache_dir`: `<first 16 hex digits of the
    /// SHA-256 of [`describe`](Self::describe)>`.
    pub fn dir(&self, cache_dir: &Path) -> PathBuf {
        let digest = Sha256::digest(self.describe().as_bytes());
        let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        cache_dir.join(name)
    }

    /// Makes the key's folder and writes its `key.toml`, naming the folder on failure.
    pub fn prepare_dir(&self, cache_dir: &Path) -> Result<PathBuf, String> {
        let dir = self.dir(cache_dir);
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("key.toml"), self.describe()))
            .map_err(|e| {
                format!(
                    "cannot write the TensorRT engine cache {}: {e}",
                    dir.display()
                )
            })?;
        Ok(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_the_key_changes_the_folder() {
        let o = TensorRtOptions::default();
        let base = EngineKey::new("aa", "10.3.0", "0: Orin, 7.4 GiB, compute 8.7", &o);
        let cache = Path::new("/var/cache/artrt/tensorrt");
        let same = EngineKey::new("aa", "10.3.0", "0: Orin, 7.4 GiB, compute 8.7", &o);
        assert_eq!(base.dir(cache), same.dir(cache));
        let fp32 = TensorRtOptions {
            fp16: false,
            ..o.clone()
        };
        for other in [
            EngineKey::new("ab", "10.3.0", "0: Orin, 7.4 GiB, compute 8.7", &o),
            EngineKey::new("aa", "8.5.2", "0: Orin, 7.4 GiB, compute 8.7", &o),
            EngineKey::new("aa", "10.3.0", "0: Xavier, 7.6 GiB, compute 7.2", &o),
            EngineKey::new("aa", "10.3.0", "0: Orin, 7.4 GiB, compute 8.7", &fp32),
        ] {
            assert_ne!(base.dir(cache), other.dir(cache), "{other:?}");
        }
        assert!(base.dir(cache).starts_with(cache));
    }

    #[test]
    fn the_folder_holds_its_key_and_a_read_only_cache_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let key = EngineKey::new("aa", "10.3.0", "gpu", &TensorRtOptions::default());
        let dir = key.prepare_dir(tmp.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("key.toml")).unwrap(),
            key.describe()
        );
        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        let err = key.prepare_dir(&file).unwrap_err();
        assert!(
            err.starts_with("cannot write the TensorRT engine cache"),
            "{err}"
        );
    }

    #[test]
    fn without_tensorrt_the_key_says_so() {
        if crate::nvidia::tensorrt().is_err() {
            let err = EngineKey::for_machine("aa", &TensorRtOptions::default()).unwrap_err();
            assert!(err.starts_with("TensorRT: not found"), "{err}");
        }
    }
}
