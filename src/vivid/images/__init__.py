"""Image files <-> tensors: the only place that knows uint8, 16-bit, BGR, alpha and colour
modes. Everything past this package sees float RGB tensors in [0, 1], N x C x H x W."""
