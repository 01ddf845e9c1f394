"""Training: config (TOML -> checked frozen dataclasses), data, losses, step functions, the
loop, checkpoints, the run log and DDP helpers. A step is a function of nets, batch and
optimisers that returns a dict of numbers."""
