//! Device choice at run time: `flex` (pure-Rust CPU, always there) or `wgpu` (GPU, with the `wgpu` feature).

/// The device handle every model function takes (burn's dispatch device: flex or wgpu).
pub use burn::prelude::Device;

use crate::error::{ModelError, Result};

/// The devices a user can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// burn's pure-Rust CPU backend.
    Flex,
    /// burn's wgpu backend (Vulkan, Metal, DX12, or a software Vulkan driver such as lavapipe).
    Wgpu,
}

impl DeviceChoice {
    /// The name as the command line takes it.
    pub fn name(self) -> &'static str {
        match self {
            DeviceChoice::Flex => "flex",
            DeviceChoice::Wgpu => "wgpu",
        }
    }

    /// Whether this build can open the device.
    pub fn is_compiled(self) -> bool {
        match self {
            DeviceChoice::Flex => true,
            DeviceChoice::Wgpu => cfg!(feature = "wgpu"),
        }
    }

    /// Opens the device (without autodiff). A device not compiled in, or a GPU runtime that cannot start, is an
    /// error rather than a panic.
    pub fn open(self) -> Result<Device> {
        match self {
            DeviceChoice::Flex => Ok(Device::flex()),
            DeviceChoice::Wgpu => open_wgpu(),
        }
    }
}

#[cfg(feature = "wgpu")]
fn open_wgpu() -> Result<Device> {
    // The wgpu runtime can be initialised once per process; later calls share the first outcome.
    static WGPU: std::sync::OnceLock<std::result::Result<Device, String>> = std::sync::OnceLock::new();
    WGPU.get_or_init(|| Device::wgpu_options().init().map_err(|e| e.to_string()))
        .clone()
        .map_err(|reason| ModelError::DeviceUnavailable { device: "wgpu", reason })
}

#[cfg(not(feature = "wgpu"))]
fn open_wgpu() -> Result<Device> {
    Err(ModelError::DeviceNotCompiled { device: "wgpu", feature: "wgpu" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flex_always_opens() {
        assert!(DeviceChoice::Flex.open().is_ok());
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn wgpu_without_the_feature_is_a_clear_error() {
        let err = DeviceChoice::Wgpu.open().unwrap_err().to_string();
        assert_eq!(
            err,
            "device wgpu is not compiled into this doppel; rebuild with `--features wgpu` or use --device flex"
        );
    }
}
