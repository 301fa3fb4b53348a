"""gradguard: find PyTorch in-place operations that break autograd, and rewrite them."""

__version__ = "0.1.0"
