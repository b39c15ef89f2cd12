//! ART model bundles, preprocessing and inference backends.
