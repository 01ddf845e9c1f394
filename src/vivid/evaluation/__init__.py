"""Evaluation under the papers' protocols: PSNR/SSIM on Y, NIQE, tables, galleries and speed."""
