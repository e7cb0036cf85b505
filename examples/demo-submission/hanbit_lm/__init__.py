"""HanbitLM: a small decoder-only language model (demo submission for provscan)."""
