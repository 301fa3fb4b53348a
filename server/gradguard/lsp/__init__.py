"""The gradguard language server: ``gradguard server`` / ``python -m gradguard.lsp``."""
