"""Baseline generators trained by crn's engine: pix2pix, encoder-decoder, ablations."""
