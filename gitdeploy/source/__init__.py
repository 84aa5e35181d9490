"""Where manifests come from: a committed tree of a Git repository."""
