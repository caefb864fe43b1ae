"""Where bundles and channels are published: a folder (:mod:`.folder`) or an OCI registry (:mod:`.oci`)."""
