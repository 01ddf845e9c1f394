"""The mean-opinion-score study app (create, serve, report). It imports neither PyTorch nor
vivid's model stack, so ``pip install -e ".[mos]"`` is enough to run a study."""
